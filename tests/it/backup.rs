//! Backup under load and restore: a real server keeps creating users while `iamvault
//! backup` copies the database; the restored vault has every user acknowledged before
//! the backup began, an audit record for every change, and a valid chain.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use iamvault::client::{Client, Credentials};
use iamvault::clock::SystemClock;
use iamvault::model::SecretString;

use crate::server::Server;
use crate::support::run_in;

fn admin(server: &Server) -> Credentials {
    let text = std::fs::read_to_string(server.credentials_file()).unwrap();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim_start_matches([' ', '=']).trim().to_owned())
            .unwrap()
    };
    Credentials {
        access_key_id: get("aws_access_key_id"),
        secret_access_key: SecretString::new(get("aws_secret_access_key")),
        session_token: None,
    }
}

#[test]
fn a_backup_under_load_restores_every_acknowledged_change() {
    let server = Server::start();
    let creds = admin(&server);
    let started = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // Names acknowledged before the backup began.
    let before: Arc<Mutex<Vec<String>>> = Arc::default();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (url, creds) = (server.url.clone(), creds.clone());
            let (started, stop, before) =
                (Arc::clone(&started), Arc::clone(&stop), Arc::clone(&before));
            std::thread::spawn(move || {
                let client = Client::new(&url, Arc::new(SystemClock)).unwrap();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && i < 400 {
                    let name = format!("t{t}-u{i}");
                    client
                        .call(&creds, "iam", "CreateUser", &[("UserName", &name)])
                        .unwrap();
                    // Read after the answer: a call sent before the backup began but
                    // answered after it may rightly be missing from the copy.
                    if !started.load(Ordering::SeqCst) {
                        before.lock().unwrap().push(name);
                    }
                    i += 1;
                }
            })
        })
        .collect();
    while before.lock().unwrap().len() < 40 {
        std::thread::yield_now();
    }
    started.store(true, Ordering::SeqCst);
    let backup = server.dir.parent().unwrap().join("backup.db");
    let out = run_in(
        &server.dir,
        &[
            "backup",
            "--to",
            backup.to_str().unwrap(),
            "--output",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(out["audit_ok"], true, "{out}");
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&backup).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // Restore elsewhere.
    let tmp = tempfile::tempdir().unwrap();
    let restored = tmp.path().join("restored");
    let master = server.dir.join("master.key");
    run_in(
        &restored,
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--master-key",
            master.to_str().unwrap(),
        ],
    )
    .ok();
    let verify = run_in(&restored, &["audit", "verify", "--output", "json"])
        .ok()
        .json();
    assert_eq!(verify["ok"], true, "{verify}");

    let users: HashSet<String> = run_in(&restored, &["user", "list", "--output", "json"])
        .ok()
        .json()["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap().to_owned())
        .collect();
    for name in before.lock().unwrap().iter() {
        assert!(
            users.contains(name),
            "{name} was acknowledged before the backup but is missing"
        );
    }
    // Every change in the copy has its record in the copy.
    let records = run_in(
        &restored,
        &[
            "audit",
            "search",
            "--action",
            "iam:CreateUser",
            "--decision",
            "allowed",
            "--limit",
            "100000",
            "--output",
            "json",
        ],
    )
    .ok();
    let recorded: HashSet<String> = records
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["resource"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    for u in &users {
        if u != "admin" {
            assert!(recorded.contains(u), "{u} exists without its audit record");
        }
    }

    // Restoring again into a non-empty directory, or with the wrong key, is refused.
    let again = run_in(
        &restored,
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--master-key",
            master.to_str().unwrap(),
        ],
    );
    assert_ne!(again.code, 0);
    let other = tmp.path().join("other");
    run_in(&other, &["init", "--account-id", "111122223333"]).ok();
    let wrong = tmp.path().join("wrong");
    let r = run_in(
        &wrong,
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--master-key",
            other.join("master.key").to_str().unwrap(),
        ],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("does not open"), "{}", r.stderr);
    assert!(!wrong.exists(), "a failed restore left files behind");
}

#[test]
fn a_small_vault_restored_with_another_key_is_refused() {
    let v = crate::support::Vault::init();
    v.run(&["user", "create", "alice"]).ok();
    v.run(&["access-key", "create", "--user", "alice"]).ok();
    let backup = v.dir.parent().unwrap().join("b.db");
    v.run(&["backup", "--to", backup.to_str().unwrap()]).ok();
    // A second backup to the same file is refused, not overwritten.
    assert_ne!(v.run(&["backup", "--to", backup.to_str().unwrap()]).code, 0);
    let other = crate::support::Vault::init();
    let target = v.dir.parent().unwrap().join("restored");
    let r = run_in(
        &target,
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--master-key",
            other.dir.join("master.key").to_str().unwrap(),
        ],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("does not open"), "{}", r.stderr);
    assert!(!target.exists());
    // With the right key it works and the user is there.
    run_in(
        &target,
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--master-key",
            v.dir.join("master.key").to_str().unwrap(),
        ],
    )
    .ok();
    let users = run_in(&target, &["user", "list", "--output", "json"])
        .ok()
        .json();
    assert_eq!(users["Users"].as_array().unwrap().len(), 2);
}
