//! The real `iamvault` binary against real data directories.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Vault, contains, run_in};

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_reports_fields_and_sets_modes() {
    let v = Vault::empty();
    let out = v.run(&["init", "--output", "json"]).ok().json();
    let acct = out["account_id"].as_str().unwrap();
    assert_eq!(acct.len(), 12);
    assert!(acct.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(out["root_arn"], format!("arn:aws:iam::{acct}:root"));
    assert!(out["root_password"].as_str().unwrap().len() >= 20);
    assert_eq!(out["admin_user"], "admin");
    let key_id = out["admin_access_key_id"].as_str().unwrap();
    assert!(key_id.starts_with("AKIA") && key_id.len() == 20);
    let secret = out["admin_secret_access_key"].as_str().unwrap();
    assert_eq!(secret.len(), 40);
    let cred = std::path::PathBuf::from(out["credentials_file"].as_str().unwrap());
    assert_eq!(cred, v.dir.join("bootstrap-credentials"));
    let body = std::fs::read_to_string(&cred).unwrap();
    assert!(body.contains("[iamvault-admin]"));
    assert!(body.contains(&format!("aws_access_key_id = {key_id}")));
    assert!(body.contains(&format!("aws_secret_access_key = {secret}")));
    assert_eq!(mode(&v.dir), 0o700);
    assert_eq!(mode(&v.dir.join("master.key")), 0o600);
    assert_eq!(mode(&cred), 0o600);
    assert_eq!(mode(&v.dir.join("vault.db")), 0o600);
    // The admin has AdministratorAccess.
    let attached = v.json(&["policy", "list-attached", "--user", "admin"]);
    assert_eq!(
        attached["AttachedPolicies"][0]["PolicyArn"],
        "arn:aws:iam::aws:policy/AdministratorAccess"
    );
}

#[test]
fn init_with_given_account_and_password_file() {
    let v = Vault::empty();
    let pw = v.dir.parent().unwrap().join("pw");
    std::fs::write(&pw, "a-Long-root-passw0rd!\n").unwrap();
    let out = v
        .run(&[
            "init",
            "--account-id",
            "111122223333",
            "--root-password-file",
            pw.to_str().unwrap(),
            "--output",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(out["account_id"], "111122223333");
    // A given password is never echoed.
    assert!(out.get("root_password").is_none());
    assert!(!contains(&v.raw_db(), b"a-Long-root-passw0rd!"));
}

#[test]
fn init_on_an_existing_vault_fails_and_changes_nothing() {
    let v = Vault::init();
    let before: Vec<(String, Vec<u8>)> = ["master.key", "bootstrap-credentials", "vault.db"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(v.dir.join(f)).unwrap()))
        .collect();
    let r = v.run(&["init", "--output", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: VaultExists: "), "{}", r.stderr);
    assert!(r.stderr.contains("\nhint: "), "{}", r.stderr);
    for (f, bytes) in before {
        assert_eq!(std::fs::read(v.dir.join(&f)).unwrap(), bytes, "{f} changed");
    }
}

#[test]
fn commands_without_a_vault_say_so() {
    let v = Vault::empty();
    let r = v.run(&["user", "list"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no vault in"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn everything_survives_a_restart() {
    let v = Vault::init();
    let pol = v.file("p.json", DOC);
    let trust = v.file("t.json", TRUST);
    v.run(&[
        "user",
        "create",
        "alice",
        "--path",
        "/eng/",
        "--tag",
        "team=platform",
    ])
    .ok();
    v.run(&["group", "create", "devs"]).ok();
    v.run(&["group", "add-user", "devs", "alice"]).ok();
    v.run(&[
        "role",
        "create",
        "web",
        "--trust-policy",
        &trust,
        "--max-session-duration",
        "7200",
    ])
    .ok();
    v.run(&["instance-profile", "create", "web-hosts"]).ok();
    v.run(&["instance-profile", "add-role", "web-hosts", "web"])
        .ok();
    let p = v.json(&["policy", "create", "get-all", "--document", &pol]);
    let arn = p["Policy"]["Arn"].as_str().unwrap().to_owned();
    assert_eq!(arn, "arn:aws:iam::123456789012:policy/get-all");
    v.run(&["policy", "attach", "--group", "devs", "--policy-arn", &arn])
        .ok();
    v.run(&[
        "policy",
        "put-inline",
        "--role",
        "web",
        "--name",
        "inline1",
        "--document",
        &format!("file://{pol}"),
    ])
    .ok();
    let key = v.json(&["access-key", "create", "--user", "alice"]);
    let key_id = key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned();

    // Every command above was its own process; these read it all back.
    let users = v.json(&["user", "list"]);
    let names: Vec<&str> = users["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "alice"]);
    let alice = v.json(&["user", "get", "alice"]);
    assert_eq!(
        alice["User"]["Arn"],
        "arn:aws:iam::123456789012:user/eng/alice"
    );
    assert_eq!(alice["User"]["Tags"][0]["Key"], "team");
    let group = v.json(&["group", "get", "devs"]);
    assert_eq!(group["Users"][0]["UserName"], "alice");
    assert_eq!(
        v.json(&["role", "get", "web"])["Role"]["MaxSessionDuration"],
        7200
    );
    assert_eq!(
        v.json(&["instance-profile", "get", "web-hosts"])["InstanceProfile"]["Roles"][0]["RoleName"],
        "web"
    );
    assert_eq!(
        v.json(&["policy", "list-attached", "--group", "devs"])["AttachedPolicies"][0]["PolicyArn"],
        arn
    );
    assert_eq!(
        v.json(&["policy", "list-inline", "--role", "web"])["PolicyNames"][0],
        "inline1"
    );
    assert_eq!(
        v.json(&["policy", "get", &arn])["Policy"]["AttachmentCount"],
        1
    );
    let keys = v.json(&["access-key", "list", "--user", "alice"]);
    assert_eq!(keys["AccessKeyMetadata"][0]["AccessKeyId"], key_id.as_str());
    assert!(
        keys["AccessKeyMetadata"][0]
            .get("SecretAccessKey")
            .is_none()
    );
    let lu = v.json(&["access-key", "last-used", &key_id]);
    assert_eq!(lu["AccessKeyLastUsed"]["ServiceName"], "N/A");
}

#[test]
fn secret_access_keys_never_rest_in_plaintext() {
    let v = Vault::init();
    v.run(&["user", "create", "alice"]).ok();
    let mut secrets = Vec::new();
    for _ in 0..2 {
        let k = v.json(&["access-key", "create", "--user", "alice"]);
        secrets.push(
            k["AccessKey"]["SecretAccessKey"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // The admin key from init too.
    let cred = std::fs::read_to_string(v.dir.join("bootstrap-credentials")).unwrap();
    let admin_secret = cred
        .lines()
        .find_map(|l| l.strip_prefix("aws_secret_access_key = "))
        .unwrap()
        .to_owned();
    secrets.push(admin_secret);
    let raw = v.raw_db();
    assert!(raw.len() > 10_000);
    for s in &secrets {
        assert_eq!(s.len(), 40);
        assert!(
            !contains(&raw, s.as_bytes()),
            "secret found in the database file"
        );
        // Not even a long fragment of it.
        assert!(!contains(&raw, &s.as_bytes()[..16]));
    }
    // A third key is refused with LimitExceeded.
    let r = v.run(&["access-key", "create", "--user", "alice"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("error: LimitExceeded: "),
        "{}",
        r.stderr
    );
}

/// Every row of every table except the audit log's, in a stable order.
fn vault_state(v: &Vault) -> Vec<String> {
    let c = rusqlite::Connection::open(v.dir.join("vault.db")).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'audit%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for t in tables {
        let mut st = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        out.extend(rows.into_iter().map(|r| format!("{t}: {r}")));
    }
    out
}

/// Runs a command that must fail, and checks the code, exit status, that no row of the
/// vault changed, and that exactly one audit record (the failure) was added.
fn fails_unchanged(v: &Vault, args: &[&str], code: &str, exit: i32) {
    let before = vault_state(v);
    let audit_before = v.json(&["audit", "verify"])["records"].as_i64().unwrap();
    let r = v.run(args);
    assert_eq!(r.code, exit, "{args:?}: {}", r.stderr);
    assert!(
        r.stderr.starts_with(&format!("error: {code}: ")),
        "{args:?}: {}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{args:?} printed {}", r.stdout);
    assert!(vault_state(v) == before, "{args:?} changed the database");
    let audit = v.json(&["audit", "verify"]);
    assert_eq!(audit["ok"], true);
    // The failed command's record, plus the first `audit verify`'s own record.
    assert_eq!(
        audit["records"].as_i64().unwrap(),
        audit_before + 2,
        "{args:?} did not leave exactly one audit record"
    );
}

#[test]
fn bad_input_fails_with_the_aws_code_and_changes_nothing() {
    let v = Vault::init();
    v.run(&["user", "create", "alice"]).ok();
    v.run(&["group", "create", "devs"]).ok();
    let trust = v.file("t.json", TRUST);
    v.run(&["role", "create", "web", "--trust-policy", &trust])
        .ok();
    let long64 = "a".repeat(65);
    let big = v.file(
        "big.json",
        &format!(r#"{{"Statement":[],"Id":"{}"}}"#, "x".repeat(7000)),
    );
    let bad_json = v.file("bad.json", r#"{"Statement": ["#);
    let big_trust = v.file(
        "bt.json",
        &format!(r#"{{"Statement":[],"Id":"{}"}}"#, "x".repeat(2100)),
    );
    fails_unchanged(&v, &["user", "create", "Alice"], "EntityAlreadyExists", 1);
    fails_unchanged(
        &v,
        &["user", "create", "ALICE", "--path", "/x/"],
        "EntityAlreadyExists",
        1,
    );
    fails_unchanged(&v, &["group", "create", "DEVS"], "EntityAlreadyExists", 1);
    fails_unchanged(
        &v,
        &["role", "create", "Web", "--trust-policy", &trust],
        "EntityAlreadyExists",
        1,
    );
    fails_unchanged(&v, &["user", "create", "bad name"], "ValidationError", 3);
    fails_unchanged(&v, &["user", "create", "a/b"], "ValidationError", 3);
    fails_unchanged(&v, &["user", "create", &long64], "ValidationError", 3);
    fails_unchanged(
        &v,
        &["user", "create", "bob", "--path", "no-slashes"],
        "ValidationError",
        3,
    );
    fails_unchanged(
        &v,
        &["user", "create", "bob", "--tag", "aws:x=1"],
        "InvalidInput",
        3,
    );
    fails_unchanged(
        &v,
        &["policy", "create", "big", "--document", &big],
        "LimitExceeded",
        1,
    );
    fails_unchanged(
        &v,
        &["policy", "create", "bad", "--document", &bad_json],
        "MalformedPolicyDocument",
        3,
    );
    fails_unchanged(
        &v,
        &["role", "update-trust", "web", "--trust-policy", &big_trust],
        "LimitExceeded",
        1,
    );
    fails_unchanged(
        &v,
        &["role", "update", "web", "--max-session-duration", "60"],
        "ValidationError",
        3,
    );
    fails_unchanged(&v, &["user", "get", "nobody"], "NoSuchEntity", 1);
    fails_unchanged(
        &v,
        &[
            "access-key",
            "update",
            "--user",
            "alice",
            "AKIAAAAAAAAAAAAAAAAA",
            "--status",
            "Active",
        ],
        "NoSuchEntity",
        1,
    );
    // A delete with dependents is refused whole.
    v.run(&["group", "add-user", "devs", "alice"]).ok();
    fails_unchanged(&v, &["user", "delete", "alice"], "DeleteConflict", 1);
    // Usage errors are invalid input too.
    let r = v.run(&["user", "create"]);
    assert_eq!(r.code, 3);
}

#[test]
fn force_delete_removes_dependents_in_one_step() {
    let v = Vault::init();
    v.run(&["user", "create", "alice"]).ok();
    v.run(&["group", "create", "devs"]).ok();
    v.run(&["group", "add-user", "devs", "alice"]).ok();
    v.run(&["access-key", "create", "--user", "alice"]).ok();
    v.run(&[
        "policy",
        "attach",
        "--user",
        "alice",
        "--policy-arn",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    ])
    .ok();
    let r = v.run(&["user", "delete", "alice"]);
    assert!(
        r.stderr
            .contains("hint: remove the dependents first, or pass --force"),
        "{}",
        r.stderr
    );
    v.run(&["user", "delete", "alice", "--force"]).ok();
    assert_eq!(
        v.json(&["group", "get", "devs"])["Users"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        v.json(&["policy", "get", "arn:aws:iam::aws:policy/ReadOnlyAccess"])["Policy"]["AttachmentCount"],
        0
    );
}

#[test]
fn json_output_is_exactly_one_document() {
    let v = Vault::init();
    for args in [
        vec!["user", "list"],
        vec!["user", "create", "zed"],
        vec!["user", "delete", "zed"],
        vec!["policy", "list", "--scope", "AWS"],
    ] {
        let mut a = args.clone();
        a.extend(["--output", "json"]);
        let r = v.run(&a).ok();
        let _: serde_json::Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", r.stdout));
    }
}

#[test]
fn help_reads_well() {
    let dir = std::path::Path::new("/nonexistent");
    let top = run_in(dir, &["--help"]).ok();
    for group in [
        "init",
        "user",
        "group",
        "role",
        "instance-profile",
        "policy",
        "access-key",
    ] {
        assert!(top.stdout.contains(group), "--help lacks {group}");
    }
    let create = run_in(dir, &["user", "create", "--help"]).ok();
    assert!(create.stdout.contains("Example:"), "{}", create.stdout);
    assert!(
        create.stdout.contains("iamvault user create alice"),
        "{}",
        create.stdout
    );
}

#[test]
fn resource_policies_put_get_list_delete_and_validate() {
    let v = Vault::init();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
    let f = v.file("rp.json", doc);
    let put = v.json(&[
        "resource-policy",
        "put",
        "--resource-arn",
        "arn:aws:s3:::reports",
        "--document",
        &f,
    ]);
    let owner = put["ResourcePolicy"]["AccountId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(owner.len(), 12);
    let got = v.json(&[
        "resource-policy",
        "get",
        "--resource-arn",
        "arn:aws:s3:::reports",
    ]);
    assert_eq!(got["ResourcePolicy"]["Policy"], doc);
    let list = v.json(&["resource-policy", "list"]);
    assert_eq!(list["ResourcePolicies"].as_array().unwrap().len(), 1);

    // Bad input: clear errors, nothing stored.
    let no_principal = v.file(
        "np.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    for (arn, file, code) in [
        (
            "arn:aws:s3:::other",
            no_principal.as_str(),
            "MalformedPolicyDocument",
        ),
        ("arn:aws:s3:::b*", f.as_str(), "ValidationError"),
        (
            "arn:aws:iam::123456789012:role/x",
            f.as_str(),
            "InvalidInput",
        ),
        ("not-an-arn", f.as_str(), "ValidationError"),
    ] {
        let r = v.run(&[
            "resource-policy",
            "put",
            "--resource-arn",
            arn,
            "--document",
            file,
        ]);
        assert_ne!(r.code, 0, "{arn}");
        assert!(r.stderr.contains(code), "{arn}: {}", r.stderr);
    }
    let list = v.json(&["resource-policy", "list"]);
    assert_eq!(list["ResourcePolicies"].as_array().unwrap().len(), 1);

    // Another account may not put a policy inside this tree.
    v.run(&["account", "create", "--account-id", "210987654321"])
        .ok();
    let r = v.run(&[
        "--as-account",
        "210987654321",
        "resource-policy",
        "put",
        "--resource-arn",
        "arn:aws:s3:::reports/theirs",
        "--document",
        &f,
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains(&owner));

    v.run(&[
        "resource-policy",
        "delete",
        "--resource-arn",
        "arn:aws:s3:::reports",
    ])
    .ok();
    let r = v.run(&[
        "resource-policy",
        "get",
        "--resource-arn",
        "arn:aws:s3:::reports",
    ]);
    assert!(r.stderr.contains("NoSuchEntity"));
}
