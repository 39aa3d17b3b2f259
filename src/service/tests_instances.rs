//! Instance identities and their credential requests.

use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey};
use time::Duration;
use time::macros::datetime;

use super::*;
use crate::clock::{Clock, TestClock, TestRandom};
use crate::store::{AccountRow, EntityKind};

const A: &str = "123456789012";
const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn setup() -> (Vault, TestClock, Caller) {
    let clock = TestClock::new(datetime!(2026-06-01 12:00 UTC));
    let v = Vault::in_memory(Env {
        clock: Arc::new(clock.clone()),
        rng: Arc::new(TestRandom::new(8)),
    })
    .unwrap();
    let tx = v.store().write().unwrap();
    tx.insert_account(
        &AccountRow {
            account_id: A.into(),
            created_at: clock.now(),
        },
        None,
    )
    .unwrap();
    tx.commit().unwrap();
    (v, clock, Caller::root(&AccountId::parse(A).unwrap()))
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn profile(v: &Vault, root: &Caller, name: &str, trust: &str) {
    v.create_role(
        root,
        &ctx(),
        &NewRole {
            name,
            trust_policy: trust,
            ..NewRole::default()
        },
    )
    .unwrap();
    v.attach_policy(
        root,
        &ctx(),
        EntityKind::Role,
        name,
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    )
    .unwrap();
    v.create_instance_profile(root, &ctx(), name, None).unwrap();
    v.add_role_to_instance_profile(root, &ctx(), name, name)
        .unwrap();
}

fn ask(v: &Vault, key: &SigningKey, _id: &str, t: i64, nonce: &str) -> Result<IssuedSession> {
    let pk = hex::encode(key.verifying_key().as_bytes());
    let sig = key.sign(&instance_request_message(&pk, t, nonce));
    v.instance_credentials(&pk, t, nonce, &sig.to_bytes())
        .map(|(_, s)| s)
}

#[test]
fn a_registered_instance_gets_role_credentials_once_per_nonce() {
    let (v, clock, root) = setup();
    profile(&v, &root, "web", EC2_TRUST);
    let key = SigningKey::from_bytes(&[5; 32]);
    let info = v
        .register_instance(
            &root,
            &ctx(),
            "web-1",
            "web",
            key.verifying_key().as_bytes(),
        )
        .unwrap();
    assert!(
        info.instance_id.starts_with("i-") && info.instance_id.len() == 19,
        "{}",
        info.instance_id
    );
    assert_eq!(
        info.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/web")
    );
    let t = clock.now().unix_timestamp();
    let s = ask(&v, &key, &info.instance_id, t, "nonce-0000000001").unwrap();
    assert_eq!(
        s.claims.principal_arn,
        format!("arn:aws:sts::{A}:assumed-role/web/{}", info.instance_id)
    );
    assert!(
        s.claims.principal_id.starts_with("AROA")
            && s.claims.principal_id.ends_with(&info.instance_id)
    );
    assert_eq!(s.claims.chain_depth, 0);
    // The session can use the role's permissions.
    let verified = v.verify_session(&s.claims.access_key_id, &s.token).unwrap();
    let caller = Caller {
        account: AccountId::parse(A).unwrap(),
        arn: verified.claims.principal_arn.clone(),
        kind: CallerKind::Session(Arc::clone(&verified.claims)),
    };
    v.list_users(&caller, &ctx(), None).unwrap();
    // Replay, stale and future timestamps, a wrong key, an unknown instance: refused.
    assert_eq!(
        ask(&v, &key, &info.instance_id, t, "nonce-0000000001")
            .err()
            .unwrap()
            .code(),
        "AccessDenied"
    );
    assert!(ask(&v, &key, &info.instance_id, t - 301, "nonce-0000000002").is_err());
    assert!(ask(&v, &key, &info.instance_id, t + 301, "nonce-0000000003").is_err());
    let stranger = SigningKey::from_bytes(&[6; 32]);
    assert!(ask(&v, &stranger, &info.instance_id, t, "nonce-0000000004").is_err());
    let unregistered = SigningKey::from_bytes(&[9; 32]);
    assert!(ask(&v, &unregistered, "", t, "nonce-0000000005").is_err());
    // A new nonce works; time moves on with the test clock.
    clock.advance(Duration::seconds(30));
    ask(
        &v,
        &key,
        &info.instance_id,
        clock.now().unix_timestamp(),
        "nonce-0000000006",
    )
    .unwrap();
    // Deregistering stops new credentials and revokes the ones handed out.
    v.deregister_instance(&root, &ctx(), &info.instance_id)
        .unwrap();
    assert!(
        ask(
            &v,
            &key,
            &info.instance_id,
            clock.now().unix_timestamp(),
            "nonce-0000000007"
        )
        .is_err()
    );
    assert!(v.verify_session(&s.claims.access_key_id, &s.token).is_err());
}

#[test]
fn the_trust_policy_must_name_ec2_and_registration_needs_pass_role() {
    let (v, clock, root) = setup();
    let lambda_trust = EC2_TRUST.replace("ec2", "lambda");
    profile(&v, &root, "wrong-service", &lambda_trust);
    let key = SigningKey::from_bytes(&[7; 32]);
    let info = v
        .register_instance(
            &root,
            &ctx(),
            "x",
            "wrong-service",
            key.verifying_key().as_bytes(),
        )
        .unwrap();
    let e = ask(
        &v,
        &key,
        &info.instance_id,
        clock.now().unix_timestamp(),
        "nonce-1000000001",
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("ec2.amazonaws.com"), "{e}");
    // A user without iam:PassRole cannot register an instance with a role.
    profile(&v, &root, "web", EC2_TRUST);
    let u = v
        .create_user(&root, &ctx(), "ops", None, None, &[])
        .unwrap();
    let allow_register = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"vault:RegisterInstance","Resource":"*"}]}"#;
    v.put_inline_policy(&root, &ctx(), EntityKind::User, "ops", "p", allow_register)
        .unwrap();
    let ops = Caller {
        account: root.account.clone(),
        arn: u.arn,
        kind: CallerKind::User {
            user_id: u.user_id,
            name: "ops".into(),
        },
    };
    let k2 = SigningKey::from_bytes(&[8; 32]);
    let e = v
        .register_instance(&ops, &ctx(), "y", "web", k2.verifying_key().as_bytes())
        .err()
        .unwrap();
    assert!(e.to_string().contains("iam:PassRole"), "{e}");
    // The same public key cannot be registered twice; a profile in use cannot be deleted.
    assert_eq!(
        v.register_instance(
            &root,
            &ctx(),
            "z",
            "wrong-service",
            key.verifying_key().as_bytes()
        )
        .err()
        .unwrap()
        .code(),
        "EntityAlreadyExists"
    );
    assert_eq!(
        v.delete_instance_profile(&root, &ctx(), "wrong-service", true)
            .err()
            .unwrap()
            .code(),
        "DeleteConflict"
    );
    assert_eq!(v.list_instances(&root, &ctx()).unwrap().len(), 1);
}
