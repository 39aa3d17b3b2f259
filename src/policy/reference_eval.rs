//! A deliberately naive reference evaluator, written straight from the AWS rules with no
//! compilation, indexing or pre-parsing, and a differential property test comparing it
//! with the real engine on random small policies and requests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

const ACCT: &str = "123456789012";
const OTHER: &str = "210987654321";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const ROOT: &str = "arn:aws:iam::123456789012:root";
const ROLE: &str = "arn:aws:iam::123456789012:role/app";
const SESSION: &str = "arn:aws:sts::123456789012:assumed-role/app/s1";

// ---------------------------------------------------------------- generated model

#[derive(Debug, Clone)]
struct GCond {
    op: &'static str,
    key: &'static str,
    values: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct GStmt {
    allow: bool,
    not_action: bool,
    actions: Vec<&'static str>,
    not_resource: bool,
    resources: Vec<&'static str>,
    not_principal: bool,
    principals: Vec<&'static str>,
    conditions: Vec<GCond>,
}

#[derive(Debug, Clone)]
struct GPolicy {
    v2012: bool,
    statements: Vec<GStmt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    User,
    Root,
    Session,
}

#[derive(Debug, Clone)]
struct GRequest {
    action: &'static str,
    resource: &'static str,
    who: Who,
    cross_account: bool,
    username: bool,
    k: Option<&'static str>,
    tags: Option<Vec<&'static str>>,
    n: Option<&'static str>,
    b: Option<bool>,
}

#[derive(Debug, Clone)]
struct GCase {
    identity: Vec<GPolicy>,
    boundary: Option<GPolicy>,
    session: Vec<GPolicy>,
    resource: Option<GPolicy>,
    request: GRequest,
}

fn render(p: &GPolicy, with_principal: bool) -> String {
    let q = |v: &[&str]| {
        let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
        format!("[{}]", items.join(","))
    };
    let stmts: Vec<String> = p
        .statements
        .iter()
        .map(|s| {
            let mut parts = vec![format!(
                r#""Effect":"{}""#,
                if s.allow { "Allow" } else { "Deny" }
            )];
            parts.push(format!(
                r#""{}":{}"#,
                if s.not_action { "NotAction" } else { "Action" },
                q(&s.actions)
            ));
            parts.push(format!(
                r#""{}":{}"#,
                if s.not_resource {
                    "NotResource"
                } else {
                    "Resource"
                },
                q(&s.resources)
            ));
            if with_principal {
                parts.push(format!(
                    r#""{}":{{"AWS":{}}}"#,
                    if s.not_principal {
                        "NotPrincipal"
                    } else {
                        "Principal"
                    },
                    q(&s.principals)
                ));
            }
            if !s.conditions.is_empty() {
                let mut by_op: Vec<(&str, Vec<String>)> = Vec::new();
                for c in &s.conditions {
                    let entry = format!("{:?}:{}", c.key, q(&c.values));
                    match by_op.iter_mut().find(|(o, _)| *o == c.op) {
                        Some((_, v)) => {
                            if !v.iter().any(|e| e.starts_with(&format!("{:?}:", c.key))) {
                                v.push(entry);
                            }
                        }
                        None => by_op.push((c.op, vec![entry])),
                    }
                }
                let ops: Vec<String> = by_op
                    .iter()
                    .map(|(o, v)| format!("{o:?}:{{{}}}", v.join(",")))
                    .collect();
                parts.push(format!(r#""Condition":{{{}}}"#, ops.join(",")));
            }
            format!("{{{}}}", parts.join(","))
        })
        .collect();
    let version = if p.v2012 {
        r#""Version":"2012-10-17","#
    } else {
        ""
    };
    format!(r#"{{{version}"Statement":[{}]}}"#, stmts.join(","))
}

/// The conditions actually in the rendered document (one entry per operator and key).
fn effective_conditions(s: &GStmt) -> Vec<GCond> {
    let mut out: Vec<GCond> = Vec::new();
    for c in &s.conditions {
        if !out.iter().any(|o| o.op == c.op && o.key == c.key) {
            out.push(c.clone());
        }
    }
    out
}

// ---------------------------------------------------------------- naive semantics

struct RefCtx {
    action: String,
    resource: String,
    /// lowercase key -> (values, multivalued)
    keys: HashMap<String, (Vec<String>, bool)>,
}

impl RefCtx {
    fn single(&self, key: &str) -> Option<&str> {
        match self.keys.get(&key.to_lowercase()) {
            Some((v, false)) if v.len() == 1 => Some(v[0].as_str()),
            _ => None,
        }
    }
}

/// Recursive glob over chars; `*` any run, `?` one char.
fn naive_glob(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| naive_glob(rest, &t[i..])),
        Some(('?', rest)) => !t.is_empty() && naive_glob(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && naive_glob(rest, &t[1..]),
    }
}

fn glob_str(p: &str, t: &str) -> bool {
    let p: Vec<char> = p.chars().collect();
    let t: Vec<char> = t.chars().collect();
    naive_glob(&p, &t)
}

/// Substitutes `${key}` variables; `None` if one has no value. (Generated values
/// contain no wildcard characters, so plain substitution is faithful.)
fn substitute(s: &str, ctx: &RefCtx, v2012: bool) -> Option<String> {
    if !v2012 {
        return Some(s.to_owned());
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}')?;
        out.push_str(ctx.single(&after[..end])?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn value_matches(op: &str, r: &str, p: &str, ctx: &RefCtx, v2012: bool) -> bool {
    match op {
        "StringEquals" | "StringNotEquals" => substitute(p, ctx, v2012).is_some_and(|p| p == r),
        "StringLike" | "StringNotLike" => {
            substitute(p, ctx, v2012).is_some_and(|p| glob_str(&p, r))
        }
        "NumericLessThan" => match (r.parse::<f64>(), p.parse::<f64>()) {
            (Ok(a), Ok(b)) => a < b,
            _ => false,
        },
        "Bool" => r.eq_ignore_ascii_case(p),
        _ => panic!("unexpected op {op}"),
    }
}

fn cond_holds(c: &GCond, ctx: &RefCtx, v2012: bool) -> bool {
    let (set, rest) = match c.op.split_once(':') {
        Some((s, r)) => (Some(s), r),
        None => (None, c.op),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let values: Vec<String> = ctx
        .keys
        .get(&c.key.to_lowercase())
        .map(|(v, _)| v.clone())
        .unwrap_or_default();
    if base == "Null" {
        let want = c.values.contains(&"true");
        let want_false = c.values.contains(&"false");
        return (want && values.is_empty()) || (want_false && !values.is_empty());
    }
    let negated = base.contains("Not");
    // Op(r, P): positive: some p matches; negated: no p matches.
    let op_r = |r: &String| {
        let any = c
            .values
            .iter()
            .any(|p| value_matches(base, r, p, ctx, v2012));
        if negated { !any } else { any }
    };
    if values.is_empty() && if_exists {
        return true;
    }
    match set {
        Some("ForAllValues") => values.iter().all(op_r),
        Some("ForAnyValue") => values.iter().any(op_r),
        _ => {
            if values.is_empty() {
                negated
            } else if negated {
                values.iter().all(op_r)
            } else {
                values.iter().any(op_r)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Named {
    Account,
    Role,
    Exactly,
}

fn named(entry: &str, req: &GRequest) -> Option<Named> {
    let (arn, account) = principal_of(req);
    if entry == "*" {
        return Some(Named::Exactly);
    }
    let entry_account = if entry.len() == 12 {
        Some(entry.to_owned())
    } else {
        entry
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.strip_suffix(":root"))
            .map(str::to_owned)
    };
    if let Some(a) = entry_account {
        if a == account {
            return Some(if req.who == Who::Root {
                Named::Exactly
            } else {
                Named::Account
            });
        }
        return None;
    }
    if entry == arn {
        return Some(Named::Exactly);
    }
    if req.who == Who::Session && entry == ROLE {
        return Some(Named::Role);
    }
    None
}

fn principal_of(req: &GRequest) -> (&'static str, &'static str) {
    match req.who {
        Who::User => (BOB, ACCT),
        Who::Root => (ROOT, ACCT),
        Who::Session => (SESSION, ACCT),
    }
}

/// (applies, how the principal was named)
fn stmt_applies(
    s: &GStmt,
    ctx: &RefCtx,
    req: &GRequest,
    v2012: bool,
    resource_policy: bool,
) -> Option<Named> {
    let action_hit = s
        .actions
        .iter()
        .any(|a| glob_str(&a.to_lowercase(), &ctx.action.to_lowercase()));
    if action_hit == s.not_action {
        return None;
    }
    let subs: Vec<Option<String>> = s
        .resources
        .iter()
        .map(|r| substitute(r, ctx, v2012))
        .collect();
    let resource_hit = subs
        .iter()
        .any(|r| r.as_deref().is_some_and(|r| glob_str(r, &ctx.resource)));
    if s.not_resource {
        if resource_hit || subs.iter().any(Option::is_none) {
            return None;
        }
    } else if !resource_hit {
        return None;
    }
    let how = if resource_policy {
        let best = s.principals.iter().filter_map(|e| named(e, req)).max();
        if s.not_principal {
            if best.is_some() {
                return None;
            }
            Named::Exactly
        } else {
            best?
        }
    } else {
        Named::Exactly
    };
    if effective_conditions(s)
        .iter()
        .all(|c| cond_holds(c, ctx, v2012))
    {
        Some(how)
    } else {
        None
    }
}

fn reference_decide(case: &GCase, ctx: &RefCtx) -> Decision {
    let req = &case.request;
    let eval = |p: &GPolicy, rp: bool| -> (bool, bool, Option<Named>) {
        let mut allow = false;
        let mut deny = false;
        let mut how = None;
        for s in &p.statements {
            if let Some(h) = stmt_applies(s, ctx, req, p.v2012, rp) {
                if s.allow {
                    allow = true;
                    how = how.max(Some(h));
                } else {
                    deny = true;
                }
            }
        }
        (allow, deny, how)
    };
    // Step 1: an explicit deny in any policy.
    let ids: Vec<_> = case.identity.iter().map(|p| eval(p, false)).collect();
    let bnd = case.boundary.as_ref().map(|p| eval(p, false));
    let sess: Vec<_> = case.session.iter().map(|p| eval(p, false)).collect();
    let res = case.resource.as_ref().map(|p| eval(p, true));
    let any_deny = ids.iter().any(|r| r.1)
        || bnd.is_some_and(|r| r.1)
        || sess.iter().any(|r| r.1)
        || res.is_some_and(|r| r.1);
    if any_deny {
        return Decision::ExplicitDeny;
    }
    let root = req.who == Who::Root;
    let identity_allows = root || ids.iter().any(|r| r.0);
    let boundary_allows = bnd.is_none_or(|r| r.0);
    // Session step: a role session without session policies is allowed.
    let session_allows = case.session.is_empty() || sess.iter().any(|r| r.0);
    let how = res.and_then(|r| r.2);
    let identity_path = identity_allows && boundary_allows && session_allows;
    if req.cross_account {
        // Both the trusting account's resource policy and the caller's side.
        return if identity_path && how.is_some() {
            Decision::Allowed
        } else {
            Decision::ImplicitDeny
        };
    }
    if root {
        return Decision::Allowed;
    }
    let allowed = match how {
        // RBP naming the caller itself: added after the session, not limited.
        Some(Named::Exactly) => true,
        // RBP naming the role: (RBP ∩ SP), limited by the boundary too.
        Some(Named::Role) => (boundary_allows && session_allows) || identity_path,
        // RBP naming the account: a delegation only.
        Some(Named::Account) | None => identity_path,
    };
    if allowed {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    }
}

// ---------------------------------------------------------------- strategies

fn g_cond() -> impl Strategy<Value = GCond> {
    let ops = prop::sample::select(vec![
        "StringEquals",
        "StringNotEquals",
        "StringLike",
        "StringNotLike",
        "StringEqualsIfExists",
        "StringNotEqualsIfExists",
        "ForAnyValue:StringEquals",
        "ForAllValues:StringEquals",
        "ForAllValues:StringNotEquals",
        "ForAnyValue:StringNotLike",
        "NumericLessThan",
        "NumericLessThanIfExists",
        "Bool",
        "BoolIfExists",
        "Null",
    ]);
    (
        ops,
        prop::sample::select(vec!["k", "K", "tags", "n", "b", "missing"]),
        0..4usize,
    )
        .prop_flat_map(|(op, key, seed)| {
            let vals: Vec<&'static str> = match op {
                o if o.starts_with("Numeric") => vec!["1", "5", "10", "2.5"],
                o if o.starts_with("Bool") || o == "Null" => vec!["true", "false"],
                _ => vec!["b", "c", "B", "b*", "?", "${aws:username}", "${k}"],
            };
            let _ = seed;
            prop::collection::vec(prop::sample::select(vals), 1..3).prop_map(move |values| GCond {
                op,
                key,
                values,
            })
        })
}

fn g_stmt(resource_policy: bool) -> impl Strategy<Value = GStmt> {
    let actions = prop::collection::vec(
        prop::sample::select(vec![
            "*",
            "s3:*",
            "s3:Get*",
            "S3:getobject",
            "s3:PutObject",
            "iam:List?sers",
            "iam:*",
            "ec2:*Instances",
            "iam:ListUsers",
        ]),
        1..3,
    );
    let resources = prop::collection::vec(
        prop::sample::select(vec![
            "*",
            "arn:aws:s3:::b/*",
            "arn:aws:s3:::*",
            "arn:aws:s3:::b/k",
            "arn:aws:iam::*:user/${aws:username}",
            "arn:aws:s3:::${k}/*",
            "arn:aws:iam::123456789012:user/*",
        ]),
        1..3,
    );
    let principals = prop::collection::vec(
        prop::sample::select(vec![
            "*",
            ACCT,
            OTHER,
            ROOT,
            BOB,
            ROLE,
            SESSION,
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::210987654321:root",
        ]),
        1..3,
    );
    (
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.15),
        actions,
        prop::bool::weighted(0.15),
        resources,
        prop::bool::weighted(if resource_policy { 0.15 } else { 0.0 }),
        principals,
        prop::collection::vec(g_cond(), 0..3),
    )
        .prop_map(
            |(
                allow,
                not_action,
                actions,
                not_resource,
                resources,
                not_principal,
                principals,
                conditions,
            )| GStmt {
                allow,
                not_action,
                actions,
                not_resource,
                resources,
                not_principal,
                principals,
                conditions,
            },
        )
}

fn g_policy(resource_policy: bool) -> impl Strategy<Value = GPolicy> {
    (
        prop::bool::weighted(0.85),
        prop::collection::vec(g_stmt(resource_policy), 1..4),
    )
        .prop_map(|(v2012, statements)| GPolicy { v2012, statements })
}

fn g_request() -> impl Strategy<Value = GRequest> {
    (
        prop::sample::select(vec![
            "s3:GetObject",
            "s3:PutObject",
            "iam:ListUsers",
            "ec2:RunInstances",
            "IAM:listusers",
        ]),
        prop::sample::select(vec![
            "arn:aws:s3:::b/k",
            "arn:aws:s3:::c/x",
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam::123456789012:user/alice",
        ]),
        prop::sample::select(vec![Who::User, Who::Root, Who::Session]),
        prop::bool::weighted(0.25),
        prop::bool::ANY,
        prop::option::of(prop::sample::select(vec!["b", "c", "B"])),
        prop::option::of(prop::collection::vec(
            prop::sample::select(vec!["b", "c", "B"]),
            0..3,
        )),
        prop::option::of(prop::sample::select(vec!["0", "3", "5", "12"])),
        prop::option::of(prop::bool::ANY),
    )
        .prop_map(
            |(action, resource, who, cross_account, username, k, tags, n, b)| GRequest {
                action,
                resource,
                who,
                cross_account,
                username,
                k,
                tags,
                n,
                b,
            },
        )
}

fn g_case() -> impl Strategy<Value = GCase> {
    (
        prop::collection::vec(g_policy(false), 0..3),
        prop::option::of(g_policy(false)),
        prop::collection::vec(g_policy(false), 0..2),
        prop::option::of(g_policy(true)),
        g_request(),
    )
        .prop_map(|(identity, boundary, session, resource, request)| {
            let root = request.who == Who::Root;
            GCase {
                // the root user has no identity policies, boundary or session policies
                identity: if root { vec![] } else { identity },
                boundary: if root { None } else { boundary },
                session: if request.who == Who::Session {
                    session
                } else {
                    vec![]
                },
                resource,
                request,
            }
        })
}

// ---------------------------------------------------------------- the test

fn contexts(req: &GRequest) -> (RequestContext, RefCtx) {
    let (arn, account) = principal_of(req);
    let mut b = RequestContext::builder(req.action, req.resource).principal(arn, account);
    let mut keys: HashMap<String, (Vec<String>, bool)> = HashMap::new();
    if req.username && req.who == Who::User {
        b = b.string("aws:username", "bob");
        keys.insert("aws:username".into(), (vec!["bob".into()], false));
    }
    if let Some(k) = req.k {
        b = b.string("k", k);
        keys.insert("k".into(), (vec![k.into()], false));
    }
    if let Some(tags) = &req.tags {
        b = b.strings("tags", tags.iter().copied());
        keys.insert(
            "tags".into(),
            (tags.iter().map(|s| s.to_string()).collect(), true),
        );
    }
    if let Some(n) = req.n {
        b = b.string("n", n);
        keys.insert("n".into(), (vec![n.into()], false));
    }
    if let Some(v) = req.b {
        b = b.boolean("b", v);
        keys.insert("b".into(), (vec![v.to_string()], false));
    }
    let r = RefCtx {
        action: req.action.into(),
        resource: req.resource.into(),
        keys,
    };
    (b.build(), r)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn engine_agrees_with_reference(case in g_case()) {
        let compile = |p: &GPolicy, kind: PolicyKind| {
            let doc = render(p, kind == PolicyKind::Resource);
            parse(&doc, kind).unwrap_or_else(|e| panic!("{e}: {doc}"))
        };
        let ids: Vec<CompiledPolicy> = case.identity.iter().map(|p| compile(p, PolicyKind::Identity)).collect();
        let bnd = case.boundary.as_ref().map(|p| compile(p, PolicyKind::PermissionsBoundary));
        let sess: Vec<CompiledPolicy> = case.session.iter().map(|p| compile(p, PolicyKind::Session)).collect();
        let res = case.resource.as_ref().map(|p| compile(p, PolicyKind::Resource));
        let id_refs: Vec<(&str, &CompiledPolicy)> = ids.iter().map(|p| ("id", p)).collect();
        let sess_refs: Vec<(&str, &CompiledPolicy)> = sess.iter().map(|p| ("sess", p)).collect();
        let principal = match case.request.who {
            Who::User => PrincipalInfo::user(BOB, ACCT),
            Who::Root => PrincipalInfo::root(ROOT, ACCT),
            Who::Session => PrincipalInfo::role_session(SESSION, ROLE, ACCT),
        };
        let set = PolicySet {
            identity: &id_refs,
            boundary: bnd.as_ref().map(|p| ("bnd", p)),
            session: &sess_refs,
            resource: res.as_ref().map(|p| ("res", p)),
            covering: &[],
            resource_owner: Some(if case.request.cross_account { OTHER } else { ACCT }),
            principal,
        };
        let (ctx, rctx) = contexts(&case.request);
        let expected = reference_decide(&case, &rctx);
        let fast = decide(&set, &ctx);
        let full = explain(&set, &ctx);
        prop_assert_eq!(fast, full.decision);
        prop_assert_eq!(fast, expected, "case: {:#?}", case);
        // The cross-policy index gives the same decision and the same reasons.
        let index = IdentityIndex::new(&id_refs);
        prop_assert_eq!(decide_with_index(&set, Some(&index), &ctx), fast);
        prop_assert_eq!(explain_with_index(&set, Some(&index), &ctx), full);
    }
}
