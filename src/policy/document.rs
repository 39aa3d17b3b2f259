//! Parsing and validating policy documents, and compiling them for evaluation.
//!
//! The pipeline is: size and character checks on the raw text, a JSON tree that rejects
//! duplicate keys ([`super::json`]), grammar validation, then compilation into a
//! [`CompiledPolicy`] that is all the evaluator sees.

use super::PolicyError;
use super::condition::{Condition, parse_operator};
use super::json::{Json, parse_json};
use super::matcher::{Pattern, PatternOpts};

/// Which kind of policy a document is; decides which elements are required or allowed
/// and its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user, group or role (managed or inline).
    Identity,
    /// A managed policy used as a permissions boundary.
    PermissionsBoundary,
    /// A role trust policy (`AssumeRolePolicyDocument`).
    Trust,
    /// A resource-based policy.
    Resource,
    /// A session policy passed to `AssumeRole` / `GetFederationToken`.
    Session,
}

impl PolicyKind {
    fn allows_principal(self) -> bool {
        matches!(self, PolicyKind::Trust | PolicyKind::Resource)
    }
}

/// The hard cap on raw input, checked before anything else so parsing is bounded.
pub const MAX_INPUT_BYTES: usize = 131_072;
/// Managed policy (and permissions boundary) size quota, in non-whitespace characters.
pub const MANAGED_POLICY_MAX: usize = 6_144;
/// Role trust policy size quota, in non-whitespace characters.
pub const TRUST_POLICY_MAX: usize = 2_048;
/// Session policy size limit, in non-whitespace characters.
pub const SESSION_POLICY_MAX: usize = 2_048;
/// Resource-based policy size limit, in non-whitespace characters.
pub const RESOURCE_POLICY_MAX: usize = 20_480;

/// The size limit for a kind of policy, in non-whitespace characters.
///
/// Identity policies use the managed-policy quota; inline policies whose aggregate quota
/// is larger (roles: 10,240) can be parsed with [`parse_with_limit`].
pub fn max_size(kind: PolicyKind) -> usize {
    match kind {
        PolicyKind::Identity | PolicyKind::PermissionsBoundary => MANAGED_POLICY_MAX,
        PolicyKind::Trust => TRUST_POLICY_MAX,
        PolicyKind::Session => SESSION_POLICY_MAX,
        PolicyKind::Resource => RESOURCE_POLICY_MAX,
    }
}

/// The number of characters that are not JSON whitespace (space, tab, LF, CR); AWS
/// policy size quotas count these.
pub fn non_whitespace_len(doc: &str) -> usize {
    doc.chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r'))
        .count()
}

/// The `Version` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17`: policy variables are literal text.
    V2008_10_17,
}

/// A statement's `Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    /// `Allow` or `Deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// An entry of the `AWS` principal list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AwsPrincipal {
    /// `*`: anyone, including anonymous callers.
    Any,
    /// An account id, or `arn:PARTITION:iam::ACCOUNT:root`: the whole account.
    Account(Box<str>),
    /// A user, role, assumed-role session or federated-user ARN (exact, case-sensitive).
    Arn(Box<str>),
}

/// A compiled `Principal` / `NotPrincipal` element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PrincipalSpec {
    pub(crate) aws: Vec<AwsPrincipal>,
    pub(crate) service: Vec<Box<str>>,
    pub(crate) federated: Vec<Box<str>>,
    pub(crate) canonical: Vec<Box<str>>,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    /// The `Sid`, or the statement's zero-based index when it has none.
    pub(crate) label: String,
    pub(crate) effect: Effect,
    /// Lowercased action patterns.
    pub(crate) actions: Vec<Pattern>,
    pub(crate) not_action: bool,
    /// `None` when the statement has no resource element (trust policies).
    pub(crate) resources: Option<Vec<Pattern>>,
    pub(crate) not_resource: bool,
    pub(crate) principal: Option<PrincipalSpec>,
    pub(crate) not_principal: bool,
    pub(crate) conditions: Vec<Condition>,
}

/// A validated policy, compiled for evaluation.
///
/// Statements are indexed by action service prefix: evaluation looks only at the
/// statements whose actions name the request's service, plus those that match any
/// service (`*`, a wildcard service prefix, or `NotAction`).
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub(crate) kind: PolicyKind,
    pub(crate) version: Option<PolicyVersion>,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
    /// Sorted by service prefix (lowercase); statement indices ascending.
    pub(crate) by_service: ServiceIndex,
    /// Statements that may match any service; indices ascending.
    pub(crate) any_service: Vec<usize>,
}

impl CompiledPolicy {
    /// The kind the policy was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Version` element, if present.
    pub fn version(&self) -> Option<PolicyVersion> {
        self.version
    }

    /// The `Id` element, if present.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Statement indices that may apply to `action_lower` (ascending, no duplicates).
    #[cfg(test)]
    pub(crate) fn candidates<'a>(&'a self, action_lower: &str) -> Candidates<'a> {
        self.candidates_in(action_lower.split_once(':').map_or("", |(s, _)| s))
    }

    /// Statement indices that may apply to an action of `service` (lowercase; ascending,
    /// no duplicates).
    pub(crate) fn candidates_in<'a>(&'a self, service: &str) -> Candidates<'a> {
        super::index::service_candidates(&self.by_service, &self.any_service, service)
    }
}

/// Statement indices of one policy, in ascending order.
pub(crate) type Candidates<'a> = super::index::Merge<'a, usize>;

/// Parses, validates and compiles a policy document of the given kind, enforcing the
/// kind's size limit ([`max_size`]).
pub fn parse(doc: &str, kind: PolicyKind) -> Result<CompiledPolicy, PolicyError> {
    parse_with_limit(doc, kind, max_size(kind))
}

/// Like [`parse`] with an explicit size limit in non-whitespace characters (capped by
/// [`MAX_INPUT_BYTES`] on the raw input).
pub fn parse_with_limit(
    doc: &str,
    kind: PolicyKind,
    limit: usize,
) -> Result<CompiledPolicy, PolicyError> {
    if doc.len() > MAX_INPUT_BYTES {
        return Err(PolicyError::LimitExceeded(format!(
            "policy document is too large: {} bytes, at most {MAX_INPUT_BYTES} allowed",
            doc.len()
        )));
    }
    if let Some(c) = doc
        .chars()
        .find(|&c| !matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{ff}'))
    {
        return Err(PolicyError::malformed(format!(
            "policy document contains the character `U+{:04X}`, which is not allowed",
            u32::from(c)
        )));
    }
    let size = non_whitespace_len(doc);
    if size > limit {
        return Err(PolicyError::LimitExceeded(format!(
            "policy document is too large: {size} non-whitespace characters, at most {limit} allowed"
        )));
    }
    if size == 0 {
        return Err(PolicyError::malformed("policy document is empty"));
    }
    let json = parse_json(doc)
        .map_err(|e| PolicyError::malformed(format!("policy document is not valid json: {e}")))?;
    compile_document(json, kind)
}

fn compile_document(json: Json, kind: PolicyKind) -> Result<CompiledPolicy, PolicyError> {
    let Json::Object(top) = json else {
        return Err(PolicyError::malformed(format!(
            "policy document must be a json object, found {}",
            json.describe()
        )));
    };
    let mut version = None;
    let mut id = None;
    let mut statement_json = None;
    for (key, value) in top {
        match key.as_str() {
            "Version" => {
                version = Some(match value {
                    Json::String(s) if s == "2012-10-17" => PolicyVersion::V2012_10_17,
                    Json::String(s) if s == "2008-10-17" => PolicyVersion::V2008_10_17,
                    Json::String(s) => {
                        return Err(PolicyError::malformed(format!(
                            "`Version` must be `2012-10-17` or `2008-10-17`, found `{s}`"
                        )));
                    }
                    other => {
                        return Err(PolicyError::malformed(format!(
                            "`Version` must be a string, found {}",
                            other.describe()
                        )));
                    }
                });
            }
            "Id" => match value {
                Json::String(s) => id = Some(s),
                other => {
                    return Err(PolicyError::malformed(format!(
                        "`Id` must be a string, found {}",
                        other.describe()
                    )));
                }
            },
            "Statement" => statement_json = Some(value),
            other => {
                return Err(PolicyError::malformed(format!(
                    "unknown element `{other}` in the policy document"
                )));
            }
        }
    }
    let statements_json = match statement_json {
        None => return Err(PolicyError::malformed("`Statement` is missing")),
        Some(Json::Array(items)) => items,
        Some(obj @ Json::Object(_)) => vec![obj],
        Some(other) => {
            return Err(PolicyError::malformed(format!(
                "`Statement` must be an object or a list of objects, found {}",
                other.describe()
            )));
        }
    };
    if statements_json.is_empty() {
        return Err(PolicyError::malformed(
            "`Statement` must contain at least one statement",
        ));
    }
    let variables = version == Some(PolicyVersion::V2012_10_17);
    let mut statements = Vec::with_capacity(statements_json.len());
    let mut sids: Vec<String> = Vec::new();
    for (index, sj) in statements_json.into_iter().enumerate() {
        let st = compile_statement(sj, index, kind, variables)?;
        if let Some(sid) = st.1 {
            if sids.contains(&sid) {
                return Err(PolicyError::malformed(format!(
                    "duplicate `Sid` `{sid}`: statement ids must be unique within a policy"
                )));
            }
            sids.push(sid);
        }
        statements.push(st.0);
    }
    let (by_service, any_service) = build_index(&statements);
    Ok(CompiledPolicy {
        kind,
        version,
        id,
        statements,
        by_service,
        any_service,
    })
}

/// Groups statement indices by service prefix.
/// Statement indices per service prefix, sorted by prefix.
type ServiceIndex = Vec<(Box<str>, Vec<usize>)>;

fn build_index(statements: &[Statement]) -> (ServiceIndex, Vec<usize>) {
    let mut by: std::collections::BTreeMap<String, Vec<usize>> = std::collections::BTreeMap::new();
    let mut any = Vec::new();
    for (i, st) in statements.iter().enumerate() {
        let services: Option<Vec<&str>> = if st.not_action {
            None
        } else {
            st.actions
                .iter()
                .map(|p| {
                    let lit = p.as_literal_prefix();
                    lit.split_once(':').map(|(svc, _)| svc)
                })
                .collect()
        };
        match services {
            None => any.push(i),
            Some(svcs) => {
                for svc in svcs {
                    let list = by.entry(svc.to_owned()).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
    }
    (
        by.into_iter()
            .map(|(k, v)| (k.into_boxed_str(), v))
            .collect(),
        any,
    )
}

fn describe_statement(index: usize, sid: Option<&str>) -> String {
    match sid {
        Some(s) if !s.is_empty() => format!("statement `{s}`"),
        _ => format!("statement {}", index + 1),
    }
}

/// Reads a string or a non-empty list of strings.
fn string_list(value: Json, element: &str, where_: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Json::String(s) => Ok(vec![s]),
        Json::Array(items) => {
            if items.is_empty() {
                return Err(PolicyError::malformed(format!(
                    "`{element}` in {where_} must not be an empty list"
                )));
            }
            items
                .into_iter()
                .map(|item| match item {
                    Json::String(s) => Ok(s),
                    other => Err(PolicyError::malformed(format!(
                        "`{element}` in {where_} must contain only strings, found {}",
                        other.describe()
                    ))),
                })
                .collect()
        }
        other => Err(PolicyError::malformed(format!(
            "`{element}` in {where_} must be a string or a list of strings, found {}",
            other.describe()
        ))),
    }
}

fn valid_action(a: &str) -> bool {
    if a == "*" {
        return true;
    }
    let Some((svc, name)) = a.split_once(':') else {
        return false;
    };
    !svc.is_empty()
        && !name.is_empty()
        && svc
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '*' | '?'))
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*' | '?'))
}

fn valid_resource(r: &str) -> bool {
    if r == "*" {
        return true;
    }
    if !r.starts_with("arn:") {
        return false;
    }
    // An ARN has six components; fewer is accepted only when the last one is a wildcard
    // that can expand across colons.
    let parts: Vec<&str> = r.splitn(6, ':').collect();
    parts.len() == 6 || parts.last().is_some_and(|p| p.contains('*'))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_aws_principal(s: &str) -> Option<AwsPrincipal> {
    if s == "*" {
        return Some(AwsPrincipal::Any);
    }
    if is_account_id(s) {
        return Some(AwsPrincipal::Account(s.into()));
    }
    if s.contains('*') || s.contains('?') {
        return None;
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, service, "", account, resource]
            if !partition.is_empty() && !account.is_empty() && !resource.is_empty() =>
        {
            if *service == "iam" && *resource == "root" {
                Some(AwsPrincipal::Account((*account).into()))
            } else if *service == "iam" || *service == "sts" {
                Some(AwsPrincipal::Arn(s.into()))
            } else {
                None
            }
        }
        _ => None,
    }
}

fn compile_principal(
    value: Json,
    element: &str,
    where_: &str,
) -> Result<PrincipalSpec, PolicyError> {
    let mut spec = PrincipalSpec::default();
    match value {
        Json::String(s) if s == "*" => {
            spec.aws.push(AwsPrincipal::Any);
        }
        Json::String(s) => {
            return Err(PolicyError::malformed(format!(
                "`{element}` in {where_} must be `*` or an object, found `{s}`"
            )));
        }
        Json::Object(entries) => {
            if entries.is_empty() {
                return Err(PolicyError::malformed(format!(
                    "`{element}` in {where_} must not be empty"
                )));
            }
            for (key, v) in entries {
                let label = format!("{element}.{key}");
                match key.as_str() {
                    "AWS" => {
                        for s in string_list(v, &label, where_)? {
                            let p = parse_aws_principal(&s).ok_or_else(|| {
                                let unique_id = s.len() >= 16
                                    && ["AIDA", "AROA", "ASIA", "AKIA", "AGPA"].iter().any(|p| s.starts_with(p));
                                if unique_id {
                                    PolicyError::malformed(format!(
                                        "principal `{s}` in `{label}` in {where_} is a unique id; iamvault matches principals by arn or account id only"
                                    ))
                                } else {
                                    PolicyError::malformed(format!(
                                        "invalid principal `{s}` in `{label}` in {where_}"
                                    ))
                                }
                            })?;
                            spec.aws.push(p);
                        }
                    }
                    "CanonicalUser" => {
                        return Err(PolicyError::malformed(format!(
                            "`{label}` in {where_}: canonical user principals (amazon s3 canonical ids) are not supported by iamvault"
                        )));
                    }
                    "Service" | "Federated" => {
                        let list = string_list(v, &label, where_)?;
                        for s in &list {
                            if s.is_empty() || s.chars().any(char::is_whitespace) {
                                return Err(PolicyError::malformed(format!(
                                    "invalid principal `{s}` in `{label}` in {where_}"
                                )));
                            }
                        }
                        let list = list.into_iter().map(String::into_boxed_str);
                        if key == "Service" {
                            spec.service.extend(list);
                        } else {
                            spec.federated.extend(list);
                        }
                    }
                    other => {
                        return Err(PolicyError::malformed(format!(
                            "unknown principal type `{other}` in `{element}` in {where_}"
                        )));
                    }
                }
            }
        }
        other => {
            return Err(PolicyError::malformed(format!(
                "`{element}` in {where_} must be `*` or an object, found {}",
                other.describe()
            )));
        }
    }
    Ok(spec)
}

fn condition_values(value: Json, key: &str, op: &str) -> Result<Vec<String>, PolicyError> {
    let scalar = |v: Json| match v {
        Json::String(s) => Ok(s),
        Json::Number(n) => Ok(n),
        Json::Bool(b) => Ok(if b { "true" } else { "false" }.to_owned()),
        other => Err(PolicyError::malformed(format!(
            "condition key `{key}` under `{op}` in `Condition` must have string, number or boolean values, found {}",
            other.describe()
        ))),
    };
    match value {
        Json::Array(items) => {
            if items.is_empty() {
                return Err(PolicyError::malformed(format!(
                    "condition key `{key}` under `{op}` in `Condition` must have at least one value"
                )));
            }
            items.into_iter().map(scalar).collect()
        }
        other => Ok(vec![scalar(other)?]),
    }
}

fn compile_conditions(
    value: Json,
    where_: &str,
    variables: bool,
) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(ops) = value else {
        return Err(PolicyError::malformed(format!(
            "`Condition` in {where_} must be an object, found {}",
            value.describe()
        )));
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let operator = parse_operator(&op_name).ok_or_else(|| {
            PolicyError::malformed(format!(
                "unknown condition operator `{op_name}` in `Condition` in {where_}"
            ))
        })?;
        let Json::Object(keys) = keys else {
            return Err(PolicyError::malformed(format!(
                "condition operator `{op_name}` in {where_} must map to an object, found {}",
                keys.describe()
            )));
        };
        for (key, vals) in keys {
            if key.is_empty() || key.chars().any(char::is_whitespace) {
                return Err(PolicyError::malformed(format!(
                    "invalid condition key `{key}` under `{op_name}` in {where_}"
                )));
            }
            let raw = condition_values(vals, &key, &op_name)?;
            out.push(Condition::compile(
                &op_name, operator, &key, &raw, variables,
            )?);
        }
    }
    Ok(out)
}

/// Compiles one statement; also returns its Sid (if non-empty) for the uniqueness check.
fn compile_statement(
    json: Json,
    index: usize,
    kind: PolicyKind,
    variables: bool,
) -> Result<(Statement, Option<String>), PolicyError> {
    let Json::Object(entries) = json else {
        return Err(PolicyError::malformed(format!(
            "statement {} must be an object, found {}",
            index + 1,
            json.describe()
        )));
    };
    // Read the Sid first so later errors can name the statement.
    let mut sid: Option<String> = None;
    for (k, v) in &entries {
        if k == "Sid" {
            match v {
                Json::String(s) => {
                    if !s.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return Err(PolicyError::malformed(format!(
                            "invalid `Sid` `{s}` in statement {}: only letters and digits are allowed",
                            index + 1
                        )));
                    }
                    sid = Some(s.clone());
                }
                other => {
                    return Err(PolicyError::malformed(format!(
                        "`Sid` in statement {} must be a string, found {}",
                        index + 1,
                        other.describe()
                    )));
                }
            }
        }
    }
    let where_ = describe_statement(index, sid.as_deref());
    let mut effect = None;
    let mut actions: Option<(Vec<String>, bool)> = None;
    let mut resources: Option<(Vec<String>, bool)> = None;
    let mut principal: Option<(PrincipalSpec, bool)> = None;
    let mut conditions = Vec::new();
    for (key, value) in entries {
        match key.as_str() {
            "Sid" => {}
            "Effect" => match value {
                Json::String(s) if s == "Allow" => effect = Some(Effect::Allow),
                Json::String(s) if s == "Deny" => effect = Some(Effect::Deny),
                Json::String(s) => {
                    return Err(PolicyError::malformed(format!(
                        "`Effect` in {where_} must be `Allow` or `Deny`, found `{s}`"
                    )));
                }
                other => {
                    return Err(PolicyError::malformed(format!(
                        "`Effect` in {where_} must be a string, found {}",
                        other.describe()
                    )));
                }
            },
            "Action" | "NotAction" => {
                if actions.is_some() {
                    return Err(PolicyError::malformed(format!(
                        "{where_} must have exactly one of `Action` or `NotAction`"
                    )));
                }
                let list = string_list(value, &key, &where_)?;
                if let Some(bad) = list.iter().find(|a| !valid_action(a)) {
                    return Err(PolicyError::malformed(format!(
                        "invalid action `{bad}` in `{key}` in {where_}: actions must look like `service:action` or be `*`"
                    )));
                }
                actions = Some((list, key == "NotAction"));
            }
            "Resource" | "NotResource" => {
                if resources.is_some() {
                    return Err(PolicyError::malformed(format!(
                        "{where_} must not have both `Resource` and `NotResource`"
                    )));
                }
                let list = string_list(value, &key, &where_)?;
                if let Some(bad) = list.iter().find(|r| !valid_resource(r)) {
                    return Err(PolicyError::malformed(format!(
                        "invalid resource `{bad}` in `{key}` in {where_}: resources must be an ARN or `*`"
                    )));
                }
                resources = Some((list, key == "NotResource"));
            }
            "Principal" | "NotPrincipal" => {
                if !kind.allows_principal() {
                    return Err(PolicyError::malformed(format!(
                        "`{key}` is not allowed in {where_}: this kind of policy must not specify a principal"
                    )));
                }
                if principal.is_some() {
                    return Err(PolicyError::malformed(format!(
                        "{where_} must not have both `Principal` and `NotPrincipal`"
                    )));
                }
                let spec = compile_principal(value, &key, &where_)?;
                principal = Some((spec, key == "NotPrincipal"));
            }
            "Condition" => {
                conditions = compile_conditions(value, &where_, variables)?;
            }
            other => {
                return Err(PolicyError::malformed(format!(
                    "unknown element `{other}` in {where_}"
                )));
            }
        }
    }
    let effect =
        effect.ok_or_else(|| PolicyError::malformed(format!("`Effect` is missing in {where_}")))?;
    let (action_list, not_action) = actions.ok_or_else(|| {
        PolicyError::malformed(format!(
            "{where_} must have exactly one of `Action` or `NotAction`"
        ))
    })?;
    if resources.is_none() && kind != PolicyKind::Trust {
        return Err(PolicyError::malformed(format!(
            "`Resource` is missing in {where_}: it needs `Resource` or `NotResource`"
        )));
    }
    if principal.is_none() && kind.allows_principal() {
        return Err(PolicyError::malformed(format!(
            "`Principal` is missing in {where_}: this kind of policy needs `Principal` or `NotPrincipal`"
        )));
    }
    let action_opts = PatternOpts {
        wildcards: true,
        variables: false,
        lowercase: true,
    };
    let resource_opts = PatternOpts {
        wildcards: true,
        variables,
        lowercase: false,
    };
    let (resources, not_resource) = match resources {
        Some((list, not)) => (
            Some(
                list.iter()
                    .map(|r| Pattern::compile(r, resource_opts))
                    .collect(),
            ),
            not,
        ),
        None => (None, false),
    };
    let (principal, not_principal) = match principal {
        Some((spec, not)) => (Some(spec), not),
        None => (None, false),
    };
    let label = match &sid {
        Some(s) if !s.is_empty() => s.clone(),
        _ => index.to_string(),
    };
    let statement = Statement {
        label,
        effect,
        actions: action_list
            .iter()
            .map(|a| Pattern::compile(a, action_opts))
            .collect(),
        not_action,
        resources,
        not_resource,
        principal,
        not_principal,
        conditions,
    };
    Ok((statement, sid.filter(|s| !s.is_empty())))
}
