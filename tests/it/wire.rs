//! A real `iamvault serve` driven with hand-built requests, for the attack suite and the
//! race tests: the server is started with a chosen environment (and its log kept in a
//! file), requests are signed with the crate's own SigV4 signer and may be altered after
//! signing, and every answer is kept whole (status, headers, body).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use iamvault::client::credentials_file::read_profile;
use iamvault::client::{Credentials, form_urlencoded, parse_xml};
use iamvault::clock::{Clock, SystemClock};
use iamvault::model::SecretString;
use iamvault::sigv4::{self, OwnedRequest, SigningParams, SigningSettings};
use serde_json::Value;
use time::OffsetDateTime;

use crate::support::{Run, run_in};

/// The account every test vault is made with.
pub const ACCOUNT: &str = "123456789012";

const STS_ACTIONS: &[&str] = &[
    "AssumeRole",
    "GetSessionToken",
    "GetCallerIdentity",
    "GetAccessKeyInfo",
    "DecodeAuthorizationMessage",
];

/// The signing name and API version of an action.
pub fn service_of(action: &str) -> (&'static str, &'static str) {
    if STS_ACTIONS.contains(&action) {
        ("sts", "2011-06-15")
    } else {
        ("iam", "2010-05-08")
    }
}

/// The wall clock, as the server under test reads it.
pub fn now() -> OffsetDateTime {
    SystemClock.now()
}

/// One whole HTTP answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    /// Lowercase names, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    /// The AWS error code of an XML error, or the `error` field of a JSON one.
    pub fn code(&self) -> String {
        if let Some(rest) = self.body.split("<Code>").nth(1) {
            return rest.split("</Code>").next().unwrap_or("").to_owned();
        }
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default()
    }

    /// Asserts HTTP 200 and returns `<ActionResult>` as JSON.
    pub fn result(&self, action: &str) -> Value {
        assert_eq!(self.status, 200, "{action} failed: {}", self.body);
        let doc = parse_xml(&self.body).unwrap();
        doc.get(format!("{action}Result"))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Asserts a refusal with this status and code.
    pub fn refused(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "expected {status} {code}, got: {}",
            self.body
        );
    }

    /// Every header and the body as one text, for leak scans.
    pub fn everything(&self) -> String {
        let mut s = format!("{}\n", self.status);
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\n"));
        }
        s.push_str(&self.body);
        s
    }
}

/// Credentials out of an STS `Credentials` element.
pub fn session_creds(result: &Value) -> Credentials {
    let c = &result["Credentials"];
    Credentials {
        access_key_id: c["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: SecretString::new(c["SecretAccessKey"].as_str().unwrap().to_owned()),
        session_token: Some(SecretString::new(
            c["SessionToken"].as_str().unwrap().to_owned(),
        )),
    }
}

/// Long-term credentials out of a `CreateAccessKey` result.
pub fn key_creds(result: &Value) -> Credentials {
    let k = &result["AccessKey"];
    Credentials {
        access_key_id: k["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: SecretString::new(k["SecretAccessKey"].as_str().unwrap().to_owned()),
        session_token: None,
    }
}

/// A running server on a fresh vault; killed when dropped.
pub struct Live {
    child: Child,
    pub url: String,
    /// `127.0.0.1:PORT`, the `host` every request signs.
    pub host: String,
    pub dir: PathBuf,
    /// The temp dir around `dir`, for files the tests write.
    pub tmp: PathBuf,
    _tmp: tempfile::TempDir,
    /// The bootstrap `admin` user (AdministratorAccess).
    pub admin: Credentials,
    /// What `init` printed (it holds the root password).
    pub init_stdout: String,
    /// The server's stderr (its log).
    pub log: PathBuf,
    http: reqwest::blocking::Client,
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Live {
    /// Initializes a vault, lets `setup` prepare it with the local CLI, then serves it.
    pub fn start_with(setup: impl FnOnce(&Path), env: &[(&str, &str)]) -> Self {
        let t = tempfile::tempdir().unwrap();
        let tmp = t.path().to_owned();
        let dir = tmp.join("data");
        let init = run_in(&dir, &["init", "--account-id", ACCOUNT]).ok();
        setup(&dir);
        let log = tmp.join("serve.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamvault"));
        cmd.arg("--data-dir")
            .arg(&dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("IAMVAULT_DATA_DIR")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Readiness: the server prints this line once it accepts connections.
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
        let host = url.trim_start_matches("http://").to_owned();
        let admin = read_profile(&dir.join("bootstrap-credentials"), "iamvault-admin").unwrap();
        Live {
            child,
            url,
            host,
            dir,
            tmp,
            _tmp: t,
            admin,
            init_stdout: init.stdout,
            log,
            http: reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    /// A fresh vault, served as is.
    pub fn start() -> Self {
        Self::start_with(|_| {}, &[])
    }

    /// Stops the server the way an operator does (SIGTERM) and waits until it exited
    /// cleanly, so its log is complete (the log writer flushes on the way out).
    pub fn stop(&mut self) {
        let pid = self.child.id();
        // The shell's `kill` builtin: no procps needed on a minimal machine.
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the server exited with {status}");
    }

    /// Runs the local CLI against the served data directory.
    pub fn cli(&self, args: &[&str]) -> Run {
        run_in(&self.dir, args)
    }

    /// The form body of `action` with its version and `params`.
    /// AssumeRole with `params`; the session's credentials.
    pub fn assume(&self, creds: &Credentials, params: &[(&str, &str)]) -> Credentials {
        session_creds(&self.call(creds, "AssumeRole", params).result("AssumeRole"))
    }

    pub fn form(action: &str, params: &[(&str, &str)]) -> String {
        let (_, version) = service_of(action);
        let mut pairs = vec![("Action", action), ("Version", version)];
        pairs.extend_from_slice(params);
        form_urlencoded(&pairs)
    }

    /// `POST /` with a form body, signed in the header form like the SDKs do.
    pub fn request(&self, target: &str, body: &str) -> OwnedRequest {
        OwnedRequest::new("POST", target)
            .with_header("host", &self.host)
            .with_header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .with_body(body.as_bytes().to_vec())
    }

    /// Signs `req` as `creds` for `service` at `at`, with the session token signed or not.
    pub fn sign_at(
        req: &mut OwnedRequest,
        creds: &Credentials,
        service: &str,
        at: OffsetDateTime,
        token_signed: bool,
    ) {
        sigv4::sign_with(
            req,
            &SigningParams {
                access_key_id: &creds.access_key_id,
                secret_access_key: creds.secret_access_key.expose().as_bytes(),
                session_token: creds.session_token.as_ref().map(SecretString::expose),
                region: "us-east-1",
                service,
                settings: SigningSettings {
                    session_token_signed: token_signed,
                    ..SigningSettings::default()
                },
            },
            at,
        )
        .unwrap();
    }

    /// Sends `req` exactly as it is (reqwest supplies `host` from the URL; every other
    /// header is sent, repeated ones included).
    pub fn send(&self, req: &OwnedRequest) -> Resp {
        let url = format!("{}{}", self.url, req.target());
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut b = self.http.request(method, url).body(req.body.clone());
        for (k, v) in &req.headers {
            if !k.eq_ignore_ascii_case("host") {
                b = b.header(k.as_str(), v.as_str());
            }
        }
        Self::whole(b.send().unwrap())
    }

    fn whole(r: reqwest::blocking::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Resp {
            status,
            headers,
            body: r.text().unwrap(),
        }
    }

    /// A signed Query call as `creds`.
    pub fn call(&self, creds: &Credentials, action: &str, params: &[(&str, &str)]) -> Resp {
        let mut req = self.request("/", &Self::form(action, params));
        Self::sign_at(&mut req, creds, service_of(action).0, now(), true);
        self.send(&req)
    }

    /// A signed Query call as the admin that must succeed; its result.
    pub fn admin(&self, action: &str, params: &[(&str, &str)]) -> Value {
        self.call(&self.admin, action, params).result(action)
    }

    /// A user with an optional inline policy and one access key.
    pub fn user(&self, name: &str, policy: Option<&str>) -> Credentials {
        self.admin("CreateUser", &[("UserName", name)]);
        if let Some(p) = policy {
            self.admin(
                "PutUserPolicy",
                &[
                    ("UserName", name),
                    ("PolicyName", "inline"),
                    ("PolicyDocument", p),
                ],
            );
        }
        key_creds(&self.admin("CreateAccessKey", &[("UserName", name)]))
    }

    /// The access key ids of a user, as the admin sees them.
    pub fn key_ids(&self, user: &str) -> Vec<String> {
        match &self.admin("ListAccessKeys", &[("UserName", user)])["AccessKeyMetadata"] {
            Value::Array(a) => a
                .iter()
                .map(|k| k["AccessKeyId"].as_str().unwrap().to_owned())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `POST /vault/v1/login` with a raw body.
    pub fn login_raw(&self, body: &[u8]) -> Resp {
        let r = self
            .http
            .post(format!("{}/vault/v1/login", self.url))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .unwrap();
        Self::whole(r)
    }

    /// `POST /vault/v1/login` for a user of the test account.
    pub fn login(&self, user: &str, password: &str, mfa: Option<&str>) -> Resp {
        let mut v = serde_json::json!({
            "account_id": ACCOUNT, "user_name": user, "password": password,
        });
        if let Some(c) = mfa {
            v["mfa_code"] = Value::String(c.to_owned());
        }
        self.login_raw(v.to_string().as_bytes())
    }

    /// A plain unauthenticated request.
    pub fn plain(&self, method: &str, target: &str, body: &[u8]) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = self
            .http
            .request(m, format!("{}{target}", self.url))
            .body(body.to_vec())
            .send()
            .unwrap();
        Self::whole(r)
    }
}

/// An identity policy allowing `actions` on `resource`.
pub fn allow(actions: &[&str], resource: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]
    })
    .to_string()
}
