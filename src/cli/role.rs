//! `iamvault role …`

use clap::Subcommand;
use serde_json::json;

use super::{Ctx, Output, parse_tags, read_document};
use crate::error::Result;
use crate::service::NewRole;
use crate::store::EntityKind;

/// Role commands.
#[derive(Debug, Subcommand)]
pub enum RoleCmd {
    /// Create a role with a trust policy.
    #[command(
        after_help = "Example:\n  iamvault role create web --trust-policy trust.json --max-session-duration 7200"
    )]
    Create {
        /// Role name (1-64 of letters, digits and +=,.@_-).
        name: String,
        /// The trust policy document: a file, file://FILE, or - for stdin.
        #[arg(long)]
        trust_policy: String,
        /// Path.
        #[arg(long)]
        path: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Maximum session duration in seconds, 3600-43200.
        #[arg(long)]
        max_session_duration: Option<i64>,
        /// ARN of a managed policy to use as the permissions boundary.
        #[arg(long)]
        permissions_boundary: Option<String>,
        /// A tag, KEY=VALUE; repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Show a role.
    #[command(after_help = "Example:\n  iamvault role get web")]
    Get {
        /// Role name.
        name: String,
    },
    /// List roles.
    #[command(after_help = "Example:\n  iamvault role list --path-prefix /service/")]
    List {
        /// Only roles whose path starts with this.
        #[arg(long)]
        path_prefix: Option<String>,
    },
    /// Change a role's description or maximum session duration.
    #[command(after_help = "Example:\n  iamvault role update web --max-session-duration 43200")]
    Update {
        /// Role name.
        name: String,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// New maximum session duration in seconds, 3600-43200.
        #[arg(long)]
        max_session_duration: Option<i64>,
    },
    /// Replace a role's trust policy.
    #[command(after_help = "Example:\n  iamvault role update-trust web --trust-policy trust.json")]
    UpdateTrust {
        /// Role name.
        name: String,
        /// The trust policy document: a file, file://FILE, or - for stdin.
        #[arg(long)]
        trust_policy: String,
    },
    /// Delete a role; --force first removes it from instance profiles and drops its policies.
    #[command(after_help = "Example:\n  iamvault role delete web --force")]
    Delete {
        /// Role name.
        name: String,
        /// Remove instance profile memberships and policies first, in one transaction.
        #[arg(long)]
        force: bool,
    },
    /// Add or replace tags on a role.
    #[command(after_help = "Example:\n  iamvault role tag web --tag env=prod")]
    Tag {
        /// Role name.
        name: String,
        /// A tag, KEY=VALUE; repeatable.
        #[arg(long = "tag", required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a role.
    #[command(after_help = "Example:\n  iamvault role untag web --key env")]
    Untag {
        /// Role name.
        name: String,
        /// A tag key; repeatable.
        #[arg(long = "key", required = true)]
        keys: Vec<String>,
    },
    /// List a role's tags.
    #[command(after_help = "Example:\n  iamvault role tags web")]
    Tags {
        /// Role name.
        name: String,
    },
    /// Set a role's permissions boundary.
    #[command(
        after_help = "Example:\n  iamvault role set-boundary web --policy-arn arn:aws:iam::123456789012:policy/web-boundary"
    )]
    SetBoundary {
        /// Role name.
        name: String,
        /// The managed policy to use as the boundary.
        #[arg(long)]
        policy_arn: String,
    },
    /// Invalidate every session of a role issued before now.
    #[command(after_help = "Example:\n  iamvault role revoke-sessions web")]
    RevokeSessions {
        /// Role name.
        name: String,
    },
    /// Remove a role's permissions boundary.
    #[command(after_help = "Example:\n  iamvault role delete-boundary web")]
    DeleteBoundary {
        /// Role name.
        name: String,
    },
}

pub(super) fn run(c: &Ctx, cmd: RoleCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        RoleCmd::Create {
            name,
            trust_policy,
            path,
            description,
            max_session_duration,
            permissions_boundary,
            tags,
        } => {
            let doc = read_document(&trust_policy)?;
            let tags = parse_tags(&tags)?;
            let role = v.create_role(
                who,
                req,
                &NewRole {
                    name: &name,
                    path: path.as_deref(),
                    trust_policy: &doc,
                    description: description.as_deref(),
                    max_session_duration,
                    boundary: permissions_boundary.as_deref(),
                    tags: &tags,
                },
            )?;
            Output::doc(json!({ "Role": role }))
        }
        RoleCmd::Get { name } => Output::doc(json!({ "Role": v.get_role(who, req, &name)? })),
        RoleCmd::List { path_prefix } => {
            Output::doc(json!({ "Roles": v.list_roles(who, req, path_prefix.as_deref())? }))
        }
        RoleCmd::Update {
            name,
            description,
            max_session_duration,
        } => {
            v.update_role(
                who,
                req,
                &name,
                description.as_deref(),
                max_session_duration,
            )?;
            Output::doc(json!({ "Role": v.get_role(who, req, &name)? }))
        }
        RoleCmd::UpdateTrust { name, trust_policy } => {
            v.update_assume_role_policy(who, req, &name, &read_document(&trust_policy)?)?;
            Output::done(format!("replaced the trust policy of role {name}"))
        }
        RoleCmd::Delete { name, force } => {
            v.delete_role(who, req, &name, force)?;
            Output::done(format!("deleted role {name}"))
        }
        RoleCmd::Tag { name, tags } => {
            v.tag_role(who, req, &name, &parse_tags(&tags)?)?;
            Output::done(format!("tagged role {name}"))
        }
        RoleCmd::Untag { name, keys } => {
            v.untag_role(who, req, &name, &keys)?;
            Output::done(format!("untagged role {name}"))
        }
        RoleCmd::Tags { name } => {
            Output::doc(json!({ "Tags": v.list_role_tags(who, req, &name)? }))
        }
        RoleCmd::SetBoundary { name, policy_arn } => {
            v.put_permissions_boundary(who, req, EntityKind::Role, &name, &policy_arn)?;
            Output::done(format!("set the permissions boundary of role {name}"))
        }
        RoleCmd::RevokeSessions { name } => {
            let arn = v.revoke_role_sessions(who, req, &name)?;
            Output::done(format!("revoked every session of {arn} issued before now"))
        }
        RoleCmd::DeleteBoundary { name } => {
            v.delete_permissions_boundary(who, req, EntityKind::Role, &name)?;
            Output::done(format!("removed the permissions boundary of role {name}"))
        }
    })
}
