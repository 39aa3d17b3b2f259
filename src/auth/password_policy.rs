//! The account password policy, with AWS's fields, ranges and semantics.
//!
//! - No partial updates: [`PasswordPolicy::from_update`] builds a whole policy, and every
//!   field the request omits takes its default.
//! - When no policy is set, AWS's default rules apply ([`PasswordRules::aws_default`]):
//!   at least 8 characters and at least three of the four character classes.
//! - Length and class rules apply when a password is set; expiry applies at sign-in.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};

/// AWS's symbol set for `RequireSymbols`.
pub const SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

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

/// The fields of UpdateAccountPasswordPolicy; every one optional.
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

fn range(name: &str, v: i64, lo: i64, hi: i64) -> Result<u32> {
    if (lo..=hi).contains(&v) {
        u32::try_from(v).map_err(|_| Error::Internal("range check".into()))
    } else {
        Err(Error::Validation(format!(
            "1 validation error detected: value `{v}` at `{name}` failed to satisfy constraint: member must have value between {lo} and {hi}"
        )))
    }
}

impl PasswordPolicy {
    /// A whole policy from an update request: omitted fields take their defaults.
    pub fn from_update(u: &PasswordPolicyUpdate) -> Result<Self> {
        let max_age = u
            .max_password_age
            .map(|v| range("maxPasswordAge", v, 1, 1095))
            .transpose()?;
        Ok(Self {
            minimum_password_length: u
                .minimum_password_length
                .map(|v| range("minimumPasswordLength", v, 6, 128))
                .transpose()?
                .unwrap_or(6),
            require_symbols: u.require_symbols.unwrap_or(false),
            require_numbers: u.require_numbers.unwrap_or(false),
            require_uppercase_characters: u.require_uppercase_characters.unwrap_or(false),
            require_lowercase_characters: u.require_lowercase_characters.unwrap_or(false),
            allow_users_to_change_password: u.allow_users_to_change_password.unwrap_or(false),
            expire_passwords: max_age.is_some(),
            max_password_age: max_age,
            password_reuse_prevention: u
                .password_reuse_prevention
                .map(|v| range("passwordReusePrevention", v, 1, 24))
                .transpose()?,
            hard_expiry: u.hard_expiry.unwrap_or(false),
            reject_common_passwords: u.reject_common_passwords.unwrap_or(false),
        })
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
}

/// The character classes, in the order of [`PasswordRules::required`].
const CLASS_NAMES: [&str; 4] = [
    "an uppercase letter (A-Z)",
    "a lowercase letter (a-z)",
    "a number (0-9)",
    "a symbol (! @ # $ % ^ & * ( ) _ + - = [ ] { } | ')",
];

fn classes(pw: &str) -> [bool; 4] {
    [
        pw.chars().any(|c| c.is_ascii_uppercase()),
        pw.chars().any(|c| c.is_ascii_lowercase()),
        pw.chars().any(|c| c.is_ascii_digit()),
        pw.chars().any(|c| SYMBOLS.contains(c)),
    ]
}

/// Rules for a new password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordRules {
    /// Minimum length.
    pub min_length: u32,
    /// Required classes: uppercase, lowercase, number, symbol.
    pub required: [bool; 4],
    /// At least this many of the four classes (AWS's default rules use 3).
    pub min_classes: usize,
    /// Refuse common passwords.
    pub reject_common: bool,
}

impl PasswordRules {
    /// AWS's default rules when no policy is set: at least 8 characters and three of the
    /// four character classes.
    pub fn aws_default() -> Self {
        Self {
            min_length: 8,
            required: [false; 4],
            min_classes: 3,
            reject_common: false,
        }
    }

    /// Checks a new password; the error names every rule it breaks.
    pub fn check(&self, password: &str, user_name: Option<&str>) -> Result<()> {
        let mut broken = Vec::new();
        let len = password.chars().count();
        if len > 128 {
            broken.push("be at most 128 characters long".to_owned());
        }
        if password
            .chars()
            .any(|c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
        {
            broken.push(
                "use only tab, newline, carriage return and characters U+0020 to U+00FF".to_owned(),
            );
        }
        if len < self.min_length as usize {
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
            Err(Error::PasswordPolicyViolation(format!(
                "Password does not conform to the account password policy: it must {}.",
                broken.join("; it must ")
            )))
        }
    }
}

/// Whether a password last changed at `changed` has expired under `policy` at `now`.
pub fn password_expired(
    policy: Option<&PasswordPolicy>,
    changed: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    match policy.and_then(|p| p.max_password_age) {
        Some(days) => now >= changed + Duration::days(i64::from(days)),
        None => false,
    }
}

/// When a password must next be changed, if the policy sets an age.
pub fn next_rotation(
    policy: Option<&PasswordPolicy>,
    changed: OffsetDateTime,
) -> Option<OffsetDateTime> {
    policy
        .and_then(|p| p.max_password_age)
        .map(|d| changed + Duration::days(i64::from(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_fields_reset_to_defaults() {
        let p = PasswordPolicy::from_update(&PasswordPolicyUpdate {
            minimum_password_length: Some(12),
            max_password_age: Some(90),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.minimum_password_length, 12);
        assert!(p.expire_passwords);
        assert!(!p.require_symbols);
        let q = PasswordPolicy::from_update(&PasswordPolicyUpdate::default()).unwrap();
        assert_eq!(q.minimum_password_length, 6);
        assert!(!q.expire_passwords);
        assert_eq!(q.max_password_age, None);
    }

    #[test]
    fn ranges() {
        for (u, ok) in [
            (
                PasswordPolicyUpdate {
                    minimum_password_length: Some(5),
                    ..Default::default()
                },
                false,
            ),
            (
                PasswordPolicyUpdate {
                    minimum_password_length: Some(129),
                    ..Default::default()
                },
                false,
            ),
            (
                PasswordPolicyUpdate {
                    minimum_password_length: Some(128),
                    ..Default::default()
                },
                true,
            ),
            (
                PasswordPolicyUpdate {
                    max_password_age: Some(0),
                    ..Default::default()
                },
                false,
            ),
            (
                PasswordPolicyUpdate {
                    max_password_age: Some(1096),
                    ..Default::default()
                },
                false,
            ),
            (
                PasswordPolicyUpdate {
                    max_password_age: Some(1095),
                    ..Default::default()
                },
                true,
            ),
            (
                PasswordPolicyUpdate {
                    password_reuse_prevention: Some(0),
                    ..Default::default()
                },
                false,
            ),
            (
                PasswordPolicyUpdate {
                    password_reuse_prevention: Some(25),
                    ..Default::default()
                },
                false,
            ),
            (
                PasswordPolicyUpdate {
                    password_reuse_prevention: Some(24),
                    ..Default::default()
                },
                true,
            ),
        ] {
            assert_eq!(PasswordPolicy::from_update(&u).is_ok(), ok, "{u:?}");
        }
    }

    #[test]
    fn every_broken_rule_is_named() {
        let p = PasswordPolicy::from_update(&PasswordPolicyUpdate {
            minimum_password_length: Some(10),
            require_symbols: Some(true),
            require_numbers: Some(true),
            require_uppercase_characters: Some(true),
            require_lowercase_characters: Some(true),
            ..Default::default()
        })
        .unwrap();
        let e = p.rules().check("abc", None).unwrap_err();
        assert_eq!(e.code(), "PasswordPolicyViolation");
        let m = e.to_string();
        for part in [
            "at least 10 characters",
            "uppercase",
            "a number",
            "a symbol",
        ] {
            assert!(m.contains(part), "{m}");
        }
        assert!(!m.contains("lowercase"), "{m}");
        assert!(p.rules().check("Abcdefgh1!", None).is_ok());
        assert!(
            p.rules().check("Abcdefgh1~", None).is_err(),
            "~ is not in AWS's symbol set"
        );
    }

    #[test]
    fn aws_default_rules() {
        let r = PasswordRules::aws_default();
        assert!(r.check("short1A", None).is_err());
        assert!(r.check("alllowercase", None).is_err());
        assert!(r.check("lowerUPPER1", None).is_ok());
        assert!(r.check("lower-and-1", None).is_ok());
        assert!(r.check("Alice-1234", Some("alice-1234")).is_err());
        assert!(r.check(&format!("aA1{}", "x".repeat(126)), None).is_err());
    }

    #[test]
    fn expiry() {
        let p = PasswordPolicy::from_update(&PasswordPolicyUpdate {
            max_password_age: Some(30),
            ..Default::default()
        })
        .unwrap();
        let t = time::macros::datetime!(2026-01-01 0:00 UTC);
        assert!(!password_expired(Some(&p), t, t + Duration::days(29)));
        assert!(password_expired(Some(&p), t, t + Duration::days(30)));
        assert!(!password_expired(None, t, t + Duration::days(3000)));
        assert_eq!(next_rotation(Some(&p), t), Some(t + Duration::days(30)));
    }
}
