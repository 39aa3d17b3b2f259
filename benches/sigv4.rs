//! SigV4: what a client pays to sign a Query-protocol POST, and what the server pays to
//! parse and check one (with the signing key already derived, as the server caches it),
//! with a long-term key and with a session token (a long signed header).
//!
//! `cargo bench --bench sigv4`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up: a failure should stop the run loudly"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use iamvault::sigv4::{self, OwnedRequest, PayloadHash, SigningKey};
use time::macros::datetime;

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn request() -> OwnedRequest {
    OwnedRequest::new("POST", "/")
        .with_header("host", "127.0.0.1:8977")
        .with_header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .with_body(b"Action=GetCallerIdentity&Version=2011-06-15".to_vec())
}

fn signed(token: Option<&str>, at: time::OffsetDateTime) -> OwnedRequest {
    let mut req = request();
    sigv4::sign(
        &mut req,
        "AKIAIOSFODNN7EXAMPLE",
        SECRET,
        token,
        "us-east-1",
        "sts",
        at,
    )
    .unwrap();
    req
}

fn bench(c: &mut Criterion) {
    let now = datetime!(2026-11-29 12:00:30 UTC);
    // About the length of a vault session token.
    let token = "IQoJb3JpZ2luX2VjE".repeat(40);
    let mut g = c.benchmark_group("sigv4");
    for (label, token) in [("key", None), ("session", Some(token.as_str()))] {
        g.bench_function(format!("sign_{label}"), |b| {
            b.iter(|| signed(black_box(token), now))
        });
        let req = signed(token, datetime!(2026-11-29 12:00:00 UTC));
        let view = req.view(PayloadHash::Body(&req.body)).unwrap();
        let auth = sigv4::parse_auth(&view).unwrap();
        let key = SigningKey::for_scope(SECRET, auth.scope());
        g.bench_function(format!("parse_and_verify_{label}"), |b| {
            b.iter(|| {
                let view = black_box(&req).view(PayloadHash::Body(&req.body)).unwrap();
                let auth = sigv4::parse_auth(&view).unwrap();
                sigv4::verify(&view, &auth, &key, now).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
