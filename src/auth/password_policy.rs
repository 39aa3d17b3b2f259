//! The account password policy, with AWS's fields, ranges and semantics. Pure: plain data
//! in, plain data out; the store keeps the policy (as the JSON of [`PasswordPolicy`]) and
//! the password history.
//!
//! - No partial updates: [`PasswordPolicy::update`] builds a whole policy, and every field
//!   the request omits takes its API default (`MinimumPasswordLength` 6, every flag false,
//!   no expiry, no reuse prevention).
//! - When no policy is set, AWS's default rules apply ([`PasswordRules::aws_default`]): at
//!   least 8 characters, at least three of the four character classes, and not equal to
//!   the user name. Passwords never expire then.
//! - Length and class rules apply when a password is set ([`check_new_password`]); expiry
//!   applies at sign-in ([`password_expired`], [`sign_in_outcome`]); reuse prevention
//!   compares with the stored hashes ([`is_reused`]).
//! - Vault extension: `RejectCommonPasswords` refuses passwords on the bundled list
//!   ([`super::common`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::password::verify_password;
use crate::error::{Error, Result};
use crate::model::SecretString;

/// AWS's symbol set for `RequireSymbols`: `! @ # $ % ^ & * ( ) _ + - = [ ] { } | '`.
pub const SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

/// The longest password AWS accepts (ChangePassword, CreateLoginProfile: 1–128).
pub const MAX_PASSWORD_LENGTH: usize = 128;

/// `MinimumPasswordLength` when an update omits it.
pub const API_DEFAULT_MIN_LENGTH: u32 = 6;

/// The minimum length of AWS's default rules (no policy set).
pub const AWS_DEFAULT_MIN_LENGTH: u32 = 8;

/// The account password policy as stored and as GetAccountPasswordPolicy reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicy {
    /// 6–128.
    pub minimum_password_length: u32,
    /// At least one of [`SYMBOLS`].
    pub require_symbols: bool,
    /// At least one digit.
    pub require_numbers: bool,
    /// At least one of A–Z.
    pub require_uppercase_characters: bool,
    /// At least one of a–z.
    pub require_lowercase_characters: bool,
    /// Users may change their own password without any other policy.
    pub allow_users_to_change_password: bool,
    /// Derived: true iff `max_password_age` is set.
    pub expire_passwords: bool,
    /// 1–1095 days; absent = never.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_password_age: Option<u32>,
    /// 1–24 previous passwords refused; absent = none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub password_reuse_prevention: Option<u32>,
    /// An expired password needs an administrator.
    pub hard_expiry: bool,
    /// Vault extension: refuse passwords from the bundled common-password list.
    #[serde(default)]
    pub reject_common_passwords: bool,
}

/// The fields of UpdateAccountPasswordPolicy; every one optional. Integers are `i64` so
/// that out-of-range wire values reach the range check instead of failing to parse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordPolicyUpdate {
    /// `MinimumPasswordLength`.
    pub minimum_password_length: Option<i64>,
    /// `RequireSymbols`.
    pub require_symbols: Option<bool>,
    /// `RequireNumbers`.
    pub require_numbers: Option<bool>,
    /// `RequireUppercaseCharacters`.
    pub require_uppercase_characters: Option<bool>,
    /// `RequireLowercaseCharacters`.
    pub require_lowercase_characters: Option<bool>,
    /// `AllowUsersToChangePassword`.
    pub allow_users_to_change_password: Option<bool>,
    /// `MaxPasswordAge`.
    pub max_password_age: Option<i64>,
    /// `PasswordReusePrevention`.
    pub password_reuse_prevention: Option<i64>,
    /// `HardExpiry`.
    pub hard_expiry: Option<bool>,
    /// Vault extension `RejectCommonPasswords`.
    pub reject_common_passwords: Option<bool>,
}

/// Range-checks one optional integer, recording a validation message when it is out of
/// range (the value is then dropped; the caller fails on any message).
fn ranged(errors: &mut Vec<String>, param: &str, v: Option<i64>, lo: u32, hi: u32) -> Option<u32> {
    let v = v?;
    match u32::try_from(v) {
        Ok(n) if (lo..=hi).contains(&n) => Some(n),
        _ => {
            let bound = if v < i64::from(lo) {
                format!("greater than or equal to {lo}")
            } else {
                format!("less than or equal to {hi}")
            };
            errors.push(format!(
                "value `{v}` at `{param}` failed to satisfy constraint: member must have value {bound}"
            ));
            None
        }
    }
}

impl PasswordPolicy {
    /// A whole policy from an UpdateAccountPasswordPolicy request: omitted fields take
    /// their defaults (no partial updates). Out-of-range values fail with
    /// [`Error::Validation`] (AWS `ValidationError`) naming every bad parameter.
    pub fn update(u: &PasswordPolicyUpdate) -> Result<Self> {
        let mut errors = Vec::new();
        let min_len = ranged(
            &mut errors,
            "minimumPasswordLength",
            u.minimum_password_length,
            6,
            128,
        );
        let max_age = ranged(&mut errors, "maxPasswordAge", u.max_password_age, 1, 1095);
        let reuse = ranged(
            &mut errors,
            "passwordReusePrevention",
            u.password_reuse_prevention,
            1,
            24,
        );
        if !errors.is_empty() {
            let n = errors.len();
            let plural = if n == 1 { "" } else { "s" };
            return Err(Error::Validation(format!(
                "{n} validation error{plural} detected: {}",
                errors.join("; ")
            )));
        }
        Ok(Self {
            minimum_password_length: min_len.unwrap_or(API_DEFAULT_MIN_LENGTH),
            require_symbols: u.require_symbols.unwrap_or(false),
            require_numbers: u.require_numbers.unwrap_or(false),
            require_uppercase_characters: u.require_uppercase_characters.unwrap_or(false),
            require_lowercase_characters: u.require_lowercase_characters.unwrap_or(false),
            allow_users_to_change_password: u.allow_users_to_change_password.unwrap_or(false),
            expire_passwords: max_age.is_some(),
            max_password_age: max_age,
            password_reuse_prevention: reuse,
            hard_expiry: u.hard_expiry.unwrap_or(false),
            reject_common_passwords: u.reject_common_passwords.unwrap_or(false),
        })
    }

    /// The same as [`PasswordPolicy::update`] (the name the service uses).
    pub fn from_update(u: &PasswordPolicyUpdate) -> Result<Self> {
        Self::update(u)
    }

    /// The rules new passwords must meet under this policy.
    pub fn rules(&self) -> PasswordRules {
        PasswordRules {
            min_length: self.minimum_password_length,
            required: [
                self.require_uppercase_characters,
                self.require_lowercase_characters,
                self.require_numbers,
                self.require_symbols,
            ],
            min_classes: 0,
            reject_common: self.reject_common_passwords,
        }
    }

    /// How many character classes the policy requires (0–4).
    pub fn required_classes(&self) -> u32 {
        u32::from(self.require_uppercase_characters)
            + u32::from(self.require_lowercase_characters)
            + u32::from(self.require_numbers)
            + u32::from(self.require_symbols)
    }
}

/// The character classes, in the order of [`PasswordRules::required`].
const CLASS_NAMES: [&str; 4] = [
    "an uppercase letter (A-Z)",
    "a lowercase letter (a-z)",
    "a number (0-9)",
    "a symbol (! @ # $ % ^ & * ( ) _ + - = [ ] { } | ')",
];

/// Which of uppercase, lowercase, number, symbol `pw` contains.
fn classes(pw: &str) -> [bool; 4] {
    [
        pw.chars().any(|c| c.is_ascii_uppercase()),
        pw.chars().any(|c| c.is_ascii_lowercase()),
        pw.chars().any(|c| c.is_ascii_digit()),
        pw.chars().any(|c| SYMBOLS.contains(c)),
    ]
}

/// A new password that breaks the password policy. `broken` names every rule broken, in a
/// fixed order, each phrased to follow "it must". The service maps it to the AWS error
/// `PasswordPolicyViolation` (HTTP 400); `From<PolicyViolation> for Error` does that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyViolation {
    /// The rules broken, e.g. `be at least 8 characters long`.
    pub broken: Vec<String>,
}

impl PolicyViolation {
    /// The violation of `PasswordReusePrevention` = `n`.
    pub fn reused(n: u32) -> Self {
        Self {
            broken: vec![format!("differ from the last {n} passwords")],
        }
    }

    /// `Password does not conform to the account password policy: it must …; it must ….`
    pub fn message(&self) -> String {
        if self.broken.is_empty() {
            return "Password does not conform to the account password policy.".to_owned();
        }
        format!(
            "Password does not conform to the account password policy: it must {}.",
            self.broken.join("; it must ")
        )
    }
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for PolicyViolation {}

impl From<PolicyViolation> for Error {
    fn from(v: PolicyViolation) -> Self {
        Error::PasswordPolicyViolation(v.message())
    }
}

/// Rules for a new password: a policy's ([`PasswordPolicy::rules`]) or AWS's defaults
/// ([`PasswordRules::aws_default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordRules {
    /// Minimum length, in characters.
    pub min_length: u32,
    /// Required classes: uppercase, lowercase, number, symbol.
    pub required: [bool; 4],
    /// At least this many of the four classes (AWS's default rules use 3; policies 0).
    pub min_classes: usize,
    /// Refuse common passwords.
    pub reject_common: bool,
}

impl PasswordRules {
    /// AWS's default rules when no policy is set: at least 8 characters and three of the
    /// four character classes (and, always, not the user name).
    pub fn aws_default() -> Self {
        Self {
            min_length: AWS_DEFAULT_MIN_LENGTH,
            required: [false; 4],
            min_classes: 3,
            reject_common: false,
        }
    }

    /// The rules of `policy`, or AWS's defaults when none is set.
    pub fn for_policy(policy: Option<&PasswordPolicy>) -> Self {
        policy.map_or_else(Self::aws_default, PasswordPolicy::rules)
    }

    /// Checks a new password and names every rule it breaks.
    pub fn evaluate(
        &self,
        password: &str,
        user_name: Option<&str>,
    ) -> std::result::Result<(), PolicyViolation> {
        let mut broken = Vec::new();
        let len = password.chars().count();
        if len > MAX_PASSWORD_LENGTH {
            broken.push(format!("be at most {MAX_PASSWORD_LENGTH} characters long"));
        }
        // AWS's pattern for passwords: [\u0009\u000A\u000D\u0020-\u00FF]+
        if password
            .chars()
            .any(|c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
        {
            broken.push(
                "use only tab, newline, carriage return and characters U+0020 to U+00FF".to_owned(),
            );
        }
        if len < usize::try_from(self.min_length.max(1)).unwrap_or(usize::MAX) {
            broken.push(format!("be at least {} characters long", self.min_length));
        }
        let have = classes(password);
        for ((req, has), name) in self.required.iter().zip(have).zip(CLASS_NAMES) {
            if *req && !has {
                broken.push(format!("contain {name}"));
            }
        }
        if self.min_classes > 0 && have.iter().filter(|h| **h).count() < self.min_classes {
            broken.push(format!(
                "contain at least {} of: uppercase letters, lowercase letters, numbers, symbols",
                self.min_classes
            ));
        }
        if user_name.is_some_and(|u| !u.is_empty() && password.eq_ignore_ascii_case(u)) {
            broken.push("differ from the user name".to_owned());
        }
        if self.reject_common && super::common::is_common(password) {
            broken.push("not be a commonly used password".to_owned());
        }
        if broken.is_empty() {
            Ok(())
        } else {
            Err(PolicyViolation { broken })
        }
    }

    /// [`PasswordRules::evaluate`] with the crate error
    /// ([`Error::PasswordPolicyViolation`]).
    pub fn check(&self, password: &str, user_name: Option<&str>) -> Result<()> {
        self.evaluate(password, user_name).map_err(Error::from)
    }
}

/// Checks a new password against `policy`, or against AWS's default rules when no policy
/// is set. The error names every rule broken. Reuse prevention is separate
/// ([`is_reused`]): it needs the stored hashes.
pub fn check_new_password(
    policy: Option<&PasswordPolicy>,
    password: &SecretString,
    user_name: Option<&str>,
) -> std::result::Result<(), PolicyViolation> {
    PasswordRules::for_policy(policy).evaluate(password.expose(), user_name)
}

/// Whether `password` matches one of the newest `n` of `previous_hashes` (argon2id PHC
/// strings, newest first, as the store keeps the history). `n` = 0 checks nothing.
/// Each check is a full argon2 verification, so run this on the hash pool.
pub fn is_reused(password: &SecretString, previous_hashes: &[String], n: u32) -> bool {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    previous_hashes
        .iter()
        .take(n)
        .any(|phc| verify_password(password, phc))
}

/// Checks reuse prevention for `policy`: the violation when `password` is one of the last
/// `PasswordReusePrevention` passwords.
pub fn check_reuse(
    policy: Option<&PasswordPolicy>,
    password: &SecretString,
    previous_hashes: &[String],
) -> std::result::Result<(), PolicyViolation> {
    match policy.and_then(|p| p.password_reuse_prevention) {
        Some(n) if is_reused(password, previous_hashes, n) => Err(PolicyViolation::reused(n)),
        _ => Ok(()),
    }
}

/// Whether a password last changed at `changed` has expired under `policy` at `now`.
/// Without a policy, or without `MaxPasswordAge`, passwords never expire. Expiry applies
/// to existing passwords as soon as a policy sets an age.
pub fn password_expired(
    policy: Option<&PasswordPolicy>,
    changed: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    next_rotation(policy, changed).is_some_and(|due| now >= due)
}

/// When a password must next be changed, if the policy sets an age (the credential
/// report's `password_next_rotation`).
pub fn next_rotation(
    policy: Option<&PasswordPolicy>,
    changed: OffsetDateTime,
) -> Option<OffsetDateTime> {
    policy
        .and_then(|p| p.max_password_age)
        .map(|d| changed.saturating_add(Duration::days(i64::from(d))))
}

/// How long before expiry users are warned (the AWS console warns within 15 days).
pub const EXPIRY_WARNING: Duration = Duration::days(15);

/// The time left before the password expires, when it is within [`EXPIRY_WARNING`] of
/// expiring (and not yet expired): for a "your password expires in N days" notice.
pub fn expiry_warning(
    policy: Option<&PasswordPolicy>,
    changed: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<Duration> {
    let due = next_rotation(policy, changed)?;
    let left = due - now;
    (left > Duration::ZERO && left <= EXPIRY_WARNING).then_some(left)
}

/// Why a user must set a new password before signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeReason {
    /// An administrator set the password with `PasswordResetRequired`.
    ResetRequired,
    /// The password is older than `MaxPasswordAge`.
    Expired,
}

/// What a sign-in with a correct password (and code) leads to, as far as the password
/// policy is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    /// Sign in.
    Allowed,
    /// The user must set a new password now (the sign-in may carry it).
    ChangeRequired(ChangeReason),
    /// The password expired under `HardExpiry`: the user cannot set a new one; an
    /// administrator must reset it (which sets `PasswordResetRequired`).
    AdminResetRequired,
}

impl SignInOutcome {
    /// The message for [`Error::PasswordChangeRequired`], when the sign-in cannot go on.
    pub fn message(&self) -> Option<&'static str> {
        match self {
            SignInOutcome::Allowed => None,
            SignInOutcome::ChangeRequired(ChangeReason::ResetRequired) => {
                Some("You must change your password before signing in.")
            }
            SignInOutcome::ChangeRequired(ChangeReason::Expired) => {
                Some("Your password has expired; set a new one.")
            }
            SignInOutcome::AdminResetRequired => Some(
                "Your password has expired and the password policy requires an administrator to reset it.",
            ),
        }
    }
}

/// The policy's verdict on a sign-in whose password (and code) were right.
///
/// - `reset_required` (set by an administrator) asks for a new password, and wins over
///   `HardExpiry`: the administrator's reset is the way out of a hard expiry.
/// - An expired password asks for a new one, unless the policy sets `HardExpiry`; then
///   only an administrator can reset it.
pub fn sign_in_outcome(
    policy: Option<&PasswordPolicy>,
    password_last_changed: OffsetDateTime,
    reset_required: bool,
    now: OffsetDateTime,
) -> SignInOutcome {
    if reset_required {
        return SignInOutcome::ChangeRequired(ChangeReason::ResetRequired);
    }
    if !password_expired(policy, password_last_changed, now) {
        return SignInOutcome::Allowed;
    }
    if policy.is_some_and(|p| p.hard_expiry) {
        SignInOutcome::AdminResetRequired
    } else {
        SignInOutcome::ChangeRequired(ChangeReason::Expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{PasswordParams, hash_password};
    use crate::clock::TestRandom;
    use time::macros::datetime;

    fn upd(f: impl FnOnce(&mut PasswordPolicyUpdate)) -> PasswordPolicyUpdate {
        let mut u = PasswordPolicyUpdate::default();
        f(&mut u);
        u
    }

    fn pw(s: &str) -> SecretString {
        SecretString::new(s.to_owned())
    }

    #[test]
    fn omitted_fields_reset_to_defaults() {
        let p = PasswordPolicy::update(&upd(|u| {
            u.minimum_password_length = Some(12);
            u.max_password_age = Some(90);
            u.require_symbols = Some(true);
        }))
        .unwrap();
        assert_eq!(p.minimum_password_length, 12);
        assert!(p.expire_passwords && p.require_symbols);
        assert_eq!(p.max_password_age, Some(90));
        // A later update without the symbol rule or the age drops them.
        let q = PasswordPolicy::update(&PasswordPolicyUpdate::default()).unwrap();
        assert_eq!(q.minimum_password_length, 6);
        assert!(!q.expire_passwords && !q.require_symbols && !q.hard_expiry);
        assert_eq!(q.max_password_age, None);
        assert_eq!(q.password_reuse_prevention, None);
        assert!(!q.reject_common_passwords && !q.allow_users_to_change_password);
        assert_eq!(PasswordPolicy::from_update(&upd(|_| {})).unwrap(), q);
    }

    #[test]
    fn ranges_are_inclusive_and_errors_are_validation_errors() {
        type Set = fn(&mut PasswordPolicyUpdate, i64);
        let cases: [(Set, i64, i64); 3] = [
            (|u, v| u.minimum_password_length = Some(v), 6, 128),
            (|u, v| u.max_password_age = Some(v), 1, 1095),
            (|u, v| u.password_reuse_prevention = Some(v), 1, 24),
        ];
        for (set, lo, hi) in cases {
            for (v, ok) in [
                (lo - 1, false),
                (lo, true),
                (hi, true),
                (hi + 1, false),
                (-1, false),
                (i64::MAX, false),
            ] {
                let r = PasswordPolicy::update(&upd(|u| set(u, v)));
                assert_eq!(r.is_ok(), ok, "{v} in {lo}..={hi}");
                if let Err(e) = r {
                    assert_eq!(e.code(), "ValidationError");
                }
            }
        }
        let e = PasswordPolicy::update(&upd(|u| u.minimum_password_length = Some(5))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 validation error detected: value `5` at `minimumPasswordLength` failed to satisfy constraint: member must have value greater than or equal to 6"
        );
        let e = PasswordPolicy::update(&upd(|u| {
            u.max_password_age = Some(1096);
            u.password_reuse_prevention = Some(0);
        }))
        .unwrap_err();
        let m = e.to_string();
        assert!(m.starts_with("2 validation errors detected: "), "{m}");
        assert!(m.contains("`maxPasswordAge`") && m.contains("less than or equal to 1095"));
        assert!(m.contains("`passwordReusePrevention`"), "{m}");
    }

    #[test]
    fn serde_form_is_aws_pascal_case() {
        let p = PasswordPolicy::update(&upd(|u| u.max_password_age = Some(30))).unwrap();
        let j = serde_json::to_value(&p).unwrap();
        assert_eq!(j["MinimumPasswordLength"], 6);
        assert_eq!(j["ExpirePasswords"], true);
        assert_eq!(j["MaxPasswordAge"], 30);
        assert!(j.get("PasswordReusePrevention").is_none());
        assert_eq!(j["RejectCommonPasswords"], false);
        let back: PasswordPolicy = serde_json::from_value(j).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn every_broken_rule_is_named() {
        let p = PasswordPolicy::update(&upd(|u| {
            u.minimum_password_length = Some(10);
            u.require_symbols = Some(true);
            u.require_numbers = Some(true);
            u.require_uppercase_characters = Some(true);
            u.require_lowercase_characters = Some(true);
        }))
        .unwrap();
        let v = check_new_password(Some(&p), &pw("abc"), None).unwrap_err();
        assert_eq!(v.broken.len(), 4, "{v}");
        let m = v.message();
        for part in [
            "at least 10 characters",
            "an uppercase letter",
            "a number",
            "a symbol",
        ] {
            assert!(m.contains(part), "{m}");
        }
        assert!(!m.contains("lowercase"), "{m}");
        assert!(m.starts_with(
            "Password does not conform to the account password policy: it must be at least 10"
        ));
        let e = Error::from(v);
        assert_eq!(e.aws(), (400, "PasswordPolicyViolation"));
        assert!(check_new_password(Some(&p), &pw("Abcdefgh1!"), None).is_ok());
        // The compatibility form gives the crate error.
        assert_eq!(
            p.rules().check("abc", None).unwrap_err().code(),
            "PasswordPolicyViolation"
        );
    }

    #[test]
    fn symbol_set_is_awss() {
        let p = PasswordPolicy::update(&upd(|u| u.require_symbols = Some(true))).unwrap();
        for s in SYMBOLS.chars() {
            assert!(
                check_new_password(Some(&p), &pw(&format!("abcdef{s}")), None).is_ok(),
                "{s}"
            );
        }
        for s in [
            '~', '`', '"', '<', '>', '?', '/', '\\', ':', ';', '.', ',', ' ', 'é',
        ] {
            assert!(
                check_new_password(Some(&p), &pw(&format!("abcdef{s}")), None).is_err(),
                "{s:?} is not in AWS's symbol set"
            );
        }
    }

    #[test]
    fn aws_default_rules() {
        let ok = |s: &str, u: Option<&str>| check_new_password(None, &pw(s), u).is_ok();
        assert!(!ok("short1A", None));
        assert!(!ok("alllowercase", None));
        assert!(!ok("lowercase123", None), "two classes");
        assert!(ok("lowerUPPER1", None));
        assert!(ok("lower-and-1", None));
        assert!(ok("UPPER-AND-1", None));
        assert!(
            !ok("Alice-1234", Some("alice-1234")),
            "equals the user name"
        );
        let v = check_new_password(None, &pw("short"), None).unwrap_err();
        let m = v.message();
        assert!(
            m.contains("at least 8 characters") && m.contains("at least 3 of"),
            "{m}"
        );
        // Length and character-set limits of the API.
        assert!(!ok(&format!("aA1{}", "x".repeat(126)), None));
        assert!(ok(&format!("aA1{}", "x".repeat(125)), None));
        assert!(!ok("lowerUPPER1\u{100}", None));
        assert!(ok("lowerUPPER1\u{e9}", None));
        assert!(!ok("", None));
    }

    #[test]
    fn common_passwords_only_when_asked() {
        let strict =
            PasswordPolicy::update(&upd(|u| u.reject_common_passwords = Some(true))).unwrap();
        let lax = PasswordPolicy::update(&PasswordPolicyUpdate::default()).unwrap();
        for common in ["password", "Password", "PASSWORD", "qwerty123", "iloveyou"] {
            let v = check_new_password(Some(&strict), &pw(common), None).unwrap_err();
            assert!(v.message().contains("commonly used"), "{common}: {v}");
            assert!(check_new_password(Some(&lax), &pw(common), None).is_ok());
        }
        assert!(check_new_password(Some(&strict), &pw("vault-Unique-2931"), None).is_ok());
    }

    #[test]
    fn reuse_prevention() {
        let cheap = PasswordParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        };
        let rng = TestRandom::new(3);
        // Newest first.
        let history: Vec<String> = ["third", "second", "first"]
            .iter()
            .map(|p| hash_password(&rng, &pw(p), cheap).unwrap())
            .collect();
        assert!(is_reused(&pw("third"), &history, 1));
        assert!(!is_reused(&pw("second"), &history, 1));
        assert!(is_reused(&pw("second"), &history, 2));
        assert!(is_reused(&pw("first"), &history, 24));
        assert!(!is_reused(&pw("first"), &history, 0));
        assert!(!is_reused(&pw("fourth"), &history, 24));
        let p = PasswordPolicy::update(&upd(|u| u.password_reuse_prevention = Some(2))).unwrap();
        let v = check_reuse(Some(&p), &pw("second"), &history).unwrap_err();
        assert!(
            v.message().contains("differ from the last 2 passwords"),
            "{v}"
        );
        assert!(check_reuse(Some(&p), &pw("first"), &history).is_ok());
        assert!(check_reuse(None, &pw("third"), &history).is_ok());
    }

    #[test]
    fn expiry_and_sign_in_outcome() {
        let p = PasswordPolicy::update(&upd(|u| u.max_password_age = Some(30))).unwrap();
        let hard = PasswordPolicy::update(&upd(|u| {
            u.max_password_age = Some(30);
            u.hard_expiry = Some(true);
        }))
        .unwrap();
        let t = datetime!(2026-01-01 0:00 UTC);
        let later = t + Duration::days(30);
        assert!(!password_expired(Some(&p), t, later - Duration::seconds(1)));
        assert!(password_expired(Some(&p), t, later));
        assert!(!password_expired(None, t, t + Duration::days(3000)));
        assert_eq!(next_rotation(Some(&p), t), Some(later));
        assert_eq!(next_rotation(None, t), None);
        assert_eq!(expiry_warning(Some(&p), t, t), None);
        assert_eq!(
            expiry_warning(Some(&p), t, later - Duration::days(15)),
            Some(Duration::days(15))
        );
        assert_eq!(
            expiry_warning(Some(&p), t, later - Duration::hours(1)),
            Some(Duration::hours(1))
        );
        assert_eq!(expiry_warning(Some(&p), t, later), None);
        assert_eq!(expiry_warning(None, t, later), None);

        use SignInOutcome::*;
        assert_eq!(sign_in_outcome(Some(&p), t, false, t), Allowed);
        assert_eq!(sign_in_outcome(None, t, false, later), Allowed);
        assert_eq!(
            sign_in_outcome(Some(&p), t, false, later),
            ChangeRequired(ChangeReason::Expired)
        );
        assert_eq!(
            sign_in_outcome(Some(&hard), t, false, later),
            AdminResetRequired
        );
        // An administrator's reset is the way out of a hard expiry.
        assert_eq!(
            sign_in_outcome(Some(&hard), t, true, later),
            ChangeRequired(ChangeReason::ResetRequired)
        );
        assert_eq!(
            sign_in_outcome(None, t, true, t),
            ChangeRequired(ChangeReason::ResetRequired)
        );
        assert_eq!(Allowed.message(), None);
        assert!(
            AdminResetRequired
                .message()
                .unwrap()
                .contains("administrator")
        );
    }
}
