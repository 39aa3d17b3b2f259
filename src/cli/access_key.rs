//! `iamvault access-key …`

use clap::Subcommand;
use serde_json::json;

use super::{Ctx, Output};
use crate::error::Result;
use crate::service::parse_status;

/// Access key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Create an access key for a user (at most two); the secret is shown only now.
    #[command(after_help = "Example:\n  iamvault --output json access-key create --user alice")]
    Create {
        /// User name.
        #[arg(long)]
        user: String,
    },
    /// List a user's access keys (never the secrets).
    #[command(after_help = "Example:\n  iamvault access-key list --user alice")]
    List {
        /// User name.
        #[arg(long)]
        user: String,
    },
    /// Activate or deactivate an access key.
    #[command(
        after_help = "Example:\n  iamvault access-key update --user alice AKIAEXAMPLEEXAMPLE22 --status Inactive"
    )]
    Update {
        /// User name.
        #[arg(long)]
        user: String,
        /// Access key id.
        access_key_id: String,
        /// Active or Inactive.
        #[arg(long)]
        status: String,
    },
    /// Delete an access key.
    #[command(
        after_help = "Example:\n  iamvault access-key delete --user alice AKIAEXAMPLEEXAMPLE22"
    )]
    Delete {
        /// User name.
        #[arg(long)]
        user: String,
        /// Access key id.
        access_key_id: String,
    },
    /// Show when, where and with which service a key was last used.
    #[command(after_help = "Example:\n  iamvault access-key last-used AKIAEXAMPLEEXAMPLE22")]
    LastUsed {
        /// Access key id.
        access_key_id: String,
    },
}

pub(super) fn run(c: &Ctx, cmd: KeyCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        KeyCmd::Create { user } => {
            let k = v.create_access_key(who, req, Some(&user))?;
            Output::doc(json!({ "AccessKey": k }))
        }
        KeyCmd::List { user } => {
            Output::doc(json!({ "AccessKeyMetadata": v.list_access_keys(who, req, Some(&user))? }))
        }
        KeyCmd::Update {
            user,
            access_key_id,
            status,
        } => {
            v.update_access_key(
                who,
                req,
                Some(&user),
                &access_key_id,
                parse_status(&status)?,
            )?;
            Output::done(format!("access key {access_key_id} is now {status}"))
        }
        KeyCmd::Delete {
            user,
            access_key_id,
        } => {
            v.delete_access_key(who, req, Some(&user), &access_key_id)?;
            Output::done(format!("deleted access key {access_key_id}"))
        }
        KeyCmd::LastUsed { access_key_id } => Output::doc(
            serde_json::to_value(v.get_access_key_last_used(who, req, &access_key_id)?)
                .unwrap_or_default(),
        ),
    })
}
