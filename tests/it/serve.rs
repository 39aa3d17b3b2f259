//! `iamvault serve`: the plain-HTTP guard, TLS through rustls, graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::{Vault, run_in};

#[test]
fn plain_http_off_loopback_is_refused() {
    let v = Vault::init();
    let r = v.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("--tls-cert"), "{}", r.stderr);
}

fn start(dir: &std::path::Path, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamvault"))
        .arg("--data-dir")
        .arg(dir)
        .arg("serve")
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(u) = line.strip_prefix("iamvault listening on ") {
            break u.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

#[test]
fn tls_with_rustls() {
    let v = Vault::init();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_path = v.file("cert.pem", &cert.cert.pem());
    let key_path = v.file("key.pem", &cert.key_pair.serialize_pem());
    let (mut child, url) = start(
        &v.dir,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert_path,
            "--tls-key",
            &key_path,
        ],
    );
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let body = client
        .get(format!("{url}/healthz"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(body, "ok\n");
    // Plain HTTP to the TLS port does not get an answer.
    let plain = url.replace("https://", "http://");
    let answered =
        reqwest::blocking::get(format!("{plain}/healthz")).is_ok_and(|r| r.status().is_success());
    assert!(!answered);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let v = Vault::init();
    let (mut child, url) = start(&v.dir, &["--listen", "127.0.0.1:0"]);
    assert_eq!(
        reqwest::blocking::get(format!("{url}/healthz"))
            .unwrap()
            .text()
            .unwrap(),
        "ok\n"
    );
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    // The vault is intact afterwards.
    run_in(&v.dir, &["user", "list"]).ok();
}
