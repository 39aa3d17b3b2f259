//! Sign-in, password policy, lockout and MFA through the service functions, with the test
//! clock stepping time.

use std::sync::Arc;

use time::Duration;
use time::macros::datetime;

use super::*;
use crate::auth::password_policy::PasswordPolicyUpdate;
use crate::auth::{PasswordParams, totp};
use crate::clock::{Clock, TestClock, TestRandom};
use crate::model::SecretString;

const ACCT: &str = "123456789012";

fn cheap() -> PasswordParams {
    PasswordParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    }
}

struct T {
    v: Vault,
    root: Caller,
    clock: TestClock,
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
}

fn env(clock: &TestClock, seed: u64) -> Env {
    Env {
        clock: Arc::new(clock.clone()),
        rng: Arc::new(TestRandom::new(seed)),
    }
}

/// A vault in a temporary directory (so tests can reopen it and read its file).
fn setup() -> T {
    let clock = TestClock::new(datetime!(2026-06-01 12:00 UTC));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let (mut v, _) = Vault::init(
        &dir,
        env(&clock, 7),
        InitOptions {
            account_id: Some(AccountId::parse(ACCT).unwrap()),
            root_password: Some(pw("Root-Passw0rd!")),
            password_params: cheap(),
            ..InitOptions::default()
        },
    )
    .unwrap();
    v.set_password_params(cheap());
    let root = Caller::root(&AccountId::parse(ACCT).unwrap());
    T {
        v,
        root,
        clock,
        _dir: tmp,
        dir,
    }
}

fn pw(s: &str) -> SecretString {
    SecretString::new(s.to_owned())
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn acct() -> AccountId {
    AccountId::parse(ACCT).unwrap()
}

/// The caller a user becomes by signing in with `password`.
fn signed_in(t: &T, name: &str, password: &str) -> Caller {
    let s =
        t.v.sign_in(&acct(), name, &pw(password), None, None)
            .unwrap();
    Caller {
        account: acct(),
        arn: super::users::user_arn(&s.user),
        kind: CallerKind::User {
            user_id: s.user.user_id,
            name: name.into(),
        },
    }
}

/// An account password policy that only prevents reusing the last two passwords.
fn remember_two(t: &T) {
    t.v.update_account_password_policy(
        &t.root,
        &ctx(),
        &PasswordPolicyUpdate {
            password_reuse_prevention: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
}

fn user_with_password(t: &T, name: &str, password: &str) {
    t.v.create_user(&t.root, &ctx(), name, None, None, &[])
        .unwrap();
    t.v.create_login_profile(&t.root, &ctx(), name, &pw(password), false)
        .unwrap();
}

#[test]
fn default_rules_and_policy_violations_name_every_rule() {
    let t = setup();
    t.v.create_user(&t.root, &ctx(), "alice", None, None, &[])
        .unwrap();
    // AWS's default rules: 8 characters, three classes.
    let e =
        t.v.create_login_profile(&t.root, &ctx(), "alice", &pw("short"), false)
            .unwrap_err();
    assert_eq!(e.code(), "PasswordPolicyViolation");
    assert!(
        e.to_string().contains("at least 8 characters") && e.to_string().contains("at least 3 of"),
        "{e}"
    );
    assert_eq!(
        t.v.get_account_password_policy(&t.root, &ctx())
            .unwrap_err()
            .code(),
        "NoSuchEntity"
    );
    t.v.update_account_password_policy(
        &t.root,
        &ctx(),
        &PasswordPolicyUpdate {
            minimum_password_length: Some(12),
            require_symbols: Some(true),
            require_numbers: Some(true),
            password_reuse_prevention: Some(2),
            reject_common_passwords: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let e =
        t.v.create_login_profile(&t.root, &ctx(), "alice", &pw("abcdefg"), false)
            .unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("at least 12") && m.contains("a symbol") && m.contains("a number"),
        "{m}"
    );
    let e =
        t.v.create_login_profile(&t.root, &ctx(), "alice", &pw("Password1234"), false)
            .unwrap_err();
    assert!(e.to_string().contains("commonly used"), "{e}");
    t.v.create_login_profile(&t.root, &ctx(), "alice", &pw("correct-horse-9!"), false)
        .unwrap();
    // No partial updates: a later update without the symbol rule drops it.
    let p =
        t.v.update_account_password_policy(
            &t.root,
            &ctx(),
            &PasswordPolicyUpdate {
                minimum_password_length: Some(6),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(!p.require_symbols && p.password_reuse_prevention.is_none());
    t.v.delete_account_password_policy(&t.root, &ctx()).unwrap();
    assert_eq!(
        t.v.delete_account_password_policy(&t.root, &ctx())
            .unwrap_err()
            .code(),
        "NoSuchEntity"
    );
}

#[test]
fn reuse_prevention_and_self_service_change() {
    let t = setup();
    t.v.update_account_password_policy(
        &t.root,
        &ctx(),
        &PasswordPolicyUpdate {
            password_reuse_prevention: Some(2),
            allow_users_to_change_password: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    user_with_password(&t, "bob", "first-Pass1");
    let bob = signed_in(&t, "bob", "first-Pass1");
    // AllowUsersToChangePassword: no policy needed.
    t.v.change_password(&bob, &ctx(), &pw("first-Pass1"), &pw("second-Pass2"))
        .unwrap();
    assert_eq!(
        t.v.change_password(&bob, &ctx(), &pw("wrong"), &pw("third-Pass3"))
            .unwrap_err()
            .code(),
        "InvalidInput"
    );
    // The last two passwords are refused.
    for old in ["first-Pass1", "second-Pass2"] {
        assert_eq!(
            t.v.change_password(&bob, &ctx(), &pw("second-Pass2"), &pw(old))
                .unwrap_err()
                .code(),
            "PasswordPolicyViolation",
            "{old}"
        );
    }
    t.v.change_password(&bob, &ctx(), &pw("second-Pass2"), &pw("third-Pass3"))
        .unwrap();
    // Without the setting, ChangePassword needs a policy.
    t.v.update_account_password_policy(&t.root, &ctx(), &PasswordPolicyUpdate::default())
        .unwrap();
    assert_eq!(
        t.v.change_password(&bob, &ctx(), &pw("third-Pass3"), &pw("fourth-Pass4"))
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
    t.v.attach_policy(
        &t.root,
        &ctx(),
        crate::store::EntityKind::User,
        "bob",
        "arn:aws:iam::aws:policy/IAMUserChangePassword",
    )
    .unwrap();
    t.v.change_password(&bob, &ctx(), &pw("third-Pass3"), &pw("fourth-Pass4"))
        .unwrap();
    // The root changes its own password.
    t.v.change_password(
        &t.root,
        &ctx(),
        &pw("Root-Passw0rd!"),
        &pw("New-Root-Passw0rd!"),
    )
    .unwrap();
}

#[test]
fn a_password_change_checked_before_a_reset_or_a_policy_change_is_refused() {
    let t = setup();
    let allow = |reuse: Option<i64>| PasswordPolicyUpdate {
        password_reuse_prevention: reuse,
        allow_users_to_change_password: Some(true),
        ..Default::default()
    };
    t.v.update_account_password_policy(&t.root, &ctx(), &allow(Some(3)))
        .unwrap();
    user_with_password(&t, "bob", "first-Pass1");
    let bob = signed_in(&t, "bob", "first-Pass1");
    // Bob's change passed its checks (all the argon2 work); an administrator resets the
    // password before it is written.
    let checked =
        t.v.check_password_change(&bob, &ctx(), &pw("first-Pass1"), &pw("second-Pass2"))
            .unwrap();
    t.v.update_login_profile(&t.root, &ctx(), "bob", Some(&pw("reset-Pass9")), None)
        .unwrap();
    assert_eq!(
        t.v.finish_password_change(&bob, &ctx(), checked)
            .unwrap_err()
            .code(),
        "EntityTemporarilyUnmodifiable"
    );
    // The reset stands; Bob's new password was not written.
    t.v.sign_in(&acct(), "bob", &pw("reset-Pass9"), None, None)
        .unwrap();
    assert_eq!(
        t.v.sign_in(&acct(), "bob", &pw("second-Pass2"), None, None)
            .unwrap_err(),
        Error::AuthenticationFailed
    );
    // The same when the policy changes in between (its reuse check may no longer hold).
    let Err(refused) =
        t.v.check_password_change(&bob, &ctx(), &pw("reset-Pass9"), &pw("first-Pass1"))
    else {
        panic!("a password within the last three was accepted");
    };
    assert_eq!(refused.code(), "PasswordPolicyViolation");
    let checked =
        t.v.check_password_change(&bob, &ctx(), &pw("reset-Pass9"), &pw("third-Pass3"))
            .unwrap();
    t.v.update_account_password_policy(&t.root, &ctx(), &allow(Some(5)))
        .unwrap();
    assert_eq!(
        t.v.finish_password_change(&bob, &ctx(), checked)
            .unwrap_err()
            .code(),
        "EntityTemporarilyUnmodifiable"
    );
    // Checked and written with nothing in between, the change goes through.
    t.v.change_password(&bob, &ctx(), &pw("reset-Pass9"), &pw("third-Pass3"))
        .unwrap();
    t.v.sign_in(&acct(), "bob", &pw("third-Pass3"), None, None)
        .unwrap();
}

#[test]
fn a_root_password_change_does_its_argon2_work_before_the_write_and_refuses_a_stale_check() {
    let t = setup();
    remember_two(&t);
    let check = |old: &str, new: &str| t.v.check_root_password_change(ACCT, &pw(old), &pw(new));
    let finish = |c| {
        t.v.finish_root_password_change(ACCT, c)
            .err()
            .map(|e| e.code())
    };
    // Every check is made before any write transaction: a wrong old password, a password
    // the rules refuse, a remembered one.
    let writes = t.v.store().group_commits();
    let before = t.v.store().transactions();
    assert_eq!(
        check("Wrong-Passw0rd!", "Next-Root-Passw0rd!")
            .err()
            .map(|e| e.code()),
        Some("InvalidInput")
    );
    assert_eq!(
        check("Root-Passw0rd!", "short").err().map(|e| e.code()),
        Some("PasswordPolicyViolation")
    );
    let checked = check("Root-Passw0rd!", "Second-Root-Passw0rd!").unwrap();
    assert_eq!(t.v.store().transactions() - before, 3, "one read each");
    assert_eq!(t.v.store().group_commits(), writes);
    // The root password changes in between (another change went through): refused.
    t.v.change_password(
        &t.root,
        &ctx(),
        &pw("Root-Passw0rd!"),
        &pw("Third-Root-Passw0rd!"),
    )
    .unwrap();
    assert_eq!(finish(checked), Some("EntityTemporarilyUnmodifiable"));
    // The policy changes in between: refused as well.
    let checked = check("Third-Root-Passw0rd!", "Fourth-Root-Passw0rd!").unwrap();
    t.v.update_account_password_policy(&t.root, &ctx(), &PasswordPolicyUpdate::default())
        .unwrap();
    assert_eq!(finish(checked), Some("EntityTemporarilyUnmodifiable"));
    // Reuse prevention still holds through the operation, and with nothing in between the
    // change is written.
    remember_two(&t);
    assert_eq!(
        t.v.change_password(
            &t.root,
            &ctx(),
            &pw("Third-Root-Passw0rd!"),
            &pw("Root-Passw0rd!"),
        )
        .err()
        .map(|e| e.code()),
        Some("PasswordPolicyViolation")
    );
    let checked = check("Third-Root-Passw0rd!", "Fifth-Root-Passw0rd!").unwrap();
    t.v.finish_root_password_change(ACCT, checked).unwrap();
    let tx = t.v.store().read().unwrap();
    let stored = tx.root_password_hash(ACCT).unwrap().unwrap();
    drop(tx);
    assert!(
        t.v.hashes
            .verify(&pw("Fifth-Root-Passw0rd!"), &stored)
            .unwrap()
    );
}

#[test]
fn an_administrators_password_checked_before_a_change_is_refused() {
    let t = setup();
    remember_two(&t);
    user_with_password(&t, "alice", "first-Pass1");
    let n = name(NameKind::User, "alice").unwrap();
    let prepare = |new: &str| {
        t.v.prepare_user_password(&t.root, &ctx(), &n, "iam:UpdateLoginProfile", &pw(new))
    };
    let still = |p: &super::signin::PreparedPassword| {
        let tx = t.v.store().write().unwrap();
        let user = tx.user(ACCT, "alice").unwrap().unwrap();
        t.v.still_as_prepared(&tx, &user, p).map_err(|e| e.code())
    };
    // Checked (reuse prevention included) outside the write transaction.
    assert_eq!(
        prepare("first-Pass1").err().map(|e| e.code()),
        Some("PasswordPolicyViolation")
    );
    let prepared = prepare("second-Pass2").unwrap();
    assert_eq!(still(&prepared), Ok(()));
    // The password history it was checked against moves on: refused, retry.
    t.v.update_login_profile(&t.root, &ctx(), "alice", Some(&pw("other-Pass3")), None)
        .unwrap();
    assert_eq!(still(&prepared), Err("EntityTemporarilyUnmodifiable"));
    // The user is deleted and made again under the same name: another user, refused
    // (without reuse prevention, so only the user tells them apart).
    t.v.update_account_password_policy(&t.root, &ctx(), &PasswordPolicyUpdate::default())
        .unwrap();
    let prepared = prepare("fourth-Pass4").unwrap();
    assert_eq!(still(&prepared), Ok(()));
    t.v.delete_user(&t.root, &ctx(), "alice", true).unwrap();
    user_with_password(&t, "alice", "fifth-Pass5");
    assert_eq!(still(&prepared), Err("EntityTemporarilyUnmodifiable"));
    // Through the operation, with nothing in between, the new password is set.
    t.v.update_login_profile(&t.root, &ctx(), "alice", Some(&pw("sixth-Pass6")), None)
        .unwrap();
    t.v.sign_in(&acct(), "alice", &pw("sixth-Pass6"), None, None)
        .unwrap();
}

#[test]
fn a_required_change_at_sign_in_never_replaces_a_password_reset_made_meanwhile() {
    let t = setup();
    user_with_password(&t, "alice", "old-Pass1");
    t.v.update_login_profile(&t.root, &ctx(), "alice", None, Some(true))
        .unwrap();
    // Someone who knows the old password passed the checks; the administrator resets the
    // password before the sign-in's change is written.
    let old = pw("old-Pass1");
    let checked = t.v.check_sign_in(&acct(), "alice", &old, None).unwrap();
    t.v.update_login_profile(
        &t.root,
        &ctx(),
        "alice",
        Some(&pw("admin-Pass7")),
        Some(true),
    )
    .unwrap();
    assert_eq!(
        t.v.finish_sign_in(&acct(), checked, &old, Some(&pw("mine-Pass8")), false)
            .err()
            .map(|e| e.code()),
        Some("EntityTemporarilyUnmodifiable")
    );
    // The reset stands: the administrator's password (to be changed), not the other one.
    assert!(matches!(
        t.v.sign_in(&acct(), "alice", &pw("admin-Pass7"), None, None),
        Err(Error::PasswordChangeRequired(_))
    ));
    assert_eq!(
        t.v.sign_in(&acct(), "alice", &pw("mine-Pass8"), None, None)
            .unwrap_err(),
        Error::AuthenticationFailed
    );
    // Uninterrupted, the required change goes through.
    t.v.sign_in(
        &acct(),
        "alice",
        &pw("admin-Pass7"),
        None,
        Some(&pw("mine-Pass8")),
    )
    .unwrap();
    t.v.sign_in(&acct(), "alice", &pw("mine-Pass8"), None, None)
        .unwrap();
}

#[test]
fn every_failure_looks_the_same_and_costs_the_same() {
    let t = setup();
    user_with_password(&t, "alice", "right-Pass1");
    t.v.create_user(&t.root, &ctx(), "nopassword", None, None, &[])
        .unwrap();
    let pool = t.v.hash_pool();
    let mut costs = Vec::new();
    for (user, password) in [
        ("alice", "wrong-Pass1"),
        ("nobody", "right-Pass1"),
        ("nopassword", "right-Pass1"),
        ("bad name!", "right-Pass1"),
    ] {
        let before = pool.verifications();
        let e =
            t.v.sign_in(&acct(), user, &pw(password), None, None)
                .unwrap_err();
        assert_eq!(e, Error::AuthenticationFailed, "{user}");
        assert_eq!(e.to_string(), "authentication failed");
        costs.push(pool.verifications() - before);
    }
    let before = pool.verifications();
    t.v.sign_in(&acct(), "ALICE", &pw("right-Pass1"), None, None)
        .unwrap();
    costs.push(pool.verifications() - before);
    assert_eq!(costs, vec![1, 1, 1, 1, 1]);
}

#[test]
fn lockout_threshold_window_period_and_unlock() {
    let t = setup();
    t.v.set_lockout_settings(
        &t.root,
        LockoutSettings {
            threshold: 3,
            window_secs: 900,
            lock_period_secs: 900,
        },
    )
    .unwrap();
    user_with_password(&t, "alice", "right-Pass1");
    for _ in 0..3 {
        assert!(
            t.v.sign_in(&acct(), "alice", &pw("wrong"), None, None)
                .is_err()
        );
    }
    // Locked now, even with the right password, and by any case variant of the name.
    let real = t.v.hash_pool().real_verifications();
    for name in ["alice", "ALICE", "Alice"] {
        assert_eq!(
            t.v.sign_in(&acct(), name, &pw("right-Pass1"), None, None)
                .unwrap_err(),
            Error::AuthenticationFailed
        );
    }
    assert_eq!(
        t.v.hash_pool().real_verifications(),
        real,
        "a locked name never reaches verification"
    );
    t.clock.advance(Duration::minutes(16));
    t.v.sign_in(&acct(), "alice", &pw("right-Pass1"), None, None)
        .unwrap();
    // The window: failures spread beyond 15 minutes do not add up.
    for _ in 0..2 {
        assert!(
            t.v.sign_in(&acct(), "alice", &pw("wrong"), None, None)
                .is_err()
        );
    }
    t.clock.advance(Duration::minutes(16));
    for _ in 0..2 {
        assert!(
            t.v.sign_in(&acct(), "alice", &pw("wrong"), None, None)
                .is_err()
        );
    }
    t.v.sign_in(&acct(), "alice", &pw("right-Pass1"), None, None)
        .unwrap();
    // Unlock by an administrator.
    for _ in 0..4 {
        let _ = t.v.sign_in(&acct(), "alice", &pw("wrong"), None, None);
    }
    assert!(
        t.v.sign_in(&acct(), "alice", &pw("right-Pass1"), None, None)
            .is_err()
    );
    assert!(t.v.unlock_user(&t.root, &ctx(), "alice").unwrap());
    t.v.sign_in(&acct(), "alice", &pw("right-Pass1"), None, None)
        .unwrap();
}

#[test]
fn parallel_failures_never_pass_the_threshold() {
    let t = setup();
    t.v.set_lockout_settings(
        &t.root,
        LockoutSettings {
            threshold: 10,
            window_secs: 900,
            lock_period_secs: 900,
        },
    )
    .unwrap();
    user_with_password(&t, "alice", "right-Pass1");
    let v = Arc::new(Vault::open(&t.dir, env(&t.clock, 99)).unwrap());
    let real_before = v.hash_pool().real_verifications();
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let v = Arc::clone(&v);
            std::thread::spawn(move || {
                let name = if i % 2 == 0 { "alice" } else { "ALICE" };
                v.sign_in(&acct(), name, &pw("wrong-guess"), None, None)
                    .unwrap_err()
            })
        })
        .collect();
    for th in threads {
        assert_eq!(th.join().unwrap(), Error::AuthenticationFailed);
    }
    let reached = v.hash_pool().real_verifications() - real_before;
    assert!(reached <= 10, "{reached} attempts reached verification");
    assert_eq!(
        v.hash_pool().verifications(),
        50,
        "every attempt did the same work"
    );
}

fn enable_mfa(t: &T, user: &str) -> (String, Vec<u8>) {
    let d =
        t.v.create_virtual_mfa_device(&t.root, &ctx(), &format!("{user}-phone"), None)
            .unwrap();
    let seed = d.seed.expose().to_vec();
    let s = totp::step_of(t.clock.now());
    let c1 = totp::code_at(&seed, s - 1, 6).unwrap();
    let c2 = totp::code_at(&seed, s, 6).unwrap();
    assert_eq!(
        t.v.enable_mfa_device(&t.root, &ctx(), Some(user), &d.serial_number, &c1, &c1)
            .unwrap_err()
            .code(),
        "InvalidAuthenticationCode"
    );
    t.v.enable_mfa_device(&t.root, &ctx(), Some(user), &d.serial_number, &c1, &c2)
        .unwrap();
    (d.serial_number.clone(), seed)
}

#[test]
fn mfa_is_required_once_enabled_and_codes_never_replay() {
    let t = setup();
    user_with_password(&t, "alice", "right-Pass1");
    let (serial, seed) = enable_mfa(&t, "alice");
    assert_eq!(
        t.v.list_mfa_devices(&t.root, &ctx(), Some("alice"))
            .unwrap()[0]
            .serial_number,
        serial
    );
    // Without a code: refused.
    assert!(
        t.v.sign_in(&acct(), "alice", &pw("right-Pass1"), None, None)
            .is_err()
    );
    // The enabling step is spent already: move on one step.
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    let s =
        t.v.sign_in(&acct(), "alice", &pw("right-Pass1"), Some(&code), None)
            .unwrap();
    assert!(s.mfa_present);
    assert_eq!(s.mfa_time, Some(t.clock.now()));
    // Replays, also with whitespace, are refused.
    for variant in [code.clone(), format!("{code} "), format!(" {code}\n")] {
        assert_eq!(
            t.v.sign_in(&acct(), "alice", &pw("right-Pass1"), Some(&variant), None)
                .unwrap_err(),
            Error::AuthenticationFailed
        );
    }
    // A restart does not reopen the window: a fresh Vault on the same files.
    let again = Vault::open(&t.dir, env(&t.clock, 5)).unwrap();
    assert!(
        again
            .sign_in(&acct(), "alice", &pw("right-Pass1"), Some(&code), None)
            .is_err()
    );
    // Deleting an active device is a conflict; deactivate first.
    assert_eq!(
        t.v.delete_virtual_mfa_device(&t.root, &ctx(), &serial)
            .unwrap_err()
            .code(),
        "DeleteConflict"
    );
    t.v.deactivate_mfa_device(&t.root, &ctx(), Some("alice"), &serial)
        .unwrap();
    t.v.delete_virtual_mfa_device(&t.root, &ctx(), &serial)
        .unwrap();
    t.clock.advance(Duration::seconds(30));
    t.v.sign_in(&acct(), "alice", &pw("right-Pass1"), None, None)
        .unwrap();
}

/// The lockout row of a canonical name, read from the store.
fn failures(t: &T, canon: &str) -> u32 {
    t.v.store()
        .read()
        .unwrap()
        .lockout(ACCT, canon)
        .unwrap()
        .failures
}

#[test]
fn two_sign_ins_past_their_checks_with_one_code_let_one_in() {
    // The interleaving the parallel test can only hope for, made certain: both sign-ins
    // read the device (and matched the code) before either consumed its step.
    let t = setup();
    user_with_password(&t, "alice", "right-Pass1");
    let (_, seed) = enable_mfa(&t, "alice");
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    let right = pw("right-Pass1");
    let first =
        t.v.check_sign_in(&acct(), "alice", &right, Some(&code))
            .unwrap();
    let second =
        t.v.check_sign_in(&acct(), "alice", &right, Some(&code))
            .unwrap();
    assert_eq!(failures(&t, "alice"), 2, "both attempts reserved");
    let s =
        t.v.finish_sign_in(&acct(), first, &right, None, false)
            .unwrap();
    assert!(s.mfa_present);
    assert_eq!(failures(&t, "alice"), 0);
    assert_eq!(
        t.v.finish_sign_in(&acct(), second, &right, None, false)
            .unwrap_err(),
        Error::AuthenticationFailed,
        "one code signed in twice"
    );
    // The loser wrote nothing: its reserved attempt was its only trace, and the success
    // had already reset that counter.
    assert_eq!(failures(&t, "alice"), 0);
    // The same with the loser first to finish: the winner is whoever commits first.
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    let first =
        t.v.check_sign_in(&acct(), "alice", &right, Some(&code))
            .unwrap();
    let second =
        t.v.check_sign_in(&acct(), "alice", &right, Some(&code))
            .unwrap();
    t.v.finish_sign_in(&acct(), second, &right, None, false)
        .unwrap();
    assert_eq!(
        t.v.finish_sign_in(&acct(), first, &right, None, false)
            .unwrap_err(),
        Error::AuthenticationFailed
    );
}

/// What the login endpoint does around a sign-in: an audit scope, then its record.
/// Whether the session is MFA-authenticated, on success.
fn login(v: &Vault, code: &str, duration: Option<i64>) -> Result<bool> {
    let g = audit_begin(AuditContext {
        request_id: "req-login".into(),
        account: ACCT.into(),
        principal: format!("arn:aws:iam::{ACCT}:user/alice"),
        action: "signin:ConsoleLogin".into(),
        source_ip: "192.0.2.1".into(),
        user_agent: "unit-test".into(),
        credential: "password+mfa".into(),
    });
    let r = v.sign_in_session(
        &acct(),
        "alice",
        &pw("right-Pass1"),
        Some(code),
        None,
        duration,
    );
    let msg = r
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    let outcome = match &r {
        Ok(_) => AuditOutcome::Allowed,
        Err(e) => AuditOutcome::of(e, &msg),
    };
    v.audit_finish(g, outcome).unwrap();
    r.map(|s| s.claims.mfa_time.is_some())
}

#[test]
fn a_sign_in_session_records_its_success_in_the_sign_in_transaction() {
    let t = setup();
    user_with_password(&t, "alice", "right-Pass1");
    let (_, seed) = enable_mfa(&t, "alice");
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    let (batches, _) = t.v.audit_group_commits();
    let records = t.v.audit_verify().unwrap().records;
    assert!(login(&t.v, &code, None).unwrap(), "an MFA session");
    // One record, allowed, and not through the audit writer: it was in the success
    // transaction, which the scope's end then knew.
    let last = t.v.audit_tail(1).unwrap().remove(0);
    assert_eq!(
        (
            last.action.as_str(),
            last.decision.as_str(),
            last.credential.as_str()
        ),
        ("signin:ConsoleLogin", "allowed", "password+mfa")
    );
    assert_eq!(t.v.audit_verify().unwrap().records, records + 1);
    assert_eq!(t.v.audit_group_commits().0, batches);
    // A replay fails and gets its failure record (through the writer), nothing else.
    assert_eq!(
        login(&t.v, &code, None).unwrap_err(),
        Error::AuthenticationFailed
    );
    let last = t.v.audit_tail(1).unwrap().remove(0);
    assert_eq!(last.decision, "failed");
    assert_eq!(t.v.audit_verify().unwrap().records, records + 2);
    // A malformed duration is refused before any work: no attempt reserved, no hash.
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    let (verified, counted) = (t.v.hash_pool().verifications(), failures(&t, "alice"));
    assert_eq!(
        login(&t.v, &code, Some(60)).unwrap_err().code(),
        "ValidationError"
    );
    assert_eq!(t.v.hash_pool().verifications(), verified);
    assert_eq!(failures(&t, "alice"), counted);
    // The code is still good: the refused request did not spend it.
    login(&t.v, &code, Some(900)).unwrap();
    // A password change due: the session minted on the way is dropped, and the record
    // says why the sign-in failed.
    t.v.update_login_profile(&t.root, &ctx(), "alice", None, Some(true))
        .unwrap();
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    assert_eq!(
        login(&t.v, &code, None).unwrap_err().code(),
        "PasswordChangeRequired"
    );
    let last = t.v.audit_tail(1).unwrap().remove(0);
    assert_eq!(last.decision, "failed");
    assert!(t.v.audit_verify().unwrap().ok());
}

#[test]
fn parallel_sign_ins_with_one_code_let_exactly_one_in() {
    // The step is consumed in the success transaction: of many sign-ins racing with the
    // right password and the same code, exactly one gets in, every other one fails like
    // any wrong code, and afterwards the code is spent.
    let t = setup();
    t.v.set_lockout_settings(
        &t.root,
        LockoutSettings {
            threshold: 100,
            window_secs: 900,
            lock_period_secs: 900,
        },
    )
    .unwrap();
    user_with_password(&t, "alice", "right-Pass1");
    let (_, seed) = enable_mfa(&t, "alice");
    t.clock.advance(Duration::seconds(30));
    let step = totp::step_of(t.clock.now());
    let code = totp::code_at(&seed, step, 6).unwrap();
    let v = Arc::new(Vault::open(&t.dir, env(&t.clock, 42)).unwrap());
    for round in 0..3 {
        let gate = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (v, gate, code) = (Arc::clone(&v), Arc::clone(&gate), code.clone());
                std::thread::spawn(move || {
                    gate.wait();
                    v.sign_in(&acct(), "alice", &pw("right-Pass1"), Some(&code), None)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|h| h.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            ok,
            usize::from(round == 0),
            "round {round}: {ok} sign-ins got in"
        );
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(r, &Error::AuthenticationFailed);
        }
    }
    let device =
        t.v.store()
            .read()
            .unwrap()
            .mfa_devices_for_user(&t.v.require_user_named(&t.root, "alice").unwrap().user_id);
    assert_eq!(device.unwrap()[0].last_step, Some(step));
    // The next step's code still works, once.
    t.clock.advance(Duration::seconds(30));
    let next = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    v.sign_in(&acct(), "alice", &pw("right-Pass1"), Some(&next), None)
        .unwrap();
    assert_eq!(failures(&t, "alice"), 0, "a success resets the counter");
}

#[test]
fn a_code_spent_on_a_refused_new_password_stays_spent() {
    // With a password change due, the code is checked before the new password: when the
    // new one fails the policy, the code is used up all the same, and the failure stays
    // counted.
    let t = setup();
    user_with_password(&t, "alice", "right-Pass1");
    let (_, seed) = enable_mfa(&t, "alice");
    t.v.update_login_profile(&t.root, &ctx(), "alice", None, Some(true))
        .unwrap();
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    let err =
        t.v.sign_in(
            &acct(),
            "alice",
            &pw("right-Pass1"),
            Some(&code),
            Some(&pw("short")),
        )
        .unwrap_err();
    assert_eq!(err.code(), "PasswordPolicyViolation");
    assert_eq!(failures(&t, "alice"), 1, "the attempt stays counted");
    assert_eq!(
        t.v.sign_in(
            &acct(),
            "alice",
            &pw("right-Pass1"),
            Some(&code),
            Some(&pw("good-New-Pass2")),
        )
        .unwrap_err(),
        Error::AuthenticationFailed,
        "the code was accepted twice"
    );
    // Without a new password the answer says a change is due, and also spends the code.
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    assert_eq!(
        t.v.sign_in(&acct(), "alice", &pw("right-Pass1"), Some(&code), None)
            .unwrap_err()
            .code(),
        "PasswordChangeRequired"
    );
    assert_eq!(failures(&t, "alice"), 0, "password and code were right");
    assert_eq!(
        t.v.sign_in(
            &acct(),
            "alice",
            &pw("right-Pass1"),
            Some(&code),
            Some(&pw("good-New-Pass2")),
        )
        .unwrap_err(),
        Error::AuthenticationFailed
    );
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    t.v.sign_in(
        &acct(),
        "alice",
        &pw("right-Pass1"),
        Some(&code),
        Some(&pw("good-New-Pass2")),
    )
    .unwrap();
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    t.v.sign_in(&acct(), "alice", &pw("good-New-Pass2"), Some(&code), None)
        .unwrap();
}

#[test]
fn at_most_eight_devices() {
    let t = setup();
    t.v.create_user(&t.root, &ctx(), "alice", None, None, &[])
        .unwrap();
    for i in 0..9 {
        let d =
            t.v.create_virtual_mfa_device(&t.root, &ctx(), &format!("dev{i}"), None)
                .unwrap();
        let seed = d.seed.expose().to_vec();
        let s = totp::step_of(t.clock.now());
        let r = t.v.enable_mfa_device(
            &t.root,
            &ctx(),
            Some("alice"),
            &d.serial_number,
            &totp::code_at(&seed, s - 1, 6).unwrap(),
            &totp::code_at(&seed, s, 6).unwrap(),
        );
        assert_eq!(r.is_ok(), i < 8, "device {i}");
    }
}

#[test]
fn expiry_forces_a_change_and_hard_expiry_needs_an_admin() {
    let t = setup();
    user_with_password(&t, "alice", "first-Pass1");
    t.v.update_account_password_policy(
        &t.root,
        &ctx(),
        &PasswordPolicyUpdate {
            max_password_age: Some(30),
            ..Default::default()
        },
    )
    .unwrap();
    t.clock.advance(Duration::days(31));
    assert_eq!(
        t.v.sign_in(&acct(), "alice", &pw("first-Pass1"), None, None)
            .unwrap_err()
            .code(),
        "PasswordChangeRequired"
    );
    // Wrong password on an expired account is still the generic failure.
    assert_eq!(
        t.v.sign_in(&acct(), "alice", &pw("nope"), None, None)
            .unwrap_err(),
        Error::AuthenticationFailed
    );
    t.v.sign_in(
        &acct(),
        "alice",
        &pw("first-Pass1"),
        None,
        Some(&pw("second-Pass2")),
    )
    .unwrap();
    t.v.sign_in(&acct(), "alice", &pw("second-Pass2"), None, None)
        .unwrap();
    t.v.update_account_password_policy(
        &t.root,
        &ctx(),
        &PasswordPolicyUpdate {
            max_password_age: Some(30),
            hard_expiry: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    t.clock.advance(Duration::days(31));
    assert_eq!(
        t.v.sign_in(
            &acct(),
            "alice",
            &pw("second-Pass2"),
            None,
            Some(&pw("third-Pass3"))
        )
        .unwrap_err()
        .code(),
        "PasswordChangeRequired"
    );
    t.v.update_login_profile(
        &t.root,
        &ctx(),
        "alice",
        Some(&pw("admin-Set3")),
        Some(true),
    )
    .unwrap();
    assert_eq!(
        t.v.sign_in(&acct(), "alice", &pw("admin-Set3"), None, None)
            .unwrap_err()
            .code(),
        "PasswordChangeRequired"
    );
    t.v.sign_in(
        &acct(),
        "alice",
        &pw("admin-Set3"),
        None,
        Some(&pw("mine-Pass4")),
    )
    .unwrap();
}

#[test]
fn outdated_hashes_are_upgraded_at_sign_in() {
    let mut t = setup();
    user_with_password(&t, "alice", "right-Pass1");
    let stronger = PasswordParams {
        m_cost: 128,
        ..cheap()
    };
    t.v.set_password_params(stronger);
    t.v.sign_in(&acct(), "alice", &pw("right-Pass1"), None, None)
        .unwrap();
    let tx = t.v.store().read().unwrap();
    let u = tx.user(ACCT, "alice").unwrap().unwrap();
    let p = tx.login_profile(&u.user_id).unwrap().unwrap();
    assert!(
        p.password_hash.starts_with("$argon2id$v=19$m=128,t=1,p=1$"),
        "{}",
        p.password_hash
    );
}

#[test]
fn a_rehash_at_sign_in_never_undoes_a_password_reset_made_meanwhile() {
    let mut t = setup();
    user_with_password(&t, "alice", "right-Pass1");
    t.v.set_password_params(PasswordParams {
        m_cost: 128,
        ..cheap()
    });
    // Alice's sign-in passed its checks with the old password; an administrator resets
    // the password before it finishes.
    let old = pw("right-Pass1");
    let checked = t.v.check_sign_in(&acct(), "alice", &old, None).unwrap();
    t.v.update_login_profile(
        &t.root,
        &ctx(),
        "alice",
        Some(&pw("reset-Pass2")),
        Some(true),
    )
    .unwrap();
    t.v.finish_sign_in(&acct(), checked, &old, None, false)
        .unwrap();
    // The reset stands: the old password no longer signs in, the new one must be changed.
    assert_eq!(
        t.v.sign_in(&acct(), "alice", &old, None, None).unwrap_err(),
        Error::AuthenticationFailed
    );
    assert!(matches!(
        t.v.sign_in(&acct(), "alice", &pw("reset-Pass2"), None, None),
        Err(Error::PasswordChangeRequired(_))
    ));
}

#[test]
fn the_database_never_holds_passwords_seeds_or_codes() {
    let t = setup();
    user_with_password(&t, "alice", "Very-Secret-Pass1");
    let (_, seed) = enable_mfa(&t, "alice");
    t.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&seed, totp::step_of(t.clock.now()), 6).unwrap();
    t.v.sign_in(
        &acct(),
        "alice",
        &pw("Very-Secret-Pass1"),
        Some(&code),
        None,
    )
    .unwrap();
    let mut raw = Vec::new();
    for f in ["vault.db", "vault.db-wal"] {
        if let Ok(b) = std::fs::read(t.dir.join(f)) {
            raw.extend(b);
        }
    }
    let has = |n: &[u8]| raw.windows(n.len()).any(|w| w == n);
    assert!(!has(b"Very-Secret-Pass1"));
    assert!(!has(b"Root-Passw0rd!"));
    assert!(!has(&seed));
    assert!(!has(totp::seed_base32(&crate::model::SecretBytes::new(
        seed.clone()
    ))
    .as_bytes()));
    assert!(!has(code.as_bytes()), "the code appears in the file");
}

#[test]
fn credential_report_and_doctor() {
    let t = setup();
    user_with_password(&t, "alice", "right-Pass1");
    assert_eq!(
        t.v.get_credential_report(&t.root, &ctx())
            .unwrap_err()
            .code(),
        "ReportNotPresent"
    );
    t.v.generate_credential_report(&t.root, &ctx(), false)
        .unwrap();
    let r = t.v.get_credential_report(&t.root, &ctx()).unwrap();
    let lines: Vec<&str> = r.content.lines().collect();
    assert!(lines[1].starts_with("<root_account>,arn:aws:iam::123456789012:root,"));
    assert!(lines.iter().any(
        |l| l.starts_with("alice,arn:aws:iam::123456789012:user/alice,")
            && l.contains(",true,no_information,")
    ));
    // Within four hours the stored report is reused.
    t.v.create_user(&t.root, &ctx(), "bob", None, None, &[])
        .unwrap();
    t.v.generate_credential_report(&t.root, &ctx(), false)
        .unwrap();
    assert!(
        !t.v.get_credential_report(&t.root, &ctx())
            .unwrap()
            .content
            .contains("\nbob,")
    );
    t.clock.advance(Duration::hours(5));
    t.v.generate_credential_report(&t.root, &ctx(), false)
        .unwrap();
    assert!(
        t.v.get_credential_report(&t.root, &ctx())
            .unwrap()
            .content
            .contains("\nbob,")
    );
    let ids: Vec<&str> =
        t.v.doctor(&t.root, &ctx())
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect();
    for id in [
        "root-mfa",
        "user-console-without-mfa",
        "password-policy-missing",
        "policy-allows-everything",
    ] {
        // policy-allows-everything: none yet (AdministratorAccess is vault-provided).
        if id == "policy-allows-everything" {
            assert!(!ids.contains(&id), "{ids:?}");
        } else {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
    }
}
