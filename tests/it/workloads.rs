//! An EC2-like workload: a real server and a real agent on loopback, with unmodified boto3
//! and the AWS CLI in a child process whose environment holds no credentials.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::server::{Server, python};
use crate::support::run_in;

const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

struct Agent(std::process::Child);
impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_agent(url: &str, key: &Path, token_file: &Path) -> (Agent, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamvault"))
        .args(["agent", "--endpoint", url, "--listen", "127.0.0.1:0"])
        .arg("--instance-key")
        .arg(key)
        .arg("--container-token-file")
        .arg(token_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let agent_url = loop {
        let line = lines.next().expect("agent exited").unwrap();
        if let Some(u) = line.strip_prefix("iamvault agent listening on ") {
            break u.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Agent(child), agent_url)
}

#[test]
fn unmodified_sdks_get_role_credentials_from_the_agent() {
    let server = Server::start();
    let tmp = server.dir.parent().unwrap().to_owned();
    let trust = tmp.join("trust.json");
    std::fs::write(&trust, EC2_TRUST).unwrap();
    run_in(
        &server.dir,
        &[
            "role",
            "create",
            "web",
            "--trust-policy",
            trust.to_str().unwrap(),
        ],
    )
    .ok();
    run_in(
        &server.dir,
        &[
            "policy",
            "attach",
            "--role",
            "web",
            "--policy-arn",
            "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
        ],
    )
    .ok();
    run_in(&server.dir, &["instance-profile", "create", "web"]).ok();
    run_in(&server.dir, &["instance-profile", "add-role", "web", "web"]).ok();
    let key = tmp.join("instance.key");
    run_in(
        &tmp,
        &["instance", "keygen", "--out", key.to_str().unwrap()],
    )
    .ok();
    let reg = run_in(
        &server.dir,
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
    .ok()
    .json();
    let instance_id = reg["instance_id"].as_str().unwrap().to_owned();
    let token_file = tmp.join("container-token");
    // botocore sends the file as is, so it must not end with a newline.
    std::fs::write(&token_file, "secret-bearer-token").unwrap();
    let (_agent, agent_url) = start_agent(&server.url, &key, &token_file);
    let imds_get = |path: &str| {
        let http = reqwest::blocking::Client::new();
        let token = http
            .put(format!("{agent_url}/latest/api/token"))
            .header("X-aws-ec2-metadata-token-ttl-seconds", "60")
            .send()
            .unwrap()
            .text()
            .unwrap();
        http.get(format!("{agent_url}{path}"))
            .header("X-aws-ec2-metadata-token", token)
            .send()
            .unwrap()
    };
    assert_eq!(
        imds_get("/latest/meta-data/instance-id").text().unwrap(),
        instance_id
    );

    if let Some(py) = python() {
        run_sdks(&py, &server, &tmp, &agent_url, &instance_id, &token_file);
    }

    // With the vault gone, the agent keeps serving the credentials it has until they expire.
    drop(server);
    let r = imds_get("/latest/meta-data/iam/security-credentials/web");
    assert!(r.status().is_success());
    let creds: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    assert!(creds["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
}

fn run_sdks(
    py: &str,
    server: &Server,
    tmp: &Path,
    agent_url: &str,
    instance_id: &str,
    token_file: &Path,
) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/test_workloads.py");
    let out = Command::new(py)
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", tmp)
        .env("IAMVAULT_ENDPOINT", &server.url)
        .env("IAMVAULT_AGENT", agent_url)
        .env("IAMVAULT_INSTANCE_ID", instance_id)
        .env("IAMVAULT_CONTAINER_TOKEN_FILE", token_file)
        .env(
            "IAMVAULT_AWS_CLI",
            std::env::var("IAMVAULT_AWS_CLI").unwrap_or_default(),
        )
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "{text}");
}

#[test]
fn instance_operations_over_the_wire_need_pass_role() {
    use iamvault::client::{Client, credentials_file::read_profile};
    use std::sync::Arc;
    let server = Server::start();
    let tmp = server.dir.parent().unwrap().to_owned();
    let trust = tmp.join("trust.json");
    std::fs::write(&trust, EC2_TRUST).unwrap();
    run_in(
        &server.dir,
        &[
            "role",
            "create",
            "db",
            "--trust-policy",
            trust.to_str().unwrap(),
        ],
    )
    .ok();
    run_in(&server.dir, &["instance-profile", "create", "db"]).ok();
    run_in(&server.dir, &["instance-profile", "add-role", "db", "db"]).ok();
    let client = Client::new(&server.url, Arc::new(iamvault::clock::SystemClock)).unwrap();
    let admin = read_profile(&server.credentials_file(), "iamvault-admin").unwrap();
    let key = tmp.join("i.key");
    run_in(
        &tmp,
        &["instance", "keygen", "--out", key.to_str().unwrap()],
    )
    .ok();
    let public = std::fs::read_to_string(format!("{}.pub", key.display()))
        .unwrap()
        .trim()
        .to_owned();
    // A user allowed to register but not to pass the role is refused.
    run_in(&server.dir, &["user", "create", "ops"]).ok();
    let p = tmp.join("p.json");
    std::fs::write(&p, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"vault:RegisterInstance","Resource":"*"}]}"#).unwrap();
    run_in(
        &server.dir,
        &[
            "policy",
            "put-inline",
            "--user",
            "ops",
            "--name",
            "reg",
            "--document",
            p.to_str().unwrap(),
        ],
    )
    .ok();
    let k = run_in(
        &server.dir,
        &["access-key", "create", "--user", "ops", "--output", "json"],
    )
    .ok()
    .json();
    let ops = iamvault::client::Credentials {
        access_key_id: k["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: iamvault::model::SecretString::new(
            k["AccessKey"]["SecretAccessKey"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
        session_token: None,
    };
    let body = serde_json::json!({"name": "db-1", "instance_profile": "db", "public_key": public});
    let e = client
        .vault_json(&ops, "/vault/v1/instances/register", &body)
        .err()
        .unwrap();
    assert_eq!(e.code(), "AccessDenied");
    assert!(e.to_string().contains("iam:PassRole"), "{e}");
    // The administrator registers, lists and deregisters.
    let reg = client
        .vault_json(&admin, "/vault/v1/instances/register", &body)
        .unwrap();
    let id = reg["instance_id"].as_str().unwrap().to_owned();
    let list = client
        .vault_json(&admin, "/vault/v1/instances/list", &serde_json::json!({}))
        .unwrap();
    assert_eq!(list["Instances"][0]["instance_id"], id.as_str());
    client
        .vault_json(
            &admin,
            "/vault/v1/instances/deregister",
            &serde_json::json!({"instance_id": id}),
        )
        .unwrap();
    // Unsigned calls are refused by the one verifier.
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/vault/v1/instances/list", server.url))
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}
