//! Auditing of operations: every entry point (the wire API, the local CLI, sign-in, the
//! instance endpoint) opens an [`AuditGuard`] for the request; [`Vault::authorize`] notes
//! the action and resource; the record is then written
//! - inside the operation's own transaction when it changes something
//!   ([`Vault::commit`]), so a change never exists without its record, or
//! - after the operation (reads, denials, failures) through a group commit that batches
//!   concurrent records into one transaction and one fsync; the caller waits until its
//!   record is durable.
//!
//! If the record cannot be written, the operation fails: a change rolls back with it, and
//! a read or a denial is answered with an error instead of its result.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

use super::Vault;
use crate::audit::{self, Entry};
use crate::error::{Error, Result};
use crate::store::WriteTx;

/// What an entry point knows about a request before the operation runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditContext {
    /// The request id.
    pub request_id: String,
    /// The account acted in.
    pub account: String,
    /// Who acts (ARN; for a sign-in attempt, the ARN the name would have).
    pub principal: String,
    /// The action when the operation authorizes nothing itself (`sts:GetCallerIdentity`).
    pub action: String,
    /// Source address, or `local`.
    pub source_ip: String,
    /// User agent.
    pub user_agent: String,
    /// The credential: access key id, `token:<id>`, `password`, `local-admin`.
    pub credential: String,
}

/// How an operation ended, for its record.
#[derive(Debug, Clone, Copy)]
pub enum AuditOutcome<'a> {
    /// Done (or allowed).
    Allowed,
    /// Refused by policy: the denial message.
    Denied(&'a str),
    /// Failed otherwise: the error code and message.
    Failed(&'a str, &'a str),
}

impl<'a> AuditOutcome<'a> {
    /// The outcome of a crate error.
    pub fn of(e: &'a Error, message: &'a str) -> Self {
        match e {
            Error::AccessDenied(_) => AuditOutcome::Denied(message),
            _ => AuditOutcome::Failed(e.code(), message),
        }
    }

    /// The outcome of a wire error code and message.
    pub fn of_code(code: &'a str, message: &'a str) -> Self {
        if code == "AccessDenied" {
            AuditOutcome::Denied(message)
        } else {
            AuditOutcome::Failed(code, message)
        }
    }
}

struct Scope {
    ctx: AuditContext,
    action: Option<String>,
    resource: Option<String>,
    recorded: bool,
}

thread_local! {
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// The audit scope of one request on this thread. Finish it with
/// [`Vault::audit_finish`]; dropped unfinished (a panic), it only clears the scope.
#[must_use = "finish the scope with Vault::audit_finish"]
pub struct AuditGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for AuditGuard {
    fn drop(&mut self) {
        SCOPE.with(|s| s.borrow_mut().take());
    }
}

/// Opens the audit scope of a request on this thread.
pub fn audit_begin(ctx: AuditContext) -> AuditGuard {
    SCOPE.with(|s| {
        *s.borrow_mut() = Some(Scope {
            ctx,
            action: None,
            resource: None,
            recorded: false,
        });
    });
    AuditGuard {
        _not_send: std::marker::PhantomData,
    }
}

/// Notes the first action and resource an operation authorizes.
pub(super) fn note(action: &str, resource: &str) {
    SCOPE.with(|s| {
        if let Some(sc) = s.borrow_mut().as_mut()
            && sc.action.is_none()
        {
            sc.action = Some(action.to_owned());
            sc.resource = Some(resource.to_owned());
        }
    });
}

fn entry_of(sc: &Scope, at: i64, decision: &str, reason: String) -> Entry {
    Entry {
        at,
        request_id: sc.ctx.request_id.clone(),
        account: sc.ctx.account.clone(),
        principal: sc.ctx.principal.clone(),
        action: sc.action.clone().unwrap_or_else(|| sc.ctx.action.clone()),
        resource: sc.resource.clone().unwrap_or_default(),
        decision: decision.to_owned(),
        reason,
        source_ip: sc.ctx.source_ip.clone(),
        user_agent: sc.ctx.user_agent.clone(),
        credential: sc.ctx.credential.clone(),
    }
}

/// The group-commit queue of records written outside an operation's transaction.
#[derive(Default)]
pub(super) struct AuditQueue {
    state: Mutex<QueueState>,
    done: Condvar,
    /// Group-commit transactions written, and records in them.
    batches: std::sync::atomic::AtomicU64,
    batched_records: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct QueueState {
    next_ticket: u64,
    pending: Vec<(u64, Entry)>,
    flushing: bool,
    results: HashMap<u64, std::result::Result<(), String>>,
}

fn poisoned() -> Error {
    Error::Internal("the audit queue lock is poisoned".into())
}

impl Vault {
    /// Commits an operation's transaction, with its audit record in it when the request
    /// has an audit scope that has not been recorded yet.
    pub(crate) fn commit(&self, tx: WriteTx<'_>) -> Result<()> {
        let at = self.now().unix_timestamp();
        let entry = SCOPE.with(|s| {
            s.borrow()
                .as_ref()
                .filter(|sc| !sc.recorded)
                .map(|sc| entry_of(sc, at, "allowed", String::new()))
        });
        let Some(entry) = entry else {
            return tx.commit();
        };
        audit::append(&tx, &[entry], &self.keys.audit_signing_key())?;
        tx.commit()?;
        SCOPE.with(|s| {
            if let Some(sc) = s.borrow_mut().as_mut() {
                sc.recorded = true;
            }
        });
        Ok(())
    }

    /// Ends a request's audit scope: when the operation's record is not written yet (a
    /// read, a denial, a failure), writes it now and waits until it is durable. An error
    /// here means the record could not be written; the entry point must then answer
    /// with an error instead of the operation's result.
    pub fn audit_finish(&self, guard: AuditGuard, outcome: AuditOutcome<'_>) -> Result<()> {
        let at = self.now().unix_timestamp();
        let entry = SCOPE.with(|s| {
            s.borrow()
                .as_ref()
                .filter(|sc| !sc.recorded)
                .map(|sc| match outcome {
                    AuditOutcome::Allowed => entry_of(sc, at, "allowed", String::new()),
                    AuditOutcome::Denied(m) => entry_of(sc, at, "denied", m.to_owned()),
                    AuditOutcome::Failed(code, m) => {
                        entry_of(sc, at, "failed", format!("{code}: {m}"))
                    }
                })
        });
        drop(guard);
        match entry {
            Some(e) => self.audit_write(vec![e]),
            None => Ok(()),
        }
    }

    /// Writes records outside any operation (data events of the authorization API, the
    /// end of a read), batched with every other writer waiting at the same time.
    pub fn audit_write(&self, entries: Vec<Entry>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let q = &self.audit_queue;
        let mut st = q.state.lock().map_err(|_| poisoned())?;
        let mut mine = Vec::with_capacity(entries.len());
        for e in entries {
            let t = st.next_ticket;
            st.next_ticket += 1;
            st.pending.push((t, e));
            mine.push(t);
        }
        loop {
            if mine.iter().all(|t| st.results.contains_key(t)) {
                let mut out = Ok(());
                for t in &mine {
                    if let Some(Err(why)) = st.results.remove(t) {
                        out = Err(Error::Internal(format!(
                            "the audit record could not be written: {why}"
                        )));
                    }
                }
                return out;
            }
            if st.flushing {
                st = q.done.wait(st).map_err(|_| poisoned())?;
                continue;
            }
            // Lead a flush of everything queued so far.
            st.flushing = true;
            let batch: Vec<(u64, Entry)> = std::mem::take(&mut st.pending);
            drop(st);
            let entries: Vec<Entry> = batch.iter().map(|(_, e)| e.clone()).collect();
            let result = self.flush_audit(&entries).map_err(|e| e.to_string());
            st = q.state.lock().map_err(|_| poisoned())?;
            st.flushing = false;
            for (t, _) in &batch {
                st.results.insert(*t, result.clone());
            }
            q.done.notify_all();
        }
    }

    fn flush_audit(&self, entries: &[Entry]) -> Result<()> {
        let tx = self.store().write()?;
        audit::append(&tx, entries, &self.keys.audit_signing_key())?;
        // Audit records change no authorization state: the warm caches stay valid.
        tx.commit_bookkeeping()?;
        use std::sync::atomic::Ordering;
        self.audit_queue.batches.fetch_add(1, Ordering::Relaxed);
        self.audit_queue
            .batched_records
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Group-commit transactions written so far, and the records they held: their ratio
    /// is how many records shared each fsync.
    pub fn audit_group_commits(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        (
            self.audit_queue.batches.load(Ordering::Relaxed),
            self.audit_queue.batched_records.load(Ordering::Relaxed),
        )
    }

    /// Verifies the audit chain against this vault's checkpoint key.
    pub fn audit_verify(&self) -> Result<audit::Verification> {
        let public = self.keys.audit_signing_key().verifying_key();
        audit::verify(&self.store().read()?, &public)
    }

    /// Signs a checkpoint of the current head (before a backup, or after a quiet spell).
    pub fn audit_checkpoint(&self) -> Result<()> {
        let tx = self.store().write()?;
        audit::checkpoint_head(
            &tx,
            &self.keys.audit_signing_key(),
            self.now().unix_timestamp(),
        )?;
        tx.commit_bookkeeping()
    }

    /// Records after position `after`, oldest first, at most `limit`.
    pub fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<crate::store::AuditRow>> {
        self.store().read()?.audit_page(after, limit)
    }

    /// The last `n` records.
    pub fn audit_tail(&self, n: u32) -> Result<Vec<crate::store::AuditRow>> {
        self.store().read()?.audit_tail(n)
    }

    /// Records matching `f`.
    pub fn audit_search(
        &self,
        f: &crate::store::AuditFilter,
        limit: u32,
    ) -> Result<Vec<crate::store::AuditRow>> {
        self.store().read()?.audit_search(f, limit)
    }

    /// Whether allowed decisions of the authorization API are recorded (denials always
    /// are).
    pub fn audit_data_events(&self) -> Result<bool> {
        Ok(self
            .store()
            .read()?
            .meta("audit.data_events")?
            .is_some_and(|v| v == "on"))
    }

    /// Switches recording of allowed authorization-API decisions on or off. Root only.
    pub fn set_audit_data_events(&self, caller: &super::Caller, on: bool) -> Result<()> {
        if caller.kind != super::CallerKind::Root {
            return Err(Error::AccessDenied(
                "only the account root may change vault settings".into(),
            ));
        }
        let tx = self.store().write()?;
        tx.set_meta("audit.data_events", if on { "on" } else { "off" })?;
        self.commit(tx)
    }
}
