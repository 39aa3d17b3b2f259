//! The request as SigV4 sees it, with its size limits.
//!
//! Two forms exist:
//! - [`HttpRequest`] borrows everything from the caller. The server builds one from the
//!   incoming request (method, raw path, raw query, headers as text, and the body or its
//!   hash) and hands it to [`parse_auth`](super::parse_auth) and [`verify`](super::verify).
//!   Its constructor checks every limit below, so the rest of the module works on input
//!   of bounded size.
//! - [`OwnedRequest`] owns its parts. The client builds one, and
//!   [`sign`](super::sign)/[`presign`](super::presign) add the authentication to it.
//!   [`OwnedRequest::parse_http1`] reads the plain-text HTTP/1.1 form used by the AWS test
//!   suite and by the fuzz targets.
//!
//! Paths and queries are kept exactly as they came on the wire (raw, not decoded). Header
//! names are matched case-insensitively. HTTP/2 servers pass the `:authority`
//! pseudo-header as a `host` header, since SigV4 signs `host`.

use super::error::{SigV4Error, excerpt};

/// Longest accepted method name.
pub const MAX_METHOD_LEN: usize = 16;
/// Longest accepted raw path, in bytes.
pub const MAX_PATH_LEN: usize = 8 * 1024;
/// Longest accepted raw query string, in bytes (a presigned URL with a session token
/// needs a few KiB).
pub const MAX_QUERY_LEN: usize = 32 * 1024;
/// Most header fields accepted.
pub const MAX_HEADERS: usize = 128;
/// Longest accepted header name.
pub const MAX_HEADER_NAME_LEN: usize = 256;
/// Longest accepted single header value (a session token fits).
pub const MAX_HEADER_VALUE_LEN: usize = 16 * 1024;
/// Most bytes of header names and values together.
pub const MAX_HEADERS_TOTAL: usize = 64 * 1024;
/// Longest body [`OwnedRequest::parse_http1`] accepts.
pub const MAX_RAW_BODY: usize = 1024 * 1024;

/// What goes in the last line of the canonical request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PayloadHash<'a> {
    /// The body itself; its SHA-256 is computed.
    Body(&'a [u8]),
    /// The SHA-256 of the body, already computed, as 64 lowercase hex digits.
    Precomputed(&'a str),
    /// The literal `UNSIGNED-PAYLOAD`: the body is not covered by the signature. Only for
    /// callers that check the body some other way (S3-style presigned URLs). On
    /// verification, a client-sent `x-amz-content-sha256` value is used as is.
    Unsigned,
}

impl std::fmt::Debug for PayloadHash<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Body(b) => write!(f, "Body({} bytes)", b.len()),
            Self::Precomputed(h) => write!(f, "Precomputed({h})"),
            Self::Unsigned => f.write_str("Unsigned"),
        }
    }
}

/// The literal payload hash of an unsigned body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

impl PayloadHash<'_> {
    /// The value for the canonical request.
    pub(crate) fn to_hex(self) -> Result<String, SigV4Error> {
        match self {
            Self::Body(body) => Ok(sha256_hex(body)),
            Self::Precomputed(h) => {
                if is_lower_hex(h, 64) {
                    Ok(h.to_owned())
                } else {
                    Err(SigV4Error::incomplete(format!(
                        "precomputed payload hash `{}` is not 64 lowercase hex digits",
                        excerpt(h, 80)
                    )))
                }
            }
            Self::Unsigned => Ok(UNSIGNED_PAYLOAD.to_owned()),
        }
    }
}

/// Lowercase hex SHA-256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    lower_hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// `bytes` as lowercase hex: byte by byte into a buffer (`hex::encode` goes through a
/// `char` iterator, a measurable share of signing a request).
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    let mut buf = vec![0u8; bytes.len() * 2];
    // Fails only when the buffer is not twice the input's length, which it is.
    let _ = hex::encode_to_slice(bytes, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

/// Whether `s` is exactly `len` lowercase hex digits.
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An incoming request, borrowed from the server's HTTP layer, checked against the limits.
/// `Debug` shows header names only (values may hold a session token or signature).
#[derive(Clone)]
pub struct HttpRequest<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    payload: PayloadHash<'a>,
}

impl std::fmt::Debug for HttpRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query_len", &self.query.len())
            .field("header_names", &names)
            .field("payload", &self.payload)
            .finish()
    }
}

impl<'a> HttpRequest<'a> {
    /// Checks the parts and builds the request.
    ///
    /// - `method`: 1 to 16 ASCII letters (`GET`, `POST`, ...).
    /// - `path`: the raw, undecoded path starting with `/`, without `?` or `#`.
    /// - `query`: the raw query string after `?` (empty if none), without `#`.
    /// - `headers`: `(name, value)` pairs in arrival order; repeated names are allowed
    ///   and are joined with `,` when signed. Values must not contain control characters
    ///   other than tab; a value that is not UTF-8 cannot be signed text and should be
    ///   refused by the caller (`IncompleteSignature`) rather than converted lossily.
    /// - `payload`: the body or how to hash it.
    pub fn new<I>(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        headers: I,
        payload: PayloadHash<'a>,
    ) -> Result<Self, SigV4Error>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        check_method(method)?;
        check_path(path)?;
        check_query(query)?;
        let mut list = Vec::new();
        let mut total = 0usize;
        for (name, value) in headers {
            if list.len() >= MAX_HEADERS {
                return Err(SigV4Error::malformed(format!(
                    "more than {MAX_HEADERS} header fields"
                )));
            }
            check_header(name, value)?;
            total = total.saturating_add(name.len()).saturating_add(value.len());
            if total > MAX_HEADERS_TOTAL {
                return Err(SigV4Error::malformed(format!(
                    "header fields exceed {MAX_HEADERS_TOTAL} bytes"
                )));
            }
            list.push((name, value));
        }
        Ok(Self {
            method,
            path,
            query,
            headers: list,
            payload,
        })
    }

    /// The method, as given.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The raw path.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The raw query string (without `?`).
    pub fn query(&self) -> &'a str {
        self.query
    }

    /// The headers in arrival order.
    pub fn headers(&self) -> &[(&'a str, &'a str)] {
        &self.headers
    }

    /// How the payload is hashed.
    pub fn payload(&self) -> PayloadHash<'a> {
        self.payload
    }

    /// Every value of the header `name` (any case), in order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The single value of header `name`: `Ok(None)` if absent, an error if repeated.
    pub(crate) fn single_header(&self, name: &str) -> Result<Option<&'a str>, SigV4Error> {
        let mut it = self.header_values(name);
        let first = it.next();
        if it.next().is_some() {
            return Err(SigV4Error::incomplete(format!(
                "the `{name}` header appears more than once"
            )));
        }
        Ok(first)
    }
}

fn check_method(method: &str) -> Result<(), SigV4Error> {
    if method.is_empty()
        || method.len() > MAX_METHOD_LEN
        || !method.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return Err(SigV4Error::malformed(format!(
            "invalid method `{}`",
            excerpt(method, 20)
        )));
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), SigV4Error> {
    if path.len() > MAX_PATH_LEN {
        return Err(SigV4Error::malformed(format!(
            "path longer than {MAX_PATH_LEN} bytes"
        )));
    }
    if !path.starts_with('/') {
        return Err(SigV4Error::malformed(format!(
            "path `{}` does not start with `/`",
            excerpt(path, 40)
        )));
    }
    if path.chars().any(|c| c.is_control() || c == '?' || c == '#') {
        return Err(SigV4Error::malformed(
            "path contains a control character, `?` or `#`",
        ));
    }
    Ok(())
}

fn check_query(query: &str) -> Result<(), SigV4Error> {
    if query.len() > MAX_QUERY_LEN {
        return Err(SigV4Error::malformed(format!(
            "query string longer than {MAX_QUERY_LEN} bytes"
        )));
    }
    if query.chars().any(|c| c.is_control() || c == '#') {
        return Err(SigV4Error::malformed(
            "query string contains a control character or `#`",
        ));
    }
    Ok(())
}

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `value` has a control character other than tab (Unicode `Cc`: U+0000–U+001F,
/// U+007F–U+009F). Bytes for ASCII, the usual case (decoding `char`s was a measurable
/// share of checking a request with a session token).
fn has_control(value: &str) -> bool {
    if value.is_ascii() {
        // Without short-circuits, so the compiler checks many bytes at a time.
        value.bytes().fold(false, |found, b| {
            found | ((b < 0x20) & (b != b'\t')) | (b == 0x7f)
        })
    } else {
        value.chars().any(|c| c != '\t' && c.is_control())
    }
}

fn check_header(name: &str, value: &str) -> Result<(), SigV4Error> {
    if name.is_empty() || name.len() > MAX_HEADER_NAME_LEN || !name.bytes().all(is_tchar) {
        return Err(SigV4Error::malformed(format!(
            "invalid header name `{}`",
            excerpt(name, 40)
        )));
    }
    if value.len() > MAX_HEADER_VALUE_LEN {
        return Err(SigV4Error::malformed(format!(
            "value of header `{}` is longer than {MAX_HEADER_VALUE_LEN} bytes",
            excerpt(name, 40)
        )));
    }
    if has_control(value) {
        return Err(SigV4Error::malformed(format!(
            "value of header `{}` contains a control character",
            excerpt(name, 40)
        )));
    }
    Ok(())
}

/// A request the client owns and signs. The fields are plain data; limits are checked
/// when the request is signed (through [`OwnedRequest::view`]).
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Raw path as it goes on the wire, starting with `/`.
    pub path: String,
    /// Raw query string as it goes on the wire, without `?`.
    pub query: String,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for OwnedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may hold a session token; show names only.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OwnedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query_len", &self.query.len())
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl OwnedRequest {
    /// A request for `method` and `target` (`/path?query`), with no headers and no body.
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header field (keeps any existing one of the same name).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Removes every header named `name` (any case).
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `path` plus `?query` when there is a query: the request target.
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// A checked, borrowed view of this request with the given payload hash (usually
    /// `PayloadHash::Body(&req.body)`).
    pub fn view<'s>(&'s self, payload: PayloadHash<'s>) -> Result<HttpRequest<'s>, SigV4Error> {
        HttpRequest::new(
            &self.method,
            &self.path,
            &self.query,
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            payload,
        )
    }

    /// Reads a plain-text HTTP/1.1 request: a request line (`METHOD target [HTTP/1.1]`;
    /// the target may contain spaces, as in the AWS test suite), header lines
    /// (`Name:value`; a line starting with a space or tab continues the previous value,
    /// joined with one space as RFC 9112 prescribes for obsolete line folding), an empty
    /// line and the body. Lines end in LF or CRLF. Bounded by the limits of this module.
    pub fn parse_http1(raw: &[u8]) -> Result<Self, SigV4Error> {
        let head_limit = MAX_METHOD_LEN + MAX_PATH_LEN + MAX_QUERY_LEN + MAX_HEADERS_TOTAL + 64;
        let mut pos = 0usize;
        let mut lines: Vec<&str> = Vec::new();
        let mut body_start = raw.len();
        loop {
            let rest = raw.get(pos..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            let (line, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (rest.get(..i).unwrap_or_default(), pos + i + 1),
                None => (rest, raw.len()),
            };
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if next > head_limit || lines.len() > MAX_HEADERS + 1 {
                return Err(SigV4Error::malformed("request head is too large"));
            }
            if line.is_empty() && !lines.is_empty() {
                body_start = next;
                break;
            }
            let line = std::str::from_utf8(line)
                .map_err(|_| SigV4Error::malformed("request head is not UTF-8"))?;
            lines.push(line);
            pos = next;
        }
        let body = raw.get(body_start..).unwrap_or_default();
        if body.len() > MAX_RAW_BODY {
            return Err(SigV4Error::malformed(format!(
                "body longer than {MAX_RAW_BODY} bytes"
            )));
        }
        let mut it = lines.into_iter();
        let request_line = it
            .next()
            .ok_or_else(|| SigV4Error::malformed("empty request"))?;
        let (method, rest) = request_line
            .split_once(' ')
            .ok_or_else(|| SigV4Error::malformed("request line has no target"))?;
        let target = match rest.rsplit_once(' ') {
            Some((t, version)) if version.starts_with("HTTP/") => t,
            _ => rest,
        };
        let mut req = Self::new(method, target);
        for line in it {
            if line.starts_with([' ', '\t']) {
                let (_, value) = req
                    .headers
                    .last_mut()
                    .ok_or_else(|| SigV4Error::malformed("continuation line before any header"))?;
                value.push(' ');
                value.push_str(line.trim_matches([' ', '\t']));
                continue;
            }
            let (name, value) = line.split_once(':').ok_or_else(|| {
                SigV4Error::malformed(format!("header line `{}` has no `:`", excerpt(line, 40)))
            })?;
            req.headers
                .push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
        }
        req.body = body.to_vec();
        // Check the limits once, the same way the server does.
        req.view(PayloadHash::Unsigned)?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_as_unicode_defines_them() {
        // Every code point up to U+0200 alone and inside ASCII and non-ASCII text: the
        // byte path must agree with `char::is_control` (tab allowed).
        for cp in 0u32..0x200 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let want = c != '\t' && c.is_control();
            for v in [c.to_string(), format!("ab{c}cd"), format!("é{c}")] {
                assert_eq!(has_control(&v), want, "U+{cp:04X} in {v:?}");
            }
        }
        assert!(!has_control("IQoJb3JpZ2luX2VjE plain\ttext"));
    }

    #[test]
    fn parses_request_with_folded_header_and_body() {
        let raw = b"POST /a?b=c HTTP/1.1\r\nHost:example.com\r\nX-A: one\r\n  two\r\n\r\nbody";
        let r = OwnedRequest::parse_http1(raw).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/a");
        assert_eq!(r.query, "b=c");
        assert_eq!(r.header("x-a"), Some("one two"));
        assert_eq!(r.body, b"body");
    }

    #[test]
    fn target_with_space_and_no_version() {
        let r = OwnedRequest::parse_http1(b"GET /example space/ HTTP/1.1\nHost:h").unwrap();
        assert_eq!(r.path, "/example space/");
        let r = OwnedRequest::parse_http1(b"GET /x\nHost:h").unwrap();
        assert_eq!(r.path, "/x");
    }

    #[test]
    fn rejects_bad_parts() {
        let ok = |m, p, q, h: &[(&'static str, &'static str)]| {
            HttpRequest::new(m, p, q, h.iter().copied(), PayloadHash::Unsigned).is_ok()
        };
        assert!(ok("GET", "/", "", &[("Host", "h")]));
        assert!(!ok("", "/", "", &[]));
        assert!(!ok("G T", "/", "", &[]));
        assert!(!ok("GET", "x", "", &[]));
        assert!(!ok("GET", "/a?b", "", &[]));
        assert!(!ok("GET", "/", "a#b", &[]));
        assert!(!ok("GET", "/", "", &[("Bad Name", "v")]));
        assert!(!ok("GET", "/", "", &[("X", "a\r\nb")]));
        let long = "a".repeat(MAX_PATH_LEN);
        assert!(
            HttpRequest::new("GET", &format!("/{long}"), "", [], PayloadHash::Unsigned).is_err()
        );
        let many: Vec<(&str, &str)> = (0..=MAX_HEADERS).map(|_| ("X", "v")).collect();
        assert!(HttpRequest::new("GET", "/", "", many, PayloadHash::Unsigned).is_err());
    }

    #[test]
    fn precomputed_hash_is_checked() {
        assert!(PayloadHash::Precomputed("abc").to_hex().is_err());
        let h = sha256_hex(b"");
        assert_eq!(PayloadHash::Precomputed(&h).to_hex().unwrap(), h);
        assert_eq!(PayloadHash::Body(b"").to_hex().unwrap(), h);
        assert_eq!(PayloadHash::Unsigned.to_hex().unwrap(), UNSIGNED_PAYLOAD);
    }
}
