//! `iamvault backup` and `iamvault restore`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{Ctx, Output};
use crate::clock::Env;
use crate::error::Result;
use crate::service::Vault;

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (must not exist). It holds secrets only sealed; the
    /// master key is not in it.
    #[arg(long)]
    to: PathBuf,
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file.
    #[arg(long)]
    from: PathBuf,
    /// The master key file of the vault the backup was taken from (mode 0600).
    #[arg(long)]
    master_key: PathBuf,
}

pub(super) fn backup(c: &Ctx, a: BackupArgs) -> Result<Output> {
    let r = c.vault.backup(&c.caller, &a.to)?;
    Ok(Output {
        note: Some(format!(
            "wrote a consistent copy to {} ({} audit records, chain {}); keep the master key ({}) separately: the backup cannot be opened without it",
            r.file,
            r.audit_records,
            if r.audit_ok { "verified" } else { "BROKEN" },
            c.vault
                .data_dir()
                .map(|d| d.join(crate::crypto::MASTER_KEY_FILE).display().to_string())
                .unwrap_or_default()
        )),
        json: serde_json::to_value(&r).unwrap_or_default(),
        exit: 0,
        lines: false,
    })
}

pub(super) fn restore(
    data_dir: &Path,
    a: RestoreArgs,
    passphrase: Option<&crate::model::SecretString>,
) -> Result<Output> {
    let r = Vault::restore(data_dir, &a.from, &a.master_key, passphrase, Env::system())?;
    Ok(Output {
        note: Some(format!(
            "restored into {} ({} audit records, chain verified)",
            data_dir.display(),
            r.audit_records
        )),
        json: serde_json::to_value(&r).unwrap_or_default(),
        exit: 0,
        lines: false,
    })
}
