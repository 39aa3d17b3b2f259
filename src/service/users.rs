//! Users: create, get, list, update, delete, tag.

use super::authz::request_tag_keys;
use super::page::{Page, PageRequest};
use super::{
    Caller, PermissionsBoundary, RequestContext, User, Vault, name, no_such, refuse_dependents,
    require_account,
};
use crate::crypto::generate_unique_id;
use crate::error::{Error, Result};
use crate::model::{
    AccountId, Arn, EntityName, IdPrefix, NameKind, PolicyPath, ResourceType, Tag, validate_tag_set,
};
use crate::policy::ContextValue;
use crate::store::{EntityKind, ReadTx, TagRow, UserRow};

/// The ARN of a user row.
pub(super) fn user_arn(row: &UserRow) -> String {
    format!(
        "arn:aws:iam::{}:user{}{}",
        row.account_id, row.path, row.name
    )
}

/// The ARN an operation on a user that may not exist is authorized against.
pub(super) fn arn_for(account: &AccountId, found: Option<&UserRow>, name: &EntityName) -> String {
    match found {
        Some(u) => user_arn(u),
        None => Arn::iam(account, ResourceType::User, &PolicyPath::root(), name).to_string(),
    }
}

pub(super) fn to_user(row: UserRow, tags: Vec<TagRow>) -> User {
    User {
        arn: user_arn(&row),
        path: row.path,
        user_name: row.name,
        user_id: row.user_id,
        create_date: row.created_at,
        permissions_boundary: PermissionsBoundary::from_arn(row.boundary_arn),
        tags: tags
            .into_iter()
            .map(|t| Tag {
                key: t.key,
                value: t.value,
            })
            .collect(),
    }
}

/// Looks a user up, failing with `NoSuchEntity`.
pub(super) fn require_user(
    tx: &ReadTx<'_>,
    account: &AccountId,
    n: &EntityName,
) -> Result<UserRow> {
    tx.user(account.as_str(), n.canonical())?
        .ok_or_else(|| no_such("user", n.as_str()))
}

pub(super) fn tag_rows(tags: &[Tag]) -> Vec<(String, String, String)> {
    tags.iter()
        .map(|t| (t.canonical_key(), t.key.clone(), t.value.clone()))
        .collect()
}

/// Merges `new` into `existing` and checks the 50-tag limit.
pub(super) fn check_tag_limit(existing: &[TagRow], new: &[Tag]) -> Result<()> {
    let mut keys: std::collections::HashSet<String> =
        existing.iter().map(|t| t.key.to_lowercase()).collect();
    keys.extend(new.iter().map(Tag::canonical_key));
    if keys.len() > crate::model::MAX_TAGS {
        return Err(Error::LimitExceeded(format!(
            "cannot exceed quota for tags per entity: {}",
            crate::model::MAX_TAGS
        )));
    }
    Ok(())
}

impl Vault {
    /// CreateUser.
    pub fn create_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
        path: Option<&str>,
        boundary: Option<&str>,
        tags: &[Tag],
    ) -> Result<User> {
        let n = name(NameKind::User, user_name)?;
        let path = path
            .map(PolicyPath::parse)
            .transpose()?
            .unwrap_or_else(PolicyPath::root);
        let arn = Arn::iam(&caller.account, ResourceType::User, &path, &n).to_string();
        let tx = self.store().write()?;
        let mut keys = request_tag_keys(tags);
        if let Some(b) = boundary {
            keys.push((
                "iam:PermissionsBoundary".into(),
                ContextValue::String(b.to_owned()),
            ));
        }
        self.authorize_with(&tx, caller, "iam:CreateUser", &arn, ctx, &keys)?;
        if !tags.is_empty() {
            self.authorize_with(&tx, caller, "iam:TagUser", &arn, ctx, &keys)?;
        }
        validate_tag_set(tags)?;
        require_account(&tx, &caller.account)?;
        let boundary = boundary
            .map(|b| self.check_boundary_arn(&tx, caller, b))
            .transpose()?;
        if tx.user(caller.account.as_str(), n.canonical())?.is_some() {
            return Err(Error::EntityAlreadyExists(format!(
                "User with name {n} already exists."
            )));
        }
        let row = UserRow {
            user_id: generate_unique_id(self.env.rng.as_ref(), IdPrefix::User)?.to_string(),
            account_id: caller.account.to_string(),
            name: n.as_str().to_owned(),
            path: path.to_string(),
            created_at: self.now(),
            boundary_arn: boundary,
        };
        tx.insert_user(&row, n.canonical())?;
        tx.put_tags(EntityKind::User, &row.user_id, &tag_rows(tags))?;
        let tags = tx.tags(EntityKind::User, &row.user_id)?;
        self.commit(tx)?;
        Ok(to_user(row, tags))
    }

    /// GetUser. Without a name, the calling user (the root user reports its account).
    pub fn get_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: Option<&str>,
    ) -> Result<User> {
        let n = match (user_name, &caller.kind) {
            (Some(s), _) => name(NameKind::User, s)?,
            (None, super::CallerKind::User { name: own, .. }) => name(NameKind::User, own)?,
            (None, super::CallerKind::Session(_)) => match caller.user_name() {
                Some(own) => name(NameKind::User, &own)?,
                None => {
                    return Err(Error::InvalidInput(
                        "UserName is required when the request is signed with role credentials"
                            .into(),
                    ));
                }
            },
            (None, super::CallerKind::Root) => {
                let tx = self.store().read()?;
                self.authorize(&tx, caller, "iam:GetUser", &caller.arn, ctx)?;
                let acct = tx.account(caller.account.as_str())?.ok_or_else(|| {
                    Error::NoSuchEntity(format!("account `{}` does not exist", caller.account))
                })?;
                return Ok(User {
                    path: "/".into(),
                    user_name: String::new(),
                    user_id: caller.account.to_string(),
                    arn: caller.arn.clone(),
                    create_date: acct.created_at,
                    permissions_boundary: None,
                    tags: Vec::new(),
                });
            }
        };
        let tx = self.store().read()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:GetUser",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("user", n.as_str()))?;
        let tags = tx.tags(EntityKind::User, &row.user_id)?;
        Ok(to_user(row, tags))
    }

    /// ListUsers, optionally under a path prefix: every user (the local CLI's listing).
    pub fn list_users(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        path_prefix: Option<&str>,
    ) -> Result<Vec<User>> {
        Ok(self
            .list_users_page(caller, ctx, path_prefix, &PageRequest::first(usize::MAX))?
            .items)
    }

    /// One page of ListUsers, optionally under a path prefix, read from the store by
    /// keyset (the caller needs `iam:ListUsers` as for [`list_users`](Self::list_users)).
    pub fn list_users_page(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        path_prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<User>> {
        let (tx, prefix) =
            self.authorized_listing(caller, ctx, path_prefix, "iam:ListUsers", "user")?;
        let rows = tx.users_page(caller.account.as_str(), &prefix, page.from(), page.fetch())?;
        Ok(Page::cut(
            rows,
            page,
            |u| u.name.to_ascii_lowercase(),
            |u| to_user(u, Vec::new()),
        ))
    }

    /// UpdateUser: rename and/or move.
    pub fn update_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<User> {
        let n = name(NameKind::User, user_name)?;
        let new_n = new_name.map(|s| name(NameKind::User, s)).transpose()?;
        let new_path = new_path.map(PolicyPath::parse).transpose()?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:UpdateUser",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let mut row = found.ok_or_else(|| no_such("user", n.as_str()))?;
        if let Some(nn) = &new_n {
            // AWS also requires permission on the new name.
            let p = new_path.clone().unwrap_or(PolicyPath::parse(&row.path)?);
            self.authorize(
                &tx,
                caller,
                "iam:UpdateUser",
                &Arn::iam(&caller.account, ResourceType::User, &p, nn).to_string(),
                ctx,
            )?;
            if nn.canonical() != n.canonical()
                && tx.user(caller.account.as_str(), nn.canonical())?.is_some()
            {
                return Err(Error::EntityAlreadyExists(format!(
                    "User with name {nn} already exists."
                )));
            }
            row.name = nn.as_str().to_owned();
        }
        if let Some(p) = new_path {
            row.path = p.to_string();
        }
        tx.update_user(
            &row.user_id,
            &row.name,
            &row.name.to_ascii_lowercase(),
            &row.path,
        )?;
        let tags = tx.tags(EntityKind::User, &row.user_id)?;
        self.commit(tx)?;
        Ok(to_user(row, tags))
    }

    /// DeleteUser. Without `force`, a user that still has access keys, group memberships or
    /// policies fails with `DeleteConflict`; with it, those are removed in the same
    /// transaction.
    pub fn delete_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
        force: bool,
    ) -> Result<()> {
        let n = name(NameKind::User, user_name)?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:DeleteUser",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("user", n.as_str()))?;
        let keys = tx.access_keys_for_user(&row.user_id)?;
        let groups = tx.groups_for_user(&row.user_id)?;
        let attached = tx.attached(EntityKind::User, &row.user_id)?;
        let inline = tx.inline_policies(EntityKind::User, &row.user_id)?;
        let login = tx.login_profile(&row.user_id)?.is_some();
        let mfa = tx.mfa_devices_for_user(&row.user_id)?;
        if !force {
            refuse_dependents(&[
                (login, "login profile"),
                (!mfa.is_empty(), "MFA devices"),
                (!keys.is_empty(), "access keys"),
                (!groups.is_empty(), "group memberships"),
                (!attached.is_empty(), "attached policies"),
                (!inline.is_empty(), "inline policies"),
            ])?;
        }
        for k in &keys {
            tx.delete_access_key(&k.access_key_id)?;
        }
        for g in &groups {
            tx.remove_member(&g.group_id, &row.user_id)?;
        }
        for a in &attached {
            tx.detach(EntityKind::User, &row.user_id, a)?;
        }
        for p in &inline {
            tx.delete_inline(EntityKind::User, &row.user_id, &p.name.to_ascii_lowercase())?;
        }
        tx.delete_login_profile(&row.user_id)?;
        for d in &mfa {
            // A forced delete removes the user's virtual devices with it.
            tx.delete_mfa_device(&d.serial_number)?;
        }
        tx.clear_password_history(&row.user_id)?;
        tx.clear_lockout(&row.account_id, &row.name.to_ascii_lowercase())?;
        self.revoke_sessions_of(&tx, "principal", &row.user_id)?;
        tx.delete_user(&row.user_id)?;
        self.commit(tx)
    }

    /// TagUser.
    pub fn tag_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
        tags: &[Tag],
    ) -> Result<()> {
        let n = name(NameKind::User, user_name)?;
        validate_tag_set(tags)?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize_with(
            &tx,
            caller,
            "iam:TagUser",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
            &request_tag_keys(tags),
        )?;
        let row = found.ok_or_else(|| no_such("user", n.as_str()))?;
        check_tag_limit(&tx.tags(EntityKind::User, &row.user_id)?, tags)?;
        tx.put_tags(EntityKind::User, &row.user_id, &tag_rows(tags))?;
        self.commit(tx)
    }

    /// UntagUser. Keys that are not present are ignored, as in AWS.
    pub fn untag_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
        keys: &[String],
    ) -> Result<()> {
        let n = name(NameKind::User, user_name)?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize_with(
            &tx,
            caller,
            "iam:UntagUser",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
            &[(
                "aws:TagKeys".to_owned(),
                ContextValue::StringList(keys.to_vec()),
            )],
        )?;
        let row = found.ok_or_else(|| no_such("user", n.as_str()))?;
        let canon: Vec<String> = keys.iter().map(|k| k.to_lowercase()).collect();
        tx.remove_tags(EntityKind::User, &row.user_id, &canon)?;
        self.commit(tx)
    }

    /// ListUserTags.
    pub fn list_user_tags(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
    ) -> Result<Vec<Tag>> {
        let n = name(NameKind::User, user_name)?;
        let tx = self.store().read()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:ListUserTags",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("user", n.as_str()))?;
        Ok(tx
            .tags(EntityKind::User, &row.user_id)?
            .into_iter()
            .map(|t| Tag {
                key: t.key,
                value: t.value,
            })
            .collect())
    }
}
