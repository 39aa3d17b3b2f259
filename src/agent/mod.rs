//! The workload agent: runs on an EC2-like host, holds the instance's Ed25519 key, fetches
//! role credentials from the vault and serves them the way EC2 and ECS do — the IMDSv2
//! protocol and the container credentials endpoint — so unmodified AWS SDKs pick them up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration as StdDuration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::clock::{Clock, Random, SystemClock, SystemRandom};
use crate::error::{Error, Result};
use crate::model::ct_eq;

/// Credentials are renewed this long before they expire (SDKs refresh 15 minutes early).
pub const REFRESH_BEFORE: time::Duration = time::Duration::minutes(20);
const KEY_HEADER: &str = "iamvault-instance-key-v1:";

/// Reads an instance key file (`iamvault instance keygen`); refuses one others can read.
pub fn read_key(path: &Path) -> Result<SigningKey> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::Config(format!("cannot read `{}`: {e}", path.display())))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(Error::Config(format!(
            "`{}` must be readable by its owner only (chmod 600)",
            path.display()
        )));
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read `{}`: {e}", path.display())))?,
    );
    let bad = || {
        Error::Config(format!(
            "`{}` is not an iamvault instance key",
            path.display()
        ))
    };
    let hexpart = text.trim().strip_prefix(KEY_HEADER).ok_or_else(bad)?;
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hexpart, seed.as_mut()).map_err(|_| bad())?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a new key to `path` (0600) and its public half to `path.pub`.
pub fn keygen(path: &Path) -> Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    SystemRandom::new().fill(seed.as_mut())?;
    let key = SigningKey::from_bytes(&seed);
    let public = hex::encode(key.verifying_key().as_bytes());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::Config(format!("cannot create `{}`: {e}", path.display())))?;
    let body = zeroize::Zeroizing::new(format!("{KEY_HEADER}{}\n", hex::encode(seed.as_ref())));
    f.write_all(body.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::Config(format!("cannot write `{}`: {e}", path.display())))?;
    let pub_path = path.with_extension(match path.extension() {
        Some(e) => format!("{}.pub", e.to_string_lossy()),
        None => "pub".to_owned(),
    });
    std::fs::write(&pub_path, format!("{public}\n"))
        .map_err(|e| Error::Config(format!("cannot write `{}`: {e}", pub_path.display())))?;
    Ok(public)
}

/// Credentials as the vault returned them.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Fetched {
    instance_id: String,
    role_arn: Option<String>,
    account_id: String,
    access_key_id: String,
    secret_access_key: String,
    token: String,
    expiration: String,
}

struct Cached {
    creds: Fetched,
    expires: OffsetDateTime,
    fetched_at: OffsetDateTime,
}

struct AgentState {
    cached: RwLock<Option<Cached>>,
    imds_tokens: Mutex<HashMap<String, OffsetDateTime>>,
    container_token: Option<zeroize::Zeroizing<String>>,
    clock: SystemClock,
}

/// Asks the vault for credentials, signing the request with the instance key.
async fn fetch(http: &reqwest::Client, endpoint: &str, key: &SigningKey) -> Result<Fetched> {
    let mut n = [0u8; 16];
    SystemRandom::new().fill(&mut n)?;
    let nonce = hex::encode(n);
    let ts = SystemClock.now().unix_timestamp();
    let public = hex::encode(key.verifying_key().as_bytes());
    let sig = key.sign(&crate::service::instance_request_message(
        &public, ts, &nonce,
    ));
    let body = serde_json::json!({
        "public_key": public,
        "timestamp": ts,
        "nonce": nonce,
        "signature": base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
    });
    let resp = http
        .post(format!(
            "{}/vault/v1/instances/credentials",
            endpoint.trim_end_matches('/')
        ))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| {
            Error::Remote(
                "RequestFailed".into(),
                format!("cannot reach the vault: {e}"),
            )
        })?;
    let status = resp.status();
    let text = zeroize::Zeroizing::new(
        resp.text()
            .await
            .map_err(|e| Error::Remote("RequestFailed".into(), e.to_string()))?,
    );
    if !status.is_success() {
        return Err(Error::Remote(
            "InstanceCredentialsRefused".into(),
            format!("the vault answered {status}"),
        ));
    }
    serde_json::from_str(&text)
        .map_err(|e| Error::Remote("MalformedResponse".into(), e.to_string()))
}

/// Keeps the cache fresh: renews well before expiry; while the vault is unreachable the
/// cached credentials are served until they expire, and fetching retries with backoff.
async fn refresher(st: Arc<AgentState>, http: reqwest::Client, endpoint: String, key: SigningKey) {
    let mut backoff = 1u64;
    loop {
        let now = st.clock.now();
        let due = st
            .cached
            .read()
            .map(|c| c.as_ref().is_none_or(|c| c.expires - now < REFRESH_BEFORE))
            .unwrap_or(true);
        if due {
            match fetch(&http, &endpoint, &key).await {
                Ok(f) => {
                    let expires = OffsetDateTime::parse(
                        &f.expiration,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .unwrap_or(now);
                    tracing::info!(instance_id = %f.instance_id, expires = %f.expiration, "credentials refreshed");
                    if let Ok(mut c) = st.cached.write() {
                        *c = Some(Cached {
                            creds: f,
                            expires,
                            fetched_at: now,
                        });
                    }
                    backoff = 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_secs = backoff, "credential refresh failed; serving the cached credentials until they expire");
                    tokio::time::sleep(StdDuration::from_secs(backoff)).await;
                    backoff = (backoff * 2).min(60);
                    continue;
                }
            }
        }
        tokio::time::sleep(StdDuration::from_secs(5)).await;
    }
}

fn current(st: &AgentState) -> Option<Fetched> {
    let now = st.clock.now();
    st.cached
        .read()
        .ok()?
        .as_ref()
        .filter(|c| c.expires > now)
        .map(|c| c.creds.clone())
}

fn role_name(f: &Fetched) -> String {
    f.role_arn
        .as_deref()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or("")
        .to_owned()
}

fn text(status: StatusCode, body: String) -> Response {
    (status, body).into_response()
}

async fn imds_token(State(st): State<Arc<AgentState>>, headers: HeaderMap) -> Response {
    // A PUT relayed by a proxy is refused, as EC2 does (SSRF protection).
    if headers.contains_key("x-forwarded-for") {
        return text(StatusCode::FORBIDDEN, "Forbidden\n".into());
    }
    let ttl: i64 = match headers
        .get("x-aws-ec2-metadata-token-ttl-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
    {
        Some(t) if (1..=21_600).contains(&t) => t,
        _ => return text(StatusCode::BAD_REQUEST, "Bad Request\n".into()),
    };
    let mut b = [0u8; 32];
    if SystemRandom::new().fill(&mut b).is_err() {
        return text(StatusCode::INTERNAL_SERVER_ERROR, String::new());
    }
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let now = st.clock.now();
    if let Ok(mut t) = st.imds_tokens.lock() {
        t.retain(|_, exp| *exp > now);
        if t.len() > 10_000 {
            t.clear();
        }
        t.insert(token.clone(), now + time::Duration::seconds(ttl));
    }
    let mut r = text(StatusCode::OK, token);
    if let Ok(v) = ttl.to_string().parse() {
        r.headers_mut()
            .insert("x-aws-ec2-metadata-token-ttl-seconds", v);
    }
    r
}

fn imds_ok(st: &AgentState, headers: &HeaderMap) -> bool {
    let Some(tok) = headers
        .get("x-aws-ec2-metadata-token")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let now = st.clock.now();
    st.imds_tokens
        .lock()
        .map(|t| t.get(tok).is_some_and(|exp| *exp > now))
        .unwrap_or(false)
}

fn iso(t: OffsetDateTime) -> String {
    crate::service::iso8601(&t)
}

async fn imds_get(
    State(st): State<Arc<AgentState>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if !imds_ok(&st, &headers) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized\n".into());
    }
    let Some(f) = current(&st) else {
        return text(StatusCode::NOT_FOUND, "Not Found\n".into());
    };
    let updated = st
        .cached
        .read()
        .ok()
        .and_then(|c| c.as_ref().map(|c| c.fetched_at))
        .unwrap_or(st.clock.now());
    let role = role_name(&f);
    match path.trim_end_matches('/') {
        "meta-data/instance-id" => text(StatusCode::OK, f.instance_id.clone()),
        "meta-data/iam/security-credentials" => text(StatusCode::OK, role),
        p if p == format!("meta-data/iam/security-credentials/{role}") => {
            let body = serde_json::json!({
                "Code": "Success",
                "LastUpdated": iso(updated),
                "Type": "AWS-HMAC",
                "AccessKeyId": f.access_key_id,
                "SecretAccessKey": f.secret_access_key,
                "Token": f.token,
                "Expiration": f.expiration,
            });
            text(
                StatusCode::OK,
                serde_json::to_string_pretty(&body).unwrap_or_default(),
            )
        }
        "meta-data/iam/info" => {
            let body = serde_json::json!({
                "Code": "Success",
                "LastUpdated": iso(updated),
                "InstanceProfileArn": format!("arn:aws:iam::{}:instance-profile/{role}", f.account_id),
                "InstanceProfileId": f.instance_id,
            });
            text(
                StatusCode::OK,
                serde_json::to_string_pretty(&body).unwrap_or_default(),
            )
        }
        _ => text(StatusCode::NOT_FOUND, "Not Found\n".into()),
    }
}

async fn container(State(st): State<Arc<AgentState>>, headers: HeaderMap) -> Response {
    let Some(expected) = &st.container_token else {
        return text(StatusCode::NOT_FOUND, "Not Found\n".into());
    };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct_eq(given.as_bytes(), expected.as_bytes()) {
        return text(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"Unauthorized"}"#.into(),
        );
    }
    let Some(f) = current(&st) else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":"NoCredentials"}"#.into(),
        );
    };
    let body = serde_json::json!({
        "AccessKeyId": f.access_key_id,
        "SecretAccessKey": f.secret_access_key,
        "Token": f.token,
        "Expiration": f.expiration,
        "AccountId": f.account_id,
    });
    text(StatusCode::OK, body.to_string())
}

/// Runs the agent until SIGTERM or Ctrl-C.
pub async fn run(
    endpoint: String,
    key_file: &Path,
    listen: SocketAddr,
    container_token_file: Option<&Path>,
) -> Result<()> {
    let key = read_key(key_file)?;
    let container_token = match container_token_file {
        Some(p) => Some(zeroize::Zeroizing::new(
            std::fs::read_to_string(p)
                .map_err(|e| Error::Config(format!("cannot read `{}`: {e}", p.display())))?
                .trim()
                .to_owned(),
        )),
        None => None,
    };
    let st = Arc::new(AgentState {
        cached: RwLock::new(None),
        imds_tokens: Mutex::new(HashMap::new()),
        container_token,
        clock: SystemClock,
    });
    let http = reqwest::Client::builder()
        .timeout(StdDuration::from_secs(30))
        .build()
        .map_err(|e| Error::Config(format!("cannot build the http client: {e}")))?;
    // First fetch before serving, so SDKs never see an empty agent when the vault is up.
    match fetch(&http, &endpoint, &key).await {
        Ok(f) => {
            let now = st.clock.now();
            let expires = OffsetDateTime::parse(
                &f.expiration,
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap_or(now);
            tracing::info!(instance_id = %f.instance_id, "first credentials fetched");
            if let Ok(mut c) = st.cached.write() {
                *c = Some(Cached {
                    creds: f,
                    expires,
                    fetched_at: now,
                });
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "first credential fetch failed; retrying in the background")
        }
    }
    tokio::spawn(refresher(Arc::clone(&st), http, endpoint, key));
    let app = Router::new()
        .route("/latest/api/token", put(imds_token))
        .route("/latest/{*path}", get(imds_get))
        .route("/v1/container-credentials", get(container))
        .with_state(st);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Config(e.to_string()))?;
    println!("iamvault agent listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Error::Config(format!("the agent failed: {e}")))
}

/// Resolves on SIGINT or SIGTERM (what systemd and container runtimes send), for a
/// graceful shutdown of the server and the agent.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
