//! Auditing through the service layer: records in the operation's transaction, after
//! it for reads and denials, fail-closed, and group commit under concurrency.

use std::sync::Arc;

use time::macros::datetime;

use super::*;
use crate::clock::{Clock, TestClock, TestRandom};
use crate::store::AccountRow;

const ACCT: &str = "123456789012";

fn vault() -> (Vault, Caller) {
    let (v, root, _) = vault_with_clock();
    (v, root)
}

/// [`vault`], and the clock it reads.
fn vault_with_clock() -> (Vault, Caller, TestClock) {
    let clock = TestClock::new(datetime!(2026-06-01 12:00 UTC));
    let env = Env {
        clock: Arc::new(clock.clone()),
        rng: Arc::new(TestRandom::new(42)),
    };
    let v = Vault::in_memory(env).unwrap();
    let tx = v.store().write().unwrap();
    tx.insert_account(
        &AccountRow {
            account_id: ACCT.into(),
            created_at: clock.now(),
        },
        None,
    )
    .unwrap();
    tx.commit().unwrap();
    (v, Caller::root(&AccountId::parse(ACCT).unwrap()), clock)
}

fn scope(who: &Caller, label: &str) -> AuditGuard {
    audit_begin(AuditContext {
        request_id: format!("req-{label}"),
        account: who.account.to_string(),
        principal: who.arn.clone(),
        action: label.into(),
        source_ip: "192.0.2.1".into(),
        user_agent: "unit-test".into(),
        credential: "AKIATEST".into(),
    })
}

fn finish<T>(v: &Vault, g: AuditGuard, r: &Result<T>) -> Result<()> {
    let msg = r
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    let outcome = match r {
        Ok(_) => AuditOutcome::Allowed,
        Err(e) => AuditOutcome::of(e, &msg),
    };
    v.audit_finish(g, outcome)
}

#[test]
fn changes_reads_and_denials_each_get_one_record() {
    let (v, root) = vault();
    let ctx = RequestContext::default();
    // A change: recorded in its own transaction.
    let g = scope(&root, "iam:CreateUser");
    let r = v.create_user(&root, &ctx, "alice", None, None, &[]);
    finish(&v, g, &r).unwrap();
    // A read.
    let g = scope(&root, "iam:ListUsers");
    let r = v.list_users(&root, &ctx, None);
    finish(&v, g, &r).unwrap();
    // A denial: alice has no policy.
    let alice = Caller {
        account: root.account.clone(),
        arn: r.unwrap()[0].arn.clone(),
        kind: CallerKind::User {
            user_id: v.list_users(&root, &ctx, None).unwrap()[0].user_id.clone(),
            name: "alice".into(),
        },
    };
    let g = scope(&alice, "iam:CreateUser");
    let r = v.create_user(&alice, &ctx, "bob", None, None, &[]);
    assert!(r.is_err());
    finish(&v, g, &r).unwrap();
    // A failure that is not a denial.
    let g = scope(&root, "iam:CreateUser");
    let r = v.create_user(&root, &ctx, "alice", None, None, &[]);
    finish(&v, g, &r).unwrap();

    let recs = v.audit_tail(10).unwrap();
    let seen: Vec<(&str, &str, &str)> = recs
        .iter()
        .map(|r| (r.action.as_str(), r.resource.as_str(), r.decision.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "iam:CreateUser",
                "arn:aws:iam::123456789012:user/alice",
                "allowed"
            ),
            (
                "iam:ListUsers",
                "arn:aws:iam::123456789012:user/",
                "allowed"
            ),
            (
                "iam:CreateUser",
                "arn:aws:iam::123456789012:user/bob",
                "denied"
            ),
            (
                "iam:CreateUser",
                "arn:aws:iam::123456789012:user/alice",
                "failed"
            ),
        ]
    );
    assert!(
        recs[2]
            .reason
            .contains("is not authorized to perform: iam:CreateUser")
    );
    assert!(recs[3].reason.starts_with("EntityAlreadyExists"));
    assert_eq!(recs[0].source_ip, "192.0.2.1");
    assert_eq!(recs[0].credential, "AKIATEST");
    assert_eq!(recs[2].principal, alice.arn);
    assert!(v.audit_verify().unwrap().ok());
}

#[test]
fn a_change_whose_record_cannot_be_written_does_not_happen() {
    let (v, root) = vault();
    let ctx = RequestContext::default();
    {
        let tx = v.store().write().unwrap();
        tx.raw_execute("DROP TABLE audit_log").unwrap();
        tx.commit().unwrap();
    }
    let g = scope(&root, "iam:CreateUser");
    let r = v.create_user(&root, &ctx, "alice", None, None, &[]);
    assert!(r.is_err(), "the change went through without its record");
    assert!(finish(&v, g, &r).is_err());
    assert!(v.list_users(&root, &ctx, None).unwrap().is_empty());
    // A read whose record cannot be written fails too.
    let g = scope(&root, "iam:ListUsers");
    let r = v.list_users(&root, &ctx, None);
    assert!(finish(&v, g, &r).is_err());
}

#[test]
fn concurrent_records_are_all_kept_in_one_valid_chain() {
    let (v, root) = vault();
    let v = Arc::new(v);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let v = Arc::clone(&v);
            let root = root.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let g = scope(&root, &format!("t{t}-{i}"));
                    let r = v.list_groups(&root, &RequestContext::default(), None);
                    finish(&v, g, &r).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = v.audit_verify().unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.records, 200);
    assert!(report.checkpoints >= 3);
    // Every request id is there exactly once.
    let mut ids: Vec<String> = v
        .audit_tail(1000)
        .unwrap()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);
}

#[test]
fn without_a_scope_nothing_is_recorded() {
    let (v, root) = vault();
    v.create_user(&root, &RequestContext::default(), "alice", None, None, &[])
        .unwrap();
    assert!(v.audit_tail(10).unwrap().is_empty());
    let _ = v.env.clock.now();
}

#[test]
fn queued_records_are_durable_when_awaited_and_fail_closed() {
    let (v, root) = vault();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Queued from many requests before any is awaited: all end up in one valid chain.
    let pending: Vec<AuditPending> = (0..100)
        .map(|i| {
            let g = scope(&root, &format!("sts:GetCallerIdentity-{i}"));
            v.audit_finish_pending(g, AuditOutcome::Allowed)
        })
        .collect();
    rt.block_on(async {
        for p in pending {
            p.durable().await.unwrap();
        }
    });
    let report = v.audit_verify().unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.records, 100);
    // A scope already recorded in its operation's transaction queues nothing.
    let g = scope(&root, "iam:CreateUser");
    v.create_user(&root, &RequestContext::default(), "alice", None, None, &[])
        .unwrap();
    rt.block_on(v.audit_finish_pending(g, AuditOutcome::Allowed).durable())
        .unwrap();
    assert_eq!(v.audit_verify().unwrap().records, 101);
    // When the record cannot be written, awaiting it fails.
    {
        let tx = v.store().write().unwrap();
        tx.raw_execute("DROP TABLE audit_log").unwrap();
        tx.commit().unwrap();
    }
    let g = scope(&root, "sts:GetCallerIdentity");
    assert!(
        rt.block_on(v.audit_finish_pending(g, AuditOutcome::Allowed).durable())
            .is_err()
    );
}

#[test]
fn a_prune_archives_then_removes_the_old_records_and_the_log_still_verifies() {
    let (v, root, clock) = vault_with_clock();
    // Three bursts of records: 200 in May, 200 in June, 50 in July.
    let write = |n: i64, label: &str| {
        let entries: Vec<crate::audit::Entry> = (0..n)
            .map(|i| crate::audit::Entry {
                at: clock.now().unix_timestamp(),
                request_id: format!("{label}-{i}"),
                account: ACCT.into(),
                principal: root.arn.clone(),
                action: "iam:ListUsers".into(),
                decision: "allowed".into(),
                ..crate::audit::Entry::default()
            })
            .collect();
        for chunk in entries.chunks(25) {
            v.audit_write(chunk.to_vec()).unwrap();
        }
    };
    clock.set(datetime!(2026-05-01 0:00 UTC));
    write(200, "may");
    clock.set(datetime!(2026-06-01 0:00 UTC));
    write(200, "june");
    clock.set(datetime!(2026-07-01 0:00 UTC));
    write(50, "july");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("audit-before-june.jsonl");
    let june = datetime!(2026-06-01 0:00 UTC).unix_timestamp();

    // Only the root may prune.
    let alice = Caller {
        kind: CallerKind::User {
            user_id: "AIDAALICE".into(),
            name: "alice".into(),
        },
        ..root.clone()
    };
    assert_eq!(
        v.audit_prune(&alice, june, &archive).unwrap_err().code(),
        "AccessDenied"
    );

    let r = v.audit_prune(&root, june, &archive).unwrap();
    // Up to the last checkpoint among the May records (one at the end of every batch of
    // 25 that crosses a multiple of 64: 75, 150, 200, ...): all of May.
    assert_eq!((r.first, r.through, r.records), (Some(1), Some(200), 200));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&archive)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 200);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[199]["seq"], 200);
    assert_eq!(lines[199]["request_id"], "may-199");
    assert_eq!(lines[0]["request_id"], "may-0");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let check = v.audit_verify().unwrap();
    assert!(check.ok(), "{check:?}");
    assert_eq!(check.pruned_through, Some(200));
    let arch = v.audit_verify_archive(&archive).unwrap();
    assert!(arch.ok(), "{arch:?}");
    assert_eq!((arch.first, arch.last), (Some(1), Some(200)));
    let tx = v.store().read().unwrap();
    assert_eq!(tx.audit_first_seq().unwrap(), Some(201));
    let own = tx
        .audit_search(
            &crate::store::AuditFilter {
                action: Some(crate::audit::PRUNE_ACTION.into()),
                ..Default::default()
            },
            10,
        )
        .unwrap();
    drop(tx);
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].resource, "audit-log/through/200");

    // Again with the same time: nothing left to prune, and no archive written.
    let again = dir.path().join("again.jsonl");
    let r = v.audit_prune(&root, june, &again).unwrap();
    assert_eq!(r.records, 0);
    assert!(!again.exists());
    // An existing archive is never overwritten, and then nothing is removed.
    let july = datetime!(2026-07-01 0:00 UTC).unix_timestamp();
    assert_eq!(
        v.audit_prune(&root, july, &archive).unwrap_err().code(),
        "InvalidInput"
    );
    assert_eq!(v.audit_verify().unwrap().pruned_through, Some(200));
    // Through June, in steps, each ending at a checkpoint.
    let r = v
        .audit_prune(&root, july, &dir.path().join("june.jsonl"))
        .unwrap();
    assert_eq!((r.first, r.through), (Some(201), Some(400)), "{r:?}");
    assert!(v.audit_verify().unwrap().ok());
    // Both archives still check out, the second linking to the first one's end.
    assert!(v.audit_verify_archive(&archive).unwrap().ok());
    let june = v
        .audit_verify_archive(&dir.path().join("june.jsonl"))
        .unwrap();
    assert!(june.ok(), "{june:?}");
    assert_eq!((june.first, june.last), (Some(201), Some(400)));

    // A log that does not verify is never pruned: the evidence stays.
    {
        let tx = v.store().write().unwrap();
        let edited = tx
            .raw_execute(
                "UPDATE audit_log SET principal = 'x' WHERE seq = (SELECT min(seq) + 5 FROM audit_log)",
            )
            .unwrap();
        assert_eq!(edited, 1);
        tx.commit().unwrap();
    }
    let before = v.store().read().unwrap().audit_first_seq().unwrap();
    clock.set(datetime!(2026-09-01 0:00 UTC));
    let e = v
        .audit_prune(
            &root,
            clock.now().unix_timestamp(),
            &dir.path().join("x.jsonl"),
        )
        .unwrap_err();
    assert_eq!(e.code(), "InvalidInput");
    assert!(e.to_string().contains("does not verify"), "{e}");
    assert_eq!(v.store().read().unwrap().audit_first_seq().unwrap(), before);
    assert!(!dir.path().join("x.jsonl").exists());
}
