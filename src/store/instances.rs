//! Registered instances.

use rusqlite::{OptionalExtension, Row, params};

use super::CachedSql as _;
use super::{ReadTx, WriteTx, from_ts, ts};
use crate::error::Result;

/// A registered instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    /// `i-` + 17 hex digits.
    pub instance_id: String,
    /// Owning account.
    pub account_id: String,
    /// A name for people.
    pub name: String,
    /// The instance profile it runs with.
    pub profile_id: String,
    /// The instance's Ed25519 public key (32 bytes).
    pub public_key: Vec<u8>,
    /// Registration time.
    pub registered_at: time::OffsetDateTime,
}

fn row(r: &Row<'_>) -> rusqlite::Result<InstanceRow> {
    Ok(InstanceRow {
        instance_id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        profile_id: r.get(3)?,
        public_key: r.get(4)?,
        registered_at: from_ts(r.get(5)?)?,
    })
}

const COLS: &str = "instance_id, account_id, name, profile_id, public_key, registered_at";

impl ReadTx<'_> {
    /// One instance.
    pub fn instance(&self, instance_id: &str) -> Result<Option<InstanceRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {COLS} FROM instances WHERE instance_id = ?1"),
                params![instance_id],
                row,
            )
            .optional()?)
    }

    /// The instance registered with a public key.
    pub fn instance_by_key(&self, public_key: &[u8]) -> Result<Option<InstanceRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {COLS} FROM instances WHERE public_key = ?1"),
                params![public_key],
                row,
            )
            .optional()?)
    }

    /// The instances of an account.
    pub fn instances(&self, account_id: &str) -> Result<Vec<InstanceRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM instances WHERE account_id = ?1 ORDER BY name, instance_id"
        ))?;
        let rows = st.query_map(params![account_id], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Instances running with a profile.
    pub fn instances_for_profile(&self, profile_id: &str) -> Result<Vec<InstanceRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM instances WHERE profile_id = ?1"
        ))?;
        let rows = st.query_map(params![profile_id], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl WriteTx<'_> {
    /// Registers an instance.
    pub fn insert_instance(&self, i: &InstanceRow) -> Result<()> {
        self.conn.execute_cached(
            &format!("INSERT INTO instances ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                i.instance_id,
                i.account_id,
                i.name,
                i.profile_id,
                i.public_key,
                ts(i.registered_at)
            ],
        )?;
        Ok(())
    }

    /// Deregisters an instance; returns false if it was not registered.
    pub fn delete_instance(&self, instance_id: &str) -> Result<bool> {
        Ok(self.conn.execute_cached(
            "DELETE FROM instances WHERE instance_id = ?1",
            params![instance_id],
        )? == 1)
    }
}
