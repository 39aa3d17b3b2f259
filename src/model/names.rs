//! Entity names and paths, validated as AWS does.

use std::fmt;

use crate::error::{Error, Result};

/// Which kind of entity a name belongs to; fixes the length limit and the error wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// IAM user name: 1–64 characters.
    User,
    /// IAM group name: 1–128 characters.
    Group,
    /// IAM role name: 1–64 characters.
    Role,
    /// Managed or inline policy name: 1–128 characters.
    Policy,
    /// Instance profile name: 1–128 characters.
    InstanceProfile,
}

impl NameKind {
    /// The maximum length AWS allows for this kind of name.
    pub fn max_len(self) -> usize {
        match self {
            NameKind::User | NameKind::Role => 64,
            NameKind::Group | NameKind::Policy | NameKind::InstanceProfile => 128,
        }
    }

    /// The AWS parameter name, for error messages.
    pub fn param(self) -> &'static str {
        match self {
            NameKind::User => "userName",
            NameKind::Group => "groupName",
            NameKind::Role => "roleName",
            NameKind::Policy => "policyName",
            NameKind::InstanceProfile => "instanceProfileName",
        }
    }
}

/// True for the characters AWS allows in entity names: `[\w+=,.@-]` (ASCII `\w`).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// A validated entity name. Display gives the name as the user wrote it;
/// [`EntityName::canonical`] gives the case-folded form used for uniqueness, lookups,
/// lockout counters and caches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityName {
    display: String,
    canonical: String,
}

impl EntityName {
    /// Validates `s` as a name of `kind`.
    pub fn parse(kind: NameKind, s: &str) -> Result<Self> {
        let len = s.chars().count();
        if len == 0 || len > kind.max_len() {
            return Err(Error::Validation(format!(
                "1 validation error detected: value at `{}` failed to satisfy constraint: member must have length between 1 and {}",
                kind.param(),
                kind.max_len()
            )));
        }
        if let Some(bad) = s.chars().find(|c| !is_name_char(*c)) {
            return Err(Error::Validation(format!(
                "1 validation error detected: value at `{}` failed to satisfy constraint: member must satisfy regular expression pattern: [\\w+=,.@-]+ (character `{}` is not allowed)",
                kind.param(),
                bad.escape_default()
            )));
        }
        Ok(Self {
            display: s.to_owned(),
            canonical: s.to_ascii_lowercase(),
        })
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded form: the key for uniqueness and lookups.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// A validated IAM path: `/` or `/segment/.../` of printable ASCII (`!`..`~`), at most 512
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyPath(String);

impl PolicyPath {
    /// The root path `/`.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// Validates `s` as an IAM path.
    pub fn parse(s: &str) -> Result<Self> {
        let ok_chars = s.chars().all(|c| ('!'..='~').contains(&c));
        let shape = s == "/"
            || (s.len() >= 3 && s.starts_with('/') && s.ends_with('/') && !s.contains("//"));
        if s.is_empty() || s.len() > 512 || !ok_chars || !shape {
            return Err(Error::Validation(format!(
                "1 validation error detected: value `{}` at `path` failed to satisfy constraint: the path must begin and end with `/`, contain no empty segment, be printable ascii and at most 512 characters",
                s.escape_default()
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// Validates a path prefix used for listing (`/` or starting with `/`).
    pub fn parse_prefix(s: &str) -> Result<String> {
        if s.is_empty()
            || s.len() > 512
            || !s.starts_with('/')
            || !s.chars().all(|c| ('!'..='~').contains(&c))
        {
            return Err(Error::Validation(format!(
                "1 validation error detected: value `{}` at `pathPrefix` failed to satisfy constraint: must start with `/` and be printable ascii",
                s.escape_default()
            )));
        }
        Ok(s.to_owned())
    }

    /// The path text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_aws() {
        assert!(EntityName::parse(NameKind::User, "alice").is_ok());
        assert!(EntityName::parse(NameKind::User, "a+b=c,d.e@f-g_h").is_ok());
        assert!(EntityName::parse(NameKind::User, &"a".repeat(64)).is_ok());
        for bad in [
            "",
            "has space",
            "slash/name",
            "ünïcode",
            "tab\t",
            "semi;colon",
            "a\u{200b}b",
        ] {
            let e = EntityName::parse(NameKind::User, bad).unwrap_err();
            assert_eq!(e.code(), "ValidationError", "{bad:?}");
        }
        assert!(EntityName::parse(NameKind::User, &"a".repeat(65)).is_err());
        assert!(EntityName::parse(NameKind::Role, &"a".repeat(65)).is_err());
        assert!(EntityName::parse(NameKind::Group, &"a".repeat(128)).is_ok());
        assert!(EntityName::parse(NameKind::Group, &"a".repeat(129)).is_err());
        assert!(EntityName::parse(NameKind::Policy, &"a".repeat(128)).is_ok());
        assert!(EntityName::parse(NameKind::InstanceProfile, &"a".repeat(129)).is_err());
    }

    #[test]
    fn canonical_form_folds_case() {
        let a = EntityName::parse(NameKind::User, "Alice").unwrap();
        let b = EntityName::parse(NameKind::User, "aLICE").unwrap();
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.as_str(), "Alice");
    }

    #[test]
    fn paths() {
        for good in ["/", "/a/", "/division_abc/subdivision_xyz/", "/!~/"] {
            assert!(PolicyPath::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a", "/a", "a/", "//", "/a//b/", "/a b/", "/é/"] {
            assert!(PolicyPath::parse(bad).is_err(), "{bad}");
        }
        assert!(PolicyPath::parse(&format!("/{}/", "a".repeat(510))).is_ok());
        assert!(PolicyPath::parse(&format!("/{}/", "a".repeat(511))).is_err());
    }
}
