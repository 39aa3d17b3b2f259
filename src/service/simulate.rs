//! Policy simulation: evaluates one request against given or stored policies and explains
//! the decision. Backs `iamvault simulate` and, on the wire, `SimulateCustomPolicy` and
//! `SimulatePrincipalPolicy`.

use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Caller, RequestContext, Vault, name};
use crate::error::{Error, Result};
use crate::model::NameKind;
use crate::policy::{self, CompiledPolicy, ContextValue, PolicyKind, PolicySet, PrincipalInfo};

/// What to simulate.
#[derive(Debug, Clone, Default)]
pub struct SimulationInput {
    /// Identity policy documents to evaluate (custom policies).
    pub identity_policies: Vec<String>,
    /// A user whose stored policies (own, groups', boundary) are evaluated too.
    pub principal_user: Option<String>,
    /// A permissions boundary document (replaces a stored one).
    pub boundary: Option<String>,
    /// Session policy documents.
    pub session_policies: Vec<String>,
    /// A resource-based policy document on the resource.
    pub resource_policy: Option<String>,
    /// The account that owns the resource (default: the caller's).
    pub resource_owner: Option<String>,
    /// The ARN of the simulated caller: a user, a root, or an assumed-role session.
    pub caller_arn: Option<String>,
    /// The action, such as `iam:CreateUser`.
    pub action: String,
    /// The resource ARN, default `*`.
    pub resource: Option<String>,
    /// Context entries; they override the keys the simulator fills in.
    pub context: Vec<(String, ContextValue)>,
}

/// One statement that applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedStatementOut {
    /// The policy's id: a managed policy ARN, `user/NAME/POLICY` for inline ones, or
    /// `PolicyInputList.N` / `SessionPolicy.N` / `PermissionsBoundary` / `ResourcePolicy`
    /// for given documents.
    pub policy_id: String,
    /// `identity-based policy`, `permissions boundary`, `session policy` or
    /// `resource-based policy`.
    pub policy_type: &'static str,
    /// The statement's Sid, or its zero-based index.
    pub statement: String,
    /// `Allow` or `Deny`.
    pub effect: &'static str,
}

/// The simulator's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimulationResult {
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: &'static str,
    /// The statements that applied.
    pub matched_statements: Vec<MatchedStatementOut>,
    /// Why: the AWS denial message, or which statements allowed it.
    pub reason: String,
}

/// Parses a typed context entry `KEY=TYPE:VALUE`, where TYPE is one of AWS's
/// `ContextKeyType` values (`string`, `stringList`, `numeric`, `numericList`, `boolean`,
/// `booleanList`, `ip`, `ipList`, `date`, `dateList`, `binary`, `binaryList`); list values
/// are separated by commas.
pub fn parse_context_entry(s: &str) -> Result<(String, ContextValue)> {
    let bad = |why: &str| {
        Error::InvalidInput(format!(
            "context entry `{s}`: {why}; expected KEY=TYPE:VALUE"
        ))
    };
    let (key, rest) = s.split_once('=').ok_or_else(|| bad("no `=`"))?;
    let (ty, value) = rest
        .split_once(':')
        .ok_or_else(|| bad("no `:` after the type"))?;
    let values: Vec<&str> = value.split(',').collect();
    Ok((
        key.to_owned(),
        context_value(ty, &values).map_err(|e| bad(&e))?,
    ))
}

/// Builds a typed context value from AWS's `ContextKeyType` and its text values.
pub fn context_value(ty: &str, values: &[&str]) -> std::result::Result<ContextValue, String> {
    let one = || -> std::result::Result<&str, String> {
        match values {
            [v] => Ok(*v),
            _ => Err(format!("type `{ty}` takes exactly one value")),
        }
    };
    Ok(match ty {
        "string" => ContextValue::String(one()?.to_owned()),
        "numeric" => ContextValue::Number(
            one()?
                .parse()
                .map_err(|_| format!("`{}` is not a number", one().unwrap_or("")))?,
        ),
        "boolean" => match one()? {
            "true" => ContextValue::Bool(true),
            "false" => ContextValue::Bool(false),
            v => return Err(format!("`{v}` is not true or false")),
        },
        "ip" => ContextValue::Ip(
            one()?
                .parse()
                .map_err(|_| format!("`{}` is not an ip address", one().unwrap_or("")))?,
        ),
        "date" => ContextValue::Date(parse_date(one()?)?),
        "binary" => {
            use base64::Engine as _;
            ContextValue::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(one()?)
                    .map_err(|_| "the value is not base64".to_owned())?,
            )
        }
        "stringList" | "numericList" | "booleanList" | "ipList" | "dateList" | "binaryList" => {
            ContextValue::StringList(values.iter().map(|v| (*v).to_owned()).collect())
        }
        other => return Err(format!("unknown type `{other}`")),
    })
}

fn parse_date(v: &str) -> std::result::Result<OffsetDateTime, String> {
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        return Ok(t);
    }
    v.parse::<i64>()
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| format!("`{v}` is not an ISO 8601 date or epoch seconds"))
}

/// The simulated principal, from its ARN.
fn principal_of(arn: &str) -> Result<(PrincipalInfo<'_>, Option<String>)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let (acct, res) = match parts.as_slice() {
        ["arn", _, _, _, acct, res] => (*acct, *res),
        _ => {
            return Err(Error::InvalidInput(format!(
                "`{arn}` is not a principal arn"
            )));
        }
    };
    if res == "root" {
        return Ok((PrincipalInfo::root(arn, acct), None));
    }
    if res.starts_with("user/") {
        return Ok((PrincipalInfo::user(arn, acct), None));
    }
    if let Some(rest) = res.strip_prefix("assumed-role/") {
        let role = rest.split('/').next().unwrap_or_default();
        return Ok((
            PrincipalInfo::user(arn, acct),
            Some(format!("arn:aws:iam::{acct}:role/{role}")),
        ));
    }
    Err(Error::InvalidInput(format!(
        "`{arn}` is not a user, root or assumed-role arn; simulation supports those callers"
    )))
}

fn compile_input(doc: &str, kind: PolicyKind, what: &str) -> Result<Arc<CompiledPolicy>> {
    policy::parse(doc, kind)
        .map(Arc::new)
        .map_err(|e| Error::MalformedPolicyDocument(format!("{what}: {}", e.message())))
}

impl Vault {
    /// Evaluates `input` and explains the decision.
    pub fn simulate(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: &SimulationInput,
    ) -> Result<SimulationResult> {
        // The simulated user's row and the identity sides of the caller and of that user
        // come from the warm cache (no SQL for principals seen since the store last
        // changed). On a miss each loads in a read transaction of its own, so none is
        // fetched while a transaction is open here.
        let (user, stored) = match &input.principal_user {
            Some(u) => {
                let n = name(NameKind::User, u)?;
                let entry = self.warm_principal(caller)?;
                let row = self.warm_user_by_name(caller.account.as_str(), n.canonical())?;
                let arn = super::users::arn_for(&caller.account, row.as_deref(), &n);
                // The simulated user's stored side. A failure to load it is reported
                // after the authorization and the input checks, as before.
                let stored = row.as_ref().map(|r| self.warm_user(&r.user_id));
                match &stored {
                    Some(Ok(Some(target))) => self.authorize_on_user(
                        caller,
                        entry.as_deref(),
                        "iam:SimulatePrincipalPolicy",
                        target,
                        &arn,
                        ctx,
                    )?,
                    _ => {
                        let tx = self.store().read()?;
                        self.authorize_entry(
                            &tx,
                            caller,
                            entry.as_deref(),
                            "iam:SimulatePrincipalPolicy",
                            &arn,
                            ctx,
                        )?;
                    }
                }
                let row = row.ok_or_else(|| super::no_such("user", n.as_str()))?;
                (Some(row), stored)
            }
            None => {
                let entry = self.warm_principal(caller)?;
                let tx = self.store().read()?;
                self.authorize_entry(
                    &tx,
                    caller,
                    entry.as_deref(),
                    "iam:SimulateCustomPolicy",
                    "*",
                    ctx,
                )?;
                (None, None)
            }
        };
        if input.action.is_empty() {
            return Err(Error::InvalidInput("an action is required".into()));
        }
        let resource = input.resource.clone().unwrap_or_else(|| "*".into());
        let stored = match (stored, &user) {
            (Some(loaded), Some(u)) => {
                Some(loaded?.ok_or_else(|| super::no_such("user", &u.name))?)
            }
            _ => None,
        };
        let mut identity: Vec<(String, Arc<CompiledPolicy>)> = Vec::new();
        let mut boundary = None;
        let mut tags: &[(String, String)] = &[];
        if let Some(e) = &stored {
            identity.clone_from(&e.pols.identity);
            boundary.clone_from(&e.pols.boundary);
            tags = &e.pols.tags;
        }
        for (i, d) in input.identity_policies.iter().enumerate() {
            let id = format!("PolicyInputList.{}", i + 1);
            identity.push((id.clone(), compile_input(d, PolicyKind::Identity, &id)?));
        }
        if let Some(b) = &input.boundary {
            boundary = Some((
                "PermissionsBoundary".into(),
                compile_input(b, PolicyKind::PermissionsBoundary, "PermissionsBoundary")?,
            ));
        }
        let mut session = Vec::new();
        for (i, d) in input.session_policies.iter().enumerate() {
            let id = format!("SessionPolicy.{}", i + 1);
            session.push((id.clone(), compile_input(d, PolicyKind::Session, &id)?));
        }
        let resource_policy = input
            .resource_policy
            .as_deref()
            .map(|d| compile_input(d, PolicyKind::Resource, "ResourcePolicy"))
            .transpose()?;

        let caller_arn = match (&input.caller_arn, &user) {
            (Some(a), _) => a.clone(),
            (None, Some(u)) => super::users::user_arn(u),
            (None, None) => format!("arn:aws:iam::{}:user/simulated-user", caller.account),
        };
        let (mut principal, role_arn) = principal_of(&caller_arn)?;
        if let Some(r) = &role_arn {
            principal = PrincipalInfo::role_session(&caller_arn, r, principal.account);
        }
        let mut b = policy::RequestContext::builder(input.action.clone(), resource.clone())
            .principal(caller_arn.clone(), principal.account.to_owned())
            .current_time(self.now())
            .boolean("aws:SecureTransport", true)
            .string(
                "aws:PrincipalArn",
                role_arn.clone().unwrap_or_else(|| caller_arn.clone()),
            )
            .string("aws:PrincipalAccount", principal.account.to_owned());
        if let Some(u) = &user {
            b = b
                .string("aws:username", u.name.clone())
                .string("aws:userid", u.user_id.clone());
        }
        for (k, v) in tags {
            b = b.string(&format!("aws:PrincipalTag/{k}"), v);
        }
        for (k, v) in &input.context {
            b = b.value(k, v.clone());
        }
        let rctx = b.build();

        let identity_refs: Vec<(&str, &CompiledPolicy)> = identity
            .iter()
            .map(|(i, p)| (i.as_str(), p.as_ref()))
            .collect();
        let session_refs: Vec<(&str, &CompiledPolicy)> = session
            .iter()
            .map(|(i, p)| (i.as_str(), p.as_ref()))
            .collect();
        let mut set = PolicySet::new(principal);
        set.identity = &identity_refs;
        set.boundary = boundary.as_ref().map(|(i, p)| (i.as_str(), p.as_ref()));
        set.session = &session_refs;
        set.resource = resource_policy.as_deref().map(|p| ("ResourcePolicy", p));
        set.resource_owner = input.resource_owner.as_deref();
        let eval = policy::explain(&set, &rctx);
        let matched: Vec<MatchedStatementOut> = eval
            .matched
            .iter()
            .map(|m| MatchedStatementOut {
                policy_id: m.policy_id.clone(),
                policy_type: m.policy_type.as_str(),
                statement: m.sid_or_index.clone(),
                effect: m.effect.as_str(),
            })
            .collect();
        let reason = if eval.decision.is_allowed() {
            let allows: Vec<String> = matched
                .iter()
                .filter(|m| m.effect == "Allow")
                .map(|m| format!("{} statement {}", m.policy_id, m.statement))
                .collect();
            format!("allowed by {}", allows.join(", "))
        } else {
            policy::denial_message(&caller_arn, &input.action, &resource, &eval)
        };
        Ok(SimulationResult {
            decision: eval.decision.as_str(),
            matched_statements: matched,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_entries() {
        assert_eq!(
            parse_context_entry("aws:username=string:bob").unwrap(),
            ("aws:username".into(), ContextValue::String("bob".into()))
        );
        assert_eq!(
            parse_context_entry("n=numeric:2.5").unwrap().1,
            ContextValue::Number(2.5)
        );
        assert_eq!(
            parse_context_entry("b=boolean:true").unwrap().1,
            ContextValue::Bool(true)
        );
        assert!(matches!(
            parse_context_entry("aws:SourceIp=ip:10.0.0.1").unwrap().1,
            ContextValue::Ip(_)
        ));
        assert!(matches!(
            parse_context_entry("t=date:2026-01-01T00:00:00Z")
                .unwrap()
                .1,
            ContextValue::Date(_)
        ));
        assert!(matches!(
            parse_context_entry("t=date:1700000000").unwrap().1,
            ContextValue::Date(_)
        ));
        assert_eq!(
            parse_context_entry("aws:TagKeys=stringList:a,b").unwrap().1,
            ContextValue::StringList(vec!["a".into(), "b".into()])
        );
        for bad in [
            "novalue",
            "k=string",
            "k=nosuch:x",
            "k=numeric:x",
            "k=boolean:yes",
            "k=ip:300.1.1.1",
            "k=string:a,b",
        ] {
            assert_eq!(
                parse_context_entry(bad).unwrap_err().code(),
                "InvalidInput",
                "{bad}"
            );
        }
    }
}
