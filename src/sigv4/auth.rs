//! Reading the authentication out of a request: the `Authorization` header or the
//! presigned query parameters, strictly and with bounded sizes.

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::canonical::{ALGORITHM, Scope, TERMINATOR, query_pairs};
use super::error::{SigV4Error, excerpt};
use super::request::{HttpRequest, is_lower_hex, is_tchar};

/// Longest `Authorization` header value accepted.
pub const MAX_AUTHORIZATION_LEN: usize = 8 * 1024;
/// Most signed headers accepted.
pub const MAX_SIGNED_HEADERS: usize = 64;
/// Longest access key id accepted (AWS: 16 to 128).
pub const MAX_ACCESS_KEY_ID_LEN: usize = 128;
/// Longest `X-Amz-Expires` accepted: seven days.
pub const MAX_EXPIRES: u32 = 604_800;

const AMZ_DATE: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const HTTP_DATE: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Formats a time as ISO 8601 basic (`20150830T123600Z`), in UTC.
pub fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(AMZ_DATE).unwrap_or_default()
}

/// Parses ISO 8601 basic (`20150830T123600Z`).
pub fn parse_amz_date(s: &str) -> Result<OffsetDateTime, SigV4Error> {
    if s.len() != 16 {
        return Err(bad_date(s));
    }
    PrimitiveDateTime::parse(s, AMZ_DATE)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| bad_date(s))
}

fn bad_date(s: &str) -> SigV4Error {
    SigV4Error::incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{}'.",
        excerpt(s, 40)
    ))
}

fn parse_http_date(s: &str) -> Result<OffsetDateTime, SigV4Error> {
    if s.len() > 40 {
        return Err(bad_date(s));
    }
    PrimitiveDateTime::parse(s, HTTP_DATE)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| bad_date(s))
}

/// Where the authentication came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// The `Authorization` header.
    Header,
    /// Presigned query parameters (`X-Amz-Signature` and friends).
    Query,
}

/// The parsed `Credential=` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    access_key_id: String,
    scope: Scope,
}

impl Credential {
    /// Parses `AKID/YYYYMMDD/region/service/aws4_request`.
    pub fn parse(s: &str) -> Result<Self, SigV4Error> {
        let parts: Vec<&str> = s.splitn(6, '/').collect();
        let [akid, date, region, service, terminator] = parts.as_slice() else {
            return Err(SigV4Error::incomplete(format!(
                "Credential should have exactly 5 slash-separated parts, not `{}`",
                excerpt(s, 160)
            )));
        };
        if akid.is_empty()
            || akid.len() > MAX_ACCESS_KEY_ID_LEN
            || !akid.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(SigV4Error::incomplete(format!(
                "Credential access key id `{}` is not valid",
                excerpt(akid, 40)
            )));
        }
        if *terminator != TERMINATOR {
            return Err(SigV4Error::incomplete(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
                excerpt(terminator, 40)
            )));
        }
        let scope = Scope::new(date, region, service)?;
        Ok(Self {
            access_key_id: (*akid).to_owned(),
            scope,
        })
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The credential scope.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

/// The three parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// Access key id and scope.
    pub credential: Credential,
    /// Lowercase, sorted, unique header names.
    pub signed_headers: Vec<String>,
    /// The signature, 32 bytes.
    pub signature: [u8; 32],
}

/// Parses the value of an `Authorization` header:
/// `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request,
/// SignedHeaders=host;x-amz-date, Signature=<64 hex>`.
///
/// The three components may come in any order, separated by `,` and optional spaces; each
/// must appear exactly once and nothing else is allowed.
pub fn parse_authorization_header(value: &str) -> Result<AuthorizationHeader, SigV4Error> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(SigV4Error::incomplete(format!(
            "Authorization header is longer than {MAX_AUTHORIZATION_LEN} bytes"
        )));
    }
    let value = value.trim_matches([' ', '\t']);
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::incomplete(format!(
            "Unsupported AWS 'algorithm': '{}'. Only '{ALGORITHM}' is supported.",
            excerpt(algorithm, 40)
        )));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim_matches([' ', '\t']);
        if part.is_empty() {
            return Err(SigV4Error::incomplete(
                "Authorization header has an empty component",
            ));
        }
        let (k, v) = part.split_once('=').ok_or_else(|| {
            SigV4Error::incomplete(format!(
                "Authorization component `{}` is not of the form key=value",
                excerpt(part, 40)
            ))
        })?;
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(SigV4Error::incomplete(format!(
                    "Authorization header has an unknown component `{}`",
                    excerpt(other, 40)
                )));
            }
        };
        if slot.replace(v).is_some() {
            return Err(SigV4Error::incomplete(format!(
                "Authorization header has more than one '{k}' component"
            )));
        }
    }
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(SigV4Error::incomplete(missing.join(" ")));
    };
    Ok(AuthorizationHeader {
        credential: Credential::parse(credential)?,
        signed_headers: parse_signed_headers(signed_headers)?,
        signature: parse_signature(signature)?,
    })
}

/// Parses `a;b;c`: lowercase header names, strictly ascending (so sorted and unique).
pub fn parse_signed_headers(s: &str) -> Result<Vec<String>, SigV4Error> {
    let mut out: Vec<String> = Vec::new();
    for name in s.split(';') {
        if out.len() >= MAX_SIGNED_HEADERS {
            return Err(SigV4Error::incomplete(format!(
                "more than {MAX_SIGNED_HEADERS} signed headers"
            )));
        }
        let valid = !name.is_empty()
            && name.len() <= 256
            && name.bytes().all(|b| is_tchar(b) && !b.is_ascii_uppercase());
        if !valid {
            return Err(SigV4Error::incomplete(format!(
                "SignedHeaders entry `{}` is not a lowercase header name",
                excerpt(name, 40)
            )));
        }
        if out.last().is_some_and(|prev| prev.as_str() >= name) {
            return Err(SigV4Error::incomplete(
                "SignedHeaders must be sorted and without duplicates",
            ));
        }
        out.push(name.to_owned());
    }
    Ok(out)
}

fn parse_signature(s: &str) -> Result<[u8; 32], SigV4Error> {
    let mut out = [0u8; 32];
    if !is_lower_hex(s, 64) || hex::decode_to_slice(s, &mut out).is_err() {
        return Err(SigV4Error::incomplete(
            "Signature must be 64 lowercase hexadecimal digits",
        ));
    }
    Ok(out)
}

/// The authentication of one request, parsed but not yet verified.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedAuth {
    location: AuthLocation,
    credential: Credential,
    signed_headers: Vec<String>,
    signature: [u8; 32],
    amz_date: String,
    request_time: OffsetDateTime,
    date_header: &'static str,
    expires_in: Option<u32>,
    security_token: Option<String>,
    security_token_signed: bool,
}

impl std::fmt::Debug for ParsedAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The session token is a bearer credential: show only whether there is one.
        f.debug_struct("ParsedAuth")
            .field("location", &self.location)
            .field("credential", &self.credential)
            .field("signed_headers", &self.signed_headers)
            .field("amz_date", &self.amz_date)
            .field("expires_in", &self.expires_in)
            .field("has_security_token", &self.security_token.is_some())
            .finish()
    }
}

impl ParsedAuth {
    /// Header or query.
    pub fn location(&self) -> AuthLocation {
        self.location
    }

    /// The access key id the request claims.
    pub fn access_key_id(&self) -> &str {
        self.credential.access_key_id()
    }

    /// The credential scope (date, region, service).
    pub fn scope(&self) -> &Scope {
        self.credential.scope()
    }

    /// Scope date, `YYYYMMDD`.
    pub fn date(&self) -> &str {
        self.scope().date()
    }

    /// Scope region.
    pub fn region(&self) -> &str {
        self.scope().region()
    }

    /// Scope service.
    pub fn service(&self) -> &str {
        self.scope().service()
    }

    /// The signed header names, lowercase and sorted.
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }

    /// The signature as lowercase hex.
    pub fn signature_hex(&self) -> String {
        hex::encode(self.signature)
    }

    pub(crate) fn signature(&self) -> &[u8; 32] {
        &self.signature
    }

    /// The request time in ISO 8601 basic form, as it goes in the string to sign.
    pub fn amz_date(&self) -> &str {
        &self.amz_date
    }

    /// The request time.
    pub fn request_time(&self) -> OffsetDateTime {
        self.request_time
    }

    /// `x-amz-date` or `date`: the header the time came from (header form only).
    pub(crate) fn date_header(&self) -> &'static str {
        self.date_header
    }

    /// `X-Amz-Expires` of a presigned request.
    pub fn expires_in(&self) -> Option<u32> {
        self.expires_in
    }

    /// The session token (`X-Amz-Security-Token`), if any.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }

    /// Whether the session token is covered by the signature (in the signed headers, or a
    /// query parameter, which is always covered).
    pub fn security_token_signed(&self) -> bool {
        self.security_token_signed
    }

    /// Checks the scope against what this server is: the signing name `service` and, when
    /// given, the one accepted `region`. Messages are AWS's.
    pub fn check_scope(&self, service: &str, region: Option<&str>) -> Result<(), SigV4Error> {
        if self.service() != service {
            return Err(SigV4Error::mismatch(format!(
                "Credential should be scoped to correct service: '{service}'. "
            )));
        }
        if let Some(r) = region
            && self.region() != r
        {
            return Err(SigV4Error::mismatch(format!(
                "Credential should be scoped to a valid Region, not '{}'. ",
                self.region()
            )));
        }
        Ok(())
    }
}

/// The presigned parameters read from a query.
#[derive(Default)]
struct QueryAuth {
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
    expires: Option<String>,
    security_token: Option<String>,
}

fn read_query_auth(query: &str) -> Result<QueryAuth, SigV4Error> {
    let mut q = QueryAuth::default();
    for (k, v) in query_pairs(query)? {
        let slot = match k.as_slice() {
            b"X-Amz-Algorithm" => &mut q.algorithm,
            b"X-Amz-Credential" => &mut q.credential,
            b"X-Amz-Date" => &mut q.date,
            b"X-Amz-SignedHeaders" => &mut q.signed_headers,
            b"X-Amz-Signature" => &mut q.signature,
            b"X-Amz-Expires" => &mut q.expires,
            b"X-Amz-Security-Token" => &mut q.security_token,
            _ => continue,
        };
        let name = String::from_utf8_lossy(&k).into_owned();
        let v = String::from_utf8(v)
            .map_err(|_| SigV4Error::incomplete(format!("query parameter {name} is not UTF-8")))?;
        if slot.replace(v).is_some() {
            return Err(SigV4Error::incomplete(format!(
                "query parameter {name} appears more than once"
            )));
        }
    }
    Ok(q)
}

/// Finds and parses the authentication of `req`, without checking the signature.
///
/// Fails with `MissingAuthenticationToken` when there is none, and with
/// `IncompleteSignature` when it is malformed, appears twice (two `Authorization`
/// headers, or a header and presigned query parameters), or lacks its date.
pub fn parse_auth(req: &HttpRequest<'_>) -> Result<ParsedAuth, SigV4Error> {
    let mut headers = req.header_values("authorization");
    let authorization = headers.next();
    if headers.next().is_some() {
        return Err(SigV4Error::incomplete(
            "Only one Authorization header is allowed",
        ));
    }
    let query = read_query_auth(req.query())?;
    // Any of these makes the request a presigned one.
    let query_present = query.algorithm.is_some()
        || query.credential.is_some()
        || query.signature.is_some()
        || query.signed_headers.is_some();
    match (authorization, query_present) {
        (Some(_), true) => Err(SigV4Error::incomplete(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified",
        )),
        (None, false) => Err(SigV4Error::MissingAuthenticationToken),
        (Some(value), false) => parse_header_auth(req, value, query.security_token.is_some()),
        (None, true) => parse_query_auth(req, query),
    }
}

fn parse_header_auth(
    req: &HttpRequest<'_>,
    value: &str,
    token_in_query: bool,
) -> Result<ParsedAuth, SigV4Error> {
    let header = parse_authorization_header(value)?;
    let (request_time, amz_date, date_header) = match req.single_header("x-amz-date")? {
        Some(d) => {
            let t = parse_amz_date(d.trim_matches([' ', '\t']))?;
            (t, format_amz_date(t), "x-amz-date")
        }
        None => match req.single_header("date")? {
            Some(d) => {
                let t = parse_http_date(d.trim_matches([' ', '\t']))?;
                (t, format_amz_date(t), "date")
            }
            None => {
                return Err(SigV4Error::incomplete(
                    "Authorization header requires existence of either a 'X-Amz-Date' or \
                     a 'Date' header.",
                ));
            }
        },
    };
    if token_in_query {
        return Err(SigV4Error::incomplete(
            "X-Amz-Security-Token must be sent as a header when the Authorization header is used",
        ));
    }
    let security_token = req
        .single_header("x-amz-security-token")?
        .map(|t| t.trim_matches([' ', '\t']).to_owned());
    let security_token_signed = header
        .signed_headers
        .iter()
        .any(|h| h == "x-amz-security-token");
    Ok(ParsedAuth {
        location: AuthLocation::Header,
        credential: header.credential,
        signed_headers: header.signed_headers,
        signature: header.signature,
        amz_date,
        request_time,
        date_header,
        expires_in: None,
        security_token,
        security_token_signed,
    })
}

fn parse_query_auth(req: &HttpRequest<'_>, q: QueryAuth) -> Result<ParsedAuth, SigV4Error> {
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(signed_headers),
        Some(signature),
        Some(expires),
    ) = (
        q.algorithm,
        q.credential,
        q.date,
        q.signed_headers,
        q.signature,
        q.expires,
    )
    else {
        return Err(SigV4Error::incomplete(
            "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, \
             X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature parameters",
        ));
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::incomplete(format!(
            "X-Amz-Algorithm only supports '{ALGORITHM}', not '{}'",
            excerpt(&algorithm, 40)
        )));
    }
    if req.single_header("x-amz-security-token")?.is_some() && q.security_token.is_some() {
        return Err(SigV4Error::incomplete(
            "X-Amz-Security-Token appears both as a header and as a query parameter",
        ));
    }
    let expires_in = parse_expires(&expires)?;
    let request_time = parse_amz_date(&date)?;
    let signed_headers = parse_signed_headers(&signed_headers)?;
    let (security_token, security_token_signed) = match q.security_token {
        Some(t) => (Some(t), true),
        None => match req.single_header("x-amz-security-token")? {
            Some(t) => (
                Some(t.trim_matches([' ', '\t']).to_owned()),
                signed_headers.iter().any(|h| h == "x-amz-security-token"),
            ),
            None => (None, false),
        },
    };
    Ok(ParsedAuth {
        location: AuthLocation::Query,
        credential: Credential::parse(&credential)?,
        signed_headers,
        signature: parse_signature(&signature)?,
        amz_date: date,
        request_time,
        date_header: "x-amz-date",
        expires_in: Some(expires_in),
        security_token,
        security_token_signed,
    })
}

fn parse_expires(s: &str) -> Result<u32, SigV4Error> {
    let n: u32 = if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse()
            .map_err(|_| SigV4Error::incomplete("X-Amz-Expires should be a number"))?
    } else {
        return Err(SigV4Error::incomplete("X-Amz-Expires should be a number"));
    };
    if n == 0 {
        return Err(SigV4Error::incomplete(
            "X-Amz-Expires must be non-negative and at least 1 second",
        ));
    }
    if n > MAX_EXPIRES {
        return Err(SigV4Error::incomplete(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}"
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::request::PayloadHash;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn parses_authorization() {
        let a = parse_authorization_header(GOOD).unwrap();
        assert_eq!(a.credential.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(
            a.credential.scope().to_string(),
            "20150830/us-east-1/service/aws4_request"
        );
        assert_eq!(a.signed_headers, vec!["host", "x-amz-date"]);
        // Any order, no spaces.
        let b = "AWS4-HMAC-SHA256 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31,SignedHeaders=host;x-amz-date,Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
        assert_eq!(parse_authorization_header(b).unwrap(), a);
    }

    #[test]
    fn rejects_bad_authorization() {
        let cases = [
            "",
            "AWS4-HMAC-SHA512 Credential=a/20150830/r/s/aws4_request, SignedHeaders=host, Signature=00",
            "Bearer abc",
            &GOOD.replace("aws4_request", "aws5_request"),
            &GOOD.replace(
                "SignedHeaders=host;x-amz-date",
                "SignedHeaders=x-amz-date;host",
            ),
            &GOOD.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=host;host"),
            &GOOD.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=Host"),
            &GOOD.replace("SignedHeaders=host;x-amz-date", "SignedHeaders="),
            &GOOD.replace("Signature=5f", "Signature=5F"),
            &GOOD.replace("Signature=5f", "Signature=5"),
            &format!("{GOOD}, Signature=00"),
            &format!("{GOOD}, Extra=1"),
            &format!("{GOOD},"),
            &GOOD.replace("20150830/", "2015083/"),
            &GOOD.replace("AKIDEXAMPLE/", "AKID-EXAMPLE/"),
            &GOOD.replace("/service/", "/Service/"),
            &GOOD.replace("/service/", "/service/x/"),
            &"x".repeat(MAX_AUTHORIZATION_LEN + 1),
        ];
        for c in cases {
            let e = parse_authorization_header(c).unwrap_err();
            assert_eq!(e.code(), "IncompleteSignature", "{c}: {e}");
        }
        let e = parse_authorization_header(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/r/s/aws4_request",
        )
        .unwrap_err();
        assert!(e.to_string().contains("'Signature' parameter"), "{e}");
    }

    fn req<'a>(q: &'a str, h: &'a [(&'a str, &'a str)]) -> HttpRequest<'a> {
        HttpRequest::new("GET", "/", q, h.iter().copied(), PayloadHash::Body(b"")).unwrap()
    }

    #[test]
    fn missing_and_duplicate_auth() {
        let e = parse_auth(&req("", &[("Host", "h")])).unwrap_err();
        assert_eq!(e, SigV4Error::MissingAuthenticationToken);
        let h = [
            ("Host", "h"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", GOOD),
            ("authorization", GOOD),
        ];
        assert_eq!(
            parse_auth(&req("", &h)).unwrap_err().code(),
            "IncompleteSignature"
        );
        let h = [
            ("Host", "h"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", GOOD),
        ];
        assert!(parse_auth(&req("", &h)).is_ok());
        let e = parse_auth(&req("X-Amz-Signature=00", &h)).unwrap_err();
        assert!(e.to_string().contains("Only one auth mechanism"), "{e}");
        let e = parse_auth(&req("X-Amz-Credential=x", &h)).unwrap_err();
        assert_eq!(e.code(), "IncompleteSignature");
    }

    #[test]
    fn header_auth_needs_a_date() {
        let h = [("Host", "h"), ("Authorization", GOOD)];
        let e = parse_auth(&req("", &h)).unwrap_err();
        assert!(e.to_string().contains("'X-Amz-Date' or a 'Date'"), "{e}");
        let h = [
            ("Host", "h"),
            ("Date", "Sun, 30 Aug 2015 12:36:00 GMT"),
            ("Authorization", GOOD),
        ];
        let a = parse_auth(&req("", &h)).unwrap();
        assert_eq!(a.amz_date(), "20150830T123600Z");
        assert_eq!(a.date_header(), "date");
        let h = [
            ("Host", "h"),
            ("X-Amz-Date", "2015-08-30T12:36:00Z"),
            ("Authorization", GOOD),
        ];
        assert!(parse_auth(&req("", &h)).is_err());
        let h = [
            ("Host", "h"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", GOOD),
        ];
        assert!(parse_auth(&req("", &h)).is_err());
    }

    #[test]
    fn query_auth_checks_expires() {
        let base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let h = [("Host", "h")];
        assert!(parse_auth(&req(base, &h)).is_err(), "expires is required");
        for (exp, ok) in [
            ("1", true),
            ("604800", true),
            ("0", false),
            ("604801", false),
            ("-1", false),
            ("x", false),
            ("99999999999", false),
        ] {
            let q = format!("{base}&X-Amz-Expires={exp}");
            assert_eq!(parse_auth(&req(&q, &h)).is_ok(), ok, "{exp}");
        }
        let q = format!("{base}&X-Amz-Expires=60&X-Amz-Expires=60");
        assert!(parse_auth(&req(&q, &h)).is_err());
        let q = format!("{base}&X-Amz-Expires=60&X-Amz-Security-Token=abc");
        let a = parse_auth(&req(&q, &h)).unwrap();
        assert_eq!(a.location(), AuthLocation::Query);
        assert_eq!(a.security_token(), Some("abc"));
        assert!(a.security_token_signed());
        assert_eq!(a.expires_in(), Some(60));
    }

    #[test]
    fn amz_date_round_trip() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert!(parse_amz_date("20150830T123600").is_err());
        assert!(parse_amz_date("20151330T123600Z").is_err());
    }

    #[test]
    fn scope_check() {
        let h = [
            ("Host", "h"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", GOOD),
        ];
        let a = parse_auth(&req("", &h)).unwrap();
        assert!(a.check_scope("service", Some("us-east-1")).is_ok());
        assert!(
            a.check_scope("sts", None)
                .unwrap_err()
                .to_string()
                .contains("correct service")
        );
        assert!(
            a.check_scope("service", Some("eu-west-1"))
                .unwrap_err()
                .to_string()
                .contains("valid Region")
        );
    }
}
