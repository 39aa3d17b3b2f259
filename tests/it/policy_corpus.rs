//! The policy-language case corpus in `tests/policy-corpus/`: every case, drawn from an
//! example or rule in AWS's IAM documentation, is evaluated with both `decide` and
//! `explain`, and every mismatch is reported by file and rule before the test fails.
//!
//! Each file is a JSON list of cases of one rule family:
//!
//! ```json
//! { "rule": "...", "source": "https://docs.aws.amazon.com/...",
//!   "identity": [doc], "boundary": doc, "session": [doc],
//!   "resource_policy": doc, "trust_policy": doc, "resource_owner": "210987654321",
//!   "principal": { "kind": "user", "arn": "...", "account": "...", "role_arn": "..." },
//!   "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k",
//!   "context": { "aws:SourceIp": { "type": "ip", "value": "10.0.0.1" } },
//!   "expect": "allowed" }
//! ```
//!
//! A policy document is a JSON object or, to keep its exact text, a string.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use iamvault::policy::{
    self, CompiledPolicy, ContextValue, PolicyKind, PolicySet, PrincipalInfo, RequestContext,
};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy-corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/policy-corpus exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string field `{key}`"))
}

fn compile(v: &Value, kind: PolicyKind) -> Result<CompiledPolicy, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Object(_) => serde_json::to_string(v).map_err(|e| e.to_string())?,
        other => {
            return Err(format!(
                "a policy must be an object or a string, found {other}"
            ));
        }
    };
    policy::parse(&text, kind).map_err(|e| format!("policy rejected ({}): {e}", e.code()))
}

/// Compiles a field holding one document or a list of them.
fn compile_field(
    case: &Value,
    field: &str,
    kind: PolicyKind,
) -> Result<Vec<(String, CompiledPolicy)>, String> {
    match case.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(docs)) => docs
            .iter()
            .enumerate()
            .map(|(i, d)| Ok((format!("{field}.{i}"), compile(d, kind)?)))
            .collect(),
        Some(d) => Ok(vec![(field.to_owned(), compile(d, kind)?)]),
    }
}

/// The owned strings a [`PrincipalInfo`] borrows.
struct Principal {
    kind: String,
    arn: String,
    account: String,
    /// The role behind a role session, or the user behind a federated-user session.
    parent: String,
}

impl Principal {
    fn from_json(v: &Value) -> Self {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let kind = s("kind");
        let parent = match kind.as_str() {
            "role_session" => s("role_arn"),
            "federated_user" => s("user_arn"),
            _ => String::new(),
        };
        Principal {
            kind,
            arn: s("arn"),
            account: s("account"),
            parent,
        }
    }

    fn info(&self) -> Result<PrincipalInfo<'_>, String> {
        Ok(match self.kind.as_str() {
            "user" => PrincipalInfo::user(&self.arn, &self.account),
            "root" => PrincipalInfo::root(&self.arn, &self.account),
            "role_session" => PrincipalInfo::role_session(&self.arn, &self.parent, &self.account),
            "federated_user" => {
                PrincipalInfo::federated_user(&self.arn, &self.parent, &self.account)
            }
            "service" => PrincipalInfo::service(&self.arn),
            "federated" => PrincipalInfo::federated(&self.arn),
            "anonymous" => PrincipalInfo::anonymous(),
            other => return Err(format!("unknown principal kind `{other}`")),
        })
    }
}

fn context_value(key: &str, entry: &Value) -> Result<ContextValue, String> {
    let ty = str_field(entry, "type")?;
    let value = entry
        .get("value")
        .ok_or_else(|| format!("context key `{key}` has no `value`"))?;
    let text = || {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("context key `{key}`: `{ty}` needs a string value"))
    };
    Ok(match ty {
        "string" => ContextValue::String(text()?),
        "strings" => ContextValue::StringList(
            value
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|s| s.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| format!("context key `{key}`: `strings` needs a list of strings"))?,
        ),
        "number" => ContextValue::Number(
            value
                .as_f64()
                .ok_or_else(|| format!("context key `{key}`: `number` needs a number"))?,
        ),
        "bool" => ContextValue::Bool(
            value
                .as_bool()
                .ok_or_else(|| format!("context key `{key}`: `bool` needs a boolean"))?,
        ),
        "date" => ContextValue::Date(
            OffsetDateTime::parse(&text()?, &Rfc3339)
                .map_err(|e| format!("context key `{key}`: bad RFC 3339 date: {e}"))?,
        ),
        "ip" => ContextValue::Ip(
            text()?
                .parse()
                .map_err(|e| format!("context key `{key}`: bad ip address: {e}"))?,
        ),
        "binary" => ContextValue::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(text()?)
                .map_err(|e| format!("context key `{key}`: bad base64: {e}"))?,
        ),
        other => return Err(format!("context key `{key}`: unknown type `{other}`")),
    })
}

/// Evaluates one case; `Err` describes the mismatch.
fn run_case(case: &Value) -> Result<(), String> {
    let identity = compile_field(case, "identity", PolicyKind::Identity)?;
    let boundary = compile_field(case, "boundary", PolicyKind::PermissionsBoundary)?;
    let session = compile_field(case, "session", PolicyKind::Session)?;
    let mut resource = compile_field(case, "resource_policy", PolicyKind::Resource)?;
    resource.extend(compile_field(case, "trust_policy", PolicyKind::Trust)?);
    if boundary.len() > 1 || resource.len() > 1 {
        return Err("at most one boundary and one resource or trust policy".to_owned());
    }
    let identity_refs: Vec<(&str, &CompiledPolicy)> =
        identity.iter().map(|(i, p)| (i.as_str(), p)).collect();
    let session_refs: Vec<(&str, &CompiledPolicy)> =
        session.iter().map(|(i, p)| (i.as_str(), p)).collect();

    let principal = Principal::from_json(case.get("principal").ok_or("missing `principal`")?);
    let set = PolicySet {
        identity: &identity_refs,
        boundary: boundary.first().map(|(i, p)| (i.as_str(), p)),
        session: &session_refs,
        resource: resource.first().map(|(i, p)| (i.as_str(), p)),
        covering: &[],
        resource_owner: case.get("resource_owner").and_then(Value::as_str),
        principal: principal.info()?,
    };

    let mut builder =
        RequestContext::builder(str_field(case, "action")?, str_field(case, "resource")?)
            .principal(principal.arn.as_str(), principal.account.as_str());
    if let Some(entries) = case.get("context").and_then(Value::as_object) {
        for (key, entry) in entries {
            builder = builder.value(key, context_value(key, entry)?);
        }
    }
    let ctx = builder.build();

    let want = str_field(case, "expect")?;
    let decided = policy::decide(&set, &ctx);
    let explained = policy::explain(&set, &ctx);
    let mut problems = Vec::new();
    if decided.as_str() != want {
        problems.push(format!("decide: expected {want}, got {}", decided.as_str()));
    }
    if explained.decision.as_str() != want {
        let matched: Vec<String> = explained
            .matched
            .iter()
            .map(|m| format!("{}#{}", m.policy_id, m.sid_or_index))
            .collect();
        problems.push(format!(
            "explain: expected {want}, got {} (matched {matched:?})",
            explained.decision.as_str()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn every_corpus_case_matches_its_expected_decision() {
    let mut failures = Vec::new();
    let mut count = 0usize;
    for path in corpus_files() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path).expect("readable corpus file");
        let cases: Vec<Value> = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{name}: not a json list of cases: {e}"));
                continue;
            }
        };
        for (i, case) in cases.iter().enumerate() {
            count += 1;
            let rule = case.get("rule").and_then(Value::as_str).unwrap_or("");
            let source = case.get("source").and_then(Value::as_str).unwrap_or("");
            if rule.is_empty() || !source.starts_with("https://docs.aws.amazon.com/") {
                failures.push(format!(
                    "{name} case {i}: needs a `rule` and an AWS documentation `source`"
                ));
            }
            if let Err(e) = run_case(case) {
                failures.push(format!("{name} case {i} `{rule}`: {e}"));
            }
        }
    }
    assert!(
        count >= 80,
        "the corpus should hold at least 80 cases, found {count}"
    );
    if !failures.is_empty() {
        let mut msg = format!("{} of {count} corpus cases failed:\n", failures.len());
        for f in &failures {
            let _ = writeln!(msg, "  - {f}");
        }
        panic!("{msg}");
    }
}
