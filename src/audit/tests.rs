use super::*;
use crate::store::Store;

fn entry(i: i64) -> Entry {
    Entry {
        at: 1_900_000_000 + i,
        request_id: format!("req-{i}"),
        account: "123456789012".into(),
        principal: "arn:aws:iam::123456789012:user/alice".into(),
        action: "iam:CreateUser".into(),
        resource: format!("arn:aws:iam::123456789012:user/u{i}"),
        decision: "allowed".into(),
        reason: String::new(),
        source_ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        credential: "AKIAEXAMPLE".into(),
    }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// A store holding `n` records appended in batches of 10.
fn chain(n: i64) -> Store {
    let s = Store::open_in_memory().unwrap();
    let k = key();
    let mut i = 0;
    while i < n {
        let batch: Vec<Entry> = (i..(i + 10).min(n)).map(|j| entry(j + 1)).collect();
        let tx = s.write().unwrap();
        append(&tx, &batch, &k).unwrap();
        tx.commit().unwrap();
        i += 10;
    }
    s
}

fn check(s: &Store) -> Verification {
    verify(s, &key().verifying_key()).unwrap()
}

fn tamper(s: &Store, sql: &str) {
    let tx = s.write().unwrap();
    assert!(tx.raw_execute(sql).unwrap() > 0, "{sql}");
    tx.commit().unwrap();
}

#[test]
fn an_intact_chain_verifies() {
    let s = chain(200);
    let v = check(&s);
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.records, 200);
    assert_eq!(v.head, 200);
    // Checkpoints at the batches crossing 64, 128 and 192.
    assert_eq!(v.checkpoints, 3);
    // Empty log: fine.
    assert!(check(&Store::open_in_memory().unwrap()).ok());
}

#[test]
fn an_edited_record_is_found() {
    let s = chain(100);
    tamper(
        &s,
        "UPDATE audit_log SET decision = 'denied' WHERE seq = 37",
    );
    let v = check(&s);
    assert_eq!(v.first_bad, Some(37), "{v:?}");
    assert!(v.problem.unwrap().contains("edited"));
}

#[test]
fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
    let s = chain(100);
    // The attacker fixes record 37's own hash, but 38 still points at the old one.
    let forged = {
        let tx = s.read().unwrap();
        let r = tx.audit_page(36, 1).unwrap().remove(0);
        let mut e = Entry::of_row(&r);
        e.principal = "arn:aws:iam::123456789012:user/mallory".into();
        hex::encode(chain_hash(&r.prev_hash, 37, &e))
    };
    tamper(
        &s,
        &format!(
            "UPDATE audit_log SET principal = 'arn:aws:iam::123456789012:user/mallory', hash = x'{forged}' WHERE seq = 37"
        ),
    );
    let v = check(&s);
    assert_eq!(v.first_bad, Some(38), "{v:?}");
}

#[test]
fn deleted_inserted_and_reordered_records_are_found() {
    let s = chain(100);
    tamper(&s, "DELETE FROM audit_log WHERE seq = 50");
    assert_eq!(check(&s).first_bad, Some(50));

    // Renumbering after a deletion breaks the link instead.
    let s = chain(100);
    tamper(&s, "DELETE FROM audit_log WHERE seq = 50");
    tamper(&s, "UPDATE audit_log SET seq = seq - 1 WHERE seq > 50");
    let v = check(&s);
    assert_eq!(v.first_bad, Some(50), "{v:?}");

    // An inserted record (a copy of another, at a free position) breaks the order.
    let s = chain(100);
    tamper(&s, "UPDATE audit_log SET seq = seq + 1000 WHERE seq > 20");
    tamper(
        &s,
        "INSERT INTO audit_log SELECT 21, at, request_id, account_id, principal, action, resource, decision, reason, source_ip, user_agent, credential, prev_hash, hash FROM audit_log WHERE seq = 5",
    );
    let v = check(&s);
    assert_eq!(v.first_bad, Some(21), "{v:?}");

    // Two records swapped.
    let s = chain(100);
    tamper(&s, "UPDATE audit_log SET seq = -1 WHERE seq = 10");
    tamper(&s, "UPDATE audit_log SET seq = 10 WHERE seq = 11");
    tamper(&s, "UPDATE audit_log SET seq = 11 WHERE seq = -1");
    let v = check(&s);
    assert_eq!(v.first_bad, Some(10), "{v:?}");
}

#[test]
fn truncation_after_a_checkpoint_is_found() {
    let s = chain(100);
    tamper(&s, "DELETE FROM audit_log WHERE seq > 60");
    let v = check(&s);
    assert_eq!(v.first_bad, Some(61), "{v:?}");
    assert!(v.problem.unwrap().contains("removed from the end"));
}

#[test]
fn a_rewritten_chain_needs_the_checkpoint_key() {
    // Rewriting every record consistently is possible without the key, but the signed
    // checkpoint then no longer matches.
    let s = chain(70);
    let other = SigningKey::from_bytes(&[9u8; 32]);
    let forged = Store::open_in_memory().unwrap();
    let tx = forged.write().unwrap();
    let mut es: Vec<Entry> = (1..=70).map(entry).collect();
    es[3].decision = "denied".into();
    append(&tx, &es, &other).unwrap();
    tx.commit().unwrap();
    let v = verify(&forged, &key().verifying_key()).unwrap();
    assert_eq!(v.first_bad, Some(70), "{v:?}");
    assert!(v.problem.unwrap().contains("not this vault's"));
    // And a checkpoint whose signature was altered.
    tamper(&s, "UPDATE audit_checkpoints SET signature = zeroblob(64)");
    let v = check(&s);
    assert!(v.problem.unwrap().contains("signature"));
}

#[test]
fn fields_are_bounded() {
    let s = Store::open_in_memory().unwrap();
    let mut e = entry(1);
    e.reason = "é".repeat(5000);
    let tx = s.write().unwrap();
    append(&tx, &[e], &key()).unwrap();
    tx.commit().unwrap();
    let r = s.read().unwrap().audit_tail(1).unwrap().remove(0);
    assert!(r.reason.len() <= MAX_FIELD);
    assert!(check(&s).ok());
}

/// Records a prune through `through` (with a checkpoint covering the record when
/// `signed`), then removes the records up to `removed`, as `audit prune` would.
fn prune(s: &Store, through: i64, removed: i64, signed: bool) {
    let k = key();
    let tx = s.write().unwrap();
    let mut e = entry(10_000);
    e.action = PRUNE_ACTION.into();
    e.resource = prune_resource(through);
    append(&tx, &[e], &k).unwrap();
    if signed {
        checkpoint_head(&tx, &k, 1_900_010_000).unwrap();
    }
    tx.audit_delete_through(removed).unwrap();
    tx.commit().unwrap();
}

#[test]
fn a_recorded_prune_to_a_checkpoint_verifies_and_the_chain_goes_on() {
    // Batches of ten: checkpoints at 70, 130, 200 and 260.
    let s = chain(300);
    prune(&s, 130, 130, true);
    let v = check(&s);
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.pruned_through, Some(130));
    assert_eq!(
        v.records,
        300 - 130 + 1,
        "the rest and the prune's own record"
    );
    assert_eq!(v.head, 301);
    // Appending goes on from the head as before, and a later prune goes further.
    let tx = s.write().unwrap();
    append(
        &tx,
        &(0..70).map(|i| entry(400 + i)).collect::<Vec<_>>(),
        &key(),
    )
    .unwrap();
    tx.commit().unwrap();
    prune(&s, 260, 260, true);
    let v = check(&s);
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.pruned_through, Some(260));
    // The pruned records' checkpoints stay; the ends are read without reading them all.
    let tx = s.read().unwrap();
    let all = tx.audit_checkpoints().unwrap();
    assert_eq!(all.first().map(|c| c.seq), Some(70));
    assert_eq!(tx.audit_first_checkpoint().unwrap().as_ref(), all.first());
    assert_eq!(
        tx.audit_last_checkpoint_seq().unwrap(),
        all.last().map(|c| c.seq)
    );
}

#[test]
fn records_removed_without_a_signed_record_of_a_prune_are_found() {
    // Deleted up to a checkpoint, with no prune recorded.
    let s = chain(300);
    tamper(&s, "DELETE FROM audit_log WHERE seq <= 130");
    let v = check(&s);
    assert_eq!(v.first_bad, Some(1), "{v:?}");
    assert!(v.problem.unwrap().contains("no prune of them"));

    // A prune recorded, but not under a signed checkpoint: anyone able to write the
    // database could append such a record after the last checkpoint.
    let s = chain(300);
    prune(&s, 130, 130, false);
    let v = check(&s);
    assert_eq!(v.first_bad, Some(1), "{v:?}");
    assert!(v.problem.unwrap().contains("no prune of them"));

    // Removed further than the recorded prune.
    let s = chain(300);
    prune(&s, 70, 130, true);
    let v = check(&s);
    assert_eq!(v.first_bad, Some(1), "{v:?}");
    assert!(v.problem.unwrap().contains("no prune of them"));

    // Removed up to a position that no checkpoint signs.
    let s = chain(300);
    prune(&s, 100, 100, true);
    let v = check(&s);
    assert_eq!(v.first_bad, Some(1), "{v:?}");
    assert!(
        v.problem
            .unwrap()
            .contains("no signed checkpoint ends there")
    );
}

#[test]
fn after_a_prune_the_remaining_records_are_still_checked() {
    let s = chain(300);
    prune(&s, 130, 130, true);
    tamper(&s, "UPDATE audit_log SET principal = 'x' WHERE seq = 200");
    assert_eq!(check(&s).first_bad, Some(200));
    // The checkpoint the log starts from is forged: found at its position.
    let s = chain(300);
    prune(&s, 130, 130, true);
    tamper(
        &s,
        "UPDATE audit_checkpoints SET signature = zeroblob(64) WHERE seq = 130",
    );
    assert_eq!(check(&s).first_bad, Some(130));
}

/// Records `first..=last` of `s` as an archive's text.
fn archive_of(s: &Store, first: i64, last: i64) -> String {
    let rows = s.read().unwrap().audit_page(first - 1, 10_000).unwrap();
    rows.iter()
        .filter(|r| r.seq <= last)
        .map(|r| json_line(r) + "\n")
        .collect()
}

fn check_archive(s: &Store, text: &str) -> ArchiveVerification {
    verify_archive(
        std::io::Cursor::new(text.as_bytes()),
        &s.read().unwrap(),
        &key().verifying_key(),
    )
    .unwrap()
}

#[test]
fn an_archive_is_checked_against_the_checkpoints_kept_after_a_prune() {
    // Checkpoints at 70, 130, 200 and 260 (batches of ten).
    let s = chain(300);
    let first = archive_of(&s, 1, 130);
    let second = archive_of(&s, 131, 260);
    prune(&s, 130, 130, true);
    prune(&s, 260, 260, true);
    assert!(check(&s).ok());
    let v = check_archive(&s, &first);
    assert!(v.ok(), "{v:?}");
    assert_eq!(
        (v.first, v.last, v.records, v.checkpoints),
        (Some(1), Some(130), 130, 2)
    );
    // The second links to the signed checkpoint of the first one's last record.
    let v = check_archive(&s, &second);
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.first, v.last, v.checkpoints), (Some(131), Some(260), 3));

    let lines: Vec<&str> = first.lines().collect();
    let join = |ls: &[&str]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
    // An edited field.
    let edited = first.replacen("req-100\"", "req-999\"", 1);
    assert_ne!(edited, first);
    assert_eq!(check_archive(&s, &edited).first_bad, Some(100));
    // An edit with every later hash recomputed: caught by the next signed checkpoint.
    let mut rows: Vec<AuditRow> = lines.iter().map(|l| archive_record(l).unwrap()).collect();
    rows[99].principal = "arn:aws:iam::123456789012:user/mallory".into();
    let mut prev = rows[98].hash.clone();
    for r in rows.iter_mut().skip(99) {
        r.hash = chain_hash(&prev, r.seq, &Entry::of_row(r)).to_vec();
        prev.clone_from(&r.hash);
    }
    let rewritten: String = rows.iter().map(|r| json_line(r) + "\n").collect();
    let v = check_archive(&s, &rewritten);
    assert_eq!(v.first_bad, Some(130), "{v:?}");
    assert!(v.problem.unwrap().contains("does not match"));
    // A record taken out, or the end cut off.
    let mut gap = lines.clone();
    gap.remove(49);
    assert_eq!(check_archive(&s, &join(&gap)).first_bad, Some(50));
    let v = check_archive(&s, &join(&lines[..125]));
    assert_eq!(v.first_bad, Some(125), "{v:?}");
    assert!(v.problem.unwrap().contains("cut from its end"));
    // A line that is not a record, and an empty archive.
    let mut junk = lines.clone();
    junk.insert(3, "{\"seq\": 4}");
    assert_eq!(check_archive(&s, &join(&junk)).first_bad, Some(4));
    assert!(!check_archive(&s, "").ok());
    // A line longer than any record is refused without being read whole.
    let mut long = lines.clone();
    let huge = "x".repeat(MAX_ARCHIVE_LINE + 10);
    long.insert(2, &huge);
    let v = check_archive(&s, &join(&long));
    assert_eq!(v.first_bad, Some(3), "{v:?}");
    assert!(v.problem.unwrap().contains("longer than any audit record"));
    // Another vault's checkpoints sign nothing here.
    let other = verify_archive(
        std::io::Cursor::new(second.as_bytes()),
        &s.read().unwrap(),
        &SigningKey::from_bytes(&[9u8; 32]).verifying_key(),
    )
    .unwrap();
    assert_eq!(other.first_bad, Some(130), "{other:?}");
    // The second archive alone, without the checkpoint it starts from.
    tamper(&s, "DELETE FROM audit_checkpoints WHERE seq = 130");
    assert_eq!(check_archive(&s, &second).first_bad, Some(131));
}
