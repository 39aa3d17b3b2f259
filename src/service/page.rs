//! Marker/MaxItems pagination done in the store: a page asks for `max + 1` rows at or after
//! the marker in canonical-name order; the extra row, when there is one, names the next
//! page's marker. A page therefore costs O(`max`) whatever the number of entities.

use super::{Caller, RequestContext, Vault};
use crate::error::Result;
use crate::model::PolicyPath;
use crate::store::ReadTx;

impl Vault {
    /// The start of every `List*` of one entity kind: parses `path_prefix` (default `/`),
    /// opens a read transaction and authorizes `action` on
    /// `arn:aws:iam::ACCOUNT:KIND/PREFIX`, as AWS does. Returns both.
    pub(super) fn authorized_listing(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        path_prefix: Option<&str>,
        action: &str,
        kind: &str,
    ) -> Result<(ReadTx<'_>, String)> {
        let prefix = path_prefix
            .map(PolicyPath::parse_prefix)
            .transpose()?
            .unwrap_or_else(|| "/".into());
        let tx = self.store().read()?;
        self.authorize(
            &tx,
            caller,
            action,
            &format!("arn:aws:iam::{}:{kind}{prefix}", caller.account),
            ctx,
        )?;
        Ok((tx, prefix))
    }
}

/// One page's request. The marker is the (case-folded) name of the first item of the page,
/// as the previous page's `Marker` gave it; it is opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Case-folded marker, or none for the first page.
    pub marker: Option<String>,
    /// Items per page (the API checks 1..=1000).
    pub max: usize,
}

impl PageRequest {
    /// The first page of `max` items.
    pub fn first(max: usize) -> Self {
        Self { marker: None, max }
    }

    /// The lowest canonical name the page may start at.
    pub(crate) fn from(&self) -> &str {
        self.marker.as_deref().unwrap_or("")
    }

    /// Rows to ask the store for: one more than a page, to learn whether there is another.
    pub(crate) fn fetch(&self) -> usize {
        self.max.saturating_add(1)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The page's items, in canonical-name order.
    pub items: Vec<T>,
    /// The marker of the next page, when there is one.
    pub next_marker: Option<String>,
}

impl<T> Page<T> {
    /// Cuts the store's `max + 1` rows into a page; `canon` gives a row's case-folded name.
    pub(crate) fn cut<R>(
        mut rows: Vec<R>,
        req: &PageRequest,
        canon: impl Fn(&R) -> String,
        convert: impl FnMut(R) -> T,
    ) -> Self {
        let next_marker = if rows.len() > req.max {
            let next = rows.get(req.max).map(&canon);
            rows.truncate(req.max);
            next
        } else {
            None
        };
        Self {
            items: rows.into_iter().map(convert).collect(),
            next_marker,
        }
    }
}
