//! The embedded store: SQLite through rusqlite (bundled), WAL, foreign keys on.
//!
//! This is the only module that writes SQL, and every statement binds its parameters. It
//! exposes typed operations inside transactions, never SQL or rusqlite types:
//! - [`Store::read`] gives a [`ReadTx`], a consistent snapshot;
//! - [`Store::write`] gives a [`WriteTx`] (`BEGIN IMMEDIATE`), which must be
//!   [`WriteTx::commit`]ted; dropping it rolls back.

mod audit;
mod instances;
mod ops;
mod rekey;
mod resource_policies;
mod rows;
mod schema;
mod sessions;
mod signin;

use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};

pub use audit::{AuditCheckpointRow, AuditFilter, AuditRow};
pub use instances::InstanceRow;
pub use rekey::SealedRow;
pub use resource_policies::ResourcePolicyRow;
pub use rows::*;
pub use sessions::SigningKeyRow;
pub use signin::{AuthEventRow, LockoutRow, LoginProfileRow, MfaDeviceRow};

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
        Ok(store)
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self> {
        Self::configure(Connection::open_in_memory()?)
    }

    fn configure(conn: Connection) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
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
        let conn = self.lock()?;
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
            .lock()?
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
        Ok(ReadTx { conn, active: true })
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
    /// interleave their reads and writes.
    pub fn write(&self) -> Result<WriteTx<'_>> {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        let conn = self.lock()?;
        conn.execute_cached("BEGIN IMMEDIATE", [])?;
        Ok(WriteTx {
            inner: ReadTx { conn, active: true },
            generation: &self.generation,
        })
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
    Ok(conn)
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
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        if self.active {
            // Nothing to report from a failed rollback: the connection discards the
            // transaction either way.
            let _ = self.conn.execute_cached("ROLLBACK", []);
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
    pub fn commit(mut self) -> Result<()> {
        self.inner.conn.execute_cached("COMMIT", [])?;
        self.inner.active = false;
        // After the commit, so a cache filled from the new state is never labelled with
        // the old generation.
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Runs raw SQL: only for tests that tamper with the database on purpose.
    #[cfg(test)]
    pub(crate) fn raw_execute(&self, sql: &str) -> Result<usize> {
        Ok(self.inner.conn.execute(sql, [])?)
    }

    /// Commits a write that changes nothing any authorization decision reads (a
    /// last-used stamp), so in-memory authorization caches stay valid.
    pub fn commit_bookkeeping(mut self) -> Result<()> {
        self.inner.conn.execute_cached("COMMIT", [])?;
        self.inner.active = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
