//! Best-practice checks over an account, each finding with its severity and the command
//! that fixes it.

use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fix now.
    High,
    /// Fix soon.
    Medium,
    /// Worth a look.
    Low,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id of the check.
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// The command that fixes it.
    pub fix: String,
}

/// An access key, for the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorKey {
    /// Key id.
    pub id: String,
    /// Active.
    pub active: bool,
    /// Creation time.
    pub created: OffsetDateTime,
    /// Last use.
    pub last_used: Option<OffsetDateTime>,
}

/// A user, for the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorUser {
    /// Name.
    pub name: String,
    /// Has a console password.
    pub console_password: bool,
    /// Has MFA enabled.
    pub mfa: bool,
    /// Access keys.
    pub keys: Vec<DoctorKey>,
    /// Managed policies attached directly plus inline policies.
    pub direct_policies: usize,
}

/// The account's password policy, for the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoctorPasswordPolicy {
    /// Minimum length.
    pub min_length: u32,
    /// Required character classes (0–4).
    pub classes: u32,
    /// Passwords remembered.
    pub reuse_prevention: u32,
}

/// Everything the checks look at.
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorInput {
    /// Now.
    pub now: OffsetDateTime,
    /// The root user has MFA.
    pub root_mfa: bool,
    /// The root user has access keys.
    pub root_has_keys: bool,
    /// Users.
    pub users: Vec<DoctorUser>,
    /// The password policy, if one is set.
    pub password_policy: Option<DoctorPasswordPolicy>,
    /// Policy documents: `(id, document)`, managed default versions and inline ones.
    pub policies: Vec<(String, Value)>,
    /// Roles: `(name, trust policy)`.
    pub roles: Vec<(String, Value)>,
}

fn as_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
        None => vec![],
    }
}

fn statements(doc: &Value) -> Vec<&Value> {
    as_list(doc.get("Statement"))
}

fn allows(st: &Value) -> bool {
    st.get("Effect").and_then(Value::as_str) == Some("Allow")
}

fn has_star(v: Option<&Value>) -> bool {
    as_list(v).iter().any(|x| x.as_str() == Some("*"))
}

/// Allows `*` on `*` (Action `*` — or a NotAction — on Resource `*`, without conditions).
fn allows_everything(doc: &Value) -> bool {
    statements(doc).iter().any(|st| {
        allows(st)
            && has_star(st.get("Action"))
            && has_star(st.get("Resource"))
            && st.get("Condition").is_none()
    })
}

/// Trusts anyone: an Allow trust statement with Principal `*` or `{"AWS": "*"}` and no
/// condition.
fn trusts_everyone(doc: &Value) -> bool {
    statements(doc).iter().any(|st| {
        let p = st.get("Principal");
        let star = p.and_then(Value::as_str) == Some("*") || has_star(p.and_then(|p| p.get("AWS")));
        allows(st) && star && st.get("Condition").is_none()
    })
}

/// Runs every check.
pub fn check(input: &DoctorInput) -> Vec<Finding> {
    let mut out = Vec::new();
    let age = Duration::days(90);
    if !input.root_mfa {
        out.push(Finding {
            id: "root-mfa",
            severity: Severity::High,
            message: "the root user has no MFA device".into(),
            fix: "iamvault mfa create root-mfa --root".into(),
        });
    }
    if input.root_has_keys {
        out.push(Finding {
            id: "root-access-keys",
            severity: Severity::High,
            message: "the root user has access keys".into(),
            fix: "delete the root user's access keys; use IAM users or roles instead".into(),
        });
    }
    for u in &input.users {
        if u.console_password && !u.mfa {
            out.push(Finding {
                id: "user-console-without-mfa",
                severity: Severity::High,
                message: format!("user `{}` has a console password but no MFA", u.name),
                fix: format!("iamvault mfa create {0}-mfa --user {0}", u.name),
            });
        }
        for k in u.keys.iter().filter(|k| k.active) {
            if input.now - k.created > age {
                out.push(Finding {
                    id: "access-key-old",
                    severity: Severity::Medium,
                    message: format!("access key {} of user `{}` is older than 90 days", k.id, u.name),
                    fix: format!("iamvault rotate-key --endpoint URL --profile PROFILE   (or: iamvault access-key update --user {} {} --status Inactive)", u.name, k.id),
                });
            }
            let idle_since = k.last_used.unwrap_or(k.created);
            if input.now - idle_since > age {
                out.push(Finding {
                    id: "access-key-unused",
                    severity: Severity::Medium,
                    message: format!(
                        "access key {} of user `{}` has not been used for 90 days",
                        k.id, u.name
                    ),
                    fix: format!(
                        "iamvault access-key update --user {} {} --status Inactive",
                        u.name, k.id
                    ),
                });
            }
        }
        if u.direct_policies > 0 {
            out.push(Finding {
                id: "user-direct-policies",
                severity: Severity::Low,
                message: format!("user `{}` has {} policies attached directly rather than through groups", u.name, u.direct_policies),
                fix: format!("iamvault group add-user GROUP {0}; then iamvault policy detach --user {0} --policy-arn ARN", u.name),
            });
        }
    }
    match input.password_policy {
        None => out.push(Finding {
            id: "password-policy-missing",
            severity: Severity::Medium,
            message: "no account password policy is set (AWS's defaults apply)".into(),
            fix: "iamvault password-policy set --min-length 14 --require-uppercase --require-lowercase --require-numbers --require-symbols --reuse-prevention 24".into(),
        }),
        Some(p) if p.min_length < 14 || p.classes < 3 || p.reuse_prevention < 5 => out.push(Finding {
            id: "password-policy-weak",
            severity: Severity::Medium,
            message: format!(
                "the password policy is weak (minimum length {}, {} character classes, {} passwords remembered)",
                p.min_length, p.classes, p.reuse_prevention
            ),
            fix: "iamvault password-policy set --min-length 14 --require-uppercase --require-lowercase --require-numbers --require-symbols --reuse-prevention 24".into(),
        }),
        Some(_) => {}
    }
    for (id, doc) in &input.policies {
        if allows_everything(doc) {
            out.push(Finding {
                id: "policy-allows-everything",
                severity: Severity::High,
                message: format!("policy `{id}` allows `*` on `*`"),
                fix: format!("narrow the actions and resources of `{id}` (iamvault policy create-version … --set-default)"),
            });
        }
    }
    for (name, trust) in &input.roles {
        if trusts_everyone(trust) {
            out.push(Finding {
                id: "role-trusts-everyone",
                severity: Severity::High,
                message: format!("role `{name}` can be assumed by anyone (Principal `*`)"),
                fix: format!("iamvault role update-trust {name} --trust-policy trust.json   (name the accounts or roles that may assume it)"),
            });
        }
    }
    out.sort_by(|a, b| a.severity.cmp(&b.severity).then_with(|| a.id.cmp(b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn clean(now: OffsetDateTime) -> DoctorInput {
        DoctorInput {
            now,
            root_mfa: true,
            root_has_keys: false,
            users: vec![],
            password_policy: Some(DoctorPasswordPolicy {
                min_length: 14,
                classes: 4,
                reuse_prevention: 24,
            }),
            policies: vec![],
            roles: vec![],
        }
    }

    fn ids(i: &DoctorInput) -> Vec<&'static str> {
        check(i).iter().map(|f| f.id).collect()
    }

    #[test]
    fn each_finding() {
        let now = datetime!(2026-06-01 0:00 UTC);
        assert!(check(&clean(now)).is_empty());
        let mut i = clean(now);
        i.root_mfa = false;
        i.root_has_keys = true;
        assert_eq!(ids(&i), ["root-access-keys", "root-mfa"]);
        let mut i = clean(now);
        i.users.push(DoctorUser {
            name: "al".into(),
            console_password: true,
            mfa: false,
            keys: vec![DoctorKey {
                id: "AKIAOLD".into(),
                active: true,
                created: now - Duration::days(100),
                last_used: Some(now - Duration::days(1)),
            }],
            direct_policies: 2,
        });
        assert_eq!(
            ids(&i),
            [
                "user-console-without-mfa",
                "access-key-old",
                "user-direct-policies"
            ]
        );
        let mut i = clean(now);
        i.users.push(DoctorUser {
            name: "bo".into(),
            console_password: false,
            mfa: false,
            keys: vec![
                DoctorKey {
                    id: "AKIAIDLE".into(),
                    active: true,
                    created: now - Duration::days(10),
                    last_used: None,
                },
                DoctorKey {
                    id: "AKIAIDLE2".into(),
                    active: true,
                    created: now - Duration::days(95),
                    last_used: Some(now - Duration::days(91)),
                },
            ],
            direct_policies: 0,
        });
        assert_eq!(ids(&i), ["access-key-old", "access-key-unused"]);
        let mut i = clean(now);
        i.password_policy = None;
        assert_eq!(ids(&i), ["password-policy-missing"]);
        i.password_policy = Some(DoctorPasswordPolicy {
            min_length: 8,
            classes: 4,
            reuse_prevention: 24,
        });
        assert_eq!(ids(&i), ["password-policy-weak"]);
        let mut i = clean(now);
        i.policies.push((
            "admin".into(),
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        ));
        i.policies.push((
            "ok".into(),
            json!({"Statement": {"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}}),
        ));
        i.roles.push(("open".into(), json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})));
        i.roles.push(("guarded".into(), json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "x"}}}]})));
        assert_eq!(
            ids(&i),
            ["policy-allows-everything", "role-trusts-everyone"]
        );
    }
}
