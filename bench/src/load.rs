//! The load driver: N concurrent clients, each running one operation after another,
//! latency per operation from the first byte sent to the last byte received.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::conn::Conn;
use crate::scenario::{Outcome, Ready};

/// How long a run lasts.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    Duration(Duration),
    Requests(u64),
}

/// The figures of one run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    pub ops: u64,
    pub errors: u64,
    pub secs: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub first_error: Option<String>,
    /// HTTP requests sent, and their own latency percentiles: the same as the
    /// operation's for a one-request scenario; for `create-delete-access-key` (two
    /// requests per operation) each request's. Absent from results written before them.
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub req_p50_ms: f64,
    #[serde(default)]
    pub req_p99_ms: f64,
    #[serde(default)]
    pub req_p999_ms: f64,
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((sorted.len() as f64) * p).ceil().max(1.0) as usize;
    f64::from(sorted.get(rank - 1).copied().unwrap_or(0)) / 1000.0
}

/// Runs `ready` with one concurrent client per connection in `conns` until `stop`; with a
/// progress bar when `progress`. The connections are handed back open, so a measured run
/// after a warm-up does not time their opening.
pub async fn drive(ready: Arc<Ready>, conns: &mut Vec<Conn>, stop: Stop, progress: bool) -> Stats {
    let done = Arc::new(AtomicU64::new(0));
    let claimed = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = match stop {
        Stop::Duration(d) => Some(started + d),
        Stop::Requests(_) => None,
    };
    let limit = match stop {
        Stop::Requests(n) => n,
        Stop::Duration(_) => u64::MAX,
    };
    let bar = if progress {
        let (len, tmpl) = match stop {
            Stop::Duration(d) => (
                d.as_millis() as u64,
                "{spinner} {elapsed_precise} [{bar:40}] {msg}",
            ),
            Stop::Requests(n) => (
                n,
                "{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} {msg}",
            ),
        };
        let b = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template(tmpl) {
            b.set_style(style.progress_chars("=> "));
        }
        Some(b)
    } else {
        None
    };
    let ticker = bar.clone().map(|b| {
        let (done, finished) = (Arc::clone(&done), Arc::clone(&finished));
        tokio::spawn(async move {
            while !finished.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let n = done.load(Ordering::Relaxed);
                let el = started.elapsed();
                match stop {
                    Stop::Duration(_) => b.set_position(el.as_millis() as u64),
                    Stop::Requests(_) => b.set_position(n),
                }
                b.set_message(format!(
                    "{n} ops, {:.0} ops/s",
                    n as f64 / el.as_secs_f64().max(1e-9)
                ));
            }
        })
    });
    let mut tasks = Vec::new();
    for (w, mut conn) in conns.drain(..).enumerate() {
        let (ready, done, claimed) = (Arc::clone(&ready), Arc::clone(&done), Arc::clone(&claimed));
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::with_capacity(4096);
            let mut errors = 0u64;
            let mut first_error = None;
            let mut seq = 0u64;
            // Requests of an earlier run on this connection (a warm-up) are not this one's.
            conn.take_calls();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                if claimed.fetch_add(1, Ordering::Relaxed) >= limit {
                    break;
                }
                let t0 = Instant::now();
                let outcome = ready.op(&mut conn, w, seq).await;
                let us = t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                seq += 1;
                match outcome {
                    Outcome::Ok => lat.push(us),
                    Outcome::Err(e) => {
                        lat.push(us);
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                    Outcome::Exhausted => break,
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            let calls = conn.take_calls();
            (lat, calls, errors, first_error, conn)
        }));
    }
    let mut all = Vec::new();
    let mut calls = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        if let Ok((l, c, e, f, conn)) = t.await {
            conns.push(conn);
            all.extend(l);
            calls.extend(c);
            errors += e;
            if first_error.is_none() {
                first_error = f;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    finished.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.await;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    all.sort_unstable();
    calls.sort_unstable();
    Stats {
        ops: all.len() as u64,
        errors,
        secs,
        rps: all.len() as f64 / secs.max(1e-9),
        p50_ms: pct(&all, 0.50),
        p99_ms: pct(&all, 0.99),
        p999_ms: pct(&all, 0.999),
        max_ms: pct(&all, 1.0),
        first_error,
        requests: calls.len() as u64,
        req_p50_ms: pct(&calls, 0.50),
        req_p99_ms: pct(&calls, 0.99),
        req_p999_ms: pct(&calls, 0.999),
    }
}
