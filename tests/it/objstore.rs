//! The authorization API end to end: a real vault, the reference object store
//! (`examples/objstore.rs`) and the EC2-like agent on loopback, driven by unmodified boto3
//! (`tests/clients/test_objstore.py`); and the crate's `Authorizer` and `AuthorizeLayer`
//! against the same real vault.
//!
//! Everything is set up with the local CLI before the vault serves, so the server starts
//! with it (changes by another process reach a running server only within a second).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::server::python;
use crate::support::run_in;

const A: &str = "123456789012";
const B: &str = "210987654321";

/// A child process killed when dropped.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` and waits for the stdout line starting with `prefix`; returns the rest of
/// the line. Stdout keeps being drained afterwards.
fn spawn_until(mut cmd: Command, prefix: &str) -> (Proc, String) {
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Proc(child);
    let mut lines = BufReader::new(stdout).lines();
    let rest = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("exited before printing `{prefix}`"))
            .unwrap();
        if let Some(u) = line.strip_prefix(prefix) {
            break u.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, rest)
}

/// The object store example, next to the `iamvault` binary under test.
fn objstore_binary() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_iamvault"));
    let exe = bin
        .parent()
        .unwrap()
        .join("examples")
        .join(format!("objstore{}", std::env::consts::EXE_SUFFIX));
    assert!(
        exe.exists(),
        "{} is missing: scripts/test builds it (`cargo build --examples`), or run `cargo build --example objstore` first",
        exe.display()
    );
    exe
}

/// A vault data directory set up with the local CLI, then served.
struct Vault {
    _tmp: tempfile::TempDir,
    tmp: PathBuf,
    dir: PathBuf,
    url: String,
    keys: BTreeMap<String, (String, String)>,
    _server: Option<Proc>,
}

impl Vault {
    fn init() -> Self {
        let t = tempfile::tempdir().unwrap();
        let tmp = t.path().to_owned();
        let dir = tmp.join("data");
        run_in(&dir, &["init", "--account-id", A]).ok();
        Vault {
            _tmp: t,
            tmp,
            dir,
            url: String::new(),
            keys: BTreeMap::new(),
            _server: None,
        }
    }

    fn file(&self, name: &str, body: &str) -> String {
        let p = self.tmp.join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    }

    /// Runs the CLI as the root of `account`.
    fn cli(&self, account: &str, args: &[&str]) -> crate::support::Run {
        let mut a = vec!["--as-account", account];
        a.extend_from_slice(args);
        run_in(&self.dir, &a).ok()
    }

    /// Creates a user with an access key and, optionally, an inline policy.
    fn user(&mut self, account: &str, name: &str, policy: Option<&str>) {
        self.cli(account, &["user", "create", name]);
        if let Some(p) = policy {
            let f = self.file(&format!("{account}-{name}.json"), p);
            self.cli(
                account,
                &[
                    "policy",
                    "put-inline",
                    "--user",
                    name,
                    "--name",
                    "inline",
                    "--document",
                    &f,
                ],
            );
        }
        let k = self
            .cli(
                account,
                &["access-key", "create", "--user", name, "--output", "json"],
            )
            .json();
        self.keys.insert(
            name.to_owned(),
            (
                k["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
                k["AccessKey"]["SecretAccessKey"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
        );
    }

    fn resource_policy(&self, arn: &str, doc: &Value) {
        let f = self.file("resource-policy.json", &doc.to_string());
        self.cli(
            A,
            &[
                "resource-policy",
                "put",
                "--resource-arn",
                arn,
                "--document",
                &f,
            ],
        );
    }

    fn serve(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamvault"));
        cmd.arg("--data-dir")
            .arg(&self.dir)
            .args(["serve", "--listen", "127.0.0.1:0"]);
        let (p, url) = spawn_until(cmd, "iamvault listening on ");
        self.url = url;
        self._server = Some(p);
    }

    fn credentials_file(&self) -> PathBuf {
        self.dir.join("bootstrap-credentials")
    }
}

fn allow(actions: &[&str], resource: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resource}]})
    .to_string()
}

fn statement(sid: &str, effect: &str, who: &[String], action: &str, resource: &str) -> Value {
    json!({"Sid": sid, "Effect": effect, "Principal": {"AWS": who},
           "Action": action, "Resource": resource})
}

/// The service identity: may call `vault:Authorize` about any S3 resource.
fn service_user(v: &mut Vault) {
    v.user(
        A,
        "objstore-svc",
        Some(&allow(&["vault:Authorize"], "arn:aws:s3:::*")),
    );
}

/// The world of the boto3 test: see the docstring of `tests/clients/test_objstore.py`.
fn setup_world(v: &mut Vault) -> String {
    service_user(v);
    v.cli(A, &["account", "create", "--account-id", B]);
    v.user(A, "reader", None);
    v.user(A, "nobody", None);
    v.user(A, "denied", Some(&allow(&["s3:*"], "*")));
    v.user(
        B,
        "carol",
        Some(&allow(&["s3:GetObject"], "arn:aws:s3:::shared/*")),
    );
    v.user(
        B,
        "dave",
        Some(&allow(&["s3:GetObject"], "arn:aws:s3:::shared/*")),
    );
    v.user(B, "erin", None);
    let user = |acct: &str, name: &str| format!("arn:aws:iam::{acct}:user/{name}");
    v.resource_policy(
        "arn:aws:s3:::shared",
        &json!({"Version": "2012-10-17", "Statement": [
            statement("ReaderReads", "Allow", &[user(A, "reader")], "s3:GetObject", "arn:aws:s3:::shared/*"),
            {"Sid": "ReaderListsReports", "Effect": "Allow", "Principal": {"AWS": user(A, "reader")},
             "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::shared",
             "Condition": {"StringEquals": {"s3:prefix": "reports/"}}},
            statement("NoDenied", "Deny", &[user(A, "denied")], "s3:GetObject", "arn:aws:s3:::shared/*"),
            statement("OtherAccountReads", "Allow", &[user(B, "carol"), user(B, "erin")],
                      "s3:GetObject", "arn:aws:s3:::shared/*"),
        ]}),
    );
    let trust_ec2 = v.file(
        "trust-ec2.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    let trust_account = v.file(
        "trust-account.json",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{A}:root")}, "Action": "sts:AssumeRole"}]})
        .to_string(),
    );
    let writes = v.file(
        "writes.json",
        &allow(&["s3:PutObject", "s3:GetObject"], "arn:aws:s3:::shared/*"),
    );
    for (role, trust) in [("web", &trust_ec2), ("writer", &trust_account)] {
        v.cli(A, &["role", "create", role, "--trust-policy", trust]);
        v.cli(
            A,
            &[
                "policy",
                "put-inline",
                "--role",
                role,
                "--name",
                "writes",
                "--document",
                &writes,
            ],
        );
    }
    v.cli(A, &["instance-profile", "create", "web"]);
    v.cli(A, &["instance-profile", "add-role", "web", "web"]);
    let key = v.tmp.join("instance.key");
    run_in(
        &v.tmp,
        &["instance", "keygen", "--out", key.to_str().unwrap()],
    )
    .ok();
    let reg = v
        .cli(
            A,
            &[
                "instance",
                "register",
                "web-1",
                "--instance-profile",
                "web",
                "--public-key-file",
                &format!("{}.pub", key.display()),
                "--output",
                "json",
            ],
        )
        .json();
    reg["instance_id"].as_str().unwrap().to_owned()
}

#[test]
fn objstore_behind_the_vault_with_boto3() {
    let mut v = Vault::init();
    let instance_id = setup_world(&mut v);
    v.serve();
    let key = v.tmp.join("instance.key");
    let token_file = v.file("container-token", "bearer");
    let mut agent = Command::new(env!("CARGO_BIN_EXE_iamvault"));
    agent
        .args(["agent", "--endpoint", &v.url, "--listen", "127.0.0.1:0"])
        .arg("--instance-key")
        .arg(&key)
        .args(["--container-token-file", &token_file]);
    let (_agent, agent_url) = spawn_until(agent, "iamvault agent listening on ");
    let (svc_id, svc_secret) = v.keys["objstore-svc"].clone();
    let mut store = Command::new(objstore_binary());
    store
        .args(["--vault", &v.url, "--listen", "127.0.0.1:0", "--root"])
        .arg(v.tmp.join("objects"))
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", svc_id)
        .env("AWS_SECRET_ACCESS_KEY", svc_secret);
    let (_store, store_url) = spawn_until(store, "objstore listening on ");

    // Without any client: an unsigned request is refused in S3's XML.
    let r = reqwest::blocking::get(format!("{store_url}/shared/x")).unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body = r.text().unwrap();
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(body.contains("<Resource>/shared/x</Resource>"), "{body}");

    let Some(py) = python() else { return };
    let keys: serde_json::Map<String, Value> = v
        .keys
        .iter()
        .map(|(n, (id, s))| (n.clone(), json!({"id": id, "secret": s})))
        .collect();
    let keys_file = v.file("keys.json", &Value::Object(keys).to_string());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/test_objstore.py");
    let out = Command::new(py)
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &v.tmp)
        .env("IAMVAULT_ENDPOINT", &v.url)
        .env("IAMVAULT_OBJSTORE", &store_url)
        .env("IAMVAULT_AGENT", &agent_url)
        .env("IAMVAULT_INSTANCE_ID", &instance_id)
        .env("IAMVAULT_BIN", env!("CARGO_BIN_EXE_iamvault"))
        .env("IAMVAULT_DATA_DIR", &v.dir)
        .env("IAMVAULT_OBJSTORE_KEYS", &keys_file)
        .env("AWS_SHARED_CREDENTIALS_FILE", v.credentials_file())
        .env("AWS_CONFIG_FILE", v.tmp.join("aws-config"))
        .env("AWS_PROFILE", "iamvault-admin")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "{text}");
    // Nothing was written outside the bucket directories.
    let objects: Vec<String> = std::fs::read_dir(v.tmp.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(objects, ["shared"]);
    assert!(!v.tmp.join("escape").exists());
    for e in std::fs::read_dir(v.tmp.join("objects/shared")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains('/') && !name.starts_with('.'), "{name}");
    }
}

/// A client request signed for `s3` by `key`, as a service would receive it.
fn signed_s3(
    method: &str,
    target: &str,
    key: &(String, String),
    body: &[u8],
) -> iamvault::sigv4::OwnedRequest {
    use iamvault::sigv4::{OwnedRequest, SigningParams, SigningSettings, sign_with};
    let mut req = OwnedRequest::new(method, target)
        .with_header("host", "objects.internal:9000")
        .with_body(body.to_vec());
    sign_with(
        &mut req,
        &SigningParams {
            access_key_id: &key.0,
            secret_access_key: key.1.as_bytes(),
            session_token: None,
            region: "us-east-1",
            service: "s3",
            settings: SigningSettings {
                content_sha256_header: true,
                ..SigningSettings::default()
            },
        },
        iamvault::clock::Clock::now(&iamvault::clock::SystemClock),
    )
    .unwrap();
    req
}

fn client_request(req: &iamvault::sigv4::OwnedRequest) -> iamvault::service::ClientRequest {
    iamvault::service::ClientRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        headers: req.headers.clone(),
        body_sha256: iamvault::client::authorizer::sha256_hex(&req.body),
        source_ip: Some("192.0.2.10".into()),
        secure_transport: false,
    }
}

#[test]
fn authorizer_and_layer_against_the_real_vault() {
    use iamvault::client::authorizer::{AuthorizeLayer, Authorized, Authorizer};
    use iamvault::client::{Credentials, authorizer::RequestChecks};
    use iamvault::model::SecretString;
    use iamvault::service::{AuthorizeRequest, Check};

    let mut v = Vault::init();
    service_user(&mut v);
    v.user(A, "alice", None);
    v.user(A, "bob", None);
    v.resource_policy(
        "arn:aws:s3:::reports",
        &json!({"Version": "2012-10-17", "Statement": [statement("AliceReads", "Allow",
            &[format!("arn:aws:iam::{A}:user/alice")], "s3:GetObject", "arn:aws:s3:::reports/*")]}),
    );
    v.serve();
    let (svc_id, svc_secret) = v.keys["objstore-svc"].clone();
    let creds = Credentials {
        access_key_id: svc_id,
        secret_access_key: SecretString::new(svc_secret),
        session_token: None,
    };
    let authorizer =
        Arc::new(Authorizer::new(&v.url, creds, Arc::new(iamvault::clock::SystemClock)).unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ask = |req: &iamvault::sigv4::OwnedRequest| {
        let call = AuthorizeRequest {
            request: client_request(req),
            checks: vec![Check {
                action: "s3:GetObject".into(),
                resource: "arn:aws:s3:::reports/2026/q3.csv".into(),
            }],
            context: serde_json::Map::new(),
        };
        rt.block_on(authorizer.authorize(&call)).unwrap()
    };
    let alice = v.keys["alice"].clone();
    let answer = ask(&signed_s3("GET", "/reports/2026/q3.csv", &alice, b""));
    assert!(answer.all_allowed(), "{answer:?}");
    let p = answer.principal.as_ref().unwrap();
    assert_eq!(p.arn, format!("arn:aws:iam::{A}:user/alice"));
    assert_eq!(answer.access_key_id.as_deref(), Some(alice.0.as_str()));
    assert!(
        answer.results[0]
            .matched_statements
            .iter()
            .any(|m| m.sid == "AliceReads")
    );

    let answer = ask(&signed_s3(
        "GET",
        "/reports/2026/q3.csv",
        &v.keys["bob"],
        b"",
    ));
    assert!(answer.authenticated && !answer.all_allowed(), "{answer:?}");
    assert_eq!(answer.results[0].decision, "implicitDeny");

    let mut tampered = signed_s3("GET", "/reports/2026/q3.csv", &alice, b"");
    tampered.path = "/reports/2026/q4.csv".into();
    let answer = ask(&tampered);
    assert!(!answer.authenticated);
    assert_eq!(answer.error.unwrap().code, "SignatureDoesNotMatch");

    // The layer in front of an axum app, served on loopback.
    let layer = AuthorizeLayer::new(
        Arc::clone(&authorizer),
        |parts: &axum::http::request::Parts| {
            RequestChecks::from(Check {
                action: "s3:GetObject".into(),
                resource: format!("arn:aws:s3:::{}", parts.uri.path().trim_start_matches('/')),
            })
        },
    );
    let app = axum::Router::new()
        .fallback(
            |axum::Extension(who): axum::Extension<Authorized>| async move { who.principal.arn },
        )
        .layer(layer);
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let send = |key: &(String, String), path: &str| {
        let req = signed_s3("GET", path, key, b"");
        let mut b = reqwest::blocking::Client::new().get(format!("http://{addr}{path}"));
        for (k, val) in &req.headers {
            if k != "host" {
                b = b.header(k.as_str(), val.as_str());
            }
        }
        // The signature covers the host the client used.
        let r = b.header("host", "objects.internal:9000").send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let (status, body) = send(&alice, "/reports/2026/q3.csv");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, format!("arn:aws:iam::{A}:user/alice"));
    let (status, body) = send(&v.keys["bob"], "/reports/2026/q3.csv");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"), "{body}");
    let (status, body) = send(&alice, "/other/file");
    assert_eq!(status, 403, "{body}");
}
