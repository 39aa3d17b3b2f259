//! What a master-key change rewrites: every sealed value, and the audit checkpoints'
//! signatures.

use rusqlite::params;

use super::CachedSql as _;
use super::{ReadTx, WriteTx};
use crate::error::Result;

/// A sealed value and the fields its associated data is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRow {
    /// The row's key: access key id, MFA serial number or signing key id.
    pub id: String,
    /// The account (access keys).
    pub account_id: String,
    /// The user id (access keys).
    pub user_id: String,
    /// The sealed bytes.
    pub sealed: Vec<u8>,
}

impl ReadTx<'_> {
    /// Every access key's sealed secret.
    pub fn sealed_access_keys(&self) -> Result<Vec<SealedRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT access_key_id, account_id, user_id, sealed_secret FROM access_keys ORDER BY access_key_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(SealedRow {
                id: r.get(0)?,
                account_id: r.get(1)?,
                user_id: r.get(2)?,
                sealed: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every MFA device's sealed seed.
    pub fn sealed_mfa_seeds(&self) -> Result<Vec<SealedRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT serial_number, account_id, sealed_seed FROM mfa_devices ORDER BY serial_number",
        )?;
        let rows = st.query_map([], |r| {
            Ok(SealedRow {
                id: r.get(0)?,
                account_id: r.get(1)?,
                user_id: String::new(),
                sealed: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl WriteTx<'_> {
    /// Replaces an access key's sealed secret.
    pub fn reseal_access_key(&self, access_key_id: &str, sealed: &[u8]) -> Result<()> {
        self.conn.execute_cached(
            "UPDATE access_keys SET sealed_secret = ?2 WHERE access_key_id = ?1",
            params![access_key_id, sealed],
        )?;
        Ok(())
    }

    /// Replaces an MFA device's sealed seed.
    pub fn reseal_mfa_seed(&self, serial_number: &str, sealed: &[u8]) -> Result<()> {
        self.conn.execute_cached(
            "UPDATE mfa_devices SET sealed_seed = ?2 WHERE serial_number = ?1",
            params![serial_number, sealed],
        )?;
        Ok(())
    }

    /// Replaces a signing key's sealed private half.
    pub fn reseal_signing_key(&self, kid: &str, sealed: &[u8]) -> Result<()> {
        self.conn.execute_cached(
            "UPDATE signing_keys SET sealed_private = ?2 WHERE kid = ?1",
            params![kid, sealed],
        )?;
        Ok(())
    }

    /// Replaces a checkpoint's signer and signature.
    pub fn resign_audit_checkpoint(
        &self,
        seq: i64,
        public_key: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        self.conn.execute_cached(
            "UPDATE audit_checkpoints SET public_key = ?2, signature = ?3 WHERE seq = ?1",
            params![seq, public_key, signature],
        )?;
        Ok(())
    }
}
