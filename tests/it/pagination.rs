//! Marker/MaxItems pagination of the large lists (users, groups, roles), which the store
//! pages by keyset: case-insensitive name order across markers, PathPrefix, the MaxItems
//! bounds, and the authorization check, over the wire.

use serde_json::Value;

use crate::wire::{Live, allow};

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

fn names(v: &Value, list: &str, field: &str) -> Vec<String> {
    match &v[list] {
        Value::Array(a) => a
            .iter()
            .map(|x| x[field].as_str().unwrap().to_owned())
            .collect(),
        // An empty list is an empty element: text "" (or absent).
        Value::Null | Value::String(_) => Vec::new(),
        other => vec![other[field].as_str().unwrap().to_owned()],
    }
}

/// Every page of `action` with `MaxItems=max` (and `extra` parameters): the names in order
/// and the number of pages.
fn all_pages(
    s: &Live,
    action: &str,
    list: &str,
    field: &str,
    max: &str,
    extra: &[(&str, &str)],
) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params: Vec<(&str, &str)> = extra.to_vec();
        params.push(("MaxItems", max));
        if let Some(m) = &marker {
            params.push(("Marker", m));
        }
        let r = s.admin(action, &params);
        pages += 1;
        out.extend(names(&r, list, field));
        if r["IsTruncated"] == "true" || r["IsTruncated"] == true {
            marker = Some(r["Marker"].as_str().unwrap().to_owned());
        } else {
            assert!(r.get("Marker").is_none() || r["Marker"].is_null());
            break;
        }
        assert!(pages < 100, "pagination does not end");
    }
    (out, pages)
}

#[test]
fn large_lists_page_by_name_case_insensitively_with_path_prefix() {
    let s = Live::start();
    let users = [
        "zed", "Alpha", "bravo", "Charlie", "delta", "ECHO", "foxtrot",
    ];
    for (i, u) in users.iter().enumerate() {
        let path = if i % 2 == 0 { "/pg/even/" } else { "/pg/odd/" };
        s.admin("CreateUser", &[("UserName", u), ("Path", path)]);
        s.admin("CreateGroup", &[("GroupName", u), ("Path", path)]);
        s.admin(
            "CreateRole",
            &[
                ("RoleName", u),
                ("Path", path),
                ("AssumeRolePolicyDocument", TRUST),
            ],
        );
    }
    let mut sorted: Vec<String> = users.iter().map(|u| (*u).to_owned()).collect();
    sorted.sort_by_key(|n| n.to_ascii_lowercase());
    let even: Vec<String> = sorted
        .iter()
        .filter(|n| {
            users
                .iter()
                .position(|u| u == n)
                .is_some_and(|i| i % 2 == 0)
        })
        .cloned()
        .collect();

    for (action, list, field) in [
        ("ListUsers", "Users", "UserName"),
        ("ListGroups", "Groups", "GroupName"),
        ("ListRoles", "Roles", "RoleName"),
    ] {
        let prefix = [("PathPrefix", "/pg/")];
        for max in ["1", "2", "3", "1000"] {
            let (got, pages) = all_pages(&s, action, list, field, max, &prefix);
            assert_eq!(got, sorted, "{action} MaxItems={max}");
            let per: usize = max.parse().unwrap();
            assert_eq!(pages, sorted.len().div_ceil(per).max(1), "{action} {max}");
        }
        let (got, _) = all_pages(&s, action, list, field, "2", &[("PathPrefix", "/pg/even/")]);
        assert_eq!(got, even, "{action} under /pg/even/");

        // The marker is the folded name of the next page's first item; any case works.
        let first = s.admin(action, &[("PathPrefix", "/pg/"), ("MaxItems", "2")]);
        assert_eq!(first["Marker"], "charlie", "{action}");
        let upper = s.admin(
            action,
            &[
                ("PathPrefix", "/pg/"),
                ("MaxItems", "2"),
                ("Marker", "CHARLIE"),
            ],
        );
        assert_eq!(names(&upper, list, field), ["Charlie", "delta"], "{action}");

        // A marker past the end gives an empty, final page.
        let end = s.admin(action, &[("PathPrefix", "/pg/"), ("Marker", "zzzz")]);
        assert!(names(&end, list, field).is_empty(), "{action}");

        // MaxItems bounds.
        for bad in ["0", "1001"] {
            let r = s.call(&s.admin, action, &[("MaxItems", bad)]);
            r.refused(400, "ValidationError");
            assert!(
                r.body.contains("member must have value between 1 and 1000"),
                "{}",
                r.body
            );
        }
    }
}

#[test]
fn listing_still_needs_permission() {
    let s = Live::start();
    let reader = s.user("pg-reader", Some(&allow(&["iam:ListUsers"], "*")));
    let nobody = s.user("pg-nobody", None);
    assert_eq!(
        s.call(&reader, "ListUsers", &[("MaxItems", "1")])
            .result("ListUsers")["IsTruncated"],
        "true"
    );
    s.call(&nobody, "ListUsers", &[("MaxItems", "1")])
        .refused(403, "AccessDenied");
    s.call(&reader, "ListRoles", &[])
        .refused(403, "AccessDenied");
    s.call(&reader, "ListGroups", &[])
        .refused(403, "AccessDenied");
}
