//! The one request verifier: every route that acts for a principal goes through
//! [`authenticate`]. It checks the SigV4 signature against the caller's secret and turns
//! the access key into a [`Caller`].

use axum::http::{HeaderMap, Method, Uri};

use super::AppState;
use crate::model::AccountId;
use crate::service::{Caller, CallerKind};
use crate::sigv4::{self, HttpRequest, PayloadHash, SigV4Error};

/// A failure to authenticate, with AWS's code and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// HTTP status.
    pub status: u16,
    /// AWS error code.
    pub code: &'static str,
    /// Message; never contains a secret.
    pub message: String,
}

impl From<SigV4Error> for AuthError {
    fn from(e: SigV4Error) -> Self {
        let code = e.code();
        let status = match code {
            "IncompleteSignature" | "MalformedQueryString" => 400,
            _ => 403,
        };
        AuthError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

fn invalid_token() -> AuthError {
    AuthError {
        status: 403,
        code: "InvalidClientTokenId",
        message: "The security token included in the request is invalid.".into(),
    }
}

/// What a verified request tells about itself.
pub struct Authenticated {
    /// The principal.
    pub caller: Caller,
    /// The access key id used.
    pub access_key_id: String,
    /// The signing scope's service (`iam`, `sts`, …).
    pub service: String,
    /// The signing scope's region.
    pub region: String,
    /// Signed with temporary (session) credentials.
    pub temporary: bool,
}

impl Authenticated {
    /// Refuses a signature whose credential scope names another service than the
    /// endpoint's, as AWS does: a signature made for S3 (or any other service) is not a
    /// signature for this API, even with a valid key.
    pub fn require_service(&self, service: &str) -> Result<(), AuthError> {
        if self.service == service {
            return Ok(());
        }
        Err(AuthError {
            status: 403,
            code: "SignatureDoesNotMatch",
            message: format!("Credential should be scoped to correct service: '{service}'. "),
        })
    }
}

/// Verifies a request's SigV4 signature and identifies the caller. Failed attempts are
/// counted per source address: past [`AUTH_FAILURE_BURST`] of them, further requests from
/// that address get `Throttling` (HTTP 429) until the bucket refills, before any work.
pub fn authenticate(
    st: &AppState,
    peer: std::net::IpAddr,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Authenticated, AuthError> {
    let now = st.vault.now();
    if !st.auth_failures_by_ip.has_token(&peer, now) {
        return Err(AuthError {
            status: 429,
            code: "Throttling",
            message: "Rate exceeded: too many failed authentications from this address".into(),
        });
    }
    let r = authenticate_unlimited(st, method, uri, headers, body);
    if r.is_err() {
        st.auth_failures_by_ip.take(peer, now);
    }
    r
}

/// Failed authentications a source address may make at once, and per minute after that.
pub const AUTH_FAILURE_BURST: u32 = 100;
/// See [`AUTH_FAILURE_BURST`].
pub const AUTH_FAILURES_PER_MINUTE: u32 = 600;

fn authenticate_unlimited(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Authenticated, AuthError> {
    let mut pairs = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let v = value.to_str().map_err(|_| AuthError {
            status: 400,
            code: "IncompleteSignature",
            message: format!("the value of header `{name}` is not text"),
        })?;
        pairs.push((name.as_str(), v));
    }
    let req = HttpRequest::new(
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        pairs,
        PayloadHash::Body(body),
    )?;
    let parsed = sigv4::parse_auth(&req)?;
    authenticate_request(st, &req, &parsed)
}

/// Verifies an already parsed request (the server's own, or a client request a service
/// forwarded to the authorization API).
pub fn authenticate_request(
    st: &AppState,
    req: &HttpRequest<'_>,
    parsed: &sigv4::ParsedAuth,
) -> Result<Authenticated, AuthError> {
    let key_id = parsed.access_key_id().to_owned();
    // Temporary credentials: the token carries everything; no database read.
    if key_id.starts_with("ASIA") || parsed.security_token().is_some() {
        let token = parsed.security_token().ok_or_else(invalid_token)?;
        let session = st
            .vault
            .verify_session(&key_id, token)
            .map_err(|e| AuthError {
                status: 403,
                code: e.code(),
                message: e.to_string(),
            })?;
        let key = st
            .signing_keys
            .get_or_try_insert_with(&key_id, parsed.scope(), || {
                Ok::<_, SigV4Error>(sigv4::SigningKey::for_scope(
                    session.secret.expose().as_bytes(),
                    parsed.scope(),
                ))
            })?;
        sigv4::verify(req, parsed, &key, st.vault.now())?;
        let c = &session.claims;
        let account = AccountId::parse(&c.account).map_err(|_| invalid_token())?;
        return Ok(Authenticated {
            caller: Caller {
                account,
                arn: c.principal_arn.clone(),
                kind: CallerKind::Session(std::sync::Arc::clone(c)),
            },
            access_key_id: key_id,
            service: parsed.service().to_owned(),
            region: parsed.region().to_owned(),
            temporary: true,
        });
    }
    let Some(entry) = st
        .vault
        .access_key_secret(&key_id)
        .map_err(|_| invalid_token())?
    else {
        return Err(invalid_token());
    };
    let (user, secret) = (&entry.user, &entry.secret);
    let key = st
        .signing_keys
        .get_or_try_insert_with(&key_id, parsed.scope(), || {
            Ok::<_, SigV4Error>(sigv4::SigningKey::for_scope(
                secret.expose().as_bytes(),
                parsed.scope(),
            ))
        })?;
    sigv4::verify(req, parsed, &key, st.vault.now())?;
    let account = AccountId::parse(&user.account_id).map_err(|_| invalid_token())?;
    let arn = format!(
        "arn:aws:iam::{}:user{}{}",
        user.account_id, user.path, user.name
    );
    Ok(Authenticated {
        caller: Caller {
            account,
            arn,
            kind: CallerKind::User {
                user_id: user.user_id.clone(),
                name: user.name.clone(),
            },
        },
        access_key_id: key_id,
        service: parsed.service().to_owned(),
        region: parsed.region().to_owned(),
        temporary: false,
    })
}
