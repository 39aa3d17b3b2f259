//! Resource-based policies of the team's own resources, bucket-policy style: a policy on
//! `R` governs requests on `R` and on everything under `R/`. The account that puts a
//! policy owns the resource.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Caller, RequestContext, Vault};
use crate::error::{Error, Result};
use crate::model::Arn;
use crate::policy::{self, PolicyKind};

/// Largest resource policy, in bytes (S3's bucket-policy limit).
pub const MAX_RESOURCE_POLICY_BYTES: usize = 20_480;

/// A stored resource policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourcePolicy {
    /// The resource it is attached to.
    pub resource_arn: String,
    /// The owning account.
    pub account_id: String,
    /// The document, as put.
    pub policy: String,
    /// First put.
    #[serde(serialize_with = "super::types::ser_time_pub")]
    pub create_date: OffsetDateTime,
    /// Last put.
    #[serde(serialize_with = "super::types::ser_time_pub")]
    pub update_date: OffsetDateTime,
}

impl From<crate::store::ResourcePolicyRow> for ResourcePolicy {
    fn from(r: crate::store::ResourcePolicyRow) -> Self {
        Self {
            resource_arn: r.resource_arn,
            account_id: r.account_id,
            policy: r.document,
            create_date: r.created_at,
            update_date: r.updated_at,
        }
    }
}

/// Checks a resource ARN a policy may be attached to: a full ARN with no wildcard, not an
/// IAM or STS resource (those have trust policies), naming no other account.
pub fn check_resource_arn(caller: &Caller, resource_arn: &str) -> Result<Arn> {
    let arn = Arn::parse(resource_arn)?;
    if resource_arn.contains(['*', '?']) {
        return Err(Error::Validation(format!(
            "the resource arn `{resource_arn}` contains a wildcard; a resource policy is attached to one resource (it also covers everything under `ARN/`)"
        )));
    }
    if matches!(arn.service(), "iam" | "sts") {
        return Err(Error::InvalidInput(format!(
            "resource policies on {} resources are not supported; IAM roles use trust policies",
            arn.service()
        )));
    }
    if arn.resource().is_empty() || resource_arn.ends_with('/') {
        return Err(Error::Validation(format!(
            "the resource arn `{resource_arn}` must name a resource (and not end with `/`)"
        )));
    }
    if !arn.account().is_empty() && arn.account() != caller.account.as_str() {
        return Err(Error::AccessDenied(format!(
            "the resource {resource_arn} belongs to account {}, not {}",
            arn.account(),
            caller.account
        )));
    }
    Ok(arn)
}

/// The ARNs whose policies cover `resource`: itself and each prefix ending before a `/`
/// of its resource part, longest first.
pub(super) fn covering_arns(resource: &str) -> impl Iterator<Item = &str> {
    // The resource part starts after the fifth colon; prefixes stop there.
    let floor = resource
        .match_indices(':')
        .nth(4)
        .map_or(resource.len(), |(i, _)| i + 1);
    std::iter::once(resource).chain(
        resource
            .rmatch_indices('/')
            .filter(move |(i, _)| *i > floor)
            .filter_map(move |(i, _)| resource.get(..i)),
    )
}

impl Vault {
    /// Puts (creates or replaces) the policy of `resource_arn`. Needs
    /// `vault:PutResourcePolicy` on the resource.
    pub fn put_resource_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        resource_arn: &str,
        document: &str,
    ) -> Result<ResourcePolicy> {
        check_resource_arn(caller, resource_arn)?;
        policy::parse_with_limit(document, PolicyKind::Resource, MAX_RESOURCE_POLICY_BYTES)?;
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "vault:PutResourcePolicy", resource_arn, ctx)?;
        // One owner per resource tree: no other account may hold a policy above or
        // below this resource.
        let mut owners: Vec<String> = covering_arns(resource_arn)
            .map(|a| tx.resource_policy(a))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .map(|r| r.account_id)
            .collect();
        owners.extend(tx.resource_policy_owners_under(resource_arn)?);
        if let Some(other) = owners
            .iter()
            .find(|o| o.as_str() != caller.account.as_str())
        {
            return Err(Error::AccessDenied(format!(
                "the resource {resource_arn} is owned by account {other}: it or a resource above or below it has that account's policy"
            )));
        }
        tx.put_resource_policy(resource_arn, caller.account.as_str(), document, self.now())?;
        let row = tx
            .resource_policy(resource_arn)?
            .ok_or_else(|| Error::Internal("a resource policy vanished after its put".into()))?;
        self.commit(tx)?;
        Ok(row.into())
    }

    /// The policy attached to exactly `resource_arn`. Needs `vault:GetResourcePolicy`;
    /// only the owning account sees it.
    pub fn get_resource_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        resource_arn: &str,
    ) -> Result<ResourcePolicy> {
        check_resource_arn(caller, resource_arn)?;
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "vault:GetResourcePolicy", resource_arn, ctx)?;
        match tx.resource_policy(resource_arn)? {
            Some(r) if r.account_id == caller.account.as_str() => Ok(r.into()),
            _ => Err(no_policy(resource_arn)),
        }
    }

    /// Deletes the policy of `resource_arn`. Needs `vault:DeleteResourcePolicy`; only the
    /// owning account may.
    pub fn delete_resource_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        resource_arn: &str,
    ) -> Result<()> {
        check_resource_arn(caller, resource_arn)?;
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "vault:DeleteResourcePolicy", resource_arn, ctx)?;
        match tx.resource_policy(resource_arn)? {
            Some(r) if r.account_id == caller.account.as_str() => {
                tx.delete_resource_policy(resource_arn)?;
                self.commit(tx)
            }
            _ => Err(no_policy(resource_arn)),
        }
    }

    /// The caller's account's resource policies whose ARN starts with `prefix`. Needs
    /// `vault:ListResourcePolicies`.
    pub fn list_resource_policies(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        prefix: &str,
    ) -> Result<Vec<ResourcePolicy>> {
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "vault:ListResourcePolicies", "*", ctx)?;
        Ok(tx
            .resource_policies_of(caller.account.as_str(), prefix)?
            .into_iter()
            .map(ResourcePolicy::from)
            .collect())
    }
}

fn no_policy(resource_arn: &str) -> Error {
    Error::NoSuchEntity(format!(
        "The resource {resource_arn} has no resource policy."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_prefixes() {
        let v: Vec<&str> = covering_arns("arn:aws:s3:::reports/2026/q3.csv").collect();
        assert_eq!(
            v,
            [
                "arn:aws:s3:::reports/2026/q3.csv",
                "arn:aws:s3:::reports/2026",
                "arn:aws:s3:::reports"
            ]
        );
        let v: Vec<&str> = covering_arns("arn:aws:s3:::reports").collect();
        assert_eq!(v, ["arn:aws:s3:::reports"]);
        // A `/` inside the account-less prefix fields is not a boundary.
        let v: Vec<&str> = covering_arns("arn:aws:svc:r:123456789012:a/b").collect();
        assert_eq!(
            v,
            [
                "arn:aws:svc:r:123456789012:a/b",
                "arn:aws:svc:r:123456789012:a"
            ]
        );
        // A trailing slash does not make an empty-named parent.
        let v: Vec<&str> = covering_arns("arn:aws:s3:::b/").collect();
        assert_eq!(v, ["arn:aws:s3:::b/", "arn:aws:s3:::b"]);
    }
}
