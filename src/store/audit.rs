//! Audit-log rows and checkpoints. The chain itself (hashing, signing, verifying) is
//! `crate::audit`'s; this module only stores and reads.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, ToSql, params, params_from_iter};

use super::CachedSql as _;
use super::{ReadTx, WriteTx};
use crate::error::Result;

/// One audit record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// The request id (also in the response).
    pub request_id: String,
    /// The account acted in.
    pub account_id: String,
    /// Who acted (ARN, or the attempted name for a failed sign-in).
    pub principal: String,
    /// `iam:CreateUser`, `s3:GetObject`, …
    pub action: String,
    /// The resource ARN, or empty.
    pub resource: String,
    /// `allowed`, `denied` or `failed`.
    pub decision: String,
    /// Why (the denial message, the error code), or empty.
    pub reason: String,
    /// The source address, or `local`.
    pub source_ip: String,
    /// The client's user agent.
    pub user_agent: String,
    /// The credential used: an access key id, a token id, `password`, `local-admin`.
    pub credential: String,
    /// The previous record's hash (zeros for the first).
    pub prev_hash: Vec<u8>,
    /// This record's hash.
    pub hash: Vec<u8>,
}

/// A signed checkpoint of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpointRow {
    /// The record it covers (and everything before it).
    pub seq: i64,
    /// That record's hash.
    pub hash: Vec<u8>,
    /// Unix seconds.
    pub at: i64,
    /// The Ed25519 public key that signed it.
    pub public_key: Vec<u8>,
    /// The signature.
    pub signature: Vec<u8>,
}

/// What `audit search` filters on; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Principal ARN (exact).
    pub principal: Option<String>,
    /// Action (exact, case-insensitive).
    pub action: Option<String>,
    /// From this time (unix seconds, inclusive).
    pub since: Option<i64>,
    /// Until this time (unix seconds, exclusive).
    pub until: Option<i64>,
    /// Decision.
    pub decision: Option<String>,
}

/// The stored columns, in [`AuditRow`] order (a macro, so statements can be literals).
macro_rules! cols {
    () => {
        "seq, at, request_id, account_id, principal, action, resource, decision, reason, source_ip, user_agent, credential, prev_hash, hash"
    };
}
const COLS: &str = cols!();

const INSERT: &str = concat!(
    "INSERT INTO audit_log (",
    cols!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
);

/// A record to append, borrowed from the entry it is made of.
pub struct NewAuditRow<'a> {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// request id, account, principal, action, resource, decision, reason, source
    /// address, user agent, credential: the order of `crate::audit::Entry::fields`.
    pub fields: &'a [&'a str; 10],
    /// The previous record's hash.
    pub prev_hash: &'a [u8],
    /// This record's hash.
    pub hash: &'a [u8],
}

fn row(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        at: r.get(1)?,
        request_id: r.get(2)?,
        account_id: r.get(3)?,
        principal: r.get(4)?,
        action: r.get(5)?,
        resource: r.get(6)?,
        decision: r.get(7)?,
        reason: r.get(8)?,
        source_ip: r.get(9)?,
        user_agent: r.get(10)?,
        credential: r.get(11)?,
        prev_hash: r.get(12)?,
        hash: r.get(13)?,
    })
}

/// The statement of [`ReadTx::audit_search`] and its bound values.
pub(super) fn search_sql(f: &AuditFilter, limit: u32) -> (String, Vec<Value>) {
    let (clause, mut values) = filter_sql(f);
    values.push(Value::Integer(i64::from(limit)));
    let order = if f.since.is_some() || f.until.is_some() {
        "at, seq"
    } else {
        "seq"
    };
    (
        format!("SELECT {COLS} FROM audit_log {clause} ORDER BY {order} LIMIT ?"),
        values,
    )
}

/// The statement of [`ReadTx::audit_count`] and its bound values.
pub(super) fn count_sql(f: &AuditFilter) -> (String, Vec<Value>) {
    let (clause, values) = filter_sql(f);
    (format!("SELECT count(*) FROM audit_log {clause}"), values)
}

/// The `WHERE` clause of an audit search or count naming only the filters `f` sets, and
/// the values bound to its `?` placeholders, in order. A catch-all form (`?1 IS NULL OR
/// at >= ?1`) is planned as a scan of the whole log; this way a time range reads only
/// its part of the log through `audit_log_at`. Values are always bound, never spliced.
fn filter_sql(f: &AuditFilter) -> (String, Vec<Value>) {
    let mut clauses: Vec<&str> = Vec::new();
    let mut values = Vec::new();
    if let Some(p) = &f.principal {
        clauses.push("principal = ?");
        values.push(Value::Text(p.clone()));
    }
    if let Some(a) = &f.action {
        clauses.push("lower(action) = lower(?)");
        values.push(Value::Text(a.clone()));
    }
    if let Some(t) = f.since {
        clauses.push("at >= ?");
        values.push(Value::Integer(t));
    }
    if let Some(t) = f.until {
        clauses.push("at < ?");
        values.push(Value::Integer(t));
    }
    if let Some(d) = &f.decision {
        clauses.push("decision = ?");
        values.push(Value::Text(d.clone()));
    }
    let clause = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (clause, values)
}

impl ReadTx<'_> {
    /// The last record's position and hash.
    pub fn audit_head(&self) -> Result<Option<(i64, Vec<u8>)>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Records in chain order with `seq > after`, at most `limit`.
    pub fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![after, limit], row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The last `n` records, oldest first.
    pub fn audit_tail(&self, n: u32) -> Result<Vec<AuditRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM (SELECT {COLS} FROM audit_log ORDER BY seq DESC LIMIT ?1) ORDER BY seq"
        ))?;
        let rows = stmt.query_map(params![n], row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Records matching `f`, oldest first, at most `limit`: in chain order, or with a time
    /// bound in time order (chain order within a second; the same unless the clock was
    /// set back), which `audit_log_at` gives without sorting and stops at the limit. In
    /// chain order a one-sided range such as "since an hour ago" read the whole log.
    pub fn audit_search(&self, f: &AuditFilter, limit: u32) -> Result<Vec<AuditRow>> {
        let (sql, values) = search_sql(f, limit);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(values), row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// How many records match `f` (the same filter as [`ReadTx::audit_search`]).
    pub fn audit_count(&self, f: &AuditFilter) -> Result<u64> {
        let (sql, values) = count_sql(f);
        let n: i64 = self
            .conn
            .query_row_cached(&sql, params_from_iter(values), |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The first record's position (above 1 once older records were pruned).
    pub fn audit_first_seq(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row_cached("SELECT seq FROM audit_log ORDER BY seq LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The last checkpointed position whose record is older than `before` (unix seconds):
    /// how far a prune of the records before that time may go, since the log must
    /// always start right after a signed checkpoint.
    pub fn audit_prune_target(&self, before: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT c.seq FROM audit_checkpoints c JOIN audit_log l ON l.seq = c.seq
                  WHERE l.at < ?1 ORDER BY c.seq DESC LIMIT 1",
                params![before],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The checkpoint a prune step removes through: the last one in `(after, soft]`, else
    /// the first one in `(after, hard]` (checkpoints further apart than a step).
    pub fn audit_prune_step(&self, after: i64, soft: i64, hard: i64) -> Result<Option<i64>> {
        let last: Option<i64> = self
            .conn
            .query_row_cached(
                "SELECT seq FROM audit_checkpoints WHERE seq > ?1 AND seq <= ?2 ORDER BY seq DESC LIMIT 1",
                params![after, soft.min(hard)],
                |r| r.get(0),
            )
            .optional()?;
        if last.is_some() {
            return Ok(last);
        }
        Ok(self
            .conn
            .query_row_cached(
                "SELECT seq FROM audit_checkpoints WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT 1",
                params![after, hard],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every checkpoint, in chain order.
    pub fn audit_checkpoints(&self) -> Result<Vec<AuditCheckpointRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, hash, at, public_key, signature FROM audit_checkpoints ORDER BY seq",
        )?;
        let rows = stmt.query_map([], checkpoint_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The first checkpoint (for which key signed them), without reading the others:
    /// checkpoints are kept for the life of the vault, pruned records' included.
    pub fn audit_first_checkpoint(&self) -> Result<Option<AuditCheckpointRow>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT seq, hash, at, public_key, signature FROM audit_checkpoints ORDER BY seq LIMIT 1",
                [],
                checkpoint_row,
            )
            .optional()?)
    }

    /// The position of the last checkpoint.
    pub fn audit_last_checkpoint_seq(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT seq FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }
}

fn checkpoint_row(r: &Row<'_>) -> rusqlite::Result<AuditCheckpointRow> {
    Ok(AuditCheckpointRow {
        seq: r.get(0)?,
        hash: r.get(1)?,
        at: r.get(2)?,
        public_key: r.get(3)?,
        signature: r.get(4)?,
    })
}

impl WriteTx<'_> {
    /// Appends a record (its seq and hashes already computed).
    pub fn insert_audit(&self, r: &NewAuditRow<'_>) -> Result<()> {
        // Bound in column order: seq, at, the ten fields, prev_hash, hash.
        let head: [&dyn ToSql; 2] = [&r.seq, &r.at];
        let tail: [&dyn ToSql; 2] = [&r.prev_hash, &r.hash];
        let values = head
            .into_iter()
            .chain(r.fields.iter().map(|f| f as &dyn ToSql))
            .chain(tail);
        self.conn
            .prepare_cached(INSERT)?
            .execute(rusqlite::params_from_iter(values))?;
        Ok(())
    }

    /// Removes the records up to and including `seq`. Their checkpoints stay (a few
    /// bytes per 64 records): the remaining log starts from the one at `seq`, and an
    /// archive of the removed records is checked against the others. Returns the
    /// records removed.
    pub fn audit_delete_through(&self, seq: i64) -> Result<usize> {
        Ok(self
            .conn
            .execute_cached("DELETE FROM audit_log WHERE seq <= ?1", params![seq])?)
    }

    /// Stores a checkpoint.
    pub fn insert_audit_checkpoint(&self, c: &AuditCheckpointRow) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO audit_checkpoints (seq, hash, at, public_key, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![c.seq, c.hash, c.at, c.public_key, c.signature],
        )?;
        Ok(())
    }
}
