//! Commands that talk to a running server: `rotate-key`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use super::Output;
use crate::client::Client;
use crate::client::credentials_file::default_path;
use crate::client::rotate::rotate_key;
use crate::clock::SystemClock;
use crate::error::Result;

/// Arguments of `rotate-key`.
#[derive(Debug, Args)]
pub struct RotateKeyArgs {
    /// The vault's URL, such as http://127.0.0.1:8900.
    #[arg(long)]
    endpoint: String,
    /// The profile whose key is rotated.
    #[arg(long)]
    profile: String,
    /// The credentials file (default: AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials).
    #[arg(long)]
    credentials_file: Option<PathBuf>,
    /// The MFA device serial, when policy requires MFA for IAM calls.
    #[arg(long)]
    mfa_serial: Option<String>,
    /// The MFA code (prompted on the terminal when absent and --mfa-serial is given).
    #[arg(long)]
    mfa_code: Option<String>,
}

pub(super) fn rotate(a: RotateKeyArgs) -> Result<Output> {
    let path = match a.credentials_file {
        Some(p) => p,
        None => default_path()?,
    };
    let client = Client::new(&a.endpoint, Arc::new(SystemClock))?;
    let code = match (&a.mfa_serial, &a.mfa_code) {
        (Some(_), Some(c)) => Some(c.clone()),
        (Some(serial), None) => Some(
            rpassword::prompt_password(format!("MFA code for {serial}: ")).map_err(|e| {
                crate::error::Error::InvalidInput(format!("cannot read the code: {e}"))
            })?,
        ),
        (None, _) => None,
    };
    let r = rotate_key(
        &client,
        &path,
        &a.profile,
        a.mfa_serial.as_deref().zip(code.as_deref()),
    )?;
    Ok(Output {
        note: Some(format!(
            "rotated profile {} in {}: {} -> {} ({}); the old key is deleted",
            a.profile,
            path.display(),
            r.old_access_key_id,
            r.new_access_key_id,
            r.arn
        )),
        json: json!(r),
        exit: 0,
        lines: false,
    })
}

/// Output formats of `login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginFormat {
    /// AWS's `credential_process` JSON.
    CredentialProcess,
    /// `export AWS_…` lines for a shell.
    Env,
    /// The login API's JSON.
    Json,
}

/// Arguments of `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The vault's URL.
    #[arg(long)]
    endpoint: String,
    /// The 12-digit account id.
    #[arg(long)]
    account: String,
    /// The user name.
    #[arg(long)]
    user: String,
    /// File holding the password (one trailing newline stripped); prompted without echo
    /// when absent.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// The current TOTP code (prompted when the terminal is interactive and absent).
    #[arg(long)]
    mfa_code: Option<String>,
    /// File holding a new password, when the old one has expired or must be reset.
    #[arg(long)]
    new_password_file: Option<PathBuf>,
    /// Session length in seconds (900-129600).
    #[arg(long, value_parser = clap::value_parser!(i64).range(900..=129_600))]
    duration: Option<i64>,
    /// How to print the credentials.
    #[arg(long, value_enum, default_value_t = LoginFormat::Json)]
    format: LoginFormat,
    /// Write the credentials into this profile of the AWS credentials file.
    #[arg(long)]
    profile: Option<String>,
    /// The credentials file (default: AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials).
    #[arg(long)]
    credentials_file: Option<PathBuf>,
}

fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

pub(super) fn login(a: LoginArgs) -> Result<Output> {
    use crate::client::login::login as call_login;
    use crate::error::Error;
    let password = match &a.password_file {
        Some(p) => super::init::read_secret_file(p)?,
        None => crate::model::SecretString::new(
            rpassword::prompt_password("Password: ")
                .map_err(|e| Error::InvalidInput(format!("cannot read the password: {e}")))?,
        ),
    };
    let code = match a.mfa_code.clone() {
        Some(c) => Some(c),
        None if interactive() => {
            let c = rpassword::prompt_password("MFA code (empty if none): ")
                .map_err(|e| Error::InvalidInput(format!("cannot read the code: {e}")))?;
            (!c.trim().is_empty()).then_some(c)
        }
        None => None,
    };
    let new_password = a
        .new_password_file
        .as_deref()
        .map(super::init::read_secret_file)
        .transpose()?;
    let r = call_login(
        &a.endpoint,
        &a.account,
        &a.user,
        &password,
        code.as_deref(),
        new_password.as_ref(),
        a.duration,
    )?;
    let c = &r.credentials;
    if let Some(profile) = &a.profile {
        let path = match &a.credentials_file {
            Some(p) => p.clone(),
            None => default_path()?,
        };
        crate::client::credentials_file::write_profile(&path, profile, &c.credentials())?;
        return Ok(Output {
            note: Some(format!(
                "wrote temporary credentials (until {}) to profile {profile} in {}",
                c.expiration,
                path.display()
            )),
            json: json!({ "Profile": profile, "CredentialsFile": path.display().to_string(), "Expiration": c.expiration, "MfaAuthenticated": r.mfa }),
            exit: 0,
            lines: false,
        });
    }
    let (json, note) = match a.format {
        LoginFormat::CredentialProcess => {
            let j = serde_json::to_value(c).unwrap_or_default();
            (j.clone(), j.to_string())
        }
        LoginFormat::Env => (
            serde_json::to_value(c).unwrap_or_default(),
            format!(
                "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_SESSION_TOKEN={}\n# expires {}",
                c.access_key_id, c.secret_access_key, c.session_token, c.expiration
            ),
        ),
        LoginFormat::Json => {
            let j = json!({
                "Credentials": { "AccessKeyId": c.access_key_id, "SecretAccessKey": c.secret_access_key, "SessionToken": c.session_token, "Expiration": c.expiration },
                "MfaAuthenticated": r.mfa,
            });
            (
                j.clone(),
                serde_json::to_string_pretty(&j).unwrap_or_default(),
            )
        }
    };
    Ok(Output {
        note: Some(note),
        json,
        exit: 0,
        lines: false,
    })
}

/// Arguments of `credential-process`.
#[derive(Debug, Args)]
pub struct CredentialProcessArgs {
    /// The vault's URL.
    #[arg(long)]
    endpoint: String,
    /// The profile holding the long-term key.
    #[arg(long)]
    source_profile: String,
    /// Assume this role (else GetSessionToken).
    #[arg(long)]
    role_arn: Option<String>,
    /// The MFA device serial number.
    #[arg(long)]
    mfa_serial: Option<String>,
    /// The MFA code (prompted on the terminal when absent and --mfa-serial is given).
    #[arg(long)]
    mfa_code: Option<String>,
    /// The credentials file (default: AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials).
    #[arg(long)]
    credentials_file: Option<PathBuf>,
    /// Where sessions are cached (default: $XDG_CACHE_HOME/iamvault or ~/.cache/iamvault).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

pub(super) fn credential_process(a: CredentialProcessArgs) -> Result<Output> {
    use crate::client::login::{cache_path, read_cache, session_from_profile, write_cache};
    use crate::error::Error;
    let cache_dir = match a.cache_dir.clone() {
        Some(d) => d,
        None => match std::env::var("XDG_CACHE_HOME")
            .ok()
            .filter(|s| !s.is_empty())
        {
            Some(x) => PathBuf::from(x).join("iamvault"),
            None => PathBuf::from(
                std::env::var("HOME")
                    .map_err(|_| Error::Config("HOME is not set; pass --cache-dir".into()))?,
            )
            .join(".cache")
            .join("iamvault"),
        },
    };
    let clock = SystemClock;
    let cache = cache_path(
        &cache_dir,
        &a.endpoint,
        &a.source_profile,
        a.role_arn.as_deref(),
    );
    let creds = match read_cache(&cache, crate::clock::Clock::now(&clock)) {
        Some(c) => c,
        None => {
            let path = match &a.credentials_file {
                Some(p) => p.clone(),
                None => default_path()?,
            };
            let source = crate::client::credentials_file::read_profile(&path, &a.source_profile)?;
            let code = match (&a.mfa_serial, &a.mfa_code) {
                (Some(_), Some(c)) => Some(c.clone()),
                (Some(serial), None) => Some(
                    rpassword::prompt_password(format!("MFA code for {serial}: "))
                        .map_err(|e| Error::InvalidInput(format!("cannot read the code: {e}")))?,
                ),
                (None, _) => None,
            };
            let mfa = a.mfa_serial.as_deref().zip(code.as_deref());
            let client = Client::new(&a.endpoint, Arc::new(SystemClock))?;
            let c = session_from_profile(&client, &source, a.role_arn.as_deref(), mfa)?;
            write_cache(&cache, &c)?;
            c
        }
    };
    let j = serde_json::to_value(&creds).unwrap_or_default();
    Ok(Output {
        note: Some(j.to_string()),
        json: j,
        exit: 0,
        lines: false,
    })
}
