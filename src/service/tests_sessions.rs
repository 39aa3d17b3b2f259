//! STS sessions through the service functions, with the test clock.

use std::sync::Arc;

use time::Duration;
use time::macros::datetime;

use super::*;
use crate::clock::{TestClock, TestRandom};
use crate::store::{AccountRow, EntityKind, KeyStatus};
use crate::sts::TokenError;

const A: &str = "123456789012";
const B: &str = "210987654321";

struct T {
    v: Vault,
    clock: TestClock,
}

fn setup() -> T {
    let clock = TestClock::new(datetime!(2026-06-01 12:00 UTC));
    let env = Env {
        clock: Arc::new(clock.clone()),
        rng: Arc::new(TestRandom::new(5)),
    };
    let v = Vault::in_memory(env).unwrap();
    for a in [A, B] {
        let tx = v.store().write().unwrap();
        tx.insert_account(
            &AccountRow {
                account_id: a.into(),
                created_at: clock.now(),
            },
            None,
        )
        .unwrap();
        tx.commit().unwrap();
    }
    T { v, clock }
}

use crate::clock::Clock;

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn root(a: &str) -> Caller {
    Caller::root(&AccountId::parse(a).unwrap())
}

/// A user with an inline policy, as a caller, and one access key id.
fn user(t: &T, account: &str, name: &str, policy: &str) -> (Caller, String) {
    let r = root(account);
    let u = t.v.create_user(&r, &ctx(), name, None, None, &[]).unwrap();
    t.v.put_inline_policy(&r, &ctx(), EntityKind::User, name, "p", policy)
        .unwrap();
    let k = t.v.create_access_key(&r, &ctx(), Some(name)).unwrap();
    (
        Caller {
            account: AccountId::parse(account).unwrap(),
            arn: u.arn,
            kind: CallerKind::User {
                user_id: u.user_id,
                name: name.into(),
            },
        },
        k.metadata.access_key_id,
    )
}

fn role(t: &T, account: &str, name: &str, trust: &str) -> String {
    let r =
        t.v.create_role(
            &root(account),
            &ctx(),
            &NewRole {
                name,
                trust_policy: trust,
                ..NewRole::default()
            },
        )
        .unwrap();
    t.v.attach_policy(
        &root(account),
        &ctx(),
        EntityKind::Role,
        name,
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    )
    .unwrap();
    r.arn
}

const ALLOW_ASSUME: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;

fn trust_of(principal: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

fn assume(t: &T, caller: &Caller, role_arn: &str) -> Result<IssuedSession> {
    t.v.assume_role(
        caller,
        &ctx(),
        &AssumeRoleRequest {
            role_arn: role_arn.into(),
            session_name: "s1".into(),
            ..Default::default()
        },
    )
}

fn as_caller(s: &IssuedSession, t: &T) -> Caller {
    let v =
        t.v.verify_session(&s.claims.access_key_id, &s.token)
            .unwrap();
    Caller {
        account: AccountId::parse(&v.claims.account).unwrap(),
        arn: v.claims.principal_arn.clone(),
        kind: CallerKind::Session(Arc::clone(&v.claims)),
    }
}

#[test]
fn cross_account_needs_both_sides() {
    let t = setup();
    let role_arn = role(&t, A, "shared", &trust_of(B));
    let (carol, _) = user(&t, B, "carol", ALLOW_ASSUME);
    let s = assume(&t, &carol, &role_arn).unwrap();
    assert_eq!(
        s.claims.principal_arn,
        format!("arn:aws:sts::{A}:assumed-role/shared/s1")
    );
    let sess = as_caller(&s, &t);
    assert_eq!(sess.account.as_str(), A);
    assert!(t.v.list_users(&sess, &ctx(), None).is_ok());
    // Without an identity allow in account B, the trust alone is not enough.
    let (dave, _) = user(
        &t,
        B,
        "dave",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#,
    );
    assert_eq!(
        assume(&t, &dave, &role_arn).err().unwrap().code(),
        "AccessDenied"
    );
    // A role that does not trust account B refuses even with an identity allow.
    let private = role(&t, A, "private", &trust_of(A));
    assert_eq!(
        assume(&t, &carol, &private).err().unwrap().code(),
        "AccessDenied"
    );
}

#[test]
fn same_account_trust_naming_the_user_needs_no_identity_policy() {
    let t = setup();
    let (erin, _) = user(
        &t,
        A,
        "erin",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#,
    );
    let named = role(&t, A, "named", &trust_of(&erin.arn));
    assume(&t, &erin, &named).unwrap();
    let by_account = role(&t, A, "by-account", &trust_of(A));
    assert_eq!(
        assume(&t, &erin, &by_account).err().unwrap().code(),
        "AccessDenied"
    );
}

#[test]
fn warm_verification_does_no_ed25519_work_and_expiry_applies() {
    let t = setup();
    let role_arn = role(&t, A, "r", &trust_of(A));
    let (u, _) = user(&t, A, "u", ALLOW_ASSUME);
    let s = assume(&t, &u, &role_arn).unwrap();
    let before = t.v.token_verifications();
    for _ in 0..5 {
        t.v.verify_session(&s.claims.access_key_id, &s.token)
            .unwrap();
    }
    assert_eq!(
        t.v.token_verifications() - before,
        1,
        "only the first verification checks the signature"
    );
    // The access key id must be the token's own.
    assert_eq!(
        t.v.verify_session("ASIAOTHEROTHEROTHER2", &s.token).err(),
        Some(TokenError::Invalid)
    );
    t.clock.advance(Duration::hours(1));
    assert_eq!(
        t.v.verify_session(&s.claims.access_key_id, &s.token).err(),
        Some(TokenError::Expired)
    );
}

#[test]
fn revocation_by_role_user_and_source_key() {
    let t = setup();
    let role_arn = role(&t, A, "r", &trust_of(A));
    let (u, key_id) = user(&t, A, "u", ALLOW_ASSUME);
    let s = assume(&t, &u, &role_arn).unwrap();
    t.v.verify_session(&s.claims.access_key_id, &s.token)
        .unwrap();
    t.v.revoke_role_sessions(&root(A), &ctx(), "r").unwrap();
    assert_eq!(
        t.v.verify_session(&s.claims.access_key_id, &s.token).err(),
        Some(TokenError::Invalid)
    );
    // Sessions issued after the cut-off work.
    t.clock.advance(Duration::seconds(2));
    let s2 = assume(&t, &u, &role_arn).unwrap();
    t.v.verify_session(&s2.claims.access_key_id, &s2.token)
        .unwrap();
    // A single session by token id.
    t.v.revoke_session(
        &root(A),
        &hex::encode(s2.claims.token_id),
        s2.claims.expires_at,
    )
    .unwrap();
    assert!(
        t.v.verify_session(&s2.claims.access_key_id, &s2.token)
            .is_err()
    );
    // GetSessionToken sessions die with their source key.
    let gst =
        t.v.get_session_token(&u, Some(&key_id), Some(900), None, None)
            .unwrap();
    t.v.verify_session(&gst.claims.access_key_id, &gst.token)
        .unwrap();
    t.v.update_access_key(&root(A), &ctx(), Some("u"), &key_id, KeyStatus::Inactive)
        .unwrap();
    assert!(
        t.v.verify_session(&gst.claims.access_key_id, &gst.token)
            .is_err()
    );
    // And with their user.
    t.clock.advance(Duration::seconds(2));
    let gst2 =
        t.v.get_session_token(&u, None, Some(900), None, None)
            .unwrap();
    t.v.verify_session(&gst2.claims.access_key_id, &gst2.token)
        .unwrap();
    t.v.delete_user(&root(A), &ctx(), "u", true).unwrap();
    assert!(
        t.v.verify_session(&gst2.claims.access_key_id, &gst2.token)
            .is_err()
    );
}

#[test]
fn revocation_cutoffs_are_read_as_they_come_and_pruned_once_no_session_outlives_them() {
    let t = setup();
    let r = root(A);
    let (u, key_a) = user(&t, A, "u", ALLOW_ASSUME);
    let key_b =
        t.v.create_access_key(&r, &ctx(), Some("u"))
            .unwrap()
            .metadata
            .access_key_id;
    let session = |key: &str| {
        t.v.get_session_token(&u, Some(key), Some(900), None, None)
            .unwrap()
    };
    let ok = |s: &IssuedSession| {
        t.v.verify_session(&s.claims.access_key_id, &s.token)
            .is_ok()
    };
    let (sa, sb) = (session(&key_a), session(&key_b));
    assert!(ok(&sa) && ok(&sb));
    // Each deletion adds a cut-off; the verifier reads only the new one, and each bites
    // on the next call while the other key's session keeps working.
    t.v.delete_access_key(&r, &ctx(), Some("u"), &key_a)
        .unwrap();
    assert!(!ok(&sa) && ok(&sb));
    t.v.delete_access_key(&r, &ctx(), Some("u"), &key_b)
        .unwrap();
    assert!(!ok(&sa) && !ok(&sb));
    let cutoffs = || {
        let mut c: Vec<String> =
            t.v.store()
                .read()
                .unwrap()
                .session_revocations()
                .unwrap()
                .into_iter()
                .map(|(scope, subject, _)| format!("{scope}:{subject}"))
                .collect();
        c.sort();
        c
    };
    let mut both = vec![format!("key:{key_a}"), format!("key:{key_b}")];
    both.sort();
    assert_eq!(cutoffs(), both);
    // 36 hours (the longest session) and more later, those cut-offs refuse nothing any
    // more: the next revocation drops them instead of keeping them forever.
    t.clock.advance(Duration::hours(37) + Duration::seconds(2));
    let key_c =
        t.v.create_access_key(&r, &ctx(), Some("u"))
            .unwrap()
            .metadata
            .access_key_id;
    let sc = session(&key_c);
    assert!(ok(&sc));
    t.v.delete_access_key(&r, &ctx(), Some("u"), &key_c)
        .unwrap();
    assert_eq!(cutoffs(), vec![format!("key:{key_c}")]);
    assert!(!ok(&sc));
}

#[test]
fn chaining_is_capped_at_one_hour_and_counted() {
    let t = setup();
    let first = role(&t, A, "first", &trust_of(A));
    t.v.put_inline_policy(
        &root(A),
        &ctx(),
        EntityKind::Role,
        "first",
        "assume",
        ALLOW_ASSUME,
    )
    .unwrap();
    t.v.update_role(&root(A), &ctx(), "first", None, Some(43_200))
        .unwrap();
    let second = role(&t, A, "second", &trust_of(A));
    t.v.update_role(&root(A), &ctx(), "second", None, Some(43_200))
        .unwrap();
    let (u, _) = user(&t, A, "u", ALLOW_ASSUME);
    let s =
        t.v.assume_role(
            &u,
            &ctx(),
            &AssumeRoleRequest {
                role_arn: first.clone(),
                session_name: "a1".into(),
                duration_seconds: Some(7200),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(s.claims.chain_depth, 0);
    let sess = as_caller(&s, &t);
    let too_long = t.v.assume_role(
        &sess,
        &ctx(),
        &AssumeRoleRequest {
            role_arn: second.clone(),
            session_name: "a2".into(),
            duration_seconds: Some(7200),
            ..Default::default()
        },
    );
    assert_eq!(too_long.err().unwrap().code(), "ValidationError");
    let chained =
        t.v.assume_role(
            &sess,
            &ctx(),
            &AssumeRoleRequest {
                role_arn: second,
                session_name: "a2".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(chained.claims.chain_depth, 1);
}

#[test]
fn session_policies_and_user_session_limits() {
    let t = setup();
    let role_arn = role(&t, A, "r", &trust_of(A));
    let (u, _) = user(&t, A, "u", ALLOW_ASSUME);
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}]}"#;
    let s =
        t.v.assume_role(
            &u,
            &ctx(),
            &AssumeRoleRequest {
                role_arn,
                session_name: "n1".into(),
                policy: Some(narrow.into()),
                ..Default::default()
            },
        )
        .unwrap();
    let sess = as_caller(&s, &t);
    assert_eq!(
        t.v.list_users(&sess, &ctx(), None).unwrap_err().code(),
        "AccessDenied"
    );
    t.v.get_role(&sess, &ctx(), "r").unwrap();
    // GetSessionToken without MFA: no IAM.
    let g = t.v.get_session_token(&u, None, None, None, None).unwrap();
    let gs = as_caller(&g, &t);
    assert_eq!(
        t.v.get_user(&gs, &ctx(), None).unwrap_err().code(),
        "AccessDenied"
    );
    assert!(
        t.v.get_session_token(&u, None, Some(899), None, None)
            .is_err()
    );
    assert!(
        t.v.get_session_token(&u, None, Some(129_601), None, None)
            .is_err()
    );
}

#[test]
fn tags_and_source_identity_need_their_own_permissions() {
    let t = setup();
    let plain = role(&t, A, "plain", &trust_of(A));
    let taggable_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{A}"}},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}}]}}"#
    );
    let taggable = role(&t, A, "taggable", &taggable_trust);
    let caller_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Resource":"*"}]}"#;
    let (u, _) = user(&t, A, "u", caller_policy);
    let tagged = |arn: &str| AssumeRoleRequest {
        role_arn: arn.into(),
        session_name: "t1".into(),
        tags: vec![crate::model::Tag::new("team", "platform").unwrap()],
        ..Default::default()
    };
    assert_eq!(
        t.v.assume_role(&u, &ctx(), &tagged(&plain))
            .err()
            .unwrap()
            .code(),
        "AccessDenied"
    );
    let s = t.v.assume_role(&u, &ctx(), &tagged(&taggable)).unwrap();
    assert_eq!(
        s.claims.tags,
        vec![("team".to_owned(), "platform".to_owned())]
    );
    // The session's tag reaches aws:PrincipalTag in its own requests.
    let by_tag = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateUser","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"platform"}}}]}"#;
    t.v.put_inline_policy(
        &root(A),
        &ctx(),
        EntityKind::Role,
        "taggable",
        "by-tag",
        by_tag,
    )
    .unwrap();
    let sess = as_caller(&s, &t);
    t.v.create_user(&sess, &ctx(), "made-by-tag", None, None, &[])
        .unwrap();
    let with_source = |arn: &str| AssumeRoleRequest {
        role_arn: arn.into(),
        session_name: "t2".into(),
        source_identity: Some("alice".into()),
        ..Default::default()
    };
    assert_eq!(
        t.v.assume_role(&u, &ctx(), &with_source(&plain))
            .err()
            .unwrap()
            .code(),
        "AccessDenied"
    );
    let s2 =
        t.v.assume_role(&u, &ctx(), &with_source(&taggable))
            .unwrap();
    assert_eq!(s2.claims.source_identity.as_deref(), Some("alice"));
}

#[test]
fn parameter_limits() {
    let t = setup();
    let r = role(&t, A, "r", &trust_of(A));
    let (u, _) = user(&t, A, "u", ALLOW_ASSUME);
    let base = || AssumeRoleRequest {
        role_arn: r.clone(),
        session_name: "ok-name".into(),
        ..Default::default()
    };
    let code = |req: AssumeRoleRequest| t.v.assume_role(&u, &ctx(), &req).err().map(|e| e.code());
    assert_eq!(
        code(AssumeRoleRequest {
            session_name: "x".into(),
            ..base()
        }),
        Some("ValidationError")
    );
    assert_eq!(
        code(AssumeRoleRequest {
            session_name: "has space".into(),
            ..base()
        }),
        Some("ValidationError")
    );
    assert_eq!(
        code(AssumeRoleRequest {
            session_name: "a".repeat(65),
            ..base()
        }),
        Some("ValidationError")
    );
    assert_eq!(
        code(AssumeRoleRequest {
            duration_seconds: Some(899),
            ..base()
        }),
        Some("ValidationError")
    );
    assert_eq!(
        code(AssumeRoleRequest {
            duration_seconds: Some(3601),
            ..base()
        }),
        Some("ValidationError")
    );
    assert_eq!(
        code(AssumeRoleRequest {
            external_id: Some("x".into()),
            ..base()
        }),
        Some("ValidationError")
    );
    let eleven: Vec<String> = (0..11)
        .map(|_| "arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned())
        .collect();
    assert_eq!(
        code(AssumeRoleRequest {
            policy_arns: eleven,
            ..base()
        }),
        Some("ValidationError")
    );
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"s3:*","Resource":"*"}}]}}"#,
        "x".repeat(2100)
    );
    assert_eq!(
        code(AssumeRoleRequest {
            policy: Some(big),
            ..base()
        }),
        Some("PackedPolicyTooLarge")
    );
    assert_eq!(
        code(AssumeRoleRequest {
            role_arn: format!("arn:aws:iam::{A}:role/missing"),
            ..base()
        }),
        Some("AccessDenied")
    );
    let ok =
        t.v.assume_role(
            &u,
            &ctx(),
            &AssumeRoleRequest {
                duration_seconds: Some(900),
                ..base()
            },
        )
        .unwrap();
    assert_eq!(ok.claims.expires_at - ok.claims.issued_at, 900);
    assert!(ok.packed_policy_size <= 100);
}

#[test]
fn assume_role_sees_a_policy_change_on_the_next_call() {
    // AssumeRole reads the caller's identity side from the warm cache; a change through
    // the vault must still reach the very next call, in both directions.
    let t = setup();
    let role_arn = role(&t, A, "target", &trust_of(A));
    let (alice, _) = user(&t, A, "alice", ALLOW_ASSUME);
    assume(&t, &alice, &role_arn).unwrap();
    assume(&t, &alice, &role_arn).unwrap();
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    t.v.put_inline_policy(&root(A), &ctx(), EntityKind::User, "alice", "p", deny)
        .unwrap();
    let e = assume(&t, &alice, &role_arn).err().unwrap();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    t.v.put_inline_policy(
        &root(A),
        &ctx(),
        EntityKind::User,
        "alice",
        "p",
        ALLOW_ASSUME,
    )
    .unwrap();
    assume(&t, &alice, &role_arn).unwrap();
    // A deleted caller is refused at once.
    t.v.delete_user(&root(A), &ctx(), "alice", true).unwrap();
    let e = assume(&t, &alice, &role_arn).err().unwrap();
    assert_eq!(e.code(), "AccessDenied", "{e}");
}

#[test]
fn assume_role_sees_a_role_change_on_the_next_call() {
    // AssumeRole reads the role (its trust policy and tags) from the warm cache; a change
    // through the vault must reach the very next call.
    let t = setup();
    let role_arn = role(&t, A, "target", &trust_of(A));
    let tagged = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}}]}"#;
    let (alice, _) = user(&t, A, "alice", tagged);
    // No tag yet: denied, and the role without tags is now cached.
    let e = assume(&t, &alice, &role_arn).err().unwrap();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    let tag = crate::model::Tag {
        key: "team".into(),
        value: "blue".into(),
    };
    t.v.tag_role(&root(A), &ctx(), "target", std::slice::from_ref(&tag))
        .unwrap();
    assume(&t, &alice, &role_arn).unwrap();
    t.v.untag_role(&root(A), &ctx(), "target", &["team".to_owned()])
        .unwrap();
    let e = assume(&t, &alice, &role_arn).err().unwrap();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    // A trust policy that no longer names the account refuses at once.
    t.v.tag_role(&root(A), &ctx(), "target", std::slice::from_ref(&tag))
        .unwrap();
    assume(&t, &alice, &role_arn).unwrap();
    t.v.update_assume_role_policy(&root(A), &ctx(), "target", &trust_of(B))
        .unwrap();
    let e = assume(&t, &alice, &role_arn).err().unwrap();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    // A deleted role is gone at once, and one made again under the name is found.
    t.v.update_assume_role_policy(&root(A), &ctx(), "target", &trust_of(A))
        .unwrap();
    assume(&t, &alice, &role_arn).unwrap();
    t.v.delete_role(&root(A), &ctx(), "target", true).unwrap();
    let e = assume(&t, &alice, &role_arn).err().unwrap();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    let again = role(&t, A, "target", &trust_of(A));
    t.v.tag_role(&root(A), &ctx(), "target", std::slice::from_ref(&tag))
        .unwrap();
    assume(&t, &alice, &again).unwrap();
}

#[test]
fn a_warm_assume_role_reads_no_store_and_is_reported_warm_only_then() {
    let t = setup();
    let role_arn = role(&t, A, "target", &trust_of(A));
    let (alice, key) = user(&t, A, "alice", ALLOW_ASSUME);
    // Cold: nothing about the key, the caller or the role is in memory.
    assert!(!t.v.assume_role_warm(&key, None, "sts", &role_arn));
    // What the server does for a request: check the key, stamp its use, then act. (The
    // first session ever minted creates the token signing key: a commit, so the next
    // request checks the key again.)
    for _ in 0..2 {
        t.v.access_key_secret(&key).unwrap();
        t.v.record_access_key_use(&key, "sts", "us-east-1").unwrap();
        assume(&t, &alice, &role_arn).unwrap();
    }
    assert!(t.v.assume_role_warm(&key, None, "sts", &role_arn));
    let before = t.v.store().transactions();
    assume(&t, &alice, &role_arn).unwrap();
    assert_eq!(
        t.v.store().transactions(),
        before,
        "a warm AssumeRole read the store"
    );
    // Another role, or a role ARN that is not one: not in memory.
    assert!(!t.v.assume_role_warm(&key, None, "sts", "arn:aws:iam::123456789012:role/other"));
    assert!(!t.v.assume_role_warm(&key, None, "sts", "arn:aws:iam::123456789012:user/alice"));
    assert!(!t.v.assume_role_warm(&key, None, "sts", "not an arn"));
    // Any committed change (here to the role) makes it cold until read again.
    t.v.update_assume_role_policy(&root(A), &ctx(), "target", &trust_of(B))
        .unwrap();
    assert!(!t.v.assume_role_warm(&key, None, "sts", &role_arn));
    // So does the revocation state going stale (it is re-read after a second).
    t.v.update_assume_role_policy(&root(A), &ctx(), "target", &trust_of(A))
        .unwrap();
    t.v.access_key_secret(&key).unwrap();
    assume(&t, &alice, &role_arn).unwrap();
    assert!(t.v.assume_role_warm(&key, None, "sts", &role_arn));
    t.clock.advance(Duration::seconds(2));
    assert!(!t.v.assume_role_warm(&key, None, "sts", &role_arn));
}
