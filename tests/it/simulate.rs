//! `iamvault simulate` through the real binary.

use crate::support::Vault;

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"AllowEng","Effect":"Allow","Action":"iam:CreateUser","Resource":"arn:aws:iam::123456789012:user/eng/*"},
  {"Sid":"NoFromOutside","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;

#[test]
fn decisions_exit_codes_and_reasons() {
    let v = Vault::init();
    let p = v.file("p.json", POLICY);
    let base = [
        "simulate",
        "--policy-file",
        &p,
        "--action",
        "iam:CreateUser",
    ];
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        a.extend(["--output", "json"]);
        v.run(&a)
    };
    let ok = run(&[
        "--resource",
        "arn:aws:iam::123456789012:user/eng/bob",
        "--context",
        "aws:SourceIp=ip:10.1.2.3",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let j = ok.json();
    assert_eq!(j["decision"], "allowed");
    assert_eq!(j["matched_statements"][0]["statement"], "AllowEng");
    assert_eq!(j["matched_statements"][0]["policy_id"], "PolicyInputList.1");

    let deny = run(&[
        "--resource",
        "arn:aws:iam::123456789012:user/eng/bob",
        "--context",
        "aws:SourceIp=ip:192.0.2.1",
    ]);
    assert_eq!(deny.code, 2);
    let j = deny.json();
    assert_eq!(j["decision"], "explicitDeny");
    assert!(
        j["reason"]
            .as_str()
            .unwrap()
            .ends_with("with an explicit deny in an identity-based policy")
    );

    let implicit = run(&[
        "--resource",
        "arn:aws:iam::123456789012:user/ops/bob",
        "--context",
        "aws:SourceIp=ip:10.1.2.3",
    ]);
    assert_eq!(implicit.code, 2);
    let j = implicit.json();
    assert_eq!(j["decision"], "implicitDeny");
    assert_eq!(
        j["reason"],
        "User: arn:aws:iam::123456789012:user/simulated-user is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::123456789012:user/ops/bob because no identity-based policy allows the iam:CreateUser action"
    );
}

#[test]
fn stored_policies_of_a_user() {
    let v = Vault::init();
    v.run(&["user", "create", "alice"]).ok();
    v.run(&["group", "create", "ro"]).ok();
    v.run(&["group", "add-user", "ro", "alice"]).ok();
    v.run(&[
        "policy",
        "attach",
        "--group",
        "ro",
        "--policy-arn",
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    ])
    .ok();
    let r = v.run(&[
        "simulate",
        "--user",
        "alice",
        "--action",
        "iam:ListUsers",
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json()["matched_statements"][0]["policy_id"],
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    );
    let r = v.run(&[
        "simulate",
        "--user",
        "alice",
        "--action",
        "iam:CreateUser",
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 2);
    // A boundary given on the command line caps the stored policies.
    let b = v.file("b.json", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#);
    let r = v.run(&[
        "simulate",
        "--user",
        "alice",
        "--boundary-file",
        &b,
        "--action",
        "iam:ListUsers",
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.json()["reason"]
            .as_str()
            .unwrap()
            .contains("permissions boundary"),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_inputs_are_invalid_input() {
    let v = Vault::init();
    let bad = v.file(
        "bad.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}"#,
    );
    let r = v.run(&["simulate", "--policy-file", &bad, "--action", "iam:GetUser"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .starts_with("error: MalformedPolicyDocument: PolicyInputList.1: "),
        "{}",
        r.stderr
    );
    let r = v.run(&[
        "simulate",
        "--action",
        "iam:GetUser",
        "--context",
        "k=numeric:abc",
    ]);
    assert_eq!(r.code, 3);
}
