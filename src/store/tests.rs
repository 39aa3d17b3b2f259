use super::*;
use time::OffsetDateTime;
use time::macros::datetime;

fn user(id: &str, name: &str) -> UserRow {
    UserRow {
        user_id: id.into(),
        account_id: "123456789012".into(),
        name: name.into(),
        path: "/".into(),
        created_at: datetime!(2026-01-01 0:00 UTC),
        boundary_arn: None,
    }
}

fn store() -> Store {
    with_account(Store::open_in_memory().unwrap())
}

/// A second account, 210987654321.
fn insert_other_account(tx: &WriteTx<'_>) {
    tx.insert_account(
        &AccountRow {
            account_id: "210987654321".into(),
            created_at: datetime!(2026-01-01 0:00 UTC),
        },
        None,
    )
    .unwrap();
}

/// `s` with the account the tests' users belong to.
fn with_account(s: Store) -> Store {
    let tx = s.write().unwrap();
    tx.insert_account(
        &AccountRow {
            account_id: "123456789012".into(),
            created_at: datetime!(2026-01-01 0:00 UTC),
        },
        None,
    )
    .unwrap();
    tx.commit().unwrap();
    s
}

#[test]
fn dropped_write_rolls_back() {
    let s = store();
    {
        let tx = s.write().unwrap();
        tx.insert_user(&user("AIDA1", "alice"), "alice").unwrap();
        // dropped without commit
    }
    assert!(
        s.read()
            .unwrap()
            .user("123456789012", "alice")
            .unwrap()
            .is_none()
    );
    let tx = s.write().unwrap();
    tx.insert_user(&user("AIDA1", "alice"), "alice").unwrap();
    tx.commit().unwrap();
    assert_eq!(
        s.read()
            .unwrap()
            .user("123456789012", "alice")
            .unwrap()
            .unwrap()
            .name,
        "alice"
    );
}

#[test]
fn canonical_names_are_unique() {
    let s = store();
    let tx = s.write().unwrap();
    tx.insert_user(&user("AIDA1", "alice"), "alice").unwrap();
    assert!(tx.insert_user(&user("AIDA2", "Alice"), "alice").is_err());
}

#[test]
fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(DB_FILE);
    let v = Store::open(&p).unwrap().schema_version().unwrap();
    assert_eq!(v, i64::try_from(schema::MIGRATIONS.len()).unwrap());
    assert_eq!(Store::open(&p).unwrap().schema_version().unwrap(), v);
}

#[test]
fn foreign_keys_are_enforced() {
    let s = store();
    let tx = s.write().unwrap();
    let mut u = user("AIDA1", "alice");
    u.account_id = "999999999999".into();
    assert!(tx.insert_user(&u, "alice").is_err());
}

#[test]
fn like_prefix_escapes_wildcards() {
    let s = store();
    let tx = s.write().unwrap();
    let mut a = user("AIDA1", "a");
    a.path = "/a_b/".into();
    let mut b = user("AIDA2", "b");
    b.path = "/axb/".into();
    tx.insert_user(&a, "a").unwrap();
    tx.insert_user(&b, "b").unwrap();
    let found = tx.users("123456789012", "/a_").unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "a");
}

#[test]
fn generation_moves_on_commits_and_outside_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let a = Store::open(&path).unwrap();
    let b = Store::open(&path).unwrap();
    a.observe_external_changes().unwrap();
    let g0 = a.generation();
    // A rolled-back write and a bookkeeping commit leave it alone.
    drop(a.write().unwrap());
    a.write().unwrap().commit_bookkeeping().unwrap();
    assert_eq!(a.generation(), g0);
    // Its own commit moves it.
    a.write().unwrap().commit().unwrap();
    let g1 = a.generation();
    assert!(g1 > g0);
    // Nothing from outside: no change.
    a.observe_external_changes().unwrap();
    assert_eq!(a.generation(), g1);
    // Another connection commits: noticed at the next observation.
    let tx = b.write().unwrap();
    insert_other_account(&tx);
    tx.commit().unwrap();
    assert_eq!(a.generation(), g1);
    a.observe_external_changes().unwrap();
    assert!(a.generation() > g1);
}

#[test]
fn users_page_is_keyset_by_canonical_name_with_path_prefix() {
    let s = store();
    let tx = s.write().unwrap();
    for (i, n) in ["bob", "Alice", "carol", "Dave", "eve", "Frank"]
        .iter()
        .enumerate()
    {
        let mut u = user(&format!("AIDA{i}"), n);
        u.path = if i % 2 == 0 {
            "/p/".into()
        } else {
            "/q/".into()
        };
        tx.insert_user(&u, &n.to_ascii_lowercase()).unwrap();
    }
    tx.commit().unwrap();
    let r = s.read().unwrap();
    let names = |rows: Vec<UserRow>| rows.into_iter().map(|u| u.name).collect::<Vec<_>>();
    assert_eq!(
        names(r.users_page("123456789012", "/", "", 3).unwrap()),
        ["Alice", "bob", "carol"]
    );
    // The marker is inclusive: the page starts at the first name >= it.
    assert_eq!(
        names(r.users_page("123456789012", "/", "carol", 3).unwrap()),
        ["carol", "Dave", "eve"]
    );
    assert_eq!(
        names(r.users_page("123456789012", "/", "d", 10).unwrap()),
        ["Dave", "eve", "Frank"]
    );
    // Path prefix: the even indexes are under /p/.
    assert_eq!(
        names(r.users_page("123456789012", "/p/", "", 10).unwrap()),
        ["bob", "carol", "eve"]
    );
    assert_eq!(
        names(r.users_page("123456789012", "/q/", "b", 2).unwrap()),
        ["Dave", "Frank"]
    );
    assert!(
        r.users_page("123456789012", "/", "zzz", 10)
            .unwrap()
            .is_empty()
    );
    // Wildcards in a prefix stay literal, as in `users`.
    assert!(
        r.users_page("123456789012", "/_/", "", 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn users_page_uses_the_name_index() {
    let s = store();
    let r = s.read().unwrap();
    let plan = r.explain_users_page().unwrap();
    assert!(
        plan.iter()
            .all(|l| !l.contains("USE TEMP B-TREE FOR ORDER BY")),
        "{plan:?}"
    );
    assert!(plan.iter().any(|l| l.contains("INDEX")), "{plan:?}");
}

#[test]
fn boundary_usage_is_an_index_lookup() {
    let s = store();
    let r = s.read().unwrap();
    let plan = r.explain_boundary_usage().unwrap();
    assert!(
        plan.iter().any(|l| l.contains("users_boundary")),
        "{plan:?}"
    );
    assert!(
        plan.iter().any(|l| l.contains("roles_boundary")),
        "{plan:?}"
    );
    // "SCAN CONSTANT ROW" is the outer SELECT of two scalars, not a table scan.
    assert!(
        plan.iter()
            .all(|l| !l.starts_with("SCAN users") && !l.starts_with("SCAN roles")),
        "{plan:?}"
    );
}

fn file_store(dir: &tempfile::TempDir) -> Store {
    with_account(Store::open(&dir.path().join("v.db")).unwrap())
}

/// Blocks until `n` writers are queued for the writer connection (no sleep: they are
/// already on their way to it).
fn until_queued(s: &Store, n: usize) {
    while s.queued_writers() < n {
        std::thread::yield_now();
    }
}

fn has_user(s: &Store, name: &str) -> bool {
    s.read()
        .unwrap()
        .user("123456789012", name)
        .unwrap()
        .is_some()
}

#[test]
fn queued_writers_share_one_commit_and_a_rolled_back_one_leaves_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(&dir);
    let (groups0, members0) = s.group_commits();
    let g0 = s.generation();
    let first = s.write().unwrap();
    first.insert_user(&user("AIDA0", "u0"), "u0").unwrap();
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=4)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    let tx = s.write()?;
                    let name = format!("u{i}");
                    tx.insert_user(&user(&format!("AIDA{i}"), &name), &name)?;
                    if i == 2 {
                        // Fails after writing: its row must not be committed.
                        return Err(Error::Internal("member 2 gives up".into()));
                    }
                    tx.commit()
                })
            })
            .collect();
        until_queued(&s, 4);
        // Others are queued: the first hands the connection on and waits for the group.
        let first_result = first.commit();
        let mut rest: Vec<Result<()>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        rest.insert(0, first_result);
        rest
    });
    assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok() && results[4].is_ok());
    assert!(results[2].is_err());
    let (groups, members) = s.group_commits();
    assert_eq!(groups - groups0, 1, "one shared commit");
    assert_eq!(members - members0, 4, "the four committed writers");
    assert!(s.generation() > g0);
    for (name, present) in [
        ("u0", true),
        ("u1", true),
        ("u2", false),
        ("u3", true),
        ("u4", true),
    ] {
        assert_eq!(has_user(&s, name), present, "{name}");
    }
}

#[test]
fn a_shared_transaction_lost_underneath_fails_every_member() {
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(&dir);
    let first = s.write().unwrap();
    first.insert_user(&user("AIDA0", "u0"), "u0").unwrap();
    let (first_result, second_result) = std::thread::scope(|scope| {
        let second = scope.spawn(|| {
            let tx = s.write()?;
            tx.insert_user(&user("AIDA1", "u1"), "u1")?;
            // What SQLite does to the whole transaction on some errors (a full disk).
            tx.raw_execute("ROLLBACK")?;
            tx.commit()
        });
        until_queued(&s, 1);
        let first_result = first.commit();
        (first_result, second.join().unwrap())
    });
    // The first writer's row was lost with the transaction: it must not be told it
    // committed.
    assert!(first_result.is_err());
    assert!(second_result.is_err());
    assert!(!has_user(&s, "u0") && !has_user(&s, "u1"));
    // The store goes on working.
    let tx = s.write().unwrap();
    tx.insert_user(&user("AIDA2", "u2"), "u2").unwrap();
    tx.commit().unwrap();
    assert!(has_user(&s, "u2"));
}

#[test]
fn a_lone_writer_commits_at_once_and_backup_waits_for_no_open_group() {
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(&dir);
    let (groups0, _) = s.group_commits();
    let tx = s.write().unwrap();
    tx.insert_user(&user("AIDA0", "u0"), "u0").unwrap();
    tx.commit().unwrap();
    assert_eq!(s.group_commits().0 - groups0, 1);
    assert!(has_user(&s, "u0"));
    s.backup_to(&dir.path().join("copy.db")).unwrap();
    let copy = Store::open(&dir.path().join("copy.db")).unwrap();
    assert!(has_user(&copy, "u0"));
}

#[test]
fn a_panic_in_a_group_fails_its_members_instead_of_leaving_them_waiting() {
    use std::sync::atomic::AtomicBool;
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(&dir);
    let holding = AtomicBool::new(false);
    let first = s.write().unwrap();
    first.insert_user(&user("AIDA0", "u0"), "u0").unwrap();
    let (first_result, behind_result) = std::thread::scope(|scope| {
        let panicking = scope.spawn(|| {
            let tx = s.write().unwrap();
            tx.insert_user(&user("AIDA1", "u1"), "u1").unwrap();
            holding.store(true, Ordering::SeqCst);
            // With a writer queued behind, the group stays open past this one.
            until_queued(&s, 1);
            panic!("a bug while holding the connection");
        });
        until_queued(&s, 1);
        let behind = scope.spawn(|| {
            while !holding.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            // Finds the handle poisoned, and ends the open group.
            s.write().map(drop)
        });
        // The panicking writer is queued: the first hands the connection on and waits.
        let r = first.commit();
        assert!(panicking.join().is_err());
        (r, behind.join().unwrap())
    });
    // The first writer's work was in the group that could not commit: it hears so.
    assert!(first_result.is_err());
    assert!(behind_result.is_err());
    assert!(!has_user(&s, "u0") && !has_user(&s, "u1"));
}

#[test]
fn revocations_that_refuse_nothing_any_more_are_dropped() {
    let s = store();
    let t0 = datetime!(2026-01-01 0:00 UTC);
    let h = time::Duration::hours;
    let count = |table: &str| -> i64 {
        s.read()
            .unwrap()
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    let tx = s.write().unwrap();
    // A token revoked until it expires at t0 + 1 h, and cut-offs set at t0 and t0 + 1 h.
    tx.revoke_token("aa", (t0 + h(1)).unix_timestamp(), t0)
        .unwrap();
    tx.revoke_before("key", "AKIA1", t0, t0 - h(40)).unwrap();
    tx.revoke_before("key", "AKIA2", t0 + h(1), t0 - h(39))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        (count("revoked_tokens"), count("session_revocations")),
        (1, 2)
    );
    // Later revocations drop what expired or fell behind the horizon, and nothing else.
    let tx = s.write().unwrap();
    tx.revoke_token("bb", (t0 + h(3)).unix_timestamp(), t0 + h(2))
        .unwrap();
    tx.revoke_before("role", "r", t0 + h(2), t0).unwrap();
    tx.commit().unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.revoked_tokens(t0).unwrap(), vec!["bb".to_owned()]);
    let mut cut: Vec<String> = r
        .session_revocations()
        .unwrap()
        .into_iter()
        .map(|(scope, subject, _)| format!("{scope}:{subject}"))
        .collect();
    cut.sort();
    assert_eq!(cut, vec!["key:AKIA2".to_owned(), "role:r".to_owned()]);
    // The versions let a reader take only what changed after what it has.
    let v = r.revocation_version().unwrap();
    assert_eq!(v, 5);
    assert_eq!(r.session_revocations_since(v - 1).unwrap().len(), 1);
    assert_eq!(r.session_revocations_since(v).unwrap().len(), 0);
}

#[test]
fn whole_account_report_reads_agree_with_the_per_user_reads() {
    let s = store();
    let tx = s.write().unwrap();
    insert_other_account(&tx);
    let mut other = user("AIDAOTHER", "other");
    other.account_id = "210987654321".into();
    for u in [user("AIDAA", "alice"), user("AIDAB", "bob"), other] {
        tx.insert_user(&u, &u.name).unwrap();
    }
    let key = |id: &str, account: &str, user: &str, created: OffsetDateTime| AccessKeyRow {
        access_key_id: id.into(),
        account_id: account.into(),
        user_id: user.into(),
        status: if id.ends_with('2') {
            KeyStatus::Inactive
        } else {
            KeyStatus::Active
        },
        created_at: created,
        sealed_secret: vec![7; 8],
        last_used_at: id.ends_with('1').then_some(datetime!(2026-03-01 0:00 UTC)),
        last_used_service: id.ends_with('1').then(|| "sts".to_owned()),
        last_used_region: None,
    };
    // Alice's keys are inserted newest first, and two share a creation time: the order is
    // by creation time, then id, as `access_keys_for_user` gives it.
    let t = |d: u8| OffsetDateTime::from_unix_timestamp(1_770_000_000 + i64::from(d)).unwrap();
    for k in [
        key("AKIAALICE3", "123456789012", "AIDAA", t(9)),
        key("AKIAALICE2", "123456789012", "AIDAA", t(5)),
        key("AKIAALICE1", "123456789012", "AIDAA", t(5)),
        key("AKIAOTHER1", "210987654321", "AIDAOTHER", t(1)),
    ] {
        tx.insert_access_key(&k).unwrap();
    }
    for (uid, used) in [("AIDAB", Some(t(7))), ("AIDAOTHER", None)] {
        tx.put_login_profile(&LoginProfileRow {
            user_id: uid.into(),
            password_hash: "$argon2id$not-a-real-hash".into(),
            password_reset_required: false,
            created_at: t(1),
            password_changed_at: t(2),
            password_last_used: used,
        })
        .unwrap();
    }
    tx.put_credential_report("123456789012", t(3), "user,arn\n")
        .unwrap();
    tx.commit().unwrap();

    let r = s.read().unwrap();
    let keys = r.key_usage_of_account("123456789012").unwrap();
    assert_eq!(
        keys.len(),
        1,
        "bob has no keys; the other account's are not listed"
    );
    let alice: Vec<_> = keys["AIDAA"]
        .iter()
        .map(|k| k.access_key_id.as_str())
        .collect();
    let per_user: Vec<_> = r.access_keys_for_user("AIDAA").unwrap();
    assert_eq!(alice, ["AKIAALICE1", "AKIAALICE2", "AKIAALICE3"]);
    for (bulk, one) in keys["AIDAA"].iter().zip(&per_user) {
        assert_eq!(bulk.access_key_id, one.access_key_id);
        assert_eq!(bulk.status, one.status);
        assert_eq!(bulk.created_at, one.created_at);
        assert_eq!(bulk.last_used_at, one.last_used_at);
        assert_eq!(bulk.last_used_service, one.last_used_service);
        assert_eq!(bulk.last_used_region, one.last_used_region);
    }

    let passwords = r.password_dates_of_account("123456789012").unwrap();
    assert_eq!(
        passwords.len(),
        1,
        "only bob has a password in this account"
    );
    let bob = r.login_profile("AIDAB").unwrap().unwrap();
    assert_eq!(
        passwords["AIDAB"],
        PasswordDatesRow {
            changed_at: bob.password_changed_at,
            last_used: bob.password_last_used,
        }
    );

    assert_eq!(
        r.credential_report_generated_at("123456789012").unwrap(),
        Some(t(3))
    );
    assert_eq!(
        r.credential_report_generated_at("210987654321").unwrap(),
        None
    );
}

#[test]
fn the_audit_log_keeps_only_the_indexes_it_appends_to() {
    // Each index on the audit log is written by every audited request; one keyed by
    // principal dirtied a page per principal per commit and served no query.
    let s = store();
    let r = s.read().unwrap();
    let mut st = r
        .conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log' AND sql IS NOT NULL ORDER BY name")
        .unwrap();
    let names: Vec<String> = st
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(names, ["audit_log_at"]);
}

#[test]
fn audit_search_and_count_agree_with_a_plain_filter_and_a_time_range_uses_the_time_index() {
    let s = store();
    let principals = [
        "arn:aws:iam::123456789012:user/a",
        "arn:aws:iam::123456789012:user/b",
    ];
    let actions = ["iam:CreateUser", "sts:AssumeRole", "IAM:createuser"];
    let decisions = ["allowed", "denied", "failed"];
    {
        let tx = s.write().unwrap();
        for i in 0..60i64 {
            let p = principals[(i % 2) as usize];
            let a = actions[(i % 3) as usize];
            let d = decisions[((i / 2) % 3) as usize];
            let fields = ["req", "123456789012", p, a, "", d, "", "local", "test", ""];
            tx.insert_audit(&NewAuditRow {
                seq: i + 1,
                at: 1_000 + i / 4,
                fields: &fields,
                prev_hash: &[0; 32],
                hash: &[1; 32],
            })
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let r = s.read().unwrap();
    let all = r.audit_page(0, 1_000).unwrap();
    let filters = [
        AuditFilter::default(),
        AuditFilter {
            principal: Some(principals[1].into()),
            ..AuditFilter::default()
        },
        AuditFilter {
            action: Some("iam:createUSER".into()),
            decision: Some("denied".into()),
            ..AuditFilter::default()
        },
        AuditFilter {
            since: Some(1_003),
            until: Some(1_009),
            ..AuditFilter::default()
        },
        AuditFilter {
            principal: Some(principals[0].into()),
            action: Some("sts:AssumeRole".into()),
            since: Some(1_002),
            until: Some(1_012),
            decision: Some("failed".into()),
        },
        AuditFilter {
            principal: Some("nobody".into()),
            ..AuditFilter::default()
        },
    ];
    for f in &filters {
        let want: Vec<&AuditRow> = all
            .iter()
            .filter(|x| {
                f.principal.as_ref().is_none_or(|p| &x.principal == p)
                    && f.action
                        .as_ref()
                        .is_none_or(|a| x.action.eq_ignore_ascii_case(a))
                    && f.since.is_none_or(|t| x.at >= t)
                    && f.until.is_none_or(|t| x.at < t)
                    && f.decision.as_ref().is_none_or(|d| &x.decision == d)
            })
            .collect();
        let got = r.audit_search(f, 1_000).unwrap();
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "{f:?}");
        assert_eq!(r.audit_count(f).unwrap(), want.len() as u64, "{f:?}");
        let limited = r.audit_search(f, 3).unwrap();
        assert_eq!(
            limited.iter().collect::<Vec<_>>(),
            want.iter().take(3).copied().collect::<Vec<_>>(),
            "oldest first, at most the limit: {f:?}"
        );
    }
    // A time bound reads its part of the log through the time index, not the whole log,
    // both to count and to list (in time order, which the index gives without a sort).
    let since = AuditFilter {
        since: Some(1_003),
        ..AuditFilter::default()
    };
    for (sql, values) in [
        super::audit::count_sql(&since),
        super::audit::search_sql(&since, 50),
    ] {
        let plan: Vec<String> = r
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(rusqlite::params_from_iter(values.iter()), |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("INDEX audit_log_at"))
                && !plan.iter().any(|p| p.contains("TEMP B-TREE")),
            "{sql}: {plan:?}"
        );
    }
}
