//! Audit retention: `iamvault audit prune` moves the oldest records into an archive file
//! and removes them from the database, keeping the rest of the chain verifiable.
//!
//! Every audited request adds a record, so without this the log (and the database) grows
//! for ever. A prune only ever removes records that are already archived and durable, and
//! only up to a signed checkpoint, after writing a record of itself that a checkpoint
//! covers: `audit verify` then accepts the missing beginning, and nothing else (see
//! `crate::audit`). The removed records' checkpoints stay, so `audit verify-archive`
//! can prove an archive unchanged later.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use serde::Serialize;

use super::{AuditContext, Caller, CallerKind, Vault};
use crate::audit::{self, PRUNE_ACTION};
use crate::error::{Error, Result};

/// Records removed per write transaction: every write (and so every audited request)
/// waits while one runs, so a large prune goes in steps, each ending at a checkpoint.
/// Measured (docs/performance.md, "Stop 18"), pruning ~700k records under 32 clients of
/// GetCallerIdentity: steps of 10,000 gave the clients a p99.9 of 115 ms, 2,000 of 58 ms,
/// for the same total time.
const PRUNE_STEP: i64 = 2_000;

/// Archive bytes written between two syncs of the file.
const ARCHIVE_SYNC_BYTES: usize = 4 << 20;

/// What a prune did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Records archived and removed (0: nothing was old enough).
    pub records: i64,
    /// The first and last positions removed.
    pub first: Option<i64>,
    pub through: Option<i64>,
    /// The archive written, when anything was removed.
    pub archive: Option<String>,
}

impl Vault {
    /// Archives to `archive` (created, 0600; it must not exist), checks the archive as
    /// written, and then removes every record up to the last signed checkpoint older than
    /// `before` (unix seconds). Root only. Refused, with nothing changed, when the log does not verify: a prune must
    /// never destroy the evidence of tampering.
    pub fn audit_prune(&self, caller: &Caller, before: i64, archive: &Path) -> Result<PruneReport> {
        if caller.kind != CallerKind::Root {
            return Err(Error::AccessDenied(
                "only the account root may prune the audit log".into(),
            ));
        }
        let v = self.audit_verify()?;
        if let (Some(at), Some(why)) = (v.first_bad, &v.problem) {
            return Err(Error::InvalidInput(format!(
                "the audit log does not verify (record {at}: {why}); nothing was pruned"
            )));
        }
        let (first, target) = {
            let tx = self.store().read()?;
            (tx.audit_first_seq()?, tx.audit_prune_target(before)?)
        };
        let Some((first, target)) = first.zip(target).filter(|(f, t)| t >= f) else {
            return Ok(PruneReport {
                records: 0,
                first: None,
                through: None,
                archive: None,
            });
        };
        self.write_archive(archive, first, target)?;
        // Nothing is removed that the archive does not hold intact, as read back from
        // the disk and checked against the signed checkpoints.
        let written = self.audit_verify_archive(archive)?;
        if !written.ok() || written.first != Some(first) || written.last != Some(target) {
            return Err(Error::Internal(format!(
                "the archive `{}` does not check out ({}); nothing was pruned",
                archive.display(),
                written
                    .problem
                    .as_deref()
                    .unwrap_or("another range than expected")
            )));
        }

        // The prune's own record, and a checkpoint that covers it, go in with the first
        // step: from then on the missing beginning is accounted for.
        let mut id = [0u8; 8];
        self.random().fill(&mut id)?;
        let entry = AuditContext::local_admin(
            caller,
            format!("prune-{}", hex::encode(id)),
            PRUNE_ACTION.into(),
        )
        .allowed_entry(
            self.now().unix_timestamp(),
            audit::prune_resource(target),
            format!(
                "records {first} to {target} archived to {}",
                archive.display()
            ),
        );
        let signer = self.keys.audit_signing_key();
        let mut removed = 0i64;
        let mut done = first - 1;
        while done < target {
            let tx = self.store().write()?;
            if done == first - 1 {
                audit::append(&tx, std::slice::from_ref(&entry), signer)?;
                audit::checkpoint_head(&tx, signer, entry.at)?;
            }
            let step = tx
                .audit_prune_step(done, done + PRUNE_STEP, target)?
                .ok_or_else(|| {
                    Error::Internal(format!(
                        "no audit checkpoint between {done} and {target} to prune to"
                    ))
                })?;
            removed += i64::try_from(tx.audit_delete_through(step)?).unwrap_or(0);
            // Audit records are bookkeeping: no authorization state changed.
            tx.commit_bookkeeping()?;
            done = step;
        }
        Ok(PruneReport {
            records: removed,
            first: Some(first),
            through: Some(target),
            archive: Some(archive.display().to_string()),
        })
    }

    /// Checks an archive that `audit prune` wrote against this vault's signed
    /// checkpoints ([`audit::verify_archive`]).
    pub fn audit_verify_archive(&self, path: &Path) -> Result<audit::ArchiveVerification> {
        let file = fs::File::open(path).map_err(|e| {
            Error::InvalidInput(format!("cannot open the archive `{}`: {e}", path.display()))
        })?;
        let public = self.keys.audit_signing_key().verifying_key();
        audit::verify_archive(
            std::io::BufReader::new(file),
            &self.store().read()?,
            &public,
        )
    }

    /// Writes records `first..=through` to a new file as JSON lines (the format of
    /// `audit search --output json`, each with its hash) and makes it durable. On any
    /// failure the partial file is removed.
    fn write_archive(&self, path: &Path, first: i64, through: i64) -> Result<()> {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                Error::InvalidInput(format!(
                    "cannot create the archive `{}`: {e}",
                    path.display()
                ))
            })?;
        let result = (|| -> Result<()> {
            let mut out = std::io::BufWriter::new(&file);
            let io = |e: std::io::Error| {
                Error::Internal(format!(
                    "cannot write the archive `{}`: {e}",
                    path.display()
                ))
            };
            let mut after = first - 1;
            let mut unsynced = 0usize;
            while after < through {
                // A read transaction per page, not one for the whole archive, so the
                // server's WAL checkpoints keep up meanwhile (see `audit::verify`). A
                // record removed in between shows as a gap when the archive is checked.
                let page = self.store().read()?.audit_page(after, 1_000)?;
                let Some(last) = page.last() else {
                    break;
                };
                after = last.seq;
                for r in page.iter().filter(|r| r.seq <= through) {
                    let line = audit::json_line(r);
                    out.write_all(line.as_bytes()).map_err(io)?;
                    out.write_all(b"\n").map_err(io)?;
                    unsynced += line.len() + 1;
                }
                if unsynced >= ARCHIVE_SYNC_BYTES {
                    // Flushed as it goes: one fsync of the whole archive at the end held
                    // up the server's own commits on the same disk for most of a second.
                    out.flush().map_err(io)?;
                    file.sync_data().map_err(io)?;
                    unsynced = 0;
                }
            }
            if after < through {
                return Err(Error::Internal(format!(
                    "the audit log ended at {after} while archiving up to {through}"
                )));
            }
            out.flush().map_err(io)?;
            drop(out);
            file.sync_all().map_err(io)?;
            // The file's directory entry too, so the archive survives a crash.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(path);
        }
        result
    }
}
