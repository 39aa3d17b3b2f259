//! Marker/MaxItems pagination of the `List*` actions.
//!
//! The marker is the case-folded sort key (the entity's name) of the first item of the
//! next page; clients treat it as opaque. The large lists (users, groups, roles) are paged
//! in the store by keyset ([`page_request`] + [`page_result`]); the short per-entity lists
//! (tags, access keys, attached policies…) are paged in memory by [`paginate`].

use serde::Serialize;
use serde_json::Value;

use super::{ActionResult, WireError, query};
use crate::error::Error;
use crate::service::{Page, PageRequest};

/// The default page size.
const DEFAULT_MAX_ITEMS: i64 = 100;

/// Parses and checks `MaxItems` (1..=1000, default 100) and `Marker`.
pub fn page_request(params: &query::Params) -> Result<PageRequest, WireError> {
    let max = params.int("MaxItems")?.unwrap_or(DEFAULT_MAX_ITEMS);
    if !(1..=1000).contains(&max) {
        return Err(Error::Validation(format!(
            "1 validation error detected: value `{max}` at `maxItems` failed to satisfy constraint: member must have value between 1 and 1000"
        ))
        .into());
    }
    Ok(PageRequest {
        marker: params.get("Marker").map(str::to_ascii_lowercase),
        // In 1..=1000, checked above.
        max: usize::try_from(max).unwrap_or(100),
    })
}

/// The wire shape of a page: `field` (the items), `IsTruncated` and, when truncated,
/// `Marker`.
pub fn page_result<T: Serialize>(page: Page<T>, field: &str) -> ActionResult {
    let items = page
        .items
        .into_iter()
        .map(|v| {
            serde_json::to_value(v)
                .map_err(|e| Error::Internal(format!("cannot encode the result: {e}")).into())
        })
        .collect::<Result<Vec<Value>, WireError>>()?;
    Ok(Some(wire(items, page.next_marker, field)))
}

fn wire(items: Vec<Value>, next: Option<String>, field: &str) -> Value {
    let mut out = serde_json::Map::new();
    out.insert(field.to_owned(), Value::Array(items));
    out.insert("IsTruncated".into(), Value::Bool(next.is_some()));
    if let Some(n) = next {
        out.insert("Marker".into(), Value::String(n));
    }
    Value::Object(out)
}

/// Marker/MaxItems pagination in memory over a list sorted by `key` (case-insensitively),
/// for the short lists. Each item's sort key is computed once.
pub fn paginate(items: Vec<Value>, key: &str, params: &query::Params, field: &str) -> ActionResult {
    let req = page_request(params)?;
    let mut keyed: Vec<(String, Value)> = items
        .into_iter()
        .map(|v| {
            let k = v
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            (k, v)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let from = req.marker.as_deref().unwrap_or("");
    let start = keyed.partition_point(|(k, _)| k.as_str() < from);
    let mut rest = keyed.into_iter().skip(start);
    let page: Vec<Value> = rest.by_ref().take(req.max).map(|(_, v)| v).collect();
    let next = rest.next().map(|(k, _)| k);
    Ok(Some(wire(page, next, field)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> query::Params {
        query::Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
        .unwrap()
    }

    fn names(v: &Value, field: &str) -> Vec<String> {
        v[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["N"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn max_items_bounds() {
        for bad in ["0", "1001", "-1"] {
            let e = page_request(&params(&[("MaxItems", bad)])).unwrap_err();
            assert_eq!(e.code, "ValidationError");
            assert!(
                e.message
                    .contains("member must have value between 1 and 1000")
            );
        }
        assert!(page_request(&params(&[("MaxItems", "x")])).is_err());
        assert_eq!(page_request(&params(&[("MaxItems", "1")])).unwrap().max, 1);
        assert_eq!(
            page_request(&params(&[("MaxItems", "1000")])).unwrap().max,
            1000
        );
        let d = page_request(&params(&[("Marker", "AbC")])).unwrap();
        assert_eq!(d.max, 100);
        assert_eq!(d.marker.as_deref(), Some("abc"));
    }

    #[test]
    fn in_memory_pages_case_insensitively_across_markers() {
        let items: Vec<Value> = ["b", "C", "a", "D", "e"]
            .iter()
            .map(|n| serde_json::json!({ "N": n }))
            .collect();
        let first = paginate(items.clone(), "N", &params(&[("MaxItems", "2")]), "X")
            .unwrap()
            .unwrap();
        assert_eq!(names(&first, "X"), ["a", "b"]);
        assert_eq!(first["IsTruncated"], true);
        assert_eq!(first["Marker"], "c");
        let second = paginate(
            items.clone(),
            "N",
            &params(&[("MaxItems", "2"), ("Marker", "C")]),
            "X",
        )
        .unwrap()
        .unwrap();
        assert_eq!(names(&second, "X"), ["C", "D"]);
        let last = paginate(
            items,
            "N",
            &params(&[("MaxItems", "2"), ("Marker", "e")]),
            "X",
        )
        .unwrap()
        .unwrap();
        assert_eq!(names(&last, "X"), ["e"]);
        assert_eq!(last["IsTruncated"], false);
        assert!(last.get("Marker").is_none());
    }
}
