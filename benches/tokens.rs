//! Session tokens: minted per second, verified per second cold (Ed25519) and warm (cache).
//!
//! `cargo bench --bench tokens`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up: a failure should stop the run loudly"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use iamvault::clock::{Env, SystemRandom};
use iamvault::crypto::{KeyRing, MasterKey};
use iamvault::model::{AccountId, SecretString};
use iamvault::service::{
    AssumeRoleRequest, Caller, CallerKind, InitOptions, NewRole, RequestContext, Vault,
};
use iamvault::store::EntityKind;
use iamvault::sts::{self, Claims, PublicKeySet, SessionKind, TokenSigningKey};

fn claims() -> Claims {
    Claims {
        kind: SessionKind::Role,
        account: "123456789012".into(),
        principal_arn: "arn:aws:sts::123456789012:assumed-role/app/s1".into(),
        principal_id: "AROAEXAMPLEEXAMPLEEXA:s1".into(),
        role_arn: Some("arn:aws:iam::123456789012:role/app".into()),
        session_name: Some("s1".into()),
        issued_at: 1_900_000_000,
        expires_at: 1_900_003_600,
        mfa_time: None,
        source_identity: None,
        tags: vec![("team".into(), "platform".into())],
        transitive_tag_keys: vec![],
        session_policies: vec![],
        policy_arns: vec![],
        chain_depth: 0,
        token_id: [7; 16],
        access_key_id: "ASIAEXAMPLEEXAMPLE22".into(),
        source_access_key_id: None,
    }
}

fn bench(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let ring = KeyRing::derive(&MasterKey::generate(&rng).unwrap()).unwrap();
    let key = TokenSigningKey::generate(&rng).unwrap();
    let mut keys = PublicKeySet::default();
    keys.insert(key.public(), None);
    let secret = SecretString::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into());
    let now = time::OffsetDateTime::from_unix_timestamp(1_900_000_100).unwrap();
    let token = sts::mint(&claims(), &secret, &key, &ring, &rng).unwrap();
    let mut g = c.benchmark_group("tokens");
    g.bench_function("mint", |b| {
        b.iter(|| sts::mint(black_box(&claims()), &secret, &key, &ring, &rng).unwrap())
    });
    g.bench_function("verify_cold_ed25519_strict", |b| {
        b.iter(|| sts::verify(black_box(&token), &keys, &ring, now).unwrap())
    });

    // The vault's verification path with its cache: only the first call verifies.
    let dir = tempfile::tempdir().unwrap();
    let acct = AccountId::parse("123456789012").unwrap();
    let (vault, _) = Vault::init(
        &dir.path().join("v"),
        Env::system(),
        InitOptions {
            account_id: Some(acct.clone()),
            ..InitOptions::default()
        },
    )
    .unwrap();
    let root = Caller::root(&acct);
    let ctx = RequestContext::default();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}"#;
    vault
        .create_role(
            &root,
            &ctx,
            &NewRole {
                name: "app",
                trust_policy: trust,
                ..NewRole::default()
            },
        )
        .unwrap();
    let u = vault
        .create_user(&root, &ctx, "bench", None, None, &[])
        .unwrap();
    vault
        .attach_policy(
            &root,
            &ctx,
            EntityKind::User,
            "bench",
            "arn:aws:iam::aws:policy/AdministratorAccess",
        )
        .unwrap();
    let user = Caller {
        account: acct,
        arn: u.arn,
        kind: CallerKind::User {
            user_id: u.user_id,
            name: "bench".into(),
        },
    };
    let s = vault
        .assume_role(
            &user,
            &ctx,
            &AssumeRoleRequest {
                role_arn: "arn:aws:iam::123456789012:role/app".into(),
                session_name: "s1".into(),
                ..Default::default()
            },
        )
        .unwrap();
    vault
        .verify_session(&s.claims.access_key_id, &s.token)
        .unwrap();
    g.bench_function("verify_warm_cached", |b| {
        b.iter(|| {
            vault
                .verify_session(black_box(&s.claims.access_key_id), black_box(&s.token))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
