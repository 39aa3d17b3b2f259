//! Best-practice checks over an account, from plain data the service gathers (nothing here
//! reads the store). Each finding has a stable id, a severity, a message, and the
//! `iamvault` command that fixes it (names and key ids filled in; `UPPER` words are for
//! the operator to choose).
//!
//! | id | severity | what |
//! |---|---|---|
//! | `root-mfa` | high | the root user has no MFA device |
//! | `root-access-keys` | high | the root user has access keys |
//! | `user-console-without-mfa` | high | a user has a console password but no MFA |
//! | `policy-allows-everything` | high | an Allow statement with Action `*` on Resource `*` |
//! | `policy-allows-everything-conditionally` | low | the same, under a condition |
//! | `role-trusts-everyone` | high | a trust policy allows Principal `*` / `{"AWS": "*"}`, or uses Allow with NotPrincipal |
//! | `access-key-old` | medium | an active key older than 90 days |
//! | `access-key-unused` | medium | an active key unused for 90 days (or never used in 90 days since creation) |
//! | `password-policy-missing` | medium | no account password policy |
//! | `password-policy-weak` | medium | length < 14, fewer than 3 classes, or fewer than 5 remembered |
//! | `user-direct-policies` | low | a user has policies attached directly rather than through groups |
//!
//! Findings come sorted by severity, then id, then input order.

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

impl Severity {
    /// `high`, `medium` or `low`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
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
    /// The `iamvault` command that fixes it (also [`Finding::fix_command`]).
    pub fix: String,
}

impl Finding {
    /// The `iamvault` command that fixes the finding.
    pub fn fix_command(&self) -> &str {
        &self.fix
    }
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
    /// Policy documents: `(id, document)`, managed default versions and inline ones. The
    /// id is shown in the finding (a managed policy's ARN, or `user/NAME/POLICY` for
    /// inline ones).
    pub policies: Vec<(String, Value)>,
    /// Roles: `(name, trust policy)`.
    pub roles: Vec<(String, Value)>,
}

/// Key age and idle time that count as stale.
pub const KEY_MAX_AGE: Duration = Duration::days(90);
/// The recommended password policy: minimum length.
pub const RECOMMENDED_MIN_LENGTH: u32 = 14;
/// The recommended password policy: character classes required.
pub const RECOMMENDED_CLASSES: u32 = 3;
/// The recommended password policy: passwords remembered.
pub const RECOMMENDED_REUSE_PREVENTION: u32 = 5;

/// The command that sets the recommended password policy.
const SET_POLICY: &str = "iamvault password-policy set --min-length 14 --require-uppercase --require-lowercase --require-numbers --require-symbols --reuse-prevention 24";

/// A JSON value that may be one item or an array of items, as a list.
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

fn conditional(st: &Value) -> bool {
    st.get("Condition")
        .is_some_and(|c| c.as_object().is_none_or(|o| !o.is_empty()))
}

/// The Allow statements with Action `*` on Resource `*`: `(any without a condition, any
/// with one)`.
fn allows_everything(doc: &Value) -> (bool, bool) {
    let mut plain = false;
    let mut guarded = false;
    for st in statements(doc) {
        if allows(st) && has_star(st.get("Action")) && has_star(st.get("Resource")) {
            if conditional(st) {
                guarded = true;
            } else {
                plain = true;
            }
        }
    }
    (plain, guarded)
}

/// Whether a trust policy lets anyone assume the role: an unconditioned Allow statement
/// with Principal `*` or `{"AWS": "*"}` (alone or in a list), or an Allow with
/// NotPrincipal (everyone except the listed ones).
fn trusts_everyone(doc: &Value) -> bool {
    statements(doc).iter().any(|st| {
        let p = st.get("Principal");
        let star = p.and_then(Value::as_str) == Some("*") || has_star(p.and_then(|p| p.get("AWS")));
        let not_principal = st.get("NotPrincipal").is_some();
        allows(st) && (not_principal || (star && !conditional(st)))
    })
}

fn finding(id: &'static str, severity: Severity, message: String, fix: String) -> Finding {
    Finding {
        id,
        severity,
        message,
        fix,
    }
}

fn check_root(input: &DoctorInput, out: &mut Vec<Finding>) {
    if !input.root_mfa {
        out.push(finding(
            "root-mfa",
            Severity::High,
            "the root user has no MFA device".into(),
            "iamvault mfa create root-mfa --root".into(),
        ));
    }
    if input.root_has_keys {
        out.push(finding(
            "root-access-keys",
            Severity::High,
            "the root user has access keys".into(),
            "iamvault access-key create --user ADMIN_USER   (then delete the root user's keys and use the IAM user or a role)".into(),
        ));
    }
}

fn check_user(u: &DoctorUser, now: OffsetDateTime, out: &mut Vec<Finding>) {
    let name = &u.name;
    if u.console_password && !u.mfa {
        out.push(finding(
            "user-console-without-mfa",
            Severity::High,
            format!("user `{name}` has a console password but no MFA"),
            format!("iamvault mfa create {name}-mfa --user {name}"),
        ));
    }
    for k in u.keys.iter().filter(|k| k.active) {
        let id = &k.id;
        if now - k.created > KEY_MAX_AGE {
            out.push(finding(
                "access-key-old",
                Severity::Medium,
                format!("access key {id} of user `{name}` is older than 90 days"),
                format!(
                    "iamvault access-key create --user {name}; then iamvault access-key update --user {name} {id} --status Inactive"
                ),
            ));
        }
        let idle_since = k.last_used.unwrap_or(k.created);
        if now - idle_since > KEY_MAX_AGE {
            let what = if k.last_used.is_some() {
                "has not been used for 90 days"
            } else {
                "has never been used in the 90 days since its creation"
            };
            out.push(finding(
                "access-key-unused",
                Severity::Medium,
                format!("access key {id} of user `{name}` {what}"),
                format!("iamvault access-key update --user {name} {id} --status Inactive"),
            ));
        }
    }
    if u.direct_policies > 0 {
        let n = u.direct_policies;
        let s = if n == 1 { "policy" } else { "policies" };
        out.push(finding(
            "user-direct-policies",
            Severity::Low,
            format!("user `{name}` has {n} {s} attached directly rather than through groups"),
            format!(
                "iamvault group add-user GROUP {name}; then iamvault policy detach --user {name} --policy-arn ARN (or iamvault policy delete-inline --user {name} --name POLICY)"
            ),
        ));
    }
}

fn check_password_policy(p: Option<DoctorPasswordPolicy>, out: &mut Vec<Finding>) {
    let Some(p) = p else {
        out.push(finding(
            "password-policy-missing",
            Severity::Medium,
            "no account password policy is set (AWS's default rules apply: 8 characters, 3 character classes, no reuse prevention)".into(),
            SET_POLICY.into(),
        ));
        return;
    };
    let mut weak = Vec::new();
    if p.min_length < RECOMMENDED_MIN_LENGTH {
        weak.push(format!(
            "minimum length {} (recommended {RECOMMENDED_MIN_LENGTH})",
            p.min_length
        ));
    }
    if p.classes < RECOMMENDED_CLASSES {
        weak.push(format!(
            "{} character classes required (recommended {RECOMMENDED_CLASSES})",
            p.classes
        ));
    }
    if p.reuse_prevention < RECOMMENDED_REUSE_PREVENTION {
        weak.push(format!(
            "{} previous passwords remembered (recommended {RECOMMENDED_REUSE_PREVENTION})",
            p.reuse_prevention
        ));
    }
    if !weak.is_empty() {
        out.push(finding(
            "password-policy-weak",
            Severity::Medium,
            format!("the password policy is weak: {}", weak.join(", ")),
            SET_POLICY.into(),
        ));
    }
}

/// Runs every check.
pub fn check(input: &DoctorInput) -> Vec<Finding> {
    let mut out = Vec::new();
    check_root(input, &mut out);
    for u in &input.users {
        check_user(u, input.now, &mut out);
    }
    check_password_policy(input.password_policy, &mut out);
    for (id, doc) in &input.policies {
        let (plain, guarded) = allows_everything(doc);
        let fix = format!(
            "iamvault policy create-version {id} --document NARROWER.json --set-default   (name the actions and resources needed)"
        );
        if plain {
            out.push(finding(
                "policy-allows-everything",
                Severity::High,
                format!("policy `{id}` allows `*` on `*`"),
                fix,
            ));
        } else if guarded {
            out.push(finding(
                "policy-allows-everything-conditionally",
                Severity::Low,
                format!("policy `{id}` allows `*` on `*` under a condition; check that the condition is narrow"),
                fix,
            ));
        }
    }
    for (name, trust) in &input.roles {
        if trusts_everyone(trust) {
            out.push(finding(
                "role-trusts-everyone",
                Severity::High,
                format!("role `{name}` can be assumed by anyone (Principal `*` or NotPrincipal)"),
                format!(
                    "iamvault role update-trust {name} --trust-policy TRUST.json   (name the accounts, users or roles that may assume it)"
                ),
            ));
        }
    }
    // Stable: equal severities and ids keep input order.
    out.sort_by(|a, b| a.severity.cmp(&b.severity).then_with(|| a.id.cmp(b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 0:00 UTC);

    fn clean() -> DoctorInput {
        DoctorInput {
            now: NOW,
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

    fn user(name: &str) -> DoctorUser {
        DoctorUser {
            name: name.into(),
            console_password: false,
            mfa: false,
            keys: vec![],
            direct_policies: 0,
        }
    }

    fn key(id: &str, active: bool, age_days: i64, idle_days: Option<i64>) -> DoctorKey {
        DoctorKey {
            id: id.into(),
            active,
            created: NOW - Duration::days(age_days),
            last_used: idle_days.map(|d| NOW - Duration::days(d)),
        }
    }

    fn ids(i: &DoctorInput) -> Vec<&'static str> {
        check(i).iter().map(|f| f.id).collect()
    }

    fn only(i: &DoctorInput) -> Finding {
        let f = check(i);
        assert_eq!(f.len(), 1, "{f:?}");
        f.into_iter().next().unwrap()
    }

    #[test]
    fn clean_account_has_no_findings() {
        assert!(check(&clean()).is_empty());
    }

    #[test]
    fn root_without_mfa() {
        let mut i = clean();
        i.root_mfa = false;
        let f = only(&i);
        assert_eq!((f.id, f.severity), ("root-mfa", Severity::High));
        assert_eq!(f.fix_command(), "iamvault mfa create root-mfa --root");
    }

    #[test]
    fn root_with_access_keys() {
        let mut i = clean();
        i.root_has_keys = true;
        let f = only(&i);
        assert_eq!((f.id, f.severity), ("root-access-keys", Severity::High));
        assert!(f.fix.starts_with("iamvault "));
    }

    #[test]
    fn console_user_without_mfa() {
        let mut i = clean();
        let mut u = user("al");
        u.console_password = true;
        i.users.push(u.clone());
        let f = only(&i);
        assert_eq!(
            (f.id, f.severity),
            ("user-console-without-mfa", Severity::High)
        );
        assert!(f.message.contains("`al`"));
        assert_eq!(f.fix, "iamvault mfa create al-mfa --user al");
        // With MFA, or without a console password, nothing.
        u.mfa = true;
        i.users = vec![u, user("bo")];
        assert!(check(&i).is_empty());
    }

    #[test]
    fn old_keys() {
        let mut i = clean();
        let mut u = user("al");
        u.keys = vec![
            key("AKIAOLD", true, 100, Some(1)),
            key("AKIAOLDINACTIVE", false, 400, Some(300)),
            key("AKIAYOUNG", true, 90, Some(1)),
        ];
        i.users.push(u);
        let f = only(&i);
        assert_eq!((f.id, f.severity), ("access-key-old", Severity::Medium));
        assert!(f.message.contains("AKIAOLD"));
        assert_eq!(
            f.fix,
            "iamvault access-key create --user al; then iamvault access-key update --user al AKIAOLD --status Inactive"
        );
    }

    #[test]
    fn unused_keys() {
        let mut i = clean();
        let mut u = user("bo");
        u.keys = vec![
            key("AKIANEVER", true, 10, None),
            key("AKIAIDLE", true, 85, Some(84)),
        ];
        i.users.push(u.clone());
        assert!(check(&i).is_empty(), "young keys are fine");
        u.keys = vec![
            key("AKIANEVERUSED", true, 91, None),
            key("AKIAIDLE", true, 95, Some(91)),
        ];
        i.users = vec![u];
        assert_eq!(
            ids(&i),
            [
                "access-key-old",
                "access-key-old",
                "access-key-unused",
                "access-key-unused"
            ]
        );
        let f = check(&i);
        assert!(f[2].message.contains("AKIANEVERUSED") && f[2].message.contains("never"));
        assert_eq!(
            f[3].fix,
            "iamvault access-key update --user bo AKIAIDLE --status Inactive"
        );
    }

    #[test]
    fn missing_or_weak_password_policy() {
        let mut i = clean();
        i.password_policy = None;
        let f = only(&i);
        assert_eq!(
            (f.id, f.severity),
            ("password-policy-missing", Severity::Medium)
        );
        assert!(
            f.fix
                .starts_with("iamvault password-policy set --min-length 14")
        );
        for (min_length, classes, reuse_prevention) in [(8, 4, 24), (14, 2, 24), (14, 4, 0)] {
            i.password_policy = Some(DoctorPasswordPolicy {
                min_length,
                classes,
                reuse_prevention,
            });
            let f = only(&i);
            assert_eq!(f.id, "password-policy-weak");
            assert!(f.message.contains("recommended"), "{}", f.message);
        }
        i.password_policy = Some(DoctorPasswordPolicy {
            min_length: 6,
            classes: 0,
            reuse_prevention: 0,
        });
        let m = only(&i).message;
        assert!(
            m.contains("minimum length 6")
                && m.contains("0 character classes")
                && m.contains("0 previous"),
            "{m}"
        );
    }

    #[test]
    fn users_with_direct_policies() {
        let mut i = clean();
        let mut u = user("cy");
        u.direct_policies = 2;
        i.users.push(u);
        let f = only(&i);
        assert_eq!((f.id, f.severity), ("user-direct-policies", Severity::Low));
        assert!(f.message.contains("2 policies"));
        assert!(f.fix.starts_with("iamvault group add-user GROUP cy;"));
    }

    #[test]
    fn policies_allowing_everything() {
        let mut i = clean();
        for (id, doc) in [
            (
                "admin",
                json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            ),
            (
                "admin-list",
                json!({"Statement": {"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": ["*"]}}),
            ),
            (
                "ok",
                json!({"Statement": {"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}}),
            ),
            (
                "ok2",
                json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}}),
            ),
            (
                "deny",
                json!({"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}),
            ),
            ("garbage", json!("not a policy")),
            (
                "mfa-admin",
                json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}),
            ),
        ] {
            i.policies.push((id.into(), doc));
        }
        let f = check(&i);
        let got: Vec<(&str, &str)> = f.iter().map(|f| (f.id, f.message.as_str())).collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(f[0].id, "policy-allows-everything");
        assert!(f[0].message.contains("`admin`"));
        assert_eq!(f[1].id, "policy-allows-everything");
        assert!(f[1].message.contains("`admin-list`"));
        assert_eq!(
            (f[2].id, f[2].severity),
            ("policy-allows-everything-conditionally", Severity::Low)
        );
        assert!(
            f[0].fix
                .starts_with("iamvault policy create-version admin ")
        );
    }

    #[test]
    fn roles_trusting_everyone() {
        let mut i = clean();
        for (name, doc) in [
            (
                "open-aws",
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}),
            ),
            (
                "open-star",
                json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}}),
            ),
            (
                "open-list",
                json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root", "*"]}, "Action": "sts:AssumeRole"}}),
            ),
            (
                "open-not",
                json!({"Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:user/x"}, "Action": "sts:AssumeRole"}}),
            ),
            (
                "guarded",
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}}]}),
            ),
            (
                "account",
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}),
            ),
            (
                "service",
                json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            ),
            (
                "deny-all",
                json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}]}),
            ),
        ] {
            i.roles.push((name.into(), doc));
        }
        let f = check(&i);
        let names: Vec<&str> = f
            .iter()
            .map(|f| {
                assert_eq!((f.id, f.severity), ("role-trusts-everyone", Severity::High));
                f.message.split('`').nth(1).unwrap()
            })
            .collect();
        assert_eq!(names, ["open-aws", "open-star", "open-list", "open-not"]);
        assert!(
            f[0].fix
                .starts_with("iamvault role update-trust open-aws --trust-policy ")
        );
    }

    #[test]
    fn sorted_by_severity_and_serialised_lowercase() {
        let mut i = clean();
        i.root_mfa = false;
        i.password_policy = None;
        let mut u = user("dee");
        u.direct_policies = 1;
        u.console_password = true;
        i.users.push(u);
        assert_eq!(
            ids(&i),
            [
                "root-mfa",
                "user-console-without-mfa",
                "password-policy-missing",
                "user-direct-policies"
            ]
        );
        let j = serde_json::to_value(check(&i)).unwrap();
        assert_eq!(j[0]["severity"], "high");
        assert_eq!(j[3]["severity"], "low");
        assert_eq!(Severity::Medium.as_str(), "medium");
    }
}
