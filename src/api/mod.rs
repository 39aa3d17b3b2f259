//! The HTTP server: AWS's IAM and STS Query protocol with SigV4, on axum.
//!
//! Every request that acts for a principal goes through [`auth::authenticate`]; every
//! action then goes through `service`, which authorizes it. SQLite work runs on tokio's
//! blocking pool.

pub mod auth;
mod authorize;
mod iam;
mod instances;
pub mod limiter;
pub mod login;
mod metrics;
mod paginate;
pub mod query;
mod sts;
#[cfg(test)]
mod tests_authorize;
pub mod xml;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::Value;

use crate::error::Error;
use crate::service::{AuditPending, Caller, RequestContext, Vault};
use crate::sigv4::SigningKeyCache;
pub use paginate::paginate;

/// Largest request body accepted (a policy document URL-encoded fits easily).
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// Time a request may take before the server answers with an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests in flight at once by default; past it a request is answered at once with
/// `Throttling` (HTTP 429), never queued without bound or dropped.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// Shared server state.
pub struct AppState {
    /// The vault.
    pub vault: Arc<Vault>,
    /// Derived SigV4 signing keys per (key, date, region, service).
    pub signing_keys: SigningKeyCache,
    /// Whether requests arrive over TLS.
    pub tls: bool,
    /// Request metrics for `/metrics`.
    pub metrics: metrics::Metrics,
    /// Login attempts per source address.
    pub login_by_ip: limiter::RateLimiter,
    /// Login attempts per account/user name.
    pub login_by_name: limiter::RateLimiter,
    /// Failed SigV4 authentications per source address.
    pub auth_failures_by_ip: limiter::RateLimiter<std::net::IpAddr>,
    request_counter: AtomicU64,
    request_prefix: String,
    /// Requests in flight at once before new ones get `Throttling`.
    pub max_in_flight: usize,
}

impl AppState {
    /// State for `vault`.
    pub fn new(vault: Arc<Vault>, tls: bool) -> crate::error::Result<Self> {
        let mut b = [0u8; 8];
        vault.random().fill(&mut b)?;
        Ok(Self {
            metrics: metrics::Metrics::for_vault(Arc::clone(&vault)),
            vault,
            signing_keys: SigningKeyCache::new(10_000),
            tls,
            login_by_ip: limiter::RateLimiter::new(30, 60),
            login_by_name: limiter::RateLimiter::new(10, 20),
            auth_failures_by_ip: limiter::RateLimiter::new(
                auth::AUTH_FAILURE_BURST,
                auth::AUTH_FAILURES_PER_MINUTE,
            ),
            request_counter: AtomicU64::new(0),
            request_prefix: hex::encode(b),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        })
    }

    /// A fresh request id in UUID form.
    pub(crate) fn request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        let p = &self.request_prefix;
        format!(
            "{}-{}-4{}-8{}-{:012x}",
            p.get(..8).unwrap_or("00000000"),
            p.get(8..12).unwrap_or("0000"),
            p.get(12..15).unwrap_or("000"),
            &format!("{:03x}", (n >> 48) & 0xfff),
            n & 0xffff_ffff_ffff
        )
    }
}

/// The router with every route.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.max_in_flight;
    Router::new()
        .route("/", any(query_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics_handler))
        .route("/vault/v1/login", axum::routing::post(login::handler))
        .route(
            "/vault/v1/authorize",
            axum::routing::post(authorize::authorize),
        )
        .route(
            "/vault/v1/resource-policies/{op}",
            axum::routing::post(authorize::resource_policies),
        )
        .route(
            "/vault/v1/instances/credentials",
            axum::routing::post(instances::credentials),
        )
        .route(
            "/vault/v1/instances/{op}",
            axum::routing::post(instances::manage),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(overloaded))
                .load_shed()
                .concurrency_limit(limit)
                .timeout(REQUEST_TIMEOUT),
        )
        .with_state(state)
}

/// The answer when the server sheds a request or a request runs out of time: AWS's error
/// XML, `Throttling` (429) or `RequestTimeout` (503), so clients retry instead of seeing
/// a dropped connection.
async fn overloaded(err: tower::BoxError) -> Response {
    let (status, code, message) = if err.is::<tower::load_shed::error::Overloaded>() {
        (429, "Throttling", "Rate exceeded")
    } else if err.is::<tower::timeout::error::Elapsed>() {
        (
            503,
            "RequestTimeout",
            "The request took too long and was cancelled",
        )
    } else {
        (
            500,
            "ServiceFailure",
            "The request processing has failed because of an unknown error.",
        )
    };
    tracing::warn!(code, "request shed");
    xml_response(status, xml::error(xml::IAM_NS, false, code, message, ""))
}

/// Which API an action belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// IAM.
    Iam,
    /// STS.
    Sts,
}

impl Api {
    fn ns(self) -> &'static str {
        match self {
            Api::Iam => xml::IAM_NS,
            Api::Sts => xml::STS_NS,
        }
    }
}

/// A wire-level failure: an AWS code, an HTTP status and a message.
#[derive(Debug)]
pub struct WireError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl From<Error> for WireError {
    fn from(e: Error) -> Self {
        let (status, code) = e.aws();
        let message = match &e {
            // Internal details stay in the log, not in the response.
            Error::Internal(_) | Error::Config(_) | Error::VaultExists(_) => {
                "The request processing has failed because of an unknown error.".to_owned()
            }
            _ => e.to_string(),
        };
        WireError {
            status,
            code,
            message,
        }
    }
}

impl From<auth::AuthError> for WireError {
    fn from(e: auth::AuthError) -> Self {
        WireError {
            status: e.status,
            code: e.code,
            message: e.message,
        }
    }
}

impl WireError {
    fn invalid_action(action: &str, api: Api) -> Self {
        let version = match api {
            Api::Iam => "2010-05-08",
            Api::Sts => "2011-06-15",
        };
        WireError {
            status: 400,
            code: "InvalidAction",
            message: format!("Could not find operation {action} for version {version}"),
        }
    }
}

/// What an action handler gets.
pub struct Call<'a> {
    /// The vault.
    pub vault: &'a Vault,
    /// The authenticated caller.
    pub caller: &'a Caller,
    /// Request facts for policy conditions.
    pub ctx: &'a RequestContext,
    /// The parameters.
    pub params: &'a query::Params,
    /// The access key that signed the request.
    pub access_key_id: &'a str,
}

/// An action's result: the fields of `<ActionResult>`, or none.
pub type ActionResult = Result<Option<Value>, WireError>;

fn xml_response(status: u16, body: String) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

async fn metrics_handler(State(st): State<Arc<AppState>>) -> Response {
    let mut r = st.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

async fn query_handler(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let timer = metrics::Timer::start();
    let request_id = st.request_id();
    let params = parse_params(&method, &uri, &body);
    let joined = if runs_inline(&st, &params, &headers) {
        Ok(handle(
            &st,
            peer,
            &method,
            &uri,
            &headers,
            &body,
            params,
            &request_id,
        ))
    } else {
        let st2 = Arc::clone(&st);
        let rid = request_id.clone();
        tokio::task::spawn_blocking(move || {
            handle(&st2, peer, &method, &uri, &headers, &body, params, &rid)
        })
        .await
    };
    let (api, action, known, result) = match joined {
        // The blocking thread is free again; the answer waits here, without holding a
        // thread, until the request's audit record is durable.
        Ok((api, action, known, result, pending)) => {
            (api, action, known, durable(result, pending).await)
        }
        Err(_) => (
            Api::Iam,
            String::new(),
            false,
            Err(WireError {
                status: 500,
                code: "ServiceFailure",
                message: "The request processing has failed because of an unknown error.".into(),
            }),
        ),
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code,
    };
    // The action names a metric label and goes into the log only when this server
    // handled it: the raw parameter is the client's, unauthenticated and unbounded (a
    // new label each would grow memory without end) and could carry a line break.
    let label = if known { action.as_str() } else { "other" };
    st.metrics.observe(label, outcome, timer.seconds());
    match result {
        Ok(value) => {
            tracing::info!(request_id = %request_id, action = %label, outcome = "ok", "request");
            xml_response(
                200,
                xml::response(&action, api.ns(), value.as_ref(), &request_id),
            )
        }
        Err(e) => {
            tracing::info!(request_id = %request_id, action = %label, outcome = %e.code, status = e.status, "request");
            let sender = e.status < 500;
            xml_response(
                e.status,
                xml::error(api.ns(), sender, e.code, &e.message, &request_id),
            )
        }
    }
}

/// Whether a request is handled on the async worker itself rather than the blocking
/// pool: a `GetCallerIdentity` signed in the `Authorization` header with credentials the
/// vault can check from memory right now ([`Vault::credentials_warm`]), or such an
/// `AssumeRole` of a role held in memory ([`Vault::assume_role_warm`]; minting costs one
/// Ed25519 signature, tens of microseconds). Such a request
/// reads no SQL and takes no lock held across I/O; its audit record is queued like any
/// other and awaited without blocking. It saves the two thread hops to the blocking
/// pool and back, the largest cost left on this path. Everything else (anything that may
/// read or write the store) goes to the blocking pool.
fn runs_inline(
    st: &AppState,
    params: &Result<query::Params, WireError>,
    headers: &HeaderMap,
) -> bool {
    let Ok(params) = params else {
        return false;
    };
    // AssumeRole without MFA (checking a code writes) and without managed session
    // policies (read from the store), of a role the vault holds in memory.
    let role_arn = match params.get("Action") {
        Some("GetCallerIdentity") => None,
        Some("AssumeRole")
            if params.get("SerialNumber").is_none()
                && params.get("TokenCode").is_none()
                && params.get("PolicyArns.member.1").is_none() =>
        {
            match params.get("RoleArn") {
                Some(arn) => Some(arn),
                None => return false,
            }
        }
        _ => return false,
    };
    // `Credential=KEY/DATE/REGION/SERVICE/aws4_request`; anything unexpected takes the
    // ordinary path, which reports the error.
    let Some(credential) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
    else {
        return false;
    };
    let mut scope = credential.split(['/', ',']);
    let (Some(key), Some(_date), Some(_region), Some(service)) =
        (scope.next(), scope.next(), scope.next(), scope.next())
    else {
        return false;
    };
    let token = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok());
    match role_arn {
        None => st.vault.credentials_warm(key, token, service),
        Some(arn) => st.vault.assume_role_warm(key, token, service, arn),
    }
}

/// The request's parameters: the query string and, for POST, the form body, both covered
/// by the signature (the query in the canonical request, the body by its hash). Parsed
/// once per request.
fn parse_params(method: &Method, uri: &Uri, body: &[u8]) -> Result<query::Params, WireError> {
    let mut pairs = Vec::new();
    let sources: [&[u8]; 2] = [
        uri.query().unwrap_or("").as_bytes(),
        if method == Method::POST { body } else { b"" },
    ];
    for raw in sources {
        let p = crate::sigv4::parse_form(raw, query::MAX_PARAMS).map_err(|e| WireError {
            status: 400,
            code: "MalformedQueryString",
            message: e.to_string(),
        })?;
        pairs.extend(p.into_iter().filter(|(k, _)| !k.starts_with("X-Amz-")));
    }
    query::Params::from_pairs(pairs).map_err(WireError::from)
}

const STS_ACTIONS: &[&str] = &[
    "AssumeRole",
    "GetSessionToken",
    "GetCallerIdentity",
    "GetAccessKeyInfo",
    "DecodeAuthorizationMessage",
];

/// One Query-protocol request, up to its audit record: that is queued (the returned
/// pending record), not waited for, so the blocking thread is free at once.
#[allow(
    clippy::too_many_arguments,
    reason = "one request, as axum hands it over"
)]
fn handle(
    st: &AppState,
    peer: SocketAddr,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    params: Result<query::Params, WireError>,
    request_id: &str,
) -> (Api, String, bool, ActionResult, AuditPending) {
    let params = match params {
        Ok(p) => p,
        Err(e) => return (Api::Iam, String::new(), false, Err(e), AuditPending::done()),
    };
    let action = params.get("Action").unwrap_or("").to_owned();
    let mut api = if STS_ACTIONS.contains(&action.as_str()) {
        Api::Sts
    } else {
        Api::Iam
    };
    let authn = match auth::authenticate(st, peer.ip(), method, uri, headers, body) {
        Ok(a) => a,
        Err(e) => return (api, action, false, Err(e.into()), AuditPending::done()),
    };
    // The signing scope says which service the client meant.
    match authn.service.as_str() {
        "sts" => api = Api::Sts,
        "iam" => api = Api::Iam,
        _ => {
            let want = if api == Api::Sts { "sts" } else { "iam" };
            if let Err(e) = authn.require_service(want) {
                return (api, action, false, Err(e.into()), AuditPending::done());
            }
        }
    }
    if action.is_empty() {
        return (
            api,
            action,
            false,
            Err(WireError {
                status: 400,
                code: "MissingAction",
                message: "The request must contain the parameter Action.".into(),
            }),
            AuditPending::done(),
        );
    }
    let ctx = RequestContext {
        source_ip: Some(peer.ip()),
        secure_transport: st.tls || peer.ip().is_loopback(),
        region: Some(authn.region.clone()),
    };
    if let Err(e) =
        st.vault
            .record_access_key_use(&authn.access_key_id, &authn.service, &authn.region)
    {
        tracing::warn!(request_id, error = %e, "could not record access key use");
    }
    let call = Call {
        vault: &st.vault,
        caller: &authn.caller,
        ctx: &ctx,
        params: &params,
        access_key_id: &authn.access_key_id,
    };
    let prefix = match api {
        Api::Iam => "iam",
        Api::Sts => "sts",
    };
    let guard = audit_scope(
        request_id,
        &authn,
        peer,
        headers,
        format!("{prefix}:{action}"),
    );
    let result = match api {
        Api::Iam => iam::dispatch(&call, &action),
        Api::Sts => sts::dispatch(&call, &action),
    };
    let outcome = match &result {
        Ok(_) => crate::service::AuditOutcome::Allowed,
        Err(e) => crate::service::AuditOutcome::of_code(e.code, &e.message),
    };
    let pending = st.vault.audit_finish_pending(guard, outcome);
    let known = !matches!(&result, Err(e) if e.code == "InvalidAction");
    (api, action, known, result, pending)
}

/// Opens the audit scope of an authenticated request.
pub(crate) fn audit_scope(
    request_id: &str,
    authn: &auth::Authenticated,
    peer: SocketAddr,
    headers: &HeaderMap,
    action: String,
) -> crate::service::AuditGuard {
    crate::service::audit_begin(crate::service::AuditContext {
        request_id: request_id.to_owned(),
        account: authn.caller.account.to_string(),
        principal: authn.caller.arn.clone(),
        action,
        source_ip: peer.ip().to_string(),
        user_agent: user_agent(headers),
        credential: authn.access_key_id.clone(),
    })
}

/// The client's user agent, bounded.
pub(crate) fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect())
        .unwrap_or_default()
}

/// Waits until a request's queued audit record is durable; when it cannot be written the
/// client gets an error instead of the result (fail closed).
async fn durable<T>(result: Result<T, WireError>, pending: AuditPending) -> Result<T, WireError> {
    match pending.durable().await {
        Ok(()) => result,
        Err(e) => Err(audit_failure(&e)),
    }
}

fn audit_failure(e: &Error) -> WireError {
    tracing::error!(error = %e, "an audit record could not be written; the request fails");
    WireError {
        status: 500,
        code: "ServiceFailure",
        message: "The request could not be recorded in the audit log.".into(),
    }
}

/// Ends an audit scope with the operation's result. When the record cannot be written
/// the client gets an error instead of the result (fail closed).
pub(crate) fn audited<T>(
    vault: &Vault,
    guard: crate::service::AuditGuard,
    result: Result<T, WireError>,
) -> Result<T, WireError> {
    let outcome = match &result {
        Ok(_) => crate::service::AuditOutcome::Allowed,
        Err(e) => crate::service::AuditOutcome::of_code(e.code, &e.message),
    };
    match vault.audit_finish(guard, outcome) {
        Ok(()) => result,
        Err(e) => Err(audit_failure(&e)),
    }
}
