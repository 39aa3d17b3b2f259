//! `iamvault resource-policy …`: bucket-policy style policies on the team's own resources.

use clap::Subcommand;
use serde_json::json;

use super::{Ctx, Output, read_document};
use crate::error::Result;

/// Resource policy commands.
#[derive(Debug, Subcommand)]
pub enum ResourcePolicyCmd {
    /// Attach (or replace) the policy of a resource; it also covers everything under
    /// `ARN/`. The acting account becomes the resource's owner.
    #[command(
        after_help = "Example:\n  iamvault resource-policy put --resource-arn arn:aws:s3:::reports --document reports-policy.json"
    )]
    Put {
        /// The resource, e.g. `arn:aws:s3:::reports`.
        #[arg(long)]
        resource_arn: String,
        /// The policy document: a file, `file://PATH`, or `-` for standard input.
        #[arg(long)]
        document: String,
    },
    /// Show the policy attached to a resource.
    #[command(
        after_help = "Example:\n  iamvault resource-policy get --resource-arn arn:aws:s3:::reports"
    )]
    Get {
        /// The resource.
        #[arg(long)]
        resource_arn: String,
    },
    /// Remove the policy of a resource.
    #[command(
        after_help = "Example:\n  iamvault resource-policy delete --resource-arn arn:aws:s3:::reports"
    )]
    Delete {
        /// The resource.
        #[arg(long)]
        resource_arn: String,
    },
    /// List the account's resource policies, optionally those whose ARN starts with a
    /// prefix.
    #[command(
        after_help = "Example:\n  iamvault resource-policy list --resource-arn arn:aws:s3:::"
    )]
    List {
        /// Only resources whose ARN starts with this.
        #[arg(long, default_value = "")]
        resource_arn: String,
    },
}

pub(super) fn run(c: &Ctx, cmd: ResourcePolicyCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        ResourcePolicyCmd::Put {
            resource_arn,
            document,
        } => {
            let doc = read_document(&document)?;
            let p = v.put_resource_policy(who, req, &resource_arn, &doc)?;
            Output {
                note: Some(format!(
                    "put the policy of {} (owner {})",
                    p.resource_arn, p.account_id
                )),
                json: json!({ "ResourcePolicy": p }),
                exit: 0,
                lines: false,
            }
        }
        ResourcePolicyCmd::Get { resource_arn } => Output::doc(
            json!({ "ResourcePolicy": v.get_resource_policy(who, req, &resource_arn)? }),
        ),
        ResourcePolicyCmd::Delete { resource_arn } => {
            v.delete_resource_policy(who, req, &resource_arn)?;
            Output::done(format!("deleted the policy of {resource_arn}"))
        }
        ResourcePolicyCmd::List { resource_arn } => Output::doc(
            json!({ "ResourcePolicies": v.list_resource_policies(who, req, &resource_arn)? }),
        ),
    })
}
