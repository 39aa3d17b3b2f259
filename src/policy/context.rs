//! The request context: who asks to do what on which resource, plus condition keys.
//!
//! Keys are stored lowercased and sorted, so a case-insensitive lookup is a binary
//! search with no allocation. Every value is kept both as its canonical text and as each
//! typed reading that applies (number, date, IP, bool, bytes), computed once when the
//! context is built.

use std::net::IpAddr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::values;

/// A typed condition-key value supplied by the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum ContextValue {
    String(String),
    StringList(Vec<String>),
    Number(f64),
    Bool(bool),
    Date(OffsetDateTime),
    Ip(IpAddr),
    Binary(Vec<u8>),
}

/// One value of a context key, with every reading of it.
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    pub(crate) num: Option<f64>,
    pub(crate) date: Option<i128>,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) boolean: Option<bool>,
    pub(crate) bytes: Option<Vec<u8>>,
}

impl Scalar {
    fn from_text(text: String) -> Self {
        // Cheap first-character checks keep the typed readings off the common path of
        // plain strings (names, ARNs): numbers and dates start with a digit or sign, IP
        // addresses with a hex digit or `:`, booleans with `t` or `f`.
        let first = text.bytes().next().unwrap_or(0);
        let numeric = first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.');
        let ipish = first.is_ascii_hexdigit() || first == b':';
        let boolish = matches!(first | 0x20, b't' | b'f');
        Scalar {
            num: if numeric {
                values::parse_number(&text)
            } else {
                None
            },
            date: if numeric {
                values::parse_date(&text)
            } else {
                None
            },
            ip: if ipish {
                text.parse::<IpAddr>().ok()
            } else {
                None
            },
            boolean: if boolish {
                values::parse_bool(&text)
            } else {
                None
            },
            bytes: None,
            text,
        }
    }

    fn empty(text: String) -> Self {
        Scalar {
            text,
            num: None,
            date: None,
            ip: None,
            boolean: None,
            bytes: None,
        }
    }
}

/// The values of one context key.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) values: smallvec::SmallVec<[Scalar; 1]>,
    /// Whether the key was supplied as a list (multivalued keys are not variables).
    pub(crate) multi: bool,
}

impl Entry {
    fn from_value(value: ContextValue) -> Self {
        match value {
            ContextValue::String(s) => Entry {
                values: smallvec::smallvec![Scalar::from_text(s)],
                multi: false,
            },
            ContextValue::StringList(list) => Entry {
                values: list.into_iter().map(Scalar::from_text).collect(),
                multi: true,
            },
            ContextValue::Number(n) => {
                let mut s = Scalar::empty(n.to_string());
                s.num = n.is_finite().then_some(n);
                // Epoch seconds double as a date (`aws:EpochTime`).
                s.date = values::parse_date(&s.text);
                Entry {
                    values: smallvec::smallvec![s],
                    multi: false,
                }
            }
            ContextValue::Bool(b) => {
                let mut s = Scalar::empty(if b { "true" } else { "false" }.to_owned());
                s.boolean = Some(b);
                Entry {
                    values: smallvec::smallvec![s],
                    multi: false,
                }
            }
            ContextValue::Date(d) => {
                let text = d
                    .format(&Rfc3339)
                    .unwrap_or_else(|_| d.unix_timestamp().to_string());
                let mut s = Scalar::empty(text);
                s.date = Some(d.unix_timestamp_nanos());
                let secs = d.unix_timestamp() as f64;
                s.num = Some(secs);
                Entry {
                    values: smallvec::smallvec![s],
                    multi: false,
                }
            }
            ContextValue::Ip(ip) => {
                let mut s = Scalar::empty(ip.to_string());
                s.ip = Some(ip);
                Entry {
                    values: smallvec::smallvec![s],
                    multi: false,
                }
            }
            ContextValue::Binary(bytes) => {
                let mut s = Scalar::empty(values::base64_encode(&bytes));
                s.bytes = Some(bytes);
                Entry {
                    values: smallvec::smallvec![s],
                    multi: false,
                }
            }
        }
    }
}

/// Everything the evaluator needs to know about one request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    action: String,
    action_lower: String,
    resource: String,
    principal_arn: String,
    principal_account: String,
    /// Sorted by lowercased key.
    keys: Vec<(String, Entry)>,
}

impl RequestContext {
    /// Starts a context for `action` (e.g. `iam:ListUsers`) on `resource` (an ARN or `*`).
    pub fn builder(
        action: impl Into<String>,
        resource: impl Into<String>,
    ) -> RequestContextBuilder {
        RequestContextBuilder {
            action: action.into(),
            resource: resource.into(),
            principal_arn: String::new(),
            principal_account: String::new(),
            keys: Vec::with_capacity(16),
        }
    }

    /// The action as given.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource ARN as given.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The requesting principal's ARN (empty if not set).
    pub fn principal_arn(&self) -> &str {
        &self.principal_arn
    }

    /// The requesting principal's account id (empty if not set).
    pub fn principal_account(&self) -> &str {
        &self.principal_account
    }

    pub(crate) fn action_lower(&self) -> &str {
        &self.action_lower
    }

    /// Looks up a key; `key_lower` must already be lowercase.
    pub(crate) fn lookup(&self, key_lower: &str) -> Option<&Entry> {
        self.keys
            .binary_search_by(|(k, _)| k.as_str().cmp(key_lower))
            .ok()
            .and_then(|i| self.keys.get(i))
            .map(|(_, e)| e)
    }

    /// The value of a single-valued key, for policy variables.
    pub(crate) fn single(&self, key_lower: &str) -> Option<&str> {
        let entry = self.lookup(key_lower)?;
        if entry.multi {
            return None;
        }
        match entry.values.as_slice() {
            [one] => Some(one.text.as_str()),
            _ => None,
        }
    }

    /// Whether the key is present (case-insensitive name).
    pub fn has_key(&self, key: &str) -> bool {
        self.lookup(&key.to_lowercase()).is_some()
    }
}

/// Builds a [`RequestContext`]. Setting a key twice keeps the last value; key names are
/// case-insensitive.
#[derive(Debug, Clone)]
pub struct RequestContextBuilder {
    action: String,
    resource: String,
    principal_arn: String,
    principal_account: String,
    keys: Vec<(String, ContextValue)>,
}

impl RequestContextBuilder {
    /// Sets the principal ARN and account (used in messages; principal matching in
    /// resource policies uses [`super::PrincipalInfo`]).
    pub fn principal(mut self, arn: impl Into<String>, account: impl Into<String>) -> Self {
        self.principal_arn = arn.into();
        self.principal_account = account.into();
        self
    }

    /// Sets a key to a typed value.
    pub fn value(mut self, key: &str, value: ContextValue) -> Self {
        self.keys.push((key.to_lowercase(), value));
        self
    }

    /// Sets a single-valued string key.
    pub fn string(self, key: &str, value: impl Into<String>) -> Self {
        self.value(key, ContextValue::String(value.into()))
    }

    /// Sets a multivalued string key.
    pub fn strings<I, S>(self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.value(
            key,
            ContextValue::StringList(values.into_iter().map(Into::into).collect()),
        )
    }

    /// Sets a numeric key.
    pub fn number(self, key: &str, value: f64) -> Self {
        self.value(key, ContextValue::Number(value))
    }

    /// Sets a boolean key.
    pub fn boolean(self, key: &str, value: bool) -> Self {
        self.value(key, ContextValue::Bool(value))
    }

    /// Sets a date key.
    pub fn date(self, key: &str, value: OffsetDateTime) -> Self {
        self.value(key, ContextValue::Date(value))
    }

    /// Sets an IP address key.
    pub fn ip(self, key: &str, value: IpAddr) -> Self {
        self.value(key, ContextValue::Ip(value))
    }

    /// Sets a binary key.
    pub fn binary(self, key: &str, value: Vec<u8>) -> Self {
        self.value(key, ContextValue::Binary(value))
    }

    /// Sets `aws:CurrentTime` and `aws:EpochTime` from the injected clock's time.
    pub fn current_time(self, now: OffsetDateTime) -> Self {
        let secs = now.unix_timestamp() as f64;
        self.date("aws:CurrentTime", now)
            .number("aws:EpochTime", secs)
    }

    /// Finishes the context.
    pub fn build(mut self) -> RequestContext {
        // Sorted by key for binary search; a key set twice keeps its last value (a stable
        // sort keeps insertion order among equal keys, and dedup keeps the first of each
        // run, so reverse first).
        self.keys.reverse();
        self.keys.sort_by(|a, b| a.0.cmp(&b.0));
        self.keys.dedup_by(|a, b| a.0 == b.0);
        let keys = self
            .keys
            .into_iter()
            .map(|(k, v)| (k, Entry::from_value(v)))
            .collect();
        RequestContext {
            action_lower: self.action.to_lowercase(),
            action: self.action,
            resource: self.resource,
            principal_arn: self.principal_arn,
            principal_account: self.principal_account,
            keys,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn keys_are_case_insensitive_and_last_wins() {
        let ctx = RequestContext::builder("IAM:ListUsers", "*")
            .string("AWS:UserName", "alice")
            .string("aws:username", "bob")
            .strings("aws:TagKeys", ["a", "b"])
            .build();
        assert_eq!(ctx.single("aws:username"), Some("bob"));
        assert!(ctx.has_key("Aws:TagKeys"));
        assert_eq!(ctx.single("aws:tagkeys"), None, "lists are not variables");
        assert_eq!(ctx.action_lower(), "iam:listusers");
    }

    #[test]
    fn typed_readings() {
        let ctx = RequestContext::builder("s3:GetObject", "*")
            .current_time(datetime!(2020-01-02 03:04:05 UTC))
            .number("n", 30.0)
            .build();
        let t = &ctx.lookup("aws:currenttime").unwrap().values[0];
        assert_eq!(t.text, "2020-01-02T03:04:05Z");
        assert_eq!(t.num, Some(1_577_934_245.0));
        let e = &ctx.lookup("aws:epochtime").unwrap().values[0];
        assert_eq!(e.text, "1577934245");
        assert_eq!(e.date, t.date);
        assert_eq!(ctx.lookup("n").unwrap().values[0].text, "30");
    }
}
