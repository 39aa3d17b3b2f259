//! `POST /vault/v1/login`: password (and TOTP) sign-in that returns temporary credentials.
//!
//! Every authentication failure answers 401 with the same body, byte for byte; the cause
//! goes to the log. Requests are rate-limited per source address and per user name.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::error::Error;
use crate::model::{AccountId, SecretString};

/// The one body every authentication failure gets.
pub const FAILED: &str = r#"{"error":"AuthenticationFailed"}"#;

/// The login request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    account_id: String,
    user_name: String,
    password: String,
    #[serde(default)]
    mfa_code: Option<String>,
    #[serde(default)]
    new_password: Option<String>,
    #[serde(default)]
    duration_seconds: Option<i64>,
}

fn json(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn failed() -> Response {
    json(StatusCode::UNAUTHORIZED, FAILED.to_owned())
}

/// The handler.
pub async fn handler(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let timer = super::metrics::Timer::start();
    let req: LoginRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(_) => {
            return json(
                StatusCode::BAD_REQUEST,
                r#"{"error":"InvalidRequest","message":"expected a JSON object with account_id, user_name and password"}"#.to_owned(),
            );
        }
    };
    let now = st.vault.now();
    let ip: IpAddr = peer.ip();
    let name_key = format!("{}/{}", req.account_id, req.user_name.to_ascii_lowercase());
    if !st.login_by_ip.take(ip.to_string(), now) || !st.login_by_name.take(name_key, now) {
        return json(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"error":"Throttling"}"#.to_owned(),
        );
    }
    // Wait for admission as an async task: a flood queues here, not as hundreds of parked
    // blocking threads, and a request shed by the timeout while waiting never starts its
    // argon2 work. The permit moves into the blocking task and lives as long as it runs.
    let Ok(admitted) = st.vault.hash_pool().admission().acquire_owned().await else {
        return failed();
    };
    let st2 = Arc::clone(&st);
    let user_agent = super::user_agent(&headers);
    let result = tokio::task::spawn_blocking(move || {
        let _admitted = admitted;
        let guard = crate::service::audit_begin(crate::service::AuditContext {
            request_id: st2.request_id(),
            account: req.account_id.chars().take(64).collect(),
            principal: format!(
                "arn:aws:iam::{}:user/{}",
                req.account_id.chars().take(64).collect::<String>(),
                req.user_name.chars().take(128).collect::<String>()
            ),
            action: "signin:ConsoleLogin".into(),
            source_ip: ip.to_string(),
            user_agent,
            credential: if req.mfa_code.is_some() {
                "password+mfa".into()
            } else {
                "password".into()
            },
        });
        let result = (|| {
            let account =
                AccountId::parse(&req.account_id).map_err(|_| Error::AuthenticationFailed)?;
            let password = SecretString::new(req.password);
            let new_password = req.new_password.map(SecretString::new);
            // A success's audit record is written in the sign-in's own transaction;
            // a failure's is queued below.
            st2.vault.sign_in_session(
                &account,
                &req.user_name,
                &password,
                req.mfa_code.as_deref(),
                new_password.as_ref(),
                req.duration_seconds,
            )
        })();
        let message = match &result {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        let outcome = match &result {
            Ok(_) => crate::service::AuditOutcome::Allowed,
            Err(e) => crate::service::AuditOutcome::of(e, &message),
        };
        // Queued here, awaited below: the blocking thread and the admission permit go
        // to the next sign-in while the record's fsync runs.
        let pending = st2.vault.audit_finish_pending(guard, outcome);
        (result, pending)
    })
    .await;
    let result = match result {
        // The answer still waits until the record is durable.
        Ok((result, pending)) => match pending.durable().await {
            Ok(()) => Ok(result),
            Err(e) => Ok(Err(e)),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(Ok(s)) => {
            let creds = serde_json::to_value(&s).unwrap_or_default();
            let body = serde_json::json!({ "Credentials": creds, "MfaAuthenticated": s.claims.mfa_time.is_some() });
            st.metrics.observe("Login", "ok", timer.seconds());
            json(StatusCode::OK, body.to_string())
        }
        Ok(Err(Error::PasswordChangeRequired(m))) => {
            st.metrics
                .observe("Login", "PasswordChangeRequired", timer.seconds());
            json(
                StatusCode::FORBIDDEN,
                serde_json::json!({ "error": "PasswordChangeRequired", "message": m }).to_string(),
            )
        }
        Ok(Err(e @ (Error::PasswordPolicyViolation(_) | Error::Validation(_)))) => json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": e.code(), "message": e.to_string() }).to_string(),
        ),
        Ok(Err(e)) => {
            // The cause stays in the log; the client sees one answer.
            tracing::info!(error_code = e.code(), "login failed");
            st.metrics
                .observe("Login", "AuthenticationFailed", timer.seconds());
            failed()
        }
        Err(_) => failed(),
    }
}
