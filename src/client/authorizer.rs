//! The client of `POST /vault/v1/authorize` for a team's own services, and a tower layer
//! that puts it in front of axum routes.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Extension, Router, routing::get};
//! use iamvault::client::{Authorizer, AuthorizeLayer, Authorized};
//! use iamvault::service::Check;
//!
//! # async fn run() -> iamvault::error::Result<()> {
//! let authorizer = Arc::new(Authorizer::from_env("https://vault.internal:8900")?);
//! let app: Router = Router::new()
//!     .route("/reports/{name}", get(|Extension(who): Extension<Authorized>| async move {
//!         format!("hello {}", who.principal.arn)
//!     }))
//!     .layer(AuthorizeLayer::new(authorizer, |parts: &axum::http::request::Parts| {
//!         vec![Check {
//!             action: "reports:Read".into(),
//!             resource: format!("arn:aws:reports:::{}", parts.uri.path()),
//!         }]
//!     }));
//! # let _ = app; Ok(()) }
//! ```
//!
//! The service signs its own call with SigV4 (service `vault`) and needs `vault:Authorize`
//! on every resource it asks about. Nothing is cached: every request is a round trip to
//! the vault, so a revocation or a policy change takes effect on the next request. (The
//! answer's `cache_seconds` says how long a service *may* reuse a decision if it chooses
//! to, accepting that a revocation then reaches it only when its cache entry ends.)

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::Value;

use super::{Credentials, remote_error};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::model::SecretString;
use crate::service::{
    AuthorizeRequest, AuthorizeResponse, Check, CheckResult, ClientAuthError, ClientRequest,
    MAX_CHECKS, PrincipalOut,
};
use crate::sigv4::{self, OwnedRequest};

/// The vault path of the authorization API.
pub const AUTHORIZE_PATH: &str = "/vault/v1/authorize";

/// Largest answer read from the vault (an answer for [`MAX_CHECKS`] checks is a few KiB).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Default bound of the body the layer buffers before asking the vault.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// An async client of `POST /vault/v1/authorize`, signing with the service's own
/// credentials. Cheap to share behind an `Arc`; it keeps one connection pool.
pub struct Authorizer {
    url: String,
    path: String,
    host: String,
    region: String,
    creds: Credentials,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Authorizer {
    /// The secret and the session token are left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("url", &self.url)
            .field("access_key_id", &self.creds.access_key_id)
            .field("has_session_token", &self.creds.session_token.is_some())
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// A client of the vault at `endpoint` (e.g. `http://127.0.0.1:8900`) that signs its
    /// calls with `creds` at the time `clock` tells.
    pub fn new(endpoint: &str, creds: Credentials, clock: Arc<dyn Clock>) -> Result<Self> {
        let url = reqwest::Url::parse(endpoint).map_err(|e| {
            Error::InvalidInput(format!("`{endpoint}` is not a valid endpoint url: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::InvalidInput(format!(
                "`{endpoint}` must be an http or https url"
            )));
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(Error::InvalidInput(format!("`{endpoint}` has no host"))),
        };
        let path = format!("{}{AUTHORIZE_PATH}", url.path().trim_end_matches('/'));
        let mut full = url.clone();
        full.set_path(&path);
        full.set_query(None);
        full.set_fragment(None);
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the http client: {e}")))?;
        Ok(Self {
            url: full.to_string(),
            path,
            host,
            region: "us-east-1".into(),
            creds,
            http,
            clock,
        })
    }

    /// A client whose credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    /// and (optionally) `AWS_SESSION_TOKEN`, on the system clock.
    pub fn from_env(endpoint: &str) -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(Error::Config(
                "the service's credentials are missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            ));
        };
        let creds = Credentials {
            access_key_id: id,
            secret_access_key: SecretString::new(secret),
            session_token: var("AWS_SESSION_TOKEN").map(SecretString::new),
        };
        Self::new(endpoint, creds, Arc::new(SystemClock))
    }

    /// The full url called (`{endpoint}/vault/v1/authorize`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The access key the service signs with.
    pub fn access_key_id(&self) -> &str {
        &self.creds.access_key_id
    }

    /// Asks the vault about a client request. `Ok` carries the vault's answer whether or
    /// not the client was authenticated or allowed (see
    /// [`AuthorizeResponse::all_allowed`]); `Err` means the call itself failed: the vault
    /// was unreachable, refused the service (`AccessDenied` without `vault:Authorize`),
    /// or answered something that is not a well-formed answer to these checks.
    pub async fn authorize(&self, req: &AuthorizeRequest) -> Result<AuthorizeResponse> {
        if req.checks.is_empty() || req.checks.len() > MAX_CHECKS {
            return Err(Error::Validation(format!(
                "an authorize call carries 1 to {MAX_CHECKS} checks, not {}",
                req.checks.len()
            )));
        }
        let text = serde_json::to_string(req)
            .map_err(|e| Error::Internal(format!("cannot encode the authorize call: {e}")))?;
        let mut signed = OwnedRequest::new("POST", &self.path)
            .with_header("host", &self.host)
            .with_header("content-type", "application/json")
            .with_body(text.clone().into_bytes());
        sigv4::sign(
            &mut signed,
            &self.creds.access_key_id,
            self.creds.secret_access_key.expose().as_bytes(),
            self.creds.session_token.as_ref().map(SecretString::expose),
            &self.region,
            "vault",
            self.clock.now(),
        )
        .map_err(|e| Error::Internal(format!("cannot sign the authorize call: {e}")))?;
        let mut builder = self.http.post(&self.url).body(text);
        for (k, v) in &signed.headers {
            if k != "host" {
                builder = builder.header(k.as_str(), v.as_str());
            }
        }
        let resp = builder.send().await.map_err(|e| {
            Error::Remote(
                "RequestFailed".into(),
                format!("cannot reach the vault at {}: {e}", self.url),
            )
        })?;
        let status = resp.status();
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(Error::Remote(
                "MalformedResponse".into(),
                "the vault's answer is too large".into(),
            ));
        }
        let bytes = resp.bytes().await.map_err(|e| {
            Error::Remote(
                "RequestFailed".into(),
                format!("cannot read the vault's answer: {e}"),
            )
        })?;
        if !status.is_success() {
            return Err(call_error(status.as_u16(), &bytes));
        }
        let answer: AuthorizeResponse = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Remote(
                "MalformedResponse".into(),
                format!("the vault's answer is not an authorize answer: {e}"),
            )
        })?;
        check_answer(req, &answer)?;
        Ok(answer)
    }
}

/// The error of a non-200 answer: `{"error": CODE, "message": MSG}`, or AWS error XML
/// (throttling, shed load), or just the status.
fn call_error(status: u16, body: &[u8]) -> Error {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(code) = v.get("error").and_then(Value::as_str)
    {
        let msg = v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        return remote_error(code, msg);
    }
    if let Ok(text) = std::str::from_utf8(body)
        && let Ok(doc) = super::xml::parse(text)
    {
        let err = doc
            .get("ErrorResponse")
            .and_then(|e| e.get("Error"))
            .or_else(|| doc.get("Error"));
        if let Some(code) = err.and_then(|e| e.get("Code")).and_then(Value::as_str) {
            let msg = err
                .and_then(|e| e.get("Message"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            return remote_error(code, msg);
        }
    }
    Error::Remote(
        "UnexpectedStatus".into(),
        format!("the vault answered HTTP {status}"),
    )
}

/// An authenticated answer must answer exactly the checks asked, in order: a service
/// must never take a shorter or reordered list as "everything allowed".
fn check_answer(req: &AuthorizeRequest, answer: &AuthorizeResponse) -> Result<()> {
    let malformed = |m: &str| Err(Error::Remote("MalformedResponse".into(), m.to_owned()));
    if !answer.authenticated {
        return if answer.error.is_some() {
            Ok(())
        } else {
            malformed("the vault's answer says unauthenticated without an error")
        };
    }
    if answer.principal.is_none() {
        return malformed("the vault's answer has no principal");
    }
    if answer.results.len() != req.checks.len()
        || answer
            .results
            .iter()
            .zip(&req.checks)
            .any(|(r, c)| r.action != c.action || r.resource != c.resource)
    {
        return malformed("the vault's answer does not answer the checks asked");
    }
    Ok(())
}

/// Lowercase hex SHA-256 of `body`, as `body_sha256` wants it.
pub fn sha256_hex(body: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, body))
}

/// The [`ClientRequest`] for a request the service received: method, raw path and query
/// (from axum's [`OriginalUri`] when the router was nested), every header, the body's
/// SHA-256 and the client's address. `peer` defaults to the [`ConnectInfo`] extension
/// that `into_make_service_with_connect_info::<SocketAddr>()` adds. `secure_transport` is
/// false: set it when the service terminates TLS itself.
pub fn client_request(parts: &Parts, body: &[u8], peer: Option<IpAddr>) -> ClientRequest {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    // HTTP/2 carries the host in `:authority`, which SigV4 signs as `host`.
    if !parts.headers.contains_key(header::HOST)
        && let Some(a) = uri.authority()
    {
        headers.push(("host".into(), a.as_str().to_owned()));
    }
    let peer = peer.or_else(|| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    });
    ClientRequest {
        method: parts.method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers,
        body_sha256: sha256_hex(body),
        source_ip: peer.map(|ip| ip.to_canonical().to_string()),
        secure_transport: false,
    }
}

/// What the layer asks the vault about one request: the checks and extra context keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestChecks {
    /// The `(action, resource)` pairs; all must be allowed. Empty means the request is
    /// not one the service knows: it is refused ([`Rejection::Unmapped`]) without a call.
    pub checks: Vec<Check>,
    /// Extra condition keys (e.g. `s3:prefix`): a string or a list of strings each.
    pub context: serde_json::Map<String, Value>,
}

impl From<Vec<Check>> for RequestChecks {
    fn from(checks: Vec<Check>) -> Self {
        Self {
            checks,
            context: serde_json::Map::new(),
        }
    }
}

impl From<Check> for RequestChecks {
    fn from(check: Check) -> Self {
        vec![check].into()
    }
}

/// Why the layer refused a request; handed to the responder.
#[derive(Debug)]
pub enum Rejection {
    /// The client's signature or credentials were not good; the vault's status and code
    /// (S3's codes for clients that signed for `s3`).
    Unauthenticated(ClientAuthError),
    /// The client was authenticated, but at least one check was denied.
    Denied {
        /// Who the client is.
        principal: PrincipalOut,
        /// Every check's answer, in order.
        results: Vec<CheckResult>,
    },
    /// The mapper produced no check: the service does not know this request.
    Unmapped,
    /// The body is larger than the layer buffers.
    BodyTooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
    /// The body could not be read from the connection.
    BodyUnreadable,
    /// The vault could not be asked (unreachable, refused the service, bad answer). Fails
    /// closed.
    Vault(Error),
}

impl Rejection {
    /// The HTTP status the default responder answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated(e) => e.status,
            Self::Denied { .. } | Self::Unmapped => 403,
            Self::BodyTooLarge { .. } => 413,
            Self::BodyUnreadable => 400,
            Self::Vault(_) => 503,
        }
    }

    /// The AWS-style error code.
    pub fn code(&self) -> &str {
        match self {
            Self::Unauthenticated(e) => &e.code,
            Self::Denied { .. } | Self::Unmapped => "AccessDenied",
            Self::BodyTooLarge { .. } => "EntityTooLarge",
            Self::BodyUnreadable => "IncompleteBody",
            Self::Vault(_) => "ServiceUnavailable",
        }
    }

    /// A message for the client. For [`Rejection::Vault`] it does not repeat the vault's
    /// error (that is for the service's own log).
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(e) => e.message.clone(),
            Self::Denied { results, .. } => results
                .iter()
                .find(|r| !r.allowed())
                .and_then(|r| r.reason.clone())
                .unwrap_or_else(|| "Access Denied".into()),
            Self::Unmapped => "Access Denied".into(),
            Self::BodyTooLarge { limit } => {
                format!("Your proposed upload exceeds the maximum allowed size of {limit} bytes.")
            }
            Self::BodyUnreadable => "The request body could not be read.".into(),
            Self::Vault(_) => "The authorization service is unavailable; try again.".into(),
        }
    }
}

/// The request extension a forwarded request carries: who the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The client's principal.
    pub principal: PrincipalOut,
    /// The access key the client signed with.
    pub access_key_id: String,
    /// Every check's answer (all allowed).
    pub results: Vec<CheckResult>,
    /// The vault's cache hint (the layer itself never caches).
    pub cache_seconds: i64,
}

type Mapper = dyn Fn(&Parts) -> RequestChecks + Send + Sync;
type Responder = dyn Fn(&Parts, Rejection) -> Response<Body> + Send + Sync;

/// A tower layer that authorizes every request through the vault before the inner
/// service sees it.
///
/// For each request it buffers the body (at most [`AuthorizeLayer::max_body_bytes`]),
/// computes its SHA-256, asks the mapper which checks the request needs, and calls
/// [`Authorizer::authorize`]. When the client is authenticated and every check is
/// allowed, the request goes on with its body restored and an [`Authorized`] extension;
/// otherwise the responder answers (by default: JSON `{"error", "message"}` with
/// [`Rejection::status`]). It never caches a decision.
#[derive(Clone)]
pub struct AuthorizeLayer {
    authorizer: Arc<Authorizer>,
    mapper: Arc<Mapper>,
    responder: Arc<Responder>,
    max_body: usize,
    secure_transport: bool,
}

impl std::fmt::Debug for AuthorizeLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeLayer")
            .field("authorizer", &self.authorizer)
            .field("max_body", &self.max_body)
            .field("secure_transport", &self.secure_transport)
            .finish_non_exhaustive()
    }
}

impl AuthorizeLayer {
    /// A layer asking `authorizer` about the checks `mapper` names for each request
    /// (a `Vec<Check>`, one [`Check`], or [`RequestChecks`] with context keys).
    pub fn new<F, R>(authorizer: Arc<Authorizer>, mapper: F) -> Self
    where
        F: Fn(&Parts) -> R + Send + Sync + 'static,
        R: Into<RequestChecks>,
    {
        Self {
            authorizer,
            mapper: Arc::new(move |p: &Parts| mapper(p).into()),
            responder: Arc::new(default_responder),
            max_body: DEFAULT_MAX_BODY_BYTES,
            secure_transport: false,
        }
    }

    /// Answers refused requests with `responder` instead of the default JSON.
    #[must_use]
    pub fn responder<F>(mut self, responder: F) -> Self
    where
        F: Fn(&Parts, Rejection) -> Response<Body> + Send + Sync + 'static,
    {
        self.responder = Arc::new(responder);
        self
    }

    /// The most body bytes buffered (default [`DEFAULT_MAX_BODY_BYTES`]); a larger body is
    /// refused with [`Rejection::BodyTooLarge`] before the vault is asked.
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body = limit;
        self
    }

    /// Tells the vault that clients connect over TLS (`aws:SecureTransport`): set it when
    /// the service terminates TLS itself.
    #[must_use]
    pub fn secure_transport(mut self, yes: bool) -> Self {
        self.secure_transport = yes;
        self
    }
}

/// The default answer to a refused request: JSON `{"error": CODE, "message": MSG}`.
pub fn default_responder(_parts: &Parts, rejection: Rejection) -> Response<Body> {
    let status = StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::FORBIDDEN);
    let body = serde_json::json!({ "error": rejection.code(), "message": rejection.message() });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl<S> tower::Layer<S> for AuthorizeLayer {
    type Service = AuthorizeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthorizeService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthorizeLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct AuthorizeService<S> {
    inner: S,
    layer: AuthorizeLayer,
}

/// Reads at most `limit` bytes of `body`.
async fn read_bounded(mut body: Body, limit: usize) -> std::result::Result<Bytes, Rejection> {
    use axum::body::HttpBody;
    if body.size_hint().lower() > limit as u64 {
        return Err(Rejection::BodyTooLarge { limit });
    }
    let mut buf: Vec<u8> = Vec::new();
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => return Ok(Bytes::from(buf)),
            Some(Err(_)) => return Err(Rejection::BodyUnreadable),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if buf.len().saturating_add(data.len()) > limit {
                        return Err(Rejection::BodyTooLarge { limit });
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
}

impl AuthorizeLayer {
    /// Decides one request: the request to forward (body restored, [`Authorized`] added),
    /// or the parts and the reason to refuse it.
    async fn decide(
        &self,
        req: Request<Body>,
    ) -> std::result::Result<Request<Body>, (Parts, Rejection)> {
        let (mut parts, body) = req.into_parts();
        let plan = (self.mapper)(&parts);
        if plan.checks.is_empty() {
            return Err((parts, Rejection::Unmapped));
        }
        let bytes = match read_bounded(body, self.max_body).await {
            Ok(b) => b,
            Err(r) => return Err((parts, r)),
        };
        let mut request = client_request(&parts, &bytes, None);
        request.secure_transport = self.secure_transport;
        let call = AuthorizeRequest {
            request,
            checks: plan.checks,
            context: plan.context,
        };
        let answer = match self.authorizer.authorize(&call).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "the vault could not be asked; request refused");
                return Err((parts, Rejection::Vault(e)));
            }
        };
        if !answer.authenticated {
            let e = answer.error.unwrap_or_else(|| ClientAuthError {
                status: 403,
                code: "AccessDenied".into(),
                message: "Access Denied".into(),
            });
            return Err((parts, Rejection::Unauthenticated(e)));
        }
        let all = answer.all_allowed();
        let (Some(principal), Some(access_key_id)) = (answer.principal, answer.access_key_id)
        else {
            return Err((
                parts,
                Rejection::Vault(Error::Remote(
                    "MalformedResponse".into(),
                    "the vault's answer names no principal or key".into(),
                )),
            ));
        };
        if !all {
            return Err((
                parts,
                Rejection::Denied {
                    principal,
                    results: answer.results,
                },
            ));
        }
        parts.extensions.insert(Authorized {
            principal,
            access_key_id,
            results: answer.results,
            cache_seconds: answer.cache_seconds,
        });
        Ok(Request::from_parts(parts, Body::from(bytes)))
    }
}

impl<S> tower::Service<Request<Body>> for AuthorizeService<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The clone took over readiness from `self.inner` (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            match layer.decide(req).await {
                Ok(req) => inner.call(req).await,
                Err((parts, rejection)) => {
                    let unread = matches!(
                        rejection,
                        Rejection::Unmapped | Rejection::BodyTooLarge { .. }
                    );
                    let mut resp = (layer.responder)(&parts, rejection);
                    if unread {
                        // The request's body was not read to its end: close the connection
                        // after this answer. Kept open, the server would read on from where
                        // the body stopped, and a client that held its body back
                        // (`Expect: 100-continue`, answered without a 100) had its next
                        // request cut (boto3's PutObject then arrived as method `UT`).
                        resp.headers_mut()
                            .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    }
                    Ok(resp)
                }
            }
        })
    }
}

#[cfg(test)]
#[path = "authorizer_tests.rs"]
mod tests;
