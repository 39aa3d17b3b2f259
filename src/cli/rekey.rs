//! `iamvault rekey`: change the passphrase that protects the master key, or the master
//! key itself.

use std::path::PathBuf;

use clap::Args;

use super::{Ctx, Output, init::read_secret_file};
use crate::crypto::WrapParams;
use crate::error::Result;

/// Arguments of `rekey`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("new").required(true).multiple(true).args(["new_passphrase_file", "remove_passphrase", "new_master_key"])))]
pub struct RekeyArgs {
    /// File holding the new passphrase (one trailing newline is stripped); the current
    /// one comes from the global --passphrase-file.
    #[arg(long)]
    new_passphrase_file: Option<PathBuf>,
    /// Store the master key unwrapped (mode 0600) from now on.
    #[arg(long, conflicts_with = "new_passphrase_file")]
    remove_passphrase: bool,
    /// Replace the master key itself: every sealed secret is resealed and every audit
    /// checkpoint re-signed in one transaction. Outstanding session tokens stop working.
    /// The server must be stopped.
    #[arg(long)]
    new_master_key: bool,
}

pub(super) fn run(
    c: &Ctx,
    a: RekeyArgs,
    current: Option<&crate::model::SecretString>,
) -> Result<Output> {
    let new = a
        .new_passphrase_file
        .as_deref()
        .map(read_secret_file)
        .transpose()?;
    if let Some(p) = &new {
        crate::service::check_new_passphrase(p)?;
    }
    if a.new_master_key {
        let wrap = match (&new, a.remove_passphrase) {
            (Some(p), _) => Some(p),
            (None, true) => None,
            (None, false) => current,
        };
        let r = c
            .vault
            .rekey_master(&c.caller, wrap.map(|p| (p, WrapParams::default())))?;
        return Ok(Output {
            note: Some(format!(
                "new master key in place: resealed {} access keys, {} MFA seeds, {} signing keys; re-signed {} audit checkpoints; sessions issued before now no longer work",
                r.access_keys, r.mfa_devices, r.signing_keys, r.checkpoints
            )),
            json: serde_json::to_value(&r).unwrap_or_default(),
            exit: 0,
            lines: false,
        });
    }
    c.vault
        .change_passphrase(&c.caller, current, new.as_ref(), WrapParams::default())?;
    Ok(Output::done(if new.is_some() {
        "the master key is now wrapped with the new passphrase; pass it with --passphrase-file (or IAMVAULT_PASSPHRASE_FILE) from now on"
    } else {
        "the master key is now stored unwrapped (mode 0600)"
    }))
}
