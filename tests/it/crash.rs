//! Crash safety: a real server issues access keys and sessions to many concurrent clients
//! and is killed with SIGKILL mid-load. After a restart every acknowledged issuance is
//! there, the database passes `integrity_check`, the audit chain verifies, and no
//! half-made entity exists.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use iamvault::client::{Client, Credentials};
use iamvault::clock::SystemClock;
use iamvault::model::SecretString;

use crate::support::run_in;

fn serve(dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamvault"))
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(u) = line.strip_prefix("iamvault listening on ") {
            break u.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

fn creds(text: &str) -> Credentials {
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

fn field(v: &serde_json::Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("no {path:?} in {v}"))
        .to_owned()
}

#[test]
fn sigkill_mid_load_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    run_in(&dir, &["init", "--account-id", "123456789012"]).ok();
    let trust = tmp.path().join("trust.json");
    std::fs::write(
        &trust,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#,
    )
    .unwrap();
    run_in(
        &dir,
        &[
            "role",
            "create",
            "worker",
            "--trust-policy",
            trust.to_str().unwrap(),
        ],
    )
    .ok();
    let admin = creds(&std::fs::read_to_string(dir.join("bootstrap-credentials")).unwrap());
    let (mut server, url) = serve(&dir);

    // What the server acknowledged: users, (user, key id), and session credentials.
    let users: Arc<Mutex<HashSet<String>>> = Arc::default();
    let keys: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sessions: Arc<Mutex<Vec<Credentials>>> = Arc::default();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (url, admin) = (url.clone(), admin.clone());
            let (users, keys, sessions) =
                (Arc::clone(&users), Arc::clone(&keys), Arc::clone(&sessions));
            std::thread::spawn(move || {
                let c = Client::new(&url, Arc::new(SystemClock)).unwrap();
                for i in 0..1000 {
                    let name = format!("t{t}-u{i}");
                    if c.call(&admin, "iam", "CreateUser", &[("UserName", &name)])
                        .is_err()
                    {
                        return;
                    }
                    users.lock().unwrap().insert(name.clone());
                    match c.call(&admin, "iam", "CreateAccessKey", &[("UserName", &name)]) {
                        Ok(v) => keys
                            .lock()
                            .unwrap()
                            .push((name.clone(), field(&v, &["AccessKey", "AccessKeyId"]))),
                        Err(_) => return,
                    }
                    if i % 2 == 0 {
                        let r = c.call(
                            &admin,
                            "sts",
                            "AssumeRole",
                            &[
                                ("RoleArn", "arn:aws:iam::123456789012:role/worker"),
                                ("RoleSessionName", &name),
                            ],
                        );
                        match r {
                            Ok(v) => sessions.lock().unwrap().push(Credentials {
                                access_key_id: field(&v, &["Credentials", "AccessKeyId"]),
                                secret_access_key: SecretString::new(field(
                                    &v,
                                    &["Credentials", "SecretAccessKey"],
                                )),
                                session_token: Some(SecretString::new(field(
                                    &v,
                                    &["Credentials", "SessionToken"],
                                ))),
                            }),
                            Err(_) => return,
                        }
                    }
                }
            })
        })
        .collect();
    while keys.lock().unwrap().len() < 120 {
        assert!(
            !threads.iter().all(std::thread::JoinHandle::is_finished),
            "the load stopped before the kill"
        );
        std::thread::yield_now();
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    for t in threads {
        t.join().unwrap();
    }

    // The database itself.
    let db = rusqlite::Connection::open(dir.join("vault.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(db);
    let audit = run_in(&dir, &["audit", "verify", "--output", "json"])
        .ok()
        .json();
    assert_eq!(audit["ok"], true, "{audit}");

    // Every acknowledged user and key is there.
    let listed: HashSet<String> = run_in(&dir, &["user", "list", "--output", "json"])
        .ok()
        .json()["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap().to_owned())
        .collect();
    for u in users.lock().unwrap().iter() {
        assert!(listed.contains(u), "acknowledged user {u} is missing");
    }
    let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
    for u in listed.iter().filter(|u| u.starts_with('t')) {
        let ks = run_in(
            &dir,
            &["access-key", "list", "--user", u, "--output", "json"],
        )
        .ok()
        .json();
        by_user.insert(
            u.clone(),
            ks["AccessKeyMetadata"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["AccessKeyId"].as_str().unwrap().to_owned())
                .collect(),
        );
    }
    for (u, k) in keys.lock().unwrap().iter() {
        assert!(
            by_user[u].contains(k),
            "acknowledged key {k} of {u} is missing"
        );
    }
    // No half-made entity: every change in the database has its audit record, and no
    // user has more keys than it was given.
    let created: HashSet<String> = run_in(
        &dir,
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
    .ok()
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
    let key_records = run_in(
        &dir,
        &[
            "audit",
            "search",
            "--action",
            "iam:CreateAccessKey",
            "--decision",
            "allowed",
            "--limit",
            "100000",
            "--output",
            "json",
        ],
    )
    .ok()
    .stdout
    .lines()
    .count();
    let stored_keys: usize = by_user.values().map(Vec::len).sum();
    assert_eq!(
        stored_keys, key_records,
        "keys and their audit records disagree"
    );
    for (u, ks) in &by_user {
        assert!(created.contains(u), "{u} exists without its audit record");
        assert!(ks.len() <= 1, "{u} has {} keys", ks.len());
    }

    // Acknowledged sessions still work after the restart (their signing key survived).
    let (mut server, url) = serve(&dir);
    let c = Client::new(&url, Arc::new(SystemClock)).unwrap();
    let sessions = sessions.lock().unwrap();
    assert!(!sessions.is_empty());
    for s in sessions.iter() {
        let who = c.call(s, "sts", "GetCallerIdentity", &[]).unwrap();
        assert!(field(&who, &["Arn"]).contains(":assumed-role/worker/"));
    }
    server.kill().unwrap();
    let _ = server.wait();
}
