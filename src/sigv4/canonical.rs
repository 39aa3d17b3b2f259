//! Canonical request and string to sign (AWS SigV4), shared by the signer and the verifier.
//!
//! Canonical request:
//! ```text
//! METHOD \n CanonicalURI \n CanonicalQuery \n (name:value \n)* \n SignedHeaders \n PayloadHash
//! ```
//! - URI: optionally normalized (RFC 3986 section 5.2.4 dot-segment removal, plus runs of
//!   `/` collapsed), then encoded: for every service except S3 the raw path is encoded
//!   once more (a `%` becomes `%25`: "double encoding"); S3 uses the path as sent.
//! - Query: each `name=value` pair is percent-decoded (`+` is a space, as SDKs that parse
//!   the query with a form decoder do) and encoded again with only RFC 3986 unreserved
//!   characters left bare, then sorted by name and value. `X-Amz-Signature` is left out.
//! - Headers: names lowercased and sorted; each value trimmed with runs of spaces
//!   collapsed; repeated headers joined with `,` in arrival order.

use std::fmt::Write as _;

use percent_encoding::percent_decode_str;

use super::error::{SigV4Error, excerpt};
use super::request::{HttpRequest, sha256_hex};

/// The only algorithm this module signs and accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";

/// How the path is encoded in the canonical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathEncoding {
    /// Encode the raw path once more (every AWS service except S3).
    Double,
    /// Use the raw path as sent; only characters that may not appear bare in a URI are
    /// encoded, existing `%XX` escapes are kept (S3).
    Single,
}

/// Options for the canonical URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanonicalOptions {
    /// Remove dot segments and collapse runs of `/`.
    pub normalize_path: bool,
    /// See [`PathEncoding`].
    pub path_encoding: PathEncoding,
}

impl Default for CanonicalOptions {
    fn default() -> Self {
        Self {
            normalize_path: true,
            path_encoding: PathEncoding::Double,
        }
    }
}

impl CanonicalOptions {
    /// The options AWS uses for a signing name: S3 (`s3`, `s3-object-lambda`, `s3express`)
    /// single-encodes and does not normalize; every other service (IAM, STS, ...) does
    /// both.
    pub fn for_service(service: &str) -> Self {
        if service == "s3" || service.starts_with("s3-") || service == "s3express" {
            Self {
                normalize_path: false,
                path_encoding: PathEncoding::Single,
            }
        } else {
            Self::default()
        }
    }
}

/// RFC 3986 unreserved characters.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn push_escaped(out: &mut String, b: u8) {
    out.push('%');
    out.push(char::from(
        HEX_UPPER.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
    ));
    out.push(char::from(
        HEX_UPPER.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
    ));
}

/// Percent-encodes every byte that is not unreserved (and not `/` when `keep_slash`).
pub(crate) fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
    }
    out
}

/// Normalizes a raw path: dot segments removed (RFC 3986 section 5.2.4) and empty
/// segments dropped, keeping a trailing `/`.
pub(crate) fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

/// The canonical URI of a raw path.
pub fn canonical_uri(path: &str, opts: CanonicalOptions) -> String {
    let normalized;
    let path = if opts.normalize_path {
        normalized = normalize_path(path);
        normalized.as_str()
    } else if path.is_empty() {
        "/"
    } else {
        path
    };
    match opts.path_encoding {
        PathEncoding::Double => uri_encode(path.as_bytes(), true),
        PathEncoding::Single => {
            let bytes = path.as_bytes();
            let mut out = String::with_capacity(bytes.len());
            let mut i = 0usize;
            while let Some(&b) = bytes.get(i) {
                let escape = b == b'%'
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
                if escape {
                    out.push('%');
                    for k in 1..=2 {
                        if let Some(&h) = bytes.get(i + k) {
                            out.push(char::from(h.to_ascii_uppercase()));
                        }
                    }
                    i += 3;
                } else {
                    if is_unreserved(b) || b == b'/' {
                        out.push(char::from(b));
                    } else {
                        push_escaped(&mut out, b);
                    }
                    i += 1;
                }
            }
            out
        }
    }
}

/// Decodes one query component: `+` is a space, `%XX` a byte. A `%` not followed by two
/// hex digits is an error.
pub(crate) fn decode_component(raw: &str) -> Result<Vec<u8>, SigV4Error> {
    let bytes = raw.as_bytes();
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(SigV4Error::malformed(format!(
                    "invalid percent escape in query component `{}`",
                    excerpt(raw, 60)
                )));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    let plus_as_space = raw.replace('+', " ");
    Ok(percent_decode_str(&plus_as_space).collect())
}

/// A decoded query parameter: name and value bytes.
pub(crate) type QueryPair = (Vec<u8>, Vec<u8>);

/// The query split into decoded `(name, value)` pairs, in order. Empty pieces (`a&&b`)
/// are skipped; a piece without `=` has an empty value.
pub(crate) fn query_pairs(query: &str) -> Result<Vec<QueryPair>, SigV4Error> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode_component(k)?, decode_component(v)?))
        })
        .collect()
}

/// The canonical query string of a raw query. With `exclude_signature`, the
/// `X-Amz-Signature` parameter is left out (presigned requests).
pub fn canonical_query(query: &str, exclude_signature: bool) -> Result<String, SigV4Error> {
    let mut pairs: Vec<(String, String)> = query_pairs(query)?
        .into_iter()
        .filter(|(k, _)| !(exclude_signature && k.as_slice() == b"X-Amz-Signature"))
        .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    Ok(out)
}

/// One canonical header value from all the values of that header: each trimmed, runs of
/// spaces collapsed, joined with `,`.
pub(crate) fn canonical_header_value<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let v = v.trim_matches([' ', '\t']);
        if !v.contains("  ") {
            // Nothing to collapse (the usual case): copied whole, not char by char.
            out.push_str(v);
            continue;
        }
        let mut prev_space = false;
        for c in v.chars() {
            if c == ' ' {
                if !prev_space {
                    out.push(' ');
                }
                prev_space = true;
            } else {
                out.push(c);
                prev_space = false;
            }
        }
    }
    out
}

/// The credential scope `date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    date: String,
    region: String,
    service: String,
}

impl Scope {
    /// A scope from checked parts: an 8-digit date, and a region and service of 1 to 64
    /// characters from `a-z`, `0-9`, `-`, `_`, `.`.
    pub fn new(date: &str, region: &str, service: &str) -> Result<Self, SigV4Error> {
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SigV4Error::incomplete(format!(
                "credential scope date `{}` is not YYYYMMDD",
                excerpt(date, 20)
            )));
        }
        check_scope_part("region", region)?;
        check_scope_part("service", service)?;
        Ok(Self {
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }

    /// `YYYYMMDD`.
    pub fn date(&self) -> &str {
        &self.date
    }

    /// The region, e.g. `us-east-1`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The signing name of the service, e.g. `sts`.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// A region or service name: 1 to 64 of `a-z`, `0-9`, `-`, `_`, `.`.
pub(crate) fn check_scope_part(what: &str, s: &str) -> Result<(), SigV4Error> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(SigV4Error::incomplete(format!(
            "credential scope {what} `{}` is not valid",
            excerpt(s, 64)
        )))
    }
}

/// A canonical request and what it was built from.
#[derive(Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    text: String,
}

impl std::fmt::Debug for CanonicalRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CanonicalRequest")
            .field(&redact_token(&self.text))
            .finish()
    }
}

impl CanonicalRequest {
    /// Builds the canonical request of `req` over the headers named in `signed_headers`
    /// (lowercase, sorted, unique), the already canonical query and payload hash. Every
    /// signed header must be present in the request.
    pub fn build(
        req: &HttpRequest<'_>,
        signed_headers: &[String],
        canonical_query: &str,
        payload_hash: &str,
        opts: CanonicalOptions,
    ) -> Result<Self, SigV4Error> {
        let mut text = String::with_capacity(256);
        text.push_str(req.method());
        text.push('\n');
        text.push_str(&canonical_uri(req.path(), opts));
        text.push('\n');
        text.push_str(canonical_query);
        text.push('\n');
        for name in signed_headers {
            let mut values = req.header_values(name).peekable();
            if values.peek().is_none() {
                return Err(SigV4Error::mismatch(format!(
                    "The request signature we calculated does not match the signature you \
                     provided. Signed header `{}` is not present in the request.",
                    excerpt(name, 64)
                )));
            }
            text.push_str(name);
            text.push(':');
            text.push_str(&canonical_header_value(values));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&signed_headers.join(";"));
        text.push('\n');
        text.push_str(payload_hash);
        Ok(Self { text })
    }

    /// The canonical request text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The string to sign for this canonical request.
    pub fn string_to_sign(&self, amz_date: &str, scope: &Scope) -> String {
        let mut s = String::with_capacity(128);
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            sha256_hex(self.text.as_bytes())
        );
        s
    }
}

/// A canonical request with the session token's value hidden, for error messages and
/// debug output that may be logged: both the `x-amz-security-token` header line and, in a
/// presigned request, the `X-Amz-Security-Token` parameter of the canonical query string
/// (its third line).
pub(crate) fn redact_token(creq: &str) -> String {
    creq.split('\n')
        .enumerate()
        .map(|(i, line)| {
            if line.starts_with("x-amz-security-token:") {
                "x-amz-security-token:<redacted>".to_owned()
            } else if i == 2 {
                line.split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((k, _)) if k.eq_ignore_ascii_case("X-Amz-Security-Token") => {
                            format!("{k}=<redacted>")
                        }
                        _ => pair.to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join("&")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lowercase, sorted, unique names of the headers to sign: every header of the request
/// except those never signed (`authorization`, and hop-by-hop or proxy-rewritten ones) and
/// those in `skip`.
pub(crate) fn headers_to_sign(req: &HttpRequest<'_>, skip: &[&str]) -> Vec<String> {
    const NEVER_SIGNED: &[&str] = &[
        "authorization",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    ];
    let mut names: Vec<String> = req
        .headers()
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| !NEVER_SIGNED.contains(&n.as_str()) && !skip.contains(&n.as_str()))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_token_in_the_header_and_the_presigned_query() {
        let creq = "GET\n/\nAction=GetUser&X-Amz-Security-Token=SECRETTOKEN%2B&x-amz-security-token=LOWER\nhost:h\nx-amz-security-token:SECRETTOKEN\n\nhost;x-amz-security-token\nUNSIGNED-PAYLOAD";
        let r = redact_token(creq);
        assert!(!r.contains("SECRETTOKEN"), "{r}");
        assert!(!r.contains("LOWER"), "{r}");
        assert!(
            r.contains("Action=GetUser&X-Amz-Security-Token=<redacted>"),
            "{r}"
        );
        assert!(r.contains("x-amz-security-token:<redacted>"), "{r}");
        assert!(
            r.ends_with("host;x-amz-security-token\nUNSIGNED-PAYLOAD"),
            "{r}"
        );
    }

    #[test]
    fn normalizes_paths() {
        for (input, want) in [
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/a/b/..", "/a/"),
            ("/a/./b/../c", "/a/c"),
            ("/../..", "/"),
            ("/a/b/.", "/a/b/"),
        ] {
            assert_eq!(normalize_path(input), want, "{input}");
        }
    }

    #[test]
    fn encodes_paths() {
        let d = CanonicalOptions::default();
        assert_eq!(canonical_uri("/a%3Ab", d), "/a%253Ab");
        assert_eq!(canonical_uri("/a b/", d), "/a%20b/");
        assert_eq!(canonical_uri("/@x", d), "/%40x");
        let s = CanonicalOptions::for_service("s3");
        assert_eq!(canonical_uri("/a%3ab//c d", s), "/a%3Ab//c%20d");
        assert_eq!(canonical_uri("/a%zz", s), "/a%25zz");
    }

    #[test]
    fn canonical_query_sorts_and_encodes() {
        assert_eq!(
            canonical_query("b=2&a=2&a=1&c", false).unwrap(),
            "a=1&a=2&b=2&c="
        );
        assert_eq!(
            canonical_query("a=x+y&b=%2b", false).unwrap(),
            "a=x%20y&b=%2B"
        );
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&Action=X", true).unwrap(),
            "Action=X"
        );
        assert_eq!(canonical_query("&&a=1&", false).unwrap(), "a=1");
        // Sorted by name first: `a` before `a-b` although `a-` < `a=` as text.
        assert_eq!(canonical_query("a-b=1&a=1", false).unwrap(), "a=1&a-b=1");
        assert!(canonical_query("a=%zz", false).is_err());
        assert!(canonical_query("a=%4", false).is_err());
        assert_eq!(canonical_query("a=%FF", false).unwrap(), "a=%FF");
    }

    #[test]
    fn header_values() {
        assert_eq!(
            canonical_header_value(["  a   b  ", "c"].into_iter()),
            "a b,c"
        );
    }
}
