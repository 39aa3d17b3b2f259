//! Client-side signing: the `Authorization` header form and the presigned query form. Both
//! go through the same canonicalization as the verifier.

use time::OffsetDateTime;

use super::auth::{MAX_EXPIRES, format_amz_date};
use super::canonical::{
    ALGORITHM, CanonicalOptions, CanonicalRequest, Scope, canonical_query, decode_component,
    headers_to_sign, redact_token, uri_encode,
};
use super::error::SigV4Error;
use super::key::SigningKey;
use super::request::{HttpRequest, OwnedRequest, PayloadHash};

/// Choices beyond the credentials and scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningSettings {
    /// Add an `x-amz-content-sha256` header with the payload hash (header form only).
    pub content_sha256_header: bool,
    /// Sign the session token (the default, as the SDKs do). When false it is added after
    /// signing, which some services expect (test case `post-sts-header-after`).
    pub session_token_signed: bool,
    /// Use `UNSIGNED-PAYLOAD` instead of the body's hash.
    pub unsigned_payload: bool,
    /// Path normalization and encoding; `None` follows the service
    /// ([`CanonicalOptions::for_service`]).
    pub canonical: Option<CanonicalOptions>,
}

impl Default for SigningSettings {
    fn default() -> Self {
        Self {
            content_sha256_header: false,
            session_token_signed: true,
            unsigned_payload: false,
            canonical: None,
        }
    }
}

/// Everything needed to sign.
pub struct SigningParams<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a [u8],
    /// The session token of temporary credentials.
    pub session_token: Option<&'a str>,
    /// Region of the scope, e.g. `us-east-1`.
    pub region: &'a str,
    /// Signing name of the service, e.g. `sts`.
    pub service: &'a str,
    /// Other choices.
    pub settings: SigningSettings,
}

impl std::fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("has_session_token", &self.session_token.is_some())
            .field("region", &self.region)
            .field("service", &self.service)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What signing produced, for logs and tests. It holds no secret; `Debug` hides the
/// session token's value.
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The signature, lowercase hex.
    pub signature: String,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("canonical_request", &redact_token(&self.canonical_request))
            .field("string_to_sign", &self.string_to_sign)
            .field("signature", &self.signature)
            .finish()
    }
}

/// Signs `req` in the header form with default settings: sets `x-amz-date`,
/// `x-amz-security-token` (when a session token is given) and `authorization`, replacing
/// any earlier values.
pub fn sign(
    req: &mut OwnedRequest,
    access_key_id: &str,
    secret_access_key: &[u8],
    session_token: Option<&str>,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) -> Result<Signed, SigV4Error> {
    sign_with(
        req,
        &SigningParams {
            access_key_id,
            secret_access_key,
            session_token,
            region,
            service,
            settings: SigningSettings::default(),
        },
        now,
    )
}

fn prepare(
    req: &OwnedRequest,
    params: &SigningParams<'_>,
    now: OffsetDateTime,
) -> Result<(Scope, String, CanonicalOptions), SigV4Error> {
    let amz_date = format_amz_date(now);
    let scope = Scope::new(
        amz_date.get(..8).unwrap_or_default(),
        params.region,
        params.service,
    )?;
    if req.header("host").is_none() {
        return Err(SigV4Error::incomplete(
            "the request has no `host` header to sign",
        ));
    }
    let opts = params
        .settings
        .canonical
        .unwrap_or_else(|| CanonicalOptions::for_service(params.service));
    Ok((scope, amz_date, opts))
}

/// The request as the canonicalizer sees it, with the payload the settings ask for.
fn view_for<'r>(
    req: &'r OwnedRequest,
    settings: &SigningSettings,
) -> Result<HttpRequest<'r>, SigV4Error> {
    if settings.unsigned_payload {
        req.view(PayloadHash::Unsigned)
    } else {
        req.view(PayloadHash::Body(&req.body))
    }
}

/// Signs `req` in the header form.
pub fn sign_with(
    req: &mut OwnedRequest,
    params: &SigningParams<'_>,
    now: OffsetDateTime,
) -> Result<Signed, SigV4Error> {
    let (scope, amz_date, opts) = prepare(req, params, now)?;
    let settings = params.settings;
    req.remove_header("authorization");
    req.remove_header("x-amz-date");
    req.headers
        .push(("x-amz-date".to_owned(), amz_date.clone()));
    if let Some(token) = params.session_token {
        req.remove_header("x-amz-security-token");
        if settings.session_token_signed {
            req.headers
                .push(("x-amz-security-token".to_owned(), token.to_owned()));
        }
    }
    let payload_hash = view_for(req, &settings)?.payload().to_hex()?;
    if settings.content_sha256_header {
        req.remove_header("x-amz-content-sha256");
        req.headers
            .push(("x-amz-content-sha256".to_owned(), payload_hash.clone()));
    }
    let view = view_for(req, &settings)?;
    let signed_headers = headers_to_sign(&view, &[]);
    let query = canonical_query(view.query(), false)?;
    let creq = CanonicalRequest::build(&view, &signed_headers, &query, &payload_hash, opts)?;
    let sts = creq.string_to_sign(&amz_date, &scope);
    let key = SigningKey::for_scope(params.secret_access_key, &scope);
    let signature = key.sign(&sts);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        params.access_key_id,
        signed_headers.join(";")
    );
    let canonical_request = creq.as_str().to_owned();
    req.headers
        .push(("authorization".to_owned(), authorization));
    if let (Some(token), false) = (params.session_token, settings.session_token_signed) {
        req.headers
            .push(("x-amz-security-token".to_owned(), token.to_owned()));
    }
    Ok(Signed {
        canonical_request,
        string_to_sign: sts,
        signature,
    })
}

/// The query parameters presigning owns; earlier values are removed first.
const PRESIGN_PARAMS: &[&[u8]] = &[
    b"X-Amz-Algorithm",
    b"X-Amz-Credential",
    b"X-Amz-Date",
    b"X-Amz-Expires",
    b"X-Amz-SignedHeaders",
    b"X-Amz-Signature",
    b"X-Amz-Security-Token",
];

/// Presigns `req`: adds `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
/// `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Security-Token` (when given) and
/// `X-Amz-Signature` to the query. Every header present is signed (`host` is required).
/// `expires_in` is 1 to 604800 seconds.
pub fn presign(
    req: &mut OwnedRequest,
    params: &SigningParams<'_>,
    expires_in: u32,
    now: OffsetDateTime,
) -> Result<Signed, SigV4Error> {
    if expires_in == 0 || expires_in > MAX_EXPIRES {
        return Err(SigV4Error::incomplete(format!(
            "X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds"
        )));
    }
    let (scope, amz_date, opts) = prepare(req, params, now)?;
    let settings = params.settings;
    // Drop earlier presigning parameters, keep everything else as it was.
    let mut kept: Vec<&str> = Vec::new();
    for piece in req.query.split('&').filter(|p| !p.is_empty()) {
        let name = piece.split_once('=').map_or(piece, |(k, _)| k);
        let name = decode_component(name)?;
        if !PRESIGN_PARAMS.contains(&name.as_slice()) {
            kept.push(piece);
        }
    }
    let mut query = kept.join("&");
    let skip: &[&str] = if settings.session_token_signed {
        &[]
    } else {
        &["x-amz-security-token"]
    };
    let signed_headers = {
        let view = view_for(req, &settings)?;
        headers_to_sign(&view, skip)
    };
    let mut add = |k: &str, v: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(k);
        query.push('=');
        query.push_str(&uri_encode(v.as_bytes(), false));
    };
    add("X-Amz-Algorithm", ALGORITHM);
    add(
        "X-Amz-Credential",
        &format!("{}/{scope}", params.access_key_id),
    );
    add("X-Amz-Date", &amz_date);
    add("X-Amz-Expires", &expires_in.to_string());
    add("X-Amz-SignedHeaders", &signed_headers.join(";"));
    if let (Some(token), true) = (params.session_token, settings.session_token_signed) {
        add("X-Amz-Security-Token", token);
    }
    req.query = query;
    let view = view_for(req, &settings)?;
    let payload_hash = view.payload().to_hex()?;
    let cquery = canonical_query(view.query(), true)?;
    let creq = CanonicalRequest::build(&view, &signed_headers, &cquery, &payload_hash, opts)?;
    let sts = creq.string_to_sign(&amz_date, &scope);
    let signature = SigningKey::for_scope(params.secret_access_key, &scope).sign(&sts);
    let canonical_request = creq.as_str().to_owned();
    req.query.push_str("&X-Amz-Signature=");
    req.query.push_str(&signature);
    if let (Some(token), false) = (params.session_token, settings.session_token_signed) {
        req.query.push_str("&X-Amz-Security-Token=");
        req.query.push_str(&uri_encode(token.as_bytes(), false));
    }
    Ok(Signed {
        canonical_request,
        string_to_sign: sts,
        signature,
    })
}
