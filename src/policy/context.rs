//! The request context: who asks to do what on which resource, plus condition keys.
//!
//! All the text of a context — the action and its lowercase form, the resource, the
//! principal, the (lowercased) key names and the values' text — lives in one buffer, and
//! the keys are kept sorted by name as they are added (a key set twice keeps its last
//! value). A case-insensitive lookup is then a binary search with no allocation, and
//! building a context allocates twice: the text buffer and the key table. Every value is
//! kept both as its canonical text and as each typed reading that applies (number,
//! date, IP, bool, bytes), computed once when the key is set.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
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

/// A range of the context's text buffer. Spans are only made by appending to the
/// buffer, so they always lie on character boundaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: usize,
    end: usize,
}

/// Appends `s` to `buf`.
fn push(buf: &mut String, s: &str) -> Span {
    let start = buf.len();
    buf.push_str(s);
    Span {
        start,
        end: buf.len(),
    }
}

/// Appends `s` lowercased (as [`str::to_lowercase`] does) to `buf`.
fn push_lower(buf: &mut String, s: &str) -> Span {
    let start = buf.len();
    if s.is_ascii() {
        buf.push_str(s);
        if let Some(tail) = buf.get_mut(start..) {
            tail.make_ascii_lowercase();
        }
    } else {
        // Full Unicode lowercasing has context-dependent rules (final sigma): leave them
        // to the standard library.
        buf.push_str(&s.to_lowercase());
    }
    Span {
        start,
        end: buf.len(),
    }
}

fn text_of(buf: &str, span: Span) -> &str {
    // Spans come from appends to this very buffer (see `Span`), so `get` never fails.
    buf.get(span.start..span.end).unwrap_or("")
}

/// One value of a context key, with every reading of it.
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    text: Span,
    pub(crate) num: Option<f64>,
    pub(crate) date: Option<i128>,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) boolean: Option<bool>,
    pub(crate) bytes: Option<Vec<u8>>,
}

impl Scalar {
    /// The value as text (the canonical text for typed values).
    pub(crate) fn text<'c>(&self, ctx: &'c RequestContext) -> &'c str {
        text_of(&ctx.buf, self.text)
    }

    /// A string value, appended to `buf`, with the typed readings it allows.
    fn from_text(buf: &mut String, text: &str) -> Self {
        // Cheap first-character checks keep the typed readings off the common path of
        // plain strings (names, ARNs): numbers and dates start with a digit or sign, IP
        // addresses with a hex digit or `:`, booleans with `t` or `f`.
        let first = text.bytes().next().unwrap_or(0);
        let numeric = first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.');
        // An IPv4 address has a `.` within its first four characters (octets have at
        // most three digits), an IPv6 address a `:` within its first five (groups have
        // at most four hex digits): the parser's own limits.
        let ipish = (first.is_ascii_hexdigit() || first == b':')
            && text.bytes().take(5).any(|b| b == b'.' || b == b':');
        let boolish = matches!(first | 0x20, b't' | b'f');
        Scalar {
            num: if numeric {
                values::parse_number(text)
            } else {
                None
            },
            date: if numeric {
                values::parse_date(text)
            } else {
                None
            },
            ip: if ipish {
                text.parse::<IpAddr>().ok()
            } else {
                None
            },
            boolean: if boolish {
                values::parse_bool(text)
            } else {
                None
            },
            bytes: None,
            text: push(buf, text),
        }
    }

    fn empty(text: Span) -> Self {
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

/// Appends the canonical text of `v` to `buf` with `Display` (no intermediate string).
fn push_display(buf: &mut String, v: impl fmt::Display) -> Span {
    let start = buf.len();
    // Writing into a `String` cannot fail.
    let _ = write!(buf, "{v}");
    Span {
        start,
        end: buf.len(),
    }
}

/// Appends `n` in decimal.
fn push_u8(buf: &mut String, n: u8) {
    if n >= 100 {
        buf.push(char::from(b'0' + n / 100));
    }
    if n >= 10 {
        buf.push(char::from(b'0' + n / 10 % 10));
    }
    buf.push(char::from(b'0' + n % 10));
}

/// Appends `d` as RFC 3339 text (or, if it has none, its epoch seconds) to `buf`.
fn push_date(buf: &mut String, d: OffsetDateTime) -> Span {
    // RFC 3339 text is at most 35 bytes (a four-digit year, nine fraction digits and a
    // `+hh:mm` offset): format on the stack, not into a temporary `String`.
    let mut stack = [0u8; 64];
    let mut out: &mut [u8] = &mut stack;
    let ok = d.format_into(&mut out, &Rfc3339).is_ok();
    // What was written is what the writer advanced over (the returned count is not
    // always the number of bytes written).
    let written = 64 - out.len();
    let text = stack
        .get(..written)
        .filter(|_| ok)
        .and_then(|b| std::str::from_utf8(b).ok());
    match text {
        Some(t) => push(buf, t),
        None => push_display(buf, d.unix_timestamp()),
    }
}

/// The values of one context key, as [`RequestContext::lookup`] finds them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'c> {
    pub(crate) values: &'c [Scalar],
    /// Whether the key was supplied as a list (multivalued keys are not variables).
    pub(crate) multi: bool,
}

/// A key of the context: its lowercased name and where its values are.
#[derive(Debug, Clone, Copy)]
struct Key {
    name: Span,
    /// The key's values are `scalars[first..first + len]`.
    first: usize,
    len: usize,
    multi: bool,
}

/// Appends the scalars of `value` (its text to `buf`); returns whether it is a list.
fn push_value(buf: &mut String, scalars: &mut Vec<Scalar>, value: ContextValue) -> bool {
    let one = match value {
        ContextValue::String(s) => Scalar::from_text(buf, &s),
        ContextValue::StringList(list) => {
            scalars.extend(list.iter().map(|s| Scalar::from_text(buf, s)));
            return true;
        }
        ContextValue::Number(n) => Scalar::number(buf, n),
        ContextValue::Bool(b) => Scalar::boolean(buf, b),
        ContextValue::Date(d) => Scalar::date(buf, d),
        ContextValue::Ip(ip) => Scalar::ip(buf, ip),
        ContextValue::Binary(bytes) => {
            let mut s = Scalar::empty(push(buf, &values::base64_encode(&bytes)));
            s.bytes = Some(bytes);
            s
        }
    };
    scalars.push(one);
    false
}

impl Scalar {
    fn number(buf: &mut String, n: f64) -> Self {
        let mut s = Scalar::empty(push_display(buf, n));
        s.num = n.is_finite().then_some(n);
        // Epoch seconds double as a date (`aws:EpochTime`).
        s.date = values::parse_date(text_of(buf, s.text));
        s
    }

    fn boolean(buf: &mut String, b: bool) -> Self {
        let mut s = Scalar::empty(push(buf, if b { "true" } else { "false" }));
        s.boolean = Some(b);
        s
    }

    fn date(buf: &mut String, d: OffsetDateTime) -> Self {
        let mut s = Scalar::empty(push_date(buf, d));
        s.date = Some(d.unix_timestamp_nanos());
        s.num = Some(d.unix_timestamp() as f64);
        s
    }

    fn ip(buf: &mut String, ip: IpAddr) -> Self {
        let text = match ip {
            // The same text as `Display`, without the formatting machinery.
            IpAddr::V4(v4) => {
                let start = buf.len();
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        buf.push('.');
                    }
                    push_u8(buf, octet);
                }
                Span {
                    start,
                    end: buf.len(),
                }
            }
            IpAddr::V6(_) => push_display(buf, ip),
        };
        let mut s = Scalar::empty(text);
        s.ip = Some(ip);
        s
    }
}

/// Everything the evaluator needs to know about one request.
#[derive(Clone)]
pub struct RequestContext {
    /// The text of everything below (see [`Span`]).
    buf: String,
    action: Span,
    /// The same span as `action` when the action is already lowercase.
    action_lower: Span,
    /// The service prefix of `action_lower` (before the first `:`; empty without one).
    service_lower: Span,
    resource: Span,
    principal_arn: Span,
    principal_account: Span,
    /// Sorted by lowercased name, no duplicates.
    keys: Vec<Key>,
    /// The values of the keys, in the order they were set (a key set again leaves its
    /// old values here, unreferenced).
    scalars: Vec<Scalar>,
}

impl RequestContext {
    /// Starts a context for `action` (e.g. `iam:ListUsers`) on `resource` (an ARN or `*`).
    pub fn builder(action: impl AsRef<str>, resource: impl AsRef<str>) -> RequestContextBuilder {
        let (action, resource) = (action.as_ref(), resource.as_ref());
        // Room for the action twice, the resource, and a typical principal and keys.
        let mut buf = String::with_capacity(2 * action.len() + resource.len() + 224);
        let action_span = push(&mut buf, action);
        let action_lower = if action
            .bytes()
            .any(|b| !b.is_ascii() || b.is_ascii_uppercase())
        {
            push_lower(&mut buf, action)
        } else {
            action_span
        };
        let service_lower = match text_of(&buf, action_lower).find(':') {
            Some(colon) => Span {
                start: action_lower.start,
                end: action_lower.start + colon,
            },
            None => Span::default(),
        };
        let resource = push(&mut buf, resource);
        RequestContextBuilder {
            ctx: RequestContext {
                buf,
                action: action_span,
                action_lower,
                service_lower,
                resource,
                principal_arn: Span::default(),
                principal_account: Span::default(),
                keys: Vec::with_capacity(8),
                scalars: Vec::with_capacity(8),
            },
        }
    }

    fn text(&self, span: Span) -> &str {
        text_of(&self.buf, span)
    }

    /// The action as given.
    pub fn action(&self) -> &str {
        self.text(self.action)
    }

    /// The resource ARN as given.
    pub fn resource(&self) -> &str {
        self.text(self.resource)
    }

    /// The requesting principal's ARN (empty if not set).
    pub fn principal_arn(&self) -> &str {
        self.text(self.principal_arn)
    }

    /// The requesting principal's account id (empty if not set).
    pub fn principal_account(&self) -> &str {
        self.text(self.principal_account)
    }

    pub(crate) fn action_lower(&self) -> &str {
        self.text(self.action_lower)
    }

    /// The lowercase service prefix of the action (`iam` for `IAM:ListUsers`).
    pub(crate) fn service_lower(&self) -> &str {
        self.text(self.service_lower)
    }

    fn entry(&self, key: &Key) -> Entry<'_> {
        Entry {
            // `first..first + len` was pushed when the key was set (see `Key`).
            values: self
                .scalars
                .get(key.first..key.first + key.len)
                .unwrap_or(&[]),
            multi: key.multi,
        }
    }

    /// Looks up a key; `key_lower` must already be lowercase.
    pub(crate) fn lookup(&self, key_lower: &str) -> Option<Entry<'_>> {
        let i = self
            .keys
            .binary_search_by(|k| self.text(k.name).cmp(key_lower))
            .ok()?;
        self.keys.get(i).map(|k| self.entry(k))
    }

    /// The value of a single-valued key, for policy variables.
    pub(crate) fn single(&self, key_lower: &str) -> Option<&str> {
        let entry = self.lookup(key_lower)?;
        if entry.multi {
            return None;
        }
        match entry.values {
            [one] => Some(one.text(self)),
            _ => None,
        }
    }

    /// Whether the key is present (case-insensitive name).
    pub fn has_key(&self, key: &str) -> bool {
        if key.bytes().any(|b| !b.is_ascii() || b.is_ascii_uppercase()) {
            self.lookup(&key.to_lowercase()).is_some()
        } else {
            self.lookup(key).is_some()
        }
    }
}

impl fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<(&str, Vec<&str>)> = self
            .keys
            .iter()
            .map(|k| {
                let values = self.entry(k).values.iter().map(|s| s.text(self)).collect();
                (self.text(k.name), values)
            })
            .collect();
        f.debug_struct("RequestContext")
            .field("action", &self.action())
            .field("resource", &self.resource())
            .field("principal_arn", &self.principal_arn())
            .field("principal_account", &self.principal_account())
            .field("keys", &keys)
            .finish()
    }
}

/// Builds a [`RequestContext`]. Setting a key twice keeps the last value; key names are
/// case-insensitive.
#[derive(Debug, Clone)]
pub struct RequestContextBuilder {
    /// The context under construction: its keys are sorted and unique at every step.
    ctx: RequestContext,
}

impl RequestContextBuilder {
    /// Sets the principal ARN and account (used in messages; principal matching in
    /// resource policies uses [`super::PrincipalInfo`]).
    pub fn principal<'v>(
        mut self,
        arn: impl Into<Cow<'v, str>>,
        account: impl Into<Cow<'v, str>>,
    ) -> Self {
        self.ctx.principal_arn = push(&mut self.ctx.buf, &arn.into());
        self.ctx.principal_account = push(&mut self.ctx.buf, &account.into());
        self
    }

    /// Sets `key` (any case) to the values that `make` appends (their text to the
    /// buffer); `make` returns whether the key is multivalued. A key already present
    /// takes the new values.
    fn set(mut self, key: &str, make: impl FnOnce(&mut String, &mut Vec<Scalar>) -> bool) -> Self {
        let ctx = &mut self.ctx;
        let name = push_lower(&mut ctx.buf, key);
        let first = ctx.scalars.len();
        let multi = make(&mut ctx.buf, &mut ctx.scalars);
        let rec = Key {
            name,
            first,
            len: ctx.scalars.len() - first,
            multi,
        };
        let found = {
            let (buf, keys) = (&ctx.buf, &ctx.keys);
            let wanted = text_of(buf, name);
            keys.binary_search_by(|k| text_of(buf, k.name).cmp(wanted))
        };
        match found {
            Ok(i) => {
                if let Some(slot) = ctx.keys.get_mut(i) {
                    *slot = rec;
                }
            }
            Err(i) => ctx.keys.insert(i, rec),
        }
        self
    }

    /// Sets one scalar value.
    fn set_one(self, key: &str, make: impl FnOnce(&mut String) -> Scalar) -> Self {
        self.set(key, |buf, scalars| {
            scalars.push(make(buf));
            false
        })
    }

    /// Sets a key to a typed value.
    pub fn value(self, key: &str, value: ContextValue) -> Self {
        self.set(key, |buf, scalars| push_value(buf, scalars, value))
    }

    /// Sets a single-valued string key.
    pub fn string<'v>(self, key: &str, value: impl Into<Cow<'v, str>>) -> Self {
        self.set_one(key, |buf| Scalar::from_text(buf, &value.into()))
    }

    /// Sets a multivalued string key.
    pub fn strings<I, S>(self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.set(key, |buf, scalars| {
            scalars.extend(
                values
                    .into_iter()
                    .map(|v| Scalar::from_text(buf, v.as_ref())),
            );
            true
        })
    }

    /// Sets a numeric key.
    pub fn number(self, key: &str, value: f64) -> Self {
        self.set_one(key, |buf| Scalar::number(buf, value))
    }

    /// Sets a boolean key.
    pub fn boolean(self, key: &str, value: bool) -> Self {
        self.set_one(key, |buf| Scalar::boolean(buf, value))
    }

    /// Sets a date key.
    pub fn date(self, key: &str, value: OffsetDateTime) -> Self {
        self.set_one(key, |buf| Scalar::date(buf, value))
    }

    /// Sets an IP address key.
    pub fn ip(self, key: &str, value: IpAddr) -> Self {
        self.set_one(key, |buf| Scalar::ip(buf, value))
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
    pub fn build(self) -> RequestContext {
        self.ctx
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
        assert_eq!(t.text(&ctx), "2020-01-02T03:04:05Z");
        assert_eq!(t.num, Some(1_577_934_245.0));
        let e = &ctx.lookup("aws:epochtime").unwrap().values[0];
        assert_eq!(e.text(&ctx), "1577934245");
        assert_eq!(e.date, t.date);
        assert_eq!(ctx.lookup("n").unwrap().values[0].text(&ctx), "30");
    }
}
