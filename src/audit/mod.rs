//! The tamper-evident audit log: a hash chain of records with Ed25519-signed
//! checkpoints.
//!
//! - Each record's hash is SHA-256 over a domain tag, the previous record's hash, its
//!   position and every field (length-prefixed, so no two records encode alike).
//! - Every [`CHECKPOINT_EVERY`] records (and at the end of every batch that crosses such a
//!   boundary) a checkpoint signs `(seq, hash)` with a key derived from the master key
//!   (`KeyRing::audit_signing_key`), so rewriting the chain needs the master key, not just
//!   write access to the database.
//! - [`verify`] walks the chain and reports the first bad position: an edited record
//!   (hash mismatch), a deleted or inserted one (position gap or broken link), a
//!   reordered one (broken link), a forged checkpoint, or records missing after the last
//!   checkpoint.
//! - A prune ([`PRUNE_ACTION`], `iamvault audit prune`) removes the oldest records up to a
//!   signed checkpoint after writing a record of itself, itself covered by a checkpoint.
//!   The log then starts from that checkpoint's hash, and [`verify`] accepts the missing
//!   beginning only when such a record names it: removing records any other way, or
//!   further than a recorded prune, is found like any other deletion.
//!
//! Records never hold a secret: the fields are names, ARNs, ids and messages that are
//! already free of secrets (errors never carry one).

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;

use crate::error::Result;
use crate::store::{AuditCheckpointRow, AuditRow, NewAuditRow, ReadTx, Store, WriteTx};

/// Records between signed checkpoints.
pub const CHECKPOINT_EVERY: i64 = 64;
/// The action of the record a prune writes before it removes anything; its resource is
/// [`prune_resource`].
pub const PRUNE_ACTION: &str = "vault:PruneAuditLog";
const PRUNE_RESOURCE: &str = "audit-log/through/";

/// The resource of a prune's record: the last position it removes.
pub fn prune_resource(through: i64) -> String {
    format!("{PRUNE_RESOURCE}{through}")
}

/// The last position a record of a prune removes, when it is one.
fn pruned_through(r: &AuditRow) -> Option<i64> {
    if r.action != PRUNE_ACTION || r.decision != "allowed" {
        return None;
    }
    r.resource.strip_prefix(PRUNE_RESOURCE)?.parse().ok()
}

/// Longest kept field; longer values are cut (a record must stay small).
pub const MAX_FIELD: usize = 2048;

const DOMAIN: &[u8] = b"iamvault/audit/v1\0";
const CHECKPOINT_DOMAIN: &[u8] = b"iamvault/audit-checkpoint/v1\0";

/// One record before it joins the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Unix seconds.
    pub at: i64,
    /// Request id.
    pub request_id: String,
    /// The account acted in.
    pub account: String,
    /// Who acted.
    pub principal: String,
    /// The action.
    pub action: String,
    /// The resource, or empty.
    pub resource: String,
    /// `allowed`, `denied` or `failed`.
    pub decision: String,
    /// Why, or empty.
    pub reason: String,
    /// Source address, or `local`.
    pub source_ip: String,
    /// User agent.
    pub user_agent: String,
    /// Credential used (key id, token id, `password`, `local-admin`).
    pub credential: String,
}

/// `s` cut to at most [`MAX_FIELD`] bytes, at a character boundary.
fn cut(s: &str) -> &str {
    if s.len() <= MAX_FIELD {
        return s;
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

impl Entry {
    fn fields(&self) -> [&str; 10] {
        [
            &self.request_id,
            &self.account,
            &self.principal,
            &self.action,
            &self.resource,
            &self.decision,
            &self.reason,
            &self.source_ip,
            &self.user_agent,
            &self.credential,
        ]
    }

    fn of_row(r: &AuditRow) -> Entry {
        Entry {
            at: r.at,
            request_id: r.request_id.clone(),
            account: r.account_id.clone(),
            principal: r.principal.clone(),
            action: r.action.clone(),
            resource: r.resource.clone(),
            decision: r.decision.clone(),
            reason: r.reason.clone(),
            source_ip: r.source_ip.clone(),
            user_agent: r.user_agent.clone(),
            credential: r.credential.clone(),
        }
    }
}

/// The hash of the record at `seq` with `prev` before it.
pub fn chain_hash(prev: &[u8], seq: i64, e: &Entry) -> [u8; 32] {
    fields_hash(prev, seq, e.at, &e.fields())
}

/// The hash of a record made of `at` and `fields` (in [`Entry::fields`] order).
fn fields_hash(prev: &[u8], seq: i64, at: i64, fields: &[&str; 10]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(DOMAIN);
    ctx.update(&u32::try_from(prev.len()).unwrap_or(u32::MAX).to_be_bytes());
    ctx.update(prev);
    ctx.update(&seq.to_be_bytes());
    ctx.update(&at.to_be_bytes());
    for f in fields {
        ctx.update(&u32::try_from(f.len()).unwrap_or(u32::MAX).to_be_bytes());
        ctx.update(f.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn checkpoint_message(seq: i64, hash: &[u8]) -> Vec<u8> {
    let mut m = CHECKPOINT_DOMAIN.to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

/// The signature of a checkpoint at `seq` over `hash`.
pub fn sign_checkpoint(signer: &SigningKey, seq: i64, hash: &[u8]) -> Vec<u8> {
    signer
        .sign(&checkpoint_message(seq, hash))
        .to_bytes()
        .to_vec()
}

/// Appends `entries` to the chain inside `tx`, signing a checkpoint when the batch
/// crosses a [`CHECKPOINT_EVERY`] boundary. Returns the last position written.
pub fn append(tx: &WriteTx<'_>, entries: &[Entry], signer: &SigningKey) -> Result<i64> {
    let (mut seq, mut prev) = tx.audit_head()?.unwrap_or((0, vec![0u8; 32]));
    let start = seq;
    let mut last_at = 0;
    // Fields are borrowed, cut in place: a record costs no copies on the writer thread.
    for e in entries {
        let fields = e.fields().map(cut);
        seq += 1;
        let hash = fields_hash(&prev, seq, e.at, &fields);
        tx.insert_audit(&NewAuditRow {
            seq,
            at: e.at,
            fields: &fields,
            prev_hash: &prev,
            hash: &hash,
        })?;
        prev.clear();
        prev.extend_from_slice(&hash);
        last_at = e.at;
    }
    if seq / CHECKPOINT_EVERY > start / CHECKPOINT_EVERY {
        let sig = signer.sign(&checkpoint_message(seq, &prev));
        tx.insert_audit_checkpoint(&AuditCheckpointRow {
            seq,
            hash: prev,
            at: last_at,
            public_key: signer.verifying_key().to_bytes().to_vec(),
            signature: sig.to_bytes().to_vec(),
        })?;
    }
    Ok(seq)
}

/// Writes a checkpoint of the current head now (for `audit verify` after a quiet period,
/// or before a backup). Does nothing on an empty log or when the head is checkpointed.
pub fn checkpoint_head(tx: &WriteTx<'_>, signer: &SigningKey, at: i64) -> Result<()> {
    let Some((seq, hash)) = tx.audit_head()? else {
        return Ok(());
    };
    if tx.audit_last_checkpoint_seq()? == Some(seq) {
        return Ok(());
    }
    let sig = signer.sign(&checkpoint_message(seq, &hash));
    tx.insert_audit_checkpoint(&AuditCheckpointRow {
        seq,
        hash,
        at,
        public_key: signer.verifying_key().to_bytes().to_vec(),
        signature: sig.to_bytes().to_vec(),
    })
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Records checked.
    pub records: i64,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// The last record's position.
    pub head: i64,
    /// The first bad position, if any.
    pub first_bad: Option<i64>,
    /// What is wrong there.
    pub problem: Option<String>,
    /// The records up to this position were pruned (the log starts after it).
    pub pruned_through: Option<i64>,
}

impl Verification {
    /// Whether the chain is intact.
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Walks the whole chain and every checkpoint. `public` is the checkpoint key the vault
/// derives from its master key; a checkpoint signed by any other key is a forgery.
///
/// Each page of records is read in a read transaction of its own: one over the whole
/// walk kept the WAL from being reset for as long as it lasted (it grew by 120 MB in
/// 20 s of a prune under load), and the server's writer then paid for the large
/// checkpoint. Records are only ever appended, and removed from the start by a prune,
/// so each later page's snapshot holds everything the earlier ones saw past `after`.
pub fn verify(store: &Store, public: &VerifyingKey) -> Result<Verification> {
    let mut v = Verification {
        records: 0,
        checkpoints: 0,
        head: 0,
        first_bad: None,
        problem: None,
        pruned_through: None,
    };
    let fail = |v: &mut Verification, at: i64, why: String| {
        if v.first_bad.is_none() {
            v.first_bad = Some(at);
            v.problem = Some(why);
        }
    };
    let (checkpoints, first) = {
        let tx = store.read()?;
        (tx.audit_checkpoints()?, tx.audit_first_seq()?)
    };
    let mut cp = checkpoints.iter().peekable();
    let mut prev = vec![0u8; 32];
    let mut expected = 1i64;
    let mut after = 0i64;
    if let Some(first) = first
        && first > 1
    {
        // The beginning was pruned: the log must go on from a signed checkpoint of the
        // last removed record. Earlier checkpoints are kept for checking archives
        // (`verify_archive`); they have no records here.
        let anchor = first - 1;
        while cp.next_if(|c| c.seq < anchor).is_some() {}
        let Some(c) = cp.next_if(|c| c.seq == anchor) else {
            fail(
                &mut v,
                1,
                format!(
                    "records 1 to {anchor} are missing and no signed checkpoint ends there: records were deleted"
                ),
            );
            return Ok(v);
        };
        if let Err(why) = check_signature(c, public) {
            fail(&mut v, anchor, why);
            return Ok(v);
        }
        v.checkpoints += 1;
        v.pruned_through = Some(anchor);
        prev.clone_from(&c.hash);
        expected = first;
        after = anchor;
    }
    // The furthest prune recorded so far, and the furthest under a signed checkpoint.
    let mut prune_seen = 0i64;
    let mut prune_signed = 0i64;
    'pages: loop {
        let page = store.read()?.audit_page(after, 1000)?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            after = r.seq;
            v.records += 1;
            v.head = r.seq;
            if r.seq != expected {
                fail(
                    &mut v,
                    expected,
                    format!(
                        "record {expected} is missing (the next one is {}): a record was deleted or inserted",
                        r.seq
                    ),
                );
                break 'pages;
            }
            if r.prev_hash != prev {
                fail(
                    &mut v,
                    r.seq,
                    format!(
                        "record {} does not link to record {}: records were reordered, inserted or deleted",
                        r.seq,
                        r.seq - 1
                    ),
                );
                break 'pages;
            }
            let h = chain_hash(&prev, r.seq, &Entry::of_row(r));
            if h.as_slice() != r.hash.as_slice() {
                fail(
                    &mut v,
                    r.seq,
                    format!(
                        "record {} was edited: its hash does not match its content",
                        r.seq
                    ),
                );
                break 'pages;
            }
            if let Some(t) = pruned_through(r) {
                prune_seen = prune_seen.max(t);
            }
            while let Some(c) = cp.next_if(|c| c.seq <= r.seq) {
                v.checkpoints += 1;
                if c.seq != r.seq || c.hash != r.hash {
                    fail(
                        &mut v,
                        c.seq,
                        format!("checkpoint {} does not match the chain", c.seq),
                    );
                    break 'pages;
                }
                if let Err(why) = check_signature(c, public) {
                    fail(&mut v, c.seq, why);
                    break 'pages;
                }
                prune_signed = prune_seen;
            }
            prev.clone_from(&r.hash);
            expected += 1;
        }
    }
    if v.first_bad.is_none()
        && let Some(anchor) = v.pruned_through
        && prune_signed < anchor
    {
        fail(
            &mut v,
            1,
            format!(
                "records 1 to {anchor} were removed, but no prune of them is recorded under a signed checkpoint: records were deleted"
            ),
        );
    }
    if v.first_bad.is_none()
        && let Some(c) = cp.next()
    {
        let head = v.head;
        fail(
            &mut v,
            head + 1,
            format!(
                "the log ends at record {head} but checkpoint {} was signed: records were removed from the end",
                c.seq
            ),
        );
    }
    Ok(v)
}

fn check_signature(
    c: &AuditCheckpointRow,
    public: &VerifyingKey,
) -> std::result::Result<(), String> {
    if c.public_key.as_slice() != public.as_bytes() {
        return Err(format!(
            "checkpoint {} is signed by a key that is not this vault's",
            c.seq
        ));
    }
    let sig = ed25519_dalek::Signature::from_slice(&c.signature)
        .map_err(|_| format!("checkpoint {} has a malformed signature", c.seq))?;
    public
        .verify(&checkpoint_message(c.seq, &c.hash), &sig)
        .map_err(|_| format!("checkpoint {} has a bad signature", c.seq))
}

/// What [`verify_archive`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveVerification {
    /// Records checked.
    pub records: i64,
    /// The first and last positions in the archive.
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// Signed checkpoints the archive was checked against.
    pub checkpoints: usize,
    /// The first bad position (or line, for a line that is not a record), if any.
    pub first_bad: Option<i64>,
    /// What is wrong there.
    pub problem: Option<String>,
}

impl ArchiveVerification {
    /// Whether the archive is intact.
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }

    fn failed(mut self, at: i64, why: String) -> Self {
        self.first_bad = Some(at);
        self.problem = Some(why);
        self
    }
}

/// The longest archive line read: a record's ten fields are cut to [`MAX_FIELD`] bytes
/// each, JSON escaping at most sextuples a byte (`\u00XX`), and the rest is small.
const MAX_ARCHIVE_LINE: usize = 10 * MAX_FIELD * 6 + 4096;

/// A record of an archive line (as [`json_line`] renders it), with the hash it carries.
fn archive_record(line: &str) -> std::result::Result<AuditRow, String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let text = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("no `{k}`"))
    };
    let seq = v
        .get("seq")
        .and_then(serde_json::Value::as_i64)
        .ok_or("no `seq`")?;
    let at = time::OffsetDateTime::parse(
        &text("time")?,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| format!("bad `time`: {e}"))?
    .unix_timestamp();
    Ok(AuditRow {
        seq,
        at,
        request_id: text("request_id")?,
        account_id: text("account")?,
        principal: text("principal")?,
        action: text("action")?,
        resource: text("resource")?,
        decision: text("decision")?,
        reason: text("reason")?,
        source_ip: text("source_ip")?,
        user_agent: text("user_agent")?,
        credential: text("credential")?,
        prev_hash: Vec::new(),
        hash: hex::decode(text("hash")?).map_err(|e| format!("bad `hash`: {e}"))?,
    })
}

/// Checks an archive written by a prune (JSON lines, as [`json_line`] renders records)
/// against the signed checkpoints the vault keeps after pruning: every record's hash is
/// recomputed from its fields and the one before it, the first links to the signed
/// checkpoint just before it (or is record 1), every checkpoint inside the range must
/// match, and the last record must be signed by one, so that nothing was edited, removed,
/// inserted or cut from the end. Lines longer than any record can be are refused unread.
pub fn verify_archive(
    mut lines: impl std::io::BufRead,
    tx: &ReadTx<'_>,
    public: &VerifyingKey,
) -> Result<ArchiveVerification> {
    use std::io::{BufRead as _, Read as _};
    let mut v = ArchiveVerification {
        records: 0,
        first: None,
        last: None,
        checkpoints: 0,
        first_bad: None,
        problem: None,
    };
    let checkpoints: std::collections::HashMap<i64, AuditCheckpointRow> = tx
        .audit_checkpoints()?
        .into_iter()
        .map(|c| (c.seq, c))
        .collect();
    // Record 1 links to the all-zero hash; a later first record to its checkpoint's.
    let mut prev = vec![0u8; 32];
    let mut expected = 0i64;
    let mut signed_last = false;
    let mut buf = Vec::new();
    let mut line_no = 0i64;
    loop {
        buf.clear();
        let limit = u64::try_from(MAX_ARCHIVE_LINE + 1).unwrap_or(u64::MAX);
        let n = (&mut lines)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|e| {
                crate::error::Error::InvalidInput(format!("cannot read the archive: {e}"))
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.len() > MAX_ARCHIVE_LINE {
            return Ok(v.failed(
                line_no,
                format!(
                    "line {line_no} is longer than any audit record ({MAX_ARCHIVE_LINE} bytes)"
                ),
            ));
        }
        let record = std::str::from_utf8(&buf)
            .map_err(|e| e.to_string())
            .and_then(|l| {
                if l.trim().is_empty() {
                    Ok(None)
                } else {
                    archive_record(l).map(Some)
                }
            });
        let row = match record {
            Ok(Some(row)) => row,
            Ok(None) => continue,
            Err(why) => {
                return Ok(v.failed(
                    line_no,
                    format!("line {line_no} is not an audit record: {why}"),
                ));
            }
        };
        if v.first.is_none() {
            v.first = Some(row.seq);
            expected = row.seq;
            if row.seq != 1 {
                let Some(c) = checkpoints.get(&(row.seq - 1)) else {
                    let why = format!(
                        "the archive starts at record {} but the vault has no signed checkpoint of record {} to link it to",
                        row.seq,
                        row.seq - 1
                    );
                    return Ok(v.failed(row.seq, why));
                };
                if let Err(why) = check_signature(c, public) {
                    return Ok(v.failed(c.seq, why));
                }
                v.checkpoints += 1;
                prev.clone_from(&c.hash);
            }
        }
        if row.seq != expected {
            let why = format!(
                "record {expected} is missing from the archive (the next one is {})",
                row.seq
            );
            return Ok(v.failed(expected, why));
        }
        let h = chain_hash(&prev, row.seq, &Entry::of_row(&row));
        if h.as_slice() != row.hash.as_slice() {
            let why = format!(
                "record {} was edited, or does not link to record {}",
                row.seq,
                row.seq - 1
            );
            return Ok(v.failed(row.seq, why));
        }
        signed_last = false;
        if let Some(c) = checkpoints.get(&row.seq) {
            if c.hash.as_slice() != h.as_slice() {
                let why = format!(
                    "checkpoint {} does not match the archive: records up to it were rewritten",
                    row.seq
                );
                return Ok(v.failed(row.seq, why));
            }
            if let Err(why) = check_signature(c, public) {
                return Ok(v.failed(row.seq, why));
            }
            v.checkpoints += 1;
            signed_last = true;
        }
        prev = row.hash;
        v.records += 1;
        v.last = Some(row.seq);
        expected += 1;
    }
    Ok(match v.last {
        None => v.failed(0, "the archive holds no records".into()),
        Some(last) if !signed_last => v.failed(
            last,
            format!(
                "the archive's last record {last} is not signed by a checkpoint of this vault: records may have been cut from its end"
            ),
        ),
        Some(_) => v,
    })
}

/// Renders a record as one JSON line (for `--output json` and the file sink).
pub fn json_line(r: &AuditRow) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(r.at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    serde_json::json!({
        "seq": r.seq,
        "time": at,
        "request_id": r.request_id,
        "account": r.account_id,
        "principal": r.principal,
        "action": r.action,
        "resource": r.resource,
        "decision": r.decision,
        "reason": r.reason,
        "source_ip": r.source_ip,
        "user_agent": r.user_agent,
        "credential": r.credential,
        "hash": hex::encode(&r.hash),
    })
    .to_string()
}

#[cfg(test)]
mod tests;
