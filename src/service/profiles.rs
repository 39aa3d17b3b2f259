//! Instance profiles: create, get, list, delete, and the one role they may hold.

use super::roles::{arn_for as role_arn_for, to_role};
use super::{Caller, InstanceProfile, RequestContext, Vault, name, no_such, require_account};
use crate::crypto::generate_unique_id;
use crate::error::{Error, Result};
use crate::model::{AccountId, Arn, EntityName, IdPrefix, NameKind, PolicyPath, ResourceType};
use crate::policy::ContextValue;
use crate::store::{InstanceProfileRow, ReadTx};

fn profile_arn(row: &InstanceProfileRow) -> String {
    format!(
        "arn:aws:iam::{}:instance-profile{}{}",
        row.account_id, row.path, row.name
    )
}

fn arn_for(account: &AccountId, found: Option<&InstanceProfileRow>, n: &EntityName) -> String {
    match found {
        Some(p) => profile_arn(p),
        None => Arn::iam(
            account,
            ResourceType::InstanceProfile,
            &PolicyPath::root(),
            n,
        )
        .to_string(),
    }
}

fn to_profile(tx: &ReadTx<'_>, row: InstanceProfileRow) -> Result<InstanceProfile> {
    let roles = match &row.role_id {
        Some(id) => tx
            .role_by_id(id)?
            .map(|r| to_role(r, Vec::new()))
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    Ok(InstanceProfile {
        arn: profile_arn(&row),
        path: row.path,
        instance_profile_name: row.name,
        instance_profile_id: row.profile_id,
        create_date: row.created_at,
        roles,
    })
}

impl Vault {
    /// CreateInstanceProfile.
    pub fn create_instance_profile(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        profile_name: &str,
        path: Option<&str>,
    ) -> Result<InstanceProfile> {
        let n = name(NameKind::InstanceProfile, profile_name)?;
        let path = path
            .map(PolicyPath::parse)
            .transpose()?
            .unwrap_or_else(PolicyPath::root);
        let arn = Arn::iam(&caller.account, ResourceType::InstanceProfile, &path, &n).to_string();
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:CreateInstanceProfile", &arn, ctx)?;
        require_account(&tx, &caller.account)?;
        if tx
            .instance_profile(caller.account.as_str(), n.canonical())?
            .is_some()
        {
            return Err(Error::EntityAlreadyExists(format!(
                "Instance Profile {n} already exists."
            )));
        }
        let row = InstanceProfileRow {
            profile_id: generate_unique_id(self.env.rng.as_ref(), IdPrefix::InstanceProfile)?
                .to_string(),
            account_id: caller.account.to_string(),
            name: n.as_str().to_owned(),
            path: path.to_string(),
            created_at: self.now(),
            role_id: None,
        };
        tx.insert_instance_profile(&row, n.canonical())?;
        let out = to_profile(&tx, row)?;
        self.commit(tx)?;
        Ok(out)
    }

    /// GetInstanceProfile.
    pub fn get_instance_profile(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        profile_name: &str,
    ) -> Result<InstanceProfile> {
        let n = name(NameKind::InstanceProfile, profile_name)?;
        let tx = self.store().read()?;
        let found = tx.instance_profile(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:GetInstanceProfile",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("instance profile", n.as_str()))?;
        to_profile(&tx, row)
    }

    /// ListInstanceProfiles.
    pub fn list_instance_profiles(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        path_prefix: Option<&str>,
    ) -> Result<Vec<InstanceProfile>> {
        let (tx, prefix) = self.authorized_listing(
            caller,
            ctx,
            path_prefix,
            "iam:ListInstanceProfiles",
            "instance-profile",
        )?;
        tx.instance_profiles(caller.account.as_str(), &prefix)?
            .into_iter()
            .map(|p| to_profile(&tx, p))
            .collect()
    }

    /// ListInstanceProfilesForRole.
    pub fn list_instance_profiles_for_role(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        role_name: &str,
    ) -> Result<Vec<InstanceProfile>> {
        let rn = name(NameKind::Role, role_name)?;
        let tx = self.store().read()?;
        let role = tx.role(caller.account.as_str(), rn.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:ListInstanceProfilesForRole",
            &role_arn_for(&caller.account, role.as_ref(), &rn),
            ctx,
        )?;
        let role = role.ok_or_else(|| no_such("role", rn.as_str()))?;
        tx.instance_profiles_for_role(&role.role_id)?
            .into_iter()
            .map(|p| to_profile(&tx, p))
            .collect()
    }

    /// DeleteInstanceProfile. A profile that holds a role fails with `DeleteConflict`
    /// unless `force`.
    pub fn delete_instance_profile(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        profile_name: &str,
        force: bool,
    ) -> Result<()> {
        let n = name(NameKind::InstanceProfile, profile_name)?;
        let tx = self.store().write()?;
        let found = tx.instance_profile(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:DeleteInstanceProfile",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("instance profile", n.as_str()))?;
        if !tx.instances_for_profile(&row.profile_id)?.is_empty() {
            return Err(Error::DeleteConflict(
                "Cannot delete an instance profile that registered instances use; deregister them first.".into(),
            ));
        }
        if row.role_id.is_some() {
            if !force {
                return Err(Error::DeleteConflict(
                    "Cannot delete entity, must remove roles from instance profile first.".into(),
                ));
            }
            tx.set_profile_role(&row.profile_id, None)?;
        }
        tx.delete_instance_profile(&row.profile_id)?;
        self.commit(tx)
    }

    /// AddRoleToInstanceProfile. A profile holds at most one role. Handing a role to a
    /// profile passes it to EC2-like workloads, so the caller also needs `iam:PassRole` on
    /// the role.
    pub fn add_role_to_instance_profile(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        profile_name: &str,
        role_name: &str,
    ) -> Result<()> {
        let n = name(NameKind::InstanceProfile, profile_name)?;
        let rn = name(NameKind::Role, role_name)?;
        let tx = self.store().write()?;
        let found = tx.instance_profile(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:AddRoleToInstanceProfile",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let role = tx.role(caller.account.as_str(), rn.canonical())?;
        self.authorize_with(
            &tx,
            caller,
            "iam:PassRole",
            &role_arn_for(&caller.account, role.as_ref(), &rn),
            ctx,
            &[(
                "iam:PassedToService".to_owned(),
                ContextValue::String("ec2.amazonaws.com".to_owned()),
            )],
        )?;
        let row = found.ok_or_else(|| no_such("instance profile", n.as_str()))?;
        let role = role.ok_or_else(|| no_such("role", rn.as_str()))?;
        if row.role_id.is_some() {
            return Err(Error::LimitExceeded(
                "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1".into(),
            ));
        }
        tx.set_profile_role(&row.profile_id, Some(&role.role_id))?;
        self.commit(tx)
    }

    /// RemoveRoleFromInstanceProfile.
    pub fn remove_role_from_instance_profile(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        profile_name: &str,
        role_name: &str,
    ) -> Result<()> {
        let n = name(NameKind::InstanceProfile, profile_name)?;
        let rn = name(NameKind::Role, role_name)?;
        let tx = self.store().write()?;
        let found = tx.instance_profile(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:RemoveRoleFromInstanceProfile",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let row = found.ok_or_else(|| no_such("instance profile", n.as_str()))?;
        let role = tx
            .role(caller.account.as_str(), rn.canonical())?
            .ok_or_else(|| no_such("role", rn.as_str()))?;
        if row.role_id.as_deref() != Some(role.role_id.as_str()) {
            return Err(Error::NoSuchEntity(format!(
                "The role {} is not in instance profile {}.",
                role.name, row.name
            )));
        }
        tx.set_profile_role(&row.profile_id, None)?;
        self.commit(tx)
    }
}
