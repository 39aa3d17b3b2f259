//! The audit log from outside: the real binary records local administration, the wire
//! API and sign-in; `audit verify` finds tampering done with a plain SQLite connection.

use crate::support::Vault;

fn lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn tamper(v: &Vault, sql: &str) {
    let c = rusqlite::Connection::open(v.dir.join("vault.db")).unwrap();
    assert!(c.execute(sql, []).unwrap() > 0, "{sql}");
}

#[test]
fn local_administration_is_recorded_and_tampering_is_found() {
    let v = Vault::init();
    for i in 0..70 {
        v.run(&["group", "create", &format!("g{i}")]).ok();
    }
    // A denial-free failure and a read.
    let r = v.run(&["group", "create", "g1"]);
    assert_ne!(r.code, 0);
    v.run(&["user", "list"]).ok();

    let tail = v
        .run(&["audit", "tail", "-n", "3", "--output", "json"])
        .ok();
    let recs = lines(&tail.stdout);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0]["action"], "iam:CreateGroup");
    assert_eq!(recs[0]["decision"], "allowed");
    assert_eq!(recs[1]["action"], "iam:CreateGroup");
    assert_eq!(recs[1]["decision"], "failed");
    assert!(
        recs[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("EntityAlreadyExists")
    );
    assert_eq!(recs[2]["action"], "iam:ListUsers");
    for r in &recs {
        assert_eq!(r["principal"], "arn:aws:iam::123456789012:root");
        assert_eq!(r["credential"], "local-admin");
        assert_eq!(r["source_ip"], "local");
    }
    let found = v
        .run(&[
            "audit",
            "search",
            "--action",
            "iam:CreateGroup",
            "--decision",
            "failed",
            "--output",
            "json",
        ])
        .ok();
    assert_eq!(lines(&found.stdout).len(), 1);
    // Counting has no limit and agrees with the listing.
    let n = v.json(&[
        "audit",
        "search",
        "--action",
        "iam:CreateGroup",
        "--decision",
        "allowed",
        "--count",
    ]);
    assert_eq!(n["Count"], 70);
    let few = v
        .run(&[
            "audit",
            "search",
            "--action",
            "iam:CreateGroup",
            "--limit",
            "5",
            "--output",
            "json",
        ])
        .ok();
    assert_eq!(lines(&few.stdout).len(), 5);
    let r = v.run(&["audit", "search", "--limit", "100001"]);
    assert_ne!(r.code, 0, "an out-of-range limit is refused, not clamped");

    let ok = v.json(&["audit", "verify"]);
    assert_eq!(ok["ok"], true);
    assert!(ok["records"].as_i64().unwrap() >= 72);
    assert!(ok["checkpoints"].as_i64().unwrap() >= 1);

    // Someone with write access to the database edits record 5.
    tamper(
        &v,
        "UPDATE audit_log SET principal = 'arn:aws:iam::123456789012:user/nobody' WHERE seq = 5",
    );
    let bad = v.run(&["audit", "verify", "--output", "json"]);
    assert_eq!(bad.code, 1, "{}", bad.stdout);
    let doc: serde_json::Value = serde_json::from_str(&bad.stdout).unwrap();
    assert_eq!(doc["first_bad"], 5);
    let table = v.run(&["audit", "verify"]);
    assert!(
        table.stdout.contains("BROKEN at record 5"),
        "{}",
        table.stdout
    );
}

#[test]
fn a_deleted_record_is_found() {
    let v = Vault::init();
    for i in 0..5 {
        v.run(&["user", "create", &format!("u{i}")]).ok();
    }
    tamper(&v, "DELETE FROM audit_log WHERE seq = 3");
    let bad = v.run(&["audit", "verify", "--output", "json"]);
    assert_eq!(bad.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&bad.stdout).unwrap();
    assert_eq!(doc["first_bad"], 3);
}

#[test]
fn records_never_hold_secrets() {
    let v = Vault::init();
    v.run(&["user", "create", "alice"]).ok();
    let key = v.json(&["access-key", "create", "--user", "alice"]);
    let secret = key["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let pw = v.file("pw", "A-very-long-Passw0rd!");
    v.run(&["login-profile", "create", "alice", "--password-file", &pw])
        .ok();
    let all = v
        .run(&["audit", "tail", "-n", "100", "--output", "json"])
        .ok();
    assert!(all.stdout.contains("iam:CreateAccessKey"));
    assert!(!all.stdout.contains(&secret));
    assert!(!all.stdout.contains("A-very-long-Passw0rd!"));
}

#[test]
fn prune_archives_the_old_records_and_the_rest_still_verifies() {
    let v = Vault::init();
    for i in 0..70 {
        v.run(&["group", "create", &format!("g{i}")]).ok();
    }
    let archive = v.dir.join("audit-archive.jsonl");
    let prune = [
        "audit",
        "prune",
        "--before",
        "2100-01-01T00:00:00Z",
        "--archive",
        archive.to_str().unwrap(),
    ];
    let r = v.json(&prune);
    let through = r["Through"].as_i64().unwrap();
    assert_eq!(r["First"], 1);
    assert!(through >= 64, "{r}");
    assert_eq!(r["Records"].as_i64().unwrap(), through);
    let archived = lines(&std::fs::read_to_string(&archive).unwrap());
    assert_eq!(archived.len() as i64, through);
    assert_eq!(archived[0]["seq"], 1);
    assert_eq!(archived.last().unwrap()["seq"], through);

    let ok = v.json(&["audit", "verify"]);
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["pruned_through"], through);
    let table = v.run(&["audit", "verify"]).ok();
    assert!(table.stdout.contains("were pruned"), "{}", table.stdout);
    // The archive checks out against the checkpoints the vault kept; edited, it does not.
    let arch = v.json(&["audit", "verify-archive", archive.to_str().unwrap()]);
    assert_eq!(arch["ok"], true, "{arch}");
    assert_eq!(arch["last"], through);
    let edited = v.dir.join("edited.jsonl");
    std::fs::write(
        &edited,
        std::fs::read_to_string(&archive)
            .unwrap()
            .replacen("iam:CreateGroup", "iam:ListGroups", 1),
    )
    .unwrap();
    let bad = v.run(&["audit", "verify-archive", edited.to_str().unwrap()]);
    assert_eq!(bad.code, 1, "{}", bad.stdout);
    assert!(bad.stdout.contains("BROKEN"), "{}", bad.stdout);
    // The prune is recorded in the log it pruned.
    let n = v.json(&[
        "audit",
        "search",
        "--action",
        "vault:PruneAuditLog",
        "--count",
    ]);
    assert_eq!(n["Count"], 1);

    // An existing archive is never overwritten: refused as bad input, nothing removed.
    let again = v.run(&prune);
    assert_eq!(again.code, 3, "{}", again.stderr);
    assert_eq!(v.json(&["audit", "verify"])["pruned_through"], through);
    let r = v.run(&["audit", "prune", "--before", "yesterday", "--archive", "x"]);
    assert_eq!(r.code, 3);

    // Records removed behind the vault's back, even up to a checkpoint, are still found.
    tamper(
        &v,
        &format!("DELETE FROM audit_log WHERE seq <= {}", through + 64),
    );
    let bad = v.run(&["audit", "verify", "--output", "json"]);
    assert_eq!(bad.code, 1, "{}", bad.stdout);
}
