//! `iamvault user …`

use clap::Subcommand;
use serde_json::json;

use super::{Ctx, Output, parse_tags};
use crate::error::Result;
use crate::store::EntityKind;

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user.
    #[command(
        after_help = "Example:\n  iamvault user create alice --path /engineering/ --tag team=platform"
    )]
    Create {
        /// User name (1-64 of letters, digits and +=,.@_-).
        name: String,
        /// Path, such as /engineering/.
        #[arg(long)]
        path: Option<String>,
        /// ARN of a managed policy to use as the permissions boundary.
        #[arg(long)]
        permissions_boundary: Option<String>,
        /// A tag, KEY=VALUE; repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Show a user, with its tags and boundary.
    #[command(after_help = "Example:\n  iamvault user get alice")]
    Get {
        /// User name.
        name: String,
    },
    /// List users, optionally under a path prefix.
    #[command(after_help = "Example:\n  iamvault user list --path-prefix /engineering/")]
    List {
        /// Only users whose path starts with this.
        #[arg(long)]
        path_prefix: Option<String>,
    },
    /// Rename a user or change its path.
    #[command(
        after_help = "Example:\n  iamvault user update alice --new-name alice.smith --new-path /ops/"
    )]
    Update {
        /// Current user name.
        name: String,
        /// New name.
        #[arg(long)]
        new_name: Option<String>,
        /// New path.
        #[arg(long)]
        new_path: Option<String>,
    },
    /// Delete a user; --force first removes its keys, memberships and policies.
    #[command(after_help = "Example:\n  iamvault user delete alice --force")]
    Delete {
        /// User name.
        name: String,
        /// Remove access keys, group memberships and policies first, in one transaction.
        #[arg(long)]
        force: bool,
    },
    /// Add or replace tags on a user.
    #[command(
        after_help = "Example:\n  iamvault user tag alice --tag team=platform --tag cost-center=42"
    )]
    Tag {
        /// User name.
        name: String,
        /// A tag, KEY=VALUE; repeatable.
        #[arg(long = "tag", required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a user.
    #[command(after_help = "Example:\n  iamvault user untag alice --key team")]
    Untag {
        /// User name.
        name: String,
        /// A tag key; repeatable.
        #[arg(long = "key", required = true)]
        keys: Vec<String>,
    },
    /// List a user's tags.
    #[command(after_help = "Example:\n  iamvault user tags alice")]
    Tags {
        /// User name.
        name: String,
    },
    /// Set a user's permissions boundary.
    #[command(
        after_help = "Example:\n  iamvault user set-boundary alice --policy-arn arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    )]
    SetBoundary {
        /// User name.
        name: String,
        /// The managed policy to use as the boundary.
        #[arg(long)]
        policy_arn: String,
    },
    /// Clear a user's sign-in lockout.
    #[command(after_help = "Example:\n  iamvault user unlock alice")]
    Unlock {
        /// User name.
        name: String,
    },
    /// Show sign-in lock and unlock events, newest first.
    #[command(after_help = "Example:\n  iamvault user lockouts alice")]
    Lockouts {
        /// Only this user.
        name: Option<String>,
    },
    /// Remove a user's permissions boundary.
    #[command(after_help = "Example:\n  iamvault user delete-boundary alice")]
    DeleteBoundary {
        /// User name.
        name: String,
    },
}

pub(super) fn run(c: &Ctx, cmd: UserCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        UserCmd::Create {
            name,
            path,
            permissions_boundary,
            tags,
        } => {
            let u = v.create_user(
                who,
                req,
                &name,
                path.as_deref(),
                permissions_boundary.as_deref(),
                &parse_tags(&tags)?,
            )?;
            Output::doc(json!({ "User": u }))
        }
        UserCmd::Get { name } => Output::doc(json!({ "User": v.get_user(who, req, Some(&name))? })),
        UserCmd::List { path_prefix } => {
            Output::doc(json!({ "Users": v.list_users(who, req, path_prefix.as_deref())? }))
        }
        UserCmd::Update {
            name,
            new_name,
            new_path,
        } => Output::doc(
            json!({ "User": v.update_user(who, req, &name, new_name.as_deref(), new_path.as_deref())? }),
        ),
        UserCmd::Delete { name, force } => {
            v.delete_user(who, req, &name, force)?;
            Output::done(format!("deleted user {name}"))
        }
        UserCmd::Tag { name, tags } => {
            v.tag_user(who, req, &name, &parse_tags(&tags)?)?;
            Output::done(format!("tagged user {name}"))
        }
        UserCmd::Untag { name, keys } => {
            v.untag_user(who, req, &name, &keys)?;
            Output::done(format!("untagged user {name}"))
        }
        UserCmd::Tags { name } => {
            Output::doc(json!({ "Tags": v.list_user_tags(who, req, &name)? }))
        }
        UserCmd::SetBoundary { name, policy_arn } => {
            v.put_permissions_boundary(who, req, EntityKind::User, &name, &policy_arn)?;
            Output::done(format!("set the permissions boundary of user {name}"))
        }
        UserCmd::Unlock { name } => {
            let was = v.unlock_user(who, req, &name)?;
            Output::done(if was {
                format!("unlocked {name}")
            } else {
                format!("{name} was not locked")
            })
        }
        UserCmd::Lockouts { name } => {
            let events: Vec<serde_json::Value> = v
                .lockout_events(who, req, name.as_deref())?
                .into_iter()
                .map(|e| json!({"Time": crate::service::iso8601(&e.at), "UserName": e.name_canon, "Event": e.event, "Actor": e.actor}))
                .collect();
            Output::doc(json!({ "Events": events }))
        }
        UserCmd::DeleteBoundary { name } => {
            v.delete_permissions_boundary(who, req, EntityKind::User, &name)?;
            Output::done(format!("removed the permissions boundary of user {name}"))
        }
    })
}
