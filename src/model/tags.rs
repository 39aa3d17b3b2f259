//! Tags on users and roles.

use crate::error::{Error, Result};

/// AWS's limit on tags per entity.
pub const MAX_TAGS: usize = 50;

/// A validated tag. Keys are unique per entity case-insensitively (AWS: "tag keys for IAM
/// users and roles are not case sensitive, but case is preserved").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tag {
    /// The key, 1–128 characters.
    #[serde(rename = "Key")]
    pub key: String,
    /// The value, 0–256 characters.
    #[serde(rename = "Value")]
    pub value: String,
}

fn tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || c.is_whitespace()
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

impl Tag {
    /// Validates a key and value against AWS's patterns `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`.
    pub fn new(key: &str, value: &str) -> Result<Self> {
        let klen = key.chars().count();
        if klen == 0 || klen > 128 || !key.chars().all(tag_char) {
            return Err(Error::Validation(format!(
                "1 validation error detected: tag key `{}` must be 1 to 128 letters, digits, spaces or `_.:/=+-@`",
                key.escape_default()
            )));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(Error::InvalidInput(format!(
                "tag key `{key}` uses the reserved prefix `aws:`"
            )));
        }
        if value.chars().count() > 256 || !value.chars().all(tag_char) {
            return Err(Error::Validation(format!(
                "1 validation error detected: the value of tag `{key}` must be at most 256 letters, digits, spaces or `_.:/=+-@`"
            )));
        }
        Ok(Self {
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }

    /// The case-folded key used for uniqueness.
    pub fn canonical_key(&self) -> String {
        self.key.to_lowercase()
    }
}

/// Rejects a request that names the same key twice (case-insensitively).
pub fn validate_tag_set(tags: &[Tag]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        if !seen.insert(t.canonical_key()) {
            return Err(Error::InvalidInput(format!(
                "duplicate tag key `{}` in one request",
                t.key
            )));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(Error::LimitExceeded(format!(
            "at most {MAX_TAGS} tags per entity"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_rules() {
        assert!(Tag::new("team", "platform").is_ok());
        assert!(Tag::new("cost center", "").is_ok());
        assert!(Tag::new("", "x").is_err());
        assert!(Tag::new(&"k".repeat(129), "x").is_err());
        assert!(Tag::new("k", &"v".repeat(257)).is_err());
        assert!(Tag::new("bad;key", "x").is_err());
        assert_eq!(Tag::new("aws:foo", "x").unwrap_err().code(), "InvalidInput");
        let dup = [
            Tag::new("Team", "a").unwrap(),
            Tag::new("team", "b").unwrap(),
        ];
        assert!(validate_tag_set(&dup).is_err());
    }
}
