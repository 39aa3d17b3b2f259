//! `iamvault instance-profile …`

use clap::Subcommand;
use serde_json::json;

use super::{Ctx, Output};
use crate::error::Result;

/// Instance profile commands.
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Create an instance profile.
    #[command(after_help = "Example:\n  iamvault instance-profile create web-hosts")]
    Create {
        /// Instance profile name (1-128 of letters, digits and +=,.@_-).
        name: String,
        /// Path.
        #[arg(long)]
        path: Option<String>,
    },
    /// Show an instance profile and its role.
    #[command(after_help = "Example:\n  iamvault instance-profile get web-hosts")]
    Get {
        /// Instance profile name.
        name: String,
    },
    /// List instance profiles.
    #[command(after_help = "Example:\n  iamvault instance-profile list")]
    List {
        /// Only profiles whose path starts with this.
        #[arg(long)]
        path_prefix: Option<String>,
    },
    /// List the instance profiles that hold a role.
    #[command(after_help = "Example:\n  iamvault instance-profile list-for-role web")]
    ListForRole {
        /// Role name.
        role: String,
    },
    /// Put a role into an instance profile (at most one; needs iam:PassRole on the role).
    #[command(after_help = "Example:\n  iamvault instance-profile add-role web-hosts web")]
    AddRole {
        /// Instance profile name.
        profile: String,
        /// Role name.
        role: String,
    },
    /// Take the role out of an instance profile.
    #[command(after_help = "Example:\n  iamvault instance-profile remove-role web-hosts web")]
    RemoveRole {
        /// Instance profile name.
        profile: String,
        /// Role name.
        role: String,
    },
    /// Delete an instance profile; --force first removes its role.
    #[command(after_help = "Example:\n  iamvault instance-profile delete web-hosts --force")]
    Delete {
        /// Instance profile name.
        name: String,
        /// Remove the role first, in one transaction.
        #[arg(long)]
        force: bool,
    },
}

pub(super) fn run(c: &Ctx, cmd: ProfileCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        ProfileCmd::Create { name, path } => Output::doc(
            json!({ "InstanceProfile": v.create_instance_profile(who, req, &name, path.as_deref())? }),
        ),
        ProfileCmd::Get { name } => {
            Output::doc(json!({ "InstanceProfile": v.get_instance_profile(who, req, &name)? }))
        }
        ProfileCmd::List { path_prefix } => Output::doc(
            json!({ "InstanceProfiles": v.list_instance_profiles(who, req, path_prefix.as_deref())? }),
        ),
        ProfileCmd::ListForRole { role } => Output::doc(
            json!({ "InstanceProfiles": v.list_instance_profiles_for_role(who, req, &role)? }),
        ),
        ProfileCmd::AddRole { profile, role } => {
            v.add_role_to_instance_profile(who, req, &profile, &role)?;
            Output::done(format!("added role {role} to instance profile {profile}"))
        }
        ProfileCmd::RemoveRole { profile, role } => {
            v.remove_role_from_instance_profile(who, req, &profile, &role)?;
            Output::done(format!(
                "removed role {role} from instance profile {profile}"
            ))
        }
        ProfileCmd::Delete { name, force } => {
            v.delete_instance_profile(who, req, &name, force)?;
            Output::done(format!("deleted instance profile {name}"))
        }
    })
}
