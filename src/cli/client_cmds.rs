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
}

pub(super) fn rotate(a: RotateKeyArgs) -> Result<Output> {
    let path = match a.credentials_file {
        Some(p) => p,
        None => default_path()?,
    };
    let client = Client::new(&a.endpoint, Arc::new(SystemClock))?;
    let r = rotate_key(&client, &path, &a.profile)?;
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
    })
}
