//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The result of one CLI run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Parses stdout as exactly one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts success and returns self.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A temporary vault directory and a way to run the binary against it.
pub struct Vault {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Vault {
    /// A fresh, uninitialised data directory path inside a temp dir.
    pub fn empty() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        Self { _tmp: tmp, dir }
    }

    /// A vault initialised with a fixed account id.
    pub fn init() -> Self {
        let v = Self::empty();
        v.run(&["init", "--account-id", "123456789012", "--output", "json"])
            .ok();
        v
    }

    /// Runs `iamvault --data-dir DIR ARGS…`.
    pub fn run(&self, args: &[&str]) -> Run {
        run_in(&self.dir, args)
    }

    /// Runs with `--output json` and returns the document, asserting success.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["--output", "json"]);
        self.run(&a).ok().json()
    }

    /// Writes a file inside the temp dir and returns its path.
    pub fn file(&self, name: &str, body: &str) -> String {
        let p = self.dir.parent().unwrap().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    }

    /// The bytes of the database and its WAL, as they sit on disk.
    pub fn raw_db(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in ["vault.db", "vault.db-wal"] {
            if let Ok(b) = std::fs::read(self.dir.join(f)) {
                out.extend(b);
            }
        }
        out
    }
}

/// Runs the binary with `--data-dir dir` first.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_iamvault"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("IAMVAULT_DATA_DIR")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// True if `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
