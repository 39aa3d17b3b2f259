//! Race tests against a real server: many clients at once, released together by a
//! barrier, then the state read back through the API, the CLI and the database itself.

use std::process::Command;
use std::sync::{Arc, Barrier};

use iamvault::client::credentials_file::{read_profile, write_profile};
use rusqlite::OptionalExtension as _;

use crate::wire::{ACCOUNT, Live, Resp};

/// Runs `n` copies of `f` at once (released together) and returns their answers.
fn together<T: Send + 'static>(n: usize, f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let gate = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (gate, f) = (Arc::clone(&gate), Arc::clone(&f));
            std::thread::spawn(move || {
                gate.wait();
                f(i)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn parallel_create_access_key_never_makes_a_third_key() {
    let s = Arc::new(Live::start());
    s.admin("CreateUser", &[("UserName", "racer")]);
    // The user creating its own keys, too (self-service, limit shared with the admin).
    let me = s.user(
        "self-racer",
        Some(&crate::wire::allow(
            &["iam:CreateAccessKey"],
            "arn:aws:iam::123456789012:user/${aws:username}",
        )),
    );
    for round in 0..4 {
        let s2 = Arc::clone(&s);
        let answers: Vec<Resp> = together(24, move |_| {
            s2.call(&s2.admin, "CreateAccessKey", &[("UserName", "racer")])
        });
        let created: Vec<&Resp> = answers.iter().filter(|r| r.status == 200).collect();
        for r in answers.iter().filter(|r| r.status != 200) {
            r.refused(409, "LimitExceeded");
        }
        assert_eq!(
            created.len(),
            2,
            "round {round}: {} keys made",
            created.len()
        );
        let ids = s.key_ids("racer");
        assert_eq!(ids.len(), 2, "round {round}");
        for r in created {
            let id = r.result("CreateAccessKey")["AccessKey"]["AccessKeyId"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(ids.contains(&id), "acknowledged key {id} is missing");
            s.admin(
                "DeleteAccessKey",
                &[("UserName", "racer"), ("AccessKeyId", &id)],
            );
        }
        // The self-service user has one key already: exactly one more may be made,
        // whether the calls come from the user or the administrator.
        let (s3, me3) = (Arc::clone(&s), me.clone());
        let answers = together(16, move |i| {
            if i % 2 == 0 {
                s3.call(&me3, "CreateAccessKey", &[])
            } else {
                s3.call(&s3.admin, "CreateAccessKey", &[("UserName", "self-racer")])
            }
        });
        let made: Vec<String> = answers
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| {
                r.result("CreateAccessKey")["AccessKey"]["AccessKeyId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(made.len(), 1, "round {round}: {made:?}");
        assert_eq!(s.key_ids("self-racer").len(), 2);
        s.admin(
            "DeleteAccessKey",
            &[("UserName", "self-racer"), ("AccessKeyId", &made[0])],
        );
    }
}

/// `(failures, locked)` of a canonical name, read from the database (none: no row).
fn lock_state(s: &Live, canon: &str) -> (i64, bool) {
    let db = rusqlite::Connection::open_with_flags(
        s.dir.join("vault.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row(
        "SELECT failures, locked_until IS NOT NULL FROM lockouts WHERE account_id = ?1 AND name_canon = ?2",
        [ACCOUNT, canon],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .unwrap()
    .unwrap_or((0, false))
}

fn locked_events(s: &Live, user: &str) -> usize {
    let v = s
        .cli(&["user", "lockouts", user, "--output", "json"])
        .ok()
        .json();
    v["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.to_string().contains("\"locked\""))
        .count()
}

#[test]
fn parallel_sign_in_failures_never_pass_the_lockout_threshold() {
    const THRESHOLD: i64 = 4;
    let s = Arc::new(Live::start_with(
        |dir| {
            crate::support::run_in(
                dir,
                &["settings", "lockout", "--threshold", &THRESHOLD.to_string()],
            )
            .ok();
        },
        &[],
    ));
    s.admin("CreateUser", &[("UserName", "erin")]);
    s.admin(
        "CreateLoginProfile",
        &[("UserName", "erin"), ("Password", "Erin-password-1")],
    );
    // Control: the password works.
    assert_eq!(s.login("erin", "Erin-password-1", None).status, 200);
    // Eight wrong attempts at once, spelled three ways (with the control and the check
    // below, ten: the login API's per-name burst, so none is answered 429 instead).
    let s2 = Arc::clone(&s);
    let answers = together(8, move |i| {
        let name = ["erin", "ERIN", "Erin"][i % 3];
        s2.login(name, "wrong-password", None)
    });
    for r in &answers {
        assert_eq!(
            (r.status, r.body.as_str()),
            (401, r#"{"error":"AuthenticationFailed"}"#),
            "an attempt looked different"
        );
    }
    // Only THRESHOLD attempts were counted (reserved before verification); the rest met
    // the lock. One lock event, and the right password is now refused.
    let (failures, locked) = lock_state(&s, "erin");
    assert!(failures <= THRESHOLD, "{failures} failures counted");
    assert!(locked, "eight failures did not lock the name");
    assert_eq!(locked_events(&s, "erin"), 1);
    assert_eq!(s.login("Erin", "Erin-password-1", None).status, 401);

    // Again with the right password racing the wrong ones after an unlock. A success
    // resets the counter (and lifts a lock), so the order decides the end state; whatever
    // it is, the counter never passes the threshold, at most the one right attempt
    // succeeds, and every other answer is the one failure body.
    s.cli(&["user", "unlock", "erin"]).ok();
    s.admin("CreateUser", &[("UserName", "frank")]);
    s.admin(
        "CreateLoginProfile",
        &[("UserName", "frank"), ("Password", "Frank-password-1")],
    );
    let s3 = Arc::clone(&s);
    let answers = together(10, move |i| {
        let pw = if i == 0 {
            "Frank-password-1"
        } else {
            "wrong-password"
        };
        (i, s3.login("frank", pw, None))
    });
    for (i, r) in &answers {
        if r.status == 200 {
            assert_eq!(*i, 0, "a wrong password signed in");
        } else {
            assert_eq!(
                (r.status, r.body.as_str()),
                (401, r#"{"error":"AuthenticationFailed"}"#)
            );
        }
    }
    let (failures, _) = lock_state(&s, "frank");
    assert!(failures <= THRESHOLD, "{failures} failures counted");
}

/// `iamvault rotate-key` for one profile of one credentials file.
fn rotate(s: &Live, file: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iamvault"))
        .args(["rotate-key", "--endpoint", &s.url, "--profile", "rot"])
        .arg("--credentials-file")
        .arg(file)
        .args(["--output", "json"])
        .env_remove("IAMVAULT_DATA_DIR")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .output()
        .unwrap()
}

#[test]
fn parallel_rotations_leave_one_or_two_valid_keys() {
    let s = Arc::new(Live::start());
    let rot = s.user(
        "rot",
        Some(&crate::wire::allow(
            &[
                "iam:CreateAccessKey",
                "iam:UpdateAccessKey",
                "iam:DeleteAccessKey",
                "iam:ListAccessKeys",
            ],
            "arn:aws:iam::123456789012:user/${aws:username}",
        )),
    );
    let file = s.tmp.join("credentials");
    write_profile(&file, "rot", &rot).unwrap();
    // Control: one rotation on its own replaces the key.
    let one = rotate(&s, &file);
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    let ids = s.key_ids("rot");
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], rot.access_key_id);

    let mut total_ok = 0;
    for round in 0..3 {
        let before = s.key_ids("rot");
        let (s2, f2) = (Arc::clone(&s), file.clone());
        let outs = together(6, move |_| rotate(&s2, &f2));
        let ok = outs.iter().filter(|o| o.status.success()).count();
        total_ok += ok;
        // The file always parses and holds a key that works.
        let current = read_profile(&file, "rot").unwrap();
        s.call(&current, "GetCallerIdentity", &[])
            .result("GetCallerIdentity");
        let ids = s.key_ids("rot");
        assert!(
            (1..=2).contains(&ids.len()),
            "round {round}: {} keys",
            ids.len()
        );
        assert!(
            ids.contains(&current.access_key_id),
            "round {round}: the profile's key is not the user's"
        );
        if before.len() == 1 {
            assert!(ok >= 1, "round {round}: no rotation succeeded");
        }
        // The profile's key is active (a lost race may leave the other one either way).
        let listed = s.admin("ListAccessKeys", &[("UserName", "rot")]);
        let mine = listed["AccessKeyMetadata"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["AccessKeyId"] == current.access_key_id.as_str())
            .unwrap();
        assert_eq!(mine["Status"], "Active");
        // Clean a leftover so the next round starts from one key.
        for id in ids.iter().filter(|id| **id != current.access_key_id) {
            s.admin(
                "DeleteAccessKey",
                &[("UserName", "rot"), ("AccessKeyId", id)],
            );
        }
    }
    assert!(total_ok >= 3);
}

#[test]
fn parallel_sign_ins_with_one_totp_code_let_exactly_one_in() {
    // The TOTP step is consumed in the sign-in's success transaction: of eight sign-ins
    // with the right password and the same code at once, exactly one gets in; the others
    // get the one failure body, and the code stays spent.
    let s = Arc::new(Live::start());
    s.admin("CreateUser", &[("UserName", "gina")]);
    s.admin(
        "CreateLoginProfile",
        &[("UserName", "gina"), ("Password", "Gina-password-1")],
    );
    let (_, seed, _) = crate::attacks::enable_mfa(&s, "gina");
    // The step after the ones that enabled the device.
    let step = iamvault::auth::totp::step_of(crate::wire::now()) + 1;
    let code = iamvault::auth::totp::code_at(&seed, step, 6).unwrap();
    // Eight at once, and one more afterwards: within the login API's per-name burst of
    // ten, so none is answered 429 instead.
    let (s2, c2) = (Arc::clone(&s), code.clone());
    let answers = together(8, move |_| s2.login("gina", "Gina-password-1", Some(&c2)));
    let ok = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "{ok} sign-ins got in with one code");
    for r in answers.iter().filter(|r| r.status != 200) {
        assert_eq!(
            (r.status, r.body.as_str()),
            (401, r#"{"error":"AuthenticationFailed"}"#)
        );
    }
    assert_eq!(s.login("gina", "Gina-password-1", Some(&code)).status, 401);
}
