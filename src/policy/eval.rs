//! Authorization decisions over a set of compiled policies.
//!
//! [`decide`] is the hot path: it returns only the [`Decision`], stops at the first
//! explicit deny and allocates nothing (patterns with policy variables are resolved
//! in place, without building strings). [`explain`] evaluates every policy and also
//! returns the statements that matched and which policy type denied or lacked an allow.

use std::fmt::Write as _;

use super::context::RequestContext;
use super::document::{AwsPrincipal, CompiledPolicy, Effect, PolicyKind, PrincipalSpec, Statement};
use super::index::IdentityIndex;

/// The outcome of an authorization check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    /// `allowed`, `explicitDeny` or `implicitDeny` (the wording of AWS's simulator).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::ExplicitDeny => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }

    /// Whether the request is allowed.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allowed
    }
}

/// The role a policy plays in an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyType {
    Identity,
    PermissionsBoundary,
    Session,
    Resource,
}

impl PolicyType {
    /// The noun AWS uses in access-denied messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity-based policy",
            PolicyType::PermissionsBoundary => "permissions boundary",
            PolicyType::Session => "session policy",
            PolicyType::Resource => "resource-based policy",
        }
    }

    fn article(self) -> &'static str {
        match self {
            PolicyType::Identity => "an",
            _ => "a",
        }
    }
}

/// A statement that applied to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    pub policy_type: PolicyType,
    pub policy_id: String,
    /// The statement's `Sid`, or its zero-based index when it has none.
    pub sid_or_index: String,
    pub effect: Effect,
}

/// A decision with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    /// Every statement that applied, in evaluation order.
    pub matched: Vec<MatchedStatement>,
    /// For an implicit deny: the policy type that lacked an allow.
    pub missing: Option<PolicyType>,
    /// For an explicit deny: the first policy type with a matching `Deny`.
    pub deny_in: Option<PolicyType>,
}

/// What kind of principal makes the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind<'a> {
    /// The account root user.
    Root,
    /// An IAM user.
    User,
    /// An assumed-role session; `arn` is the session ARN.
    RoleSession { role_arn: &'a str },
    /// A federated-user session (`GetFederationToken`); `arn` is the session ARN.
    FederatedUser { user_arn: &'a str },
    /// A service principal such as `ec2.amazonaws.com`; `arn` is the service name.
    Service,
    /// A web-identity or SAML provider; `arn` is the provider name or ARN.
    Federated,
    /// An unauthenticated caller.
    Anonymous,
}

/// The principal making the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalInfo<'a> {
    /// The caller's ARN: user ARN, session ARN, root ARN, or service name.
    pub arn: &'a str,
    /// The caller's account id (empty for services and anonymous callers).
    pub account: &'a str,
    pub kind: PrincipalKind<'a>,
}

impl<'a> PrincipalInfo<'a> {
    /// The account root user, `arn:aws:iam::ACCOUNT:root`.
    pub fn root(arn: &'a str, account: &'a str) -> Self {
        PrincipalInfo {
            arn,
            account,
            kind: PrincipalKind::Root,
        }
    }

    /// An IAM user.
    pub fn user(arn: &'a str, account: &'a str) -> Self {
        PrincipalInfo {
            arn,
            account,
            kind: PrincipalKind::User,
        }
    }

    /// An assumed-role session.
    pub fn role_session(session_arn: &'a str, role_arn: &'a str, account: &'a str) -> Self {
        PrincipalInfo {
            arn: session_arn,
            account,
            kind: PrincipalKind::RoleSession { role_arn },
        }
    }

    /// A federated-user session made by the IAM user `user_arn`.
    pub fn federated_user(session_arn: &'a str, user_arn: &'a str, account: &'a str) -> Self {
        PrincipalInfo {
            arn: session_arn,
            account,
            kind: PrincipalKind::FederatedUser { user_arn },
        }
    }

    /// A service principal.
    pub fn service(name: &'a str) -> Self {
        PrincipalInfo {
            arn: name,
            account: "",
            kind: PrincipalKind::Service,
        }
    }

    /// A web-identity or SAML provider.
    pub fn federated(provider: &'a str) -> Self {
        PrincipalInfo {
            arn: provider,
            account: "",
            kind: PrincipalKind::Federated,
        }
    }

    /// An anonymous caller.
    pub fn anonymous() -> Self {
        PrincipalInfo {
            arn: "*",
            account: "",
            kind: PrincipalKind::Anonymous,
        }
    }

    /// Whether this is the account root user.
    pub fn is_root(&self) -> bool {
        self.kind == PrincipalKind::Root
    }

    /// The role ARN for a role session.
    pub fn role_arn(&self) -> Option<&'a str> {
        match self.kind {
            PrincipalKind::RoleSession { role_arn } => Some(role_arn),
            _ => None,
        }
    }

    /// The session ARN for a role or federated-user session.
    pub fn session_arn(&self) -> Option<&'a str> {
        match self.kind {
            PrincipalKind::RoleSession { .. } | PrincipalKind::FederatedUser { .. } => {
                Some(self.arn)
            }
            _ => None,
        }
    }

    /// Principals that can hold identity-based policies.
    fn has_identity(&self) -> bool {
        matches!(
            self.kind,
            PrincipalKind::Root
                | PrincipalKind::User
                | PrincipalKind::RoleSession { .. }
                | PrincipalKind::FederatedUser { .. }
        )
    }
}

/// The policies that apply to one request.
#[derive(Debug, Clone, Copy)]
pub struct PolicySet<'a> {
    /// Identity-based policies: `(policy id, policy)`; for a user also its groups'.
    pub identity: &'a [(&'a str, &'a CompiledPolicy)],
    /// The permissions boundary of the user or role, if set.
    pub boundary: Option<(&'a str, &'a CompiledPolicy)>,
    /// Session policies passed when the session was created (together: a union).
    pub session: &'a [(&'a str, &'a CompiledPolicy)],
    /// The resource-based (or trust) policy of the resource, if any.
    pub resource: Option<(&'a str, &'a CompiledPolicy)>,
    /// Further resource-based policies that cover the resource (a bucket's policy for an
    /// object under it), all of the same owner. Together with `resource` they act as one
    /// policy holding all their statements.
    pub covering: &'a [(&'a str, &'a CompiledPolicy)],
    /// The account that owns the resource; `None` means the principal's account.
    pub resource_owner: Option<&'a str>,
    pub principal: PrincipalInfo<'a>,
}

impl<'a> PolicySet<'a> {
    /// A set with no policies for `principal`.
    pub fn new(principal: PrincipalInfo<'a>) -> Self {
        PolicySet {
            identity: &[],
            boundary: None,
            session: &[],
            resource: None,
            covering: &[],
            resource_owner: None,
            principal,
        }
    }
}

/// How directly a resource-policy statement names the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    /// Through the caller's account: a delegation that identity policies must complete.
    Account,
    /// Through the role (or federating user) behind a session: limited by the session's
    /// boundary and session policies.
    Role,
    /// The caller itself (user ARN, session ARN, `*`, service, or the root via its
    /// account): not limited by identity, boundary or session policies.
    Direct,
}

fn match_principal(spec: &PrincipalSpec, p: &PrincipalInfo<'_>) -> Option<Grant> {
    let mut best: Option<Grant> = None;
    for a in &spec.aws {
        let g = match a {
            AwsPrincipal::Any => Some(Grant::Direct),
            AwsPrincipal::Account(acct) => {
                if p.has_identity() && !p.account.is_empty() && **acct == *p.account {
                    Some(if p.is_root() {
                        Grant::Direct
                    } else {
                        Grant::Account
                    })
                } else {
                    None
                }
            }
            AwsPrincipal::Arn(arn) => {
                if !p.has_identity() {
                    None
                } else if **arn == *p.arn {
                    Some(Grant::Direct)
                } else {
                    match p.kind {
                        PrincipalKind::RoleSession { role_arn } if **arn == *role_arn => {
                            Some(Grant::Role)
                        }
                        PrincipalKind::FederatedUser { user_arn } if **arn == *user_arn => {
                            Some(Grant::Role)
                        }
                        _ => None,
                    }
                }
            }
        };
        best = best.max(g);
        if best == Some(Grant::Direct) {
            return best;
        }
    }
    let named = match p.kind {
        PrincipalKind::Service => spec.service.iter().any(|s| s.eq_ignore_ascii_case(p.arn)),
        PrincipalKind::Federated => spec.federated.iter().any(|s| **s == *p.arn),
        _ => false,
    };
    if named {
        return Some(Grant::Direct);
    }
    best
}

/// Whether the statement applies; `Some(grant)` says how it named the principal
/// (`Direct` for statements without a principal element).
fn statement_applies(st: &Statement, ctx: &RequestContext, p: &PrincipalInfo<'_>) -> Option<Grant> {
    let action = ctx.action_lower();
    if st.actions.iter().any(|a| a.glob(action, ctx)) == st.not_action {
        return None;
    }
    if let Some(resources) = &st.resources {
        let resource = ctx.resource();
        let any = resources.iter().any(|r| r.glob(resource, ctx));
        let ok = if st.not_resource {
            // A variable with no value makes the element match no resource.
            !any && resources.iter().all(|r| r.resolvable(ctx))
        } else {
            any
        };
        if !ok {
            return None;
        }
    }
    let grant = match &st.principal {
        None => Grant::Direct,
        Some(spec) => {
            let m = match_principal(spec, p);
            if st.not_principal {
                if m.is_some() {
                    return None;
                }
                Grant::Direct
            } else {
                m?
            }
        }
    };
    if st.conditions.iter().all(|c| c.eval(ctx)) {
        Some(grant)
    } else {
        None
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Scan {
    allow: bool,
    deny: bool,
    /// Strongest grant among matching `Allow` statements.
    grant: Option<Grant>,
}

/// Adds statement `st` of policy `id` to `out` if it applies; returns whether the
/// evaluation can stop (a deny when no reasons are collected).
#[inline]
#[allow(clippy::too_many_arguments)]
fn visit(
    st: &Statement,
    id: &str,
    ptype: PolicyType,
    ctx: &RequestContext,
    p: &PrincipalInfo<'_>,
    out: &mut Scan,
    collect: Option<&mut Vec<MatchedStatement>>,
) -> bool {
    let Some(grant) = statement_applies(st, ctx, p) else {
        return false;
    };
    match st.effect {
        Effect::Allow => {
            out.allow = true;
            out.grant = out.grant.max(Some(grant));
        }
        Effect::Deny => out.deny = true,
    }
    match collect {
        Some(list) => {
            list.push(MatchedStatement {
                policy_type: ptype,
                policy_id: id.to_owned(),
                sid_or_index: st.label.clone(),
                effect: st.effect,
            });
            false
        }
        None => out.deny,
    }
}

fn scan(
    policy: &CompiledPolicy,
    id: &str,
    ptype: PolicyType,
    ctx: &RequestContext,
    p: &PrincipalInfo<'_>,
    mut collect: Option<&mut Vec<MatchedStatement>>,
) -> Scan {
    let mut out = Scan::default();
    for i in policy.candidates_in(ctx.service_lower()) {
        let Some(st) = policy.statements.get(i) else {
            continue;
        };
        if visit(st, id, ptype, ctx, p, &mut out, collect.as_deref_mut()) {
            break;
        }
    }
    out
}

/// Like scanning each identity policy in turn, through the principal's index: the same
/// statements are visited in the same order, minus those that cannot match the action.
fn scan_identity_indexed(
    index: &IdentityIndex,
    identity: &[(&str, &CompiledPolicy)],
    ctx: &RequestContext,
    p: &PrincipalInfo<'_>,
    mut collect: Option<&mut Vec<MatchedStatement>>,
) -> Scan {
    let mut out = Scan::default();
    for (pi, si) in index.candidates(ctx.service_lower()) {
        let Some((id, pol)) = identity.get(pi) else {
            continue;
        };
        let Some(st) = pol.statements.get(si) else {
            continue;
        };
        let stop = visit(
            st,
            id,
            PolicyType::Identity,
            ctx,
            p,
            &mut out,
            collect.as_deref_mut(),
        );
        if stop {
            break;
        }
    }
    out
}

struct Outcome {
    decision: Decision,
    missing: Option<PolicyType>,
    deny_in: Option<PolicyType>,
}

fn denied(t: PolicyType) -> Outcome {
    Outcome {
        decision: Decision::ExplicitDeny,
        missing: None,
        deny_in: Some(t),
    }
}

fn evaluate(
    set: &PolicySet<'_>,
    index: Option<&IdentityIndex>,
    ctx: &RequestContext,
    mut collect: Option<&mut Vec<MatchedStatement>>,
) -> Outcome {
    let p = &set.principal;
    let fast = collect.is_none();
    let mut deny_in: Option<PolicyType> = None;

    let mut id_allow = false;
    // An index built from another list of policies is not used.
    match index.filter(|ix| ix.policy_count() == set.identity.len()) {
        Some(index) => {
            let s = scan_identity_indexed(index, set.identity, ctx, p, collect.as_deref_mut());
            id_allow = s.allow;
            if s.deny {
                deny_in = Some(PolicyType::Identity);
                if fast {
                    return denied(PolicyType::Identity);
                }
            }
        }
        None => {
            for (id, pol) in set.identity {
                let s = scan(
                    pol,
                    id,
                    PolicyType::Identity,
                    ctx,
                    p,
                    collect.as_deref_mut(),
                );
                id_allow |= s.allow;
                if s.deny {
                    deny_in = deny_in.or(Some(PolicyType::Identity));
                    if fast {
                        return denied(PolicyType::Identity);
                    }
                }
            }
        }
    }
    let mut boundary_ok = true;
    if let Some((id, pol)) = set.boundary {
        let s = scan(
            pol,
            id,
            PolicyType::PermissionsBoundary,
            ctx,
            p,
            collect.as_deref_mut(),
        );
        boundary_ok = s.allow;
        if s.deny {
            deny_in = deny_in.or(Some(PolicyType::PermissionsBoundary));
            if fast {
                return denied(PolicyType::PermissionsBoundary);
            }
        }
    }
    let mut session_allow = false;
    for (id, pol) in set.session {
        let s = scan(pol, id, PolicyType::Session, ctx, p, collect.as_deref_mut());
        session_allow |= s.allow;
        if s.deny {
            deny_in = deny_in.or(Some(PolicyType::Session));
            if fast {
                return denied(PolicyType::Session);
            }
        }
    }
    let mut rp_grant: Option<Grant> = None;
    let mut is_trust = false;
    for (id, pol) in set.resource.iter().chain(set.covering.iter()) {
        is_trust |= pol.kind() == PolicyKind::Trust;
        let s = scan(
            pol,
            id,
            PolicyType::Resource,
            ctx,
            p,
            collect.as_deref_mut(),
        );
        rp_grant = rp_grant.max(s.grant);
        if s.deny {
            deny_in = deny_in.or(Some(PolicyType::Resource));
            if fast {
                return denied(PolicyType::Resource);
            }
        }
    }
    if let Some(t) = deny_in {
        return denied(t);
    }

    // Session policies: present ones must allow; a federated-user session without one
    // gets nothing, a role session without one keeps the role's permissions.
    let session_ok = if set.session.is_empty() {
        !matches!(p.kind, PrincipalKind::FederatedUser { .. })
    } else {
        session_allow
    };
    let id_allow = id_allow || p.is_root();
    let identity_side = p.has_identity() && id_allow && boundary_ok && session_ok;
    let identity_missing = if !id_allow {
        PolicyType::Identity
    } else if !boundary_ok {
        PolicyType::PermissionsBoundary
    } else {
        PolicyType::Session
    };
    let rp_direct = rp_grant == Some(Grant::Direct);
    let rp_role_ok = rp_grant == Some(Grant::Role) && boundary_ok && session_ok;
    let rp_any = rp_grant.is_some();

    let owner = set.resource_owner.unwrap_or(p.account);
    let same_account = !p.account.is_empty() && owner == p.account;

    let (allowed, missing) = if !p.has_identity() {
        (rp_direct, PolicyType::Resource)
    } else if !same_account {
        // Cross-account: both sides must allow.
        let missing = if identity_side {
            PolicyType::Resource
        } else {
            identity_missing
        };
        (identity_side && rp_any, missing)
    } else if is_trust {
        // A trust policy must allow the principal itself; naming only the account
        // delegates to identity policies.
        let allowed = rp_direct || rp_role_ok || (rp_any && identity_side);
        let missing = if rp_any {
            identity_missing
        } else {
            PolicyType::Resource
        };
        (allowed, missing)
    } else if p.is_root() {
        (true, PolicyType::Identity)
    } else {
        (identity_side || rp_direct || rp_role_ok, identity_missing)
    };
    if allowed {
        Outcome {
            decision: Decision::Allowed,
            missing: None,
            deny_in: None,
        }
    } else {
        Outcome {
            decision: Decision::ImplicitDeny,
            missing: Some(missing),
            deny_in: None,
        }
    }
}

/// Decides a request without collecting reasons. Allocates nothing.
pub fn decide(set: &PolicySet<'_>, ctx: &RequestContext) -> Decision {
    evaluate(set, None, ctx, None).decision
}

/// Decides a request and collects the reasons.
pub fn explain(set: &PolicySet<'_>, ctx: &RequestContext) -> Evaluation {
    explain_with_index(set, None, ctx)
}

/// [`decide`], finding the candidate identity-policy statements through `index` (built
/// from `set.identity`, see [`IdentityIndex`]) instead of each policy's own index. The
/// decision is the same; the cost follows the statements that name the request's
/// service, not the number of policies. `None`, or an index built from a different
/// number of policies, uses the per-policy path.
pub fn decide_with_index(
    set: &PolicySet<'_>,
    index: Option<&IdentityIndex>,
    ctx: &RequestContext,
) -> Decision {
    evaluate(set, index, ctx, None).decision
}

/// [`explain`] through an [`IdentityIndex`], as [`decide_with_index`]: the same
/// evaluation, with the same matched statements in the same order.
pub fn explain_with_index(
    set: &PolicySet<'_>,
    index: Option<&IdentityIndex>,
    ctx: &RequestContext,
) -> Evaluation {
    let mut matched = Vec::new();
    let o = evaluate(set, index, ctx, Some(&mut matched));
    Evaluation {
        decision: o.decision,
        matched,
        missing: o.missing,
        deny_in: o.deny_in,
    }
}

/// The AWS access-denied message for an evaluation, e.g.
/// `User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:ListUsers
/// on resource: arn:aws:iam::123456789012:user/ because no identity-based policy allows
/// the iam:ListUsers action`. An empty `resource` leaves out the `on resource:` part.
pub fn denial_message(
    principal_arn: &str,
    action: &str,
    resource: &str,
    eval: &Evaluation,
) -> String {
    let mut msg = format!("User: {principal_arn} is not authorized to perform: {action}");
    if !resource.is_empty() {
        let _ = write!(msg, " on resource: {resource}");
    }
    match eval.decision {
        Decision::ExplicitDeny => {
            if let Some(t) = eval.deny_in {
                let _ = write!(
                    msg,
                    " with an explicit deny in {} {}",
                    t.article(),
                    t.as_str()
                );
            }
        }
        Decision::ImplicitDeny => {
            if let Some(t) = eval.missing {
                let _ = write!(msg, " because no {} allows the {action} action", t.as_str());
            }
        }
        Decision::Allowed => {}
    }
    msg
}
