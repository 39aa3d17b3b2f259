//! `iamvault audit …`: read and verify the tamper-evident audit log.

use clap::Subcommand;
use serde_json::{Value, json};

use super::{Ctx, Output};
use crate::error::{Error, Result};
use crate::store::{AuditFilter, AuditRow};

/// Audit log commands.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Check the whole chain and its signed checkpoints; exit code 1 at the first edited,
    /// deleted, inserted or reordered record, which is reported.
    #[command(after_help = "Example:\n  iamvault audit verify")]
    Verify,
    /// Show the last records (oldest first); `--output json` prints JSON lines.
    #[command(after_help = "Example:\n  iamvault audit tail -n 50 --output json")]
    Tail {
        /// How many records.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u32,
    },
    /// Find records, oldest first (by time when `--since` or `--until` is given, which then
    /// reads only that part of the log); every filter is optional and they combine.
    /// `--output json` prints JSON lines.
    #[command(
        after_help = "Example:\n  iamvault audit search --principal arn:aws:iam::123456789012:user/alice --decision denied --since 2026-11-01T00:00:00Z"
    )]
    Search {
        /// Principal ARN.
        #[arg(long)]
        principal: Option<String>,
        /// Action, e.g. `iam:CreateAccessKey`.
        #[arg(long)]
        action: Option<String>,
        /// From this time (RFC 3339), inclusive.
        #[arg(long)]
        since: Option<String>,
        /// Until this time (RFC 3339), exclusive.
        #[arg(long)]
        until: Option<String>,
        /// `allowed`, `denied` or `failed`.
        #[arg(long)]
        decision: Option<String>,
        /// Most records to show (1-100000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
        /// Print only how many records match (counted in the store, no limit).
        #[arg(long)]
        count: bool,
    },
    /// Sign a checkpoint of the current end of the log now (checkpoints are also written
    /// every 64 records), e.g. before taking a backup.
    #[command(after_help = "Example:\n  iamvault audit checkpoint")]
    Checkpoint,
    /// Check an archive written by `audit prune` against the signed checkpoints this vault
    /// keeps; exit code 1 at the first edited, missing or inserted record, or when records
    /// were cut from its end.
    #[command(
        after_help = "Example:\n  iamvault audit verify-archive /var/backups/iamvault/audit-2026-07.jsonl"
    )]
    VerifyArchive {
        /// The archive file.
        file: std::path::PathBuf,
    },
    /// Move the records older than `--before` into a new archive file (JSON lines, as
    /// `search --output json` prints them) and remove them from the vault, up to the last
    /// signed checkpoint before that time. Refused when the log does not verify. The rest
    /// of the log still verifies; the prune itself is recorded in it.
    #[command(
        after_help = "Example:\n  iamvault audit prune --before 2026-08-01T00:00:00Z --archive /var/backups/iamvault/audit-2026-07.jsonl"
    )]
    Prune {
        /// Remove records older than this time (RFC 3339).
        #[arg(long)]
        before: String,
        /// The archive file to write first (created with mode 0600; must not exist).
        #[arg(long)]
        archive: std::path::PathBuf,
    },
}

fn time_arg(name: &str, v: Option<String>) -> Result<Option<i64>> {
    v.map(|s| {
        time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
            .map(time::OffsetDateTime::unix_timestamp)
            .map_err(|_| {
                Error::InvalidInput(format!(
                    "--{name} `{}` is not an RFC 3339 time such as 2026-11-01T00:00:00Z",
                    s.escape_default()
                ))
            })
    })
    .transpose()
}

fn rows(rows: &[AuditRow]) -> Output {
    Output::lines(
        rows.iter()
            .map(|r| serde_json::from_str::<Value>(&crate::audit::json_line(r)).unwrap_or_default())
            .collect(),
    )
}

pub(super) fn run(c: &Ctx, cmd: AuditCmd) -> Result<Output> {
    let v = &c.vault;
    Ok(match cmd {
        AuditCmd::Verify => {
            let r = v.audit_verify()?;
            let ok = r.ok();
            Output {
                note: Some(match (&r.first_bad, &r.problem) {
                    (Some(at), Some(why)) => format!("audit log BROKEN at record {at}: {why}"),
                    _ => {
                        let pruned = r
                            .pruned_through
                            .map(|p| format!(" after {p} (records 1 to {p} were pruned)"))
                            .unwrap_or_default();
                        format!(
                            "audit log intact: {} records{pruned}, {} signed checkpoints",
                            r.records, r.checkpoints
                        )
                    }
                }),
                json: json!({
                    "ok": ok,
                    "records": r.records,
                    "checkpoints": r.checkpoints,
                    "head": r.head,
                    "first_bad": r.first_bad,
                    "problem": r.problem,
                    "pruned_through": r.pruned_through,
                }),
                exit: i32::from(!ok),
                lines: false,
            }
        }
        AuditCmd::Tail { lines } => rows(&v.audit_tail(lines.clamp(1, 100_000))?),
        AuditCmd::Search {
            principal,
            action,
            since,
            until,
            decision,
            limit,
            count,
        } => {
            if let Some(d) = &decision
                && !matches!(d.as_str(), "allowed" | "denied" | "failed")
            {
                return Err(Error::InvalidInput(format!(
                    "--decision must be allowed, denied or failed, not `{}`",
                    d.escape_default()
                )));
            }
            let f = AuditFilter {
                principal,
                action,
                since: time_arg("since", since)?,
                until: time_arg("until", until)?,
                decision,
            };
            if count {
                let n = v.audit_count(&f)?;
                return Ok(Output {
                    note: Some(n.to_string()),
                    json: serde_json::json!({ "Count": n }),
                    exit: 0,
                    lines: false,
                });
            }
            rows(&v.audit_search(&f, limit)?)
        }
        AuditCmd::Checkpoint => {
            v.audit_checkpoint()?;
            Output::done("signed a checkpoint of the audit log")
        }
        AuditCmd::VerifyArchive { file } => {
            let r = v.audit_verify_archive(&file)?;
            let ok = r.ok();
            Output {
                note: Some(match (&r.first_bad, &r.problem, r.first, r.last) {
                    (Some(at), Some(why), _, _) => {
                        format!("archive BROKEN at {at}: {why}")
                    }
                    (_, _, Some(first), Some(last)) => format!(
                        "archive intact: records {first} to {last}, {} signed checkpoints",
                        r.checkpoints
                    ),
                    _ => "archive intact".into(),
                }),
                json: json!({
                    "ok": ok,
                    "records": r.records,
                    "first": r.first,
                    "last": r.last,
                    "checkpoints": r.checkpoints,
                    "first_bad": r.first_bad,
                    "problem": r.problem,
                }),
                exit: i32::from(!ok),
                lines: false,
            }
        }
        AuditCmd::Prune { before, archive } => {
            let Some(at) = time_arg("before", Some(before))? else {
                return Err(Error::InvalidInput("--before is required".into()));
            };
            let r = v.audit_prune(&c.caller, at, &archive)?;
            Output {
                note: Some(match (r.first, r.through, &r.archive) {
                    (Some(first), Some(through), Some(file)) => format!(
                        "archived {} audit records ({first} to {through}) to {file} and removed them from the vault",
                        r.records
                    ),
                    _ => "no audit records before that time up to a signed checkpoint: nothing pruned".into(),
                }),
                json: json!({
                    "Records": r.records,
                    "First": r.first,
                    "Through": r.through,
                    "Archive": r.archive,
                }),
                exit: 0,
                lines: false,
            }
        }
    })
}
