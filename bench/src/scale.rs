//! `scale`: start-up time, memory, authenticated-request rate, ListUsers pagination and
//! the credential report of a seeded vault, next to a small vault measured the same way.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::conn::Conn;
use crate::load::{self, Stats, Stop};
use crate::scenario::{self, Inputs, NotReady, Scenario};
use crate::seed::{self, SeedKeys};
use crate::wire::{self, Target};

pub struct ScaleArgs {
    pub vaults: Vec<(String, PathBuf, PathBuf)>,
    pub bin: PathBuf,
    pub clients: usize,
    pub duration: f64,
    pub sample: usize,
}

#[derive(Debug, Default)]
pub struct Figures {
    pub label: String,
    pub users_listed: usize,
    pub startup_s: f64,
    pub rss_idle_mib: f64,
    pub rss_after_mib: f64,
    pub hwm_mib: f64,
    pub load: Stats,
    pub list_users_s: f64,
    pub hwm_after_list_mib: f64,
    pub list_users_pages: usize,
    pub first_page_s: f64,
    pub report_s: f64,
    pub report_rows: usize,
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// `VmRSS` and `VmHWM` of `pid`, in MiB.
pub fn rss_mib(pid: u32) -> (f64, f64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

async fn measure(
    a: &ScaleArgs,
    label: &str,
    dir: &Path,
    keys: &SeedKeys,
) -> Result<Figures, String> {
    let mut f = Figures {
        label: label.to_owned(),
        ..Figures::default()
    };
    let port = free_port()?;
    let log = std::fs::File::create(dir.with_extension("serve.log")).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(&a.bin)
        .arg("--data-dir")
        .arg(dir)
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", a.bin.display()))?;
    let res = async {
        let t = Target::new(&format!("http://127.0.0.1:{port}"))?;
        let http = wire::http_client(None)?;
        loop {
            if started.elapsed() > Duration::from_secs(600) {
                return Err("the server did not answer /healthz within 600 s".to_owned());
            }
            if let Ok(Some(s)) = child.try_wait() {
                return Err(format!("the server exited: {s}"));
            }
            if let Ok(r) = http.get(format!("{}/healthz", t.base)).send().await
                && r.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        f.startup_s = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(500)).await;
        f.rss_idle_mib = rss_mib(child.id()).0;

        // Authenticated requests: GetCallerIdentity rotating through the sampled keys.
        let sample: Vec<_> = keys.sample.iter().take(a.sample).cloned().collect();
        let ready = scenario::prepare(
            Scenario::GetCallerIdentity,
            Inputs {
                target: &t,
                state: None,
                creds: None,
                keys: sample,
                clients: a.clients,
            },
        )
        .await
        .map_err(|e| match e {
            NotReady::Unsupported(s) | NotReady::Failed(s) => s,
        })?;
        let ready = Arc::new(ready);
        // Warm-up: every sampled key used once or more.
        let mut conns = (0..a.clients)
            .map(|_| Conn::new(&t))
            .collect::<Result<Vec<_>, _>>()?;
        load::drive(
            Arc::clone(&ready),
            &mut conns,
            Stop::Duration(Duration::from_secs(2)),
            false,
        )
        .await;
        f.load = load::drive(
            ready,
            &mut conns,
            Stop::Duration(Duration::from_secs_f64(a.duration)),
            true,
        )
        .await;
        (f.rss_after_mib, f.hwm_mib) = rss_mib(child.id());

        // ListUsers, every page of 1,000.
        let t0 = Instant::now();
        let mut marker: Option<String> = None;
        loop {
            let mut params = vec![("MaxItems", "1000".to_owned())];
            if let Some(m) = &marker {
                params.push(("Marker", m.clone()));
            }
            let pr: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let p = wire::query(&t, &keys.admin, "iam", "ListUsers", &pr)?;
            let xml = wire::call(&http, &t, p).await?;
            f.list_users_pages += 1;
            if f.list_users_pages == 1 {
                f.first_page_s = t0.elapsed().as_secs_f64();
            }
            f.users_listed += xml.matches("<UserName>").count();
            match wire::xml_field(&xml, "IsTruncated").as_deref() {
                Some("true") => marker = wire::xml_field(&xml, "Marker"),
                _ => break,
            }
            if marker.is_none() {
                break;
            }
        }
        f.list_users_s = t0.elapsed().as_secs_f64();
        f.hwm_after_list_mib = rss_mib(child.id()).1;
        Ok::<(), String>(())
    }
    .await;
    stop(&mut child);
    res?;

    // The credential report, through the local CLI with the server stopped.
    let t0 = Instant::now();
    let out = Command::new(&a.bin)
        .arg("--data-dir")
        .arg(dir)
        .arg("credential-report")
        .arg("--force")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    f.report_s = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("credential-report failed: {}", out.status));
    }
    f.report_rows = out.stdout.iter().filter(|b| **b == b'\n').count();
    Ok(f)
}

pub async fn scale(a: &ScaleArgs) -> Result<Vec<Figures>, String> {
    let mut out = Vec::new();
    for (label, dir, keys_path) in &a.vaults {
        let keys = seed::load_keys(keys_path)?;
        eprintln!("scale: measuring `{label}` ({})", dir.display());
        out.push(measure(a, label, dir, &keys).await?);
    }
    Ok(out)
}

pub fn print(figs: &[Figures], clients: usize) -> String {
    let mut s = format!(
        "| Vault | Start-up | RSS idle | RSS after load | Peak RSS after load | Peak RSS after ListUsers | GetCallerIdentity ops/s ({clients} clients) | p50 | p99 | ListUsers, all pages | first page | credential-report --force |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    for f in figs {
        s.push_str(&format!(
            "| {} | {:.2} s | {:.0} MiB | {:.0} MiB | {:.0} MiB | {:.0} MiB | {:.0}{} | {:.2} ms | {:.2} ms | {:.2} s ({} users, {} pages) | {:.3} s | {:.2} s ({} rows) |\n",
            f.label,
            f.startup_s,
            f.rss_idle_mib,
            f.rss_after_mib,
            f.hwm_mib,
            f.hwm_after_list_mib,
            f.load.rps,
            if f.load.errors > 0 {
                format!(" ({} errors: {})", f.load.errors, f.load.first_error.clone().unwrap_or_default())
            } else {
                String::new()
            },
            f.load.p50_ms,
            f.load.p99_ms,
            f.list_users_s,
            f.users_listed,
            f.list_users_pages,
            f.first_page_s,
            f.report_s,
            f.report_rows,
        ));
    }
    s
}
