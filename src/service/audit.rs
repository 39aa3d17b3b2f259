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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use super::Vault;
use crate::audit::{self, Entry};
use crate::error::{Error, Result};
use crate::store::{Store, WriteTx};

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

impl AuditContext {
    /// The context of a local administration command acting as `caller` (the CLI on the
    /// data directory, whose file access is its authority).
    pub fn local_admin(caller: &super::Caller, request_id: String, action: String) -> Self {
        Self {
            request_id,
            account: caller.account.to_string(),
            principal: caller.arn.clone(),
            action,
            source_ip: "local".into(),
            user_agent: format!("iamvault-cli/{}", env!("CARGO_PKG_VERSION")),
            credential: "local-admin".into(),
        }
    }

    /// An allowed record of this context's action on `resource`, written outside any
    /// request's scope (a prune's record of itself).
    pub(super) fn allowed_entry(self, at: i64, resource: String, reason: String) -> Entry {
        let scope = Scope {
            ctx: self,
            action: None,
            resource: Some(resource),
            recorded: false,
        };
        entry_from(scope, at, "allowed", reason)
    }
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

#[derive(Clone)]
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

/// The record of a scope that stays open (written in its operation's own transaction).
fn entry_of(sc: &Scope, at: i64, decision: &str, reason: String) -> Entry {
    entry_from(sc.clone(), at, decision, reason)
}

/// The record of a scope that is closing: its strings move into it.
fn entry_from(sc: Scope, at: i64, decision: &str, reason: String) -> Entry {
    let Scope {
        ctx,
        action,
        resource,
        ..
    } = sc;
    Entry {
        at,
        request_id: ctx.request_id,
        account: ctx.account,
        principal: ctx.principal,
        action: action.unwrap_or(ctx.action),
        resource: resource.unwrap_or_default(),
        decision: decision.to_owned(),
        reason,
        source_ip: ctx.source_ip,
        user_agent: ctx.user_agent,
        credential: ctx.credential,
    }
}

/// The group commit of records written outside an operation's transaction: one writer
/// thread takes every record queued while it was busy, appends them in one transaction
/// (one fsync), and then tells each waiter on its own channel. Waiters never wake each
/// other, and an async handler awaits its record without holding a blocking thread.
#[derive(Default)]
pub(super) struct AuditQueue {
    writer: Mutex<Option<Writer>>,
    /// Group-commit transactions written, and records in them.
    stats: Arc<BatchStats>,
}

#[derive(Default)]
struct BatchStats {
    batches: AtomicU64,
    records: AtomicU64,
}

struct Writer {
    jobs: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
}

impl Drop for AuditQueue {
    fn drop(&mut self) {
        let writer = match self.writer.get_mut() {
            Ok(w) => w.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(Writer { jobs, thread }) = writer {
            // Closing the queue ends the writer once it has written what was queued.
            drop(jobs);
            let _ = thread.join();
        }
    }
}

/// The outcome of a flush as each waiter gets it (the error text only: it is logged,
/// never sent to a client).
type FlushResult = std::result::Result<(), String>;

enum Waiter {
    Blocking(mpsc::SyncSender<FlushResult>),
    Async(tokio::sync::oneshot::Sender<FlushResult>),
}

impl Waiter {
    fn send(self, r: FlushResult) {
        // A waiter that is gone (a cancelled request) needs no answer.
        match self {
            Waiter::Blocking(tx) => {
                let _ = tx.send(r);
            }
            Waiter::Async(tx) => {
                let _ = tx.send(r);
            }
        }
    }
}

struct Job {
    entries: Vec<Entry>,
    waiter: Waiter,
}

/// Records in one group-commit transaction at most (a bound on one fsync's work).
const MAX_BATCH: usize = 1024;

fn writer_loop(
    store: &Store,
    signer: &ed25519_dalek::SigningKey,
    stats: &BatchStats,
    jobs: &mpsc::Receiver<Job>,
) {
    // Ends when every sender is gone (the vault is dropped).
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        let mut records = batch.iter().map(|j| j.entries.len()).sum::<usize>();
        while records < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => {
                    records += j.entries.len();
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        let mut entries = Vec::with_capacity(records);
        let mut waiters = Vec::with_capacity(batch.len());
        for j in batch {
            entries.extend(j.entries);
            waiters.push(j.waiter);
        }
        let result = flush_audit(store, signer, &entries).map_err(|e| e.to_string());
        if result.is_ok() {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats
                .records
                .fetch_add(entries.len() as u64, Ordering::Relaxed);
        }
        for w in waiters {
            w.send(result.clone());
        }
    }
}

fn flush_audit(store: &Store, signer: &ed25519_dalek::SigningKey, entries: &[Entry]) -> Result<()> {
    let tx = store.write()?;
    audit::append(&tx, entries, signer)?;
    // Audit records change no authorization state: the warm caches stay valid.
    tx.commit_bookkeeping()
}

fn poisoned() -> Error {
    Error::Internal("the audit queue lock is poisoned".into())
}

fn not_written(why: &str) -> Error {
    Error::Internal(format!("the audit record could not be written: {why}"))
}

fn writer_gone() -> Error {
    not_written("the audit writer stopped")
}

/// A record on its way to the log: await [`AuditPending::durable`] (or
/// [`AuditPending::wait`] off the async runtime) before answering the request.
#[must_use = "the answer may only be sent once the record is durable"]
pub struct AuditPending(PendingState);

enum PendingState {
    Done(Result<()>),
    Queued(tokio::sync::oneshot::Receiver<FlushResult>),
}

impl AuditPending {
    /// Nothing left to write (the operation's transaction held the record).
    pub fn done() -> Self {
        AuditPending(PendingState::Done(Ok(())))
    }

    /// Waits until the record is durable. An error means it could not be written and the
    /// request must fail.
    pub async fn durable(self) -> Result<()> {
        match self.0 {
            PendingState::Done(r) => r,
            PendingState::Queued(rx) => match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(why)) => Err(not_written(&why)),
                Err(_) => Err(writer_gone()),
            },
        }
    }
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
        audit::append(&tx, &[entry], self.keys.audit_signing_key())?;
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
        match self.finished_entry(guard, outcome) {
            Some(e) => self.audit_write(vec![e]),
            None => Ok(()),
        }
    }

    /// [`Vault::audit_finish`] for an async entry point: queues the record and returns at
    /// once; the caller awaits [`AuditPending::durable`] before it answers, without
    /// holding a thread while the record is written.
    pub fn audit_finish_pending(
        &self,
        guard: AuditGuard,
        outcome: AuditOutcome<'_>,
    ) -> AuditPending {
        let Some(e) = self.finished_entry(guard, outcome) else {
            return AuditPending::done();
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        match self.audit_submit(vec![e], Waiter::Async(tx)) {
            Ok(()) => AuditPending(PendingState::Queued(rx)),
            Err(e) => AuditPending(PendingState::Done(Err(e))),
        }
    }

    /// The record of a scope that has none yet, and the scope closed.
    fn finished_entry(&self, guard: AuditGuard, outcome: AuditOutcome<'_>) -> Option<Entry> {
        let at = self.now().unix_timestamp();
        // The scope closes here, so its strings move into the record.
        let entry = SCOPE.with(|s| {
            s.borrow_mut()
                .take()
                .filter(|sc| !sc.recorded)
                .map(|sc| match outcome {
                    AuditOutcome::Allowed => entry_from(sc, at, "allowed", String::new()),
                    AuditOutcome::Denied(m) => entry_from(sc, at, "denied", m.to_owned()),
                    AuditOutcome::Failed(code, m) => {
                        entry_from(sc, at, "failed", format!("{code}: {m}"))
                    }
                })
        });
        drop(guard);
        entry
    }

    /// Writes records outside any operation (data events of the authorization API, the
    /// end of a read), batched with every other record queued at the same time, and
    /// waits until they are durable.
    pub fn audit_write(&self, entries: Vec<Entry>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.audit_submit(entries, Waiter::Blocking(tx))?;
        match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(not_written(&why)),
            Err(_) => Err(writer_gone()),
        }
    }

    /// Hands records to the writer thread (started on first use).
    fn audit_submit(&self, entries: Vec<Entry>, waiter: Waiter) -> Result<()> {
        let q = &self.audit_queue;
        let mut w = q.writer.lock().map_err(|_| poisoned())?;
        if w.is_none() {
            let (jobs, rx) = mpsc::channel::<Job>();
            let store = Arc::clone(self.store_arc());
            let signer = self.keys.audit_signing_key().clone();
            let stats = Arc::clone(&q.stats);
            let thread = std::thread::Builder::new()
                .name("iamvault-audit".into())
                .spawn(move || writer_loop(&store, &signer, &stats, &rx))
                .map_err(|e| not_written(&format!("cannot start the audit writer: {e}")))?;
            *w = Some(Writer { jobs, thread });
        }
        let job = Job { entries, waiter };
        match w.as_ref().map(|w| w.jobs.send(job)) {
            Some(Ok(())) => Ok(()),
            // The writer died (it never panics by design; if it did, fail closed and
            // start a new one next time).
            _ => {
                *w = None;
                Err(writer_gone())
            }
        }
    }

    /// Group-commit transactions written so far, and the records they held: their ratio
    /// is how many records shared each fsync.
    pub fn audit_group_commits(&self) -> (u64, u64) {
        (
            self.audit_queue.stats.batches.load(Ordering::Relaxed),
            self.audit_queue.stats.records.load(Ordering::Relaxed),
        )
    }

    /// Verifies the audit chain against this vault's checkpoint key.
    pub fn audit_verify(&self) -> Result<audit::Verification> {
        let public = self.keys.audit_signing_key().verifying_key();
        audit::verify(self.store(), &public)
    }

    /// Signs a checkpoint of the current head (before a backup, or after a quiet spell).
    pub fn audit_checkpoint(&self) -> Result<()> {
        let tx = self.store().write()?;
        audit::checkpoint_head(
            &tx,
            self.keys.audit_signing_key(),
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

    /// How many records match `f`.
    pub fn audit_count(&self, f: &crate::store::AuditFilter) -> Result<u64> {
        self.store().read()?.audit_count(f)
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
