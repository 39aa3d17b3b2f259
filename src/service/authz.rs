//! The authorization seam: gathers the caller's policies, builds the request context and
//! asks the policy engine. Every operation calls [`Vault::authorize`] (or
//! [`Vault::authorize_with`] when the request carries condition keys of its own) inside
//! its transaction, so the decision and the change see the same snapshot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::builtin::builtin_by_arn;
use super::{Caller, CallerKind, RequestContext, Vault};
use crate::error::{Error, Result};
use crate::policy::{self, CompiledPolicy, ContextValue, PolicyKind, PolicySet, PrincipalInfo};
use crate::store::{EntityKind, ReadTx, UserRow};

/// Compiled policies by (kind, SHA-256 of the document). A document is compiled once,
/// then shared; changes to attachments take effect on the next request because the set
/// of documents is read in the request's transaction.
#[derive(Default)]
pub struct CompiledCache {
    map: Mutex<HashMap<CacheKey, Arc<CompiledPolicy>>>,
}

/// (policy kind, SHA-256 of the document).
type CacheKey = (u8, [u8; 32]);

/// Bound on cached compiled documents; past it the cache is cleared (documents are few
/// and cheap to recompile, so a simple bound is enough).
const CACHE_LIMIT: usize = 10_000;

fn kind_tag(kind: PolicyKind) -> u8 {
    match kind {
        PolicyKind::Identity => 0,
        PolicyKind::PermissionsBoundary => 1,
        PolicyKind::Trust => 2,
        PolicyKind::Resource => 3,
        PolicyKind::Session => 4,
    }
}

impl CompiledCache {
    /// The compiled form of `doc`, compiling it on first use.
    pub fn get(
        &self,
        doc: &str,
        kind: PolicyKind,
    ) -> std::result::Result<Arc<CompiledPolicy>, policy::PolicyError> {
        let digest = ring::digest::digest(&ring::digest::SHA256, doc.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(digest.as_ref());
        let key = (kind_tag(kind), key);
        if let Some(p) = self.map.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(p);
        }
        // Stored documents were validated against their size limits when stored; here
        // only the hard input cap applies.
        let compiled = Arc::new(policy::parse_with_limit(
            doc,
            kind,
            policy::MAX_INPUT_BYTES,
        )?);
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CACHE_LIMIT {
                map.clear();
            }
            map.insert(key, Arc::clone(&compiled));
        }
        Ok(compiled)
    }
}

impl From<policy::PolicyError> for Error {
    fn from(e: policy::PolicyError) -> Self {
        match e.code() {
            "LimitExceeded" => Error::LimitExceeded(e.message().to_owned()),
            _ => Error::MalformedPolicyDocument(e.message().to_owned()),
        }
    }
}

/// The identity side of a principal: its policies, its context keys and its
/// `aws:PrincipalType`. Built from the store, then reused while nothing changes.
pub(super) struct PrincipalEntry {
    pub pols: PrincipalPolicies,
    pub keys: Vec<(String, ContextValue)>,
    pub principal_type: &'static str,
    /// The identity policies indexed by service, in the order of `pols.identity`.
    pub index: policy::IdentityIndex,
}

impl PrincipalEntry {
    fn new(
        pols: PrincipalPolicies,
        keys: Vec<(String, ContextValue)>,
        principal_type: &'static str,
    ) -> Self {
        let index =
            policy::IdentityIndex::from_policies(pols.identity.iter().map(|(_, p)| p.as_ref()));
        PrincipalEntry {
            pols,
            keys,
            principal_type,
            index,
        }
    }
}

/// One authorization question.
pub(super) struct Question<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub ctx: &'a RequestContext,
    /// Request-specific keys (resource tags, request tags, service-supplied keys).
    pub keys: &'a [(String, ContextValue)],
    pub resource_policy: Option<(&'a str, &'a CompiledPolicy)>,
    /// Further resource policies covering the resource (same owner).
    pub covering: &'a [(&'a str, &'a CompiledPolicy)],
    pub owner: &'a str,
}

/// `aws:PrincipalTag/…` keys.
fn principal_tag_keys(
    tags: &[(String, String)],
) -> impl Iterator<Item = (String, ContextValue)> + '_ {
    tags.iter().map(|(k, v)| {
        (
            format!("aws:PrincipalTag/{k}"),
            ContextValue::String(v.clone()),
        )
    })
}

/// What GetSessionToken credentials may not do whatever their policies say: call IAM
/// without MFA, or STS beyond AssumeRole and GetCallerIdentity.
pub(super) fn session_guard(caller: &Caller, action: &str) -> Result<()> {
    let CallerKind::Session(c) = &caller.kind else {
        return Ok(());
    };
    if c.kind != crate::sts::SessionKind::User {
        return Ok(());
    }
    let a = action.to_ascii_lowercase();
    if a.starts_with("iam:") && c.mfa_time.is_none() {
        return Err(Error::AccessDenied(format!(
            "User: {} is not authorized to perform: {action} because credentials from GetSessionToken without MFA cannot call IAM",
            caller.arn
        )));
    }
    let allowed_sts = [
        "sts:assumerole",
        "sts:getcalleridentity",
        "sts:tagsession",
        "sts:setsourceidentity",
    ];
    if a.starts_with("sts:") && !allowed_sts.contains(&a.as_str()) {
        return Err(Error::AccessDenied(format!(
            "User: {} is not authorized to perform: {action} because credentials from GetSessionToken can call only AssumeRole and GetCallerIdentity in STS",
            caller.arn
        )));
    }
    Ok(())
}

/// The identity-side policies of a principal, compiled.
pub(super) struct PrincipalPolicies {
    /// `(policy id, policy)`: managed policy ARNs, or `user/NAME/POLICY` for inline ones.
    pub identity: Vec<(String, Arc<CompiledPolicy>)>,
    /// The permissions boundary.
    pub boundary: Option<(String, Arc<CompiledPolicy>)>,
    /// The principal's tags, for `aws:PrincipalTag/…`.
    pub tags: Vec<(String, String)>,
    /// Session policies (role sessions).
    pub session: Vec<(String, Arc<CompiledPolicy>)>,
}

impl Vault {
    /// The default document of a managed policy visible to `account`.
    pub(super) fn managed_document(
        &self,
        tx: &ReadTx<'_>,
        account: &str,
        arn: &str,
    ) -> Result<Option<String>> {
        if let Some(b) = builtin_by_arn(arn) {
            return Ok(Some(b.document.to_owned()));
        }
        let Some(row) = tx.policy_by_arn(arn)?.filter(|p| p.account_id == account) else {
            return Ok(None);
        };
        Ok(tx
            .policy_version(&row.policy_id, row.default_version)?
            .map(|v| v.document))
    }

    fn compile_stored(&self, id: &str, doc: &str, kind: PolicyKind) -> Result<Arc<CompiledPolicy>> {
        // Fail closed: a stored policy that does not parse denies the request.
        self.compiled.get(doc, kind).map_err(|e| {
            Error::AccessDenied(format!(
                "access denied because the stored policy {id} could not be evaluated: {}",
                e.message()
            ))
        })
    }

    fn push_entity_policies(
        &self,
        tx: &ReadTx<'_>,
        out: &mut Vec<(String, Arc<CompiledPolicy>)>,
        account: &str,
        kind: EntityKind,
        id: &str,
        label: &str,
    ) -> Result<()> {
        for arn in tx.attached(kind, id)? {
            // A dangling attachment (policy deleted under it) grants nothing.
            if let Some(doc) = self.managed_document(tx, account, &arn)? {
                out.push((
                    arn.clone(),
                    self.compile_stored(&arn, &doc, PolicyKind::Identity)?,
                ));
            }
        }
        for p in tx.inline_policies(kind, id)? {
            let pid = format!("{label}/{}", p.name);
            out.push((
                pid.clone(),
                self.compile_stored(&pid, &p.document, PolicyKind::Identity)?,
            ));
        }
        Ok(())
    }

    /// Loads a user's policies: its own, its groups', and its boundary.
    pub(super) fn user_policies(
        &self,
        tx: &ReadTx<'_>,
        user: &UserRow,
    ) -> Result<PrincipalPolicies> {
        let mut identity = Vec::new();
        let label = format!("user/{}", user.name);
        self.push_entity_policies(
            tx,
            &mut identity,
            &user.account_id,
            EntityKind::User,
            &user.user_id,
            &label,
        )?;
        for g in tx.groups_for_user(&user.user_id)? {
            let glabel = format!("group/{}", g.name);
            self.push_entity_policies(
                tx,
                &mut identity,
                &user.account_id,
                EntityKind::Group,
                &g.group_id,
                &glabel,
            )?;
        }
        let boundary = match &user.boundary_arn {
            Some(arn) => match self.managed_document(tx, &user.account_id, arn)? {
                Some(doc) => Some((
                    arn.clone(),
                    self.compile_stored(arn, &doc, PolicyKind::PermissionsBoundary)?,
                )),
                // A boundary whose policy is gone allows nothing: fail closed.
                None => {
                    return Err(Error::AccessDenied(format!(
                        "access denied because the permissions boundary {arn} no longer exists"
                    )));
                }
            },
            None => None,
        };
        let tags = tx
            .tags(EntityKind::User, &user.user_id)?
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        Ok(PrincipalPolicies {
            identity,
            boundary,
            tags,
            session: Vec::new(),
        })
    }

    /// Authorizes `caller` to perform `action` on `resource`.
    pub fn authorize(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
        action: &str,
        resource: &str,
        ctx: &RequestContext,
    ) -> Result<()> {
        self.authorize_with(tx, caller, action, resource, ctx, &[])
    }

    /// Authorizes with extra, request-specific condition keys (`aws:RequestTag/…`,
    /// `iam:PolicyARN`, `iam:PassedToService`, …).
    pub fn authorize_with(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
        action: &str,
        resource: &str,
        ctx: &RequestContext,
        extra: &[(String, ContextValue)],
    ) -> Result<()> {
        let owner = resource_account(resource)
            .unwrap_or(caller.account.as_str())
            .to_owned();
        self.authorize_resource(tx, caller, action, resource, ctx, extra, None, &owner)
    }

    /// [`Vault::authorize`] with the caller's identity side already in hand (from the
    /// warm cache: `None` is the root user).
    pub(super) fn authorize_entry(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
        entry: Option<&PrincipalEntry>,
        action: &str,
        resource: &str,
        ctx: &RequestContext,
    ) -> Result<()> {
        let owner = resource_account(resource).unwrap_or(caller.account.as_str());
        self.authorize_with_entry(tx, caller, entry, action, resource, ctx, &[], None, owner)
    }

    /// Authorizes against the caller's policies and, when given, a resource-based (or
    /// trust) policy of a resource owned by `owner`.
    #[allow(
        clippy::too_many_arguments,
        reason = "the pieces of one authorization request"
    )]
    pub(super) fn authorize_resource(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
        action: &str,
        resource: &str,
        ctx: &RequestContext,
        extra: &[(String, ContextValue)],
        resource_policy: Option<(&str, &CompiledPolicy)>,
        owner: &str,
    ) -> Result<()> {
        let entry = self.principal_entry(tx, caller)?;
        self.authorize_with_entry(
            tx,
            caller,
            entry.as_ref(),
            action,
            resource,
            ctx,
            extra,
            resource_policy,
            owner,
        )
    }

    /// [`Vault::authorize_resource`] with the caller's identity side already in hand (from
    /// the warm cache: `None` is the root user).
    #[allow(
        clippy::too_many_arguments,
        reason = "one authorization question, spelled out"
    )]
    pub(super) fn authorize_with_entry(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
        entry: Option<&PrincipalEntry>,
        action: &str,
        resource: &str,
        ctx: &RequestContext,
        extra: &[(String, ContextValue)],
        resource_policy: Option<(&str, &CompiledPolicy)>,
        owner: &str,
    ) -> Result<()> {
        let tags = self.resource_tags(tx, caller, resource)?;
        self.authorize_with_tags(
            caller,
            entry,
            action,
            resource,
            ctx,
            tags,
            extra,
            resource_policy,
            owner,
        )
    }

    /// [`Vault::authorize_with_entry`] with the resource's `aws:ResourceTag/…` keys
    /// already in hand (from the warm cache), so it reads nothing from the store.
    #[allow(
        clippy::too_many_arguments,
        reason = "one authorization question, spelled out"
    )]
    pub(super) fn authorize_with_tags(
        &self,
        caller: &Caller,
        entry: Option<&PrincipalEntry>,
        action: &str,
        resource: &str,
        ctx: &RequestContext,
        resource_tags: Vec<(String, ContextValue)>,
        extra: &[(String, ContextValue)],
        resource_policy: Option<(&str, &CompiledPolicy)>,
        owner: &str,
    ) -> Result<()> {
        super::audit::note(action, resource);
        session_guard(caller, action)?;
        let mut keys = resource_tags;
        keys.extend_from_slice(extra);
        self.decide(
            caller,
            entry,
            action,
            resource,
            ctx,
            &keys,
            resource_policy,
            owner,
        )
    }

    /// [`Vault::authorize_entry`] for an action on the user whose identity side is
    /// `target` (from the warm cache), at `target_arn`, its ARN: the user's tags are its
    /// `aws:ResourceTag/…` keys, so no transaction is needed.
    pub(super) fn authorize_on_user(
        &self,
        caller: &Caller,
        entry: Option<&PrincipalEntry>,
        action: &str,
        target: &PrincipalEntry,
        target_arn: &str,
        ctx: &RequestContext,
    ) -> Result<()> {
        super::audit::note(action, target_arn);
        session_guard(caller, action)?;
        // What `resource_tags` reads for a user ARN of the caller's account.
        let keys = if target_arn.starts_with(&format!("arn:aws:iam::{}:user/", caller.account)) {
            resource_tag_keys(
                target
                    .pols
                    .tags
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
        } else {
            Vec::new()
        };
        let owner = resource_account(target_arn).unwrap_or(caller.account.as_str());
        self.decide(caller, entry, action, target_arn, ctx, &keys, None, owner)
    }

    /// Decides an authorization question whose condition keys are all in hand: `Ok` when
    /// allowed, else `AccessDenied` with the explanation.
    #[allow(
        clippy::too_many_arguments,
        reason = "one authorization question, spelled out"
    )]
    fn decide(
        &self,
        caller: &Caller,
        entry: Option<&PrincipalEntry>,
        action: &str,
        resource: &str,
        ctx: &RequestContext,
        keys: &[(String, ContextValue)],
        resource_policy: Option<(&str, &CompiledPolicy)>,
        owner: &str,
    ) -> Result<()> {
        let q = Question {
            action,
            resource,
            ctx,
            keys,
            resource_policy,
            covering: &[],
            owner,
        };
        let (decision, eval) = self.evaluate_entry(caller, entry, &q);
        if decision.is_allowed() {
            return Ok(());
        }
        let eval = eval.unwrap_or_else(|| self.explain_entry(caller, entry, &q));
        let message = policy::denial_message(&caller.arn, action, resource, &eval);
        Err(Error::AccessDenied(self.with_encoded_message(
            message, caller, action, resource, &eval,
        )))
    }

    /// The identity side of a caller, read from the store: `None` for the root user.
    pub(super) fn principal_entry(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
    ) -> Result<Option<PrincipalEntry>> {
        match &caller.kind {
            CallerKind::Root => Ok(None),
            CallerKind::User { user_id, .. } => {
                let user = tx.user_by_id(user_id)?.ok_or_else(|| {
                    Error::AccessDenied(format!("User: {} no longer exists", caller.arn))
                })?;
                self.user_entry(tx, &user).map(Some)
            }
            CallerKind::Session(c) => self.session_entry(tx, caller, c).map(Some),
        }
    }

    /// The identity side of a user calling with its own long-term key: its policies
    /// ([`Vault::user_policies`]) and its context keys. The warm cache keeps one per user
    /// id, shared by the user's own requests and simulations of the user.
    pub(super) fn user_entry(&self, tx: &ReadTx<'_>, user: &UserRow) -> Result<PrincipalEntry> {
        let pols = self.user_policies(tx, user)?;
        let mut keys = vec![
            (
                "aws:username".to_owned(),
                ContextValue::String(user.name.clone()),
            ),
            (
                "aws:userid".to_owned(),
                ContextValue::String(user.user_id.clone()),
            ),
        ];
        keys.extend(principal_tag_keys(&pols.tags));
        Ok(PrincipalEntry::new(pols, keys, "User"))
    }

    /// Decides `q` for a caller whose identity side is `entry` (`None`: the root user).
    /// A denial also comes with its explanation when one was cheap to get.
    pub(super) fn evaluate_entry(
        &self,
        caller: &Caller,
        entry: Option<&PrincipalEntry>,
        q: &Question<'_>,
    ) -> (policy::Decision, Option<policy::Evaluation>) {
        self.with_set(caller, entry, q, |set, index, rctx| {
            let d = policy::decide_with_index(set, index, rctx);
            if d.is_allowed() {
                (d, None)
            } else {
                (d, Some(policy::explain_with_index(set, index, rctx)))
            }
        })
    }

    /// Explains `q`: the decision with the statements that made it.
    pub(super) fn explain_entry(
        &self,
        caller: &Caller,
        entry: Option<&PrincipalEntry>,
        q: &Question<'_>,
    ) -> policy::Evaluation {
        self.with_set(caller, entry, q, policy::explain_with_index)
    }

    fn with_set<T>(
        &self,
        caller: &Caller,
        entry: Option<&PrincipalEntry>,
        q: &Question<'_>,
        f: impl FnOnce(&PolicySet<'_>, Option<&policy::IdentityIndex>, &policy::RequestContext) -> T,
    ) -> T {
        let cross_account = q.owner != caller.account.as_str();
        let Some(entry) = entry else {
            // The root user may do everything in its own account unless a resource
            // policy denies it explicitly.
            let principal = PrincipalInfo::root(&caller.arn, caller.account.as_str());
            let mut set = PolicySet::new(principal);
            set.resource = q.resource_policy;
            set.covering = q.covering;
            set.resource_owner = Some(q.owner);
            let rctx = self.base_context(caller, q);
            return f(&set, None, &rctx);
        };
        let role_arn = match &caller.kind {
            CallerKind::Session(c) => c.role_arn.as_deref(),
            _ => None,
        };
        let mut b = policy::RequestContext::builder(q.action, q.resource)
            .principal(caller.arn.clone(), caller.account.to_string())
            .current_time(self.now())
            .boolean("aws:SecureTransport", q.ctx.secure_transport)
            .string("aws:PrincipalAccount", caller.account.to_string())
            .string("aws:PrincipalType", entry.principal_type)
            .string("aws:PrincipalArn", role_arn.unwrap_or(&caller.arn));
        if let Some(ip) = q.ctx.source_ip {
            b = b.ip("aws:SourceIp", ip);
        }
        if let Some(r) = &q.ctx.region {
            b = b.string("aws:RequestedRegion", r.clone());
        }
        for (k, v) in entry.keys.iter().chain(q.keys) {
            b = b.value(k, v.clone());
        }
        let rctx = b.build();
        let identity: Vec<(&str, &CompiledPolicy)> = entry
            .pols
            .identity
            .iter()
            .map(|(id, p)| (id.as_str(), p.as_ref()))
            .collect();
        let session: Vec<(&str, &CompiledPolicy)> = entry
            .pols
            .session
            .iter()
            .map(|(id, p)| (id.as_str(), p.as_ref()))
            .collect();
        let principal = match role_arn {
            Some(r) => PrincipalInfo::role_session(&caller.arn, r, caller.account.as_str()),
            None => PrincipalInfo::user(&caller.arn, caller.account.as_str()),
        };
        let mut set = PolicySet::new(principal);
        set.identity = &identity;
        set.session = &session;
        set.boundary = entry
            .pols
            .boundary
            .as_ref()
            .map(|(id, p)| (id.as_str(), p.as_ref()));
        set.resource = q.resource_policy;
        set.covering = q.covering;
        let has_rp = q.resource_policy.is_some() || !q.covering.is_empty();
        set.resource_owner = Some(q.owner).filter(|_| cross_account || has_rp);
        f(&set, Some(&entry.index), &rctx)
    }

    fn base_context(&self, caller: &Caller, q: &Question<'_>) -> policy::RequestContext {
        let mut b = policy::RequestContext::builder(q.action, q.resource)
            .principal(caller.arn.clone(), caller.account.to_string())
            .current_time(self.now())
            .boolean("aws:SecureTransport", q.ctx.secure_transport)
            .string("aws:PrincipalArn", caller.arn.clone())
            .string("aws:PrincipalAccount", caller.account.to_string())
            .string("aws:PrincipalType", "Account");
        if let Some(ip) = q.ctx.source_ip {
            b = b.ip("aws:SourceIp", ip);
        }
        for (k, v) in q.keys {
            b = b.value(k, v.clone());
        }
        b.build()
    }

    /// The policies and context keys of a session caller. Role sessions carry the role's
    /// policies, its boundary and the session policies; user sessions (GetSessionToken)
    /// carry the user's policies.
    fn session_entry(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
        c: &crate::sts::Claims,
    ) -> Result<PrincipalEntry> {
        let now = self.now().unix_timestamp();
        let mut keys = vec![
            (
                "aws:userid".to_owned(),
                ContextValue::String(c.principal_id.clone()),
            ),
            (
                "aws:MultiFactorAuthPresent".to_owned(),
                ContextValue::Bool(c.mfa_time.is_some()),
            ),
        ];
        if let Some(t) = c.mfa_time {
            keys.push((
                "aws:MultiFactorAuthAge".to_owned(),
                ContextValue::Number((now - t) as f64),
            ));
        }
        if let Ok(t) = time::OffsetDateTime::from_unix_timestamp(c.issued_at) {
            keys.push(("aws:TokenIssueTime".to_owned(), ContextValue::Date(t)));
        }
        if let Some(s) = &c.source_identity {
            keys.push((
                "aws:SourceIdentity".to_owned(),
                ContextValue::String(s.clone()),
            ));
        }
        match c.kind {
            crate::sts::SessionKind::User => {
                let user = tx.user_by_id(&c.principal_id)?.ok_or_else(|| {
                    Error::AccessDenied(format!("User: {} no longer exists", caller.arn))
                })?;
                let pols = self.user_policies(tx, &user)?;
                keys.push((
                    "aws:username".to_owned(),
                    ContextValue::String(user.name.clone()),
                ));
                keys.extend(principal_tag_keys(&pols.tags));
                Ok(PrincipalEntry::new(pols, keys, "User"))
            }
            crate::sts::SessionKind::Role | crate::sts::SessionKind::Instance => {
                let role_id = c.principal_id.split(':').next().unwrap_or("");
                let role = tx
                    .role_by_id(role_id)?
                    .filter(|r| Some(super::roles::role_arn(r)) == c.role_arn)
                    .ok_or_else(|| {
                        Error::AccessDenied(format!(
                            "the role of session {} no longer exists",
                            caller.arn
                        ))
                    })?;
                let mut identity = Vec::new();
                let label = format!("role/{}", role.name);
                self.push_entity_policies(
                    tx,
                    &mut identity,
                    &role.account_id,
                    EntityKind::Role,
                    &role.role_id,
                    &label,
                )?;
                let boundary = match &role.boundary_arn {
                    Some(arn) => match self.managed_document(tx, &role.account_id, arn)? {
                        Some(doc) => Some((
                            arn.clone(),
                            self.compile_stored(arn, &doc, PolicyKind::PermissionsBoundary)?,
                        )),
                        None => {
                            return Err(Error::AccessDenied(format!(
                                "access denied because the permissions boundary {arn} no longer exists"
                            )));
                        }
                    },
                    None => None,
                };
                let mut session = Vec::new();
                for (i, doc) in c.session_policies.iter().enumerate() {
                    let id = format!("session-policy.{i}");
                    session.push((
                        id.clone(),
                        self.compile_stored(&id, doc, PolicyKind::Session)?,
                    ));
                }
                for arn in &c.policy_arns {
                    let doc = self
                        .managed_document(tx, &role.account_id, arn)?
                        .ok_or_else(|| {
                            Error::AccessDenied(format!(
                                "the session policy {arn} no longer exists"
                            ))
                        })?;
                    session.push((
                        arn.clone(),
                        self.compile_stored(arn, &doc, PolicyKind::Session)?,
                    ));
                }
                // Session tags override the role's tags of the same key.
                let mut tags: Vec<(String, String)> = tx
                    .tags(EntityKind::Role, &role.role_id)?
                    .into_iter()
                    .map(|t| (t.key, t.value))
                    .collect();
                for (k, v) in &c.tags {
                    tags.retain(|(tk, _)| !tk.eq_ignore_ascii_case(k));
                    tags.push((k.clone(), v.clone()));
                }
                keys.extend(principal_tag_keys(&tags));
                Ok(PrincipalEntry::new(
                    PrincipalPolicies {
                        identity,
                        boundary,
                        tags,
                        session,
                    },
                    keys,
                    "AssumedRole",
                ))
            }
        }
    }

    /// `aws:ResourceTag/…` when the resource is a user or role of the caller's account.
    fn resource_tags(
        &self,
        tx: &ReadTx<'_>,
        caller: &Caller,
        resource: &str,
    ) -> Result<Vec<(String, ContextValue)>> {
        let prefix = format!("arn:aws:iam::{}:", caller.account);
        let Some(rest) = resource.strip_prefix(&prefix) else {
            return Ok(Vec::new());
        };
        let name = rest
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let tags = if rest.starts_with("user/") {
            match tx.user(caller.account.as_str(), &name)? {
                Some(u) => tx.tags(EntityKind::User, &u.user_id)?,
                None => Vec::new(),
            }
        } else if rest.starts_with("role/") {
            match tx.role(caller.account.as_str(), &name)? {
                Some(r) => tx.tags(EntityKind::Role, &r.role_id)?,
                None => Vec::new(),
            }
        } else {
            Vec::new()
        };
        Ok(resource_tag_keys_of(&tags))
    }
}

const AUTHZ_AAD: &[u8] = b"iamvault/authorization-message/v1";

impl Vault {
    /// Appends AWS's "Encoded authorization failure message" to a denial: the evaluation
    /// details, sealed so that only the vault can read them (through STS
    /// DecodeAuthorizationMessage, for callers allowed to).
    fn with_encoded_message(
        &self,
        message: String,
        caller: &Caller,
        action: &str,
        resource: &str,
        eval: &policy::Evaluation,
    ) -> String {
        let details = serde_json::json!({
            "allowed": false,
            "explicitDeny": eval.decision == policy::Decision::ExplicitDeny,
            "matchedStatements": {"items": eval.matched.iter().map(|m| serde_json::json!({
                "statementId": m.sid_or_index,
                "effect": m.effect.as_str(),
                "policyId": m.policy_id,
                "policyType": m.policy_type.as_str(),
            })).collect::<Vec<_>>()},
            "failures": {"items": eval.missing.map(|t| vec![format!("no {} allows the action", t.as_str())]).unwrap_or_default()},
            "context": {
                "principal": {"arn": caller.arn},
                "action": action,
                "resource": resource,
            },
        });
        let sealed = self
            .keys
            .sealer(crate::crypto::Purpose::AuthorizationMessage)
            .seal(
                self.env.rng.as_ref(),
                AUTHZ_AAD,
                details.to_string().as_bytes(),
            );
        match sealed {
            Ok(bytes) => {
                use base64::Engine as _;
                let blob = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
                format!("{message}. Encoded authorization failure message: {blob}")
            }
            Err(_) => message,
        }
    }

    /// STS DecodeAuthorizationMessage: opens an encoded failure message. Needs
    /// `sts:DecodeAuthorizationMessage`.
    pub fn decode_authorization_message(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        encoded: &str,
    ) -> Result<String> {
        {
            let tx = self.store().read()?;
            self.authorize(&tx, caller, "sts:DecodeAuthorizationMessage", "*", ctx)?;
        }
        use base64::Engine as _;
        let invalid = || Error::InvalidInput("the encoded authorization message is invalid".into());
        if encoded.len() > 16_384 {
            return Err(invalid());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded.trim())
            .map_err(|_| invalid())?;
        let plain = self
            .keys
            .sealer(crate::crypto::Purpose::AuthorizationMessage)
            .open(AUTHZ_AAD, &bytes)
            .map_err(|_| invalid())?;
        String::from_utf8(plain.expose().to_vec()).map_err(|_| invalid())
    }
}

/// The account that owns `resource`, when its ARN names one (`aws` and empty do not).
fn resource_account(resource: &str) -> Option<&str> {
    let acct = resource.split(':').nth(4)?;
    (!acct.is_empty() && acct != "aws" && !acct.contains('*')).then_some(acct)
}

/// `aws:RequestTag/…` and `aws:TagKeys` for a request that sets tags.
pub(super) fn request_tag_keys(tags: &[crate::model::Tag]) -> Vec<(String, ContextValue)> {
    let mut out: Vec<(String, ContextValue)> = tags
        .iter()
        .map(|t| {
            (
                format!("aws:RequestTag/{}", t.key),
                ContextValue::String(t.value.clone()),
            )
        })
        .collect();
    if !tags.is_empty() {
        out.push((
            "aws:TagKeys".into(),
            ContextValue::StringList(tags.iter().map(|t| t.key.clone()).collect()),
        ));
    }
    out
}

/// `aws:ResourceTag/…` for a request on a tagged user or role.
pub(super) fn resource_tag_keys<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, ContextValue)> {
    tags.into_iter()
        .map(|(k, v)| {
            (
                format!("aws:ResourceTag/{k}"),
                ContextValue::String(v.to_owned()),
            )
        })
        .collect()
}

/// [`resource_tag_keys`] of stored tag rows.
pub(super) fn resource_tag_keys_of(tags: &[crate::store::TagRow]) -> Vec<(String, ContextValue)> {
    resource_tag_keys(tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_accounts() {
        assert_eq!(
            resource_account("arn:aws:iam::123456789012:user/a"),
            Some("123456789012")
        );
        assert_eq!(resource_account("arn:aws:iam::aws:policy/X"), None);
        assert_eq!(resource_account("arn:aws:s3:::bucket"), None);
        assert_eq!(resource_account("*"), None);
    }
}
