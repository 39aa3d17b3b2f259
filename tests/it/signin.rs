//! Sign-in administration through the real binary.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::Vault;

#[test]
fn mfa_create_shows_a_qr_code_and_enables_with_two_codes() {
    let v = Vault::init();
    v.run(&["user", "create", "alice"]).ok();
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamvault"))
        .arg("--data-dir")
        .arg(&v.dir)
        .args([
            "mfa",
            "create",
            "alice-phone",
            "--user",
            "alice",
            "--output",
            "json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The seed is shown once, in the otpauth URI on stderr before the first prompt: read
    // stderr as it streams until the prompt appears.
    let mut stderr = child.stderr.take().unwrap();
    let mut buf = Vec::new();
    let uri = loop {
        let mut chunk = [0u8; 4096];
        let n = std::io::Read::read(&mut stderr, &mut chunk).unwrap();
        assert!(n > 0, "no otpauth uri printed");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let line = text.lines().find(|l| l.starts_with("otpauth://"));
        if let Some(line) = line.filter(|_| text.contains("First code:")) {
            break line.to_owned();
        }
    };
    let text = String::from_utf8_lossy(&buf).into_owned();
    assert!(
        text.contains('█') || text.contains('▀') || text.contains('▄'),
        "no terminal qr code"
    );
    let secret = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let seed = base32_decode(secret);
    #[allow(
        clippy::disallowed_methods,
        reason = "the binary under test runs on the system clock"
    )]
    let now = time::OffsetDateTime::now_utc();
    let step = iamvault::auth::totp::step_of(now);
    let c1 = iamvault::auth::totp::code_at(&seed, step - 1, 6).unwrap();
    let c2 = iamvault::auth::totp::code_at(&seed, step, 6).unwrap();
    writeln!(child.stdin.as_mut().unwrap(), "{c1}\n{c2}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = v.json(&["mfa", "list", "--user", "alice"]);
    assert_eq!(
        listed["MFADevices"][0]["SerialNumber"],
        "arn:aws:iam::123456789012:mfa/alice-phone"
    );
    // The seed is never in the database.
    let raw = v.raw_db();
    assert!(!raw.windows(seed.len()).any(|w| w == seed.as_slice()));
    assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

fn base32_decode(s: &str) -> Vec<u8> {
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => continue,
        };
        bits = (bits << 5) | u64::from(v);
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn password_policy_login_profile_unlock_report_doctor() {
    let v = Vault::init();
    let weak = v.file("weak", "abc\n");
    let good = v.file("good", "Correct-Horse-9\n");
    v.run(&["user", "create", "bob"]).ok();
    let r = v.run(&["login-profile", "create", "bob", "--password-file", &weak]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.starts_with("error: PasswordPolicyViolation: "),
        "{}",
        r.stderr
    );
    v.run(&["login-profile", "create", "bob", "--password-file", &good])
        .ok();
    let p = v.json(&[
        "password-policy",
        "set",
        "--min-length",
        "16",
        "--require-symbols",
    ]);
    assert_eq!(p["PasswordPolicy"]["MinimumPasswordLength"], 16);
    assert_eq!(
        v.json(&["password-policy", "get"])["PasswordPolicy"]["RequireSymbols"],
        true
    );
    let s = v.json(&["settings", "lockout", "--threshold", "3"]);
    assert_eq!(s["Lockout"]["threshold"], 3);
    v.run(&["user", "unlock", "bob"]).ok();
    assert_eq!(
        v.json(&["user", "lockouts", "bob"])["Events"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let a = v.json(&[
        "settings",
        "argon2",
        "--memory-kib",
        "8192",
        "--iterations",
        "1",
    ]);
    assert_eq!(a["Argon2"]["memory_kib"], 8192);
    assert_eq!(v.json(&["settings", "argon2"])["Argon2"]["iterations"], 1);
    assert_eq!(v.run(&["settings", "argon2", "--memory-kib", "16"]).code, 3);
    let report = v.run(&["credential-report"]).ok();
    assert!(report.stdout.starts_with("user,arn,user_creation_time,"));
    assert!(
        report
            .stdout
            .contains("\nbob,arn:aws:iam::123456789012:user/bob,")
    );
    let d = v.run(&["doctor", "--output", "json"]);
    assert_eq!(d.code, 1);
    let ids: Vec<String> = d.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.contains(&"root-mfa".to_owned()));
    assert!(ids.contains(&"user-console-without-mfa".to_owned()));
    // The password file's content never reaches the database.
    assert!(!v.raw_db().windows(15).any(|w| w == b"Correct-Horse-9"));
}
