//! Policy evaluation speed on the workload in `policy_workload.rs`, with the request
//! context built inside the timed loop.
//!
//! `cargo bench --bench policy`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark set-up: a failure should stop the run loudly"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use iamvault::policy::{self, CompiledPolicy, IdentityIndex, PolicyKind, PolicySet, PrincipalInfo};

#[path = "policy_workload.rs"]
mod workload;

const USER: &str = "arn:aws:iam::123456789012:user/alice";
const ACCT: &str = "123456789012";

fn ctx(action: &str, resource: &str) -> policy::RequestContext {
    policy::RequestContext::builder(action, resource)
        .principal(USER, ACCT)
        .string("aws:username", "alice")
        .string("aws:PrincipalTag/team", "platform")
        .ip("aws:SourceIp", "10.1.2.3".parse().unwrap())
        .build()
}

fn bench(c: &mut Criterion) {
    let compiled: Vec<(String, CompiledPolicy)> = workload::policies()
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            (
                format!("arn:aws:iam::123456789012:policy/p{i}"),
                policy::parse(&d, PolicyKind::Identity).unwrap(),
            )
        })
        .collect();
    let refs: Vec<(&str, &CompiledPolicy)> =
        compiled.iter().map(|(i, p)| (i.as_str(), p)).collect();
    let mut set = PolicySet::new(PrincipalInfo::user(USER, ACCT));
    set.identity = &refs;
    for r in workload::requests() {
        assert_eq!(
            policy::decide(&set, &ctx(r.action, r.resource)).as_str(),
            r.expect,
            "{}",
            r.action
        );
    }
    // The server builds the index once per principal and caches it with the principal's
    // policies, so it is built outside the timed loops.
    let index = IdentityIndex::new(&refs);
    let cases = [
        ("allowed", "svc7:Op2", "arn:aws:svc7:::res2/report.csv"),
        (
            "implicit_deny",
            "svc7:Op99",
            "arn:aws:svc7:::res2/report.csv",
        ),
        ("explicit_deny", "svc9:DeleteAll", "arn:aws:svc9:::res1/x"),
    ];
    let mut g = c.benchmark_group("policy");
    for (label, action, resource) in cases {
        g.bench_function(format!("{label}_100_statements"), |b| {
            b.iter(|| policy::decide(&set, &ctx(black_box(action), black_box(resource))))
        });
        g.bench_function(format!("{label}_100_statements_indexed"), |b| {
            b.iter(|| {
                policy::decide_with_index(
                    &set,
                    Some(&index),
                    &ctx(black_box(action), black_box(resource)),
                )
            })
        });
    }
    g.bench_function("context_only", |b| {
        b.iter(|| {
            ctx(
                black_box("svc7:Op2"),
                black_box("arn:aws:svc7:::res2/report.csv"),
            )
        })
    });
    let prebuilt = ctx("svc7:Op2", "arn:aws:svc7:::res2/report.csv");
    g.bench_function("allowed_decision_only", |b| {
        b.iter(|| policy::decide(&set, black_box(&prebuilt)))
    });

    // 1,000 statements stored, of which the request's service has 10: the cost follows the
    // statements that apply, not the ones stored.
    let mut big_docs = Vec::new();
    for k in 0..100 {
        let sts: Vec<String> = (0..10)
            .map(|s| format!(r#"{{"Effect":"Allow","Action":"other{k}:Op{s}","Resource":"arn:aws:other{k}:::r{s}/*"}}"#))
            .collect();
        big_docs.push(format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            sts.join(",")
        ));
    }
    let big: Vec<(String, CompiledPolicy)> = big_docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                format!("big{i}"),
                policy::parse(d, PolicyKind::Identity).unwrap(),
            )
        })
        .chain(
            compiled
                .iter()
                .map(|(i, _)| {
                    (
                        i.clone(),
                        policy::parse(&workload::policies()[0], PolicyKind::Identity).unwrap(),
                    )
                })
                .take(1),
        )
        .collect();
    let big_refs: Vec<(&str, &CompiledPolicy)> = big.iter().map(|(i, p)| (i.as_str(), p)).collect();
    let mut big_set = PolicySet::new(PrincipalInfo::user(USER, ACCT));
    big_set.identity = &big_refs;
    let big_index = IdentityIndex::new(&big_refs);
    for r in workload::requests() {
        let c = ctx(r.action, r.resource);
        assert_eq!(
            policy::decide_with_index(&set, Some(&index), &c),
            policy::decide(&set, &c)
        );
        assert_eq!(
            policy::decide_with_index(&big_set, Some(&big_index), &c),
            policy::decide(&big_set, &c)
        );
    }
    g.bench_function("allowed_1000_statements_10_apply", |b| {
        b.iter(|| {
            policy::decide(
                &big_set,
                &ctx(black_box("svc0:Op0"), black_box("arn:aws:svc0:::res0/x")),
            )
        })
    });
    g.bench_function("allowed_1000_statements_10_apply_indexed", |b| {
        b.iter(|| {
            policy::decide_with_index(
                &big_set,
                Some(&big_index),
                &ctx(black_box("svc0:Op0"), black_box("arn:aws:svc0:::res0/x")),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
