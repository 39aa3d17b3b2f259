//! Prometheus metrics for `/metrics`: requests by action and outcome, latency histograms
//! by action, issuance counts, and the write path's commits (how many writes and audit
//! records shared each fsync). Labels never carry principals or keys.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;

use crate::service::Vault;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    action: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<ActionLabel, Histogram>,
    issued: Family<KindLabel, Counter>,
}

/// Actions that issue credentials, and the kind they count under.
fn issuance_kind(action: &str) -> Option<&'static str> {
    match action {
        "CreateAccessKey" => Some("access_key"),
        "AssumeRole" => Some("role_session"),
        "GetSessionToken" => Some("session_token"),
        "Login" => Some("login_session"),
        _ => None,
    }
}

/// Bounds the label space: only known action names become labels.
fn action_label(action: &str) -> String {
    if action.len() <= 64 && action.bytes().all(|b| b.is_ascii_alphanumeric()) && !action.is_empty()
    {
        action.to_owned()
    } else {
        "other".to_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("iamvault");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<ActionLabel, Histogram>::new_with_constructor(|| {
            // 50 µs … ~1.6 s.
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        });
        let issued = Family::<KindLabel, Counter>::default();
        registry.register(
            "requests",
            "Requests by action and outcome (AWS error code or ok)",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Request latency by action",
            latency.clone(),
        );
        registry.register(
            "credentials_issued",
            "Credentials issued by kind",
            issued.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            issued,
        }
    }
}

/// The write path's counters, read from the vault at each scrape.
struct WritePath(Arc<Vault>);

impl std::fmt::Debug for WritePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WritePath")
    }
}

impl Collector for WritePath {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (commits, writes) = self.0.store().group_commits();
        let (batches, records) = self.0.audit_group_commits();
        for (name, help, value) in [
            (
                "store_commits",
                "SQLite commits of write transactions (one fsync each; group commit shares them)",
                commits,
            ),
            (
                "store_committed_writes",
                "Write transactions committed, audit batches included",
                writes,
            ),
            (
                "audit_batches",
                "Batches written by the audit writer (records of reads, denials and failures)",
                batches,
            ),
            (
                "audit_batched_records",
                "Records written by the audit writer",
                records,
            ),
        ] {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}

/// Elapsed time of one request, for the latency histogram.
pub struct Timer(std::time::Instant);

impl Timer {
    /// Starts timing.
    pub fn start() -> Self {
        #[allow(
            clippy::disallowed_methods,
            reason = "latency metrics measure elapsed time, not wall time"
        )]
        let now = std::time::Instant::now();
        Timer(now)
    }

    /// Seconds since [`Timer::start`].
    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

impl Metrics {
    /// The metrics of a server for `vault`, with its write-path counters.
    pub fn for_vault(vault: Arc<Vault>) -> Self {
        let mut m = Self::default();
        m.registry.register_collector(Box::new(WritePath(vault)));
        m
    }

    /// Records one request.
    pub fn observe(&self, action: &str, outcome: &str, seconds: f64) {
        let action = action_label(action);
        self.requests
            .get_or_create(&RequestLabels {
                action: action.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&ActionLabel {
                action: action.clone(),
            })
            .observe(seconds);
        if let Some(kind) = issuance_kind(&action).filter(|_| outcome == "ok") {
            self.issued
                .get_or_create(&KindLabel {
                    kind: kind.to_owned(),
                })
                .inc();
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts() {
        let m = Metrics::default();
        m.observe("CreateAccessKey", "ok", 0.001);
        m.observe("ListUsers", "AccessDenied", 0.002);
        m.observe("<script>", "ok", 0.002);
        let t = m.render();
        assert!(
            t.contains(r#"iamvault_requests_total{action="CreateAccessKey",outcome="ok"} 1"#),
            "{t}"
        );
        assert!(
            t.contains(r#"iamvault_credentials_issued_total{kind="access_key"} 1"#),
            "{t}"
        );
        assert!(t.contains(r#"action="other""#), "{t}");
        assert!(
            t.contains("iamvault_request_duration_seconds_bucket"),
            "{t}"
        );
    }

    #[test]
    fn renders_the_write_path_counters_of_the_vault() {
        let dir = tempfile::tempdir().unwrap();
        let (vault, _) = Vault::init(
            dir.path(),
            crate::clock::Env::system(),
            crate::service::InitOptions::default(),
        )
        .unwrap();
        let vault = Arc::new(vault);
        let (commits, _) = vault.store().group_commits();
        assert!(commits > 0, "init commits");
        let t = Metrics::for_vault(Arc::clone(&vault)).render();
        assert!(
            t.contains(&format!("iamvault_store_commits_total {commits}")),
            "{t}"
        );
        assert!(t.contains("iamvault_store_committed_writes_total"), "{t}");
        assert!(t.contains("iamvault_audit_batches_total"), "{t}");
        assert!(t.trim_end().ends_with("# EOF"), "{t}");
    }
}
