//! Roles: create with a trust policy, get, list, update, delete, tag.

use super::authz::request_tag_keys;
use super::page::{Page, PageRequest};
use super::policies::{DocumentKind, check_document};
use super::users::{check_tag_limit, tag_rows};
use super::{
    Caller, PermissionsBoundary, RequestContext, Role, Vault, name, no_such, refuse_dependents,
    require_account,
};
use crate::crypto::generate_unique_id;
use crate::error::{Error, Result};
use crate::model::{
    AccountId, Arn, EntityName, IdPrefix, NameKind, PolicyPath, ResourceType, Tag, validate_tag_set,
};
use crate::policy::ContextValue;
use crate::store::{EntityKind, RoleRow, TagRow};

/// Allowed range for `MaxSessionDuration`, seconds.
pub const MAX_SESSION_RANGE: std::ops::RangeInclusive<i64> = 3600..=43200;

pub(super) fn role_arn(row: &RoleRow) -> String {
    format!(
        "arn:aws:iam::{}:role{}{}",
        row.account_id, row.path, row.name
    )
}

pub(super) fn arn_for(account: &AccountId, found: Option<&RoleRow>, n: &EntityName) -> String {
    match found {
        Some(r) => role_arn(r),
        None => Arn::iam(account, ResourceType::Role, &PolicyPath::root(), n).to_string(),
    }
}

pub(super) fn to_role(row: RoleRow, tags: Vec<TagRow>) -> Role {
    Role {
        arn: role_arn(&row),
        path: row.path,
        role_name: row.name,
        role_id: row.role_id,
        create_date: row.created_at,
        assume_role_policy_document: row.trust_policy,
        description: row.description,
        max_session_duration: row.max_session_duration,
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

fn check_max_session(secs: i64) -> Result<()> {
    if MAX_SESSION_RANGE.contains(&secs) {
        Ok(())
    } else {
        Err(Error::Validation(format!(
            "1 validation error detected: value `{secs}` at `maxSessionDuration` failed to satisfy constraint: member must have value between 3600 and 43200"
        )))
    }
}

fn check_description(d: &str) -> Result<()> {
    if d.chars().count() > 1000 {
        return Err(Error::Validation(
            "1 validation error detected: value at `description` failed to satisfy constraint: member must have length less than or equal to 1000".into(),
        ));
    }
    Ok(())
}

/// The parameters of CreateRole.
#[derive(Debug, Clone, Default)]
pub struct NewRole<'a> {
    /// Role name.
    pub name: &'a str,
    /// Path, default `/`.
    pub path: Option<&'a str>,
    /// Trust policy document.
    pub trust_policy: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Maximum session duration, default 3600.
    pub max_session_duration: Option<i64>,
    /// Permissions boundary ARN.
    pub boundary: Option<&'a str>,
    /// Tags.
    pub tags: &'a [Tag],
}

impl Vault {
    /// CreateRole.
    pub fn create_role(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: &NewRole<'_>,
    ) -> Result<Role> {
        let n = name(NameKind::Role, req.name)?;
        let path = req
            .path
            .map(PolicyPath::parse)
            .transpose()?
            .unwrap_or_else(PolicyPath::root);
        let arn = Arn::iam(&caller.account, ResourceType::Role, &path, &n).to_string();
        let tx = self.store().write()?;
        let mut keys = request_tag_keys(req.tags);
        if let Some(b) = req.boundary {
            keys.push((
                "iam:PermissionsBoundary".into(),
                ContextValue::String(b.to_owned()),
            ));
        }
        self.authorize_with(&tx, caller, "iam:CreateRole", &arn, ctx, &keys)?;
        if !req.tags.is_empty() {
            self.authorize_with(&tx, caller, "iam:TagRole", &arn, ctx, &keys)?;
        }
        let max = req.max_session_duration.unwrap_or(3600);
        check_max_session(max)?;
        let description = req.description.unwrap_or("");
        check_description(description)?;
        check_document(req.trust_policy, DocumentKind::Trust)?;
        validate_tag_set(req.tags)?;
        require_account(&tx, &caller.account)?;
        let boundary = req
            .boundary
            .map(|b| self.check_boundary_arn(&tx, caller, b))
            .transpose()?;
        if tx.role(caller.account.as_str(), n.canonical())?.is_some() {
            return Err(Error::EntityAlreadyExists(format!(
                "Role with name {n} already exists."
            )));
        }
        let row = RoleRow {
            role_id: generate_unique_id(self.env.rng.as_ref(), IdPrefix::Role)?.to_string(),
            account_id: caller.account.to_string(),
            name: n.as_str().to_owned(),
            path: path.to_string(),
            trust_policy: req.trust_policy.to_owned(),
            description: description.to_owned(),
            max_session_duration: max,
            boundary_arn: boundary,
            created_at: self.now(),
        };
        tx.insert_role(&row, n.canonical())?;
        tx.put_tags(EntityKind::Role, &row.role_id, &tag_rows(req.tags))?;
        let tags = tx.tags(EntityKind::Role, &row.role_id)?;
        self.commit(tx)?;
        Ok(to_role(row, tags))
    }

    /// GetRole.
    pub fn get_role(&self, caller: &Caller, ctx: &RequestContext, role_name: &str) -> Result<Role> {
        let n = name(NameKind::Role, role_name)?;
        let tx = self.store().read()?;
        let found = tx.role(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:GetRole",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("role", n.as_str()))?;
        let tags = tx.tags(EntityKind::Role, &row.role_id)?;
        Ok(to_role(row, tags))
    }

    /// ListRoles.
    pub fn list_roles(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        path_prefix: Option<&str>,
    ) -> Result<Vec<Role>> {
        Ok(self
            .list_roles_page(caller, ctx, path_prefix, &PageRequest::first(usize::MAX))?
            .items)
    }

    /// One page of ListRoles, read from the store by keyset (see
    /// [`list_users_page`](Self::list_users_page)).
    pub fn list_roles_page(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        path_prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Role>> {
        let (tx, prefix) =
            self.authorized_listing(caller, ctx, path_prefix, "iam:ListRoles", "role")?;
        let rows = tx.roles_page(caller.account.as_str(), &prefix, page.from(), page.fetch())?;
        Ok(Page::cut(
            rows,
            page,
            |r| r.name.to_ascii_lowercase(),
            |r| to_role(r, Vec::new()),
        ))
    }

    /// UpdateRole: description and/or maximum session duration.
    pub fn update_role(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        role_name: &str,
        description: Option<&str>,
        max_session_duration: Option<i64>,
    ) -> Result<()> {
        let n = name(NameKind::Role, role_name)?;
        if let Some(m) = max_session_duration {
            check_max_session(m)?;
        }
        if let Some(d) = description {
            check_description(d)?;
        }
        let tx = self.store().write()?;
        let found = tx.role(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:UpdateRole",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("role", n.as_str()))?;
        tx.update_role(
            &row.role_id,
            description.unwrap_or(&row.description),
            max_session_duration.unwrap_or(row.max_session_duration),
        )?;
        self.commit(tx)
    }

    /// UpdateAssumeRolePolicy: replaces the trust policy.
    pub fn update_assume_role_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        role_name: &str,
        doc: &str,
    ) -> Result<()> {
        let n = name(NameKind::Role, role_name)?;
        let tx = self.store().write()?;
        let found = tx.role(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:UpdateAssumeRolePolicy",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("role", n.as_str()))?;
        check_document(doc, DocumentKind::Trust)?;
        tx.update_trust_policy(&row.role_id, doc)?;
        self.commit(tx)
    }

    /// DeleteRole. Instance profiles and policies block it unless `force`.
    pub fn delete_role(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        role_name: &str,
        force: bool,
    ) -> Result<()> {
        let n = name(NameKind::Role, role_name)?;
        let tx = self.store().write()?;
        let found = tx.role(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:DeleteRole",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("role", n.as_str()))?;
        let profiles = tx.instance_profiles_for_role(&row.role_id)?;
        let attached = tx.attached(EntityKind::Role, &row.role_id)?;
        let inline = tx.inline_policies(EntityKind::Role, &row.role_id)?;
        if !force {
            refuse_dependents(&[
                (!profiles.is_empty(), "instance profiles"),
                (!attached.is_empty(), "attached policies"),
                (!inline.is_empty(), "inline policies"),
            ])?;
        }
        for p in &profiles {
            tx.set_profile_role(&p.profile_id, None)?;
        }
        for a in &attached {
            tx.detach(EntityKind::Role, &row.role_id, a)?;
        }
        for p in &inline {
            tx.delete_inline(EntityKind::Role, &row.role_id, &p.name.to_ascii_lowercase())?;
        }
        self.revoke_sessions_of(&tx, "role", &role_arn(&row))?;
        tx.delete_role(&row.role_id)?;
        self.commit(tx)
    }

    /// TagRole.
    pub fn tag_role(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        role_name: &str,
        tags: &[Tag],
    ) -> Result<()> {
        let n = name(NameKind::Role, role_name)?;
        validate_tag_set(tags)?;
        let tx = self.store().write()?;
        let found = tx.role(caller.account.as_str(), n.canonical())?;
        self.authorize_with(
            &tx,
            caller,
            "iam:TagRole",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
            &request_tag_keys(tags),
        )?;
        let row = found.ok_or_else(|| no_such("role", n.as_str()))?;
        check_tag_limit(&tx.tags(EntityKind::Role, &row.role_id)?, tags)?;
        tx.put_tags(EntityKind::Role, &row.role_id, &tag_rows(tags))?;
        self.commit(tx)
    }

    /// UntagRole.
    pub fn untag_role(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        role_name: &str,
        keys: &[String],
    ) -> Result<()> {
        let n = name(NameKind::Role, role_name)?;
        let tx = self.store().write()?;
        let found = tx.role(caller.account.as_str(), n.canonical())?;
        self.authorize_with(
            &tx,
            caller,
            "iam:UntagRole",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
            &[(
                "aws:TagKeys".to_owned(),
                ContextValue::StringList(keys.to_vec()),
            )],
        )?;
        let row = found.ok_or_else(|| no_such("role", n.as_str()))?;
        let canon: Vec<String> = keys.iter().map(|k| k.to_lowercase()).collect();
        tx.remove_tags(EntityKind::Role, &row.role_id, &canon)?;
        self.commit(tx)
    }

    /// ListRoleTags.
    pub fn list_role_tags(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        role_name: &str,
    ) -> Result<Vec<Tag>> {
        let n = name(NameKind::Role, role_name)?;
        let tx = self.store().read()?;
        let found = tx.role(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:ListRoleTags",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("role", n.as_str()))?;
        Ok(tx
            .tags(EntityKind::Role, &row.role_id)?
            .into_iter()
            .map(|t| Tag {
                key: t.key,
                value: t.value,
            })
            .collect())
    }
}
