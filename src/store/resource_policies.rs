//! Resource-based policies of the team's own resources.

use rusqlite::{OptionalExtension, Row, params};

use super::CachedSql as _;
use super::{ReadTx, WriteTx, from_ts, ts};
use crate::error::Result;

/// A resource policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePolicyRow {
    /// The resource it is attached to; it also covers everything under `ARN/`.
    pub resource_arn: String,
    /// The account that put it, which owns the resource.
    pub account_id: String,
    /// The policy document.
    pub document: String,
    /// First put.
    pub created_at: time::OffsetDateTime,
    /// Last put.
    pub updated_at: time::OffsetDateTime,
}

fn row(r: &Row<'_>) -> rusqlite::Result<ResourcePolicyRow> {
    Ok(ResourcePolicyRow {
        resource_arn: r.get(0)?,
        account_id: r.get(1)?,
        document: r.get(2)?,
        created_at: from_ts(r.get(3)?)?,
        updated_at: from_ts(r.get(4)?)?,
    })
}

const COLS: &str = "resource_arn, account_id, document, created_at, updated_at";

impl ReadTx<'_> {
    /// The policy attached to exactly `resource_arn`.
    pub fn resource_policy(&self, resource_arn: &str) -> Result<Option<ResourcePolicyRow>> {
        Ok(self
            .conn
            .query_row_cached(
                &format!("SELECT {COLS} FROM resource_policies WHERE resource_arn = ?1"),
                params![resource_arn],
                row,
            )
            .optional()?)
    }

    /// Every resource policy of every account (loaded once per change into the
    /// authorization snapshot).
    pub fn all_resource_policies(&self) -> Result<Vec<ResourcePolicyRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM resource_policies ORDER BY resource_arn"
        ))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The policies an account put whose resource ARN starts with `prefix`.
    pub fn resource_policies_of(
        &self,
        account_id: &str,
        prefix: &str,
    ) -> Result<Vec<ResourcePolicyRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM resource_policies WHERE account_id = ?1
               AND substr(resource_arn, 1, length(?2)) = ?2 ORDER BY resource_arn"
        ))?;
        let rows = stmt.query_map(params![account_id, prefix], row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The owners of policies on resources strictly under `resource_arn/`.
    pub fn resource_policy_owners_under(&self, resource_arn: &str) -> Result<Vec<String>> {
        let prefix = format!("{resource_arn}/");
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT account_id FROM resource_policies
              WHERE substr(resource_arn, 1, length(?1)) = ?1",
        )?;
        let rows = stmt.query_map(params![prefix], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

impl WriteTx<'_> {
    /// Puts (creates or replaces) the policy on `resource_arn`.
    pub fn put_resource_policy(
        &self,
        resource_arn: &str,
        account_id: &str,
        document: &str,
        now: time::OffsetDateTime,
    ) -> Result<()> {
        self.conn.execute_cached(
            "INSERT INTO resource_policies (resource_arn, account_id, document, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT(resource_arn) DO UPDATE SET document = excluded.document,
                 updated_at = excluded.updated_at",
            params![resource_arn, account_id, document, ts(now)],
        )?;
        Ok(())
    }

    /// Deletes the policy on `resource_arn`; whether there was one.
    pub fn delete_resource_policy(&self, resource_arn: &str) -> Result<bool> {
        Ok(self.conn.execute_cached(
            "DELETE FROM resource_policies WHERE resource_arn = ?1",
            params![resource_arn],
        )? > 0)
    }
}
