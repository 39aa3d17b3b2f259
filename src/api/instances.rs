//! `POST /vault/v1/instances/credentials`: role credentials for a registered instance,
//! authenticated by the instance's Ed25519 signature (no SigV4: the instance has no AWS key).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;

use super::AppState;
use crate::error::Error;

/// The request an agent sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialRequest {
    public_key: String,
    timestamp: i64,
    nonce: String,
    signature: String,
}

fn json(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

/// The handler.
pub async fn credentials(
    State(st): State<Arc<AppState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let timer = super::metrics::Timer::start();
    let Ok(req) = serde_json::from_slice::<CredentialRequest>(&body) else {
        return json(
            StatusCode::BAD_REQUEST,
            r#"{"error":"InvalidRequest"}"#.to_owned(),
        );
    };
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(&req.signature) else {
        return json(
            StatusCode::FORBIDDEN,
            r#"{"error":"AccessDenied"}"#.to_owned(),
        );
    };
    let st2 = Arc::clone(&st);
    let result = tokio::task::spawn_blocking(move || {
        let guard = crate::service::audit_begin(crate::service::AuditContext {
            request_id: st2.request_id(),
            account: String::new(),
            principal: format!(
                "instance-key/{}",
                req.public_key.chars().take(64).collect::<String>()
            ),
            action: "vault:InstanceCredentials".into(),
            source_ip: peer.ip().to_string(),
            user_agent: super::user_agent(&headers),
            credential: "instance-key".into(),
        });
        let result =
            st2.vault
                .instance_credentials(&req.public_key, req.timestamp, &req.nonce, &sig);
        let message = match &result {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        let outcome = match &result {
            Ok(_) => crate::service::AuditOutcome::Allowed,
            Err(e) => crate::service::AuditOutcome::of(e, &message),
        };
        st2.vault.audit_finish(guard, outcome)?;
        result
    })
    .await;
    match result {
        Ok(Ok((instance_id, s))) => {
            st.metrics
                .observe("InstanceCredentials", "ok", timer.seconds());
            let exp = time::OffsetDateTime::from_unix_timestamp(s.claims.expires_at)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            let body = serde_json::json!({
                "InstanceId": instance_id,
                "RoleArn": s.claims.role_arn,
                "AccountId": s.claims.account,
                "AccessKeyId": s.claims.access_key_id,
                "SecretAccessKey": s.secret.expose(),
                "Token": s.token,
                "Expiration": crate::service::iso8601(&exp),
            });
            json(StatusCode::OK, body.to_string())
        }
        Ok(Err(e)) => {
            st.metrics
                .observe("InstanceCredentials", e.code(), timer.seconds());
            tracing::info!(error_code = e.code(), "instance credential request refused");
            let status = if matches!(e, Error::InvalidInput(_)) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::FORBIDDEN
            };
            json(
                status,
                serde_json::json!({ "error": e.code(), "message": e.to_string() }).to_string(),
            )
        }
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"ServiceFailure"}"#.to_owned(),
        ),
    }
}

/// `POST /vault/v1/instances/{register,list,deregister}`: the instance operations for
/// callers with AWS credentials, signed with SigV4 like every other call.
pub async fn manage(
    State(st): State<Arc<AppState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    axum::extract::Path(op): axum::extract::Path<String>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let st2 = Arc::clone(&st);
    let result = tokio::task::spawn_blocking(
        move || -> std::result::Result<serde_json::Value, super::WireError> {
            let authn = super::auth::authenticate(&st2, peer.ip(), &method, &uri, &headers, &body)?;
            authn.require_service("vault")?;
            let guard = super::audit_scope(
                &st2.request_id(),
                &authn,
                peer,
                &headers,
                format!("vault:Instances.{op}"),
            );
            let result = manage_op(&st2, &authn, peer, &op, &body);
            super::audited(&st2.vault, guard, result)
        },
    )
    .await;
    match result {
        Ok(Ok(v)) => json(StatusCode::OK, v.to_string()),
        Ok(Err(e)) => json(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            serde_json::json!({ "error": e.code, "message": e.message }).to_string(),
        ),
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"ServiceFailure"}"#.to_owned(),
        ),
    }
}

fn manage_op(
    st2: &AppState,
    authn: &super::auth::Authenticated,
    peer: std::net::SocketAddr,
    op: &str,
    body: &[u8],
) -> std::result::Result<serde_json::Value, super::WireError> {
    {
        {
            let ctx = crate::service::RequestContext {
                source_ip: Some(peer.ip()),
                secure_transport: st2.tls || peer.ip().is_loopback(),
                region: Some(authn.region.clone()),
            };
            let v: serde_json::Value =
                serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
            let field = |k: &str| -> std::result::Result<String, super::WireError> {
                v.get(k)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| Error::Validation(format!("the field `{k}` is required")).into())
            };
            let vault = &st2.vault;
            Ok(match op {
                "register" => {
                    let key = hex::decode(field("public_key")?)
                        .map_err(|_| Error::InvalidInput("public_key must be hex".into()))?;
                    serde_json::to_value(vault.register_instance(
                        &authn.caller,
                        &ctx,
                        &field("name")?,
                        &field("instance_profile")?,
                        &key,
                    )?)
                    .unwrap_or_default()
                }
                "list" => {
                    serde_json::json!({ "Instances": vault.list_instances(&authn.caller, &ctx)? })
                }
                "deregister" => {
                    vault.deregister_instance(&authn.caller, &ctx, &field("instance_id")?)?;
                    serde_json::json!({})
                }
                other => {
                    return Err(Error::InvalidInput(format!(
                        "unknown instance operation `{other}`"
                    ))
                    .into());
                }
            })
        }
    }
}
