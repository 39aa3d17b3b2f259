//! The vault JSON API for a team's own services:
//! - `POST /vault/v1/authorize`: may this client request proceed?
//! - `POST /vault/v1/resource-policies/{put,get,delete,list}`: bucket-policy style
//!   resource policies.
//!
//! Both are called with SigV4 (service `vault`) by the service or operator, who must be
//! allowed the `vault:` action.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::{self, AuthError, Authenticated};
use super::{AppState, WireError};
use crate::error::Error;
use crate::service::{
    AuthorizeRequest, AuthorizeResponse, CallerKind, ClientAuthError, MAX_CACHE_SECONDS,
    PrincipalOut, RequestContext,
};
use crate::sigv4::{self, AuthLocation, HttpRequest, PayloadHash};

fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error_response(e: &WireError) -> Response {
    json_response(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        json!({ "error": e.code, "message": e.message }).to_string(),
    )
}

/// `POST /vault/v1/authorize`.
pub async fn authorize(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let timer = super::metrics::Timer::start();
    let st2 = Arc::clone(&st);
    let joined = tokio::task::spawn_blocking(move || {
        handle_authorize(&st2, peer, &method, &uri, &headers, &body)
    })
    .await;
    let result = joined.unwrap_or_else(|_| {
        Err(WireError {
            status: 500,
            code: "ServiceFailure",
            message: "The request processing has failed because of an unknown error.".into(),
        })
    });
    match result {
        Ok(answer) => {
            let outcome = if !answer.authenticated {
                "client-unauthenticated"
            } else if answer.all_allowed() {
                "allowed"
            } else {
                "denied"
            };
            st.metrics.observe("Authorize", outcome, timer.seconds());
            json_response(
                StatusCode::OK,
                serde_json::to_string(&answer).unwrap_or_default(),
            )
        }
        Err(e) => {
            st.metrics.observe("Authorize", e.code, timer.seconds());
            tracing::info!(error_code = e.code, "authorize call refused");
            error_response(&e)
        }
    }
}

fn service_ctx(st: &AppState, peer: SocketAddr, authn: &Authenticated) -> RequestContext {
    RequestContext {
        source_ip: Some(peer.ip()),
        secure_transport: st.tls || peer.ip().is_loopback(),
        region: Some(authn.region.clone()),
    }
}

pub(super) fn handle_authorize(
    st: &AppState,
    peer: SocketAddr,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<AuthorizeResponse, WireError> {
    let service = auth::authenticate(st, peer.ip(), method, uri, headers, body)?;
    service.require_service("vault")?;
    let sctx = service_ctx(st, peer, &service);
    let call: AuthorizeRequest = serde_json::from_slice(body).map_err(|e| {
        WireError::from(Error::Validation(format!(
            "the authorize request is not valid JSON of the documented shape: {e}"
        )))
    })?;
    let r = &call.request;
    if !sigv4_hex(&r.body_sha256) {
        return Err(
            Error::Validation("`body_sha256` must be 64 lowercase hex digits".into()).into(),
        );
    }
    let source_ip = match &r.source_ip {
        Some(s) => Some(s.parse::<IpAddr>().map_err(|_| {
            WireError::from(Error::Validation(format!(
                "`source_ip` `{}` is not an IP address",
                s.escape_default()
            )))
        })?),
        None => None,
    };
    let context = crate::service::context_from_json(&call.context)?;
    let client_ip = r.source_ip.clone().unwrap_or_default();
    let client_ua = r
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        .map(|(_, v)| v.chars().take(256).collect::<String>())
        .unwrap_or_default();
    let event = |principal: &str,
                 account: &str,
                 credential: &str,
                 action: &str,
                 resource: &str,
                 decision: &str,
                 reason: &str| {
        crate::audit::Entry {
            at: st.vault.now().unix_timestamp(),
            request_id: st.request_id(),
            account: account.to_owned(),
            principal: principal.to_owned(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            decision: decision.to_owned(),
            reason: reason.to_owned(),
            source_ip: client_ip.clone(),
            user_agent: client_ua.clone(),
            credential: credential.to_owned(),
        }
    };
    let record = |entries: Vec<crate::audit::Entry>| -> Result<(), WireError> {
        st.vault.audit_write(entries).map_err(|e| {
            tracing::error!(error = %e, "an audit record could not be written; the call fails");
            WireError {
                status: 500,
                code: "ServiceFailure",
                message: "The decision could not be recorded in the audit log.".into(),
            }
        })
    };
    let client = match authenticate_client(st, &call) {
        Ok(a) => a,
        Err(e) => {
            // An unauthenticated request is a denial: always recorded.
            let claimed = r
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .and_then(|(_, v)| v.split("Credential=").nth(1))
                .and_then(|c| c.split('/').next())
                .map(|k| k.chars().take(32).collect::<String>())
                .unwrap_or_default();
            record(
                call.checks
                    .iter()
                    .map(|c| {
                        event(
                            "(unauthenticated)",
                            "",
                            &claimed,
                            &c.action,
                            &c.resource,
                            "denied",
                            &format!("{}: {}", e.code, e.message),
                        )
                    })
                    .collect(),
            )?;
            return Ok(AuthorizeResponse {
                authenticated: false,
                error: Some(e),
                principal: None,
                access_key_id: None,
                results: Vec::new(),
                cache_seconds: 0,
            });
        }
    };
    if !client.temporary
        && let Err(e) =
            st.vault
                .record_access_key_use(&client.access_key_id, &client.service, &client.region)
    {
        tracing::warn!(error = %e, "could not record access key use");
    }
    let cctx = RequestContext {
        source_ip,
        secure_transport: r.secure_transport,
        region: Some(client.region.clone()),
    };
    let results = match st.vault.authorize_checks(
        &service.caller,
        &sctx,
        &client.caller,
        &cctx,
        &call.checks,
        &context,
    ) {
        Ok(r) => r,
        Err(e) => {
            if let Error::AccessDenied(m) = &e {
                let resource = call.checks.first().map_or("", |c| c.resource.as_str());
                let mut ev = event(
                    &service.caller.arn,
                    service.caller.account.as_str(),
                    &service.access_key_id,
                    "vault:Authorize",
                    resource,
                    "denied",
                    m,
                );
                ev.source_ip = peer.ip().to_string();
                record(vec![ev])?;
            }
            return Err(e.into());
        }
    };
    let all = st.vault.audit_data_events_cached()?;
    let events: Vec<crate::audit::Entry> = results
        .iter()
        .filter(|r| all || !r.allowed())
        .map(|r| {
            event(
                &client.caller.arn,
                client.caller.account.as_str(),
                &client.access_key_id,
                &r.action,
                &r.resource,
                if r.allowed() { "allowed" } else { "denied" },
                r.reason.as_deref().unwrap_or(""),
            )
        })
        .collect();
    record(events)?;
    let now = st.vault.now().unix_timestamp();
    let (userid, cache_seconds) = match &client.caller.kind {
        CallerKind::Session(c) => (
            c.principal_id.clone(),
            (c.expires_at - now).clamp(0, MAX_CACHE_SECONDS),
        ),
        CallerKind::User { user_id, .. } => (user_id.clone(), MAX_CACHE_SECONDS),
        CallerKind::Root => (client.caller.account.to_string(), MAX_CACHE_SECONDS),
    };
    Ok(AuthorizeResponse {
        authenticated: true,
        error: None,
        principal: Some(PrincipalOut {
            arn: client.caller.arn.clone(),
            account: client.caller.account.to_string(),
            userid,
        }),
        access_key_id: Some(client.access_key_id.clone()),
        results,
        cache_seconds,
    })
}

fn sigv4_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Verifies the client's own signature, with S3's payload-hash rules for `s3`.
fn authenticate_client(
    st: &AppState,
    call: &AuthorizeRequest,
) -> Result<Authenticated, ClientAuthError> {
    let r = &call.request;
    let pairs: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    // First parse with the service-computed hash, to learn the signing scope.
    let probe = HttpRequest::new(
        &r.method,
        &r.path,
        &r.query,
        pairs.clone(),
        PayloadHash::Precomputed(&r.body_sha256),
    )
    .map_err(|e| client_error(AuthError::from(e), false))?;
    let parsed = sigv4::parse_auth(&probe).map_err(|e| client_error(AuthError::from(e), false))?;
    let s3 = parsed.service() == "s3";
    let claimed = probe
        .header_values("x-amz-content-sha256")
        .next()
        .map(str::trim);
    let payload = match claimed {
        _ if s3 && parsed.location() == AuthLocation::Query => PayloadHash::Unsigned,
        Some(sigv4::request::UNSIGNED_PAYLOAD) if s3 => PayloadHash::Unsigned,
        Some(v) if v.starts_with("STREAMING-") => {
            return Err(ClientAuthError {
                status: 501,
                code: "NotImplemented".into(),
                message: format!(
                    "streaming (aws-chunked) payloads ({}) are not supported; send the payload in one piece",
                    sigv4::error::excerpt(v, 64)
                ),
            });
        }
        Some(v) if v != r.body_sha256 => {
            return Err(ClientAuthError {
                status: 400,
                code: if s3 {
                    "XAmzContentSHA256Mismatch"
                } else {
                    "SignatureDoesNotMatch"
                }
                .into(),
                message:
                    "The provided 'x-amz-content-sha256' header does not match what was computed."
                        .into(),
            });
        }
        None if s3 => {
            return Err(ClientAuthError {
                status: 400,
                code: "InvalidRequest".into(),
                message: "Missing required header for this request: x-amz-content-sha256".into(),
            });
        }
        _ => PayloadHash::Precomputed(&r.body_sha256),
    };
    let req = HttpRequest::new(&r.method, &r.path, &r.query, pairs, payload)
        .map_err(|e| client_error(AuthError::from(e), s3))?;
    let temporary = parsed.security_token().is_some() || parsed.access_key_id().starts_with("ASIA");
    auth::authenticate_request(st, &req, &parsed).map_err(|e| {
        let mut out = client_error(e, s3);
        if s3 && out.code == "InvalidClientTokenId" {
            if temporary {
                out.status = 400;
                out.code = "InvalidToken".into();
                "The provided token is malformed or otherwise invalid."
                    .clone_into(&mut out.message);
            } else {
                out.code = "InvalidAccessKeyId".into();
                "The AWS Access Key Id you provided does not exist in our records."
                    .clone_into(&mut out.message);
            }
        } else if s3 && out.code == "ExpiredToken" {
            out.status = 400;
        }
        out
    })
}

fn client_error(e: AuthError, s3: bool) -> ClientAuthError {
    let code = match e.code {
        "IncompleteSignature" | "MalformedQueryString" if s3 => "AuthorizationHeaderMalformed",
        "MissingAuthenticationToken" if s3 => "AccessDenied",
        other => other,
    };
    ClientAuthError {
        status: e.status,
        code: code.to_owned(),
        message: e.message,
    }
}

/// `POST /vault/v1/resource-policies/{put,get,delete,list}`.
pub async fn resource_policies(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(op): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let timer = super::metrics::Timer::start();
    let st2 = Arc::clone(&st);
    let joined = tokio::task::spawn_blocking(move || -> Result<Value, WireError> {
        let authn = auth::authenticate(&st2, peer.ip(), &method, &uri, &headers, &body)?;
        authn.require_service("vault")?;
        let guard = super::audit_scope(
            &st2.request_id(),
            &authn,
            peer,
            &headers,
            format!("vault:ResourcePolicies.{op}"),
        );
        let result = resource_policy_op(&st2, &authn, peer, &op, &body);
        super::audited(&st2.vault, guard, result)
    })
    .await;
    match joined {
        Ok(Ok(v)) => {
            st.metrics.observe("ResourcePolicy", "ok", timer.seconds());
            json_response(StatusCode::OK, v.to_string())
        }
        Ok(Err(e)) => {
            st.metrics
                .observe("ResourcePolicy", e.code, timer.seconds());
            error_response(&e)
        }
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"ServiceFailure"}"#.to_owned(),
        ),
    }
}

fn resource_policy_op(
    st2: &AppState,
    authn: &Authenticated,
    peer: SocketAddr,
    op: &str,
    body: &[u8],
) -> Result<Value, WireError> {
    {
        let ctx = service_ctx(st2, peer, authn);
        let v: Value = serde_json::from_slice(body).map_err(|_| {
            WireError::from(Error::Validation("the body must be a JSON object".into()))
        })?;
        let field = |k: &str| -> Result<String, WireError> {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Error::Validation(format!("the field `{k}` is required")).into())
        };
        let vault = &st2.vault;
        let who = &authn.caller;
        Ok(match op {
            "put" => json!({ "ResourcePolicy": vault.put_resource_policy(
                who,
                &ctx,
                &field("resource_arn")?,
                &field("policy")?,
            )? }),
            "get" => {
                json!({ "ResourcePolicy": vault.get_resource_policy(who, &ctx, &field("resource_arn")?)? })
            }
            "delete" => {
                vault.delete_resource_policy(who, &ctx, &field("resource_arn")?)?;
                json!({})
            }
            "list" => {
                let prefix = v.get("prefix").and_then(Value::as_str).unwrap_or("");
                json!({ "ResourcePolicies": vault.list_resource_policies(who, &ctx, prefix)? })
            }
            other => {
                return Err(Error::InvalidInput(format!(
                    "unknown resource-policy operation `{}`; use put, get, delete or list",
                    other.escape_default()
                ))
                .into());
            }
        })
    }
}
