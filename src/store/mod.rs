//! The embedded store: SQLite through rusqlite (bundled), WAL, foreign keys on.
//!
//! This is the only module that writes SQL, and every statement binds its parameters. It
//! exposes typed operations inside transactions, never SQL or rusqlite types:
//! - [`Store::read`] gives a [`ReadTx`], a consistent snapshot;
//! - [`Store::write`] gives a [`WriteTx`], which must be [`WriteTx::commit`]ted; dropping
//!   it rolls back.
//!
//! Group commit: write transactions that queue for the writer connection while another is
//! open share one SQLite transaction and one fsync. Each is a savepoint inside it; a
//! writer that fails rolls back to its savepoint and leaves the others' work alone; a
//! writer that commits releases its savepoint, hands the connection to the next queued
//! writer, and waits until the shared transaction is durable. The last writer in line
//! (or the 16th) commits it for everyone. `commit` returns only after the data is on
//! disk, as before; a failed `COMMIT` fails every member.

mod audit;
mod instances;
mod ops;
mod rekey;
mod resource_policies;
mod rows;
mod schema;
mod sessions;
mod signin;

use std::collections::HashMap;
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};

pub use audit::{AuditCheckpointRow, AuditFilter, AuditRow, NewAuditRow};
pub use instances::InstanceRow;
pub use rekey::SealedRow;
pub use resource_policies::ResourcePolicyRow;
pub use rows::*;
pub use sessions::SigningKeyRow;
pub use signin::{
    AuthEventRow, KeyUsageRow, LockoutRow, LoginProfileRow, MfaDeviceRow, PasswordDatesRow,
};

/// Statements through the connection's prepared-statement cache: a request's SQL is
/// parsed and planned once per connection, not on every call.
pub(crate) trait CachedSql {
    /// [`Connection::query_row`], cached.
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
    /// [`Connection::execute`], cached.
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl CachedSql for Connection {
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Prepared statements kept per connection (the store has about a hundred distinct ones).
const STATEMENT_CACHE: usize = 256;

/// Times are stored as unix seconds.
pub(crate) fn ts(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(crate) fn from_ts(s: i64) -> rusqlite::Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e))
    })
}

pub(crate) fn opt_ts(s: Option<i64>) -> rusqlite::Result<Option<time::OffsetDateTime>> {
    s.map(from_ts).transpose()
}

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "vault.db";

/// A handle on the vault database.
pub struct Store {
    /// The connection every write transaction uses (and every read of an in-memory
    /// database).
    conn: Mutex<Connection>,
    /// Read-only connections for read transactions of a database file. In WAL mode a
    /// reader sees a consistent snapshot while the writer commits, so reads never queue
    /// behind a commit's fsync (the audit writer commits all the time).
    readers: Vec<Mutex<Connection>>,
    /// Which reader a read transaction tries first.
    next_reader: AtomicU64,
    /// Counts committed write transactions of this handle, plus changes other processes
    /// made that [`Store::observe_external_changes`] noticed. In-memory caches of
    /// authorization state are valid only while it stays the same.
    generation: AtomicU64,
    /// The last `PRAGMA data_version` seen (changes when another connection commits).
    data_version: AtomicU64,
    /// Transactions begun (read or write): what tests of the warm paths count.
    transactions: AtomicU64,
    /// Write transactions sharing one commit.
    group: GroupCommit,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        let mut store = Self::configure(conn)?;
        // After the migrations, so readers only ever see the current schema.
        store.readers = (0..READERS)
            .map(|_| open_reader(path).map(Mutex::new))
            .collect::<Result<_>>()?;
        // An in-memory database has one connection for reads and writes, so a write
        // transaction left open for the group would block every read: no group commit.
        store.group.enabled = true;
        Ok(store)
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self> {
        Self::configure(Connection::open_in_memory()?)
    }

    fn configure(conn: Connection) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        stable_plans(&conn)?;
        // journal_mode returns a row, so it is read rather than executed.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
        let store = Self {
            conn: Mutex::new(conn),
            readers: Vec::new(),
            next_reader: AtomicU64::new(0),
            generation: AtomicU64::new(1),
            data_version: AtomicU64::new(0),
            transactions: AtomicU64::new(0),
            group: GroupCommit::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| Error::Internal("the database handle is poisoned".into()))
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let target = i64::try_from(schema::MIGRATIONS.len()).unwrap_or(i64::MAX);
        if current > target {
            return Err(Error::Config(format!(
                "the database has schema version {current}, newer than this build understands ({target}); upgrade iamvault"
            )));
        }
        for (i, sql) in schema::MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(current).unwrap_or(0))
        {
            tx.execute_batch(sql)?;
            // PRAGMA takes no bound parameters; the value is a small integer we computed.
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .lock()?
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// The write generation: it changes whenever this handle commits a write, or
    /// [`Store::observe_external_changes`] saw another process's commit.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Checks whether another process (the local admin CLI on the same data directory)
    /// committed since the last check, and if so moves the generation on. Called at most
    /// once a second from the request path; costs one `PRAGMA data_version`.
    pub fn observe_external_changes(&self) -> Result<()> {
        let v: i64 = self
            .lock()?
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let v = u64::try_from(v).unwrap_or(0);
        if self.data_version.swap(v, Ordering::AcqRel) != v {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Copies the whole database to `dest` (which must not exist) through SQLite's online
    /// backup API, in one step: one read transaction, so the copy is a consistent
    /// snapshot even while other connections write. The copy is made 0600.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        let conn = self.lock_idle()?;
        copy_database(&conn, dest)
    }

    /// Copies the database file `src` (a backup) to `dest` (which must not exist) and
    /// checks the result with `PRAGMA integrity_check`.
    pub fn restore_file(src: &Path, dest: &Path) -> Result<()> {
        let source = Connection::open_with_flags(
            src,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::Config(format!("cannot open the backup `{}`: {e}", src.display())))?;
        let check: String = source
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| {
                Error::Config(format!("`{}` is not a vault backup: {e}", src.display()))
            })?;
        if check != "ok" {
            return Err(Error::Config(format!(
                "the backup `{}` is damaged: {check}",
                src.display()
            )));
        }
        copy_database(&source, dest)
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .lock_idle()?
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// How many transactions this handle has begun.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Starts a read transaction, on a reader connection when there are any.
    pub fn read(&self) -> Result<ReadTx<'_>> {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        let conn = self.lock_reader()?;
        conn.execute_cached("BEGIN DEFERRED", [])?;
        Ok(ReadTx {
            conn,
            active: true,
            group: None,
        })
    }

    /// A free reader connection, else the next one in turn (else the writer's, for an
    /// in-memory database).
    fn lock_reader(&self) -> Result<MutexGuard<'_, Connection>> {
        let n = self.readers.len();
        if n == 0 {
            return self.lock();
        }
        let start = usize::try_from(self.next_reader.fetch_add(1, Ordering::Relaxed) % n as u64)
            .unwrap_or(0);
        for i in 0..n {
            if let Some(r) = self.readers.get((start + i) % n)
                && let Ok(g) = r.try_lock()
            {
                return Ok(g);
            }
        }
        self.readers
            .get(start)
            .ok_or_else(|| Error::Internal("no reader connection".into()))?
            .lock()
            .map_err(|_| Error::Internal("the database handle is poisoned".into()))
    }

    /// Starts a write transaction. It takes the write lock at once, so two writers never
    /// interleave their reads and writes. With group commit it joins the shared
    /// transaction that is open, if any, as a savepoint.
    pub fn write(&self) -> Result<WriteTx<'_>> {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        if !self.group.enabled {
            let conn = self.lock()?;
            conn.execute_cached("BEGIN IMMEDIATE", [])?;
            return Ok(WriteTx {
                inner: ReadTx {
                    conn,
                    active: true,
                    group: None,
                },
                generation: &self.generation,
            });
        }
        // Counted while waiting for the connection: a writer that commits and sees others
        // queued leaves the shared transaction open for them.
        self.group.queued.fetch_add(1, Ordering::SeqCst);
        let conn = self.conn.lock();
        self.group.queued.fetch_sub(1, Ordering::SeqCst);
        let conn = match conn {
            Ok(conn) => conn,
            Err(poisoned) => {
                // A thread panicked holding the connection (its savepoint was rolled back
                // as it unwound). Fail the open group, if any, so its members stop
                // waiting; the store stays refused as before.
                let conn = poisoned.into_inner();
                if let Some(g) = self.group.state().open.as_mut() {
                    g.poisoned = true;
                }
                let _ = self.group.settle(&conn, &self.generation, None);
                return Err(Error::Internal("the database handle is poisoned".into()));
            }
        };
        self.group.join(&conn, &self.generation)?;
        Ok(WriteTx {
            inner: ReadTx {
                conn,
                active: true,
                group: Some((&self.group, &self.generation)),
            },
            generation: &self.generation,
        })
    }

    /// The writer connection when no shared transaction is open (for a backup or an
    /// integrity check, which must see committed data only).
    fn lock_idle(&self) -> Result<MutexGuard<'_, Connection>> {
        loop {
            let conn = self.lock()?;
            if !self.group.is_open() {
                return Ok(conn);
            }
            drop(conn);
            // The open group has a queued writer that will finish it.
            self.group.wait_until_closed();
        }
    }

    /// Shared transactions committed (group commit), and write transactions in them.
    pub fn group_commits(&self) -> (u64, u64) {
        let st = self.group.state();
        (st.groups, st.members)
    }

    /// Writers waiting for the writer connection (for tests that line writers up).
    #[cfg(test)]
    pub(crate) fn queued_writers(&self) -> usize {
        self.group.queued.load(Ordering::SeqCst)
    }
}

/// Most write transactions in one shared commit: a bound on how long the first of them
/// waits when writers keep arriving. Measured (key create+delete, 32 clients, two builds
/// interleaved, docs/performance.md "Stop 15"): 16 gave 6.1-6.4k pairs/s against
/// 5.3-5.6k with 64 and 5.2-5.5k with 32 (8: 5.4k); past it the early members wait for
/// late ones instead of getting their answer and sending their next request.
const MAX_GROUP: usize = 16;

/// The savepoint each member of a shared transaction works in: opened, released, undone.
const SAVEPOINT: &str = "SAVEPOINT member";
const RELEASE: &str = "RELEASE member";
const ROLLBACK_TO: &str = "ROLLBACK TO member";

#[derive(Default)]
struct GroupCommit {
    /// Whether write transactions share commits (a database file).
    enabled: bool,
    /// Writers waiting for the writer connection.
    queued: AtomicUsize,
    state: Mutex<GroupState>,
    /// Signalled when a shared transaction is finished.
    finished: Condvar,
}

#[derive(Default)]
struct GroupState {
    /// The shared transaction open on the writer connection, if any.
    open: Option<OpenGroup>,
    /// Number of the last shared transaction begun.
    last: u64,
    /// Every shared transaction numbered up to this one is finished.
    done_through: u64,
    /// Failed shared transactions: the error, and how many members have not yet read it.
    failures: HashMap<u64, (String, usize)>,
    /// Shared transactions committed, and members committed in them.
    groups: u64,
    members: u64,
}

struct OpenGroup {
    number: u64,
    /// Members that released their savepoint (their work commits with the group).
    committed: usize,
    /// Whether a member changed what authorization reads (not only bookkeeping).
    state_changed: bool,
    /// The transaction cannot be committed (it was rolled back underneath, or a member's
    /// work could not be undone): it is rolled back and every member fails.
    poisoned: bool,
}

/// What a member leaving the shared transaction does next.
enum Settled {
    /// Wait until shared transaction N is finished.
    Wait(u64),
    /// It finished the transaction itself, with this result.
    Done(Result<()>),
}

impl GroupCommit {
    fn state(&self) -> MutexGuard<'_, GroupState> {
        // The state is plain counters, consistent at every unlock: a panic elsewhere
        // cannot leave it half-updated, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_open(&self) -> bool {
        self.state().open.is_some()
    }

    fn wait_until_closed(&self) {
        let mut st = self.state();
        while st.open.is_some() {
            st = self
                .finished
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// With the writer connection held: joins the open shared transaction, or begins one,
    /// and opens this member's savepoint.
    fn join(&self, conn: &Connection, generation: &AtomicU64) -> Result<()> {
        let mut st = self.state();
        match &mut st.open {
            Some(g) if conn.is_autocommit() => {
                // SQLite rolled the shared transaction back on an error (a full disk):
                // its members' work is gone, so they must fail.
                g.poisoned = true;
            }
            Some(_) => {}
            None => {
                conn.execute_cached("BEGIN IMMEDIATE", [])?;
                st.last += 1;
                st.open = Some(OpenGroup {
                    number: st.last,
                    committed: 0,
                    state_changed: false,
                    poisoned: false,
                });
            }
        }
        let poisoned = st.open.as_ref().is_some_and(|g| g.poisoned);
        drop(st);
        if poisoned {
            // Finish the broken transaction for its members, then begin afresh.
            let _ = self.settle(conn, generation, None);
            return self.join(conn, generation);
        }
        if let Err(e) = conn.execute_cached(SAVEPOINT, []) {
            let _ = self.settle(conn, generation, None);
            return Err(e.into());
        }
        Ok(())
    }

    /// With the writer connection held, after this member released its savepoint
    /// (`committed` = whether it changed authorization state) or rolled it back (`None`):
    /// leaves the shared transaction open for a queued writer, or finishes it.
    fn settle(
        &self,
        conn: &Connection,
        generation: &AtomicU64,
        committed: Option<bool>,
    ) -> Settled {
        let mut st = self.state();
        let Some(g) = st.open.as_mut() else {
            return Settled::Done(Err(Error::Internal(
                "a write transaction ended outside its group".into(),
            )));
        };
        if let Some(state_changed) = committed {
            g.committed += 1;
            g.state_changed |= state_changed;
        }
        if conn.is_autocommit() {
            g.poisoned = true;
        }
        let number = g.number;
        if !g.poisoned && g.committed < MAX_GROUP && self.queued.load(Ordering::SeqCst) > 0 {
            return match committed {
                Some(_) => Settled::Wait(number),
                None => Settled::Done(Ok(())),
            };
        }
        let Some(g) = st.open.take() else {
            return Settled::Done(Ok(()));
        };
        drop(st);
        let result = if g.poisoned {
            if !conn.is_autocommit() {
                let _ = conn.execute_cached("ROLLBACK", []);
            }
            Err(Error::Internal(
                "the shared write transaction was rolled back".into(),
            ))
        } else if g.committed == 0 {
            conn.execute_cached("ROLLBACK", [])
                .map(|_| ())
                .map_err(Error::from)
        } else {
            match conn.execute_cached("COMMIT", []) {
                Ok(_) => Ok(()),
                Err(e) => {
                    if !conn.is_autocommit() {
                        let _ = conn.execute_cached("ROLLBACK", []);
                    }
                    Err(e.into())
                }
            }
        };
        if result.is_ok() && g.state_changed {
            // After the commit, so a cache filled from the new state is never labelled
            // with the old generation.
            generation.fetch_add(1, Ordering::AcqRel);
        }
        let mut st = self.state();
        st.done_through = g.number;
        if result.is_ok() && g.committed > 0 {
            st.groups += 1;
            st.members += g.committed as u64;
        }
        let waiting = g.committed - usize::from(committed.is_some());
        if let Err(e) = &result
            && waiting > 0
        {
            st.failures.insert(g.number, (e.to_string(), waiting));
        }
        drop(st);
        self.finished.notify_all();
        // An uncommitted member's own work is rolled back whatever the group's outcome.
        match committed {
            Some(_) => Settled::Done(result),
            None => Settled::Done(Ok(())),
        }
    }

    /// Waits until shared transaction `number` is finished; its result.
    fn wait(&self, number: u64) -> Result<()> {
        let mut st = self.state();
        while st.done_through < number {
            st = self
                .finished
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let Some((message, left)) = st.failures.get_mut(&number) else {
            return Ok(());
        };
        let message = message.clone();
        *left -= 1;
        if *left == 0 {
            st.failures.remove(&number);
        }
        Err(Error::Internal(format!(
            "the write could not be committed: {message}"
        )))
    }
}

/// Read-only connections per database file, besides the writer's: one per core of the
/// machine the figures in docs/performance.md come from; reads are short.
const READERS: usize = 2;

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
            | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    stable_plans(&conn)?;
    Ok(conn)
}

/// Query-planner stability: a cached statement keeps its plan whatever values are bound.
/// Without it, the bundled SQLite prepares a statement with bound parameters and an
/// `ORDER BY` again each time new values are bound (a plan may depend on them), so the
/// statement cache saved nothing on those; it was about a third of the server's samples
/// on SimulatePrincipalPolicy. The store's plans do not depend on values: the listing
/// tests check they still use their indexes.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn copy_database(source: &Connection, dest: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // Create the file first, exclusively and 0600, so the copy is never readable by
    // others, not even for a moment, and an existing file is never overwritten.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(|e| Error::Config(format!("cannot create `{}`: {e}", dest.display())))?;
    let result = (|| -> Result<()> {
        let mut target = Connection::open(dest)?;
        let backup = rusqlite::backup::Backup::new(source, &mut target)?;
        // -1: every page in one step, inside one read transaction of the source. A busy
        // source (a writer mid-commit) is retried for up to ten seconds.
        let mut attempts = 0;
        loop {
            match backup.step(-1)? {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => {}
                _ if attempts < 100 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                _ => {
                    return Err(Error::Config(
                        "the database stayed busy for ten seconds; try the backup again".into(),
                    ));
                }
            }
        }
        drop(backup);
        // The copy is a plain database file, independent of the source's WAL.
        let _mode: String = target.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    result
}

/// A read transaction. Reads through it see one consistent snapshot.
pub struct ReadTx<'a> {
    conn: MutexGuard<'a, Connection>,
    active: bool,
    /// For a write transaction in a shared commit: the group and the store's generation.
    group: Option<(&'a GroupCommit, &'a AtomicU64)>,
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        match self.group {
            // Nothing to report from a failed rollback: the connection discards the
            // transaction either way.
            None => {
                let _ = self.conn.execute_cached("ROLLBACK", []);
            }
            Some((group, generation)) => {
                // Undo this member's work only; the others' stays for the shared commit.
                let undone = self
                    .conn
                    .execute_cached(ROLLBACK_TO, [])
                    .and_then(|_| self.conn.execute_cached(RELEASE, []));
                if undone.is_err()
                    && let Some(g) = group.state().open.as_mut()
                {
                    g.poisoned = true;
                }
                let _ = group.settle(&self.conn, generation, None);
            }
        }
    }
}

/// A write transaction. Dropped without [`WriteTx::commit`], it rolls back.
pub struct WriteTx<'a> {
    inner: ReadTx<'a>,
    generation: &'a AtomicU64,
}

impl<'a> Deref for WriteTx<'a> {
    type Target = ReadTx<'a>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl WriteTx<'_> {
    /// Makes every change in the transaction durable.
    pub fn commit(self) -> Result<()> {
        self.finish(true)
    }

    /// Runs raw SQL: only for tests that tamper with the database on purpose.
    #[cfg(test)]
    pub(crate) fn raw_execute(&self, sql: &str) -> Result<usize> {
        Ok(self.inner.conn.execute(sql, [])?)
    }

    /// Commits a write that changes nothing any authorization decision reads (a
    /// last-used stamp), so in-memory authorization caches stay valid.
    pub fn commit_bookkeeping(self) -> Result<()> {
        self.finish(false)
    }

    fn finish(mut self, state_changed: bool) -> Result<()> {
        let Some((group, generation)) = self.inner.group else {
            self.inner.conn.execute_cached("COMMIT", [])?;
            self.inner.active = false;
            if state_changed {
                // After the commit, so a cache filled from the new state is never
                // labelled with the old generation.
                self.generation.fetch_add(1, Ordering::AcqRel);
            }
            return Ok(());
        };
        // Released, the savepoint's work belongs to the shared transaction; on an error
        // the member rolls back (through drop) and fails alone.
        self.inner.conn.execute_cached(RELEASE, [])?;
        self.inner.active = false;
        let settled = group.settle(&self.inner.conn, generation, Some(state_changed));
        // Hand the connection on before waiting for the shared commit.
        drop(self);
        match settled {
            Settled::Done(result) => result,
            Settled::Wait(number) => group.wait(number),
        }
    }
}

#[cfg(test)]
mod tests;
