//! Times iamvault's compiled evaluator and Cedar on the same decisions, in one run, after
//! asserting that both engines decide every benchmarked request the same way.
//!
//! The workload is `benches/policy_workload.rs`: 100 statements over 10 policies. Each
//! IAM statement becomes one Cedar policy; principal tags, the source address and the
//! user name are context attributes, resource ARNs an attribute of the resource.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet as CedarSet, Request};
use iamvault::policy::{self, CompiledPolicy, IdentityIndex, PolicyKind, PolicySet, PrincipalInfo};

#[path = "../../policy_workload.rs"]
mod workload;

const USER: &str = "arn:aws:iam::123456789012:user/alice";
const ACCT: &str = "123456789012";

/// The Cedar policy set equivalent to `workload::policies()` for these requests.
fn cedar_policies() -> String {
    let mut out = String::new();
    for p in 0..10 {
        for s in 0..10 {
            if p == 9 && s == 9 {
                out.push_str("forbid(principal, action, resource) when { context.action like \"svc9:Delete*\" };\n");
                continue;
            }
            let pol = match s % 5 {
                0 => format!("permit(principal, action, resource) when {{ context.action == \"svc{p}:Op{s}\" && context.resource like \"arn:aws:svc{p}:::res{s}/*\" }};\n"),
                1 => format!("permit(principal, action, resource) when {{ context.action like \"svc{p}:List*\" }};\n"),
                2 => format!("permit(principal, action, resource) when {{ context.action == \"svc{p}:Op{s}\" && context.resource like \"arn:aws:svc{p}:::res{s}/*\" && context.team == \"platform\" }};\n"),
                3 => format!("permit(principal, action, resource) when {{ context.action == \"svc{p}:Op{s}\" && context.resource like \"arn:aws:svc{p}:::home/*\" && context.home_prefix_ok }};\n"),
                _ => format!("permit(principal, action, resource) when {{ (context.action == \"svc{p}:Op{s}\" || context.action == \"svc{p}:Put{s}\") && context.resource like \"arn:aws:svc{p}:::res{s}/*\" && context.source_ip.isInRange(ip(\"10.0.0.0/8\")) }};\n"),
            };
            out.push_str(&pol);
        }
    }
    out
}

fn iam_ctx(action: &str, resource: &str) -> policy::RequestContext {
    policy::RequestContext::builder(action, resource)
        .principal(USER, ACCT)
        .string("aws:username", "alice")
        .string("aws:PrincipalTag/team", "platform")
        .ip("aws:SourceIp", "10.1.2.3".parse().unwrap())
        .build()
}

fn cedar_request(action: &str, resource: &str) -> Request {
    // Cedar has no policy variables: the caller computes whether the resource is under the
    // user's home prefix and passes it as a context flag.
    let home_ok = resource.contains(":::home/alice/");
    let ctx = Context::from_json_value(
        serde_json::json!({
            "action": action,
            "resource": resource,
            "team": "platform",
            "source_ip": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}},
            "home_prefix_ok": home_ok,
        }),
        None,
    )
    .unwrap();
    Request::new(
        EntityUid::from_str("User::\"alice\"").unwrap(),
        EntityUid::from_str("Action::\"call\"").unwrap(),
        EntityUid::from_str("Resource::\"r\"").unwrap(),
        ctx,
        None,
    )
    .unwrap()
}

fn time_it(iters: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iters)
}

fn main() {
    let compiled: Vec<(String, CompiledPolicy)> = workload::policies()
        .into_iter()
        .enumerate()
        .map(|(i, d)| (format!("p{i}"), policy::parse(&d, PolicyKind::Identity).unwrap()))
        .collect();
    let refs: Vec<(&str, &CompiledPolicy)> = compiled.iter().map(|(i, p)| (i.as_str(), p)).collect();
    let mut set = PolicySet::new(PrincipalInfo::user(USER, ACCT));
    set.identity = &refs;
    // Built once per principal and cached by the server, so outside the timed loop.
    let index = IdentityIndex::new(&refs);
    let cedar = CedarSet::from_str(&cedar_policies()).unwrap();
    let entities = Entities::empty();
    let auth = Authorizer::new();
    // The two engines agree on every request.
    for r in workload::requests() {
        let ours = policy::decide(&set, &iam_ctx(r.action, r.resource)).as_str();
        let theirs = auth.is_authorized(&cedar_request(r.action, r.resource), &cedar, &entities).decision();
        let theirs_allowed = theirs == Decision::Allow;
        assert_eq!(ours, r.expect, "iamvault on {}", r.action);
        let indexed = policy::decide_with_index(&set, Some(&index), &iam_ctx(r.action, r.resource));
        assert_eq!(indexed.as_str(), r.expect, "iamvault (indexed) on {}", r.action);
        assert_eq!(theirs_allowed, r.expect == "allowed", "cedar on {} {}", r.action, r.resource);
    }
    println!("both engines agree on {} requests", workload::requests().len());
    println!("| decision (request built inside the loop) | iamvault | iamvault, indexed | Cedar | ratio (indexed) |");
    println!("| --- | --- | --- | --- | --- |");
    for (label, action, resource) in [
        ("allowed", "svc7:Op2", "arn:aws:svc7:::res2/report.csv"),
        ("implicit deny", "svc7:Op99", "arn:aws:svc7:::res2/report.csv"),
        ("explicit deny", "svc9:DeleteAll", "arn:aws:svc9:::res1/x"),
    ] {
        let ours = time_it(200_000, || {
            black_box(policy::decide(&set, &iam_ctx(black_box(action), black_box(resource))));
        });
        let indexed = time_it(200_000, || {
            black_box(policy::decide_with_index(&set, Some(&index), &iam_ctx(black_box(action), black_box(resource))));
        });
        let theirs = time_it(2_000, || {
            black_box(auth.is_authorized(&cedar_request(black_box(action), black_box(resource)), &cedar, &entities));
        });
        println!(
            "| {label} | {:.0} ns | {:.0} ns | {:.1} µs | {:.0}× ({:.0}×) |",
            ours,
            indexed,
            theirs / 1000.0,
            theirs / ours,
            theirs / indexed
        );
    }
}
