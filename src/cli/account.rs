//! `iamvault account …`

use clap::Subcommand;
use serde_json::json;

use super::{Ctx, Output};
use crate::error::Result;
use crate::model::AccountId;
use crate::service::Caller;

/// Account commands.
#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Create another account in this vault (for cross-account trust).
    #[command(after_help = "Example:\n  iamvault account create --account-id 210987654321")]
    Create {
        /// The 12-digit account id.
        #[arg(long)]
        account_id: String,
    },
    /// List the accounts in this vault.
    #[command(after_help = "Example:\n  iamvault account list")]
    List,
}

pub(super) fn run(c: &Ctx, cmd: AccountCmd) -> Result<Output> {
    Ok(match cmd {
        AccountCmd::Create { account_id } => {
            let id = AccountId::parse(&account_id)?;
            let pw = c.vault.create_account(&id, None)?;
            let root = Caller::root(&id);
            Output {
                note: Some(format!(
                    "created account {id} (root {}); root password, shown once: {}",
                    root.arn,
                    pw.as_ref()
                        .map(|p| p.expose().to_owned())
                        .unwrap_or_default()
                )),
                json: json!({ "account_id": id.as_str(), "root_arn": root.arn, "root_password": pw.as_ref().map(|p| p.expose().to_owned()) }),
                exit: 0,
                lines: false,
            }
        }
        AccountCmd::List => {
            let ids: Vec<String> = c
                .vault
                .accounts()?
                .into_iter()
                .map(|a| a.to_string())
                .collect();
            Output::doc(json!({ "Accounts": ids }))
        }
    })
}
