//! `iamvault group …`

use clap::Subcommand;
use serde_json::json;

use super::{Ctx, Output};
use crate::error::Result;

/// Group commands.
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Create a group.
    #[command(after_help = "Example:\n  iamvault group create developers --path /engineering/")]
    Create {
        /// Group name (1-128 of letters, digits and +=,.@_-).
        name: String,
        /// Path.
        #[arg(long)]
        path: Option<String>,
    },
    /// Show a group and its members.
    #[command(after_help = "Example:\n  iamvault group get developers")]
    Get {
        /// Group name.
        name: String,
    },
    /// List groups, optionally under a path prefix.
    #[command(after_help = "Example:\n  iamvault group list")]
    List {
        /// Only groups whose path starts with this.
        #[arg(long)]
        path_prefix: Option<String>,
    },
    /// Delete a group; --force first removes members and policies.
    #[command(after_help = "Example:\n  iamvault group delete developers --force")]
    Delete {
        /// Group name.
        name: String,
        /// Remove members and policies first, in one transaction.
        #[arg(long)]
        force: bool,
    },
    /// Add a user to a group.
    #[command(after_help = "Example:\n  iamvault group add-user developers alice")]
    AddUser {
        /// Group name.
        group: String,
        /// User name.
        user: String,
    },
    /// Remove a user from a group.
    #[command(after_help = "Example:\n  iamvault group remove-user developers alice")]
    RemoveUser {
        /// Group name.
        group: String,
        /// User name.
        user: String,
    },
    /// List the groups a user belongs to.
    #[command(after_help = "Example:\n  iamvault group list-for-user alice")]
    ListForUser {
        /// User name.
        user: String,
    },
}

pub(super) fn run(c: &Ctx, cmd: GroupCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        GroupCmd::Create { name, path } => {
            Output::doc(json!({ "Group": v.create_group(who, req, &name, path.as_deref())? }))
        }
        GroupCmd::Get { name } => {
            Output::doc(serde_json::to_value(v.get_group(who, req, &name)?).unwrap_or_default())
        }
        GroupCmd::List { path_prefix } => {
            Output::doc(json!({ "Groups": v.list_groups(who, req, path_prefix.as_deref())? }))
        }
        GroupCmd::Delete { name, force } => {
            v.delete_group(who, req, &name, force)?;
            Output::done(format!("deleted group {name}"))
        }
        GroupCmd::AddUser { group, user } => {
            v.add_user_to_group(who, req, &group, &user)?;
            Output::done(format!("added {user} to {group}"))
        }
        GroupCmd::RemoveUser { group, user } => {
            v.remove_user_from_group(who, req, &group, &user)?;
            Output::done(format!("removed {user} from {group}"))
        }
        GroupCmd::ListForUser { user } => {
            Output::doc(json!({ "Groups": v.list_groups_for_user(who, req, &user)? }))
        }
    })
}
