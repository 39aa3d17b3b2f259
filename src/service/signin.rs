//! Login profiles, the account password policy, password changes, lockout, and
//! `sign_in`.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::users::{arn_for, require_user};
use super::{Caller, CallerKind, RequestContext, Vault, name, no_such};
use crate::auth::password_policy::{
    PasswordPolicy, PasswordPolicyUpdate, PasswordRules, password_expired,
};
use crate::auth::totp;
use crate::crypto::Purpose;
use crate::error::{Error, Result};
use crate::model::{AccountId, NameKind, SecretString};
use crate::store::{LockoutRow, LoginProfileRow, ReadTx, UserRow, WriteTx};

/// Lockout settings of the vault: after `threshold` failures within `window`, a name is
/// locked for `lock_period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LockoutSettings {
    /// Failures allowed within the window.
    pub threshold: u32,
    /// The counting window, seconds.
    pub window_secs: i64,
    /// How long a lock lasts, seconds.
    pub lock_period_secs: i64,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        Self {
            threshold: 10,
            window_secs: 15 * 60,
            lock_period_secs: 15 * 60,
        }
    }
}

/// GetLoginProfile's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginProfile {
    /// The user.
    pub user_name: String,
    /// Creation time.
    #[serde(serialize_with = "super::types::ser_time_pub")]
    pub create_date: OffsetDateTime,
    /// Must change at next sign-in.
    pub password_reset_required: bool,
}

/// A sign-in whose password (and TOTP code) checked out, before the transaction that
/// consumes the code's step and records the success.
pub(super) struct CheckedSignIn {
    user: UserRow,
    profile: LoginProfileRow,
    /// The devices whose code matched, with the step it matched (empty without MFA).
    steps: Vec<(String, i64)>,
    now: OffsetDateTime,
}

/// A successful sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// The user who signed in.
    pub user: UserRow,
    /// Whether an MFA code was checked.
    pub mfa_present: bool,
    /// When (the sign-in time) the MFA code was checked.
    pub mfa_time: Option<OffsetDateTime>,
}

pub(super) fn mfa_aad(serial: &str) -> Vec<u8> {
    format!("iamvault/mfa-seed/v1|{serial}").into_bytes()
}

impl Vault {
    // ---- settings ----

    /// The lockout settings (`serve` reads them from the store).
    pub fn lockout_settings(&self) -> Result<LockoutSettings> {
        let tx = self.store().read()?;
        let d = LockoutSettings::default();
        let get = |k: &str, dflt: i64| -> Result<i64> {
            Ok(tx.meta(k)?.and_then(|v| v.parse().ok()).unwrap_or(dflt))
        };
        Ok(LockoutSettings {
            threshold: u32::try_from(get("lockout.threshold", i64::from(d.threshold))?)
                .unwrap_or(d.threshold),
            window_secs: get("lockout.window_secs", d.window_secs)?,
            lock_period_secs: get("lockout.lock_period_secs", d.lock_period_secs)?,
        })
    }

    /// Changes the lockout settings (account root only).
    pub fn set_lockout_settings(&self, caller: &Caller, s: LockoutSettings) -> Result<()> {
        if caller.kind != CallerKind::Root {
            return Err(Error::AccessDenied(
                "only the account root may change vault settings".into(),
            ));
        }
        if s.threshold == 0
            || s.threshold > 1000
            || !(1..=86_400).contains(&s.window_secs)
            || !(1..=86_400 * 30).contains(&s.lock_period_secs)
        {
            return Err(Error::InvalidInput(
                "lockout threshold must be 1-1000, window 1-86400 s, lock period 1-2592000 s"
                    .into(),
            ));
        }
        let tx = self.store().write()?;
        tx.set_meta("lockout.threshold", &s.threshold.to_string())?;
        tx.set_meta("lockout.window_secs", &s.window_secs.to_string())?;
        tx.set_meta("lockout.lock_period_secs", &s.lock_period_secs.to_string())?;
        self.commit(tx)
    }

    /// The argon2id parameters for new hashes, as stored in the vault's settings.
    pub fn stored_password_params(&self) -> Result<crate::auth::PasswordParams> {
        let tx = self.store().read()?;
        let d = crate::auth::PasswordParams::default();
        let get = |k: &str, dflt: u32| -> Result<u32> {
            Ok(tx.meta(k)?.and_then(|v| v.parse().ok()).unwrap_or(dflt))
        };
        Ok(crate::auth::PasswordParams {
            m_cost: get("argon2.m_cost", d.m_cost)?,
            t_cost: get("argon2.t_cost", d.t_cost)?,
            p_cost: get("argon2.p_cost", d.p_cost)?,
        })
    }

    /// Changes the argon2id parameters (account root only). Existing hashes are upgraded
    /// at each user's next successful sign-in.
    pub fn set_password_params_setting(
        &mut self,
        caller: &Caller,
        p: crate::auth::PasswordParams,
    ) -> Result<()> {
        if caller.kind != CallerKind::Root {
            return Err(Error::AccessDenied(
                "only the account root may change vault settings".into(),
            ));
        }
        if p.m_cost < 8192
            || p.m_cost > 4 * 1024 * 1024
            || !(1..=10).contains(&p.t_cost)
            || !(1..=16).contains(&p.p_cost)
        {
            return Err(Error::InvalidInput(
                "argon2 memory must be 8192-4194304 KiB, iterations 1-10, parallelism 1-16".into(),
            ));
        }
        let tx = self.store().write()?;
        tx.set_meta("argon2.m_cost", &p.m_cost.to_string())?;
        tx.set_meta("argon2.t_cost", &p.t_cost.to_string())?;
        tx.set_meta("argon2.p_cost", &p.p_cost.to_string())?;
        self.commit(tx)?;
        self.set_password_params(p);
        Ok(())
    }

    // ---- password policy ----

    pub(super) fn password_policy_of(
        &self,
        tx: &ReadTx<'_>,
        account: &str,
    ) -> Result<Option<PasswordPolicy>> {
        tx.password_policy(account)?
            .map(|j| {
                serde_json::from_str(&j).map_err(|e| {
                    Error::Internal(format!("stored password policy is unreadable: {e}"))
                })
            })
            .transpose()
    }

    /// GetAccountPasswordPolicy. `NoSuchEntity` when none is set, as in AWS.
    pub fn get_account_password_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
    ) -> Result<PasswordPolicy> {
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "iam:GetAccountPasswordPolicy", "*", ctx)?;
        self.password_policy_of(&tx, caller.account.as_str())?
            .ok_or_else(|| {
                Error::NoSuchEntity(format!(
                    "The Password Policy with domain name {} cannot be found.",
                    caller.account
                ))
            })
    }

    /// UpdateAccountPasswordPolicy: replaces the whole policy; omitted fields take their
    /// defaults.
    pub fn update_account_password_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        u: &PasswordPolicyUpdate,
    ) -> Result<PasswordPolicy> {
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:UpdateAccountPasswordPolicy", "*", ctx)?;
        let p = PasswordPolicy::from_update(u)?;
        let json = serde_json::to_string(&p)
            .map_err(|e| Error::Internal(format!("cannot store the policy: {e}")))?;
        tx.set_password_policy(caller.account.as_str(), Some(&json))?;
        self.commit(tx)?;
        Ok(p)
    }

    /// DeleteAccountPasswordPolicy.
    pub fn delete_account_password_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
    ) -> Result<()> {
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:DeleteAccountPasswordPolicy", "*", ctx)?;
        if !tx.set_password_policy(caller.account.as_str(), None)? {
            return Err(Error::NoSuchEntity(format!(
                "The account policy with name {} cannot be found.",
                caller.account
            )));
        }
        self.commit(tx)
    }

    // ---- login profiles ----

    /// Stores a password hash made by the caller as the user's password, and in its
    /// history.
    fn put_user_password_hash(
        &self,
        tx: &WriteTx<'_>,
        user: &UserRow,
        hash: &str,
        reset_required: bool,
        created: Option<OffsetDateTime>,
    ) -> Result<()> {
        let now = self.now();
        tx.put_login_profile(&LoginProfileRow {
            user_id: user.user_id.clone(),
            password_hash: hash.to_owned(),
            password_reset_required: reset_required,
            created_at: created.unwrap_or(now),
            password_changed_at: now,
            password_last_used: None,
        })?;
        tx.push_password_history(&user.user_id, hash, now)
    }

    /// CreateLoginProfile: gives a user a console password.
    pub fn create_login_profile(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
        password: &SecretString,
        reset_required: bool,
    ) -> Result<LoginProfile> {
        let n = name(NameKind::User, user_name)?;
        let prepared =
            self.prepare_user_password(caller, ctx, &n, "iam:CreateLoginProfile", password)?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:CreateLoginProfile",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let user = found.ok_or_else(|| no_such("user", n.as_str()))?;
        if tx.login_profile(&user.user_id)?.is_some() {
            return Err(Error::EntityAlreadyExists(format!(
                "Login Profile for user {} already exists.",
                user.name
            )));
        }
        self.still_as_prepared(&tx, &user, &prepared)?;
        self.put_user_password_hash(&tx, &user, &prepared.hash, reset_required, None)?;
        let p = tx
            .login_profile(&user.user_id)?
            .ok_or_else(|| Error::Internal("login profile vanished".into()))?;
        self.commit(tx)?;
        Ok(LoginProfile {
            user_name: user.name,
            create_date: p.created_at,
            password_reset_required: p.password_reset_required,
        })
    }

    /// GetLoginProfile.
    pub fn get_login_profile(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
    ) -> Result<LoginProfile> {
        let n = name(NameKind::User, user_name)?;
        let tx = self.store().read()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:GetLoginProfile",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let user = found.ok_or_else(|| no_such("user", n.as_str()))?;
        let p = tx.login_profile(&user.user_id)?.ok_or_else(|| {
            Error::NoSuchEntity(format!(
                "Login Profile for User {} cannot be found.",
                user.name
            ))
        })?;
        Ok(LoginProfile {
            user_name: user.name,
            create_date: p.created_at,
            password_reset_required: p.password_reset_required,
        })
    }

    /// UpdateLoginProfile: an administrator sets a new password and/or the reset flag.
    pub fn update_login_profile(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
        password: Option<&SecretString>,
        reset_required: Option<bool>,
    ) -> Result<()> {
        let n = name(NameKind::User, user_name)?;
        let prepared = password
            .map(|pw| self.prepare_user_password(caller, ctx, &n, "iam:UpdateLoginProfile", pw))
            .transpose()?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:UpdateLoginProfile",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let user = found.ok_or_else(|| no_such("user", n.as_str()))?;
        let mut p = tx.login_profile(&user.user_id)?.ok_or_else(|| {
            Error::NoSuchEntity(format!(
                "Login Profile for User {} cannot be found.",
                user.name
            ))
        })?;
        match &prepared {
            Some(prepared) => {
                self.still_as_prepared(&tx, &user, prepared)?;
                self.put_user_password_hash(
                    &tx,
                    &user,
                    &prepared.hash,
                    reset_required.unwrap_or(p.password_reset_required),
                    Some(p.created_at),
                )?;
            }
            None => {
                if let Some(r) = reset_required {
                    p.password_reset_required = r;
                    tx.put_login_profile(&p)?;
                }
            }
        }
        // An administrator's reset also lifts a lockout.
        let canon = user.name.to_ascii_lowercase();
        if tx.clear_lockout(&user.account_id, &canon)? {
            tx.insert_auth_event(
                &user.account_id,
                &canon,
                self.now(),
                "unlocked",
                &caller.arn,
            )?;
        }
        self.commit(tx)
    }

    /// DeleteLoginProfile: removes the console password.
    pub fn delete_login_profile(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
    ) -> Result<()> {
        let n = name(NameKind::User, user_name)?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:DeleteLoginProfile",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let user = found.ok_or_else(|| no_such("user", n.as_str()))?;
        if !tx.delete_login_profile(&user.user_id)? {
            return Err(Error::NoSuchEntity(format!(
                "Login Profile for User {} cannot be found.",
                user.name
            )));
        }
        self.commit(tx)
    }

    /// An administrator's new password for the user `n`, checked and hashed outside any
    /// write transaction (the policy's rules, reuse prevention against up to 24 earlier
    /// hashes, the new hash: argon2 work that would hold up every other writer). Reads one
    /// snapshot, after authorizing `action`; the write applies it only if
    /// [`Vault::still_as_prepared`].
    pub(super) fn prepare_user_password(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        n: &crate::model::EntityName,
        action: &str,
        password: &SecretString,
    ) -> Result<PreparedPassword> {
        let user = {
            let tx = self.store().read()?;
            let found = tx.user(caller.account.as_str(), n.canonical())?;
            self.authorize(
                &tx,
                caller,
                action,
                &arn_for(&caller.account, found.as_ref(), n),
                ctx,
            )?;
            found.ok_or_else(|| no_such("user", n.as_str()))?
        };
        self.prepare_password_of(&user, password, None)
    }

    /// A new password for `user` (already in hand and authorized), checked and hashed
    /// outside any write transaction; `replaces` is the stored hash it may only replace
    /// (the password the caller proved), or `None` for an administrator's set.
    fn prepare_password_of(
        &self,
        user: &UserRow,
        password: &SecretString,
        replaces: Option<&str>,
    ) -> Result<PreparedPassword> {
        let (policy, history) = {
            let tx = self.store().read()?;
            let policy = self.password_policy_of(&tx, &user.account_id)?;
            let history = reuse_history(&tx, &user.user_id, policy.as_ref())?;
            (policy, history)
        };
        self.check_and_hash(
            &user.user_id,
            Some(&user.name),
            policy,
            history,
            password,
            replaces.map(str::to_owned),
        )
    }

    /// Checks `password` against the rules of `policy` and the remembered hashes
    /// `history` (both read by the caller), then hashes it: the argon2 work of a new
    /// password, done outside any write transaction.
    fn check_and_hash(
        &self,
        principal_id: &str,
        user_name: Option<&str>,
        policy: Option<PasswordPolicy>,
        history: Vec<String>,
        password: &SecretString,
        replaces: Option<String>,
    ) -> Result<PreparedPassword> {
        rules_of(policy.as_ref()).check(password.expose(), user_name)?;
        self.refuse_reused(&history, policy.as_ref(), password)?;
        let hash = self.hashes.hash(self.env.rng.as_ref(), password)?;
        Ok(PreparedPassword {
            user_id: principal_id.to_owned(),
            replaces,
            policy,
            history,
            hash,
        })
    }

    /// Whether what `prepared` was checked against still holds in `tx`: the same
    /// principal, `stored` (its password hash now) is the one it replaces, and the
    /// account's policy and the principal's remembered passwords are unchanged.
    fn prepared_still_holds(
        &self,
        tx: &ReadTx<'_>,
        account: &str,
        principal_id: &str,
        stored: Option<&str>,
        prepared: &PreparedPassword,
    ) -> Result<bool> {
        let replaced = prepared
            .replaces
            .as_deref()
            .is_none_or(|old| stored == Some(old));
        let policy = self.password_policy_of(tx, account)?;
        Ok(principal_id == prepared.user_id
            && replaced
            && policy == prepared.policy
            && reuse_history(tx, principal_id, policy.as_ref())? == prepared.history)
    }

    /// Refuses (retry) a prepared password when, in the write transaction, the user is
    /// another one by now (deleted and recreated), the password it replaces is not the
    /// stored one any more (an administrator's reset stands), or the policy or the
    /// password history it was checked against changed.
    pub(super) fn still_as_prepared(
        &self,
        tx: &ReadTx<'_>,
        user: &UserRow,
        prepared: &PreparedPassword,
    ) -> Result<()> {
        // The stored hash matters only to a change that replaces one.
        let stored = match &prepared.replaces {
            Some(_) => tx.login_profile(&user.user_id)?.map(|p| p.password_hash),
            None => None,
        };
        if !self.prepared_still_holds(
            tx,
            &user.account_id,
            &user.user_id,
            stored.as_deref(),
            prepared,
        )? {
            return Err(Error::EntityTemporarilyUnmodifiable(format!(
                "User {}, its password or the password policy changed while the new password was checked; retry.",
                user.name
            )));
        }
        Ok(())
    }

    /// ChangePassword: a user changes its own password with the old one. Allowed by
    /// `iam:ChangePassword` on itself, or by the policy's `AllowUsersToChangePassword`
    /// without any other policy. The root user changes the root password.
    pub fn change_password(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        old: &SecretString,
        new: &SecretString,
    ) -> Result<()> {
        match &caller.kind {
            CallerKind::Root => {
                let account = caller.account.as_str();
                let checked = self.check_root_password_change(account, old, new)?;
                self.finish_root_password_change(account, checked)
            }
            CallerKind::Session(c) if c.kind != crate::sts::SessionKind::User => {
                Err(Error::InvalidInput(
                    "ChangePassword changes an IAM user's own password; role sessions have none"
                        .into(),
                ))
            }
            CallerKind::User { .. } | CallerKind::Session(_) => {
                let checked = self.check_password_change(caller, ctx, old, new)?;
                self.finish_password_change(caller, ctx, checked)
            }
        }
    }

    /// The checks of the root user's ChangePassword (the old password, each remembered
    /// one, the new hash), outside any write transaction, as for a user's:
    /// [`Vault::finish_root_password_change`] writes only if nothing they read changed.
    pub(super) fn check_root_password_change(
        &self,
        account: &str,
        old: &SecretString,
        new: &SecretString,
    ) -> Result<PreparedPassword> {
        let (stored, policy, history) = {
            let tx = self.store().read()?;
            let stored = tx
                .root_password_hash(account)?
                .ok_or_else(|| Error::InvalidInput("the root user has no password".into()))?;
            let policy = self.password_policy_of(&tx, account)?;
            let history = reuse_history(&tx, account, policy.as_ref())?;
            (stored, policy, history)
        };
        if !self.hashes.verify(old, &stored)? {
            return Err(Error::InvalidInput("The old password is incorrect.".into()));
        }
        // The root user's principal id in the password history is its account id.
        self.check_and_hash(account, None, policy, history, new, Some(stored))
    }

    /// The write of a checked root ChangePassword: refused (retry) when the root password,
    /// the password policy or the history the new one was checked against changed since.
    pub(super) fn finish_root_password_change(
        &self,
        account: &str,
        prepared: PreparedPassword,
    ) -> Result<()> {
        let tx = self.store().write()?;
        let stored = tx.root_password_hash(account)?;
        if !self.prepared_still_holds(&tx, account, account, stored.as_deref(), &prepared)? {
            return Err(Error::EntityTemporarilyUnmodifiable(
                "The root password or the password policy changed while the new password was checked; retry."
                    .into(),
            ));
        }
        tx.set_root_password(account, &prepared.hash, self.now())?;
        tx.commit()
    }

    /// The checks of a user's ChangePassword, with every argon2 run in it (the old
    /// password, each remembered one, the new hash: up to 26 with reuse prevention at 24),
    /// outside any write transaction, which would hold up every other writer for as long.
    /// [`Vault::finish_password_change`] then writes only if
    /// [`Vault::still_as_prepared`].
    pub(super) fn check_password_change(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        old: &SecretString,
        new: &SecretString,
    ) -> Result<PreparedPassword> {
        let user_id = match &caller.kind {
            CallerKind::Session(c) => &c.principal_id,
            CallerKind::User { user_id, .. } => user_id,
            CallerKind::Root => {
                return Err(Error::Internal(
                    "the root password is changed by its own path".into(),
                ));
            }
        };
        let (user, profile) = {
            let tx = self.store().read()?;
            self.password_change_target(&tx, caller, ctx, user_id)?
        };
        if !self.hashes.verify(old, &profile.password_hash)? {
            return Err(Error::InvalidInput("The old password is incorrect.".into()));
        }
        self.prepare_password_of(&user, new, Some(&profile.password_hash))
    }

    /// The write of a checked ChangePassword, authorized again.
    pub(super) fn finish_password_change(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        prepared: PreparedPassword,
    ) -> Result<()> {
        let tx = self.store().write()?;
        let (user, profile) = self.password_change_target(&tx, caller, ctx, &prepared.user_id)?;
        self.still_as_prepared(&tx, &user, &prepared)?;
        self.put_user_password_hash(&tx, &user, &prepared.hash, false, Some(profile.created_at))?;
        tx.commit()
    }

    /// The user whose password a ChangePassword by `caller` changes, and its login
    /// profile, read in `tx` after the call's authorization.
    fn password_change_target(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
        ctx: &RequestContext,
        user_id: &str,
    ) -> Result<(UserRow, LoginProfileRow)> {
        let user = tx
            .user_by_id(user_id)?
            .ok_or_else(|| no_such("user", &caller.arn))?;
        let self_service = self
            .password_policy_of(tx, &user.account_id)?
            .is_some_and(|p| p.allow_users_to_change_password);
        if self_service {
            // The account's switch stands in for an identity policy, not for the limits
            // of the credential: a GetSessionToken or sign-in session without MFA still
            // may not call IAM.
            super::authz::session_guard(caller, "iam:ChangePassword")?;
        } else {
            self.authorize(tx, caller, "iam:ChangePassword", &caller.arn, ctx)?;
        }
        let profile = tx.login_profile(&user.user_id)?.ok_or_else(|| {
            Error::NoSuchEntity(format!(
                "Login Profile for User {} cannot be found.",
                user.name
            ))
        })?;
        Ok((user, profile))
    }

    /// Refuses `password` when it matches one of `history` (the policy's last N hashes).
    fn refuse_reused(
        &self,
        history: &[String],
        policy: Option<&PasswordPolicy>,
        password: &SecretString,
    ) -> Result<()> {
        let Some(n) = policy.and_then(|p| p.password_reuse_prevention) else {
            return Ok(());
        };
        for old in history {
            if self.hashes.verify(password, old)? {
                return Err(Error::PasswordPolicyViolation(format!(
                    "Password does not conform to the account password policy: it must differ from the last {n} passwords."
                )));
            }
        }
        Ok(())
    }

    // ---- lockout and sign-in ----

    /// Reserves one attempt for a canonical name, or refuses it when the name is locked or
    /// the threshold is reached. The read and the increment happen in one IMMEDIATE
    /// transaction, so parallel attempts never pass the threshold.
    fn reserve_attempt(&self, account: &str, canon: &str, s: LockoutSettings) -> Result<bool> {
        let now = self.now();
        let tx = self.store().write()?;
        let mut row = tx.lockout(account, canon)?;
        if row.locked_until.is_some_and(|t| t > now) {
            return Ok(false);
        }
        let window_open = row
            .window_start
            .is_some_and(|w| now - w < Duration::seconds(s.window_secs));
        if !window_open {
            row = LockoutRow {
                failures: 0,
                window_start: Some(now),
                locked_until: None,
            };
        }
        if row.failures >= s.threshold {
            row.locked_until = Some(now + Duration::seconds(s.lock_period_secs));
            tx.put_lockout(account, canon, &row)?;
            tx.insert_auth_event(account, canon, now, "locked", "sign-in")?;
            tx.commit()?;
            tracing::warn!(account, "sign-in locked after repeated failures");
            return Ok(false);
        }
        row.failures += 1;
        tx.put_lockout(account, canon, &row)?;
        tx.commit()?;
        Ok(true)
    }

    /// Clears the lockout counter of a user (`iamvault user unlock`).
    pub fn unlock_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
    ) -> Result<bool> {
        let n = name(NameKind::User, user_name)?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:UpdateLoginProfile",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let cleared = tx.clear_lockout(caller.account.as_str(), n.canonical())?;
        if cleared {
            tx.insert_auth_event(
                caller.account.as_str(),
                n.canonical(),
                self.now(),
                "unlocked",
                &caller.arn,
            )?;
        }
        self.commit(tx)?;
        tracing::info!(account = %caller.account, "sign-in lock cleared by an administrator");
        Ok(cleared)
    }

    /// Lock and unlock events, newest first (`iamvault user lockouts`).
    pub fn lockout_events(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: Option<&str>,
    ) -> Result<Vec<crate::store::AuthEventRow>> {
        let canon = user_name.map(|u| name(NameKind::User, u)).transpose()?;
        let tx = self.store().read()?;
        let resource = format!("arn:aws:iam::{}:user/", caller.account);
        self.authorize(&tx, caller, "iam:GetLoginProfile", &resource, ctx)?;
        tx.auth_events(
            caller.account.as_str(),
            canon.as_ref().map(|n| n.canonical()),
            1000,
        )
    }

    /// Signs a user in with a password and, once MFA is enabled for the user, a TOTP code.
    ///
    /// Every failure — unknown user, wrong password, wrong or replayed code, locked, no
    /// console password — returns the same [`Error::AuthenticationFailed`] after the same
    /// argon2 work (one verification; an unknown user is checked against a dummy hash).
    /// [`Error::PasswordChangeRequired`] comes only after the password and code were right.
    pub fn sign_in(
        &self,
        account: &AccountId,
        user_name: &str,
        password: &SecretString,
        code: Option<&str>,
        new_password: Option<&SecretString>,
    ) -> Result<SignIn> {
        let checked = self.check_sign_in(account, user_name, password, code)?;
        self.finish_sign_in(account, checked, password, new_password, false)
    }

    /// [`Vault::sign_in`] and the session it opens (`POST /vault/v1/login`), with the
    /// request's audit record (when an audit scope is open) in the sign-in's success
    /// transaction: a sign-in costs two durable writes, the reserved attempt and the
    /// success, instead of a third for the record. The session is minted before that
    /// transaction, so nothing can fail after the record says "allowed"; one minted for a
    /// sign-in that then fails (its code taken by a concurrent one, a password change due)
    /// is dropped unseen. A malformed `duration` is refused before any work.
    pub fn sign_in_session(
        &self,
        account: &AccountId,
        user_name: &str,
        password: &SecretString,
        code: Option<&str>,
        new_password: Option<&SecretString>,
        duration: Option<i64>,
    ) -> Result<super::IssuedSession> {
        super::sessions::sign_in_duration(duration)?;
        let checked = self.check_sign_in(account, user_name, password, code)?;
        let signin = SignIn {
            user: checked.user.clone(),
            mfa_present: !checked.steps.is_empty(),
            mfa_time: (!checked.steps.is_empty()).then_some(checked.now),
        };
        let session = self.session_for_sign_in(&signin, duration)?;
        self.finish_sign_in(account, checked, password, new_password, true)?;
        Ok(session)
    }

    /// The checks of [`Vault::sign_in`] up to its success transaction: the reserved
    /// attempt, the password, and which device steps the code matched (not consumed yet).
    pub(super) fn check_sign_in(
        &self,
        account: &AccountId,
        user_name: &str,
        password: &SecretString,
        code: Option<&str>,
    ) -> Result<CheckedSignIn> {
        let settings = self.lockout_settings()?;
        // Canonicalise once, at the edge; a malformed name is just an unknown user.
        let canon = name(NameKind::User, user_name)
            .map(|n| n.canonical().to_owned())
            .ok();
        let reserved = match &canon {
            Some(c) => self.reserve_attempt(account.as_str(), c, settings)?,
            None => true,
        };
        let found = match (&canon, reserved) {
            (Some(c), true) => {
                let tx = self.store().read()?;
                match tx.user(account.as_str(), c)? {
                    Some(u) => tx.login_profile(&u.user_id)?.map(|p| (u, p)),
                    None => None,
                }
            }
            _ => None,
        };
        let Some((user, profile)) = found else {
            self.hashes.verify_dummy(self.env.rng.as_ref(), password)?;
            return Err(Error::AuthenticationFailed);
        };
        if !self.hashes.verify(password, &profile.password_hash)? {
            return Err(Error::AuthenticationFailed);
        }
        let now = self.now();
        // MFA, once enabled, is required. The code is checked here, outside any write
        // transaction; the step it names is consumed below, in the success transaction.
        let devices = self.store().read()?.mfa_devices_for_user(&user.user_id)?;
        let mut steps = Vec::new();
        if !devices.is_empty() {
            let Some(code) = code else {
                return Err(Error::AuthenticationFailed);
            };
            for d in &devices {
                let seed = self
                    .keys
                    .sealer(Purpose::TotpSeed)
                    .open(&mfa_aad(&d.serial_number), &d.sealed_seed)?;
                if let Ok(step) = totp::verify(seed.expose(), code, now, d.last_step) {
                    steps.push((d.serial_number.clone(), step));
                }
            }
            if steps.is_empty() {
                return Err(Error::AuthenticationFailed);
            }
        }
        Ok(CheckedSignIn {
            user,
            profile,
            steps,
            now,
        })
    }

    /// The success transaction of [`Vault::sign_in`]; with `record`, it also holds the
    /// request's audit record of the success (see [`Vault::sign_in_session`]).
    pub(super) fn finish_sign_in(
        &self,
        account: &AccountId,
        checked: CheckedSignIn,
        password: &SecretString,
        new_password: Option<&SecretString>,
        record: bool,
    ) -> Result<SignIn> {
        let CheckedSignIn {
            user,
            profile,
            steps,
            now,
        } = checked;
        let mfa_present = !steps.is_empty();
        // A hash made with older parameters is replaced by one made with the current ones.
        // The argon2 work happens here, not in the write transaction below, where it would
        // hold up every other writer for as long.
        let rehashed = if !profile.password_reset_required
            && new_password.is_none()
            && self.hashes.outdated(&profile.password_hash)
        {
            Some(self.hashes.hash(self.env.rng.as_ref(), password)?)
        } else {
            None
        };
        // So is the work on a new password the sign-in requires (its rules, reuse
        // prevention, its hash). A refusal is reported below, where the change is made,
        // after the code's step is spent.
        let prepared = match new_password {
            Some(new) => {
                // The policy is read only when a reset is not already required.
                let due = profile.password_reset_required || {
                    let policy =
                        self.password_policy_of(&self.store().read()?, account.as_str())?;
                    password_expired(policy.as_ref(), profile.password_changed_at, now)
                };
                due.then(|| self.prepare_password_of(&user, new, Some(&profile.password_hash)))
            }
            None => None,
        };
        // Success so far. One write transaction consumes the TOTP step, resets the failure
        // counter and stamps the last use: one fsync fewer per sign-in than a transaction
        // of its own for the step. The step still moves only forward and only once (a
        // conditional UPDATE under the store's one write lock), so of two sign-ins with the
        // same code exactly one advances it; the other's transaction rolls back without
        // writing anything, and its reserved attempt stays counted as a failure.
        let tx = self.store().write()?;
        if mfa_present && !consume_step(&tx, &steps)? {
            return Err(Error::AuthenticationFailed);
        }
        let canon = user.name.to_ascii_lowercase();
        let policy = self.password_policy_of(&tx, account.as_str())?;
        let expired = password_expired(policy.as_ref(), profile.password_changed_at, now);
        let tx = if expired || profile.password_reset_required {
            let refused = match new_password {
                None if expired => Some("Your password has expired; set a new one."),
                None => Some("You must change your password before signing in."),
                Some(_)
                    if expired
                        && !profile.password_reset_required
                        && policy.as_ref().is_some_and(|p| p.hard_expiry) =>
                {
                    Some(
                        "Your password has expired and the password policy requires an administrator to reset it.",
                    )
                }
                Some(_) => None,
            };
            if new_password.is_none() || refused.is_some() {
                tx.clear_lockout(account.as_str(), &canon)?;
                tx.commit()?;
                return Err(Error::PasswordChangeRequired(
                    refused.unwrap_or_default().into(),
                ));
            }
            // The new password can still fail the password policy, which rolls its
            // transaction back; the code was used all the same, so its step is made
            // durable on its own first (a rare path: one more fsync).
            let tx = if mfa_present {
                tx.commit()?;
                self.store().write()?
            } else {
                tx
            };
            tx.clear_lockout(account.as_str(), &canon)?;
            let prepared = prepared.ok_or_else(|| {
                Error::EntityTemporarilyUnmodifiable(format!(
                    "The password policy of User {} changed during the sign-in; retry.",
                    user.name
                ))
            })??;
            // Only over the password this sign-in verified (`replaces`): one an
            // administrator set meanwhile (a reset of a compromised account) is not
            // replaced by the choice of whoever knew the old one.
            self.still_as_prepared(&tx, &user, &prepared)?;
            self.put_user_password_hash(
                &tx,
                &user,
                &prepared.hash,
                false,
                Some(profile.created_at),
            )?;
            tx
        } else {
            tx.clear_lockout(account.as_str(), &canon)?;
            if let Some(hash) = &rehashed {
                // Only over the hash that was verified: a password set meanwhile (an
                // administrator's reset) is never replaced by the old one.
                tx.rehash_password(&user.user_id, &profile.password_hash, hash)?;
            }
            tx
        };
        tx.touch_login_profile(&user.user_id, now)?;
        if record {
            self.commit(tx)?;
        } else {
            tx.commit()?;
        }
        Ok(SignIn {
            user,
            mfa_present,
            mfa_time: mfa_present.then_some(now),
        })
    }

    /// Requires that a named user exists (for the CLI's messages).
    pub fn require_user_named(&self, caller: &Caller, user_name: &str) -> Result<UserRow> {
        let n = name(NameKind::User, user_name)?;
        require_user(&self.store().read()?, &caller.account, &n)
    }
}

/// A new password, checked and hashed outside the write transaction (see
/// [`Vault::prepare_password_of`]), and what the checks read.
pub(super) struct PreparedPassword {
    user_id: String,
    /// The stored hash it may only replace (the password the caller proved).
    replaces: Option<String>,
    policy: Option<PasswordPolicy>,
    history: Vec<String>,
    /// The new password's hash.
    hash: String,
}

/// The rules a new password must meet: the account's policy's, or AWS's default ones.
fn rules_of(policy: Option<&PasswordPolicy>) -> PasswordRules {
    policy.map_or_else(PasswordRules::aws_default, PasswordPolicy::rules)
}

/// The earlier hashes reuse prevention compares with (none without it).
fn reuse_history(
    tx: &ReadTx<'_>,
    principal_id: &str,
    policy: Option<&PasswordPolicy>,
) -> Result<Vec<String>> {
    match policy.and_then(|p| p.password_reuse_prevention) {
        Some(n) => tx.password_history(principal_id, n),
        None => Ok(Vec::new()),
    }
}

/// Advances the first device whose code matched to the step it matched, inside the
/// sign-in's write transaction. False when every step was taken first (a replay, also by a
/// concurrent sign-in with the same code).
fn consume_step(tx: &WriteTx<'_>, steps: &[(String, i64)]) -> Result<bool> {
    for (serial, step) in steps {
        if tx.advance_mfa_step(serial, *step)? {
            return Ok(true);
        }
    }
    Ok(false)
}
