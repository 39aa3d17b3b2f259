//! Load harness for `POST /vault/v1/authorize`: a real server on loopback, a service
//! calling it with signed requests, latency percentiles of warm decisions.
//!
//! `cargo bench --bench authorize_load` (`-- --requests N --concurrency C` to change the
//! load). The service call is signed before the clock starts, so the figures are the
//! vault's round trip: HTTP on loopback, the service's SigV4 check, the client's SigV4
//! check and the policy decision.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    reason = "benchmark harness: failures stop the run loudly; it measures elapsed time"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iamvault::api::{AppState, router};
use iamvault::clock::{Clock, Env, SystemClock};
use iamvault::model::AccountId;
use iamvault::service::{
    AssumeRoleRequest, AuthorizeRequest, AuthorizeResponse, Caller, Check, ClientRequest,
    InitOptions, NewRole, RequestContext, Vault,
};
use iamvault::sigv4::{self, OwnedRequest};
use iamvault::store::EntityKind;

const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A signed service call: its headers and body.
type Call = (Vec<(String, String)>, Vec<u8>);

struct Key {
    id: String,
    secret: String,
    token: Option<String>,
}

fn args() -> (usize, usize) {
    let a: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: usize| {
        a.iter()
            .position(|x| x == name)
            .and_then(|i| a.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (get("--requests", 20_000), get("--concurrency", 8))
}

fn key_of(vault: &Vault, root: &Caller, name: &str, policy: &str) -> Key {
    let ctx = RequestContext::default();
    vault
        .create_user(root, &ctx, name, None, None, &[])
        .unwrap();
    vault
        .put_inline_policy(root, &ctx, EntityKind::User, name, "p", policy)
        .unwrap();
    let k = vault.create_access_key(root, &ctx, Some(name)).unwrap();
    Key {
        id: k.metadata.access_key_id,
        secret: k.secret.expose().to_owned(),
        token: None,
    }
}

fn signed_call(service: &Key, client: &Key, host: &str) -> Call {
    let now = SystemClock.now();
    let mut creq = OwnedRequest::new("GET", "/reports/2026/q3.csv")
        .with_header("host", "objects.internal:9000")
        .with_header("x-amz-content-sha256", EMPTY);
    sigv4::sign(
        &mut creq,
        &client.id,
        client.secret.as_bytes(),
        client.token.as_deref(),
        "us-east-1",
        "s3",
        now,
    )
    .unwrap();
    let body = serde_json::to_vec(&AuthorizeRequest {
        request: ClientRequest {
            method: creq.method,
            path: creq.path,
            query: creq.query,
            headers: creq.headers,
            body_sha256: EMPTY.into(),
            source_ip: Some("10.0.0.7".into()),
            secure_transport: true,
        },
        checks: vec![Check {
            action: "s3:GetObject".into(),
            resource: "arn:aws:s3:::reports/2026/q3.csv".into(),
        }],
        context: serde_json::Map::new(),
    })
    .unwrap();
    let mut req = OwnedRequest::new("POST", "/vault/v1/authorize")
        .with_header("host", host)
        .with_header("content-type", "application/json")
        .with_body(body.clone());
    sigv4::sign(
        &mut req,
        &service.id,
        service.secret.as_bytes(),
        None,
        "us-east-1",
        "vault",
        now,
    )
    .unwrap();
    (req.headers, body)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn run(
    http: &reqwest::Client,
    url: &str,
    calls: &[Call],
    concurrency: usize,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let per = calls.len() / concurrency;
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let chunk: Vec<_> = calls[c * per..(c + 1) * per].to_vec();
        let http = http.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(chunk.len());
            for (headers, body) in chunk {
                let mut b = http.post(&url).body(body);
                for (k, v) in &headers {
                    if k != "host" {
                        b = b.header(k.as_str(), v.as_str());
                    }
                }
                let t = Instant::now();
                let resp = b.send().await.unwrap();
                let status = resp.status();
                let bytes = resp.bytes().await.unwrap();
                lat.push(t.elapsed());
                assert!(status.is_success(), "{}", String::from_utf8_lossy(&bytes));
                let a: AuthorizeResponse = serde_json::from_slice(&bytes).unwrap();
                assert!(a.all_allowed(), "{a:?}");
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let wall = started.elapsed();
    all.sort();
    (all, wall)
}

fn main() {
    let (requests, concurrency) = args();
    let dir = tempfile::tempdir().unwrap();
    let acct = AccountId::parse("123456789012").unwrap();
    let (vault, _) = Vault::init(
        &dir.path().join("v"),
        Env::system(),
        InitOptions {
            account_id: Some(acct.clone()),
            ..InitOptions::default()
        },
    )
    .unwrap();
    let root = Caller::root(&acct);
    let ctx = RequestContext::default();
    let service = key_of(
        &vault,
        &root,
        "objstore",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"vault:Authorize","Resource":"arn:aws:s3:::*"}]}"#,
    );
    let alice = key_of(
        &vault,
        &root,
        "alice",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
    );
    vault
        .put_resource_policy(
            &root,
            &ctx,
            "arn:aws:s3:::reports",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/alice","arn:aws:iam::123456789012:role/app"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#,
        )
        .unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}"#;
    vault
        .create_role(
            &root,
            &ctx,
            &NewRole {
                name: "app",
                trust_policy: trust,
                ..NewRole::default()
            },
        )
        .unwrap();
    let s = vault
        .assume_role(
            &root,
            &ctx,
            &AssumeRoleRequest {
                role_arn: "arn:aws:iam::123456789012:role/app".into(),
                session_name: "load".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let session = Key {
        id: s.claims.access_key_id.clone(),
        secret: s.secret.expose().to_owned(),
        token: Some(s.token.clone()),
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let state = Arc::new(AppState::new(Arc::new(vault), false).unwrap());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        axum::serve(
            listener,
            router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let host = addr.to_string();
    let url = format!("http://{addr}/vault/v1/authorize");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();

    println!(
        "authorize load: {requests} warm requests per run, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "| client credential | concurrency | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | req/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (label, client) in [
        ("long-term key (AKIA)", &alice),
        ("role session (ASIA)", &session),
    ] {
        for conc in [1, concurrency] {
            let calls: Vec<_> = (0..requests)
                .map(|_| signed_call(&service, client, &host))
                .collect();
            // Warm-up: fills the caches (and the connection pool).
            let warm: Vec<_> = calls.iter().take(200.max(conc)).cloned().collect();
            rt.block_on(run(&http, &url, &warm, conc));
            let (lat, wall) = rt.block_on(run(&http, &url, &calls, conc));
            println!(
                "| {label} | {conc} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
                pct(&lat, 0.50),
                pct(&lat, 0.90),
                pct(&lat, 0.99),
                pct(&lat, 0.999),
                pct(&lat, 1.0),
                lat.len() as f64 / wall.as_secs_f64()
            );
        }
    }
}
