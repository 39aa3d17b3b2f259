//! The policy case corpus in `tests/policy-corpus/`: examples from AWS's documentation,
//! each recording the rule it shows, evaluated with both `decide` and `explain`.
//!
//! A case is a JSON object:
//! `{"rule", "source", "identity": [doc…], "boundary"?: doc, "session"?: [doc…],
//!   "resource_policy"?: doc, "resource_owner"?: acct,
//!   "principal": {"kind": "user"|"root"|"role_session"|"service", "arn", "account", "role_arn"?},
//!   "action", "resource", "context"?: {key: {"type": "string"|"strings"|"number"|"bool"|"ip"|"date", "value"}},
//!   "expect": "allowed"|"explicitDeny"|"implicitDeny"}`.

use std::path::Path;

use iamvault::policy::{self, CompiledPolicy, PolicyKind, PolicySet, PrincipalInfo};
use serde_json::Value;

fn doc(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn compile(v: &Value, kind: PolicyKind, case: &str) -> CompiledPolicy {
    policy::parse(&doc(v), kind).unwrap_or_else(|e| panic!("{case}: policy does not parse: {e}"))
}

fn run_case(file: &str, c: &Value) -> Result<(), String> {
    let rule = c["rule"].as_str().unwrap_or("?");
    let name = format!("{file}: {rule}");
    let identity: Vec<(String, CompiledPolicy)> = c["identity"]
        .as_array()
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, d)| {
                    (
                        format!("identity.{i}"),
                        compile(d, PolicyKind::Identity, &name),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let session: Vec<(String, CompiledPolicy)> = c["session"]
        .as_array()
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, d)| {
                    (
                        format!("session.{i}"),
                        compile(d, PolicyKind::Session, &name),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let boundary = c
        .get("boundary")
        .map(|d| compile(d, PolicyKind::PermissionsBoundary, &name));
    let resource_policy = c
        .get("resource_policy")
        .map(|d| compile(d, PolicyKind::Resource, &name));
    let p = &c["principal"];
    let arn = p["arn"].as_str().unwrap_or("");
    let account = p["account"].as_str().unwrap_or("");
    let principal = match p["kind"].as_str().unwrap_or("user") {
        "root" => PrincipalInfo::root(arn, account),
        "role_session" => {
            PrincipalInfo::role_session(arn, p["role_arn"].as_str().unwrap_or(""), account)
        }
        "service" => PrincipalInfo::service(arn),
        _ => PrincipalInfo::user(arn, account),
    };
    let mut b = policy::RequestContext::builder(
        c["action"].as_str().unwrap_or(""),
        c["resource"].as_str().unwrap_or(""),
    )
    .principal(arn, account);
    if let Some(ctx) = c.get("context").and_then(Value::as_object) {
        for (k, v) in ctx {
            let val = &v["value"];
            b = match v["type"].as_str().unwrap_or("string") {
                "strings" => b.strings(
                    k,
                    val.as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default(),
                ),
                "number" => b.number(k, val.as_f64().unwrap_or(0.0)),
                "bool" => b.boolean(k, val.as_bool().unwrap_or(false)),
                "ip" => b.ip(k, val.as_str().unwrap_or("").parse().unwrap()),
                "date" => b.date(
                    k,
                    time::OffsetDateTime::parse(
                        val.as_str().unwrap_or(""),
                        &time::format_description::well_known::Rfc3339,
                    )
                    .unwrap(),
                ),
                _ => b.string(k, val.as_str().unwrap_or("")),
            };
        }
    }
    let ctx = b.build();
    let id_refs: Vec<(&str, &CompiledPolicy)> =
        identity.iter().map(|(i, p)| (i.as_str(), p)).collect();
    let s_refs: Vec<(&str, &CompiledPolicy)> =
        session.iter().map(|(i, p)| (i.as_str(), p)).collect();
    let mut set = PolicySet::new(principal);
    set.identity = &id_refs;
    set.session = &s_refs;
    set.boundary = boundary.as_ref().map(|b| ("boundary", b));
    set.resource = resource_policy.as_ref().map(|r| ("resource", r));
    set.resource_owner = c.get("resource_owner").and_then(Value::as_str);
    let expect = c["expect"].as_str().unwrap_or("?");
    let got = policy::decide(&set, &ctx).as_str();
    let explained = policy::explain(&set, &ctx).decision.as_str();
    if got != expect || explained != expect {
        return Err(format!(
            "{name}: expected {expect}, decide gave {got}, explain gave {explained}"
        ));
    }
    Ok(())
}

#[test]
fn every_corpus_case_holds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy-corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
    {
        let cases: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for c in cases.as_array().unwrap() {
            assert!(
                c["rule"].is_string()
                    && c["source"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("https://")),
                "{name}: case without rule or source"
            );
            count += 1;
            if let Err(e) = run_case(&name, c) {
                failures.push(e);
            }
        }
    }
    assert!(count >= 60, "only {count} corpus cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{count} corpus cases hold");
}
