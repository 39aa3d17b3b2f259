//! `iamvault init`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::Output;
use crate::clock::Env;
use crate::error::{Error, Result};
use crate::model::{AccountId, SecretString};
use crate::service::{InitOptions, Vault};

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The 12-digit account id of the first account (random when absent).
    #[arg(long)]
    pub account_id: Option<String>,
    /// A file holding the root user's password (one trailing newline is stripped). When
    /// absent, a strong password is generated and printed once.
    #[arg(long)]
    pub root_password_file: Option<PathBuf>,
}

/// Reads a secret from a file, stripping exactly one trailing newline.
pub fn read_secret_file(path: &Path) -> Result<SecretString> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::InvalidInput(format!("cannot read `{}`: {e}", path.display())))?,
    );
    let t = text.strip_suffix('\n').unwrap_or(&text);
    let t = t.strip_suffix('\r').unwrap_or(t);
    if t.is_empty() {
        return Err(Error::InvalidInput(format!(
            "`{}` is empty",
            path.display()
        )));
    }
    Ok(SecretString::new(t.to_owned()))
}

pub(super) fn run(
    data_dir: &Path,
    a: InitArgs,
    passphrase: Option<SecretString>,
) -> Result<Output> {
    let opts = InitOptions {
        account_id: a.account_id.as_deref().map(AccountId::parse).transpose()?,
        root_password: a
            .root_password_file
            .as_deref()
            .map(read_secret_file)
            .transpose()?,
        passphrase,
        ..InitOptions::default()
    };
    let (_vault, out) = Vault::init(data_dir, Env::system(), opts)?;
    describe(data_dir, &out)
}

/// What `init` prints, also printed by `serve` when it initializes an empty directory.
pub(super) fn describe(data_dir: &Path, out: &crate::service::InitOutput) -> Result<Output> {
    let json = serde_json::to_value(out)
        .map_err(|e| Error::Internal(format!("cannot encode the result: {e}")))?;
    let mut note = format!(
        "Created a vault in {}\n  account:        {}\n  root user:      {}\n",
        data_dir.display(),
        out.account_id,
        out.root_arn
    );
    if let Some(p) = &out.root_password {
        note.push_str(&format!(
            "  root password:  {}   (shown once; store it now)\n",
            p.expose()
        ));
    }
    note.push_str(&format!(
        "  admin user:     {} (AdministratorAccess)\n  access key id:  {}\n  secret key:     written to {} (profile iamvault-admin)",
        out.admin_user,
        out.admin_access_key_id,
        out.credentials_file.display()
    ));
    Ok(Output {
        json,
        note: Some(note),
        exit: 0,
        lines: false,
    })
}
