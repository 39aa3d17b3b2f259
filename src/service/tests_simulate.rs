//! Policy simulation through the service functions. `simulate` takes the caller's and the
//! simulated user's identity sides from the warm cache: every change made through the
//! vault must still reach the very next call.

use std::sync::Arc;

use time::macros::datetime;

use super::*;
use crate::clock::{TestClock, TestRandom};
use crate::model::Tag;
use crate::store::{AccountRow, EntityKind};

const A: &str = "123456789012";

fn setup() -> Vault {
    let clock = TestClock::new(datetime!(2026-06-01 12:00 UTC));
    let env = Env {
        clock: Arc::new(clock.clone()),
        rng: Arc::new(TestRandom::new(7)),
    };
    let v = Vault::in_memory(env).unwrap();
    let tx = v.store().write().unwrap();
    tx.insert_account(
        &AccountRow {
            account_id: A.into(),
            created_at: datetime!(2026-06-01 12:00 UTC),
        },
        None,
    )
    .unwrap();
    tx.commit().unwrap();
    v
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn root() -> Caller {
    Caller::root(&AccountId::parse(A).unwrap())
}

/// A user with the inline policy `p`, as a caller signing with a long-term key.
fn user(v: &Vault, name: &str, policy: &str) -> Caller {
    let u = v
        .create_user(&root(), &ctx(), name, None, None, &[])
        .unwrap();
    v.put_inline_policy(&root(), &ctx(), EntityKind::User, name, "p", policy)
        .unwrap();
    Caller {
        account: AccountId::parse(A).unwrap(),
        arn: u.arn,
        kind: CallerKind::User {
            user_id: u.user_id,
            name: name.into(),
        },
    }
}

fn sim(v: &Vault, caller: &Caller, user: &str, action: &str) -> Result<SimulationResult> {
    v.simulate(
        caller,
        &ctx(),
        &SimulationInput {
            principal_user: Some(user.into()),
            action: action.into(),
            ..SimulationInput::default()
        },
    )
}

fn allow(actions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
    )
}

const DENY_SIMULATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:SimulatePrincipalPolicy","Resource":"*"}]}"#;

#[test]
fn simulate_principal_sees_a_policy_change_on_the_next_call() {
    // The caller simulates itself: one warm entry serves both the authorization and the
    // simulated policies. A change through the vault must reach the very next call on
    // either side.
    let v = setup();
    let alice = user(
        &v,
        "alice",
        &allow(r#"["iam:SimulatePrincipalPolicy","iam:GetUser"]"#),
    );
    for _ in 0..2 {
        let r = sim(&v, &alice, "alice", "iam:GetUser").unwrap();
        assert_eq!(r.decision, "allowed");
        assert_eq!(r.matched_statements[0].policy_id, "user/alice/p");
    }
    // The simulated side: the policy no longer allows the simulated action.
    v.put_inline_policy(
        &root(),
        &ctx(),
        EntityKind::User,
        "alice",
        "p",
        &allow(r#""iam:SimulatePrincipalPolicy""#),
    )
    .unwrap();
    assert_eq!(
        sim(&v, &alice, "alice", "iam:GetUser").unwrap().decision,
        "implicitDeny"
    );
    // A group's policy counts as soon as the user joins.
    v.create_group(&root(), &ctx(), "readers", None).unwrap();
    v.put_inline_policy(
        &root(),
        &ctx(),
        EntityKind::Group,
        "readers",
        "g",
        &allow(r#""iam:GetUser""#),
    )
    .unwrap();
    v.add_user_to_group(&root(), &ctx(), "readers", "alice")
        .unwrap();
    let r = sim(&v, &alice, "alice", "iam:GetUser").unwrap();
    assert_eq!(r.decision, "allowed");
    assert_eq!(r.matched_statements[0].policy_id, "group/readers/g");
    // The caller side: a deny of the simulation itself bites at once, and so does its
    // removal.
    v.put_inline_policy(
        &root(),
        &ctx(),
        EntityKind::User,
        "alice",
        "q",
        DENY_SIMULATE,
    )
    .unwrap();
    let e = sim(&v, &alice, "alice", "iam:GetUser").unwrap_err();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    v.delete_inline_policy(&root(), &ctx(), EntityKind::User, "alice", "q")
        .unwrap();
    assert_eq!(
        sim(&v, &alice, "alice", "iam:GetUser").unwrap().decision,
        "allowed"
    );
    // A deleted user is refused as a caller and not found as a subject.
    v.remove_user_from_group(&root(), &ctx(), "readers", "alice")
        .unwrap();
    v.delete_user(&root(), &ctx(), "alice", true).unwrap();
    let e = sim(&v, &alice, "alice", "iam:GetUser").unwrap_err();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    let e = sim(&v, &root(), "alice", "iam:GetUser").unwrap_err();
    assert_eq!(e.code(), "NoSuchEntity", "{e}");
}

#[test]
fn simulating_another_user_follows_its_policies_and_tags() {
    // Alice may simulate only users tagged team=blue: the authorization reads Bob's tags
    // as `aws:ResourceTag/…` keys, from the same warm entry as his policies.
    let v = setup();
    let alice = user(
        &v,
        "alice",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:SimulatePrincipalPolicy","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}}]}"#,
    );
    user(&v, "bob", &allow(r#""s3:GetObject""#));
    let e = sim(&v, &alice, "bob", "s3:GetObject").unwrap_err();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    let blue = [Tag {
        key: "team".into(),
        value: "blue".into(),
    }];
    v.tag_user(&root(), &ctx(), "bob", &blue).unwrap();
    let r = sim(&v, &alice, "bob", "s3:GetObject").unwrap();
    assert_eq!(r.decision, "allowed");
    assert_eq!(r.matched_statements[0].policy_id, "user/bob/p");
    // Bob's own tags are his `aws:PrincipalTag/…` keys in the simulation.
    v.put_inline_policy(
        &root(),
        &ctx(),
        EntityKind::User,
        "bob",
        "p",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"red"}}}]}"#,
    )
    .unwrap();
    assert_eq!(
        sim(&v, &alice, "bob", "s3:GetObject").unwrap().decision,
        "implicitDeny"
    );
    v.tag_user(
        &root(),
        &ctx(),
        "bob",
        &[Tag {
            key: "team".into(),
            value: "red".into(),
        }],
    )
    .unwrap();
    // Now team=red: the simulation allows, but Alice may no longer simulate Bob.
    let e = sim(&v, &alice, "bob", "s3:GetObject").unwrap_err();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    assert_eq!(
        sim(&v, &root(), "bob", "s3:GetObject").unwrap().decision,
        "allowed"
    );
    v.untag_user(&root(), &ctx(), "bob", &["team".into()])
        .unwrap();
    assert_eq!(
        sim(&v, &root(), "bob", "s3:GetObject").unwrap().decision,
        "implicitDeny"
    );
    // A renamed user is found under the new name only, and a new user under the old
    // name is a different principal.
    v.update_user(&root(), &ctx(), "bob", Some("robert"), Some("/eng/"))
        .unwrap();
    let e = sim(&v, &root(), "bob", "s3:GetObject").unwrap_err();
    assert_eq!(e.code(), "NoSuchEntity", "{e}");
    let r = sim(&v, &root(), "robert", "s3:GetObject").unwrap();
    assert_eq!(r.decision, "implicitDeny");
    assert!(r.reason.contains(":user/eng/robert "), "{}", r.reason);
    user(&v, "bob", &allow(r#""s3:GetObject""#));
    let r = sim(&v, &root(), "bob", "s3:GetObject").unwrap();
    assert_eq!(r.decision, "allowed");
    assert_eq!(r.matched_statements[0].policy_id, "user/bob/p");
}

#[test]
fn simulation_errors_keep_their_order() {
    let v = setup();
    let alice = user(&v, "alice", &allow(r#""iam:SimulatePrincipalPolicy""#));
    let nobody = user(&v, "nobody", &allow(r#""iam:GetUser""#));
    // A bad name is a validation error before anything else.
    let e = sim(&v, &nobody, "bad name", "iam:GetUser").unwrap_err();
    assert_eq!(e.code(), "ValidationError", "{e}");
    // A missing user: not found for an allowed caller, denied for the others.
    let e = sim(&v, &alice, "carol", "iam:GetUser").unwrap_err();
    assert_eq!(e.code(), "NoSuchEntity", "{e}");
    let e = sim(&v, &nobody, "carol", "iam:GetUser").unwrap_err();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    let e = sim(&v, &nobody, "alice", "iam:GetUser").unwrap_err();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    // The authorization comes before the input checks.
    let e = sim(&v, &nobody, "alice", "").unwrap_err();
    assert_eq!(e.code(), "AccessDenied", "{e}");
    let e = sim(&v, &alice, "alice", "").unwrap_err();
    assert_eq!(e.code(), "InvalidInput", "{e}");
}

#[test]
fn a_warm_simulation_reads_no_sql() {
    // Warm, the simulated user and the identity sides of the caller and of that user
    // come from memory: no transaction at all.
    let v = setup();
    let alice = user(
        &v,
        "alice",
        &allow(r#"["iam:SimulatePrincipalPolicy","iam:GetUser"]"#),
    );
    user(&v, "bob", &allow(r#""iam:GetUser""#));
    for subject in ["alice", "bob"] {
        sim(&v, &alice, subject, "iam:GetUser").unwrap();
        let before = v.store().transactions();
        assert_eq!(
            sim(&v, &alice, subject, "iam:GetUser").unwrap().decision,
            "allowed"
        );
        assert_eq!(v.store().transactions(), before, "{subject}");
    }
}
