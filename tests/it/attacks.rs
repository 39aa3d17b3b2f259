//! The attack suite: one regression test per class of vulnerability seen in comparable
//! systems, each against a real `iamvault serve` over loopback, with requests built and
//! signed by hand (and altered after signing where the attack needs it). Every test has a
//! positive control, so a refusal cannot pass merely because nothing works.
//!
//! `docs/security.md` ("Attack suite") maps each class to its test here and to the unit
//! tests that pin the same defence below the wire.

use base64::Engine as _;
use iamvault::client::Credentials;
use iamvault::model::SecretString;
use iamvault::sigv4::{self, CanonicalOptions, OwnedRequest, PayloadHash, Scope};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::wire::{ACCOUNT, Live, Resp, allow, key_creds, now, session_creds};

const TRUST_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

/// `Action` on the caller's own user only (`${aws:username}`).
fn on_self(actions: &[&str]) -> String {
    allow(actions, "arn:aws:iam::123456789012:user/${aws:username}")
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn names(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x[field].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts the request did not succeed (any 4xx).
fn not_ok(r: &Resp, what: &str) {
    assert!(
        (400..500).contains(&r.status),
        "{what}: expected a refusal, got {}: {}",
        r.status,
        r.body
    );
}

fn b32_decode(s: &str) -> Vec<u8> {
    let (mut bits, mut n, mut out) = (0u64, 0u32, Vec::new());
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

/// Gives `user` a virtual MFA device over the wire and enables it; returns the serial and
/// the seed.
pub(crate) fn enable_mfa(s: &Live, user: &str) -> (String, Vec<u8>, String) {
    let dev = s.admin(
        "CreateVirtualMFADevice",
        &[("VirtualMFADeviceName", &format!("{user}-phone"))],
    );
    let serial = dev["VirtualMFADevice"]["SerialNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    // A blob on the wire: base64 of the base32 text, as boto3 decodes it.
    let blob = dev["VirtualMFADevice"]["Base32StringSeed"]
        .as_str()
        .unwrap();
    let b32 = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(blob)
            .unwrap(),
    )
    .unwrap();
    let seed = b32_decode(&b32);
    let step = iamvault::auth::totp::step_of(now());
    let c1 = iamvault::auth::totp::code_at(&seed, step - 1, 6).unwrap();
    let c2 = iamvault::auth::totp::code_at(&seed, step, 6).unwrap();
    s.admin(
        "EnableMFADevice",
        &[
            ("UserName", user),
            ("SerialNumber", &serial),
            ("AuthenticationCode1", &c1),
            ("AuthenticationCode2", &c2),
        ],
    );
    (serial, seed, b32)
}

// ---------------------------------------------------------------------------------------
// A derived credential or session editing its own policy or exceeding its parent.
// ---------------------------------------------------------------------------------------

#[test]
fn derived_credentials_never_edit_their_own_policy_or_exceed_their_parent() {
    let s = Live::start();
    s.admin(
        "CreateRole",
        &[
            ("RoleName", "worker"),
            ("AssumeRolePolicyDocument", TRUST_ACCOUNT),
        ],
    );
    s.admin(
        "PutRolePolicy",
        &[
            ("RoleName", "worker"),
            ("PolicyName", "all"),
            ("PolicyDocument", &allow(&["iam:*", "sts:*"], "*")),
        ],
    );
    s.admin(
        "CreateRole",
        &[
            ("RoleName", "reader"),
            ("AssumeRolePolicyDocument", TRUST_ACCOUNT),
        ],
    );
    s.admin(
        "PutRolePolicy",
        &[
            ("RoleName", "reader"),
            ("PolicyName", "get"),
            ("PolicyDocument", &allow(&["iam:GetRole"], "*")),
        ],
    );
    let dev = s.user("dev", Some(&allow(&["sts:AssumeRole"], "*")));

    // 1. A powerful role narrowed by a session policy: the session cannot edit its own
    //    role, attach to it, rewrite its trust, or chain back into it to drop the policy.
    let narrow = allow(&["iam:GetRole", "iam:ListRolePolicies"], "*");
    let sess = s.assume(
        &dev,
        &[
            ("RoleArn", &role_arn("worker")),
            ("RoleSessionName", "narrowed"),
            ("Policy", &narrow),
        ],
    );
    s.call(&sess, "GetRole", &[("RoleName", "worker")])
        .result("GetRole"); // control: the session works
    let star = allow(&["*"], "*");
    let worker_arn = role_arn("worker");
    let attempts: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "PutRolePolicy",
            vec![
                ("RoleName", "worker"),
                ("PolicyName", "escalate"),
                ("PolicyDocument", &star),
            ],
        ),
        (
            "AttachRolePolicy",
            vec![
                ("RoleName", "worker"),
                ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
            ],
        ),
        (
            "UpdateAssumeRolePolicy",
            vec![("RoleName", "worker"), ("PolicyDocument", TRUST_ACCOUNT)],
        ),
        (
            "DeleteRolePolicy",
            vec![("RoleName", "worker"), ("PolicyName", "all")],
        ),
        ("CreateUser", vec![("UserName", "sneaky")]),
        (
            "AssumeRole",
            vec![
                ("RoleArn", worker_arn.as_str()),
                ("RoleSessionName", "unnarrowed"),
            ],
        ),
    ];
    for (action, params) in &attempts {
        s.call(&sess, action, params).refused(403, "AccessDenied");
    }
    let pols = s.admin("ListRolePolicies", &[("RoleName", "worker")]);
    assert_eq!(pols["PolicyNames"], json!(["all"]), "the role was edited");
    let attached = s.admin("ListAttachedRolePolicies", &[("RoleName", "worker")]);
    assert!(names(&attached, "AttachedPolicies", "PolicyArn").is_empty());

    // 2. A session policy cannot widen a narrow role.
    let wide = s.assume(
        &dev,
        &[
            ("RoleArn", &role_arn("reader")),
            ("RoleSessionName", "widened"),
            ("Policy", &star),
        ],
    );
    s.call(&wide, "GetRole", &[("RoleName", "worker")])
        .result("GetRole");
    s.call(&wide, "ListUsers", &[]).refused(403, "AccessDenied");
    s.call(
        &wide,
        "PutRolePolicy",
        &[
            ("RoleName", "reader"),
            ("PolicyName", "more"),
            ("PolicyDocument", &star),
        ],
    )
    .refused(403, "AccessDenied");
    s.call(
        &wide,
        "AssumeRole",
        &[("RoleArn", &role_arn("worker")), ("RoleSessionName", "hop")],
    )
    .refused(403, "AccessDenied");

    // 3. GetSessionToken credentials without MFA, even an administrator's: no IAM at all,
    //    no further issuance, including on the user's own entity.
    let gst = session_creds(&s.admin("GetSessionToken", &[]));
    let me = s.call(&gst, "GetCallerIdentity", &[]);
    assert_eq!(
        me.result("GetCallerIdentity")["Arn"],
        format!("arn:aws:iam::{ACCOUNT}:user/admin")
    );
    s.call(&gst, "ListUsers", &[]).refused(403, "AccessDenied");
    s.call(&gst, "CreateAccessKey", &[])
        .refused(403, "AccessDenied");
    s.call(
        &gst,
        "PutUserPolicy",
        &[
            ("UserName", "admin"),
            ("PolicyName", "x"),
            ("PolicyDocument", &star),
        ],
    )
    .refused(403, "AccessDenied");
    s.call(&gst, "GetSessionToken", &[])
        .refused(403, "AccessDenied");
    assert_eq!(s.key_ids("admin").len(), 1);
}

// ---------------------------------------------------------------------------------------
// Creating keys for another user.
// ---------------------------------------------------------------------------------------

#[test]
fn a_user_allowed_keys_on_itself_cannot_touch_another_users_keys() {
    let s = Live::start();
    let alice = s.user(
        "alice",
        Some(&on_self(&[
            "iam:CreateAccessKey",
            "iam:ListAccessKeys",
            "iam:UpdateAccessKey",
            "iam:DeleteAccessKey",
        ])),
    );
    let bob = s.user("bob", None);
    s.admin("CreateUser", &[("UserName", "alice2")]);
    let bob_keys = s.key_ids("bob");
    let admin_keys = s.key_ids("admin");

    // Control: her own second key, by omission and by (any case of) her own name.
    let own = key_creds(
        &s.call(&alice, "CreateAccessKey", &[])
            .result("CreateAccessKey"),
    );
    s.call(
        &alice,
        "DeleteAccessKey",
        &[("AccessKeyId", &own.access_key_id)],
    )
    .result("DeleteAccessKey");
    let own = s
        .call(&alice, "CreateAccessKey", &[("UserName", "ALICE")])
        .result("CreateAccessKey");
    assert_eq!(own["AccessKey"]["UserName"], "alice");
    s.call(
        &alice,
        "DeleteAccessKey",
        &[(
            "AccessKeyId",
            own["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        )],
    )
    .result("DeleteAccessKey");

    for target in ["bob", "BOB", "Bob", "admin", "alice2", "nosuchuser"] {
        s.call(&alice, "CreateAccessKey", &[("UserName", target)])
            .refused(403, "AccessDenied");
        s.call(&alice, "ListAccessKeys", &[("UserName", target)])
            .refused(403, "AccessDenied");
    }
    // Bob's key by id: neither by omission (it is not hers) nor by naming herself.
    let bk = bob.access_key_id.as_str();
    for params in [
        vec![("AccessKeyId", bk)],
        vec![("AccessKeyId", bk), ("UserName", "alice")],
    ] {
        not_ok(
            &s.call(&alice, "DeleteAccessKey", &params),
            "DeleteAccessKey of bob's key",
        );
        let mut p = params.clone();
        p.push(("Status", "Inactive"));
        not_ok(
            &s.call(&alice, "UpdateAccessKey", &p),
            "UpdateAccessKey of bob's key",
        );
    }
    s.call(
        &alice,
        "DeleteAccessKey",
        &[("AccessKeyId", bk), ("UserName", "bob")],
    )
    .refused(403, "AccessDenied");

    assert_eq!(s.key_ids("bob"), bob_keys);
    assert_eq!(s.key_ids("admin"), admin_keys);
    assert!(s.key_ids("alice2").is_empty());
    s.call(&bob, "GetCallerIdentity", &[])
        .result("GetCallerIdentity");
}

// ---------------------------------------------------------------------------------------
// A session policy bypassed on self-service calls.
// ---------------------------------------------------------------------------------------

const CAROL_PW: &str = "Carol-password-1";

fn self_service_vault() -> (Live, Credentials) {
    let s = Live::start();
    let carol = s.user(
        "carol",
        Some(
            &json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["iam:ChangePassword", "iam:CreateAccessKey",
                    "iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:GetUser"],
                 "Resource": "arn:aws:iam::123456789012:user/${aws:username}"},
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
            .to_string(),
        ),
    );
    s.admin(
        "CreateLoginProfile",
        &[("UserName", "carol"), ("Password", CAROL_PW)],
    );
    s.admin(
        "CreateRole",
        &[
            ("RoleName", "helper"),
            ("AssumeRolePolicyDocument", TRUST_ACCOUNT),
        ],
    );
    s.admin(
        "PutRolePolicy",
        &[
            ("RoleName", "helper"),
            ("PolicyName", "all"),
            ("PolicyDocument", &allow(&["iam:*"], "*")),
        ],
    );
    (s, carol)
}

#[test]
fn a_restrictive_session_policy_holds_on_self_service_calls() {
    let (s, carol) = self_service_vault();
    let keys = s.key_ids("carol");
    // Control: carol herself may do all of it.
    s.call(&carol, "ListAccessKeys", &[])
        .result("ListAccessKeys");
    // A role session whose session policy allows only GetCallerIdentity: nothing "about
    // itself" gets through, neither by omission nor by naming the user who assumed it.
    let sess = s.assume(
        &carol,
        &[
            ("RoleArn", &role_arn("helper")),
            ("RoleSessionName", "carol"),
            (
                "Policy",
                &allow(&["sts:GetCallerIdentity", "iam:GetRole"], "*"),
            ),
        ],
    );
    s.call(&sess, "GetRole", &[("RoleName", "helper")])
        .result("GetRole");
    not_ok(
        &s.call(&sess, "CreateAccessKey", &[]),
        "CreateAccessKey for itself",
    );
    s.call(&sess, "CreateAccessKey", &[("UserName", "carol")])
        .refused(403, "AccessDenied");
    not_ok(&s.call(&sess, "ListAccessKeys", &[]), "ListAccessKeys");
    not_ok(
        &s.call(
            &sess,
            "ChangePassword",
            &[
                ("OldPassword", CAROL_PW),
                ("NewPassword", "Changed-by-session-1"),
            ],
        ),
        "ChangePassword from a role session",
    );
    not_ok(&s.call(&sess, "GetUser", &[]), "GetUser of itself");
    assert_eq!(s.key_ids("carol"), keys);
    assert_eq!(s.login("carol", CAROL_PW, None).status, 200);
}

#[test]
fn sessions_without_mfa_cannot_change_the_password_through_self_service() {
    let (s, carol) = self_service_vault();
    // The account lets every user change its own password (AWS's self-service switch).
    s.admin(
        "UpdateAccountPasswordPolicy",
        &[("AllowUsersToChangePassword", "true")],
    );
    // GetSessionToken without MFA, and a sign-in session without MFA: neither may call
    // IAM (src/service/authz.rs session_guard), self-service included.
    let gst = session_creds(
        &s.call(&carol, "GetSessionToken", &[])
            .result("GetSessionToken"),
    );
    let signin: Value = serde_json::from_str(&s.login("carol", CAROL_PW, None).body).unwrap();
    let web = session_creds(&signin);
    for sess in [&gst, &web] {
        // Everything else in IAM is refused to these sessions ...
        s.call(sess, "CreateAccessKey", &[])
            .refused(403, "AccessDenied");
        s.call(sess, "GetUser", &[]).refused(403, "AccessDenied");
        // ... and so must the password change be.
        s.call(
            sess,
            "ChangePassword",
            &[
                ("OldPassword", CAROL_PW),
                ("NewPassword", "Changed-by-session-1"),
            ],
        )
        .refused(403, "AccessDenied");
    }
    assert_eq!(s.login("carol", CAROL_PW, None).status, 200);
    // Control: the long-term key itself may use the self-service switch.
    s.call(
        &carol,
        "ChangePassword",
        &[
            ("OldPassword", CAROL_PW),
            ("NewPassword", "Changed-by-key-1"),
        ],
    )
    .result("ChangePassword");
}

// ---------------------------------------------------------------------------------------
// Extra parameters smuggled into self-service calls.
// ---------------------------------------------------------------------------------------

#[test]
fn parameters_smuggled_into_self_service_calls_are_refused() {
    let s = Live::start();
    let alice = s.user(
        "alice",
        Some(&on_self(&[
            "iam:CreateAccessKey",
            "iam:ListAccessKeys",
            "iam:DeleteAccessKey",
            "iam:ChangePassword",
        ])),
    );
    s.user("bob", None);
    for (u, p) in [("alice", "Alice-password-1"), ("bob", "Bob-password-1")] {
        s.admin("CreateLoginProfile", &[("UserName", u), ("Password", p)]);
    }
    let bob_keys = s.key_ids("bob");
    let alice_keys = s.key_ids("alice");
    let signed = |target: &str, body: &str| {
        let mut req = s.request(target, body);
        Live::sign_at(&mut req, &alice, "iam", now(), true);
        s.send(&req)
    };
    let create = Live::form("CreateAccessKey", &[]);

    // An extra UserName in the (signed) query string is a real parameter: denied.
    signed("/?UserName=bob", &create).refused(403, "AccessDenied");
    // The same name twice, in the body or split between query and body: ambiguous, refused
    // before anything runs.
    signed("/", &format!("{create}&UserName=alice&UserName=bob")).refused(400, "InvalidInput");
    signed("/?UserName=alice", &format!("{create}&UserName=bob")).refused(400, "InvalidInput");
    signed("/?UserName=bob", &format!("{create}&UserName=alice")).refused(400, "InvalidInput");
    signed(
        "/?Action=CreateAccessKey",
        &Live::form("GetCallerIdentity", &[]),
    )
    .refused(400, "InvalidInput");
    // A parameter added to the query after signing is not covered by the signature.
    let mut req = s.request("/", &create);
    Live::sign_at(&mut req, &alice, "iam", now(), true);
    req.query = "UserName=bob".into();
    s.send(&req).refused(403, "SignatureDoesNotMatch");
    // Body replaced after signing.
    let mut req = s.request("/", &create);
    Live::sign_at(&mut req, &alice, "iam", now(), true);
    req.body = format!("{create}&UserName=bob").into_bytes();
    s.send(&req).refused(403, "SignatureDoesNotMatch");
    // Parameter names are exact: `username`, `USERNAME` are not UserName, so the call is
    // about alice (or refused), never about bob.
    for smuggled in [
        "username=bob",
        "USERNAME=bob",
        "UserName%20=bob",
        "User%4eame=bob",
    ] {
        let r = signed("/", &format!("{create}&{smuggled}"));
        if r.status == 200 {
            let k = r.result("CreateAccessKey");
            assert_eq!(k["AccessKey"]["UserName"], "alice", "{smuggled}");
            s.admin(
                "DeleteAccessKey",
                &[
                    ("UserName", "alice"),
                    (
                        "AccessKeyId",
                        k["AccessKey"]["AccessKeyId"].as_str().unwrap(),
                    ),
                ],
            );
        }
    }
    assert_eq!(s.key_ids("bob"), bob_keys);
    assert_eq!(s.key_ids("alice"), alice_keys);

    // ChangePassword takes no UserName: one smuggled in changes nothing of bob's.
    let r = s.call(
        &alice,
        "ChangePassword",
        &[
            ("UserName", "bob"),
            ("OldPassword", "Bob-password-1"),
            ("NewPassword", "Hijacked-pass-1"),
        ],
    );
    not_ok(&r, "ChangePassword with bob's old password");
    s.call(
        &alice,
        "ChangePassword",
        &[
            ("UserName", "bob"),
            ("OldPassword", "Alice-password-1"),
            ("NewPassword", "Alice-password-2"),
        ],
    )
    .result("ChangePassword");
    assert_eq!(s.login("bob", "Bob-password-1", None).status, 200);
    assert_eq!(s.login("bob", "Alice-password-2", None).status, 401);
    assert_eq!(s.login("alice", "Alice-password-2", None).status, 200);
}

// ---------------------------------------------------------------------------------------
// Name collisions by case, Unicode or whitespace.
// ---------------------------------------------------------------------------------------

#[test]
fn names_collide_by_case_and_never_alias_by_unicode_or_whitespace() {
    let s = Live::start();
    s.admin("CreateUser", &[("UserName", "Alice")]);
    for v in ["alice", "ALICE", "aLiCe"] {
        s.call(&s.admin, "CreateUser", &[("UserName", v)])
            .refused(409, "EntityAlreadyExists");
    }
    // Lookups fold case onto the one entity.
    assert_eq!(
        s.admin("GetUser", &[("UserName", "aLICE")])["User"]["UserName"],
        "Alice"
    );
    let lookalikes = [
        "alice ",
        " alice",
        "alice\t",
        "alice\n",
        "al ice",
        "al\u{0456}ce",                             // Cyrillic і
        "\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}", // fullwidth ａｌｉｃｅ
        "alice\u{200b}",                            // zero-width space
        "alice\u{00a0}",                            // no-break space
        "Ali\u{0301}ce",                            // combining accent
        "\u{212a}elvin",                            // Kelvin sign, lowercases to `k`
        "AL\u{0130}CE",                             // Turkish dotted İ
        "alice\u{0000}",
    ];
    for v in lookalikes {
        s.call(&s.admin, "CreateUser", &[("UserName", v)])
            .refused(400, "ValidationError");
        s.call(&s.admin, "GetUser", &[("UserName", v)])
            .refused(400, "ValidationError");
    }
    s.admin("CreateUser", &[("UserName", "kelvin")]);
    let users = names(&s.admin("ListUsers", &[]), "Users", "UserName");
    assert_eq!(users, vec!["admin", "Alice", "kelvin"]);

    // The same for groups, roles, managed policies and instance profiles.
    let doc = allow(&["iam:GetUser"], "*");
    let kinds: [Create<'_>; 4] = [
        ("CreateGroup", "GroupName", vec![]),
        (
            "CreateRole",
            "RoleName",
            vec![("AssumeRolePolicyDocument", TRUST_ACCOUNT)],
        ),
        ("CreatePolicy", "PolicyName", vec![("PolicyDocument", &doc)]),
        ("CreateInstanceProfile", "InstanceProfileName", vec![]),
    ];
    for (action, field, extra) in kinds {
        let mut p = vec![(field, "Team")];
        p.extend(extra.iter().copied());
        s.admin(action, &p);
        for v in ["team", "TEAM"] {
            let mut p = vec![(field, v)];
            p.extend(extra.iter().copied());
            s.call(&s.admin, action, &p)
                .refused(409, "EntityAlreadyExists");
        }
        for v in ["team ", "t\u{0435}am", "\u{ff34}eam"] {
            let mut p = vec![(field, v)];
            p.extend(extra.iter().copied());
            s.call(&s.admin, action, &p).refused(400, "ValidationError");
        }
    }
}

/// A create action, its name parameter and its other parameters.
type Create<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

// ---------------------------------------------------------------------------------------
// Path characters in names.
// ---------------------------------------------------------------------------------------

#[test]
fn path_characters_in_names_never_reach_another_entity() {
    let s = Live::start();
    s.admin("CreateUser", &[("UserName", "t1"), ("Path", "/team/")]);
    let scoped = s.user(
        "scoped",
        Some(&allow(
            &["iam:CreateAccessKey", "iam:GetUser", "iam:DeleteAccessKey"],
            "arn:aws:iam::123456789012:user/team/*",
        )),
    );
    // Control: scoped reaches a user under /team/.
    let k = s
        .call(&scoped, "CreateAccessKey", &[("UserName", "t1")])
        .result("CreateAccessKey");
    s.admin(
        "DeleteAccessKey",
        &[
            ("UserName", "t1"),
            (
                "AccessKeyId",
                k["AccessKey"]["AccessKeyId"].as_str().unwrap(),
            ),
        ],
    );
    let admin_keys = s.key_ids("admin");
    let bad = [
        "team/../admin",
        "../admin",
        "/admin",
        "admin/",
        "team/admin",
        "a/b",
        "%2Fadmin",
        "..%2Fadmin",
        "%2e%2e%2fadmin",
        "admin%00",
        "admin\u{0000}",
        "\u{0000}",
        "a\\b",
        "admin?x=1",
        "admin#x",
        "admin;x",
        "*",
        "admin*",
    ];
    for name in bad {
        s.call(&s.admin, "CreateUser", &[("UserName", name)])
            .refused(400, "ValidationError");
        s.call(&s.admin, "GetUser", &[("UserName", name)])
            .refused(400, "ValidationError");
        s.call(&scoped, "CreateAccessKey", &[("UserName", name)])
            .refused(400, "ValidationError");
    }
    // Percent-encoding on the wire decodes once: `%252F` is the literal `%2F`, refused.
    let mut req = s.request(
        "/",
        &format!(
            "{}&UserName=team%252F..%252Fadmin",
            Live::form("CreateAccessKey", &[])
        ),
    );
    Live::sign_at(&mut req, &scoped, "iam", now(), true);
    s.send(&req).refused(400, "ValidationError");
    // Paths are validated too (printable ASCII, `/`-delimited).
    for path in [
        "/team/\u{0000}/",
        "/te am/",
        "team/",
        "/team",
        "//",
        "/\u{0456}/",
    ] {
        s.call(
            &s.admin,
            "CreateUser",
            &[("UserName", "p1"), ("Path", path)],
        )
        .refused(400, "ValidationError");
    }
    assert_eq!(s.key_ids("admin"), admin_keys);
    let users = names(&s.admin("ListUsers", &[]), "Users", "UserName");
    assert_eq!(users, vec!["admin", "scoped", "t1"]);
}

// ---------------------------------------------------------------------------------------
// Secrets leaked through an unauthenticated endpoint or an error body.
// ---------------------------------------------------------------------------------------

#[test]
fn no_secret_reaches_an_unauthenticated_route_an_error_body_or_the_log() {
    const ENV_SECRET: &str = "SEEDSECRETenvAWSsecretAccessKey0123456789";
    const ENV_TOKEN: &str = "SEEDTOKENenvAWSsessionTokenABCDEFGHIJKLMN";
    const ENV_OTHER: &str = "SEEDSECRETvaultEnvPassphraseXYZ987654321";
    const USER_PW: &str = "Seeded-User-Password-77";
    let mut s = Live::start_with(
        |_| {},
        &[
            ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
            ("AWS_ACCESS_KEY_ID", "AKIASEEDENVIRONMENT7"),
            ("AWS_SESSION_TOKEN", ENV_TOKEN),
            ("IAMVAULT_TEST_SEEDED_SECRET", ENV_OTHER),
            ("RUST_LOG", "info"),
        ],
    );
    // Secrets in the vault: keys, a password, a TOTP seed, a session, the root password
    // and the master key.
    let victim = s.user("victim", None);
    s.admin(
        "CreateLoginProfile",
        &[("UserName", "victim"), ("Password", USER_PW)],
    );
    let (serial, seed, seed_b32) = enable_mfa(&s, "victim");
    let session = session_creds(&s.admin("GetSessionToken", &[]));
    let root_pw = s
        .init_stdout
        .lines()
        .find_map(|l| l.split("root password:").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .expect("init prints the root password")
        .to_owned();
    let master = std::fs::read_to_string(s.dir.join("master.key")).unwrap();
    let master_hex = master.trim().rsplit(':').next().unwrap().to_owned();
    let mut secrets: Vec<(&str, String)> = vec![
        ("env AWS_SECRET_ACCESS_KEY", ENV_SECRET.into()),
        ("env AWS_SESSION_TOKEN", ENV_TOKEN.into()),
        ("env IAMVAULT_TEST_SEEDED_SECRET", ENV_OTHER.into()),
        (
            "admin secret",
            s.admin.secret_access_key.expose().to_owned(),
        ),
        (
            "victim secret",
            victim.secret_access_key.expose().to_owned(),
        ),
        ("victim password", USER_PW.into()),
        ("totp seed base32", seed_b32.clone()),
        ("totp seed hex", hex::encode(&seed)),
        (
            "session secret",
            session.secret_access_key.expose().to_owned(),
        ),
        (
            "session token",
            session.session_token.as_ref().unwrap().expose().to_owned(),
        ),
        ("root password", root_pw),
        ("master key", master_hex),
    ];
    for (what, v) in &secrets {
        assert!(v.len() >= 16, "{what} is too short to search for");
    }
    // A token's tail alone would also be a leak.
    let tok = session.session_token.as_ref().unwrap().expose().to_owned();
    secrets.push(("session token tail", tok[tok.len() - 40..].to_owned()));

    let mut seen: Vec<(String, Resp)> = Vec::new();
    let mut hit = |what: &str, r: Resp| seen.push((what.to_owned(), r));
    // Unauthenticated routes.
    hit("healthz", s.plain("GET", "/healthz", b""));
    hit("metrics", s.plain("GET", "/metrics", b""));
    hit("root GET", s.plain("GET", "/", b""));
    hit(
        "unsigned query",
        s.plain("POST", "/", b"Action=ListAccessKeys&Version=2010-05-08"),
    );
    hit(
        "malformed form",
        s.plain("POST", "/", b"Action=%zz&Version=%"),
    );
    hit("404", s.plain("GET", "/nope", b""));
    hit("404 vault", s.plain("GET", "/vault/v1/nope", b""));
    hit("405 login", s.plain("GET", "/vault/v1/login", b""));
    hit(
        "authorize unsigned",
        s.plain("POST", "/vault/v1/authorize", b"{}"),
    );
    hit(
        "instances unsigned",
        s.plain("POST", "/vault/v1/instances/credentials", b"{\"x\":1}"),
    );
    hit(
        "resource policies unsigned",
        s.plain("POST", "/vault/v1/resource-policies/get", b"{}"),
    );
    // The login API with bad input, echoing secrets back at it.
    hit("login garbage", s.login_raw(b"\x00\xffnot json"));
    hit("login empty", s.login_raw(b"{}"));
    hit(
        "login extra field",
        s.login_raw(
            json!({"account_id": ACCOUNT, "user_name": "victim", "password": USER_PW, "evil": ENV_SECRET})
                .to_string()
                .as_bytes(),
        ),
    );
    hit("login unknown user", s.login("nobody", USER_PW, None));
    hit("login wrong password", s.login("victim", ENV_SECRET, None));
    hit("login no code", s.login("victim", USER_PW, None));
    hit("login bad code", s.login("victim", USER_PW, Some("000000")));
    hit(
        "login bad account",
        s.login_raw(
            json!({"account_id": "1", "user_name": "victim", "password": USER_PW})
                .to_string()
                .as_bytes(),
        ),
    );
    // SigV4 failures: wrong secret for a real key id, a real session token with a wrong
    // secret (the mismatch message shows the canonical request, token redacted). The
    // query form is `a_session_token_is_never_echoed_by_a_presigned_signature_mismatch`.
    let wrong = Credentials {
        access_key_id: s.admin.access_key_id.clone(),
        secret_access_key: SecretString::new(ENV_SECRET.into()),
        session_token: None,
    };
    hit(
        "wrong secret",
        s.call(&wrong, "ListAccessKeys", &[("UserName", "victim")]),
    );
    let wrong_session = Credentials {
        secret_access_key: SecretString::new(ENV_SECRET.into()),
        ..session.clone()
    };
    hit(
        "session wrong secret",
        s.call(&wrong_session, "GetCallerIdentity", &[]),
    );
    let mut garbage = s.request("/", &Live::form("GetCallerIdentity", &[]));
    garbage = garbage.with_header(
        "authorization",
        &format!("AWS4-HMAC-SHA256 Credential={ENV_SECRET}"),
    );
    hit("garbage authorization", s.send(&garbage));
    // Authenticated error paths and reads that must never carry a secret.
    let peek = s.user("peek", None);
    let denied = s.call(&peek, "ListAccessKeys", &[("UserName", "victim")]);
    hit("access denied", denied.clone());
    s.admin("CreateAccessKey", &[("UserName", "victim")]);
    hit(
        "limit exceeded",
        s.call(&s.admin, "CreateAccessKey", &[("UserName", "victim")]),
    );
    hit(
        "no such entity",
        s.call(&s.admin, "GetUser", &[("UserName", "nobody")]),
    );
    hit(
        "bad max items",
        s.call(&s.admin, "ListUsers", &[("MaxItems", "x")]),
    );
    hit(
        "enable mfa again",
        s.call(
            &s.admin,
            "EnableMFADevice",
            &[
                ("UserName", "victim"),
                ("SerialNumber", &serial),
                ("AuthenticationCode1", "123456"),
                ("AuthenticationCode2", "654321"),
            ],
        ),
    );
    hit("unknown action", s.call(&s.admin, "GetSecrets", &[]));
    for (action, params) in [
        ("ListAccessKeys", vec![("UserName", "victim")]),
        ("GetUser", vec![("UserName", "victim")]),
        ("GetLoginProfile", vec![("UserName", "victim")]),
        ("ListMFADevices", vec![("UserName", "victim")]),
        ("ListVirtualMFADevices", vec![]),
        (
            "GetAccessKeyLastUsed",
            vec![("AccessKeyId", victim.access_key_id.as_str())],
        ),
        ("GetAccountSummary", vec![]),
        ("GenerateCredentialReport", vec![]),
    ] {
        hit(action, s.call(&s.admin, action, &params));
    }
    let report = s.call(&s.admin, "GetCredentialReport", &[]);
    let csv = report.result("GetCredentialReport")["Content"]
        .as_str()
        .map(|c| {
            base64::engine::general_purpose::STANDARD
                .decode(c)
                .unwrap_or_default()
        })
        .unwrap_or_default();
    hit(
        "credential report",
        Resp {
            body: format!("{}\n{}", report.body, String::from_utf8_lossy(&csv)),
            ..report
        },
    );
    if let Some(msg) = denied
        .body
        .split("Encoded authorization failure message: ")
        .nth(1)
        .and_then(|m| m.split('<').next())
    {
        hit(
            "decoded denial",
            s.call(
                &s.admin,
                "DecodeAuthorizationMessage",
                &[("EncodedMessage", msg.trim())],
            ),
        );
    }
    // A control: the search does find a secret where it is meant to be.
    let issued = s.call(&s.admin, "CreateAccessKey", &[("UserName", "peek")]);
    let issued_secret = key_creds(&issued.result("CreateAccessKey"));
    assert!(
        issued
            .everything()
            .contains(issued_secret.secret_access_key.expose())
    );

    for (what, r) in &seen {
        let text = r.everything();
        for (name, secret) in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{name} leaked through `{what}`:\n{text}"
            );
        }
    }
    assert!(seen.iter().any(|(w, r)| w == "metrics" && r.status == 200));
    // The server's log, at info level, over all of the above: complete once the server
    // stopped (lines are buffered for up to 50 ms).
    s.stop();
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert!(
        log.contains("shutting down"),
        "the log is incomplete:\n{log}"
    );
    assert!(
        log.matches(" request ").count() >= 10,
        "a line per request is expected:\n{log}"
    );
    for (name, secret) in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "{name} is in the server log"
        );
    }
}

#[test]
fn made_up_actions_never_become_metric_labels_or_log_lines() {
    let mut s = Live::start_with(|_| {}, &[("RUST_LOG", "info")]);
    // Unsigned requests, each naming another action that does not exist: before, each
    // became a metric label of its own (memory without bound) and went raw into the log.
    for i in 0..40 {
        let r = s.plain(
            "POST",
            "/",
            format!("Action=MadeUp{i}&Version=2010-05-08").as_bytes(),
        );
        assert_eq!(r.status, 403, "{}", r.body);
    }
    let forged = "Action=GetUser%0A2026-01-01T00:00:00Z%20INFO%20forgedline&Version=2010-05-08";
    assert_eq!(s.plain("POST", "/", forged.as_bytes()).status, 403);
    // Signed, but no such action: still no label of its own.
    assert_eq!(
        s.call(&s.admin, "MadeUpSigned", &[]).code(),
        "InvalidAction"
    );
    // An action the server handles keeps its label.
    assert_eq!(s.call(&s.admin, "ListUsers", &[]).status, 200);
    let metrics = s.plain("GET", "/metrics", b"").body;
    assert!(!metrics.contains("MadeUp"), "{metrics}");
    assert!(metrics.contains(r#"action="other""#), "{metrics}");
    assert!(metrics.contains(r#"action="ListUsers""#), "{metrics}");
    s.stop();
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert!(log.contains("action=ListUsers"), "{log}");
    assert!(
        !log.contains("MadeUp") && !log.contains("forgedline"),
        "{log}"
    );
}

#[test]
fn a_session_token_is_never_echoed_by_a_presigned_signature_mismatch() {
    let s = Live::start();
    let session = session_creds(&s.admin("GetSessionToken", &[]));
    let token = session.session_token.as_ref().unwrap().expose().to_owned();
    let wrong = Credentials {
        secret_access_key: SecretString::new("not-the-secret-of-this-session-000000000".into()),
        ..session.clone()
    };
    // Control: the header form redacts the token from the canonical request it shows.
    let header_form = s.call(&wrong, "GetCallerIdentity", &[]);
    header_form.refused(403, "SignatureDoesNotMatch");
    assert!(header_form.body.contains("x-amz-security-token"));
    assert!(
        !header_form
            .everything()
            .contains(&token[token.len() - 40..])
    );
    // The query form must hide it as well.
    let pre = presigned(&s, &wrong, now());
    let r = s.send(&pre);
    r.refused(403, "SignatureDoesNotMatch");
    assert!(
        !r.everything().contains(&token[token.len() - 40..]),
        "the session token is echoed:\n{}",
        r.body
    );
}

// ---------------------------------------------------------------------------------------
// SigV4 bypass variants.
// ---------------------------------------------------------------------------------------

/// Signs `req` by hand with exactly `signed` as SignedHeaders (the crate's signer always
/// signs every header present, host included).
fn sign_by_hand(
    req: &mut OwnedRequest,
    creds: &Credentials,
    service: &str,
    at: OffsetDateTime,
    signed: &[&str],
) {
    let amz = sigv4::format_amz_date(at);
    req.headers.push(("x-amz-date".into(), amz.clone()));
    let scope = Scope::new(&amz[..8], "us-east-1", service).unwrap();
    let names: Vec<String> = signed.iter().map(|s| (*s).to_owned()).collect();
    let view = req.view(PayloadHash::Body(&req.body)).unwrap();
    let query = sigv4::canonical::canonical_query(view.query(), false).unwrap();
    let hash = hex::encode(ring::digest::digest(&ring::digest::SHA256, &req.body));
    let creq = sigv4::canonical::CanonicalRequest::build(
        &view,
        &names,
        &query,
        &hash,
        CanonicalOptions::default(),
    )
    .unwrap();
    let sts = creq.string_to_sign(&amz, &scope);
    let sig = sigv4::SigningKey::for_scope(creds.secret_access_key.expose().as_bytes(), &scope)
        .sign(&sts);
    req.headers.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
            creds.access_key_id,
            names.join(";")
        ),
    ));
}

fn presigned(s: &Live, creds: &Credentials, at: OffsetDateTime) -> OwnedRequest {
    let mut req = OwnedRequest::new("POST", "/?Action=GetCallerIdentity&Version=2011-06-15")
        .with_header("host", &s.host);
    sigv4::presign(
        &mut req,
        &sigv4::SigningParams {
            access_key_id: &creds.access_key_id,
            secret_access_key: creds.secret_access_key.expose().as_bytes(),
            session_token: creds.session_token.as_ref().map(SecretString::expose),
            region: "us-east-1",
            service: "sts",
            settings: sigv4::SigningSettings::default(),
        },
        300,
        at,
    )
    .unwrap();
    req
}

fn without_query_param(q: &str, name: &str) -> String {
    q.split('&')
        .filter(|p| !p.starts_with(&format!("{name}=")))
        .collect::<Vec<_>>()
        .join("&")
}

#[test]
fn sigv4_bypass_variants_are_refused() {
    let s = Live::start();
    let admin = s.admin.clone();
    let gci = Live::form("GetCallerIdentity", &[]);
    let fresh = || s.request("/", &gci);

    // Controls: the header form, the query form, and the hand signer with host signed.
    s.call(&admin, "GetCallerIdentity", &[])
        .result("GetCallerIdentity");
    let pre = presigned(&s, &admin, now());
    s.send(&pre).result("GetCallerIdentity");
    let mut by_hand = fresh();
    sign_by_hand(&mut by_hand, &admin, "sts", now(), &["host", "x-amz-date"]);
    s.send(&by_hand).result("GetCallerIdentity");

    // Query-string credentials with the signature absent, zeroed, or other parts missing.
    let no_sig = OwnedRequest {
        query: without_query_param(&pre.query, "X-Amz-Signature"),
        ..pre.clone()
    };
    s.send(&no_sig).refused(400, "IncompleteSignature");
    let zero_sig = OwnedRequest {
        query: format!(
            "{}&X-Amz-Signature={}",
            without_query_param(&pre.query, "X-Amz-Signature"),
            "0".repeat(64)
        ),
        ..pre.clone()
    };
    s.send(&zero_sig).refused(403, "SignatureDoesNotMatch");
    for missing in [
        "X-Amz-Algorithm",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
        "X-Amz-Expires",
    ] {
        let r = OwnedRequest {
            query: without_query_param(&pre.query, missing),
            ..pre.clone()
        };
        not_ok(&s.send(&r), missing);
    }
    let only_cred = OwnedRequest::new(
        "POST",
        &format!(
            "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Credential={}%2F20260101%2Fus-east-1%2Fsts%2Faws4_request",
            admin.access_key_id
        ),
    )
    .with_header("host", &s.host);
    s.send(&only_cred).refused(400, "IncompleteSignature");
    // Header and query authentication together.
    let mut both = pre.clone();
    Live::sign_at(&mut both, &admin, "sts", now(), true);
    s.send(&both).refused(400, "IncompleteSignature");

    // SignedHeaders without host (correctly signed otherwise), or without the date.
    let mut no_host = fresh();
    sign_by_hand(&mut no_host, &admin, "sts", now(), &["x-amz-date"]);
    s.send(&no_host).refused(400, "IncompleteSignature");
    let mut no_date = fresh();
    sign_by_hand(&mut no_date, &admin, "sts", now(), &["host"]);
    s.send(&no_date).refused(400, "IncompleteSignature");
    let mut ct_only = fresh();
    sign_by_hand(&mut ct_only, &admin, "sts", now(), &["content-type"]);
    s.send(&ct_only).refused(400, "IncompleteSignature");

    // Two Authorization headers: the same one twice, or a valid one and another.
    let mut twice = fresh();
    Live::sign_at(&mut twice, &admin, "sts", now(), true);
    let auth = twice.header("authorization").unwrap().to_owned();
    twice.headers.push(("authorization".into(), auth.clone()));
    s.send(&twice).refused(400, "IncompleteSignature");
    let mut other = fresh();
    Live::sign_at(&mut other, &admin, "sts", now(), true);
    other.headers.insert(
        0,
        (
            "authorization".into(),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00".into(),
        ),
    );
    s.send(&other).refused(400, "IncompleteSignature");
    // Two X-Amz-Date headers.
    let mut dates = fresh();
    Live::sign_at(&mut dates, &admin, "sts", now(), true);
    dates
        .headers
        .push(("x-amz-date".into(), sigv4::format_amz_date(now())));
    not_ok(&s.send(&dates), "two x-amz-date headers");

    // X-Amz-Date outside the 15-minute window either way (inside is fine).
    let mut inside = fresh();
    Live::sign_at(
        &mut inside,
        &admin,
        "sts",
        now() - Duration::minutes(13),
        true,
    );
    s.send(&inside).result("GetCallerIdentity");
    for skew in [
        Duration::minutes(-17),
        Duration::minutes(17),
        Duration::days(-2),
    ] {
        let mut r = fresh();
        Live::sign_at(&mut r, &admin, "sts", now() + skew, true);
        let out = s.send(&r);
        assert_eq!(out.status, 403, "skew {skew}: {}", out.body);
    }
    // A presigned URL from the future, or expired.
    let future = presigned(&s, &admin, now() + Duration::minutes(20));
    assert_eq!(s.send(&future).status, 403);
    let old = presigned(&s, &admin, now() - Duration::minutes(10));
    assert_eq!(
        s.send(&old).status,
        403,
        "X-Amz-Expires=300 ten minutes ago"
    );

    // An unsigned x-amz-security-token swapped for another session's.
    let a = session_creds(&s.admin("GetSessionToken", &[]));
    let b = session_creds(&s.admin("GetSessionToken", &[]));
    let b_token = b.session_token.as_ref().unwrap().expose().to_owned();
    let mut unsigned = fresh();
    Live::sign_at(&mut unsigned, &a, "sts", now(), false);
    s.send(&unsigned).result("GetCallerIdentity"); // AWS accepts an unsigned token
    let mut swapped = fresh();
    Live::sign_at(&mut swapped, &a, "sts", now(), false);
    swapped.remove_header("x-amz-security-token");
    swapped
        .headers
        .push(("x-amz-security-token".into(), b_token.clone()));
    s.send(&swapped).refused(403, "InvalidClientTokenId");
    let mut signed_swap = fresh();
    Live::sign_at(&mut signed_swap, &a, "sts", now(), true);
    signed_swap.remove_header("x-amz-security-token");
    signed_swap
        .headers
        .push(("x-amz-security-token".into(), b_token.clone()));
    not_ok(&s.send(&signed_swap), "signed token swapped");
    let mut long_term_plus_token = fresh();
    Live::sign_at(&mut long_term_plus_token, &admin, "sts", now(), true);
    long_term_plus_token
        .headers
        .push(("x-amz-security-token".into(), b_token.clone()));
    s.send(&long_term_plus_token)
        .refused(403, "InvalidClientTokenId");
    let mut no_token = fresh();
    Live::sign_at(&mut no_token, &a, "sts", now(), false);
    no_token.remove_header("x-amz-security-token");
    s.send(&no_token).refused(403, "InvalidClientTokenId");
    let mut two_tokens = fresh();
    Live::sign_at(&mut two_tokens, &a, "sts", now(), true);
    two_tokens
        .headers
        .push(("x-amz-security-token".into(), b_token));
    s.send(&two_tokens).refused(400, "IncompleteSignature");
}

#[test]
fn a_signature_scoped_to_another_service_is_refused() {
    let s = Live::start();
    // Control: the right scope.
    s.call(&s.admin, "ListUsers", &[]).result("ListUsers");
    for service in ["s3", "vault", "ec2", "execute-api"] {
        let mut req = s.request("/", &Live::form("ListUsers", &[]));
        Live::sign_at(&mut req, &s.admin, service, now(), true);
        s.send(&req).refused(403, "SignatureDoesNotMatch");
    }
    // The vault's own JSON endpoints take only signatures scoped to `vault`.
    let list = |service: &str| {
        let mut req = s
            .request("/vault/v1/resource-policies/list", "{}")
            .with_header("content-type", "application/json");
        req.headers
            .retain(|(k, v)| k != "content-type" || v == "application/json");
        Live::sign_at(&mut req, &s.admin, service, now(), true);
        s.send(&req)
    };
    assert_eq!(list("vault").status, 200, "control: {}", list("vault").body);
    for service in ["iam", "sts", "s3"] {
        let r = list(service);
        assert_eq!(r.status, 403, "{service}: {}", r.body);
        assert!(
            r.body.contains("SignatureDoesNotMatch"),
            "{service}: {}",
            r.body
        );
    }
}

// ---------------------------------------------------------------------------------------
// User enumeration by body, status or work.
// ---------------------------------------------------------------------------------------

/// Status, every header but `date`, and the body.
fn shape(r: &Resp) -> (u16, Vec<(String, String)>, String) {
    let headers = r
        .headers
        .iter()
        .filter(|(k, _)| k != "date")
        .cloned()
        .collect();
    (r.status, headers, r.body.clone())
}

#[test]
fn sign_in_failures_are_byte_identical_whoever_the_user_is() {
    let s = Live::start_with(
        |dir| {
            crate::support::run_in(dir, &["settings", "lockout", "--threshold", "3"]).ok();
        },
        &[],
    );
    for u in ["en-pw", "en-locked", "en-mfa"] {
        s.admin("CreateUser", &[("UserName", u)]);
        s.admin(
            "CreateLoginProfile",
            &[("UserName", u), ("Password", "Right-password-1")],
        );
    }
    s.admin("CreateUser", &[("UserName", "en-nopw")]);
    enable_mfa(&s, "en-mfa");
    for _ in 0..4 {
        assert_eq!(s.login("en-locked", "wrong", None).status, 401);
    }
    // Control: the right password signs in.
    assert_eq!(s.login("en-pw", "Right-password-1", None).status, 200);

    let reference = s.login("nobody-here", "Right-password-1", None);
    assert_eq!(reference.status, 401);
    assert_eq!(reference.body, r#"{"error":"AuthenticationFailed"}"#);
    let cases: Vec<(&str, Resp)> = vec![
        ("wrong password", s.login("en-pw", "wrong", None)),
        ("wrong password, other case", s.login("EN-PW", "Wrong-password-9", None)),
        ("locked, right password", s.login("en-locked", "Right-password-1", None)),
        ("no console password", s.login("en-nopw", "Right-password-1", None)),
        ("MFA user, no code", s.login("en-mfa", "Right-password-1", None)),
        ("MFA user, wrong code", s.login("en-mfa", "Right-password-1", Some("000000"))),
        ("MFA user, wrong password", s.login("en-mfa", "wrong", Some("000000"))),
        ("invalid name", s.login("en pw!", "Right-password-1", None)),
        ("name with whitespace", s.login("en-pw ", "Right-password-1", None)),
        ("empty password", s.login("en-pw", "", None)),
        (
            "other account",
            s.login_raw(
                json!({"account_id": "000000000000", "user_name": "en-pw", "password": "Right-password-1"})
                    .to_string()
                    .as_bytes(),
            ),
        ),
        (
            "malformed account",
            s.login_raw(
                json!({"account_id": "12", "user_name": "en-pw", "password": "Right-password-1"})
                    .to_string()
                    .as_bytes(),
            ),
        ),
    ];
    for (what, r) in &cases {
        assert_eq!(
            shape(r),
            shape(&reference),
            "{what} differs from an unknown user"
        );
    }

    // IAM: a principal without permissions learns nothing from GetUser about whether a
    // user exists (the same denial, naming only what it asked for).
    let peek = s.user("peek", None);
    let existing = s.call(&peek, "GetUser", &[("UserName", "en-pw")]);
    let missing = s.call(&peek, "GetUser", &[("UserName", "zz-nx")]);
    existing.refused(403, "AccessDenied");
    missing.refused(403, "AccessDenied");
    let message = |r: &Resp, name: &str| {
        r.body
            .split("<Message>")
            .nth(1)
            .and_then(|m| m.split("Encoded authorization failure message").next())
            .unwrap_or_default()
            .replace(name, "NAME")
    };
    assert_eq!(message(&existing, "en-pw"), message(&missing, "zz-nx"));
}

// ---------------------------------------------------------------------------------------
// TOTP replay with whitespace variants.
// ---------------------------------------------------------------------------------------

#[test]
fn a_used_totp_code_never_replays_in_any_whitespace_variant() {
    let s = Live::start();
    s.admin("CreateUser", &[("UserName", "otp")]);
    s.admin(
        "CreateLoginProfile",
        &[("UserName", "otp"), ("Password", "Otp-password-1")],
    );
    let otp = key_creds(&s.admin("CreateAccessKey", &[("UserName", "otp")]));
    let (serial, seed, _) = enable_mfa(&s, "otp");
    // The step after the ones that enabled the device.
    let step = iamvault::auth::totp::step_of(now()) + 1;
    let code = iamvault::auth::totp::code_at(&seed, step, 6).unwrap();
    // Control: the code is accepted once, with surrounding whitespace (it is normalised).
    let first = s.login("otp", "Otp-password-1", Some(&format!(" {code}\n")));
    assert_eq!(first.status, 200, "{}", first.body);
    let variants = [
        code.clone(),
        format!(" {code}"),
        format!("{code} "),
        format!("{code}\n"),
        format!("\t{code}\r\n"),
        format!("{} {}", &code[..3], &code[3..]),
        code.chars()
            .map(|c| char::from_u32(0xff10 + c.to_digit(10).unwrap()).unwrap())
            .collect(),
        format!("{code}\u{00a0}"),
        format!("{}-{}", &code[..3], &code[3..]),
        format!("0{code}"),
        format!("+{code}"),
    ];
    for (i, v) in variants.iter().enumerate() {
        // The login API allows 10 attempts per name in a burst (then 429, which would
        // prove nothing): the first eight variants go through it.
        if i < 8 {
            let r = s.login("otp", "Otp-password-1", Some(v));
            assert_eq!(r.status, 401, "code variant {v:?} was accepted again");
        }
        // Every variant through another channel too: GetSessionToken with the same code.
        let g = s.call(
            &otp,
            "GetSessionToken",
            &[("SerialNumber", &serial), ("TokenCode", v)],
        );
        not_ok(&g, &format!("GetSessionToken with {v:?}"));
    }

    // The same through GetSessionToken alone, with its own control: a second user's fresh
    // code is accepted there once, then never again in any variant.
    let otp2 = s.user("otp2", None);
    let (serial2, seed2, _) = enable_mfa(&s, "otp2");
    let step2 = iamvault::auth::totp::step_of(now()) + 1;
    let code2 = iamvault::auth::totp::code_at(&seed2, step2, 6).unwrap();
    s.call(
        &otp2,
        "GetSessionToken",
        &[
            ("SerialNumber", &serial2),
            ("TokenCode", &format!("{code2} ")),
        ],
    )
    .result("GetSessionToken");
    for v in [
        code2.clone(),
        format!(" {code2}"),
        format!("{code2}\n"),
        format!("{} {}", &code2[..3], &code2[3..]),
    ] {
        let g = s.call(
            &otp2,
            "GetSessionToken",
            &[("SerialNumber", &serial2), ("TokenCode", &v)],
        );
        not_ok(&g, &format!("GetSessionToken replay with {v:?}"));
    }
}

// ---------------------------------------------------------------------------------------
// Lockout bypass by name variants.
// ---------------------------------------------------------------------------------------

#[test]
fn lockout_cannot_be_bypassed_with_name_variants() {
    let s = Live::start_with(
        |dir| {
            crate::support::run_in(dir, &["settings", "lockout", "--threshold", "3"]).ok();
        },
        &[],
    );
    s.admin("CreateUser", &[("UserName", "Dana")]);
    s.admin(
        "CreateLoginProfile",
        &[("UserName", "Dana"), ("Password", "Dana-password-1")],
    );
    // Control: case variants are the same user (so they must share one counter). The
    // login API allows a burst of ten attempts per name: this test makes exactly ten on
    // `dana`, so none is answered 429 instead.
    for v in ["dana", "DANA"] {
        assert_eq!(s.login(v, "Dana-password-1", None).status, 200, "{v}");
    }
    // Whitespace-wrapped names never authenticate, so they need no counter.
    for v in ["dana ", " dana", "dana\t", "d ana", "d\u{0430}na"] {
        assert_eq!(s.login(v, "Dana-password-1", None).status, 401, "{v:?}");
    }
    // Three failures spread over three spellings lock the one name.
    for v in ["dana", "DANA", "dAnA"] {
        assert_eq!(s.login(v, "wrong", None).status, 401);
    }
    for v in ["dana", "DANA", "Dana", "dAnA", "dana ", " DANA"] {
        let r = s.login(v, "Dana-password-1", None);
        assert_eq!(r.status, 401, "{v:?} signed in while the name is locked");
    }
    let events = s
        .cli(&["user", "lockouts", "dana", "--output", "json"])
        .ok()
        .json();
    let locked = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.to_string().contains("locked"))
        .count();
    assert_eq!(locked, 1, "{events}");
    // Control: unlocking lets the right password in again.
    s.cli(&["user", "unlock", "DANA"]).ok();
    assert_eq!(s.login("dana", "Dana-password-1", None).status, 200);
}

// ---------------------------------------------------------------------------------------
// Token algorithm confusion and forgery.
// ---------------------------------------------------------------------------------------

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[test]
fn forged_tampered_and_confused_session_tokens_are_refused() {
    let s = Live::start();
    let a = session_creds(&s.admin("GetSessionToken", &[]));
    let b = session_creds(&s.admin("GetSessionToken", &[]));
    let token = a.session_token.as_ref().unwrap().expose().to_owned();
    let with = |t: &str| Credentials {
        session_token: Some(SecretString::new(t.to_owned())),
        ..a.clone()
    };
    // Control.
    s.call(&a, "GetCallerIdentity", &[])
        .result("GetCallerIdentity");

    let raw = unb64(&token);
    let n = raw.len();
    let claims_len = usize::from(u16::from_be_bytes([raw[12], raw[13]]));
    assert_eq!(
        n,
        14 + claims_len + 64,
        "envelope layout (docs/token-format.md)"
    );
    let mut variants: Vec<(String, String)> = Vec::new();
    let mut flip = |label: &str, i: usize, x: u8| {
        let mut r = raw.clone();
        r[i] ^= x;
        variants.push((label.to_owned(), b64(&r)));
    };
    flip("magic", 0, 1);
    flip("version", 3, 0x03); // 1 -> 2
    flip("version to 0", 3, 0x01);
    flip("key id", 6, 0x80);
    flip("claims length", 13, 1);
    flip("first claim", 14, 1);
    flip("middle of the claims", 14 + claims_len / 2, 0x40);
    flip("last claim byte (sealed secret)", 13 + claims_len, 1);
    flip("signature R", n - 64, 1);
    flip("signature S", n - 1, 1);
    let test_kid = hex::decode("3097e2dee2cb4a34").unwrap();
    let mut other_kid = raw.clone();
    other_kid[4..12].copy_from_slice(&test_kid);
    variants.push(("the published test key's id".into(), b64(&other_kid)));
    let mut zero_sig = raw.clone();
    zero_sig[n - 64..].fill(0);
    variants.push(("all-zero signature".into(), b64(&zero_sig)));
    let mut identity_sig = raw.clone();
    identity_sig[n - 64..].fill(0);
    identity_sig[n - 64] = 1; // R = the identity point, S = 0
    variants.push(("identity-point signature".into(), b64(&identity_sig)));
    variants.push(("no signature".into(), b64(&raw[..n - 64])));
    variants.push(("claims length says no signature".into(), {
        let mut r = raw[..n - 64].to_vec();
        let l = u16::try_from(claims_len + 64).unwrap().to_be_bytes();
        r[12..14].copy_from_slice(&l);
        r.extend_from_slice(&raw[n - 64..]);
        b64(&r)
    }));
    variants.push(("truncated by a byte".into(), b64(&raw[..n - 1])));
    variants.push((
        "truncated by a char".into(),
        token[..token.len() - 1].to_owned(),
    ));
    variants.push((
        "truncated by 4 chars".into(),
        token[..token.len() - 4].to_owned(),
    ));
    variants.push((
        "a byte appended".into(),
        b64(&[raw.as_slice(), &[0]].concat()),
    ));
    variants.push(("padded".into(), format!("{token}==")));
    variants.push(("padded once".into(), format!("{token}=")));
    let standard = base64::engine::general_purpose::STANDARD.encode(&raw);
    variants.push(("standard alphabet, padded".into(), standard.clone()));
    if token.contains(['-', '_']) {
        variants.push((
            "standard alphabet".into(),
            standard.trim_end_matches('=').to_owned(),
        ));
    }
    if !n.is_multiple_of(3) {
        // The last character carries unused low bits: set one.
        let mut t = token.clone().into_bytes();
        let last = t.len() - 1;
        const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let pos = ALPHA.iter().position(|c| *c == t[last]).unwrap();
        t[last] = ALPHA[pos ^ 1];
        variants.push((
            "non-canonical trailing bits".into(),
            String::from_utf8(t).unwrap(),
        ));
    }
    variants.push((
        "another session's token".into(),
        b.session_token.as_ref().unwrap().expose().to_owned(),
    ));
    variants.push(("empty".into(), String::new()));
    variants.push((
        "a JWT with alg none".into(),
        format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(format!(r#"{{"sub":"arn:aws:iam::{ACCOUNT}:user/admin"}}"#).as_bytes())
        ),
    ));
    variants.push(("lowercased".into(), token.to_ascii_lowercase()));

    // Forged by another Ed25519 key: the same claims under this vault's key id, and a
    // token minted end to end (secret sealed under this vault's real master key) under
    // the published test key.
    let test_key = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]);
    let mut forged = raw[..n - 64].to_vec();
    let mut msg = b"iamvault session token v1\0".to_vec();
    msg.extend_from_slice(&forged);
    use ed25519_dalek::Signer as _;
    forged.extend_from_slice(&test_key.sign(&msg).to_bytes());
    variants.push(("claims re-signed by another key".into(), b64(&forged)));
    let master = iamvault::crypto::MasterKey::load(&s.dir.join("master.key")).unwrap();
    let ring = iamvault::crypto::KeyRing::derive(&master).unwrap();
    let inspected = iamvault::sts::inspect(&token, None, now()).unwrap().0;
    let minted = iamvault::sts::mint(
        &inspected,
        &a.secret_access_key,
        &iamvault::sts::TokenSigningKey::from_seed(&[0x42; 32]),
        &ring,
        &iamvault::clock::TestRandom::new(7),
    )
    .unwrap();
    variants.push(("minted by the published test key".into(), minted));

    for (label, t) in &variants {
        assert_ne!(t, &token, "{label} did not change the token");
        let r = s.call(&with(t), "GetCallerIdentity", &[]);
        assert_eq!(r.status, 403, "{label}: {}", r.body);
        assert!(
            ["InvalidClientTokenId", "IncompleteSignature"].contains(&r.code().as_str()),
            "{label}: {}",
            r.body
        );
    }
    // The published vectors (valid under the TEST-ONLY key) are not valid here.
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keys/token-vectors.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for v in vectors["valid"].as_array().unwrap() {
        let c = Credentials {
            access_key_id: v["access_key_id"].as_str().unwrap().to_owned(),
            secret_access_key: SecretString::new(
                vectors["secret_access_key"].as_str().unwrap().to_owned(),
            ),
            session_token: Some(SecretString::new(v["token"].as_str().unwrap().to_owned())),
        };
        s.call(&c, "GetCallerIdentity", &[])
            .refused(403, "InvalidClientTokenId");
    }
    // A session's token under another session's key id and secret.
    let crossed = Credentials {
        session_token: b.session_token.clone(),
        ..a.clone()
    };
    s.call(&crossed, "GetCallerIdentity", &[])
        .refused(403, "InvalidClientTokenId");
    // Control: the real token still works.
    s.call(&a, "GetCallerIdentity", &[])
        .result("GetCallerIdentity");
}
