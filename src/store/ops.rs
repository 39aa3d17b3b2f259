//! Typed operations. Every statement uses bound parameters.

use rusqlite::{OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::CachedSql as _;
use super::{
    AccessKeyRow, AccountRow, EntityKind, GroupRow, InlinePolicyRow, InstanceProfileRow, KeyStatus,
    PolicyRow, PolicyVersionRow, ReadTx, RoleRow, TagRow, UserRow, WriteTx, from_ts, opt_ts, ts,
};
use crate::error::{Error, Result};

const USER_COLS: &str = "user_id, account_id, name, path, created_at, boundary_arn";
fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        user_id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        path: r.get(3)?,
        created_at: from_ts(r.get(4)?)?,
        boundary_arn: r.get(5)?,
    })
}

const GROUP_COLS: &str = "group_id, account_id, name, path, created_at";
fn group_row(r: &Row<'_>) -> rusqlite::Result<GroupRow> {
    Ok(GroupRow {
        group_id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        path: r.get(3)?,
        created_at: from_ts(r.get(4)?)?,
    })
}

const ROLE_COLS: &str = "role_id, account_id, name, path, trust_policy, description, max_session_duration, boundary_arn, created_at";
fn role_row(r: &Row<'_>) -> rusqlite::Result<RoleRow> {
    Ok(RoleRow {
        role_id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        path: r.get(3)?,
        trust_policy: r.get(4)?,
        description: r.get(5)?,
        max_session_duration: r.get(6)?,
        boundary_arn: r.get(7)?,
        created_at: from_ts(r.get(8)?)?,
    })
}

const PROFILE_COLS: &str = "profile_id, account_id, name, path, created_at, role_id";
fn profile_row(r: &Row<'_>) -> rusqlite::Result<InstanceProfileRow> {
    Ok(InstanceProfileRow {
        profile_id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        path: r.get(3)?,
        created_at: from_ts(r.get(4)?)?,
        role_id: r.get(5)?,
    })
}

const POLICY_COLS: &str = "policy_id, account_id, name, path, arn, description, default_version, next_version, created_at, updated_at";
fn policy_row(r: &Row<'_>) -> rusqlite::Result<PolicyRow> {
    Ok(PolicyRow {
        policy_id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        path: r.get(3)?,
        arn: r.get(4)?,
        description: r.get(5)?,
        default_version: r.get(6)?,
        next_version: r.get(7)?,
        created_at: from_ts(r.get(8)?)?,
        updated_at: from_ts(r.get(9)?)?,
    })
}

const KEY_COLS: &str = "access_key_id, account_id, user_id, status, created_at, sealed_secret, last_used_at, last_used_service, last_used_region";
/// A key's `status` column (the schema's CHECK allows only these two values).
pub(super) fn key_status(s: &str) -> KeyStatus {
    if s == "Active" {
        KeyStatus::Active
    } else {
        KeyStatus::Inactive
    }
}

fn key_row(r: &Row<'_>) -> rusqlite::Result<AccessKeyRow> {
    Ok(AccessKeyRow {
        access_key_id: r.get(0)?,
        account_id: r.get(1)?,
        user_id: r.get(2)?,
        status: key_status(&r.get::<_, String>(3)?),
        created_at: from_ts(r.get(4)?)?,
        sealed_secret: r.get(5)?,
        last_used_at: opt_ts(r.get(6)?)?,
        last_used_service: r.get(7)?,
        last_used_region: r.get(8)?,
    })
}

const BOUNDARY_USAGE_SQL: &str = "SELECT (SELECT count(*) FROM users WHERE boundary_arn = ?1) + (SELECT count(*) FROM roles WHERE boundary_arn = ?1)";

fn users_page_sql() -> String {
    format!(
        "SELECT {USER_COLS} FROM users WHERE account_id = ?1 AND path LIKE ?2 ESCAPE '\\' AND name_canon >= ?3 ORDER BY name_canon LIMIT ?4"
    )
}

/// A row limit as SQLite's integer (saturating; page sizes are at most 1,001).
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` prefix match.
fn like_prefix(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

/// Checks that an UPDATE or DELETE touched exactly one row.
fn one(n: usize, what: &str) -> Result<()> {
    if n == 1 {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "expected to change one {what}, changed {n}"
        )))
    }
}

impl ReadTx<'_> {
    // ---- meta and accounts ----

    /// Reads a vault-level setting.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row_cached("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// One account.
    pub fn account(&self, account_id: &str) -> Result<Option<AccountRow>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT account_id, created_at FROM accounts WHERE account_id = ?1",
                params![account_id],
                |r| {
                    Ok(AccountRow {
                        account_id: r.get(0)?,
                        created_at: from_ts(r.get(1)?)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every account, oldest first.
    pub fn accounts(&self) -> Result<Vec<AccountRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT account_id, created_at FROM accounts ORDER BY created_at, account_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(AccountRow {
                account_id: r.get(0)?,
                created_at: from_ts(r.get(1)?)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The root user's password hash (PHC string).
    pub fn root_password_hash(&self, account_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT root_password_hash FROM accounts WHERE account_id = ?1",
                params![account_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    // ---- users ----

    /// A user by canonical name.
    pub fn user(&self, account_id: &str, name_canon: &str) -> Result<Option<UserRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {USER_COLS} FROM users WHERE account_id = ?1 AND name_canon = ?2"),
                params![account_id, name_canon],
                user_row,
            )
            .optional()?)
    }

    /// A user by unique id.
    pub fn user_by_id(&self, user_id: &str) -> Result<Option<UserRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {USER_COLS} FROM users WHERE user_id = ?1"),
                params![user_id],
                user_row,
            )
            .optional()?)
    }

    /// Users whose path starts with `path_prefix`, by name.
    pub fn users(&self, account_id: &str, path_prefix: &str) -> Result<Vec<UserRow>> {
        self.users_page(account_id, path_prefix, "", usize::MAX)
    }

    /// One keyset page of [`users`](Self::users): at most `limit` users whose canonical
    /// name is `>= from`, by canonical name (served by the `(account_id, name_canon)`
    /// unique index, so a page costs O(`limit`), not O(users)).
    pub fn users_page(
        &self,
        account_id: &str,
        path_prefix: &str,
        from: &str,
        limit: usize,
    ) -> Result<Vec<UserRow>> {
        let mut st = self.conn.prepare_cached(&users_page_sql())?;
        let rows = st.query_map(
            params![account_id, like_prefix(path_prefix), from, sql_limit(limit)],
            user_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// SQLite's plan for [`users_page`](Self::users_page), one line per step.
    #[cfg(test)]
    pub(crate) fn explain_users_page(&self) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", users_page_sql()))?;
        let rows = st.query_map(params!["123456789012", "/%", "", 101_i64], |r| {
            r.get::<_, String>(3)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- groups ----

    /// A group by canonical name.
    pub fn group(&self, account_id: &str, name_canon: &str) -> Result<Option<GroupRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!(
                    "SELECT {GROUP_COLS} FROM groups WHERE account_id = ?1 AND name_canon = ?2"
                ),
                params![account_id, name_canon],
                group_row,
            )
            .optional()?)
    }

    /// Groups whose path starts with `path_prefix`.
    pub fn groups(&self, account_id: &str, path_prefix: &str) -> Result<Vec<GroupRow>> {
        self.groups_page(account_id, path_prefix, "", usize::MAX)
    }

    /// One keyset page of [`groups`](Self::groups) (see [`users_page`](Self::users_page)).
    pub fn groups_page(
        &self,
        account_id: &str,
        path_prefix: &str,
        from: &str,
        limit: usize,
    ) -> Result<Vec<GroupRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {GROUP_COLS} FROM groups WHERE account_id = ?1 AND path LIKE ?2 ESCAPE '\\' AND name_canon >= ?3 ORDER BY name_canon LIMIT ?4"
        ))?;
        let rows = st.query_map(
            params![account_id, like_prefix(path_prefix), from, sql_limit(limit)],
            group_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The members of a group.
    pub fn group_members(&self, group_id: &str) -> Result<Vec<UserRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT u.user_id, u.account_id, u.name, u.path, u.created_at, u.boundary_arn
             FROM group_members m JOIN users u ON u.user_id = m.user_id
             WHERE m.group_id = ?1 ORDER BY u.name_canon",
        )?;
        let rows = st.query_map(params![group_id], user_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The groups a user belongs to.
    pub fn groups_for_user(&self, user_id: &str) -> Result<Vec<GroupRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT g.group_id, g.account_id, g.name, g.path, g.created_at
             FROM group_members m JOIN groups g ON g.group_id = m.group_id
             WHERE m.user_id = ?1 ORDER BY g.name_canon",
        )?;
        let rows = st.query_map(params![user_id], group_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- roles ----

    /// A role by canonical name.
    pub fn role(&self, account_id: &str, name_canon: &str) -> Result<Option<RoleRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {ROLE_COLS} FROM roles WHERE account_id = ?1 AND name_canon = ?2"),
                params![account_id, name_canon],
                role_row,
            )
            .optional()?)
    }

    /// A role by unique id.
    pub fn role_by_id(&self, role_id: &str) -> Result<Option<RoleRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {ROLE_COLS} FROM roles WHERE role_id = ?1"),
                params![role_id],
                role_row,
            )
            .optional()?)
    }

    /// Roles whose path starts with `path_prefix`.
    pub fn roles(&self, account_id: &str, path_prefix: &str) -> Result<Vec<RoleRow>> {
        self.roles_page(account_id, path_prefix, "", usize::MAX)
    }

    /// One keyset page of [`roles`](Self::roles) (see [`users_page`](Self::users_page)).
    pub fn roles_page(
        &self,
        account_id: &str,
        path_prefix: &str,
        from: &str,
        limit: usize,
    ) -> Result<Vec<RoleRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {ROLE_COLS} FROM roles WHERE account_id = ?1 AND path LIKE ?2 ESCAPE '\\' AND name_canon >= ?3 ORDER BY name_canon LIMIT ?4"
        ))?;
        let rows = st.query_map(
            params![account_id, like_prefix(path_prefix), from, sql_limit(limit)],
            role_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- instance profiles ----

    /// An instance profile by canonical name.
    pub fn instance_profile(
        &self,
        account_id: &str,
        name_canon: &str,
    ) -> Result<Option<InstanceProfileRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {PROFILE_COLS} FROM instance_profiles WHERE account_id = ?1 AND name_canon = ?2"),
                params![account_id, name_canon],
                profile_row,
            )
            .optional()?)
    }

    /// Instance profiles whose path starts with `path_prefix`.
    pub fn instance_profiles(
        &self,
        account_id: &str,
        path_prefix: &str,
    ) -> Result<Vec<InstanceProfileRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {PROFILE_COLS} FROM instance_profiles WHERE account_id = ?1 AND path LIKE ?2 ESCAPE '\\' ORDER BY name_canon"
        ))?;
        let rows = st.query_map(params![account_id, like_prefix(path_prefix)], profile_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Instance profiles that hold `role_id`.
    pub fn instance_profiles_for_role(&self, role_id: &str) -> Result<Vec<InstanceProfileRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {PROFILE_COLS} FROM instance_profiles WHERE role_id = ?1 ORDER BY name_canon"
        ))?;
        let rows = st.query_map(params![role_id], profile_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- managed policies ----

    /// A customer managed policy by ARN.
    pub fn policy_by_arn(&self, arn: &str) -> Result<Option<PolicyRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {POLICY_COLS} FROM policies WHERE arn = ?1"),
                params![arn],
                policy_row,
            )
            .optional()?)
    }

    /// A customer managed policy by canonical name.
    pub fn policy_by_name(&self, account_id: &str, name_canon: &str) -> Result<Option<PolicyRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!(
                    "SELECT {POLICY_COLS} FROM policies WHERE account_id = ?1 AND name_canon = ?2"
                ),
                params![account_id, name_canon],
                policy_row,
            )
            .optional()?)
    }

    /// Customer managed policies whose path starts with `path_prefix`.
    pub fn policies(&self, account_id: &str, path_prefix: &str) -> Result<Vec<PolicyRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {POLICY_COLS} FROM policies WHERE account_id = ?1 AND path LIKE ?2 ESCAPE '\\' ORDER BY name_canon"
        ))?;
        let rows = st.query_map(params![account_id, like_prefix(path_prefix)], policy_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One version of a policy.
    pub fn policy_version(
        &self,
        policy_id: &str,
        version: i64,
    ) -> Result<Option<PolicyVersionRow>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT version, document, created_at FROM policy_versions WHERE policy_id = ?1 AND version = ?2",
                params![policy_id, version],
                |r| {
                    Ok(PolicyVersionRow {
                        version: r.get(0)?,
                        document: r.get(1)?,
                        created_at: from_ts(r.get(2)?)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every version of a policy, newest first.
    pub fn policy_versions(&self, policy_id: &str) -> Result<Vec<PolicyVersionRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT version, document, created_at FROM policy_versions WHERE policy_id = ?1 ORDER BY version DESC",
        )?;
        let rows = st.query_map(params![policy_id], |r| {
            Ok(PolicyVersionRow {
                version: r.get(0)?,
                document: r.get(1)?,
                created_at: from_ts(r.get(2)?)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- attachments and inline policies ----

    /// The managed policy ARNs attached to an entity.
    pub fn attached(&self, kind: EntityKind, principal_id: &str) -> Result<Vec<String>> {
        let mut st = self.conn.prepare_cached(
            "SELECT policy_arn FROM attachments WHERE principal_kind = ?1 AND principal_id = ?2 ORDER BY policy_arn",
        )?;
        let rows = st.query_map(params![kind.as_str(), principal_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many entities a managed policy is attached to.
    pub fn attachment_count(&self, policy_arn: &str) -> Result<i64> {
        Ok(self.conn.query_row_cached(
            "SELECT count(*) FROM attachments WHERE policy_arn = ?1",
            params![policy_arn],
            |r| r.get(0),
        )?)
    }

    /// How many entities use a managed policy as their permissions boundary.
    pub fn boundary_usage_count(&self, policy_arn: &str) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached(BOUNDARY_USAGE_SQL)?
            .query_row(params![policy_arn], |r| r.get(0))?)
    }

    /// SQLite's plan for [`boundary_usage_count`](Self::boundary_usage_count).
    #[cfg(test)]
    pub(crate) fn explain_boundary_usage(&self) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {BOUNDARY_USAGE_SQL}"))?;
        let rows = st.query_map(params!["arn:aws:iam::123456789012:policy/b"], |r| {
            r.get::<_, String>(3)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The inline policies of an entity, by name.
    pub fn inline_policies(
        &self,
        kind: EntityKind,
        principal_id: &str,
    ) -> Result<Vec<InlinePolicyRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, document FROM inline_policies WHERE principal_kind = ?1 AND principal_id = ?2 ORDER BY name_canon",
        )?;
        let rows = st.query_map(params![kind.as_str(), principal_id], |r| {
            Ok(InlinePolicyRow {
                name: r.get(0)?,
                document: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- tags ----

    /// The tags of an entity, in key order.
    pub fn tags(&self, kind: EntityKind, entity_id: &str) -> Result<Vec<TagRow>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT key, value FROM tags WHERE entity_kind = ?1 AND entity_id = ?2 ORDER BY key_canon")?;
        let rows = st.query_map(params![kind.as_str(), entity_id], |r| {
            Ok(TagRow {
                key: r.get(0)?,
                value: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- access keys ----

    /// One access key.
    pub fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {KEY_COLS} FROM access_keys WHERE access_key_id = ?1"),
                params![access_key_id],
                key_row,
            )
            .optional()?)
    }

    /// The id of the oldest access key in the vault, if any (to check a master key).
    pub fn first_access_key_id(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT access_key_id FROM access_keys ORDER BY created_at, access_key_id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// A user's access keys, oldest first.
    pub fn access_keys_for_user(&self, user_id: &str) -> Result<Vec<AccessKeyRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {KEY_COLS} FROM access_keys WHERE user_id = ?1 ORDER BY created_at, access_key_id"
        ))?;
        let rows = st.query_map(params![user_id], key_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl WriteTx<'_> {
    /// Sets a vault-level setting.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Adds an account. Its first root password is remembered for reuse prevention, as a
    /// user's first one is.
    pub fn insert_account(&self, a: &AccountRow, root_password_hash: Option<&str>) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO accounts (account_id, created_at, root_password_hash) VALUES (?1, ?2, ?3)",
            params![a.account_id, ts(a.created_at), root_password_hash],
        )?;
        if let Some(hash) = root_password_hash {
            self.push_password_history(&a.account_id, hash, a.created_at)?;
        }
        Ok(())
    }

    /// Adds a user. The caller has checked the name is free.
    pub fn insert_user(&self, u: &UserRow, name_canon: &str) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO users (user_id, account_id, name, name_canon, path, created_at, boundary_arn)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![u.user_id, u.account_id, u.name, name_canon, u.path, ts(u.created_at), u.boundary_arn],
        )?;
        Ok(())
    }

    /// Renames or moves a user.
    pub fn update_user(
        &self,
        user_id: &str,
        name: &str,
        name_canon: &str,
        path: &str,
    ) -> Result<()> {
        let n = self.conn.execute_cached(
            "UPDATE users SET name = ?2, name_canon = ?3, path = ?4 WHERE user_id = ?1",
            params![user_id, name, name_canon, path],
        )?;
        one(n, "user")
    }

    /// Sets or clears an entity's permissions boundary.
    pub fn set_boundary(&self, kind: EntityKind, id: &str, arn: Option<&str>) -> Result<()> {
        let n = match kind {
            EntityKind::User => self.conn.execute_cached(
                "UPDATE users SET boundary_arn = ?2 WHERE user_id = ?1",
                params![id, arn],
            )?,
            EntityKind::Role => self.conn.execute_cached(
                "UPDATE roles SET boundary_arn = ?2 WHERE role_id = ?1",
                params![id, arn],
            )?,
            EntityKind::Group => {
                return Err(Error::Internal(
                    "groups have no permissions boundary".into(),
                ));
            }
        };
        one(n, "entity")
    }

    /// Deletes a user row. Dependents must be gone.
    pub fn delete_user(&self, user_id: &str) -> Result<()> {
        self.delete_tags_of(EntityKind::User, user_id)?;
        let n = self
            .conn
            .execute_cached("DELETE FROM users WHERE user_id = ?1", params![user_id])?;
        one(n, "user")
    }

    /// Adds a group.
    pub fn insert_group(&self, g: &GroupRow, name_canon: &str) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO groups (group_id, account_id, name, name_canon, path, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![g.group_id, g.account_id, g.name, name_canon, g.path, ts(g.created_at)],
        )?;
        Ok(())
    }

    /// Deletes a group row. Dependents must be gone.
    pub fn delete_group(&self, group_id: &str) -> Result<()> {
        let n = self
            .conn
            .execute_cached("DELETE FROM groups WHERE group_id = ?1", params![group_id])?;
        one(n, "group")
    }

    /// Adds a user to a group; returns false if it was a member already.
    pub fn add_member(&self, group_id: &str, user_id: &str) -> Result<bool> {
        let n = self.conn.execute_cached(
            "INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?1, ?2)",
            params![group_id, user_id],
        )?;
        Ok(n == 1)
    }

    /// Removes a user from a group; returns false if it was not a member.
    pub fn remove_member(&self, group_id: &str, user_id: &str) -> Result<bool> {
        let n = self.conn.execute_cached(
            "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
            params![group_id, user_id],
        )?;
        Ok(n == 1)
    }

    /// Adds a role.
    pub fn insert_role(&self, r: &RoleRow, name_canon: &str) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO roles (role_id, account_id, name, name_canon, path, trust_policy, description, max_session_duration, boundary_arn, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                r.role_id,
                r.account_id,
                r.name,
                name_canon,
                r.path,
                r.trust_policy,
                r.description,
                r.max_session_duration,
                r.boundary_arn,
                ts(r.created_at)
            ],
        )?;
        Ok(())
    }

    /// Replaces a role's trust policy.
    pub fn update_trust_policy(&self, role_id: &str, doc: &str) -> Result<()> {
        let n = self.conn.execute_cached(
            "UPDATE roles SET trust_policy = ?2 WHERE role_id = ?1",
            params![role_id, doc],
        )?;
        one(n, "role")
    }

    /// Updates a role's description and maximum session duration.
    pub fn update_role(
        &self,
        role_id: &str,
        description: &str,
        max_session_duration: i64,
    ) -> Result<()> {
        let n = self.conn.execute_cached(
            "UPDATE roles SET description = ?2, max_session_duration = ?3 WHERE role_id = ?1",
            params![role_id, description, max_session_duration],
        )?;
        one(n, "role")
    }

    /// Deletes a role row. Dependents must be gone.
    pub fn delete_role(&self, role_id: &str) -> Result<()> {
        self.delete_tags_of(EntityKind::Role, role_id)?;
        let n = self
            .conn
            .execute_cached("DELETE FROM roles WHERE role_id = ?1", params![role_id])?;
        one(n, "role")
    }

    /// Adds an instance profile.
    pub fn insert_instance_profile(&self, p: &InstanceProfileRow, name_canon: &str) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO instance_profiles (profile_id, account_id, name, name_canon, path, created_at, role_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![p.profile_id, p.account_id, p.name, name_canon, p.path, ts(p.created_at), p.role_id],
        )?;
        Ok(())
    }

    /// Sets or clears the role of an instance profile.
    pub fn set_profile_role(&self, profile_id: &str, role_id: Option<&str>) -> Result<()> {
        let n = self.conn.execute_cached(
            "UPDATE instance_profiles SET role_id = ?2 WHERE profile_id = ?1",
            params![profile_id, role_id],
        )?;
        one(n, "instance profile")
    }

    /// Deletes an instance profile row.
    pub fn delete_instance_profile(&self, profile_id: &str) -> Result<()> {
        let n = self.conn.execute_cached(
            "DELETE FROM instance_profiles WHERE profile_id = ?1",
            params![profile_id],
        )?;
        one(n, "instance profile")
    }

    /// Adds a customer managed policy with its first version.
    pub fn insert_policy(
        &self,
        p: &PolicyRow,
        name_canon: &str,
        first: &PolicyVersionRow,
    ) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO policies (policy_id, account_id, name, name_canon, path, arn, description, default_version, next_version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                p.policy_id,
                p.account_id,
                p.name,
                name_canon,
                p.path,
                p.arn,
                p.description,
                p.default_version,
                p.next_version,
                ts(p.created_at),
                ts(p.updated_at)
            ],
        )?;
        self.insert_policy_version(&p.policy_id, first)
    }

    /// Adds a version row.
    pub fn insert_policy_version(&self, policy_id: &str, v: &PolicyVersionRow) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO policy_versions (policy_id, version, document, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![policy_id, v.version, v.document, ts(v.created_at)],
        )?;
        Ok(())
    }

    /// Updates a policy's default and next version numbers.
    pub fn update_policy_versions(
        &self,
        policy_id: &str,
        default_version: i64,
        next_version: i64,
        now: OffsetDateTime,
    ) -> Result<()> {
        let n = self.conn.execute_cached(
            "UPDATE policies SET default_version = ?2, next_version = ?3, updated_at = ?4 WHERE policy_id = ?1",
            params![policy_id, default_version, next_version, ts(now)],
        )?;
        one(n, "policy")
    }

    /// Deletes one version row.
    pub fn delete_policy_version(&self, policy_id: &str, version: i64) -> Result<()> {
        let n = self.conn.execute_cached(
            "DELETE FROM policy_versions WHERE policy_id = ?1 AND version = ?2",
            params![policy_id, version],
        )?;
        one(n, "policy version")
    }

    /// Deletes a policy and all its versions.
    pub fn delete_policy(&self, policy_id: &str) -> Result<()> {
        self.conn.execute_cached(
            "DELETE FROM policy_versions WHERE policy_id = ?1",
            params![policy_id],
        )?;
        let n = self.conn.execute_cached(
            "DELETE FROM policies WHERE policy_id = ?1",
            params![policy_id],
        )?;
        one(n, "policy")
    }

    /// Attaches a managed policy; returns false if it was attached already.
    pub fn attach(&self, kind: EntityKind, principal_id: &str, policy_arn: &str) -> Result<bool> {
        let n = self.conn.execute_cached(
            "INSERT OR IGNORE INTO attachments (principal_kind, principal_id, policy_arn) VALUES (?1, ?2, ?3)",
            params![kind.as_str(), principal_id, policy_arn],
        )?;
        Ok(n == 1)
    }

    /// Detaches a managed policy; returns false if it was not attached.
    pub fn detach(&self, kind: EntityKind, principal_id: &str, policy_arn: &str) -> Result<bool> {
        let n = self.conn.execute_cached(
            "DELETE FROM attachments WHERE principal_kind = ?1 AND principal_id = ?2 AND policy_arn = ?3",
            params![kind.as_str(), principal_id, policy_arn],
        )?;
        Ok(n == 1)
    }

    /// Detaches a managed policy from every entity.
    pub fn detach_everywhere(&self, policy_arn: &str) -> Result<()> {
        self.conn.execute_cached(
            "DELETE FROM attachments WHERE policy_arn = ?1",
            params![policy_arn],
        )?;
        Ok(())
    }

    /// Creates or replaces an inline policy.
    pub fn put_inline(
        &self,
        kind: EntityKind,
        principal_id: &str,
        name: &str,
        name_canon: &str,
        doc: &str,
    ) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO inline_policies (principal_kind, principal_id, name, name_canon, document) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(principal_kind, principal_id, name_canon) DO UPDATE SET name = excluded.name, document = excluded.document",
            params![kind.as_str(), principal_id, name, name_canon, doc],
        )?;
        Ok(())
    }

    /// Deletes an inline policy; returns false if there was none.
    pub fn delete_inline(
        &self,
        kind: EntityKind,
        principal_id: &str,
        name_canon: &str,
    ) -> Result<bool> {
        let n = self.conn.execute_cached(
            "DELETE FROM inline_policies WHERE principal_kind = ?1 AND principal_id = ?2 AND name_canon = ?3",
            params![kind.as_str(), principal_id, name_canon],
        )?;
        Ok(n == 1)
    }

    /// Creates or replaces tags.
    pub fn put_tags(
        &self,
        kind: EntityKind,
        entity_id: &str,
        tags: &[(String, String, String)],
    ) -> Result<()> {
        let mut st = self.conn.prepare_cached(
            "INSERT INTO tags (entity_kind, entity_id, key_canon, key, value) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(entity_kind, entity_id, key_canon) DO UPDATE SET key = excluded.key, value = excluded.value",
        )?;
        for (canon, key, value) in tags {
            st.execute(params![kind.as_str(), entity_id, canon, key, value])?;
        }
        Ok(())
    }

    /// Removes tags by canonical key; missing keys are ignored, as in AWS.
    pub fn remove_tags(
        &self,
        kind: EntityKind,
        entity_id: &str,
        key_canons: &[String],
    ) -> Result<()> {
        let mut st = self.conn.prepare_cached(
            "DELETE FROM tags WHERE entity_kind = ?1 AND entity_id = ?2 AND key_canon = ?3",
        )?;
        for k in key_canons {
            st.execute(params![kind.as_str(), entity_id, k])?;
        }
        Ok(())
    }

    fn delete_tags_of(&self, kind: EntityKind, entity_id: &str) -> Result<()> {
        self.conn.execute_cached(
            "DELETE FROM tags WHERE entity_kind = ?1 AND entity_id = ?2",
            params![kind.as_str(), entity_id],
        )?;
        Ok(())
    }

    /// Adds an access key.
    pub fn insert_access_key(&self, k: &AccessKeyRow) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO access_keys (access_key_id, account_id, user_id, status, created_at, sealed_secret)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![k.access_key_id, k.account_id, k.user_id, k.status.as_str(), ts(k.created_at), k.sealed_secret],
        )?;
        Ok(())
    }

    /// Sets a key's status.
    pub fn set_key_status(&self, access_key_id: &str, status: KeyStatus) -> Result<()> {
        let n = self.conn.execute_cached(
            "UPDATE access_keys SET status = ?2 WHERE access_key_id = ?1",
            params![access_key_id, status.as_str()],
        )?;
        one(n, "access key")
    }

    /// Records a use of a key.
    pub fn record_key_use(
        &self,
        access_key_id: &str,
        at: OffsetDateTime,
        service: &str,
        region: &str,
    ) -> Result<()> {
        let n = self.conn.execute_cached(
            "UPDATE access_keys SET last_used_at = ?2, last_used_service = ?3, last_used_region = ?4 WHERE access_key_id = ?1",
            params![access_key_id, ts(at), service, region],
        )?;
        one(n, "access key")
    }

    /// Deletes a key.
    pub fn delete_access_key(&self, access_key_id: &str) -> Result<()> {
        let n = self.conn.execute_cached(
            "DELETE FROM access_keys WHERE access_key_id = ?1",
            params![access_key_id],
        )?;
        one(n, "access key")
    }
}
