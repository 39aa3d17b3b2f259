//! A master key wrapped by an operator passphrase: init, every command, serve, rekey and
//! restore.

use crate::support::Vault;

#[test]
fn a_wrapped_master_key_needs_its_passphrase_everywhere() {
    let v = Vault::empty();
    let pass = v.file("pass", "a long operator passphrase\n");
    let out = v
        .run(&[
            "init",
            "--account-id",
            "123456789012",
            "--passphrase-file",
            &pass,
            "--output",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(out["account_id"], "123456789012");
    let key = std::fs::read_to_string(v.dir.join("master.key")).unwrap();
    assert!(key.starts_with("iamvault-master-key-v2:argon2id:"), "{key}");

    // Without it: a clear error, no partial start.
    let r = v.run(&["user", "list"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("protected by a passphrase"),
        "{}",
        r.stderr
    );
    let r = v.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--passphrase-file"), "{}", r.stderr);
    // A wrong one.
    let wrong = v.file("wrong", "not the passphrase at all");
    let r = v.run(&["--passphrase-file", &wrong, "user", "list"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("does not open"), "{}", r.stderr);
    assert!(!r.stderr.contains("not the passphrase at all"));
    // The right one, also through the environment variable.
    v.run(&["--passphrase-file", &pass, "user", "create", "alice"])
        .ok();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iamvault"))
        .args([
            "--data-dir",
            v.dir.to_str().unwrap(),
            "user",
            "list",
            "--output",
            "json",
        ])
        .env("IAMVAULT_PASSPHRASE_FILE", &pass)
        .output()
        .unwrap();
    assert!(out.status.success());

    // Backup, and restore with the wrapped key and its passphrase.
    let backup = v.dir.parent().unwrap().join("b.db");
    v.run(&[
        "--passphrase-file",
        &pass,
        "backup",
        "--to",
        backup.to_str().unwrap(),
    ])
    .ok();
    let target = v.dir.parent().unwrap().join("restored");
    let key_path = v.dir.join("master.key");
    let restore = |extra: &[&str]| {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend([
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--master-key",
            key_path.to_str().unwrap(),
        ]);
        crate::support::run_in(&target, &args)
    };
    assert_ne!(restore(&[]).code, 0);
    assert!(!target.exists());
    restore(&["--passphrase-file", &pass]).ok();
    let restored_key = std::fs::read_to_string(target.join("master.key")).unwrap();
    assert!(
        restored_key.starts_with("iamvault-master-key-v2:"),
        "the restore unwrapped the key"
    );

    // Rekey: a new passphrase; the old one stops working.
    let new = v.file("new", "an even longer new passphrase");
    let short = v.file("short", "short");
    assert_ne!(
        v.run(&[
            "--passphrase-file",
            &pass,
            "rekey",
            "--new-passphrase-file",
            &short
        ])
        .code,
        0
    );
    v.run(&[
        "--passphrase-file",
        &pass,
        "rekey",
        "--new-passphrase-file",
        &new,
    ])
    .ok();
    assert_ne!(v.run(&["--passphrase-file", &pass, "user", "list"]).code, 0);
    let users = v.json(&["--passphrase-file", &new, "user", "list"]);
    assert_eq!(users["Users"].as_array().unwrap().len(), 2);
    // Remove it: the plain 0600 file is back.
    v.run(&["--passphrase-file", &new, "rekey", "--remove-passphrase"])
        .ok();
    v.run(&["user", "list"]).ok();
    let audit = v.json(&["audit", "verify"]);
    assert_eq!(audit["ok"], true);
}

#[test]
fn a_short_passphrase_is_refused_at_init_and_nothing_is_made() {
    let v = Vault::empty();
    let short = v.file("short", "too short\n");
    let r = v.run(&["init", "--passphrase-file", &short]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("at least 12 characters"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("too short"),
        "the passphrase is never echoed"
    );
    assert!(!v.dir.join("master.key").exists());
    assert!(!v.dir.join("vault.db").exists());
    // Control: a long one works.
    let long = v.file("long", "a long operator passphrase\n");
    v.run(&["init", "--passphrase-file", &long]).ok();
    assert!(v.dir.join("master.key").exists());
}
