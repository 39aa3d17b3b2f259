//! Groups: create, get, list, delete, membership.

use super::page::{Page, PageRequest};
use super::users::{arn_for as user_arn_for, to_user};
use super::{
    Caller, Group, GroupWithUsers, RequestContext, Vault, name, no_such, refuse_dependents,
    require_account,
};
use crate::crypto::generate_unique_id;
use crate::error::{Error, Result};
use crate::model::{AccountId, Arn, EntityName, IdPrefix, NameKind, PolicyPath, ResourceType};
use crate::store::{EntityKind, GroupRow};

pub(super) fn group_arn(row: &GroupRow) -> String {
    format!(
        "arn:aws:iam::{}:group{}{}",
        row.account_id, row.path, row.name
    )
}

pub(super) fn arn_for(account: &AccountId, found: Option<&GroupRow>, n: &EntityName) -> String {
    match found {
        Some(g) => group_arn(g),
        None => Arn::iam(account, ResourceType::Group, &PolicyPath::root(), n).to_string(),
    }
}

pub(super) fn to_group(row: GroupRow) -> Group {
    Group {
        arn: group_arn(&row),
        path: row.path,
        group_name: row.name,
        group_id: row.group_id,
        create_date: row.created_at,
    }
}

impl Vault {
    /// CreateGroup.
    pub fn create_group(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        group_name: &str,
        path: Option<&str>,
    ) -> Result<Group> {
        let n = name(NameKind::Group, group_name)?;
        let path = path
            .map(PolicyPath::parse)
            .transpose()?
            .unwrap_or_else(PolicyPath::root);
        let arn = Arn::iam(&caller.account, ResourceType::Group, &path, &n).to_string();
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:CreateGroup", &arn, ctx)?;
        require_account(&tx, &caller.account)?;
        if tx.group(caller.account.as_str(), n.canonical())?.is_some() {
            return Err(Error::EntityAlreadyExists(format!(
                "Group with name {n} already exists."
            )));
        }
        let row = GroupRow {
            group_id: generate_unique_id(self.env.rng.as_ref(), IdPrefix::Group)?.to_string(),
            account_id: caller.account.to_string(),
            name: n.as_str().to_owned(),
            path: path.to_string(),
            created_at: self.now(),
        };
        tx.insert_group(&row, n.canonical())?;
        self.commit(tx)?;
        Ok(to_group(row))
    }

    /// GetGroup: the group and its members.
    pub fn get_group(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        group_name: &str,
    ) -> Result<GroupWithUsers> {
        let n = name(NameKind::Group, group_name)?;
        let tx = self.store().read()?;
        let found = tx.group(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:GetGroup",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("group", n.as_str()))?;
        let users = tx
            .group_members(&row.group_id)?
            .into_iter()
            .map(|u| to_user(u, Vec::new()))
            .collect();
        Ok(GroupWithUsers {
            group: to_group(row),
            users,
        })
    }

    /// ListGroups.
    pub fn list_groups(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        path_prefix: Option<&str>,
    ) -> Result<Vec<Group>> {
        Ok(self
            .list_groups_page(caller, ctx, path_prefix, &PageRequest::first(usize::MAX))?
            .items)
    }

    /// One page of ListGroups, read from the store by keyset (see
    /// [`list_users_page`](Self::list_users_page)).
    pub fn list_groups_page(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        path_prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Group>> {
        let (tx, prefix) =
            self.authorized_listing(caller, ctx, path_prefix, "iam:ListGroups", "group")?;
        let rows = tx.groups_page(caller.account.as_str(), &prefix, page.from(), page.fetch())?;
        Ok(Page::cut(
            rows,
            page,
            |g| g.name.to_ascii_lowercase(),
            to_group,
        ))
    }

    /// DeleteGroup. Members and policies block it unless `force`.
    pub fn delete_group(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        group_name: &str,
        force: bool,
    ) -> Result<()> {
        let n = name(NameKind::Group, group_name)?;
        let tx = self.store().write()?;
        let found = tx.group(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:DeleteGroup",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("group", n.as_str()))?;
        let members = tx.group_members(&row.group_id)?;
        let attached = tx.attached(EntityKind::Group, &row.group_id)?;
        let inline = tx.inline_policies(EntityKind::Group, &row.group_id)?;
        if !force {
            refuse_dependents(&[
                (!members.is_empty(), "users"),
                (!attached.is_empty(), "attached policies"),
                (!inline.is_empty(), "inline policies"),
            ])?;
        }
        for u in &members {
            tx.remove_member(&row.group_id, &u.user_id)?;
        }
        for a in &attached {
            tx.detach(EntityKind::Group, &row.group_id, a)?;
        }
        for p in &inline {
            tx.delete_inline(
                EntityKind::Group,
                &row.group_id,
                &p.name.to_ascii_lowercase(),
            )?;
        }
        tx.delete_group(&row.group_id)?;
        self.commit(tx)
    }

    /// AddUserToGroup. Adding a member twice is not an error, as in AWS.
    pub fn add_user_to_group(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        group_name: &str,
        user_name: &str,
    ) -> Result<()> {
        self.membership(caller, ctx, group_name, user_name, true)
    }

    /// RemoveUserFromGroup.
    pub fn remove_user_from_group(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        group_name: &str,
        user_name: &str,
    ) -> Result<()> {
        self.membership(caller, ctx, group_name, user_name, false)
    }

    fn membership(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        group_name: &str,
        user_name: &str,
        add: bool,
    ) -> Result<()> {
        let gn = name(NameKind::Group, group_name)?;
        let un = name(NameKind::User, user_name)?;
        let tx = self.store().write()?;
        let group = tx.group(caller.account.as_str(), gn.canonical())?;
        let action = if add {
            "iam:AddUserToGroup"
        } else {
            "iam:RemoveUserFromGroup"
        };
        self.authorize(
            &tx,
            caller,
            action,
            &arn_for(&caller.account, group.as_ref(), &gn),
            ctx,
        )?;
        let group = group.ok_or_else(|| no_such("group", gn.as_str()))?;
        let user = tx
            .user(caller.account.as_str(), un.canonical())?
            .ok_or_else(|| no_such("user", un.as_str()))?;
        if add {
            tx.add_member(&group.group_id, &user.user_id)?;
        } else if !tx.remove_member(&group.group_id, &user.user_id)? {
            return Err(Error::NoSuchEntity(format!(
                "User {} is not a member of group {}.",
                user.name, group.name
            )));
        }
        self.commit(tx)
    }

    /// ListGroupsForUser.
    pub fn list_groups_for_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: &str,
    ) -> Result<Vec<Group>> {
        let un = name(NameKind::User, user_name)?;
        let tx = self.store().read()?;
        let found = tx.user(caller.account.as_str(), un.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:ListGroupsForUser",
            &user_arn_for(&caller.account, found.as_ref(), &un),
            ctx,
        )?;
        let user = found.ok_or_else(|| no_such("user", un.as_str()))?;
        Ok(tx
            .groups_for_user(&user.user_id)?
            .into_iter()
            .map(to_group)
            .collect())
    }
}
