//! Tests of the public API: parse errors, evaluation and decision logic, denial
//! messages, and property tests that parsing never panics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use time::macros::datetime;

use super::*;

const ACCT: &str = "123456789012";
const OTHER: &str = "210987654321";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const ROOT: &str = "arn:aws:iam::123456789012:root";
const ROLE: &str = "arn:aws:iam::123456789012:role/app";
const SESSION: &str = "arn:aws:sts::123456789012:assumed-role/app/s1";

fn p(doc: &str, kind: PolicyKind) -> CompiledPolicy {
    match parse(doc, kind) {
        Ok(c) => c,
        Err(e) => panic!("{e}: {doc}"),
    }
}

fn id(doc: &str) -> CompiledPolicy {
    p(doc, PolicyKind::Identity)
}

fn err(doc: &str, kind: PolicyKind) -> PolicyError {
    match parse(doc, kind) {
        Ok(_) => panic!("accepted: {doc}"),
        Err(e) => e,
    }
}

fn assert_err(doc: &str, kind: PolicyKind, needle: &str) {
    let e = err(doc, kind);
    assert_eq!(e.code(), "MalformedPolicyDocument", "{e}");
    assert!(e.message().contains(needle), "`{e}` lacks `{needle}`");
    assert!(
        e.message()
            .chars()
            .next()
            .is_some_and(|c| !c.is_uppercase()),
        "{e}"
    );
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}}}"#
    )
}

fn deny(action: &str, resource: &str) -> String {
    allow(action, resource).replace("Allow", "Deny")
}

fn ctx(action: &str, resource: &str) -> RequestContext {
    RequestContext::builder(action, resource)
        .principal(BOB, ACCT)
        .string("aws:username", "bob")
        .build()
}

// ---------------------------------------------------------------- parsing

#[test]
fn accepts_valid_documents() {
    id(&allow("iam:ListUsers", "*"));
    id(
        r#"{"Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}"#,
    );
    id(
        r#"{"Version":"2008-10-17","Id":"x","Statement":[{"Sid":"A1","Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:iam::*"}]}"#,
    );
    id(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"","Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":3600},"Bool":{"aws:SecureTransport":true},"StringEquals":{"k":["a","b"]}}}}"#,
    );
    p(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#,
        PolicyKind::Trust,
    );
    p(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}"#,
        PolicyKind::Resource,
    );
    p(
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:user/bob","arn:aws:sts::123456789012:assumed-role/app/s1"]},"Action":"sts:AssumeRole"}}"#,
        PolicyKind::Trust,
    );
    p(
        r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"*","Resource":"*"}}"#,
        PolicyKind::Resource,
    );
}

#[test]
fn rejects_grammar_errors() {
    let k = PolicyKind::Identity;
    assert_err("", k, "empty");
    assert_err("   \n", k, "empty");
    assert_err("[]", k, "json object");
    assert_err("{", k, "not valid json");
    assert_err(r#"{"Statement":[]}"#, k, "at least one statement");
    assert_err(r#"{"Version":"2012-10-17"}"#, k, "`Statement` is missing");
    assert_err(
        r#"{"Version":"2012-10-18","Statement":{}}"#,
        k,
        "`2012-10-18`",
    );
    assert_err(
        r#"{"Version":2012,"Statement":{}}"#,
        k,
        "`Version` must be a string",
    );
    assert_err(r#"{"Statement":"x"}"#, k, "`Statement` must be an object");
    assert_err(r#"{"Statement":[1]}"#, k, "statement 1 must be an object");
    assert_err(r#"{"Foo":1,"Statement":{}}"#, k, "unknown element `Foo`");
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Foo":1}}"#,
        k,
        "unknown element `Foo` in statement 1",
    );
    assert_err(
        r#"{"Statement":{"Action":"*","Resource":"*"}}"#,
        k,
        "`Effect` is missing",
    );
    assert_err(
        r#"{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#,
        k,
        "found `allow`",
    );
    assert_err(
        r#"{"Statement":{"Effect":true,"Action":"*","Resource":"*"}}"#,
        k,
        "`Effect` in statement 1 must be a string",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
        k,
        "exactly one of `Action` or `NotAction`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}}"#,
        k,
        "exactly one of `Action` or `NotAction`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*"}}"#,
        k,
        "`Resource` is missing",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}}"#,
        k,
        "both `Resource` and `NotResource`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"iamListUsers","Resource":"*"}}"#,
        k,
        "invalid action `iamListUsers`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"iam:","Resource":"*"}}"#,
        k,
        "invalid action `iam:`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":["iam:Get", 3],"Resource":"*"}}"#,
        k,
        "must contain only strings",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
        k,
        "empty list",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":{},"Resource":"*"}}"#,
        k,
        "`Action` in statement 1 must be a string or a list",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"bucket"}}"#,
        k,
        "invalid resource `bucket`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":[]}}"#,
        k,
        "`Condition` in statement 1 must be an object",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":"x"}}}"#,
        k,
        "`StringEquals`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":null}}}}"#,
        k,
        "condition key `k`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":[]}}}}"#,
        k,
        "at least one value",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":[{"a":1}]}}}}"#,
        k,
        "condition key `k`",
    );
}

#[test]
fn rejects_sids() {
    let k = PolicyKind::Identity;
    assert_err(
        r#"{"Statement":{"Sid":"has space","Effect":"Allow","Action":"*","Resource":"*"}}"#,
        k,
        "invalid `Sid` `has space`",
    );
    assert_err(
        r#"{"Statement":{"Sid":"a-b","Effect":"Allow","Action":"*","Resource":"*"}}"#,
        k,
        "invalid `Sid` `a-b`",
    );
    assert_err(
        r#"{"Statement":{"Sid":5,"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        k,
        "`Sid` in statement 1 must be a string",
    );
    assert_err(
        r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}"#,
        k,
        "duplicate `Sid` `A`",
    );
    // statements are named by Sid in later errors
    assert_err(
        r#"{"Statement":{"Sid":"Named","Effect":"Maybe","Action":"*","Resource":"*"}}"#,
        k,
        "statement `Named`",
    );
}

#[test]
fn rejects_duplicate_keys() {
    let k = PolicyKind::Identity;
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}}"#,
        k,
        "duplicate key `Effect`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"},"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        k,
        "duplicate key `Statement`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"k":"true","k":"false"}}}}"#,
        k,
        "duplicate key `k`",
    );
}

#[test]
fn rejects_characters_outside_the_allowed_range() {
    let k = PolicyKind::Identity;
    assert_err(
        &allow("iam:ListUsers", "arn:aws:s3:::b/\u{100}"),
        k,
        "`U+0100`",
    );
    assert_err(
        &allow("iam:ListUsers", "arn:aws:s3:::b/\u{1}"),
        k,
        "`U+0001`",
    );
    assert_err(
        &allow("iam:ListUsers", "arn:aws:s3:::b/\u{1F600}"),
        k,
        "`U+1F600`",
    );
    // Latin-1 is allowed
    id(&allow("iam:ListUsers", "arn:aws:s3:::b/\u{e9}\u{ff}"));
}

#[test]
fn rejects_unknown_condition_operators() {
    let k = PolicyKind::Identity;
    for op in [
        "StringEqualz",
        "stringequals",
        "NullIfExists",
        "ForAllValues:Null",
        "ForEach:StringEquals",
    ] {
        let doc = format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"{op}":{{"k":"v"}}}}}}}}"#
        );
        assert_err(&doc, k, &format!("unknown condition operator `{op}`"));
    }
    let doc = r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}}}"#;
    assert_err(doc, k, "invalid ip address `nope`");
}

#[test]
fn principal_rules_depend_on_kind() {
    let with_principal =
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#;
    for k in [
        PolicyKind::Identity,
        PolicyKind::PermissionsBoundary,
        PolicyKind::Session,
    ] {
        assert_err(with_principal, k, "`Principal` is not allowed");
        assert_err(
            &with_principal.replace("Principal", "NotPrincipal"),
            k,
            "`NotPrincipal` is not allowed",
        );
    }
    p(with_principal, PolicyKind::Resource);
    let without = r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#;
    assert_err(without, PolicyKind::Trust, "`Principal` is missing");
    assert_err(
        &allow("s3:GetObject", "*"),
        PolicyKind::Resource,
        "`Principal` is missing",
    );
    // Resource is optional only in trust policies
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}"#,
        PolicyKind::Resource,
        "`Resource` is missing",
    );
    let t = PolicyKind::Trust;
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Principal":"bob","Action":"sts:AssumeRole"}}"#,
        t,
        "must be `*` or an object",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Principal":{},"Action":"sts:AssumeRole"}}"#,
        t,
        "must not be empty",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Principal":{"Group":"x"},"Action":"sts:AssumeRole"}}"#,
        t,
        "unknown principal type `Group`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/*"},"Action":"sts:AssumeRole"}}"#,
        t,
        "invalid principal `arn:aws:iam::123456789012:user/*`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}}"#,
        t,
        "invalid principal `bob`",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":[]},"Action":"sts:AssumeRole"}}"#,
        t,
        "empty list",
    );
    assert_err(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"sts:AssumeRole"}}"#,
        t,
        "both `Principal` and `NotPrincipal`",
    );
}

#[test]
fn size_limits() {
    assert_eq!(non_whitespace_len(" { \"a\" :\t1 }\n"), 7);
    assert_eq!(max_size(PolicyKind::Identity), 6144);
    assert_eq!(max_size(PolicyKind::Trust), 2048);
    assert_eq!(max_size(PolicyKind::Session), 2048);
    let long = allow(
        "iam:ListUsers",
        &format!("arn:aws:s3:::{}", "a".repeat(6200)),
    );
    let e = err(&long, PolicyKind::Identity);
    assert_eq!(e.code(), "LimitExceeded");
    assert!(e.message().contains("6144"), "{e}");
    // whitespace does not count
    let padded = format!("{}{}", allow("iam:ListUsers", "*"), " ".repeat(10_000));
    id(&padded);
    let huge = " ".repeat(MAX_INPUT_BYTES + 1);
    assert_eq!(err(&huge, PolicyKind::Identity).code(), "LimitExceeded");
    let trust = format!(
        r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":[{}]}},"Action":"sts:AssumeRole"}}}}"#,
        vec!["\"123456789012\""; 200].join(",")
    );
    assert_eq!(err(&trust, PolicyKind::Trust).code(), "LimitExceeded");
    assert!(parse_with_limit(&long, PolicyKind::Identity, 10_240).is_ok());
}

#[test]
fn compiled_policy_accessors() {
    let c = id(
        r#"{"Version":"2012-10-17","Id":"pol1","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}"#,
    );
    assert_eq!(c.kind(), PolicyKind::Identity);
    assert_eq!(c.id(), Some("pol1"));
    assert_eq!(c.version(), Some(PolicyVersion::V2012_10_17));
    assert_eq!(c.statement_count(), 2);
    assert_eq!(c.candidates("s3:getobject").collect::<Vec<_>>(), vec![0]);
    assert_eq!(c.candidates("iam:getuser").collect::<Vec<_>>(), vec![1]);
    assert!(c.candidates("ec2:runinstances").next().is_none());
    let c = id(
        r#"{"Statement":[{"Effect":"Allow","Action":["s3:Get","*"],"Resource":"*"},{"Effect":"Allow","NotAction":"iam:*","Resource":"*"},{"Effect":"Allow","Action":["S3:Put","IAM:Get"],"Resource":"*"},{"Effect":"Allow","Action":"s3*:x","Resource":"*"}]}"#,
    );
    assert_eq!(c.candidates("s3:put").collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert_eq!(
        c.candidates("iam:get").collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert_eq!(c.candidates("ec2:x").collect::<Vec<_>>(), vec![0, 1, 3]);
}

#[test]
fn error_codes() {
    assert_eq!(
        PolicyError::Malformed("x".into()).code(),
        "MalformedPolicyDocument"
    );
    assert_eq!(
        PolicyError::LimitExceeded("x".into()).code(),
        "LimitExceeded"
    );
}

// ---------------------------------------------------------------- evaluation

fn user_set<'a>(identity: &'a [(&'a str, &'a CompiledPolicy)]) -> PolicySet<'a> {
    PolicySet {
        identity,
        ..PolicySet::new(PrincipalInfo::user(BOB, ACCT))
    }
}

#[test]
fn implicit_deny_by_default() {
    let set = user_set(&[]);
    let c = ctx("iam:ListUsers", "*");
    assert_eq!(decide(&set, &c), Decision::ImplicitDeny);
    let e = explain(&set, &c);
    assert_eq!(e.missing, Some(PolicyType::Identity));
    assert!(e.matched.is_empty());
}

#[test]
fn action_and_resource_matching() {
    let pol = id(&allow("IAM:list*", "arn:aws:iam::123456789012:user/*"));
    let binding = [("p1", &pol)];
    let set = user_set(&binding);
    assert_eq!(
        decide(
            &set,
            &ctx("iam:ListUsers", "arn:aws:iam::123456789012:user/x")
        ),
        Decision::Allowed
    );
    assert_eq!(
        decide(
            &set,
            &ctx("iam:listusers", "arn:aws:iam::123456789012:user/a/b")
        ),
        Decision::Allowed
    );
    assert_eq!(
        decide(
            &set,
            &ctx("iam:GetUser", "arn:aws:iam::123456789012:user/x")
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &set,
            &ctx("iam:ListUsers", "arn:aws:iam::123456789012:role/x")
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &set,
            &ctx("iam:ListUsers", "arn:aws:iam::123456789012:USER/x")
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &set,
            &ctx("s3:ListUsers", "arn:aws:iam::123456789012:user/x")
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn not_action_and_not_resource() {
    let pol = id(
        r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:s3:::secret/*"}}"#,
    );
    let binding = [("p", &pol)];
    let set = user_set(&binding);
    assert_eq!(
        decide(&set, &ctx("s3:GetObject", "arn:aws:s3:::b/k")),
        Decision::Allowed
    );
    assert_eq!(
        decide(&set, &ctx("s3:GetObject", "arn:aws:s3:::secret/k")),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&set, &ctx("iam:ListUsers", "arn:aws:s3:::b/k")),
        Decision::ImplicitDeny
    );
}

#[test]
fn explicit_deny_wins() {
    let a = id(&allow("*", "*"));
    let d = id(r#"{"Statement":{"Sid":"NoIam","Effect":"Deny","Action":"iam:*","Resource":"*"}}"#);
    let binding = [("allow", &a), ("deny", &d)];
    let set = user_set(&binding);
    let c = ctx("iam:ListUsers", "*");
    assert_eq!(decide(&set, &c), Decision::ExplicitDeny);
    let e = explain(&set, &c);
    assert_eq!(e.decision, Decision::ExplicitDeny);
    assert_eq!(e.deny_in, Some(PolicyType::Identity));
    assert_eq!(e.matched.len(), 2);
    assert_eq!(e.matched[0].sid_or_index, "0");
    assert_eq!(
        e.matched[1],
        MatchedStatement {
            policy_type: PolicyType::Identity,
            policy_id: "deny".into(),
            sid_or_index: "NoIam".into(),
            effect: Effect::Deny,
        }
    );
    assert_eq!(decide(&set, &ctx("s3:GetObject", "*")), Decision::Allowed);
}

#[test]
fn boundary_intersection() {
    let a = id(&allow("*", "*"));
    let b = p(&allow("s3:*", "*"), PolicyKind::PermissionsBoundary);
    let binding = [("a", &a)];
    let set = PolicySet {
        boundary: Some(("b", &b)),
        ..user_set(&binding)
    };
    assert_eq!(decide(&set, &ctx("s3:GetObject", "*")), Decision::Allowed);
    let e = explain(&set, &ctx("iam:ListUsers", "*"));
    assert_eq!(e.decision, Decision::ImplicitDeny);
    assert_eq!(e.missing, Some(PolicyType::PermissionsBoundary));
    // the boundary alone grants nothing
    let set = PolicySet {
        boundary: Some(("b", &b)),
        ..user_set(&[])
    };
    assert_eq!(
        explain(&set, &ctx("s3:GetObject", "*")).missing,
        Some(PolicyType::Identity)
    );
    // a deny in the boundary is an explicit deny
    let bd = p(
        r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#,
        PolicyKind::PermissionsBoundary,
    );
    let set = PolicySet {
        boundary: Some(("b", &bd)),
        ..user_set(&binding)
    };
    let e = explain(&set, &ctx("s3:DeleteBucket", "*"));
    assert_eq!(e.deny_in, Some(PolicyType::PermissionsBoundary));
}

fn session_principal() -> PrincipalInfo<'static> {
    PrincipalInfo::role_session(SESSION, ROLE, ACCT)
}

#[test]
fn session_policy_intersection() {
    let a = id(&allow("*", "*"));
    let s = p(&allow("s3:Get*", "*"), PolicyKind::Session);
    let ids = [("a", &a)];
    let sess = [("s", &s)];
    let set = PolicySet {
        identity: &ids,
        session: &sess,
        ..PolicySet::new(session_principal())
    };
    assert_eq!(decide(&set, &ctx("s3:GetObject", "*")), Decision::Allowed);
    let e = explain(&set, &ctx("s3:PutObject", "*"));
    assert_eq!(
        (e.decision, e.missing),
        (Decision::ImplicitDeny, Some(PolicyType::Session))
    );
    // a role session without session policies keeps the role's permissions
    let set = PolicySet {
        identity: &ids,
        ..PolicySet::new(session_principal())
    };
    assert_eq!(decide(&set, &ctx("s3:PutObject", "*")), Decision::Allowed);
    // a federated-user session without session policies gets nothing
    let fed =
        PrincipalInfo::federated_user("arn:aws:sts::123456789012:federated-user/f", BOB, ACCT);
    let set = PolicySet {
        identity: &ids,
        ..PolicySet::new(fed)
    };
    assert_eq!(
        explain(&set, &ctx("s3:PutObject", "*")).missing,
        Some(PolicyType::Session)
    );
    let set = PolicySet {
        identity: &ids,
        session: &sess,
        ..PolicySet::new(fed)
    };
    assert_eq!(decide(&set, &ctx("s3:GetObject", "*")), Decision::Allowed);
    // multiple session policies: any of them allowing suffices
    let s2 = p(&allow("s3:Put*", "*"), PolicyKind::Session);
    let sess2 = [("s", &s), ("s2", &s2)];
    let set = PolicySet {
        identity: &ids,
        session: &sess2,
        ..PolicySet::new(session_principal())
    };
    assert_eq!(decide(&set, &ctx("s3:PutObject", "*")), Decision::Allowed);
    // a deny in a session policy
    let sd = p(&deny("s3:*", "*"), PolicyKind::Session);
    let sessd = [("sd", &sd)];
    let set = PolicySet {
        identity: &ids,
        session: &sessd,
        ..PolicySet::new(session_principal())
    };
    assert_eq!(
        explain(&set, &ctx("s3:GetObject", "*")).deny_in,
        Some(PolicyType::Session)
    );
}

fn rp(principal: &str) -> CompiledPolicy {
    p(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Sid":"Rp","Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}}}"#
        ),
        PolicyKind::Resource,
    )
}

#[test]
fn resource_policy_grants_within_the_account() {
    let res = "arn:aws:s3:::b/k";
    let c = ctx("s3:GetObject", res);
    // user ARN named: allowed with no identity policy, even outside the boundary
    let r = rp(&format!(r#"{{"AWS":"{BOB}"}}"#));
    let b = p(&allow("iam:*", "*"), PolicyKind::PermissionsBoundary);
    let set = PolicySet {
        resource: Some(("r", &r)),
        boundary: Some(("b", &b)),
        ..user_set(&[])
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
    let e = explain(&set, &c);
    assert_eq!(e.matched.len(), 1);
    assert_eq!(e.matched[0].policy_type, PolicyType::Resource);
    assert_eq!(e.matched[0].sid_or_index, "Rp");
    // `*` grants to anyone in the account
    let r = rp(r#""*""#);
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..user_set(&[])
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
    // naming the account only delegates: identity policy still needed
    let r = rp(&format!(r#"{{"AWS":"{ACCT}"}}"#));
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..user_set(&[])
    };
    assert_eq!(explain(&set, &c).missing, Some(PolicyType::Identity));
    let a = id(&allow("s3:GetObject", "*"));
    let ids = [("a", &a)];
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..user_set(&ids)
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
    // someone else named: nothing
    let r = rp(r#"{"AWS":"arn:aws:iam::123456789012:user/alice"}"#);
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..user_set(&[])
    };
    assert_eq!(decide(&set, &c), Decision::ImplicitDeny);
    // explicit deny in the resource policy beats an identity allow
    let rd = p(
        r#"{"Statement":{"Effect":"Deny","Principal":{"AWS":"123456789012"},"Action":"s3:*","Resource":"*"}}"#,
        PolicyKind::Resource,
    );
    let set = PolicySet {
        resource: Some(("r", &rd)),
        ..user_set(&ids)
    };
    let e = explain(&set, &c);
    assert_eq!(
        (e.decision, e.deny_in),
        (Decision::ExplicitDeny, Some(PolicyType::Resource))
    );
}

#[test]
fn resource_policy_and_sessions() {
    let c = ctx("s3:GetObject", "arn:aws:s3:::b/k");
    let s = p(&allow("iam:*", "*"), PolicyKind::Session);
    let sess = [("s", &s)];
    // session ARN named: not limited by the session policy
    let r = rp(&format!(r#"{{"AWS":"{SESSION}"}}"#));
    let set = PolicySet {
        resource: Some(("r", &r)),
        session: &sess,
        ..PolicySet::new(session_principal())
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
    // role ARN named: limited by the session policy
    let r = rp(&format!(r#"{{"AWS":"{ROLE}"}}"#));
    let set = PolicySet {
        resource: Some(("r", &r)),
        session: &sess,
        ..PolicySet::new(session_principal())
    };
    let e = explain(&set, &c);
    assert_eq!(e.decision, Decision::ImplicitDeny);
    // ... and by the boundary
    let b = p(&allow("iam:*", "*"), PolicyKind::PermissionsBoundary);
    let set = PolicySet {
        resource: Some(("r", &r)),
        boundary: Some(("b", &b)),
        ..PolicySet::new(session_principal())
    };
    assert_eq!(decide(&set, &c), Decision::ImplicitDeny);
    // ... but grants when the session policy allows it, without identity policies
    let s3 = p(&allow("s3:*", "*"), PolicyKind::Session);
    let sess3 = [("s", &s3)];
    let set = PolicySet {
        resource: Some(("r", &r)),
        session: &sess3,
        ..PolicySet::new(session_principal())
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
    // role ARN named and no session policy: allowed
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..PolicySet::new(session_principal())
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
    // federated session: naming the session ARN grants; naming the user is limited
    let fed_arn = "arn:aws:sts::123456789012:federated-user/f";
    let fed = PrincipalInfo::federated_user(fed_arn, BOB, ACCT);
    let r = rp(&format!(r#"{{"AWS":"{fed_arn}"}}"#));
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..PolicySet::new(fed)
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
    let r = rp(&format!(r#"{{"AWS":"{BOB}"}}"#));
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..PolicySet::new(fed)
    };
    assert_eq!(decide(&set, &c), Decision::ImplicitDeny);
    let set = PolicySet {
        resource: Some(("r", &r)),
        session: &sess3,
        ..PolicySet::new(fed)
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
}

#[test]
fn cross_account_needs_both_sides() {
    let c = ctx("s3:GetObject", "arn:aws:s3:::b/k");
    let a = id(&allow("s3:*", "*"));
    let ids = [("a", &a)];
    let r = rp(&format!(r#"{{"AWS":"{BOB}"}}"#));
    let base = PolicySet {
        resource_owner: Some(OTHER),
        ..user_set(&ids)
    };
    // identity only
    let e = explain(&base, &c);
    assert_eq!(
        (e.decision, e.missing),
        (Decision::ImplicitDeny, Some(PolicyType::Resource))
    );
    // both
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..base
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
    // resource only
    let set = PolicySet {
        resource: Some(("r", &r)),
        resource_owner: Some(OTHER),
        ..user_set(&[])
    };
    assert_eq!(explain(&set, &c).missing, Some(PolicyType::Identity));
    // resource policy naming the principal's account suffices with identity allow
    let r = rp(&format!(r#"{{"AWS":"arn:aws:iam::{ACCT}:root"}}"#));
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..base
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
    // cross-account session: boundary and session policies still apply
    let s = p(&allow("iam:*", "*"), PolicyKind::Session);
    let sess = [("s", &s)];
    let r = rp(&format!(r#"{{"AWS":"{SESSION}"}}"#));
    let set = PolicySet {
        identity: &ids,
        session: &sess,
        resource: Some(("r", &r)),
        resource_owner: Some(OTHER),
        ..PolicySet::new(session_principal())
    };
    assert_eq!(explain(&set, &c).missing, Some(PolicyType::Session));
}

#[test]
fn root_user() {
    let c = ctx("iam:DeleteUser", "arn:aws:iam::123456789012:user/x");
    let root = PolicySet::new(PrincipalInfo::root(ROOT, ACCT));
    assert_eq!(decide(&root, &c), Decision::Allowed);
    let rd = p(
        r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"iam:*","Resource":"*"}}"#,
        PolicyKind::Resource,
    );
    let set = PolicySet {
        resource: Some(("r", &rd)),
        ..root
    };
    assert_eq!(decide(&set, &c), Decision::ExplicitDeny);
    // another account's root needs that account's resource policy
    let other_root = PolicySet {
        resource_owner: Some(OTHER),
        ..root
    };
    assert_eq!(decide(&other_root, &c), Decision::ImplicitDeny);
    let r = p(
        &format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"{ACCT}"}},"Action":"iam:*","Resource":"*"}}}}"#
        ),
        PolicyKind::Resource,
    );
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..other_root
    };
    assert_eq!(decide(&set, &c), Decision::Allowed);
}

fn trust(principal: &str) -> CompiledPolicy {
    p(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"}}}}"#
        ),
        PolicyKind::Trust,
    )
}

#[test]
fn trust_policies() {
    let c = ctx("sts:AssumeRole", ROLE);
    let a = id(&allow("sts:AssumeRole", "*"));
    let ids = [("a", &a)];
    // identity allow alone is not enough
    let set = user_set(&ids);
    let t = trust(r#"{"AWS":"arn:aws:iam::123456789012:user/alice"}"#);
    let set_t = PolicySet {
        resource: Some(("trust", &t)),
        ..set
    };
    let e = explain(&set_t, &c);
    assert_eq!(
        (e.decision, e.missing),
        (Decision::ImplicitDeny, Some(PolicyType::Resource))
    );
    // naming the user directly: allowed even without identity policy
    let t = trust(&format!(r#"{{"AWS":"{BOB}"}}"#));
    let set_t = PolicySet {
        resource: Some(("trust", &t)),
        ..user_set(&[])
    };
    assert_eq!(decide(&set_t, &c), Decision::Allowed);
    // naming the account: identity policy needed
    let t = trust(&format!(r#"{{"AWS":"{ACCT}"}}"#));
    let set_t = PolicySet {
        resource: Some(("trust", &t)),
        ..user_set(&[])
    };
    assert_eq!(explain(&set_t, &c).missing, Some(PolicyType::Identity));
    let set_t = PolicySet {
        resource: Some(("trust", &t)),
        ..user_set(&ids)
    };
    assert_eq!(decide(&set_t, &c), Decision::Allowed);
    // services
    let t = trust(r#"{"Service":["ec2.amazonaws.com"]}"#);
    let svc = PolicySet {
        resource: Some(("trust", &t)),
        ..PolicySet::new(PrincipalInfo::service("ec2.amazonaws.com"))
    };
    assert_eq!(decide(&svc, &c), Decision::Allowed);
    let svc2 = PolicySet {
        resource: Some(("trust", &t)),
        ..PolicySet::new(PrincipalInfo::service("lambda.amazonaws.com"))
    };
    assert_eq!(decide(&svc2, &c), Decision::ImplicitDeny);
    let user = PolicySet {
        resource: Some(("trust", &t)),
        ..user_set(&ids)
    };
    assert_eq!(decide(&user, &c), Decision::ImplicitDeny);
    // anonymous callers match only `*`
    let anon = PolicySet {
        resource: Some(("trust", &t)),
        ..PolicySet::new(PrincipalInfo::anonymous())
    };
    assert_eq!(decide(&anon, &c), Decision::ImplicitDeny);
    let t = trust(r#""*""#);
    let anon = PolicySet {
        resource: Some(("trust", &t)),
        ..PolicySet::new(PrincipalInfo::anonymous())
    };
    assert_eq!(decide(&anon, &c), Decision::Allowed);
}

#[test]
fn not_principal() {
    let c = ctx("s3:GetObject", "arn:aws:s3:::b/k");
    let a = id(&allow("s3:*", "*"));
    let ids = [("a", &a)];
    let r = p(
        r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:*","Resource":"*"}}"#,
        PolicyKind::Resource,
    );
    let set = PolicySet {
        resource: Some(("r", &r)),
        ..user_set(&ids)
    };
    assert_eq!(decide(&set, &c), Decision::ExplicitDeny);
    let alice = PolicySet {
        identity: &ids,
        resource: Some(("r", &r)),
        ..PolicySet::new(PrincipalInfo::user(
            "arn:aws:iam::123456789012:user/alice",
            ACCT,
        ))
    };
    assert_eq!(decide(&alice, &c), Decision::Allowed);
}

#[test]
fn conditions_in_statements() {
    let pol = id(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.1.0/24"]},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}}"#,
    );
    let binding = [("p", &pol)];
    let set = user_set(&binding);
    let base = || {
        RequestContext::builder("s3:GetObject", "*")
            .current_time(datetime!(2025-01-01 00:00 UTC))
            .boolean("aws:SecureTransport", true)
    };
    let good = base()
        .ip("aws:SourceIp", "192.168.1.7".parse().unwrap())
        .build();
    assert_eq!(decide(&set, &good), Decision::Allowed);
    let bad_ip = base()
        .ip("aws:SourceIp", "192.168.2.7".parse().unwrap())
        .build();
    assert_eq!(decide(&set, &bad_ip), Decision::ImplicitDeny);
    let no_ip = base().build();
    assert_eq!(decide(&set, &no_ip), Decision::ImplicitDeny);
    let late = RequestContext::builder("s3:GetObject", "*")
        .current_time(datetime!(2031-01-01 00:00 UTC))
        .boolean("aws:SecureTransport", true)
        .ip("aws:SourceIp", "10.0.0.1".parse().unwrap())
        .build();
    assert_eq!(decide(&set, &late), Decision::ImplicitDeny);
    // recommended MFA guard: Deny + BoolIfExists false
    let guard = id(
        r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
    );
    let binding = [("g", &guard)];
    let set = user_set(&binding);
    // it also denies long-term keys, which carry no MFA key at all
    let long_term = RequestContext::builder("s3:GetObject", "*").build();
    assert_eq!(decide(&set, &long_term), Decision::ExplicitDeny);
    let no_mfa = RequestContext::builder("s3:GetObject", "*")
        .boolean("aws:MultiFactorAuthPresent", false)
        .build();
    assert_eq!(decide(&set, &no_mfa), Decision::ExplicitDeny);
    let mfa = RequestContext::builder("s3:GetObject", "*")
        .boolean("aws:MultiFactorAuthPresent", true)
        .build();
    assert_eq!(decide(&set, &mfa), Decision::Allowed);
    // Deny + Bool false does not deny long-term keys
    let weak = id(
        r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":false}}}]}"#,
    );
    let binding = [("w", &weak)];
    let set = user_set(&binding);
    assert_eq!(decide(&set, &long_term), Decision::Allowed);
    assert_eq!(decide(&set, &no_mfa), Decision::ExplicitDeny);
}

#[test]
fn variables_in_resources_and_conditions() {
    let pol = id(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::*:user/${aws:username}"},{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:PrincipalTag/team, 'shared'}/*"},{"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"${aws:username}/"}}}]}"#,
    );
    let binding = [("p", &pol)];
    let set = user_set(&binding);
    assert_eq!(
        decide(&set, &ctx("iam:CreateAccessKey", BOB)),
        Decision::Allowed
    );
    assert_eq!(
        decide(
            &set,
            &ctx(
                "iam:CreateAccessKey",
                "arn:aws:iam::123456789012:user/alice"
            )
        ),
        Decision::ImplicitDeny
    );
    // no username (e.g. a role session): matches nothing
    let no_user =
        RequestContext::builder("iam:CreateAccessKey", "arn:aws:iam::123456789012:user/").build();
    assert_eq!(decide(&set, &no_user), Decision::ImplicitDeny);
    let no_user = RequestContext::builder(
        "iam:CreateAccessKey",
        "arn:aws:iam::123456789012:user/${aws:username}",
    )
    .build();
    assert_eq!(decide(&set, &no_user), Decision::ImplicitDeny);
    // defaults
    assert_eq!(
        decide(&set, &ctx("s3:GetObject", "arn:aws:s3:::home/shared/x")),
        Decision::Allowed
    );
    let tagged = RequestContext::builder("s3:GetObject", "arn:aws:s3:::home/red/x")
        .string("aws:PrincipalTag/team", "red")
        .build();
    assert_eq!(decide(&set, &tagged), Decision::Allowed);
    // condition values
    let put = RequestContext::builder("s3:PutObject", "*")
        .string("aws:username", "bob")
        .string("s3:prefix", "bob/")
        .build();
    assert_eq!(decide(&set, &put), Decision::Allowed);
    let put = RequestContext::builder("s3:PutObject", "*")
        .string("aws:username", "bob")
        .string("s3:prefix", "alice/")
        .build();
    assert_eq!(decide(&set, &put), Decision::ImplicitDeny);
}

#[test]
fn variables_are_literal_without_version_2012() {
    for version in [r#""Version":"2008-10-17","#, ""] {
        let pol = id(&format!(
            r#"{{{version}"Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${{aws:username}}"}}}}"#
        ));
        let binding = [("p", &pol)];
        let set = user_set(&binding);
        assert_eq!(
            decide(&set, &ctx("s3:GetObject", "arn:aws:s3:::home/bob")),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(
                &set,
                &ctx("s3:GetObject", "arn:aws:s3:::home/${aws:username}")
            ),
            Decision::Allowed
        );
    }
}

#[test]
fn escapes_in_resources() {
    let pol = id(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${*}${?}${$}"}}"#,
    );
    let binding = [("p", &pol)];
    let set = user_set(&binding);
    assert_eq!(
        decide(&set, &ctx("s3:GetObject", "arn:aws:s3:::b/*?$")),
        Decision::Allowed
    );
    assert_eq!(
        decide(&set, &ctx("s3:GetObject", "arn:aws:s3:::b/xx$")),
        Decision::ImplicitDeny
    );
}

#[test]
fn not_resource_with_missing_variable_matches_nothing() {
    let pol = id(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::home/${aws:username}/*"}]}"#,
    );
    let binding = [("p", &pol)];
    let set = user_set(&binding);
    assert_eq!(
        decide(&set, &ctx("s3:GetObject", "arn:aws:s3:::home/bob/x")),
        Decision::Allowed
    );
    assert_eq!(
        decide(&set, &ctx("s3:GetObject", "arn:aws:s3:::home/alice/x")),
        Decision::ExplicitDeny
    );
}

#[test]
fn denial_messages() {
    let set = user_set(&[]);
    let c = ctx("iam:ListUsers", "arn:aws:iam::123456789012:user/");
    let e = explain(&set, &c);
    assert_eq!(
        denial_message(BOB, "iam:ListUsers", "arn:aws:iam::123456789012:user/", &e),
        "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::123456789012:user/ because no identity-based policy allows the iam:ListUsers action"
    );
    let d = id(&deny("iam:*", "*"));
    let binding = [("d", &d)];
    let e = explain(&user_set(&binding), &c);
    assert_eq!(
        denial_message(BOB, "iam:ListUsers", "arn:aws:iam::123456789012:user/", &e),
        "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::123456789012:user/ with an explicit deny in an identity-based policy"
    );
    let mk = |decision, missing, deny_in| Evaluation {
        decision,
        matched: vec![],
        missing,
        deny_in,
    };
    let cases = [
        (
            mk(
                Decision::ExplicitDeny,
                None,
                Some(PolicyType::PermissionsBoundary),
            ),
            "with an explicit deny in a permissions boundary",
        ),
        (
            mk(Decision::ExplicitDeny, None, Some(PolicyType::Session)),
            "with an explicit deny in a session policy",
        ),
        (
            mk(Decision::ExplicitDeny, None, Some(PolicyType::Resource)),
            "with an explicit deny in a resource-based policy",
        ),
        (
            mk(
                Decision::ImplicitDeny,
                Some(PolicyType::PermissionsBoundary),
                None,
            ),
            "because no permissions boundary allows the s3:GetObject action",
        ),
        (
            mk(Decision::ImplicitDeny, Some(PolicyType::Session), None),
            "because no session policy allows the s3:GetObject action",
        ),
        (
            mk(Decision::ImplicitDeny, Some(PolicyType::Resource), None),
            "because no resource-based policy allows the s3:GetObject action",
        ),
    ];
    for (e, tail) in cases {
        let m = denial_message(SESSION, "s3:GetObject", "", &e);
        assert_eq!(
            m,
            format!("User: {SESSION} is not authorized to perform: s3:GetObject {tail}")
        );
    }
    assert_eq!(Decision::Allowed.as_str(), "allowed");
    assert_eq!(Decision::ExplicitDeny.as_str(), "explicitDeny");
    assert_eq!(Decision::ImplicitDeny.as_str(), "implicitDeny");
}

#[test]
fn decide_agrees_with_explain_on_fixed_cases() {
    let a = id(&allow("*", "*"));
    let d = id(&deny("iam:*", "*"));
    let binding = [("a", &a), ("d", &d)];
    let set = user_set(&binding);
    for action in ["iam:ListUsers", "s3:GetObject", "ec2:RunInstances"] {
        let c = ctx(action, "*");
        assert_eq!(decide(&set, &c), explain(&set, &c).decision);
    }
}

// ---------------------------------------------------------------- never panics

fn json_ish() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("1".to_string()),
        Just("-0.5e3".to_string()),
        "[a-zA-Z0-9:*?${}/ ,'-]{0,12}".prop_map(|s| format!("{s:?}")),
        prop::sample::select(vec![
            "\"Allow\"",
            "\"Deny\"",
            "\"*\"",
            "\"2012-10-17\"",
            "\"s3:GetObject\"",
            "\"arn:aws:s3:::b/*\"",
            "\"123456789012\"",
            "\"${aws:username}\"",
            "\"10.0.0.0/8\"",
            "\"2020-01-01T00:00:00Z\"",
        ])
        .prop_map(str::to_string),
    ];
    let keys = prop::sample::select(vec![
        "Version",
        "Id",
        "Statement",
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
        "AWS",
        "Service",
        "StringEquals",
        "StringLike",
        "ForAnyValue:StringEquals",
        "NumericLessThan",
        "DateLessThan",
        "IpAddress",
        "Bool",
        "Null",
        "BinaryEquals",
        "ArnLike",
        "aws:username",
        "k",
        "Foo",
    ]);
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|v| {
                let body: Vec<String> = v.into_iter().map(|(k, x)| format!("{k:?}:{x}")).collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_strings(s in "\\PC{0,200}") {
        for kind in [PolicyKind::Identity, PolicyKind::Trust, PolicyKind::Resource] {
            let _ = parse(&s, kind);
        }
    }

    #[test]
    fn parse_never_panics_on_json_ish(s in json_ish()) {
        for kind in [PolicyKind::Identity, PolicyKind::Trust, PolicyKind::Resource, PolicyKind::Session] {
            if let Ok(c) = parse(&s, kind) {
                // and evaluating what parsed does not panic either
                let ctx = RequestContext::builder("s3:GetObject", "arn:aws:s3:::b/k").string("aws:username", "bob").build();
                let binding = [("p", &c)];
                let set = PolicySet { identity: &binding, resource: Some(("r", &c)), ..PolicySet::new(PrincipalInfo::user(BOB, ACCT)) };
                let _ = explain(&set, &ctx);
            }
        }
    }

    #[test]
    fn parse_never_panics_on_statement_shapes(
        stmt in json_ish(),
        wrap in prop::bool::ANY,
    ) {
        let doc = if wrap {
            format!(r#"{{"Version":"2012-10-17","Statement":[{stmt}]}}"#)
        } else {
            format!(r#"{{"Version":"2012-10-17","Statement":{stmt}}}"#)
        };
        let _ = parse(&doc, PolicyKind::Identity);
        let _ = parse(&doc, PolicyKind::Trust);
    }
}

#[test]
fn unsupported_principal_forms_are_rejected_clearly() {
    let canonical = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},"Action":"s3:GetObject","Resource":"*"}]}"#;
    let e = parse(canonical, PolicyKind::Resource).unwrap_err();
    assert!(
        e.message().contains("canonical user principals"),
        "{}",
        e.message()
    );
    let unique = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"AIDAJQABLZS4A3QDU576Q"},"Action":"s3:GetObject","Resource":"*"}]}"#;
    let e = parse(unique, PolicyKind::Resource).unwrap_err();
    assert!(e.message().contains("unique id"), "{}", e.message());
}

// ------------------------------------------------------- the cross-policy identity index

/// A random identity policy over a few services: literal, wildcard and `*` actions,
/// `NotAction`, wildcard service prefixes, denies, resources and a condition.
fn g_index_policy() -> impl Strategy<Value = String> {
    let action = prop::sample::select(vec![
        "s3:GetObject",
        "s3:Get*",
        "S3:PutObject",
        "iam:ListUsers",
        "iam:*",
        "ec2:RunInstances",
        "ec2:?unInstances",
        "*",
        "s3*:Get*",
        "*:ListUsers",
        "sqs:SendMessage",
    ]);
    let stmt = (
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.15),
        prop::collection::vec(action, 1..3),
        prop::sample::select(vec![
            "*",
            "arn:aws:s3:::b/*",
            "arn:aws:iam::123456789012:user/${aws:username}",
        ]),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(allow, not_action, actions, resource, cond)| {
            let actions: Vec<String> = actions.iter().map(|a| format!("{a:?}")).collect();
            let condition = if cond {
                r#","Condition":{"StringEquals":{"aws:PrincipalTag/team":"platform"}}"#
            } else {
                ""
            };
            format!(
                r#"{{"Effect":"{}","{}":[{}],"Resource":"{resource}"{condition}}}"#,
                if allow { "Allow" } else { "Deny" },
                if not_action { "NotAction" } else { "Action" },
                actions.join(",")
            )
        });
    prop::collection::vec(stmt, 1..5).prop_map(|sts| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            sts.join(",")
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The indexed path decides and explains exactly as the per-policy path, on random
    /// sets of up to a dozen policies, with and without a boundary and a resource policy.
    #[test]
    fn identity_index_agrees_with_per_policy_path(
        docs in prop::collection::vec(g_index_policy(), 0..12),
        boundary in prop::option::of(g_index_policy()),
        action in prop::sample::select(vec![
            "s3:GetObject", "S3:PutObject", "iam:ListUsers", "ec2:RunInstances",
            "sqs:SendMessage", "kms:Decrypt", "s3x:GetThing", "noservice",
        ]),
        resource in prop::sample::select(vec![
            "arn:aws:s3:::b/k", "arn:aws:iam::123456789012:user/bob", "arn:aws:sqs:::q",
        ]),
        tagged in prop::bool::ANY,
    ) {
        let compiled: Vec<CompiledPolicy> = docs.iter().map(|d| id(d)).collect();
        let ids: Vec<String> = (0..compiled.len()).map(|i| format!("p{i}")).collect();
        let refs: Vec<(&str, &CompiledPolicy)> =
            ids.iter().map(String::as_str).zip(compiled.iter()).collect();
        let bnd = boundary.map(|d| p(&d, PolicyKind::PermissionsBoundary));
        let mut set = PolicySet::new(PrincipalInfo::user(BOB, ACCT));
        set.identity = &refs;
        set.boundary = bnd.as_ref().map(|b| ("boundary", b));
        let mut b = RequestContext::builder(action, resource).string("aws:username", "bob");
        if tagged {
            b = b.string("aws:PrincipalTag/team", "platform");
        }
        let ctx = b.build();
        let index = IdentityIndex::new(&refs);
        prop_assert_eq!(index.policy_count(), refs.len());
        prop_assert_eq!(decide_with_index(&set, Some(&index), &ctx), decide(&set, &ctx));
        prop_assert_eq!(explain_with_index(&set, Some(&index), &ctx), explain(&set, &ctx));
        prop_assert_eq!(explain_with_index(&set, None, &ctx), explain(&set, &ctx));
    }
}

#[test]
fn identity_index_finds_statements_across_policies() {
    let a = id(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    let b = id(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Allow","Action":"iam:ListUsers","Resource":"*"},{"Sid":"D","Effect":"Deny","NotAction":"iam:*","Resource":"arn:aws:s3:::secret/*"}]}"#,
    );
    let refs = [("pa", &a), ("pb", &b)];
    let index = IdentityIndex::new(&refs);
    let mut set = PolicySet::new(PrincipalInfo::user(BOB, ACCT));
    set.identity = &refs;
    let open = RequestContext::builder("s3:GetObject", "arn:aws:s3:::b/k").build();
    let e = explain_with_index(&set, Some(&index), &open);
    assert_eq!(e.decision, Decision::Allowed);
    assert_eq!(e.matched.len(), 1);
    assert_eq!(
        (
            e.matched[0].policy_id.as_str(),
            e.matched[0].sid_or_index.as_str()
        ),
        ("pa", "A")
    );
    // The NotAction deny lives in the always-checked bucket.
    let secret = RequestContext::builder("s3:GetObject", "arn:aws:s3:::secret/k").build();
    let e = explain_with_index(&set, Some(&index), &secret);
    assert_eq!(e.decision, Decision::ExplicitDeny);
    assert_eq!(e.deny_in, Some(PolicyType::Identity));
    let ids: Vec<_> = e
        .matched
        .iter()
        .map(|m| (m.policy_id.as_str(), m.sid_or_index.as_str()))
        .collect();
    assert_eq!(ids, [("pa", "A"), ("pb", "D")]);
    assert_eq!(
        decide_with_index(&set, Some(&index), &secret),
        Decision::ExplicitDeny
    );
    // An index built from other policies is ignored: the per-policy path decides.
    let stale = IdentityIndex::new(&refs[..1]);
    assert_eq!(
        decide_with_index(&set, Some(&stale), &secret),
        Decision::ExplicitDeny
    );
    assert_eq!(
        explain_with_index(&set, Some(&stale), &secret),
        explain(&set, &secret)
    );
}

#[test]
fn context_text_is_kept_exactly() {
    let ctx = RequestContext::builder("IAM:ListUsers", "arn:aws:iam::123456789012:user/")
        .principal(BOB, ACCT)
        .ip("aws:SourceIp", "10.1.2.3".parse().unwrap())
        .ip("ip6", "2001:db8::1".parse().unwrap())
        .ip("ip0", "0.0.255.100".parse().unwrap())
        .string("aws:PrincipalTag/Team", "platform")
        .strings("aws:TagKeys", ["a", "b"])
        .number("n", 2.5)
        .date("aws:CurrentTime", datetime!(2020-01-02 03:04:05.5 +01:00))
        .build();
    assert_eq!(ctx.action(), "IAM:ListUsers");
    assert_eq!(ctx.action_lower(), "iam:listusers");
    assert_eq!(ctx.service_lower(), "iam");
    assert_eq!(ctx.resource(), "arn:aws:iam::123456789012:user/");
    assert_eq!(ctx.principal_arn(), BOB);
    assert_eq!(ctx.principal_account(), ACCT);
    assert_eq!(ctx.single("aws:sourceip"), Some("10.1.2.3"));
    assert_eq!(ctx.single("ip6"), Some("2001:db8::1"));
    assert_eq!(ctx.single("ip0"), Some("0.0.255.100"));
    assert_eq!(ctx.single("aws:principaltag/team"), Some("platform"));
    assert!(ctx.has_key("AWS:TAGKEYS"));
    assert_eq!(ctx.single("n"), Some("2.5"));
    assert_eq!(
        ctx.single("aws:currenttime"),
        Some("2020-01-02T03:04:05.5+01:00")
    );
    let now = datetime!(2024-02-29 23:59:59.123456789 -07:30);
    let ctx = RequestContext::builder("s3:x", "*")
        .current_time(now)
        .build();
    let want = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(ctx.single("aws:currenttime"), Some(want.as_str()));
    let lower = RequestContext::builder("s3:getobject", "*").build();
    assert_eq!(
        (lower.action_lower(), lower.service_lower()),
        ("s3:getobject", "s3")
    );
    let bare = RequestContext::builder("noservice", "*").build();
    assert_eq!(bare.service_lower(), "");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any IP address keeps the text `Display` gives it, and text values read as an
    /// address exactly when the standard parser accepts them.
    #[test]
    fn context_ip_text_and_readings(bits in prop::num::u128::ANY, v4 in prop::bool::ANY, s in "[0-9a-f:.]{0,12}") {
        let ip: std::net::IpAddr = if v4 {
            std::net::Ipv4Addr::from(bits as u32).into()
        } else {
            std::net::Ipv6Addr::from(bits).into()
        };
        let ctx = RequestContext::builder("s3:x", "*").ip("k", ip).string("s", &s).build();
        let text = ip.to_string();
        prop_assert_eq!(ctx.single("k"), Some(text.as_str()));
        let read = ctx.lookup("s").unwrap().values[0].ip;
        prop_assert_eq!(read, s.parse::<std::net::IpAddr>().ok());
    }
}
