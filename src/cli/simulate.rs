//! `iamvault simulate`: evaluate a request against policies and explain the decision.

use clap::Args;
use serde_json::json;

use super::{Ctx, Output, read_document};
use crate::error::Result;
use crate::service::{SimulationInput, parse_context_entry};

/// Arguments of `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The action to simulate, such as iam:CreateUser.
    #[arg(long)]
    action: String,
    /// The resource ARN (default `*`).
    #[arg(long)]
    resource: Option<String>,
    /// An identity policy document to evaluate; repeatable.
    #[arg(long = "policy-file")]
    policy_files: Vec<String>,
    /// Evaluate this user's stored policies (its own, its groups' and its boundary).
    #[arg(long)]
    user: Option<String>,
    /// A permissions boundary document (replaces a stored one).
    #[arg(long)]
    boundary_file: Option<String>,
    /// A session policy document; repeatable.
    #[arg(long = "session-policy-file")]
    session_policy_files: Vec<String>,
    /// A resource-based policy document on the resource.
    #[arg(long)]
    resource_policy_file: Option<String>,
    /// The account that owns the resource (default: the caller's).
    #[arg(long)]
    resource_owner: Option<String>,
    /// The simulated caller's ARN: a user, a root or an assumed-role session.
    #[arg(long)]
    caller_arn: Option<String>,
    /// A context entry KEY=TYPE:VALUE (types as AWS's ContextKeyType: string, stringList,
    /// numeric, boolean, ip, date, binary, …; lists comma-separated); repeatable.
    #[arg(long = "context")]
    context: Vec<String>,
}

pub(super) fn run(c: &Ctx, a: SimulateArgs) -> Result<Output> {
    let input = SimulationInput {
        identity_policies: a
            .policy_files
            .iter()
            .map(|f| read_document(f))
            .collect::<Result<_>>()?,
        principal_user: a.user,
        boundary: a.boundary_file.as_deref().map(read_document).transpose()?,
        session_policies: a
            .session_policy_files
            .iter()
            .map(|f| read_document(f))
            .collect::<Result<_>>()?,
        resource_policy: a
            .resource_policy_file
            .as_deref()
            .map(read_document)
            .transpose()?,
        resource_owner: a.resource_owner,
        caller_arn: a.caller_arn,
        action: a.action,
        resource: a.resource,
        context: a
            .context
            .iter()
            .map(|s| parse_context_entry(s))
            .collect::<Result<_>>()?,
    };
    let r = c.vault.simulate(&c.caller, &c.req, &input)?;
    let mut note = format!("{}\n{}", r.decision, r.reason);
    for m in &r.matched_statements {
        note.push_str(&format!(
            "\n  {} {} ({}) statement {}",
            m.effect, m.policy_id, m.policy_type, m.statement
        ));
    }
    let exit = if r.decision == "allowed" { 0 } else { 2 };
    Ok(Output {
        json: json!(r),
        note: Some(note),
        exit,
        lines: false,
    })
}
