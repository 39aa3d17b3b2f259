//! Changing the master key: every sealed value still opens under the new key, the audit
//! chain still verifies, a running server blocks it, and an interrupted change is
//! finished (or undone) at the next start.

use crate::support::{Vault, run_in};

fn creds_of(v: &serde_json::Value) -> iamvault::client::Credentials {
    iamvault::client::Credentials {
        access_key_id: v["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: iamvault::model::SecretString::new(
            v["AccessKey"]["SecretAccessKey"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
        session_token: None,
    }
}

fn who(dir: &std::path::Path, c: &iamvault::client::Credentials) -> String {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iamvault"))
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let l = lines.next().unwrap().unwrap();
        if let Some(u) = l.strip_prefix("iamvault listening on ") {
            break u.to_owned();
        }
    };
    // While it runs, a master-key change is refused.
    let r = run_in(dir, &["rekey", "--new-master-key"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("stop it first"), "{}", r.stderr);
    assert!(r.stderr.contains("error: VaultBusy:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("hint: stop that server first"),
        "{}",
        r.stderr
    );
    let client =
        iamvault::client::Client::new(&url, std::sync::Arc::new(iamvault::clock::SystemClock))
            .unwrap();
    let arn = client.call(c, "sts", "GetCallerIdentity", &[]).unwrap()["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    child.kill().unwrap();
    let _ = child.wait();
    arn
}

#[test]
fn a_new_master_key_reseals_everything() {
    let v = Vault::init();
    v.run(&["user", "create", "alice"]).ok();
    let alice = creds_of(&v.json(&["access-key", "create", "--user", "alice"]));
    v.run(&["mfa", "create", "phone", "--no-enable"]).ok();
    v.run(&["keys", "rotate"]).ok();
    for i in 0..70 {
        v.run(&["group", "create", &format!("g{i}")]).ok();
    }
    let old_key = std::fs::read(v.dir.join("master.key")).unwrap();
    assert!(who(&v.dir, &alice).ends_with(":user/alice"));

    let r = v.json(&["rekey", "--new-master-key"]);
    assert!(r["access_keys"].as_u64().unwrap() >= 2, "{r}");
    assert_eq!(r["mfa_devices"], 1);
    assert!(r["signing_keys"].as_u64().unwrap() >= 1);
    assert!(r["checkpoints"].as_u64().unwrap() >= 1);
    assert_ne!(std::fs::read(v.dir.join("master.key")).unwrap(), old_key);
    assert!(!v.dir.join("master.key.new").exists());
    // The same access key still signs requests; the chain still verifies.
    assert!(who(&v.dir, &alice).ends_with(":user/alice"));
    assert_eq!(v.json(&["audit", "verify"])["ok"], true);
    // Put the old key back: the checkpoints no longer verify under it.
    let new_key = std::fs::read(v.dir.join("master.key")).unwrap();
    std::fs::write(v.dir.join("master.key"), &old_key).unwrap();
    assert_eq!(v.run(&["audit", "verify"]).code, 1);
    std::fs::write(v.dir.join("master.key"), &new_key).unwrap();
    assert_eq!(v.json(&["audit", "verify"])["ok"], true);
}

#[test]
fn an_interrupted_change_is_finished_or_undone_at_the_next_start() {
    let v = Vault::init();
    v.run(&["user", "create", "alice"]).ok();
    let alice = creds_of(&v.json(&["access-key", "create", "--user", "alice"]));
    let key = v.dir.join("master.key");
    let new = v.dir.join("master.key.new");
    let old_bytes = std::fs::read(&key).unwrap();

    // Crash after the commit, before the rename: the old file is still in place next to
    // the new one.
    v.run(&["rekey", "--new-master-key"]).ok();
    let new_bytes = std::fs::read(&key).unwrap();
    std::fs::copy(&key, &new).unwrap();
    std::fs::write(&key, &old_bytes).unwrap();
    v.run(&["user", "list"]).ok();
    assert!(!new.exists());
    assert_eq!(
        std::fs::read(&key).unwrap(),
        new_bytes,
        "the new key was not kept"
    );
    assert!(who(&v.dir, &alice).ends_with(":user/alice"));

    // Crash before the commit: a stray new file whose key opens nothing is dropped.
    std::fs::copy(&key, &new).unwrap();
    let other = Vault::init();
    std::fs::copy(other.dir.join("master.key"), &new).unwrap();
    v.run(&["user", "list"]).ok();
    assert!(!new.exists());
    assert_eq!(std::fs::read(&key).unwrap(), new_bytes);
    assert_eq!(v.json(&["audit", "verify"])["ok"], true);
}
