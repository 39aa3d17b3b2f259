//! `iamvault login` and `iamvault credential-process`: temporary credentials for the AWS
//! tools.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Client, Credentials};
use crate::error::{Error, Result};
use crate::model::SecretString;

/// Temporary credentials with their expiry, as `credential_process` prints them.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessCredentials {
    /// Always 1.
    pub version: u8,
    /// `ASIA…`
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
    /// ISO 8601.
    pub expiration: String,
}

impl ProcessCredentials {
    fn from_json(v: &Value) -> Result<Self> {
        let get = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Error::Remote(
                        "MalformedResponse".into(),
                        format!("the credentials have no {k}"),
                    )
                })
        };
        Ok(Self {
            version: 1,
            access_key_id: get("AccessKeyId")?,
            secret_access_key: get("SecretAccessKey")?,
            session_token: get("SessionToken")?,
            expiration: get("Expiration")?,
        })
    }

    /// As AWS credentials.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: SecretString::new(self.secret_access_key.clone()),
            session_token: Some(SecretString::new(self.session_token.clone())),
        }
    }

    /// When they expire.
    pub fn expires(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(&self.expiration, &Rfc3339).ok()
    }
}

/// What the login API returned.
pub struct LoginResult {
    /// The credentials.
    pub credentials: ProcessCredentials,
    /// Whether MFA was checked.
    pub mfa: bool,
}

/// Calls `POST /vault/v1/login`.
pub fn login(
    endpoint: &str,
    account: &str,
    user: &str,
    password: &SecretString,
    mfa_code: Option<&str>,
    new_password: Option<&SecretString>,
    duration_seconds: Option<i64>,
) -> Result<LoginResult> {
    let body = zeroize::Zeroizing::new(
        serde_json::json!({
            "account_id": account,
            "user_name": user,
            "password": password.expose(),
            "mfa_code": mfa_code,
            "new_password": new_password.map(SecretString::expose),
            "duration_seconds": duration_seconds,
        })
        .to_string(),
    );
    let http = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(|e| Error::Config(format!("cannot build the http client: {e}")))?;
    let resp = http
        .post(format!("{}/vault/v1/login", endpoint.trim_end_matches('/')))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .map_err(|e| {
            Error::Remote(
                "RequestFailed".into(),
                format!("cannot reach {endpoint}: {e}"),
            )
        })?;
    let status = resp.status();
    let text = zeroize::Zeroizing::new(resp.text().map_err(|e| {
        Error::Remote(
            "RequestFailed".into(),
            format!("cannot read the login answer: {e}"),
        )
    })?);
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        Error::Remote(
            "MalformedResponse".into(),
            format!("the login answer is not json: {e}"),
        )
    })?;
    if !status.is_success() {
        let code = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("UnknownError");
        let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(match code {
            "AuthenticationFailed" => Error::AuthenticationFailed,
            "PasswordChangeRequired" => {
                Error::PasswordChangeRequired(format!("{msg} Pass --new-password-file."))
            }
            "PasswordPolicyViolation" => Error::PasswordPolicyViolation(msg.to_owned()),
            other => Error::Remote(other.to_owned(), msg.to_owned()),
        });
    }
    let creds = v.get("Credentials").ok_or_else(|| {
        Error::Remote(
            "MalformedResponse".into(),
            "the login answer has no Credentials".into(),
        )
    })?;
    Ok(LoginResult {
        credentials: ProcessCredentials::from_json(creds)?,
        mfa: v
            .get("MfaAuthenticated")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// Temporary credentials from a long-term profile: GetSessionToken, or AssumeRole when
/// `role_arn` is given; with `mfa` = (serial, code).
pub fn session_from_profile(
    client: &Client,
    source: &Credentials,
    role_arn: Option<&str>,
    mfa: Option<(&str, &str)>,
) -> Result<ProcessCredentials> {
    let result = match role_arn {
        Some(arn) => {
            let mut params = vec![
                ("RoleArn", arn),
                ("RoleSessionName", "iamvault-credential-process"),
            ];
            if let Some((serial, code)) = mfa {
                params.push(("SerialNumber", serial));
                params.push(("TokenCode", code));
            }
            client.call(source, "sts", "AssumeRole", &params)?
        }
        None => {
            let mut params = Vec::new();
            if let Some((serial, code)) = mfa {
                params.push(("SerialNumber", serial));
                params.push(("TokenCode", code));
            }
            client.call(source, "sts", "GetSessionToken", &params)?
        }
    };
    let creds = result.get("Credentials").ok_or_else(|| {
        Error::Remote(
            "MalformedResponse".into(),
            "no Credentials in the answer".into(),
        )
    })?;
    ProcessCredentials::from_json(creds)
}

/// The cache file of `credential-process` for one (endpoint, profile, role) combination.
pub fn cache_path(dir: &Path, endpoint: &str, profile: &str, role_arn: Option<&str>) -> PathBuf {
    let key = format!("{endpoint}|{profile}|{}", role_arn.unwrap_or(""));
    let d = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    dir.join(format!(
        "{}.json",
        hex::encode(d.as_ref().get(..16).unwrap_or_default())
    ))
}

/// Cached credentials that are still good for at least five minutes.
pub fn read_cache(path: &Path, now: OffsetDateTime) -> Option<ProcessCredentials> {
    let text = zeroize::Zeroizing::new(fs::read_to_string(path).ok()?);
    let c: ProcessCredentials = serde_json::from_str(&text).ok()?;
    (c.expires()? - now > time::Duration::minutes(5)).then_some(c)
}

/// Writes the cache file (mode 0600, atomically).
pub fn write_cache(path: &Path, c: &ProcessCredentials) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .map_err(|e| Error::Config(format!("cannot create `{}`: {e}", dir.display())))?;
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let body = zeroize::Zeroizing::new(
        serde_json::to_string(c).map_err(|e| Error::Internal(e.to_string()))?,
    );
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(body.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| Error::Config(format!("cannot write the cache `{}`: {e}", path.display())))
}
