//! Token-signing keys and session revocation state.

use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::CachedSql as _;
use super::{ReadTx, WriteTx, ts};
use crate::error::Result;

/// A stored signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    /// Hex key id.
    pub kid: String,
    /// The 32-byte public key.
    pub public_key: Vec<u8>,
    /// The private key, sealed.
    pub sealed_private: Vec<u8>,
    /// Creation (unix seconds).
    pub created_at: i64,
    /// Dropped after this time (unix seconds); `None` while current.
    pub retire_after: Option<i64>,
    /// Signs new tokens.
    pub current: bool,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl ReadTx<'_> {
    /// Every signing key.
    pub fn signing_keys(&self) -> Result<Vec<SigningKeyRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT kid, public_key, sealed_private, created_at, retire_after, current FROM signing_keys ORDER BY created_at",
        )?;
        let rows = st.query_map([], |r| {
            Ok(SigningKeyRow {
                kid: r.get(0)?,
                public_key: r.get(1)?,
                sealed_private: r.get(2)?,
                created_at: r.get(3)?,
                retire_after: r.get(4)?,
                current: r.get::<_, i64>(5)? != 0,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every revoke-before cut-off: `(scope, subject, unix seconds)`.
    pub fn session_revocations(&self) -> Result<Vec<(String, String, i64)>> {
        self.session_revocations_since(-1)
    }

    /// The revoke-before cut-offs set or raised after revocation version `version`.
    pub fn session_revocations_since(&self, version: i64) -> Result<Vec<(String, String, i64)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT scope, subject, revoke_before FROM session_revocations WHERE version > ?1",
        )?;
        let rows = st.query_map(params![version], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Revoked token ids still within their lifetime.
    pub fn revoked_tokens(&self, now: OffsetDateTime) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT token_id FROM revoked_tokens WHERE expires_at > ?1")?;
        let rows = st.query_map(params![ts(now)], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A change counter for the signing keys.
    pub fn keys_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT value FROM meta WHERE key = 'keys_version'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// A change counter for the revocation state (cheap to poll).
    pub fn revocation_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT value FROM meta WHERE key = 'revocation_version'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
}

impl WriteTx<'_> {
    /// Adds a key; when `current`, every other key stops being current and is retired
    /// after `retire_others_after`.
    pub fn insert_signing_key(
        &self,
        k: &SigningKeyRow,
        retire_others_after: Option<i64>,
    ) -> Result<()> {
        if k.current {
            self.conn.execute_cached(
                "UPDATE signing_keys SET current = 0, retire_after = ?1 WHERE current = 1",
                params![retire_others_after],
            )?;
        }
        self.conn.execute_cached(
            "INSERT INTO signing_keys (kid, public_key, sealed_private, created_at, retire_after, current) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![k.kid, k.public_key, k.sealed_private, k.created_at, k.retire_after, i64::from(k.current)],
        )?;
        Ok(())
    }

    /// Marks the signing keys as changed, so other processes reload them.
    pub fn bump_keys_version(&self) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO meta (key, value) VALUES ('keys_version', '1')
             ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
            [],
        )?;
        Ok(())
    }

    /// Drops keys retired before `now`.
    pub fn prune_signing_keys(&self, now: OffsetDateTime) -> Result<()> {
        self.conn.execute_cached(
            "DELETE FROM signing_keys WHERE current = 0 AND retire_after IS NOT NULL AND retire_after <= ?1",
            params![ts(now)],
        )?;
        Ok(())
    }

    /// Moves the revocation version on; the new version.
    fn bump_revocations(&self) -> Result<i64> {
        Ok(self.conn.query_row_cached(
            "INSERT INTO meta (key, value) VALUES ('revocation_version', '1')
             ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
             RETURNING CAST(value AS INTEGER)",
            [],
            |r| r.get(0),
        )?)
    }

    /// Sets a revoke-before cut-off for a scope (`role`, `user`, `account`, `key`), labelled
    /// with the revocation version it makes. Cut-offs at or before `prune_through` are
    /// dropped: every session they could refuse has expired by now (the caller passes
    /// a time at least the longest session lifetime ago).
    pub fn revoke_before(
        &self,
        scope: &str,
        subject: &str,
        before: OffsetDateTime,
        prune_through: OffsetDateTime,
    ) -> Result<()> {
        let version = self.bump_revocations()?;
        self.conn.execute_cached(
            "INSERT INTO session_revocations (scope, subject, revoke_before, version) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(scope, subject) DO UPDATE SET revoke_before = MAX(revoke_before, excluded.revoke_before), version = excluded.version",
            params![scope, subject, ts(before), version],
        )?;
        self.conn.execute_cached(
            "DELETE FROM session_revocations WHERE revoke_before <= ?1",
            params![ts(prune_through)],
        )?;
        Ok(())
    }

    /// Revokes one token until it would have expired anyway; drops the revocations of
    /// tokens that expired by `now` (they refuse nothing any more).
    pub fn revoke_token(&self, token_id: &str, expires_at: i64, now: OffsetDateTime) -> Result<()> {
        self.conn.execute_cached(
            "INSERT OR IGNORE INTO revoked_tokens (token_id, expires_at) VALUES (?1, ?2)",
            params![token_id, expires_at],
        )?;
        self.conn.execute_cached(
            "DELETE FROM revoked_tokens WHERE expires_at <= ?1",
            params![ts(now)],
        )?;
        self.bump_revocations().map(|_| ())
    }
}
