//! Sign-in rows and operations: login profiles, password history, password policies,
//! virtual MFA devices, lockout counters and credential reports.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::CachedSql as _;
use super::{KeyStatus, ReadTx, WriteTx, from_ts, opt_ts, ts};
use crate::error::{Error, Result};

/// A console password's dates, for reports (without its hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordDatesRow {
    /// Last change of the password.
    pub changed_at: OffsetDateTime,
    /// Last successful sign-in.
    pub last_used: Option<OffsetDateTime>,
}

/// An access key's status and use, for reports (without its sealed secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsageRow {
    /// `AKIA…`
    pub access_key_id: String,
    /// Status.
    pub status: KeyStatus,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// When it was last used.
    pub last_used_at: Option<OffsetDateTime>,
    /// The service it was last used with.
    pub last_used_service: Option<String>,
    /// The region it was last used in.
    pub last_used_region: Option<String>,
}

/// A user's console password.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginProfileRow {
    /// Owner.
    pub user_id: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Must change at next sign-in.
    pub password_reset_required: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change of the password.
    pub password_changed_at: OffsetDateTime,
    /// Last successful sign-in.
    pub password_last_used: Option<OffsetDateTime>,
}

impl std::fmt::Debug for LoginProfileRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginProfileRow")
            .field("user_id", &self.user_id)
            .field("password_reset_required", &self.password_reset_required)
            .finish_non_exhaustive()
    }
}

fn profile_row(r: &Row<'_>) -> rusqlite::Result<LoginProfileRow> {
    Ok(LoginProfileRow {
        user_id: r.get(0)?,
        password_hash: r.get(1)?,
        password_reset_required: r.get::<_, i64>(2)? != 0,
        created_at: from_ts(r.get(3)?)?,
        password_changed_at: from_ts(r.get(4)?)?,
        password_last_used: opt_ts(r.get(5)?)?,
    })
}

/// A virtual MFA device. The seed is sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaDeviceRow {
    /// `arn:aws:iam::ACCT:mfa/NAME`.
    pub serial_number: String,
    /// Owning account.
    pub account_id: String,
    /// Device name.
    pub name: String,
    /// Device path.
    pub path: String,
    /// The TOTP seed, sealed with associated data naming the serial number.
    pub sealed_seed: Vec<u8>,
    /// The user it is assigned to (enabled for), if any.
    pub user_id: Option<String>,
    /// Assigned to the account's root user.
    pub root: bool,
    /// When it was enabled.
    pub enabled_at: Option<OffsetDateTime>,
    /// The last TOTP time step accepted (replay protection).
    pub last_step: Option<i64>,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for MfaDeviceRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaDeviceRow")
            .field("serial_number", &self.serial_number)
            .field("user_id", &self.user_id)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

const MFA_COLS: &str = "serial_number, account_id, name, path, sealed_seed, user_id, root, enabled_at, last_step, created_at";
fn mfa_row(r: &Row<'_>) -> rusqlite::Result<MfaDeviceRow> {
    Ok(MfaDeviceRow {
        serial_number: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        path: r.get(3)?,
        sealed_seed: r.get(4)?,
        user_id: r.get(5)?,
        root: r.get::<_, i64>(6)? != 0,
        enabled_at: opt_ts(r.get(7)?)?,
        last_step: r.get(8)?,
        created_at: from_ts(r.get(9)?)?,
    })
}

/// A failure counter for one canonical user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockoutRow {
    /// Failures in the current window (attempts reserved count too).
    pub failures: u32,
    /// When the window started.
    pub window_start: Option<OffsetDateTime>,
    /// Locked until this time.
    pub locked_until: Option<OffsetDateTime>,
}

/// A lock or unlock of a user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEventRow {
    /// When.
    pub at: OffsetDateTime,
    /// The canonical user name.
    pub name_canon: String,
    /// `locked` or `unlocked`.
    pub event: String,
    /// Who: `sign-in` for automatic locks, or the administrator's ARN.
    pub actor: String,
}

impl ReadTx<'_> {
    /// Lock and unlock events of an account, newest first, optionally for one name.
    pub fn auth_events(
        &self,
        account_id: &str,
        name_canon: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuthEventRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT at, name_canon, event, actor FROM auth_events
             WHERE account_id = ?1 AND (?2 IS NULL OR name_canon = ?2) ORDER BY at DESC, rowid DESC LIMIT ?3",
        )?;
        let rows = st.query_map(params![account_id, name_canon, limit], |r| {
            Ok(AuthEventRow {
                at: from_ts(r.get(0)?)?,
                name_canon: r.get(1)?,
                event: r.get(2)?,
                actor: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A user's login profile.
    pub fn login_profile(&self, user_id: &str) -> Result<Option<LoginProfileRow>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT user_id, password_hash, password_reset_required, created_at, password_changed_at, password_last_used
                 FROM login_profiles WHERE user_id = ?1",
                params![user_id],
                profile_row,
            )
            .optional()?)
    }

    /// The root password's last change.
    pub fn root_password_changed_at(&self, account_id: &str) -> Result<Option<OffsetDateTime>> {
        let v: Option<Option<i64>> = self
            .conn
            .query_row_cached(
                "SELECT root_password_changed_at FROM accounts WHERE account_id = ?1",
                params![account_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(opt_ts(v.flatten())?)
    }

    /// The newest `n` previous password hashes of a user (or of a root, by account id).
    pub fn password_history(&self, principal_id: &str, n: u32) -> Result<Vec<String>> {
        let mut st = self.conn.prepare_cached(
            "SELECT password_hash FROM password_history WHERE principal_id = ?1 ORDER BY changed_at DESC, rowid DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![principal_id, n], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The account password policy as stored (JSON), if one is set.
    pub fn password_policy(&self, account_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT policy FROM password_policies WHERE account_id = ?1",
                params![account_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// One MFA device.
    pub fn mfa_device(&self, serial_number: &str) -> Result<Option<MfaDeviceRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {MFA_COLS} FROM mfa_devices WHERE serial_number = ?1"),
                params![serial_number],
                mfa_row,
            )
            .optional()?)
    }

    /// The MFA devices of an account.
    pub fn mfa_devices(&self, account_id: &str) -> Result<Vec<MfaDeviceRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {MFA_COLS} FROM mfa_devices WHERE account_id = ?1 ORDER BY serial_number"
        ))?;
        let rows = st.query_map(params![account_id], mfa_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The MFA devices enabled for a user.
    pub fn mfa_devices_for_user(&self, user_id: &str) -> Result<Vec<MfaDeviceRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {MFA_COLS} FROM mfa_devices WHERE user_id = ?1 ORDER BY serial_number"
        ))?;
        let rows = st.query_map(params![user_id], mfa_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The lockout counter of a canonical name.
    pub fn lockout(&self, account_id: &str, name_canon: &str) -> Result<LockoutRow> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT failures, window_start, locked_until FROM lockouts WHERE account_id = ?1 AND name_canon = ?2",
                params![account_id, name_canon],
                |r| {
                    Ok(LockoutRow {
                        failures: r.get(0)?,
                        window_start: opt_ts(r.get(1)?)?,
                        locked_until: opt_ts(r.get(2)?)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Every login profile's dates in an account, by user id, without the password
    /// hashes: one query for a report instead of one lookup per user.
    pub fn password_dates_of_account(
        &self,
        account_id: &str,
    ) -> Result<HashMap<String, PasswordDatesRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT p.user_id, p.password_changed_at, p.password_last_used
             FROM login_profiles p JOIN users u ON u.user_id = p.user_id
             WHERE u.account_id = ?1",
        )?;
        let rows = st.query_map(params![account_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                PasswordDatesRow {
                    changed_at: from_ts(r.get(1)?)?,
                    last_used: opt_ts(r.get(2)?)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every access key of an account, by user id, each user's oldest first (the order of
    /// `access_keys_for_user`), without the sealed secrets: one pass over the keys for a
    /// report instead of one lookup per user.
    pub fn key_usage_of_account(
        &self,
        account_id: &str,
    ) -> Result<HashMap<String, Vec<KeyUsageRow>>> {
        let mut st = self.conn.prepare_cached(
            "SELECT user_id, access_key_id, status, created_at, last_used_at, last_used_service, last_used_region
             FROM access_keys WHERE account_id = ?1",
        )?;
        let mut rows = st.query(params![account_id])?;
        let mut out: HashMap<String, Vec<KeyUsageRow>> = HashMap::new();
        while let Some(r) = rows.next()? {
            let key = KeyUsageRow {
                access_key_id: r.get(1)?,
                status: super::ops::key_status(&r.get::<_, String>(2)?),
                created_at: from_ts(r.get(3)?)?,
                last_used_at: opt_ts(r.get(4)?)?,
                last_used_service: r.get(5)?,
                last_used_region: r.get(6)?,
            };
            out.entry(r.get(0)?).or_default().push(key);
        }
        for keys in out.values_mut() {
            keys.sort_by(|a, b| {
                (a.created_at, &a.access_key_id).cmp(&(b.created_at, &b.access_key_id))
            });
        }
        Ok(out)
    }

    /// When the stored credential report was generated, without reading the report.
    pub fn credential_report_generated_at(
        &self,
        account_id: &str,
    ) -> Result<Option<OffsetDateTime>> {
        self.conn
            .query_row_cached(
                "SELECT generated_at FROM credential_reports WHERE account_id = ?1",
                params![account_id],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(from_ts)
            .transpose()
            .map_err(Into::into)
    }

    /// The stored credential report.
    pub fn credential_report(&self, account_id: &str) -> Result<Option<(OffsetDateTime, String)>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT generated_at, content FROM credential_reports WHERE account_id = ?1",
                params![account_id],
                |r| Ok((from_ts(r.get(0)?)?, r.get(1)?)),
            )
            .optional()?)
    }
}

impl WriteTx<'_> {
    /// Records a lock or unlock.
    pub fn insert_auth_event(
        &self,
        account_id: &str,
        name_canon: &str,
        at: OffsetDateTime,
        event: &str,
        actor: &str,
    ) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO auth_events (at, account_id, name_canon, event, actor) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![ts(at), account_id, name_canon, event, actor],
        )?;
        Ok(())
    }

    /// Creates or replaces a login profile.
    pub fn put_login_profile(&self, p: &LoginProfileRow) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO login_profiles (user_id, password_hash, password_reset_required, created_at, password_changed_at, password_last_used)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(user_id) DO UPDATE SET password_hash = excluded.password_hash,
                password_reset_required = excluded.password_reset_required,
                password_changed_at = excluded.password_changed_at,
                password_last_used = excluded.password_last_used",
            params![
                p.user_id,
                p.password_hash,
                i64::from(p.password_reset_required),
                ts(p.created_at),
                ts(p.password_changed_at),
                p.password_last_used.map(ts)
            ],
        )?;
        Ok(())
    }

    /// Replaces a password hash with `new` (the same password hashed with the current
    /// parameters) only while the stored hash is still `old`; false when the password was
    /// changed in between, which then stays as it is.
    pub fn rehash_password(&self, user_id: &str, old: &str, new: &str) -> Result<bool> {
        Ok(self.conn.execute_cached(
            "UPDATE login_profiles SET password_hash = ?3 WHERE user_id = ?1 AND password_hash = ?2",
            params![user_id, old, new],
        )? == 1)
    }

    /// Deletes a login profile; returns false if there was none.
    pub fn delete_login_profile(&self, user_id: &str) -> Result<bool> {
        Ok(self.conn.execute_cached(
            "DELETE FROM login_profiles WHERE user_id = ?1",
            params![user_id],
        )? == 1)
    }

    /// Records a successful sign-in.
    pub fn touch_login_profile(&self, user_id: &str, at: OffsetDateTime) -> Result<()> {
        self.conn.execute_cached(
            "UPDATE login_profiles SET password_last_used = ?2 WHERE user_id = ?1",
            params![user_id, ts(at)],
        )?;
        Ok(())
    }

    /// Sets the root password, and remembers it for reuse prevention.
    pub fn set_root_password(
        &self,
        account_id: &str,
        hash: &str,
        at: OffsetDateTime,
    ) -> Result<()> {
        let n = self.conn.execute_cached(
            "UPDATE accounts SET root_password_hash = ?2, root_password_changed_at = ?3 WHERE account_id = ?1",
            params![account_id, hash, ts(at)],
        )?;
        if n != 1 {
            return Err(Error::Internal("expected to change one account".into()));
        }
        self.push_password_history(account_id, hash, at)
    }

    /// Appends a password to the history and keeps the newest 24.
    pub fn push_password_history(
        &self,
        principal_id: &str,
        hash: &str,
        at: OffsetDateTime,
    ) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO password_history (principal_id, password_hash, changed_at) VALUES (?1, ?2, ?3)",
            params![principal_id, hash, ts(at)],
        )?;
        self.conn.execute_cached(
            "DELETE FROM password_history WHERE principal_id = ?1 AND rowid NOT IN
               (SELECT rowid FROM password_history WHERE principal_id = ?1 ORDER BY changed_at DESC, rowid DESC LIMIT 24)",
            params![principal_id],
        )?;
        Ok(())
    }

    /// Forgets a principal's password history.
    pub fn clear_password_history(&self, principal_id: &str) -> Result<()> {
        self.conn.execute_cached(
            "DELETE FROM password_history WHERE principal_id = ?1",
            params![principal_id],
        )?;
        Ok(())
    }

    /// Sets or clears the account password policy (JSON).
    pub fn set_password_policy(&self, account_id: &str, policy: Option<&str>) -> Result<bool> {
        Ok(match policy {
            Some(p) => {
                self.conn.execute_cached(
                    "INSERT INTO password_policies (account_id, policy) VALUES (?1, ?2)
                     ON CONFLICT(account_id) DO UPDATE SET policy = excluded.policy",
                    params![account_id, p],
                )?;
                true
            }
            None => {
                self.conn.execute_cached(
                    "DELETE FROM password_policies WHERE account_id = ?1",
                    params![account_id],
                )? == 1
            }
        })
    }

    /// Adds an MFA device.
    pub fn insert_mfa_device(&self, d: &MfaDeviceRow) -> Result<()> {
        self.conn.execute_cached(
            &format!("INSERT INTO mfa_devices ({MFA_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            params![
                d.serial_number,
                d.account_id,
                d.name,
                d.path,
                d.sealed_seed,
                d.user_id,
                i64::from(d.root),
                d.enabled_at.map(ts),
                d.last_step,
                ts(d.created_at)
            ],
        )?;
        Ok(())
    }

    /// Assigns (enables) or unassigns a device, and sets its last accepted step.
    pub fn set_mfa_assignment(
        &self,
        serial_number: &str,
        user_id: Option<&str>,
        root: bool,
        enabled_at: Option<OffsetDateTime>,
        last_step: Option<i64>,
    ) -> Result<()> {
        self.conn.execute_cached(
            "UPDATE mfa_devices SET user_id = ?2, root = ?3, enabled_at = ?4, last_step = ?5 WHERE serial_number = ?1",
            params![serial_number, user_id, i64::from(root), enabled_at.map(ts), last_step],
        )?;
        Ok(())
    }

    /// Records the last accepted TOTP step, only if it moves forward. Returns false when
    /// another request accepted the same or a later step first (a replay).
    pub fn advance_mfa_step(&self, serial_number: &str, step: i64) -> Result<bool> {
        Ok(self.conn.execute_cached(
            "UPDATE mfa_devices SET last_step = ?2 WHERE serial_number = ?1 AND (last_step IS NULL OR last_step < ?2)",
            params![serial_number, step],
        )? == 1)
    }

    /// Deletes an MFA device.
    pub fn delete_mfa_device(&self, serial_number: &str) -> Result<bool> {
        Ok(self.conn.execute_cached(
            "DELETE FROM mfa_devices WHERE serial_number = ?1",
            params![serial_number],
        )? == 1)
    }

    /// Stores a lockout counter.
    pub fn put_lockout(&self, account_id: &str, name_canon: &str, l: &LockoutRow) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO lockouts (account_id, name_canon, failures, window_start, locked_until) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(account_id, name_canon) DO UPDATE SET failures = excluded.failures,
                window_start = excluded.window_start, locked_until = excluded.locked_until",
            params![account_id, name_canon, l.failures, l.window_start.map(ts), l.locked_until.map(ts)],
        )?;
        Ok(())
    }

    /// Clears a lockout counter.
    pub fn clear_lockout(&self, account_id: &str, name_canon: &str) -> Result<bool> {
        Ok(self.conn.execute_cached(
            "DELETE FROM lockouts WHERE account_id = ?1 AND name_canon = ?2",
            params![account_id, name_canon],
        )? == 1)
    }

    /// Stores a generated credential report.
    pub fn put_credential_report(
        &self,
        account_id: &str,
        at: OffsetDateTime,
        content: &str,
    ) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO credential_reports (account_id, generated_at, content) VALUES (?1, ?2, ?3)
             ON CONFLICT(account_id) DO UPDATE SET generated_at = excluded.generated_at, content = excluded.content",
            params![account_id, ts(at), content],
        )?;
        Ok(())
    }
}
