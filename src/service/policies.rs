//! Managed policies and their versions, attachments, inline policies and permissions
//! boundaries.

use super::builtin::{BUILTIN_POLICIES, BuiltinPolicy, builtin_by_arn};
use super::{
    AttachedPolicy, Caller, InlinePolicy, Policy, PolicyVersion, RequestContext, Vault, name,
    no_such, require_account,
};
use crate::crypto::generate_unique_id;
use crate::error::{Error, Result};
use crate::model::{Arn, EntityName, IdPrefix, NameKind, PolicyPath};
use crate::policy::{self, ContextValue, PolicyKind};
use crate::store::{EntityKind, PolicyRow, PolicyVersionRow, ReadTx};

/// The kinds of policy document, each with its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A managed policy version (6,144 non-whitespace characters).
    Managed,
    /// An inline policy of a user, group or role (checked in aggregate per entity).
    Inline(EntityKind),
    /// A role trust policy (2,048).
    Trust,
}

/// The largest document accepted at all (AWS's `policyDocumentType` maximum); checked
/// before any parsing so that parsing is bounded.
pub const MAX_DOCUMENT_BYTES: usize = 131_072;
/// Managed policy size limit, non-whitespace characters.
pub const MANAGED_POLICY_LIMIT: usize = 6_144;
/// Trust policy size limit, non-whitespace characters.
pub const TRUST_POLICY_LIMIT: usize = 2_048;
/// Most managed policies attached to one entity.
pub const MAX_ATTACHED: usize = 10;
/// Most versions of one managed policy.
pub const MAX_VERSIONS: usize = 5;

/// Counts characters that are not whitespace, as AWS's size quotas do.
pub fn non_whitespace_len(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

fn inline_limit(kind: EntityKind) -> usize {
    match kind {
        EntityKind::User => 2_048,
        EntityKind::Group => 5_120,
        EntityKind::Role => 10_240,
    }
}

/// Validates a document for storage: first its size against the AWS quota for its kind
/// (`LimitExceeded`), then the full grammar for that kind through the policy engine
/// (`MalformedPolicyDocument`, with a message naming the offending element).
pub(super) fn check_document(doc: &str, kind: DocumentKind) -> Result<()> {
    if doc.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::MalformedPolicyDocument(format!(
            "the policy document exceeds the maximum of {MAX_DOCUMENT_BYTES} bytes"
        )));
    }
    let size = non_whitespace_len(doc);
    let over = match kind {
        DocumentKind::Managed if size > MANAGED_POLICY_LIMIT => Some(format!(
            "Cannot exceed quota for PolicySize: {MANAGED_POLICY_LIMIT}"
        )),
        DocumentKind::Trust if size > TRUST_POLICY_LIMIT => Some(format!(
            "Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_LIMIT}"
        )),
        DocumentKind::Inline(k) if size > inline_limit(k) => Some(format!(
            "Maximum policy size of {} bytes exceeded for {}",
            inline_limit(k),
            k_word(k).to_ascii_lowercase()
        )),
        _ => None,
    };
    if let Some(msg) = over {
        return Err(Error::LimitExceeded(msg));
    }
    let pkind = match kind {
        DocumentKind::Managed | DocumentKind::Inline(_) => PolicyKind::Identity,
        DocumentKind::Trust => PolicyKind::Trust,
    };
    policy::parse_with_limit(doc, pkind, MAX_DOCUMENT_BYTES)?;
    Ok(())
}

/// Which managed policies ListPolicies returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyScope {
    /// Vault-provided and customer policies.
    #[default]
    All,
    /// Vault-provided only (`AWS` in the API).
    Aws,
    /// Customer policies only (`Local`).
    Local,
}

impl PolicyScope {
    /// Parses `All`, `AWS` or `Local`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "All" => Ok(Self::All),
            "AWS" => Ok(Self::Aws),
            "Local" => Ok(Self::Local),
            _ => Err(Error::Validation(format!(
                "1 validation error detected: value `{}` at `scope` failed to satisfy constraint: member must satisfy enum value set: [All, AWS, Local]",
                s.escape_default()
            ))),
        }
    }
}

fn k_word(k: EntityKind) -> &'static str {
    match k {
        EntityKind::User => "User",
        EntityKind::Group => "Group",
        EntityKind::Role => "Role",
    }
}

fn name_kind(k: EntityKind) -> NameKind {
    match k {
        EntityKind::User => NameKind::User,
        EntityKind::Group => NameKind::Group,
        EntityKind::Role => NameKind::Role,
    }
}

/// A user, group or role resolved by name.
struct Target {
    id: String,
    name: String,
}

/// Looks up a user, group or role; returns the ARN to authorize against either way.
fn lookup(
    tx: &ReadTx<'_>,
    caller: &Caller,
    kind: EntityKind,
    n: &EntityName,
) -> Result<(String, Option<Target>)> {
    let acct = &caller.account;
    Ok(match kind {
        EntityKind::User => {
            let f = tx.user(acct.as_str(), n.canonical())?;
            let arn = super::users::arn_for(acct, f.as_ref(), n);
            let t = f.map(|u| Target {
                id: u.user_id,
                name: u.name,
            });
            (arn, t)
        }
        EntityKind::Group => {
            let f = tx.group(acct.as_str(), n.canonical())?;
            let arn = super::groups::arn_for(acct, f.as_ref(), n);
            let t = f.map(|g| Target {
                id: g.group_id,
                name: g.name,
            });
            (arn, t)
        }
        EntityKind::Role => {
            let f = tx.role(acct.as_str(), n.canonical())?;
            let arn = super::roles::arn_for(acct, f.as_ref(), n);
            let t = f.map(|r| Target {
                id: r.role_id,
                name: r.name,
            });
            (arn, t)
        }
    })
}

fn version_id(v: i64) -> String {
    format!("v{v}")
}

fn parse_version_id(s: &str) -> Result<i64> {
    s.strip_prefix('v')
        .filter(|d| !d.is_empty() && d.len() <= 9 && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| {
            Error::Validation(format!(
                "1 validation error detected: value `{}` at `versionId` failed to satisfy constraint: member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
                s.escape_default()
            ))
        })
}

fn builtin_policy(p: &BuiltinPolicy, attachments: i64, boundary_uses: i64) -> Policy {
    let epoch = time::macros::datetime!(2015-02-06 18:39:46 UTC);
    Policy {
        policy_name: p.name.into(),
        policy_id: p.id.into(),
        arn: p.arn(),
        path: p.path.into(),
        default_version_id: "v1".into(),
        attachment_count: attachments,
        permissions_boundary_usage_count: boundary_uses,
        is_attachable: true,
        description: p.description.into(),
        create_date: epoch,
        update_date: epoch,
    }
}

fn customer_policy(tx: &ReadTx<'_>, row: PolicyRow) -> Result<Policy> {
    Ok(Policy {
        attachment_count: tx.attachment_count(&row.arn)?,
        permissions_boundary_usage_count: tx.boundary_usage_count(&row.arn)?,
        policy_name: row.name,
        policy_id: row.policy_id,
        arn: row.arn,
        path: row.path,
        default_version_id: version_id(row.default_version),
        is_attachable: true,
        description: row.description,
        create_date: row.created_at,
        update_date: row.updated_at,
    })
}

/// A managed policy found by ARN: vault-provided or the caller's own.
enum Managed {
    Builtin(&'static BuiltinPolicy),
    Customer(PolicyRow),
}

fn find_managed(tx: &ReadTx<'_>, caller: &Caller, arn: &str) -> Result<Option<Managed>> {
    Arn::parse(arn)
        .map_err(|_| Error::InvalidInput(format!("ARN {} is not valid.", arn.escape_default())))?;
    if let Some(b) = builtin_by_arn(arn) {
        return Ok(Some(Managed::Builtin(b)));
    }
    Ok(tx
        .policy_by_arn(arn)?
        .filter(|p| p.account_id == caller.account.as_str())
        .map(Managed::Customer))
}

fn not_found_policy(arn: &str) -> Error {
    Error::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

impl Vault {
    /// Resolves a permissions boundary ARN to an existing managed policy.
    pub(super) fn check_boundary_arn(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
        arn: &str,
    ) -> Result<String> {
        match find_managed(tx, caller, arn)? {
            Some(_) => Ok(arn.to_owned()),
            None => Err(not_found_policy(arn)),
        }
    }

    // ---- managed policies ----

    /// CreatePolicy.
    pub fn create_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        policy_name: &str,
        path: Option<&str>,
        document: &str,
        description: Option<&str>,
    ) -> Result<Policy> {
        let n = name(NameKind::Policy, policy_name)?;
        let path = path
            .map(PolicyPath::parse)
            .transpose()?
            .unwrap_or_else(PolicyPath::root);
        let arn = format!("arn:aws:iam::{}:policy{}{}", caller.account, path, n);
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:CreatePolicy", &arn, ctx)?;
        let description = description.unwrap_or("");
        if description.chars().count() > 1000 {
            return Err(Error::Validation(
                "1 validation error detected: value at `description` failed to satisfy constraint: member must have length less than or equal to 1000".into(),
            ));
        }
        check_document(document, DocumentKind::Managed)?;
        require_account(&tx, &caller.account)?;
        if tx
            .policy_by_name(caller.account.as_str(), n.canonical())?
            .is_some()
        {
            return Err(Error::EntityAlreadyExists(format!(
                "A policy called {n} already exists. Duplicate names are not allowed."
            )));
        }
        let now = self.now();
        let row = PolicyRow {
            policy_id: generate_unique_id(self.env.rng.as_ref(), IdPrefix::Policy)?.to_string(),
            account_id: caller.account.to_string(),
            name: n.as_str().to_owned(),
            path: path.to_string(),
            arn,
            description: description.to_owned(),
            default_version: 1,
            next_version: 2,
            created_at: now,
            updated_at: now,
        };
        let v1 = PolicyVersionRow {
            version: 1,
            document: document.to_owned(),
            created_at: now,
        };
        tx.insert_policy(&row, n.canonical(), &v1)?;
        let out = customer_policy(&tx, row)?;
        self.commit(tx)?;
        Ok(out)
    }

    /// GetPolicy.
    pub fn get_policy(&self, caller: &Caller, ctx: &RequestContext, arn: &str) -> Result<Policy> {
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "iam:GetPolicy", arn, ctx)?;
        match find_managed(&tx, caller, arn)?.ok_or_else(|| not_found_policy(arn))? {
            Managed::Builtin(b) => Ok(builtin_policy(
                b,
                tx.attachment_count(arn)?,
                tx.boundary_usage_count(arn)?,
            )),
            Managed::Customer(row) => customer_policy(&tx, row),
        }
    }

    /// ListPolicies.
    pub fn list_policies(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        scope: PolicyScope,
        only_attached: bool,
        path_prefix: Option<&str>,
    ) -> Result<Vec<Policy>> {
        let prefix = path_prefix
            .map(PolicyPath::parse_prefix)
            .transpose()?
            .unwrap_or_else(|| "/".into());
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "iam:ListPolicies", "*", ctx)?;
        let mut out = Vec::new();
        if scope != PolicyScope::Local {
            for b in BUILTIN_POLICIES
                .iter()
                .filter(|b| b.path.starts_with(&prefix))
            {
                out.push(builtin_policy(
                    b,
                    tx.attachment_count(&b.arn())?,
                    tx.boundary_usage_count(&b.arn())?,
                ));
            }
        }
        if scope != PolicyScope::Aws {
            for row in tx.policies(caller.account.as_str(), &prefix)? {
                out.push(customer_policy(&tx, row)?);
            }
        }
        if only_attached {
            out.retain(|p| p.attachment_count > 0);
        }
        Ok(out)
    }

    /// DeletePolicy. Attachments and non-default versions block it unless `force`. A policy
    /// used as a permissions boundary is never deleted, even with `force`: removing a
    /// boundary widens permissions, so that must be a deliberate, separate step.
    pub fn delete_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        arn: &str,
        force: bool,
    ) -> Result<()> {
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:DeletePolicy", arn, ctx)?;
        let row = match find_managed(&tx, caller, arn)?.ok_or_else(|| not_found_policy(arn))? {
            Managed::Builtin(_) => {
                return Err(Error::InvalidInput(format!(
                    "Policy {arn} is provided by the vault and cannot be deleted."
                )));
            }
            Managed::Customer(row) => row,
        };
        if tx.boundary_usage_count(arn)? > 0 {
            return Err(Error::DeleteConflict(
                "Cannot delete a policy used as a permissions boundary; delete the boundaries first.".into(),
            ));
        }
        let attached = tx.attachment_count(arn)?;
        let versions = tx.policy_versions(&row.policy_id)?.len();
        if !force && attached > 0 {
            return Err(Error::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        if !force && versions > 1 {
            return Err(Error::DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
            ));
        }
        tx.detach_everywhere(arn)?;
        tx.delete_policy(&row.policy_id)?;
        self.commit(tx)
    }

    fn customer_for_change(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
        arn: &str,
    ) -> Result<PolicyRow> {
        match find_managed(tx, caller, arn)?.ok_or_else(|| not_found_policy(arn))? {
            Managed::Builtin(_) => Err(Error::InvalidInput(format!(
                "Policy {arn} is provided by the vault and cannot be changed."
            ))),
            Managed::Customer(row) => Ok(row),
        }
    }

    /// CreatePolicyVersion. At most five versions; `set_as_default` makes it the default.
    pub fn create_policy_version(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<PolicyVersion> {
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:CreatePolicyVersion", arn, ctx)?;
        check_document(document, DocumentKind::Managed)?;
        let row = self.customer_for_change(&tx, caller, arn)?;
        if tx.policy_versions(&row.policy_id)?.len() >= MAX_VERSIONS {
            return Err(Error::LimitExceeded(format!(
                "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."
            )));
        }
        let now = self.now();
        let v = PolicyVersionRow {
            version: row.next_version,
            document: document.to_owned(),
            created_at: now,
        };
        tx.insert_policy_version(&row.policy_id, &v)?;
        let default = if set_as_default {
            v.version
        } else {
            row.default_version
        };
        tx.update_policy_versions(&row.policy_id, default, row.next_version + 1, now)?;
        self.commit(tx)?;
        Ok(PolicyVersion {
            document: None,
            version_id: version_id(v.version),
            is_default_version: set_as_default,
            create_date: now,
        })
    }

    /// GetPolicyVersion.
    pub fn get_policy_version(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        arn: &str,
        version: &str,
    ) -> Result<PolicyVersion> {
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "iam:GetPolicyVersion", arn, ctx)?;
        let v = parse_version_id(version)?;
        match find_managed(&tx, caller, arn)?.ok_or_else(|| not_found_policy(arn))? {
            Managed::Builtin(b) if v == 1 => Ok(PolicyVersion {
                document: Some(b.document.into()),
                version_id: "v1".into(),
                is_default_version: true,
                create_date: time::macros::datetime!(2015-02-06 18:39:46 UTC),
            }),
            Managed::Builtin(_) => Err(Error::NoSuchEntity(format!(
                "Policy {arn} version {version} does not exist."
            ))),
            Managed::Customer(row) => {
                let pv = tx.policy_version(&row.policy_id, v)?.ok_or_else(|| {
                    Error::NoSuchEntity(format!("Policy {arn} version {version} does not exist."))
                })?;
                Ok(PolicyVersion {
                    document: Some(pv.document),
                    version_id: version_id(pv.version),
                    is_default_version: pv.version == row.default_version,
                    create_date: pv.created_at,
                })
            }
        }
    }

    /// ListPolicyVersions, newest first.
    pub fn list_policy_versions(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        arn: &str,
    ) -> Result<Vec<PolicyVersion>> {
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "iam:ListPolicyVersions", arn, ctx)?;
        match find_managed(&tx, caller, arn)?.ok_or_else(|| not_found_policy(arn))? {
            Managed::Builtin(_) => Ok(vec![PolicyVersion {
                document: None,
                version_id: "v1".into(),
                is_default_version: true,
                create_date: time::macros::datetime!(2015-02-06 18:39:46 UTC),
            }]),
            Managed::Customer(row) => Ok(tx
                .policy_versions(&row.policy_id)?
                .into_iter()
                .map(|pv| PolicyVersion {
                    document: None,
                    version_id: version_id(pv.version),
                    is_default_version: pv.version == row.default_version,
                    create_date: pv.created_at,
                })
                .collect()),
        }
    }

    /// DeletePolicyVersion. The default version cannot be deleted.
    pub fn delete_policy_version(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        arn: &str,
        version: &str,
    ) -> Result<()> {
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:DeletePolicyVersion", arn, ctx)?;
        let v = parse_version_id(version)?;
        let row = self.customer_for_change(&tx, caller, arn)?;
        if tx.policy_version(&row.policy_id, v)?.is_none() {
            return Err(Error::NoSuchEntity(format!(
                "Policy {arn} version {version} does not exist."
            )));
        }
        if v == row.default_version {
            return Err(Error::DeleteConflict(
                "Cannot delete the default version of a policy.".into(),
            ));
        }
        tx.delete_policy_version(&row.policy_id, v)?;
        self.commit(tx)
    }

    /// SetDefaultPolicyVersion.
    pub fn set_default_policy_version(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        arn: &str,
        version: &str,
    ) -> Result<()> {
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:SetDefaultPolicyVersion", arn, ctx)?;
        let v = parse_version_id(version)?;
        let row = self.customer_for_change(&tx, caller, arn)?;
        if tx.policy_version(&row.policy_id, v)?.is_none() {
            return Err(Error::NoSuchEntity(format!(
                "Policy {arn} version {version} does not exist."
            )));
        }
        tx.update_policy_versions(&row.policy_id, v, row.next_version, self.now())?;
        self.commit(tx)
    }

    /// The default document of a managed policy (vault-provided or customer).
    pub fn managed_policy_document(&self, caller: &Caller, arn: &str) -> Result<String> {
        let tx = self.store().read()?;
        match find_managed(&tx, caller, arn)?.ok_or_else(|| not_found_policy(arn))? {
            Managed::Builtin(b) => Ok(b.document.to_owned()),
            Managed::Customer(row) => Ok(tx
                .policy_version(&row.policy_id, row.default_version)?
                .ok_or_else(|| Error::Internal(format!("policy {arn} has no default version")))?
                .document),
        }
    }

    // ---- attachments ----

    /// Attach{User,Group,Role}Policy. At most ten per entity.
    pub fn attach_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        kind: EntityKind,
        entity: &str,
        arn: &str,
    ) -> Result<()> {
        let n = name(name_kind(kind), entity)?;
        let tx = self.store().write()?;
        let (target_arn, target) = lookup(&tx, caller, kind, &n)?;
        self.authorize_with(
            &tx,
            caller,
            &format!("iam:Attach{}Policy", k_word(kind)),
            &target_arn,
            ctx,
            &[(
                "iam:PolicyARN".to_owned(),
                ContextValue::String(arn.to_owned()),
            )],
        )?;
        let target =
            target.ok_or_else(|| no_such(&k_word(kind).to_ascii_lowercase(), n.as_str()))?;
        if find_managed(&tx, caller, arn)?.is_none() {
            return Err(not_found_policy(arn));
        }
        let current = tx.attached(kind, &target.id)?;
        if !current.iter().any(|a| a == arn) && current.len() >= MAX_ATTACHED {
            return Err(Error::LimitExceeded(format!(
                "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED}",
                k_word(kind)
            )));
        }
        tx.attach(kind, &target.id, arn)?;
        self.commit(tx)
    }

    /// Detach{User,Group,Role}Policy.
    pub fn detach_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        kind: EntityKind,
        entity: &str,
        arn: &str,
    ) -> Result<()> {
        let n = name(name_kind(kind), entity)?;
        let tx = self.store().write()?;
        let (target_arn, target) = lookup(&tx, caller, kind, &n)?;
        self.authorize_with(
            &tx,
            caller,
            &format!("iam:Detach{}Policy", k_word(kind)),
            &target_arn,
            ctx,
            &[(
                "iam:PolicyARN".to_owned(),
                ContextValue::String(arn.to_owned()),
            )],
        )?;
        let target =
            target.ok_or_else(|| no_such(&k_word(kind).to_ascii_lowercase(), n.as_str()))?;
        if !tx.detach(kind, &target.id, arn)? {
            return Err(Error::NoSuchEntity(format!("Policy {arn} was not found.")));
        }
        self.commit(tx)
    }

    /// ListAttached{User,Group,Role}Policies.
    pub fn list_attached_policies(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        kind: EntityKind,
        entity: &str,
    ) -> Result<Vec<AttachedPolicy>> {
        let n = name(name_kind(kind), entity)?;
        let tx = self.store().read()?;
        let (target_arn, target) = lookup(&tx, caller, kind, &n)?;
        self.authorize(
            &tx,
            caller,
            &format!("iam:ListAttached{}Policies", k_word(kind)),
            &target_arn,
            ctx,
        )?;
        let target =
            target.ok_or_else(|| no_such(&k_word(kind).to_ascii_lowercase(), n.as_str()))?;
        Ok(tx
            .attached(kind, &target.id)?
            .into_iter()
            .map(|arn| AttachedPolicy {
                policy_name: arn.rsplit('/').next().unwrap_or_default().to_owned(),
                policy_arn: arn,
            })
            .collect())
    }

    // ---- inline policies ----

    /// Put{User,Group,Role}Policy: creates or replaces an inline policy. The aggregate size
    /// of an entity's inline policies is limited (user 2,048, group 5,120, role 10,240).
    pub fn put_inline_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        kind: EntityKind,
        entity: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()> {
        let n = name(name_kind(kind), entity)?;
        let pn = name(NameKind::Policy, policy_name)?;
        let tx = self.store().write()?;
        let (target_arn, target) = lookup(&tx, caller, kind, &n)?;
        self.authorize(
            &tx,
            caller,
            &format!("iam:Put{}Policy", k_word(kind)),
            &target_arn,
            ctx,
        )?;
        check_document(document, DocumentKind::Inline(kind))?;
        let target =
            target.ok_or_else(|| no_such(&k_word(kind).to_ascii_lowercase(), n.as_str()))?;
        let others: usize = tx
            .inline_policies(kind, &target.id)?
            .iter()
            .filter(|p| !p.name.eq_ignore_ascii_case(pn.as_str()))
            .map(|p| non_whitespace_len(&p.document))
            .sum();
        if others + non_whitespace_len(document) > inline_limit(kind) {
            return Err(Error::LimitExceeded(format!(
                "Maximum policy size of {} bytes exceeded for {} {}",
                inline_limit(kind),
                k_word(kind).to_ascii_lowercase(),
                target.name
            )));
        }
        tx.put_inline(kind, &target.id, pn.as_str(), pn.canonical(), document)?;
        self.commit(tx)
    }

    /// Get{User,Group,Role}Policy.
    pub fn get_inline_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        kind: EntityKind,
        entity: &str,
        policy_name: &str,
    ) -> Result<InlinePolicy> {
        let n = name(name_kind(kind), entity)?;
        let pn = name(NameKind::Policy, policy_name)?;
        let tx = self.store().read()?;
        let (target_arn, target) = lookup(&tx, caller, kind, &n)?;
        self.authorize(
            &tx,
            caller,
            &format!("iam:Get{}Policy", k_word(kind)),
            &target_arn,
            ctx,
        )?;
        let target =
            target.ok_or_else(|| no_such(&k_word(kind).to_ascii_lowercase(), n.as_str()))?;
        let p = tx
            .inline_policies(kind, &target.id)?
            .into_iter()
            .find(|p| p.name.eq_ignore_ascii_case(pn.as_str()))
            .ok_or_else(|| {
                Error::NoSuchEntity(format!(
                    "The {} policy with name {pn} cannot be found.",
                    k_word(kind).to_ascii_lowercase()
                ))
            })?;
        Ok(InlinePolicy {
            owner_name: target.name,
            policy_name: p.name,
            policy_document: p.document,
        })
    }

    /// List{User,Group,Role}Policies: the inline policy names.
    pub fn list_inline_policies(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        kind: EntityKind,
        entity: &str,
    ) -> Result<Vec<String>> {
        let n = name(name_kind(kind), entity)?;
        let tx = self.store().read()?;
        let (target_arn, target) = lookup(&tx, caller, kind, &n)?;
        self.authorize(
            &tx,
            caller,
            &format!("iam:List{}Policies", k_word(kind)),
            &target_arn,
            ctx,
        )?;
        let target =
            target.ok_or_else(|| no_such(&k_word(kind).to_ascii_lowercase(), n.as_str()))?;
        Ok(tx
            .inline_policies(kind, &target.id)?
            .into_iter()
            .map(|p| p.name)
            .collect())
    }

    /// Delete{User,Group,Role}Policy.
    pub fn delete_inline_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        kind: EntityKind,
        entity: &str,
        policy_name: &str,
    ) -> Result<()> {
        let n = name(name_kind(kind), entity)?;
        let pn = name(NameKind::Policy, policy_name)?;
        let tx = self.store().write()?;
        let (target_arn, target) = lookup(&tx, caller, kind, &n)?;
        self.authorize(
            &tx,
            caller,
            &format!("iam:Delete{}Policy", k_word(kind)),
            &target_arn,
            ctx,
        )?;
        let target =
            target.ok_or_else(|| no_such(&k_word(kind).to_ascii_lowercase(), n.as_str()))?;
        if !tx.delete_inline(kind, &target.id, pn.canonical())? {
            return Err(Error::NoSuchEntity(format!(
                "The {} policy with name {pn} cannot be found.",
                k_word(kind).to_ascii_lowercase()
            )));
        }
        self.commit(tx)
    }

    // ---- permissions boundaries ----

    /// Put{User,Role}PermissionsBoundary.
    pub fn put_permissions_boundary(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        kind: EntityKind,
        entity: &str,
        arn: &str,
    ) -> Result<()> {
        if kind == EntityKind::Group {
            return Err(Error::InvalidInput(
                "groups cannot have a permissions boundary".into(),
            ));
        }
        let n = name(name_kind(kind), entity)?;
        let tx = self.store().write()?;
        let (target_arn, target) = lookup(&tx, caller, kind, &n)?;
        self.authorize_with(
            &tx,
            caller,
            &format!("iam:Put{}PermissionsBoundary", k_word(kind)),
            &target_arn,
            ctx,
            &[(
                "iam:PermissionsBoundary".to_owned(),
                ContextValue::String(arn.to_owned()),
            )],
        )?;
        let target =
            target.ok_or_else(|| no_such(&k_word(kind).to_ascii_lowercase(), n.as_str()))?;
        let arn = self.check_boundary_arn(&tx, caller, arn)?;
        tx.set_boundary(kind, &target.id, Some(&arn))?;
        self.commit(tx)
    }

    /// Delete{User,Role}PermissionsBoundary.
    pub fn delete_permissions_boundary(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        kind: EntityKind,
        entity: &str,
    ) -> Result<()> {
        if kind == EntityKind::Group {
            return Err(Error::InvalidInput(
                "groups cannot have a permissions boundary".into(),
            ));
        }
        let n = name(name_kind(kind), entity)?;
        let tx = self.store().write()?;
        let (target_arn, target) = lookup(&tx, caller, kind, &n)?;
        self.authorize(
            &tx,
            caller,
            &format!("iam:Delete{}PermissionsBoundary", k_word(kind)),
            &target_arn,
            ctx,
        )?;
        let target =
            target.ok_or_else(|| no_such(&k_word(kind).to_ascii_lowercase(), n.as_str()))?;
        tx.set_boundary(kind, &target.id, None)?;
        self.commit(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid identity policy padded to about `pad` non-whitespace characters.
    fn padded(pad: usize) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}]}}"#,
            "x".repeat(pad)
        )
    }

    fn code(doc: &str, kind: DocumentKind) -> &'static str {
        check_document(doc, kind).map_or_else(|e| e.code(), |()| "ok")
    }

    #[test]
    fn document_checks() {
        let m = DocumentKind::Managed;
        assert_eq!(code(&padded(10), m), "ok");
        for bad in [
            "{",
            "[]",
            "{}",
            r#"{"Statement":[]}"#,
            r#"{"Statement":{"Effect":"Allow"}}"#,
        ] {
            assert_eq!(code(bad, m), "MalformedPolicyDocument", "{bad}");
        }
        // Characters outside U+0009/A/D and U+0020–U+00FF.
        let snow = padded(1)
            .replace("xIAM", "x")
            .replace("\"Resource\":\"*\"", "\"Resource\":\"☃\"");
        assert_eq!(code(&snow, m), "MalformedPolicyDocument");
        // An identity policy may not name a principal; a trust policy must.
        let with_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#;
        assert_eq!(code(with_principal, m), "MalformedPolicyDocument");
        assert_eq!(code(with_principal, DocumentKind::Trust), "ok");
        assert_eq!(
            code(&padded(10), DocumentKind::Trust),
            "MalformedPolicyDocument"
        );
        // Size limits count non-whitespace characters.
        assert_eq!(code(&padded(6200), m), "LimitExceeded");
        let spaced = padded(10).replace(",", &format!(",{}", " ".repeat(3000)));
        assert_eq!(code(&spaced, m), "ok");
        assert_eq!(
            code(&" ".repeat(MAX_DOCUMENT_BYTES + 1), m),
            "MalformedPolicyDocument"
        );
        let big_trust = with_principal.replace(
            "\"Effect\"",
            &format!("\"Sid\":\"{}\",\"Effect\"", "x".repeat(2100)),
        );
        assert_eq!(code(&big_trust, DocumentKind::Trust), "LimitExceeded");
        assert_eq!(
            code(&padded(2100), DocumentKind::Inline(EntityKind::User)),
            "LimitExceeded"
        );
        assert_eq!(
            code(&padded(2100), DocumentKind::Inline(EntityKind::Role)),
            "ok"
        );
    }

    #[test]
    fn version_ids() {
        assert_eq!(parse_version_id("v1").unwrap(), 1);
        assert_eq!(parse_version_id("v12").unwrap(), 12);
        for bad in ["", "v", "1", "vx", "v-1", "v99999999999"] {
            assert!(parse_version_id(bad).is_err(), "{bad}");
        }
    }
}
