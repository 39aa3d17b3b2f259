//! `iamvault serve`: the AWS-compatible server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::{Format, Output};
use crate::api::{self, AppState};
use crate::clock::Env;
use crate::error::{Error, Result};
use crate::service::{InitOptions, Vault, vault_exists};

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8900")]
    listen: SocketAddr,
    /// PEM certificate chain for TLS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (credentials then cross the network in
    /// the clear: only behind a TLS-terminating proxy).
    #[arg(long)]
    insecure_http: bool,
    /// Also append every audit record to FILE as JSON lines, for log shippers (within a
    /// second of the record; resumes after the last record already in the file).
    #[arg(long, value_name = "FILE")]
    audit_jsonl: Option<PathBuf>,
    /// Requests in flight at once; past it new requests get `Throttling` (HTTP 429) at
    /// once instead of waiting.
    #[arg(long, default_value_t = crate::api::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
}

/// Appends the audit records after the file's last one to `path`; returns the last
/// position written. The database stays the record of truth: the file is a copy.
pub fn export_audit(vault: &Vault, path: &Path, mut last: i64) -> Result<i64> {
    use std::io::Write as _;
    let rows = vault.audit_page(last, 10_000)?;
    if rows.is_empty() {
        return Ok(last);
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::Config(format!("cannot open `{}`: {e}", path.display())))?;
    let mut buf = String::new();
    for r in &rows {
        buf.push_str(&crate::audit::json_line(r));
        buf.push('\n');
        last = r.seq;
    }
    f.write_all(buf.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(|e| Error::Config(format!("cannot write `{}`: {e}", path.display())))?;
    Ok(last)
}

/// The position of the last record already in a JSON-lines file (0 when none).
pub fn exported_up_to(path: &Path) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        })
        .and_then(|v| v.get("seq").and_then(serde_json::Value::as_i64))
        .unwrap_or(0)
}

fn example(data_dir: &Path, url: &str) -> String {
    format!(
        "AWS_SHARED_CREDENTIALS_FILE={}/bootstrap-credentials aws --profile iamvault-admin --region us-east-1 --endpoint-url {url} sts get-caller-identity",
        data_dir.display()
    )
}

pub(super) fn run(
    data_dir: &Path,
    format: Format,
    a: ServeArgs,
    passphrase: Option<&crate::model::SecretString>,
) -> Result<Output> {
    let tls = a.tls_cert.is_some();
    if !tls && !a.listen.ip().is_loopback() && !a.insecure_http {
        return Err(Error::InvalidInput(format!(
            "refusing to serve plain HTTP on the non-loopback address {}: pass --tls-cert and --tls-key, or --insecure-http behind a TLS proxy",
            a.listen
        )));
    }
    // Lines go to a buffer that a thread writes out (see `logbuf`): not lossy, and the
    // guard writes out what is buffered when `serve` returns.
    let (log_writer, _log_guard) = super::logbuf::spawn(std::io::stderr(), Default::default())
        .map_err(|e| Error::Internal(format!("cannot start the log writer: {e}")))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(super::logbuf::ansi())
        .with_writer(log_writer)
        .try_init();
    let vault = if vault_exists(data_dir) {
        Vault::open_with(data_dir, Env::system(), passphrase)?
    } else {
        let (vault, out) = Vault::init(
            data_dir,
            Env::system(),
            InitOptions {
                passphrase: passphrase.cloned(),
                ..InitOptions::default()
            },
        )?;
        let init = super::init::describe(data_dir, &out)?;
        init.print(format);
        vault
    };
    // One server per data directory; `rekey --new-master-key` checks the same lock.
    let _lock = crate::service::lock_data_dir(data_dir)?;
    let mut state = AppState::new(Arc::new(vault), tls)?;
    state.max_in_flight = a.max_in_flight.max(1);
    let state = Arc::new(state);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    if let Some(path) = a.audit_jsonl.clone() {
        let vault = Arc::clone(&state.vault);
        runtime.spawn(async move {
            let mut last = exported_up_to(&path);
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                let (v, p) = (Arc::clone(&vault), path.clone());
                match tokio::task::spawn_blocking(move || export_audit(&v, &p, last)).await {
                    Ok(Ok(n)) => last = n,
                    Ok(Err(e)) => tracing::error!(error = %e, "audit JSON-lines export failed"),
                    Err(_) => tracing::error!("audit JSON-lines export panicked"),
                }
            }
        });
    }
    runtime.block_on(serve(state, data_dir, a))?;
    Ok(Output::done("iamvault stopped"))
}

async fn serve(state: Arc<AppState>, data_dir: &Path, a: ServeArgs) -> Result<()> {
    let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    Error::Config(format!("cannot load the TLS certificate or key: {e}"))
                })?;
            let handle = axum_server::Handle::new();
            let h2 = handle.clone();
            tokio::spawn(async move {
                crate::agent::shutdown_signal().await;
                h2.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            let server = axum_server::bind_rustls(a.listen, config).handle(handle.clone());
            let h3 = handle.clone();
            let dir = data_dir.to_owned();
            tokio::spawn(async move {
                if let Some(addr) = h3.listening().await {
                    announce(&dir, &format!("https://{addr}"));
                }
            });
            server
                .serve(app)
                .await
                .map_err(|e| Error::Config(format!("the server failed: {e}")))
        }
        _ => {
            let listener = tokio::net::TcpListener::bind(a.listen)
                .await
                .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", a.listen)))?;
            let addr = listener
                .local_addr()
                .map_err(|e| Error::Config(format!("cannot read the listening address: {e}")))?;
            announce(data_dir, &format!("http://{addr}"));
            axum::serve(listener, app)
                .with_graceful_shutdown(crate::agent::shutdown_signal())
                .await
                .map_err(|e| Error::Config(format!("the server failed: {e}")))
        }
    }
}

fn announce(data_dir: &Path, url: &str) {
    println!("iamvault listening on {url}");
    println!("try: {}", example(data_dir, url));
    tracing::info!(%url, "listening");
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{TestClock, TestRandom};
    use crate::service::{AuditContext, AuditOutcome, Caller, audit_begin};

    #[test]
    fn the_jsonl_sink_appends_each_record_once_and_resumes() {
        let clock = TestClock::new(time::macros::datetime!(2026-06-01 12:00 UTC));
        let v = Vault::in_memory(Env {
            clock: Arc::new(clock),
            rng: Arc::new(TestRandom::new(1)),
        })
        .unwrap();
        let root = Caller::root(&crate::model::AccountId::parse("123456789012").unwrap());
        let record = |i: i32| {
            let g = audit_begin(AuditContext {
                request_id: format!("r{i}"),
                action: "sts:GetCallerIdentity".into(),
                principal: root.arn.clone(),
                ..AuditContext::default()
            });
            v.audit_finish(g, AuditOutcome::Allowed).unwrap();
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        for i in 0..3 {
            record(i);
        }
        let last = export_audit(&v, &path, exported_up_to(&path)).unwrap();
        assert_eq!(last, 3);
        for i in 3..5 {
            record(i);
        }
        // A restart: resumes from the file.
        assert_eq!(exported_up_to(&path), 3);
        assert_eq!(export_audit(&v, &path, exported_up_to(&path)).unwrap(), 5);
        assert_eq!(export_audit(&v, &path, 5).unwrap(), 5);
        let text = std::fs::read_to_string(&path).unwrap();
        let seqs: Vec<i64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        assert!(text.contains("\"request_id\":\"r4\""));
    }
}
