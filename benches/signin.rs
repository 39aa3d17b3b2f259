//! Sign-in cost against raw argon2: a sign-in should cost argon2 and little else.
//!
//! `cargo bench --bench signin`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up: a failure should stop the run loudly"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use iamvault::auth::{PasswordParams, hash_password, verify_password};
use iamvault::clock::{Env, SystemRandom};
use iamvault::model::{AccountId, SecretString};
use iamvault::service::{Caller, InitOptions, RequestContext, Vault};

fn bench(c: &mut Criterion) {
    let params = PasswordParams::default();
    let pw = SecretString::new("Correct-Horse-Battery-9".into());
    let phc = hash_password(&SystemRandom::new(), &pw, params).unwrap();
    let mut g = c.benchmark_group("signin");
    g.sample_size(30);
    g.bench_function("raw_argon2id_verify_m19456_t2_p1", |b| {
        b.iter(|| assert!(verify_password(&pw, &phc)))
    });

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
    vault
        .create_user(&root, &ctx, "alice", None, None, &[])
        .unwrap();
    vault
        .create_login_profile(&root, &ctx, "alice", &pw, false)
        .unwrap();
    g.bench_function("sign_in_password_default_params", |b| {
        b.iter(|| vault.sign_in(&acct, "alice", &pw, None, None).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
