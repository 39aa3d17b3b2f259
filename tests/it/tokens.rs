//! Token and signing-key commands against a running server's vault.

use std::sync::Arc;

use iamvault::client::{Client, Credentials, credentials_file::read_profile};
use iamvault::clock::SystemClock;
use iamvault::model::SecretString;

use crate::server::Server;
use crate::support::run_in;

#[test]
fn inspect_export_rotate_and_revoke_a_live_session() {
    let server = Server::start();
    let client = Client::new(&server.url, Arc::new(SystemClock)).unwrap();
    let admin = read_profile(&server.credentials_file(), "iamvault-admin").unwrap();
    let out = client
        .call(
            &admin,
            "sts",
            "GetSessionToken",
            &[("DurationSeconds", "900")],
        )
        .unwrap();
    let c = &out["Credentials"];
    let token = c["SessionToken"].as_str().unwrap().to_owned();
    let session = Credentials {
        access_key_id: c["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: SecretString::new(c["SecretAccessKey"].as_str().unwrap().to_owned()),
        session_token: Some(SecretString::new(token.clone())),
    };
    let who = client
        .call(&session, "sts", "GetCallerIdentity", &[])
        .unwrap();
    assert_eq!(who["Arn"], "arn:aws:iam::123456789012:user/admin");

    // The public keys, then an offline inspection that checks the signature.
    let jwks = run_in(&server.dir, &["keys", "export", "--output", "json"]).ok();
    let jwks_path = server.dir.parent().unwrap().join("jwks.json");
    std::fs::write(&jwks_path, &jwks.stdout).unwrap();
    let inspected = run_in(
        std::path::Path::new("/nonexistent"),
        &[
            "token",
            "inspect",
            &token,
            "--jwks",
            jwks_path.to_str().unwrap(),
            "--output",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(inspected["signature_valid"], true);
    assert_eq!(inspected["arn"], "arn:aws:iam::123456789012:user/admin");
    assert_eq!(inspected["access_key_id"], c["AccessKeyId"]);
    assert!(inspected.get("secret_access_key").is_none());
    // A tampered token fails the signature check offline too.
    let mut bad = token.clone().into_bytes();
    let i = bad.len() - 3;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let r = run_in(
        std::path::Path::new("/nonexistent"),
        &[
            "token",
            "inspect",
            std::str::from_utf8(&bad).unwrap(),
            "--jwks",
            jwks_path.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);

    // Rotation keeps the old key: the live session still works.
    let keys = run_in(&server.dir, &["keys", "rotate", "--output", "json"])
        .ok()
        .json();
    assert!(keys["kid"].as_str().unwrap().len() == 16);
    let listed = run_in(&server.dir, &["keys", "list", "--output", "json"])
        .ok()
        .json();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2);
    client
        .call(&session, "sts", "GetCallerIdentity", &[])
        .unwrap();

    // Revoking the session from the admin CLI takes effect on the server (which re-reads
    // revocations at most a second later): poll, bounded.
    run_in(&server.dir, &["session", "revoke", &token]).ok();
    let mut refused = false;
    for _ in 0..40 {
        if client
            .call(&session, "sts", "GetCallerIdentity", &[])
            .is_err()
        {
            refused = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(refused, "a revoked session kept working");
}
