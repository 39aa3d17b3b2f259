//! `iamvault policy …`: managed policies, versions, attachments and inline policies.

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Ctx, Output, read_document};
use crate::error::Result;
use crate::service::PolicyScope;
use crate::store::EntityKind;

/// Which user, group or role a policy command is about.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// A user name.
    #[arg(long)]
    user: Option<String>,
    /// A group name.
    #[arg(long)]
    group: Option<String>,
    /// A role name.
    #[arg(long)]
    role: Option<String>,
}

impl Target {
    fn split(&self) -> (EntityKind, &str) {
        match (&self.user, &self.group, &self.role) {
            (Some(u), _, _) => (EntityKind::User, u),
            (_, Some(g), _) => (EntityKind::Group, g),
            (_, _, Some(r)) => (EntityKind::Role, r),
            // clap's group makes exactly one of the three present; an empty user name
            // is then rejected by validation.
            (None, None, None) => (EntityKind::User, ""),
        }
    }
}

/// Policy commands.
#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Create a customer managed policy.
    #[command(
        after_help = "Example:\n  iamvault policy create read-reports --document policy.json --description \"Read reports\""
    )]
    Create {
        /// Policy name.
        name: String,
        /// The policy document: a file, file://FILE, or - for stdin.
        #[arg(long)]
        document: String,
        /// Path.
        #[arg(long)]
        path: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Show a managed policy.
    #[command(
        after_help = "Example:\n  iamvault policy get arn:aws:iam::aws:policy/ReadOnlyAccess"
    )]
    Get {
        /// Policy ARN.
        arn: String,
    },
    /// List managed policies.
    #[command(after_help = "Example:\n  iamvault policy list --scope Local --only-attached")]
    List {
        /// All, AWS (vault-provided) or Local (customer).
        #[arg(long, default_value = "All")]
        scope: String,
        /// Only policies attached to something.
        #[arg(long)]
        only_attached: bool,
        /// Only policies whose path starts with this.
        #[arg(long)]
        path_prefix: Option<String>,
    },
    /// Delete a customer managed policy; --force first detaches it and drops old versions.
    #[command(
        after_help = "Example:\n  iamvault policy delete arn:aws:iam::123456789012:policy/read-reports --force"
    )]
    Delete {
        /// Policy ARN.
        arn: String,
        /// Detach it everywhere and delete its versions first, in one transaction.
        #[arg(long)]
        force: bool,
    },
    /// Add a version to a managed policy (at most five).
    #[command(
        after_help = "Example:\n  iamvault policy create-version arn:aws:iam::123456789012:policy/read-reports --document v2.json --set-default"
    )]
    CreateVersion {
        /// Policy ARN.
        arn: String,
        /// The policy document: a file, file://FILE, or - for stdin.
        #[arg(long)]
        document: String,
        /// Make the new version the default.
        #[arg(long)]
        set_default: bool,
    },
    /// Show one version of a managed policy, with its document.
    #[command(
        after_help = "Example:\n  iamvault policy get-version arn:aws:iam::aws:policy/AdministratorAccess v1"
    )]
    GetVersion {
        /// Policy ARN.
        arn: String,
        /// Version id, such as v2.
        version: String,
    },
    /// List the versions of a managed policy.
    #[command(
        after_help = "Example:\n  iamvault policy list-versions arn:aws:iam::123456789012:policy/read-reports"
    )]
    ListVersions {
        /// Policy ARN.
        arn: String,
    },
    /// Delete a version that is not the default.
    #[command(
        after_help = "Example:\n  iamvault policy delete-version arn:aws:iam::123456789012:policy/read-reports v1"
    )]
    DeleteVersion {
        /// Policy ARN.
        arn: String,
        /// Version id.
        version: String,
    },
    /// Make a version the default.
    #[command(
        after_help = "Example:\n  iamvault policy set-default-version arn:aws:iam::123456789012:policy/read-reports v2"
    )]
    SetDefaultVersion {
        /// Policy ARN.
        arn: String,
        /// Version id.
        version: String,
    },
    /// Attach a managed policy to a user, group or role (at most ten each).
    #[command(
        after_help = "Example:\n  iamvault policy attach --group developers --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess"
    )]
    Attach {
        #[command(flatten)]
        target: Target,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Detach a managed policy from a user, group or role.
    #[command(
        after_help = "Example:\n  iamvault policy detach --group developers --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess"
    )]
    Detach {
        #[command(flatten)]
        target: Target,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// List the managed policies attached to a user, group or role.
    #[command(after_help = "Example:\n  iamvault policy list-attached --user alice")]
    ListAttached {
        #[command(flatten)]
        target: Target,
    },
    /// Create or replace an inline policy of a user, group or role.
    #[command(
        after_help = "Example:\n  iamvault policy put-inline --role web --name s3-read --document s3-read.json"
    )]
    PutInline {
        #[command(flatten)]
        target: Target,
        /// Inline policy name.
        #[arg(long)]
        name: String,
        /// The policy document: a file, file://FILE, or - for stdin.
        #[arg(long)]
        document: String,
    },
    /// Show an inline policy.
    #[command(after_help = "Example:\n  iamvault policy get-inline --role web --name s3-read")]
    GetInline {
        #[command(flatten)]
        target: Target,
        /// Inline policy name.
        #[arg(long)]
        name: String,
    },
    /// List the inline policy names of a user, group or role.
    #[command(after_help = "Example:\n  iamvault policy list-inline --role web")]
    ListInline {
        #[command(flatten)]
        target: Target,
    },
    /// Delete an inline policy.
    #[command(after_help = "Example:\n  iamvault policy delete-inline --role web --name s3-read")]
    DeleteInline {
        #[command(flatten)]
        target: Target,
        /// Inline policy name.
        #[arg(long)]
        name: String,
    },
}

pub(super) fn run(c: &Ctx, cmd: PolicyCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        PolicyCmd::Create {
            name,
            document,
            path,
            description,
        } => {
            let doc = read_document(&document)?;
            Output::doc(
                json!({ "Policy": v.create_policy(who, req, &name, path.as_deref(), &doc, description.as_deref())? }),
            )
        }
        PolicyCmd::Get { arn } => Output::doc(json!({ "Policy": v.get_policy(who, req, &arn)? })),
        PolicyCmd::List {
            scope,
            only_attached,
            path_prefix,
        } => Output::doc(json!({
            "Policies": v.list_policies(who, req, PolicyScope::parse(&scope)?, only_attached, path_prefix.as_deref())?
        })),
        PolicyCmd::Delete { arn, force } => {
            v.delete_policy(who, req, &arn, force)?;
            Output::done(format!("deleted policy {arn}"))
        }
        PolicyCmd::CreateVersion {
            arn,
            document,
            set_default,
        } => {
            let doc = read_document(&document)?;
            Output::doc(
                json!({ "PolicyVersion": v.create_policy_version(who, req, &arn, &doc, set_default)? }),
            )
        }
        PolicyCmd::GetVersion { arn, version } => {
            Output::doc(json!({ "PolicyVersion": v.get_policy_version(who, req, &arn, &version)? }))
        }
        PolicyCmd::ListVersions { arn } => {
            Output::doc(json!({ "Versions": v.list_policy_versions(who, req, &arn)? }))
        }
        PolicyCmd::DeleteVersion { arn, version } => {
            v.delete_policy_version(who, req, &arn, &version)?;
            Output::done(format!("deleted version {version} of {arn}"))
        }
        PolicyCmd::SetDefaultVersion { arn, version } => {
            v.set_default_policy_version(who, req, &arn, &version)?;
            Output::done(format!("{version} is now the default version of {arn}"))
        }
        PolicyCmd::Attach { target, policy_arn } => {
            let (k, n) = target.split();
            v.attach_policy(who, req, k, n, &policy_arn)?;
            Output::done(format!("attached {policy_arn} to {n}"))
        }
        PolicyCmd::Detach { target, policy_arn } => {
            let (k, n) = target.split();
            v.detach_policy(who, req, k, n, &policy_arn)?;
            Output::done(format!("detached {policy_arn} from {n}"))
        }
        PolicyCmd::ListAttached { target } => {
            let (k, n) = target.split();
            Output::doc(json!({ "AttachedPolicies": v.list_attached_policies(who, req, k, n)? }))
        }
        PolicyCmd::PutInline {
            target,
            name,
            document,
        } => {
            let (k, n) = target.split();
            v.put_inline_policy(who, req, k, n, &name, &read_document(&document)?)?;
            Output::done(format!("put inline policy {name} on {n}"))
        }
        PolicyCmd::GetInline { target, name } => {
            let (k, n) = target.split();
            Output::doc(
                serde_json::to_value(v.get_inline_policy(who, req, k, n, &name)?)
                    .unwrap_or_default(),
            )
        }
        PolicyCmd::ListInline { target } => {
            let (k, n) = target.split();
            Output::doc(json!({ "PolicyNames": v.list_inline_policies(who, req, k, n)? }))
        }
        PolicyCmd::DeleteInline { target, name } => {
            let (k, n) = target.split();
            v.delete_inline_policy(who, req, k, n, &name)?;
            Output::done(format!("deleted inline policy {name} from {n}"))
        }
    })
}
