//! Unit tests of the service layer on an in-memory vault with a test clock.

use std::sync::Arc;

use time::macros::datetime;

use super::*;
use crate::clock::{TestClock, TestRandom};
use crate::model::Tag;
use crate::store::{AccountRow, EntityKind, KeyStatus};

const ACCT: &str = "123456789012";

fn vault() -> (Vault, Caller, TestClock) {
    let clock = TestClock::new(datetime!(2026-06-01 12:00 UTC));
    let env = Env {
        clock: Arc::new(clock.clone()),
        rng: Arc::new(TestRandom::new(42)),
    };
    let v = Vault::in_memory(env).unwrap();
    let tx = v.store().write().unwrap();
    tx.insert_account(
        &AccountRow {
            account_id: ACCT.into(),
            created_at: clock.now(),
        },
        None,
    )
    .unwrap();
    tx.commit().unwrap();
    let root = Caller::root(&AccountId::parse(ACCT).unwrap());
    (v, root, clock)
}

use crate::clock::Clock;

fn ctx() -> RequestContext {
    RequestContext::default()
}

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

#[test]
fn user_lifecycle() {
    let (v, root, _) = vault();
    let u = v
        .create_user(
            &root,
            &ctx(),
            "alice",
            Some("/eng/"),
            None,
            &[Tag::new("team", "a").unwrap()],
        )
        .unwrap();
    assert_eq!(u.arn, "arn:aws:iam::123456789012:user/eng/alice");
    assert!(u.user_id.starts_with("AIDA"));
    assert_eq!(u.tags.len(), 1);
    assert_eq!(
        v.get_user(&root, &ctx(), Some("ALICE")).unwrap().user_name,
        "alice"
    );
    assert_eq!(v.list_users(&root, &ctx(), Some("/eng/")).unwrap().len(), 1);
    assert_eq!(v.list_users(&root, &ctx(), Some("/ops/")).unwrap().len(), 0);
    let renamed = v
        .update_user(&root, &ctx(), "alice", Some("alicia"), Some("/"))
        .unwrap();
    assert_eq!(renamed.arn, "arn:aws:iam::123456789012:user/alicia");
    assert_eq!(
        v.get_user(&root, &ctx(), Some("alice")).unwrap_err().code(),
        "NoSuchEntity"
    );
    v.delete_user(&root, &ctx(), "alicia", false).unwrap();
    assert!(v.list_users(&root, &ctx(), None).unwrap().is_empty());
}

#[test]
fn names_are_unique_case_insensitively() {
    let (v, root, _) = vault();
    v.create_user(&root, &ctx(), "alice", None, None, &[])
        .unwrap();
    let e = v
        .create_user(&root, &ctx(), "Alice", None, None, &[])
        .unwrap_err();
    assert_eq!(e.code(), "EntityAlreadyExists");
    v.create_user(&root, &ctx(), "bob", None, None, &[])
        .unwrap();
    assert_eq!(
        v.update_user(&root, &ctx(), "bob", Some("ALICE"), None)
            .unwrap_err()
            .code(),
        "EntityAlreadyExists"
    );
    // Renaming to a case variant of itself is fine.
    assert_eq!(
        v.update_user(&root, &ctx(), "bob", Some("Bob"), None)
            .unwrap()
            .user_name,
        "Bob"
    );
    v.create_group(&root, &ctx(), "Admins", None).unwrap();
    assert_eq!(
        v.create_group(&root, &ctx(), "admins", None)
            .unwrap_err()
            .code(),
        "EntityAlreadyExists"
    );
}

#[test]
fn invalid_input_changes_nothing() {
    let (v, root, _) = vault();
    assert_eq!(
        v.create_user(&root, &ctx(), "bad name", None, None, &[])
            .unwrap_err()
            .code(),
        "ValidationError"
    );
    assert_eq!(
        v.create_user(&root, &ctx(), "ok", Some("nopath"), None, &[])
            .unwrap_err()
            .code(),
        "ValidationError"
    );
    let too_many: Vec<Tag> = (0..51)
        .map(|i| Tag::new(&format!("k{i}"), "v").unwrap())
        .collect();
    assert_eq!(
        v.create_user(&root, &ctx(), "ok", None, None, &too_many)
            .unwrap_err()
            .code(),
        "LimitExceeded"
    );
    assert_eq!(
        v.create_user(
            &root,
            &ctx(),
            "ok",
            None,
            Some("arn:aws:iam::123456789012:policy/missing"),
            &[]
        )
        .unwrap_err()
        .code(),
        "NoSuchEntity"
    );
    assert!(v.list_users(&root, &ctx(), None).unwrap().is_empty());
}

#[test]
fn a_user_without_policies_is_denied_in_aws_words() {
    let (v, root, _) = vault();
    let u = v
        .create_user(&root, &ctx(), "bob", None, None, &[])
        .unwrap();
    let bob = Caller {
        account: root.account.clone(),
        arn: u.arn.clone(),
        kind: CallerKind::User {
            user_id: u.user_id,
            name: "bob".into(),
        },
    };
    let e = v.list_users(&bob, &ctx(), None).unwrap_err();
    assert_eq!(e.code(), "AccessDenied");
    let msg = e.to_string();
    let (wording, encoded) = msg
        .split_once(". Encoded authorization failure message: ")
        .unwrap();
    assert_eq!(
        wording,
        "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::123456789012:user/ because no identity-based policy allows the iam:ListUsers action"
    );
    // Only a caller allowed to may decode the details; bob may not.
    assert_eq!(
        v.decode_authorization_message(&bob, &ctx(), encoded)
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
    let decoded: serde_json::Value = serde_json::from_str(
        &v.decode_authorization_message(&root, &ctx(), encoded)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(decoded["allowed"], false);
    assert_eq!(decoded["context"]["action"], "iam:ListUsers");
    assert_eq!(
        decoded["failures"]["items"][0],
        "no identity-based policy allows the action"
    );
    assert_eq!(
        v.decode_authorization_message(&root, &ctx(), "AAAA")
            .unwrap_err()
            .code(),
        "InvalidInput"
    );
    // The root of another account is denied on this account's resources.
    let other = Caller::root(&AccountId::parse("210987654321").unwrap());
    let p = v
        .create_policy(&root, &ctx(), "mine", None, DOC, None)
        .unwrap();
    assert_eq!(
        v.get_policy(&other, &ctx(), &p.arn).unwrap_err().code(),
        "AccessDenied"
    );
}

#[test]
fn access_keys_limit_status_and_secret() {
    let (v, root, clock) = vault();
    v.create_user(&root, &ctx(), "alice", None, None, &[])
        .unwrap();
    let k1 = v.create_access_key(&root, &ctx(), Some("alice")).unwrap();
    let k2 = v.create_access_key(&root, &ctx(), Some("alice")).unwrap();
    v.update_access_key(
        &root,
        &ctx(),
        Some("alice"),
        &k1.metadata.access_key_id,
        KeyStatus::Inactive,
    )
    .unwrap();
    // Inactive keys count toward the limit.
    assert_eq!(
        v.create_access_key(&root, &ctx(), Some("alice"))
            .err()
            .unwrap()
            .code(),
        "LimitExceeded"
    );
    let list = v.list_access_keys(&root, &ctx(), Some("alice")).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list.iter()
            .find(|k| k.access_key_id == k1.metadata.access_key_id)
            .unwrap()
            .status,
        "Inactive"
    );
    // Only active keys verify, and the secret round-trips through the seal.
    assert!(
        v.access_key_secret(&k1.metadata.access_key_id)
            .unwrap()
            .is_none()
    );
    let entry = v
        .access_key_secret(&k2.metadata.access_key_id)
        .unwrap()
        .unwrap();
    assert_eq!(entry.user.name, "alice");
    assert!(entry.secret == k2.secret);
    // Last used.
    let lu = v
        .get_access_key_last_used(&root, &ctx(), &k2.metadata.access_key_id)
        .unwrap();
    assert_eq!(lu.access_key_last_used.service_name, "N/A");
    assert_eq!(lu.access_key_last_used.region, "N/A");
    assert!(lu.access_key_last_used.last_used_date.is_none());
    clock.advance(time::Duration::hours(1));
    v.record_access_key_use(&k2.metadata.access_key_id, "iam", "us-east-1")
        .unwrap();
    let lu = v
        .get_access_key_last_used(&root, &ctx(), &k2.metadata.access_key_id)
        .unwrap();
    assert_eq!(lu.access_key_last_used.service_name, "iam");
    assert_eq!(lu.access_key_last_used.last_used_date, Some(clock.now()));
    // A key of another user cannot be touched through this user.
    v.create_user(&root, &ctx(), "bob", None, None, &[])
        .unwrap();
    assert_eq!(
        v.delete_access_key(&root, &ctx(), Some("bob"), &k2.metadata.access_key_id)
            .unwrap_err()
            .code(),
        "NoSuchEntity"
    );
    v.delete_access_key(&root, &ctx(), Some("alice"), &k1.metadata.access_key_id)
        .unwrap();
    assert_eq!(
        v.list_access_keys(&root, &ctx(), Some("alice"))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn credentials_are_warm_only_while_memory_alone_can_check_them() {
    let (v, root, clock) = vault();
    v.create_user(&root, &ctx(), "alice", None, None, &[])
        .unwrap();
    let k = v.create_access_key(&root, &ctx(), Some("alice")).unwrap();
    let id = k.metadata.access_key_id.clone();
    // Never seen: the server would take the blocking path.
    assert!(!v.credentials_warm(&id, None, "sts"));
    assert!(v.access_key_secret(&id).unwrap().is_some());
    // The secret is cached but the last-used stamp is not known fresh yet.
    assert!(!v.credentials_warm(&id, None, "sts"));
    v.record_access_key_use(&id, "sts", "us-east-1").unwrap();
    assert!(v.credentials_warm(&id, None, "sts"));
    // Another service's stamp is another write.
    assert!(!v.credentials_warm(&id, None, "iam"));
    // A check for outside changes is due after a second.
    clock.advance(time::Duration::seconds(2));
    assert!(!v.credentials_warm(&id, None, "sts"));
    assert!(v.access_key_secret(&id).unwrap().is_some());
    assert!(v.credentials_warm(&id, None, "sts"));
    // Any committed change drops the cached secret.
    v.update_access_key(&root, &ctx(), Some("alice"), &id, KeyStatus::Inactive)
        .unwrap();
    assert!(!v.credentials_warm(&id, None, "sts"));
    // A session token is warm once verified and while revocations are fresh.
    let bob = user_caller(&v, &root, "bob");
    let bk = v.create_access_key(&root, &ctx(), Some("bob")).unwrap();
    let s = v
        .get_session_token(&bob, Some(&bk.metadata.access_key_id), None, None, None)
        .unwrap();
    let token = s.token.clone();
    assert!(!v.credentials_warm(&s.claims.access_key_id, Some(&token), "sts"));
    v.verify_session(&s.claims.access_key_id, &token).unwrap();
    assert!(v.credentials_warm(&s.claims.access_key_id, Some(&token), "sts"));
    assert!(!v.credentials_warm(&s.claims.access_key_id, Some("not-a-token"), "sts"));
    // Seconds later the revocation state needs a refresh (a read): not warm until a
    // verification refreshed it. Only that: a session reads none of the caches the
    // look for outside changes guards, so it needs no long-term key's request to be warm.
    clock.advance(time::Duration::seconds(2));
    assert!(!v.credentials_warm(&s.claims.access_key_id, Some(&token), "sts"));
    v.verify_session(&s.claims.access_key_id, &token).unwrap();
    assert!(v.credentials_warm(&s.claims.access_key_id, Some(&token), "sts"));
}

#[test]
fn delete_conflicts_and_force() {
    let (v, root, _) = vault();
    v.create_user(&root, &ctx(), "alice", None, None, &[])
        .unwrap();
    v.create_group(&root, &ctx(), "devs", None).unwrap();
    v.add_user_to_group(&root, &ctx(), "devs", "alice").unwrap();
    v.create_access_key(&root, &ctx(), Some("alice")).unwrap();
    v.attach_policy(
        &root,
        &ctx(),
        EntityKind::User,
        "alice",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    .unwrap();
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "alice", "p", DOC)
        .unwrap();
    let e = v.delete_user(&root, &ctx(), "alice", false).unwrap_err();
    assert_eq!(e.code(), "DeleteConflict");
    assert!(v.get_user(&root, &ctx(), Some("alice")).is_ok());
    assert_eq!(
        v.delete_group(&root, &ctx(), "devs", false)
            .unwrap_err()
            .code(),
        "DeleteConflict"
    );
    v.delete_user(&root, &ctx(), "alice", true).unwrap();
    assert!(v.get_group(&root, &ctx(), "devs").unwrap().users.is_empty());
    v.delete_group(&root, &ctx(), "devs", false).unwrap();
    // Nothing of alice's survived.
    assert_eq!(
        v.get_policy(&root, &ctx(), "arn:aws:iam::aws:policy/ReadOnlyAccess")
            .unwrap()
            .attachment_count,
        0
    );
}

#[test]
fn roles_and_instance_profiles() {
    let (v, root, _) = vault();
    let role = v
        .create_role(
            &root,
            &ctx(),
            &NewRole {
                name: "web",
                trust_policy: TRUST,
                ..NewRole::default()
            },
        )
        .unwrap();
    assert!(role.role_id.starts_with("AROA"));
    assert_eq!(role.max_session_duration, 3600);
    for bad in [3599, 43201] {
        assert_eq!(
            v.update_role(&root, &ctx(), "web", None, Some(bad))
                .unwrap_err()
                .code(),
            "ValidationError"
        );
    }
    v.update_role(&root, &ctx(), "web", Some("front end"), Some(43200))
        .unwrap();
    assert_eq!(
        v.get_role(&root, &ctx(), "web")
            .unwrap()
            .max_session_duration,
        43200
    );
    v.create_role(
        &root,
        &ctx(),
        &NewRole {
            name: "db",
            trust_policy: TRUST,
            ..NewRole::default()
        },
    )
    .unwrap();
    let p = v
        .create_instance_profile(&root, &ctx(), "web-profile", None)
        .unwrap();
    assert!(p.instance_profile_id.starts_with("AIPA"));
    v.add_role_to_instance_profile(&root, &ctx(), "web-profile", "web")
        .unwrap();
    assert_eq!(
        v.add_role_to_instance_profile(&root, &ctx(), "web-profile", "db")
            .unwrap_err()
            .code(),
        "LimitExceeded"
    );
    assert_eq!(
        v.get_instance_profile(&root, &ctx(), "web-profile")
            .unwrap()
            .roles[0]
            .role_name,
        "web"
    );
    assert_eq!(
        v.delete_role(&root, &ctx(), "web", false)
            .unwrap_err()
            .code(),
        "DeleteConflict"
    );
    assert_eq!(
        v.delete_instance_profile(&root, &ctx(), "web-profile", false)
            .unwrap_err()
            .code(),
        "DeleteConflict"
    );
    v.remove_role_from_instance_profile(&root, &ctx(), "web-profile", "web")
        .unwrap();
    v.delete_instance_profile(&root, &ctx(), "web-profile", false)
        .unwrap();
    v.delete_role(&root, &ctx(), "web", false).unwrap();
    assert_eq!(
        v.update_assume_role_policy(&root, &ctx(), "db", "not json")
            .unwrap_err()
            .code(),
        "MalformedPolicyDocument"
    );
}

#[test]
fn managed_policy_versions() {
    let (v, root, _) = vault();
    let p = v
        .create_policy(&root, &ctx(), "read", None, DOC, None)
        .unwrap();
    assert_eq!(p.default_version_id, "v1");
    assert!(p.policy_id.starts_with("ANPA"));
    for _ in 0..4 {
        v.create_policy_version(&root, &ctx(), &p.arn, DOC, false)
            .unwrap();
    }
    assert_eq!(
        v.create_policy_version(&root, &ctx(), &p.arn, DOC, false)
            .unwrap_err()
            .code(),
        "LimitExceeded"
    );
    assert_eq!(
        v.delete_policy_version(&root, &ctx(), &p.arn, "v1")
            .unwrap_err()
            .code(),
        "DeleteConflict"
    );
    v.set_default_policy_version(&root, &ctx(), &p.arn, "v3")
        .unwrap();
    v.delete_policy_version(&root, &ctx(), &p.arn, "v1")
        .unwrap();
    let versions = v.list_policy_versions(&root, &ctx(), &p.arn).unwrap();
    assert_eq!(versions.len(), 4);
    assert!(
        versions
            .iter()
            .any(|x| x.version_id == "v3" && x.is_default_version)
    );
    let nv = v
        .create_policy_version(&root, &ctx(), &p.arn, DOC, true)
        .unwrap();
    assert_eq!(nv.version_id, "v6");
    assert_eq!(
        v.get_policy(&root, &ctx(), &p.arn)
            .unwrap()
            .default_version_id,
        "v6"
    );
    assert_eq!(
        v.delete_policy(&root, &ctx(), &p.arn, false)
            .unwrap_err()
            .code(),
        "DeleteConflict"
    );
    v.delete_policy(&root, &ctx(), &p.arn, true).unwrap();
    assert_eq!(
        v.get_policy(&root, &ctx(), &p.arn).unwrap_err().code(),
        "NoSuchEntity"
    );
    // Vault-provided policies are listed and cannot be changed.
    let aws = v
        .list_policies(&root, &ctx(), PolicyScope::Aws, false, None)
        .unwrap();
    for name in [
        "AdministratorAccess",
        "IAMFullAccess",
        "IAMReadOnlyAccess",
        "IAMUserChangePassword",
        "ReadOnlyAccess",
    ] {
        assert!(aws.iter().any(|p| p.policy_name == name), "{name}");
    }
    assert_eq!(
        v.delete_policy(
            &root,
            &ctx(),
            "arn:aws:iam::aws:policy/AdministratorAccess",
            true
        )
        .unwrap_err()
        .code(),
        "InvalidInput"
    );
}

#[test]
fn attachment_limit_and_boundaries() {
    let (v, root, _) = vault();
    v.create_user(&root, &ctx(), "alice", None, None, &[])
        .unwrap();
    let mut arns = Vec::new();
    for i in 0..11 {
        arns.push(
            v.create_policy(&root, &ctx(), &format!("p{i}"), None, DOC, None)
                .unwrap()
                .arn,
        );
    }
    for a in &arns[..10] {
        v.attach_policy(&root, &ctx(), EntityKind::User, "alice", a)
            .unwrap();
    }
    // Re-attaching is idempotent; an eleventh is refused.
    v.attach_policy(&root, &ctx(), EntityKind::User, "alice", &arns[0])
        .unwrap();
    assert_eq!(
        v.attach_policy(&root, &ctx(), EntityKind::User, "alice", &arns[10])
            .unwrap_err()
            .code(),
        "LimitExceeded"
    );
    assert_eq!(
        v.list_attached_policies(&root, &ctx(), EntityKind::User, "alice")
            .unwrap()
            .len(),
        10
    );
    v.detach_policy(&root, &ctx(), EntityKind::User, "alice", &arns[0])
        .unwrap();
    assert_eq!(
        v.detach_policy(&root, &ctx(), EntityKind::User, "alice", &arns[0])
            .unwrap_err()
            .code(),
        "NoSuchEntity"
    );
    v.put_permissions_boundary(&root, &ctx(), EntityKind::User, "alice", &arns[10])
        .unwrap();
    assert_eq!(
        v.get_user(&root, &ctx(), Some("alice"))
            .unwrap()
            .permissions_boundary
            .unwrap()
            .permissions_boundary_arn,
        arns[10]
    );
    // A policy used as a boundary is not deleted, even with force.
    assert_eq!(
        v.delete_policy(&root, &ctx(), &arns[10], true)
            .unwrap_err()
            .code(),
        "DeleteConflict"
    );
    v.delete_permissions_boundary(&root, &ctx(), EntityKind::User, "alice")
        .unwrap();
    v.delete_policy(&root, &ctx(), &arns[10], false).unwrap();
}

#[test]
fn inline_policy_aggregate_limit() {
    let (v, root, _) = vault();
    v.create_user(&root, &ctx(), "alice", None, None, &[])
        .unwrap();
    let doc = |n: usize| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}]}}"#,
            "x".repeat(n)
        )
    };
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "alice", "a", &doc(900))
        .unwrap();
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "alice", "b", &doc(900))
        .unwrap();
    assert_eq!(
        v.put_inline_policy(&root, &ctx(), EntityKind::User, "alice", "c", &doc(200))
            .unwrap_err()
            .code(),
        "LimitExceeded"
    );
    // Replacing a policy counts the new size, not both.
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "alice", "B", &doc(850))
        .unwrap();
    assert_eq!(
        v.list_inline_policies(&root, &ctx(), EntityKind::User, "alice")
            .unwrap(),
        vec!["a", "B"]
    );
    assert_eq!(
        v.get_inline_policy(&root, &ctx(), EntityKind::User, "alice", "b")
            .unwrap()
            .policy_name,
        "B"
    );
    v.delete_inline_policy(&root, &ctx(), EntityKind::User, "alice", "a")
        .unwrap();
    // Roles have a larger budget.
    v.create_role(
        &root,
        &ctx(),
        &NewRole {
            name: "r",
            trust_policy: TRUST,
            ..NewRole::default()
        },
    )
    .unwrap();
    v.put_inline_policy(&root, &ctx(), EntityKind::Role, "r", "big", &doc(5000))
        .unwrap();
}

#[test]
fn tags() {
    let (v, root, _) = vault();
    v.create_user(&root, &ctx(), "alice", None, None, &[])
        .unwrap();
    v.tag_user(&root, &ctx(), "alice", &[Tag::new("Team", "a").unwrap()])
        .unwrap();
    v.tag_user(&root, &ctx(), "alice", &[Tag::new("team", "b").unwrap()])
        .unwrap();
    let t = v.list_user_tags(&root, &ctx(), "alice").unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].value, "b");
    v.untag_user(&root, &ctx(), "alice", &["TEAM".into(), "absent".into()])
        .unwrap();
    assert!(v.list_user_tags(&root, &ctx(), "alice").unwrap().is_empty());
    let fifty: Vec<Tag> = (0..50)
        .map(|i| Tag::new(&format!("k{i}"), "v").unwrap())
        .collect();
    v.tag_user(&root, &ctx(), "alice", &fifty).unwrap();
    assert_eq!(
        v.tag_user(
            &root,
            &ctx(),
            "alice",
            &[Tag::new("one-more", "v").unwrap()]
        )
        .unwrap_err()
        .code(),
        "LimitExceeded"
    );
}

/// Creates user `name` and returns it as a caller.
fn user_caller(v: &Vault, root: &Caller, name: &str) -> Caller {
    let u = v.create_user(root, &ctx(), name, None, None, &[]).unwrap();
    Caller {
        account: root.account.clone(),
        arn: u.arn,
        kind: CallerKind::User {
            user_id: u.user_id,
            name: name.into(),
        },
    }
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

#[test]
fn the_engine_authorizes_every_operation() {
    let (v, root, _) = vault();
    let bob = user_caller(&v, &root, "bob");
    assert_eq!(
        v.list_users(&bob, &ctx(), None).unwrap_err().code(),
        "AccessDenied"
    );
    // A vault-provided policy, attached directly.
    v.attach_policy(
        &root,
        &ctx(),
        EntityKind::User,
        "bob",
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    )
    .unwrap();
    assert_eq!(v.list_users(&bob, &ctx(), None).unwrap().len(), 1);
    let e = v
        .create_user(&bob, &ctx(), "carol", None, None, &[])
        .unwrap_err();
    assert!(e.to_string().starts_with(
        "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::123456789012:user/carol because no identity-based policy allows the iam:CreateUser action. Encoded authorization failure message: "
    ));
    // A customer policy through a group, scoped by path.
    let p = v
        .create_policy(
            &root,
            &ctx(),
            "eng-admin",
            None,
            &allow("iam:CreateUser", "arn:aws:iam::123456789012:user/eng/*"),
            None,
        )
        .unwrap();
    v.create_group(&root, &ctx(), "eng", None).unwrap();
    v.attach_policy(&root, &ctx(), EntityKind::Group, "eng", &p.arn)
        .unwrap();
    v.add_user_to_group(&root, &ctx(), "eng", "bob").unwrap();
    v.create_user(&bob, &ctx(), "carol", Some("/eng/"), None, &[])
        .unwrap();
    assert_eq!(
        v.create_user(&bob, &ctx(), "dave", Some("/ops/"), None, &[])
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
    // Membership changes take effect on the next request.
    v.remove_user_from_group(&root, &ctx(), "eng", "bob")
        .unwrap();
    assert_eq!(
        v.create_user(&bob, &ctx(), "erin", Some("/eng/"), None, &[])
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
    // An explicit deny in an inline policy wins over an allow.
    v.add_user_to_group(&root, &ctx(), "eng", "bob").unwrap();
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:CreateUser","Resource":"*"}]}"#;
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "bob", "no-create", deny)
        .unwrap();
    let e = v
        .create_user(&bob, &ctx(), "erin", Some("/eng/"), None, &[])
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("with an explicit deny in an identity-based policy. Encoded"),
        "{e}"
    );
}

#[test]
fn a_permissions_boundary_caps_what_policies_grant() {
    let (v, root, _) = vault();
    let bob = user_caller(&v, &root, "bob");
    v.attach_policy(
        &root,
        &ctx(),
        EntityKind::User,
        "bob",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    )
    .unwrap();
    v.create_user(&bob, &ctx(), "x", None, None, &[]).unwrap();
    v.put_permissions_boundary(
        &root,
        &ctx(),
        EntityKind::User,
        "bob",
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    )
    .unwrap();
    assert_eq!(
        v.create_user(&bob, &ctx(), "y", None, None, &[])
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
    assert!(v.get_user(&bob, &ctx(), Some("x")).is_ok());
    // The boundary alone grants nothing.
    v.detach_policy(
        &root,
        &ctx(),
        EntityKind::User,
        "bob",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    )
    .unwrap();
    assert_eq!(
        v.get_user(&bob, &ctx(), Some("x")).unwrap_err().code(),
        "AccessDenied"
    );
}

#[test]
fn passing_a_role_to_an_instance_profile_needs_pass_role() {
    let (v, root, _) = vault();
    let bob = user_caller(&v, &root, "bob");
    v.create_role(
        &root,
        &ctx(),
        &NewRole {
            name: "web",
            trust_policy: TRUST,
            ..NewRole::default()
        },
    )
    .unwrap();
    v.create_instance_profile(&root, &ctx(), "hosts", None)
        .unwrap();
    v.put_inline_policy(
        &root,
        &ctx(),
        EntityKind::User,
        "bob",
        "p",
        &allow("iam:AddRoleToInstanceProfile", "*"),
    )
    .unwrap();
    let e = v
        .add_role_to_instance_profile(&bob, &ctx(), "hosts", "web")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("iam:PassRole on resource: arn:aws:iam::123456789012:role/web"),
        "{e}"
    );
    // PassRole restricted to another service does not count.
    let wrong_service = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}}]}"#;
    v.put_inline_policy(
        &root,
        &ctx(),
        EntityKind::User,
        "bob",
        "pass",
        wrong_service,
    )
    .unwrap();
    assert_eq!(
        v.add_role_to_instance_profile(&bob, &ctx(), "hosts", "web")
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
    let ec2 = wrong_service.replace("lambda", "ec2");
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "bob", "pass", &ec2)
        .unwrap();
    v.add_role_to_instance_profile(&bob, &ctx(), "hosts", "web")
        .unwrap();
}

#[test]
fn request_and_principal_context_keys_reach_conditions() {
    let (v, root, _) = vault();
    let bob = user_caller(&v, &root, "bob");
    // Self-service on one's own user, through ${aws:username}.
    let own = allow(
        "iam:ListAccessKeys",
        "arn:aws:iam::123456789012:user/${aws:username}",
    );
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "bob", "own", &own)
        .unwrap();
    v.list_access_keys(&bob, &ctx(), Some("bob")).unwrap();
    v.create_user(&root, &ctx(), "carol", None, None, &[])
        .unwrap();
    assert_eq!(
        v.list_access_keys(&bob, &ctx(), Some("carol"))
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
    // Tag-on-create only with the right tag.
    let tagged = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:CreateUser","iam:TagUser"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"platform"},"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}}]}"#;
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "bob", "tagged", tagged)
        .unwrap();
    assert_eq!(
        v.create_user(&bob, &ctx(), "d1", None, None, &[])
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
    assert_eq!(
        v.create_user(
            &bob,
            &ctx(),
            "d2",
            None,
            None,
            &[Tag::new("team", "data").unwrap()]
        )
        .unwrap_err()
        .code(),
        "AccessDenied"
    );
    v.create_user(
        &bob,
        &ctx(),
        "d3",
        None,
        None,
        &[Tag::new("team", "platform").unwrap()],
    )
    .unwrap();
    // Resource tags of the target user.
    let by_tag = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"platform"}}}]}"#;
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "bob", "by-tag", by_tag)
        .unwrap();
    v.get_user(&bob, &ctx(), Some("d3")).unwrap();
    assert_eq!(
        v.get_user(&bob, &ctx(), Some("carol")).unwrap_err().code(),
        "AccessDenied"
    );
    // Source address.
    let from_net = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListGroups","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "bob", "net", from_net)
        .unwrap();
    assert_eq!(
        v.list_groups(&bob, &ctx(), None).unwrap_err().code(),
        "AccessDenied"
    );
    let inside = RequestContext {
        source_ip: Some("10.1.2.3".parse().unwrap()),
        ..RequestContext::default()
    };
    v.list_groups(&bob, &inside, None).unwrap();
}

#[test]
fn attaching_a_policy_checks_the_policy_arn_condition() {
    let (v, root, _) = vault();
    let bob = user_caller(&v, &root, "bob");
    v.create_user(&root, &ctx(), "carol", None, None, &[])
        .unwrap();
    let only_ro = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*","Condition":{"ArnEquals":{"iam:PolicyARN":"arn:aws:iam::aws:policy/ReadOnlyAccess"}}}]}"#;
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "bob", "p", only_ro)
        .unwrap();
    v.attach_policy(
        &bob,
        &ctx(),
        EntityKind::User,
        "carol",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    .unwrap();
    // The classic escalation: attaching AdministratorAccess to oneself.
    assert_eq!(
        v.attach_policy(
            &bob,
            &ctx(),
            EntityKind::User,
            "bob",
            "arn:aws:iam::aws:policy/AdministratorAccess"
        )
        .unwrap_err()
        .code(),
        "AccessDenied"
    );
}
