//! `iamvault rekey`: change the passphrase that protects the master key.

use std::path::PathBuf;

use clap::Args;

use super::{Ctx, Output, init::read_secret_file};
use crate::crypto::WrapParams;
use crate::error::{Error, Result};

/// Arguments of `rekey`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("new").required(true).args(["new_passphrase_file", "remove_passphrase"])))]
pub struct RekeyArgs {
    /// File holding the new passphrase (one trailing newline is stripped); the current
    /// one comes from the global --passphrase-file.
    #[arg(long)]
    new_passphrase_file: Option<PathBuf>,
    /// Store the master key unwrapped (mode 0600) from now on.
    #[arg(long)]
    remove_passphrase: bool,
}

/// The shortest passphrase accepted.
const MIN_PASSPHRASE: usize = 12;

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
    if let Some(p) = &new
        && p.expose().chars().count() < MIN_PASSPHRASE
    {
        return Err(Error::InvalidInput(format!(
            "the new passphrase must be at least {MIN_PASSPHRASE} characters"
        )));
    }
    c.vault
        .change_passphrase(&c.caller, current, new.as_ref(), WrapParams::default())?;
    Ok(Output::done(if new.is_some() {
        "the master key is now wrapped with the new passphrase; pass it with --passphrase-file (or IAMVAULT_PASSPHRASE_FILE) from now on"
    } else {
        "the master key is now stored unwrapped (mode 0600)"
    }))
}
