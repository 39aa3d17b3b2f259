//! Load harness for issuance with auditing: a real server on loopback (on a data
//! directory on disk, `synchronous=FULL`), clients calling `AssumeRole` (audit record
//! through group commit) and `CreateUser` (audit record inside the change's own
//! transaction), sequentially and concurrently.
//!
//! `cargo bench --bench issuance_load` (`-- --requests N --concurrency C`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    reason = "benchmark harness: failures stop the run loudly; it measures elapsed time"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use iamvault::api::{AppState, router};
use iamvault::clock::{Clock, Env, SystemClock};
use iamvault::model::AccountId;
use iamvault::service::{Caller, InitOptions, NewRole, RequestContext, Vault};
use iamvault::sigv4::{self, OwnedRequest};
use iamvault::store::EntityKind;

fn args() -> (usize, usize) {
    let a: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: usize| {
        a.iter()
            .position(|x| x == name)
            .and_then(|i| a.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (get("--requests", 2_000), get("--concurrency", 8))
}

struct Key {
    id: String,
    secret: String,
}

fn form(pairs: &[(&str, &str)]) -> String {
    iamvault::client::form_urlencoded(pairs)
}

fn signed(key: &Key, host: &str, service: &str, body: String) -> (Vec<(String, String)>, String) {
    let mut req = OwnedRequest::new("POST", "/")
        .with_header("host", host)
        .with_header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .with_body(body.clone().into_bytes());
    sigv4::sign(
        &mut req,
        &key.id,
        key.secret.as_bytes(),
        None,
        "us-east-1",
        service,
        SystemClock.now(),
    )
    .unwrap();
    (req.headers, body)
}

async fn run(
    http: &reqwest::Client,
    url: &str,
    calls: Vec<(Vec<(String, String)>, String)>,
    concurrency: usize,
) -> (Vec<Duration>, Duration) {
    let calls = Arc::new(calls);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, calls, next) = (
            http.clone(),
            url.to_owned(),
            Arc::clone(&calls),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((headers, body)) = calls.get(i) else {
                    return lat;
                };
                let mut b = http.post(&url).body(body.clone());
                for (k, v) in headers {
                    if k != "host" {
                        b = b.header(k.as_str(), v.as_str());
                    }
                }
                let t = Instant::now();
                let resp = b.send().await.unwrap();
                let status = resp.status();
                let text = resp.text().await.unwrap();
                lat.push(t.elapsed());
                assert!(status.is_success(), "{text}");
            }
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

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
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
    vault
        .create_user(&root, &ctx, "loader", None, None, &[])
        .unwrap();
    vault
        .attach_policy(
            &root,
            &ctx,
            EntityKind::User,
            "loader",
            "arn:aws:iam::aws:policy/AdministratorAccess",
        )
        .unwrap();
    let k = vault
        .create_access_key(&root, &ctx, Some("loader"))
        .unwrap();
    let key = Key {
        id: k.metadata.access_key_id,
        secret: k.secret.expose().to_owned(),
    };
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
    let vault = Arc::new(vault);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let state = Arc::new(AppState::new(Arc::clone(&vault), false).unwrap());
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
    let url = format!("http://{addr}/");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();

    println!(
        "issuance load: {requests} requests per row, data directory on disk, synchronous=FULL"
    );
    println!(
        "| operation | concurrency | p50 ms | p99 ms | req/s | audit records per group commit |"
    );
    println!("|---|---|---|---|---|---|");
    let mut n = 0;
    for op in ["AssumeRole", "CreateUser"] {
        for conc in [1, concurrency] {
            let calls: Vec<_> = (0..requests)
                .map(|_| {
                    n += 1;
                    let name = format!("u{n}");
                    match op {
                        "AssumeRole" => signed(
                            &key,
                            &host,
                            "sts",
                            form(&[
                                ("Action", "AssumeRole"),
                                ("Version", "2011-06-15"),
                                ("RoleArn", "arn:aws:iam::123456789012:role/app"),
                                ("RoleSessionName", &name),
                            ]),
                        ),
                        _ => signed(
                            &key,
                            &host,
                            "iam",
                            form(&[
                                ("Action", "CreateUser"),
                                ("Version", "2010-05-08"),
                                ("UserName", &name),
                            ]),
                        ),
                    }
                })
                .collect();
            let (b0, r0) = vault.audit_group_commits();
            let (lat, wall) = rt.block_on(run(&http, &url, calls, conc));
            let (b1, r1) = vault.audit_group_commits();
            let per_commit = if b1 > b0 {
                format!("{:.2}", (r1 - r0) as f64 / (b1 - b0) as f64)
            } else {
                "— (in the change's transaction)".to_owned()
            };
            println!(
                "| {op} | {conc} | {:.2} | {:.2} | {:.0} | {per_commit} |",
                pct(&lat, 0.5),
                pct(&lat, 0.99),
                lat.len() as f64 / wall.as_secs_f64()
            );
        }
    }
    assert!(vault.audit_verify().unwrap().ok());
}
