//! A real `iamvault serve` on a free loopback port, for tests that use it over the wire.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Server {
    /// Initializes a vault (account 123456789012) and serves it.
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        crate::support::run_in(&dir, &["init", "--account-id", "123456789012"]).ok();
        let mut child = Command::new(env!("CARGO_BIN_EXE_iamvault"))
            .arg("--data-dir")
            .arg(&dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
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
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            url,
            dir,
            _tmp: tmp,
        }
    }

    /// The bootstrap credentials file of the admin user.
    pub fn credentials_file(&self) -> PathBuf {
        self.dir.join("bootstrap-credentials")
    }

    /// Runs a Python test script from `tests/clients/` with the venv's interpreter, with
    /// the endpoint and the admin's credentials in its environment. Returns None (and
    /// says so) when no interpreter was provided.
    pub fn run_python(&self, script: &str) -> Option<(bool, String)> {
        let python = python()?;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients")
            .join(script);
        let out = Command::new(python)
            .arg(path)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.parent().unwrap())
            .env("IAMVAULT_ENDPOINT", &self.url)
            .env("IAMVAULT_BIN", env!("CARGO_BIN_EXE_iamvault"))
            .env(
                "IAMVAULT_AWS_CLI",
                std::env::var("IAMVAULT_AWS_CLI").unwrap_or_default(),
            )
            .env("AWS_SHARED_CREDENTIALS_FILE", self.credentials_file())
            .env(
                "AWS_CONFIG_FILE",
                self.dir.parent().unwrap().join("aws-config"),
            )
            .env("AWS_PROFILE", "iamvault-admin")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some((out.status.success(), text))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python interpreter with boto3, awscli and pyotp, from `IAMVAULT_PYTHON`. In CI its
/// absence is a failure; elsewhere the test prints that it skipped.
pub fn python() -> Option<String> {
    match std::env::var("IAMVAULT_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "IAMVAULT_PYTHON must be set in CI (scripts/test sets it)"
            );
            eprintln!("skipped: IAMVAULT_PYTHON not set (run scripts/test)");
            None
        }
    }
}
