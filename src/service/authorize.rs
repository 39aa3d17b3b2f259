//! The decision path of `POST /vault/v1/authorize`: a service asks whether a request it
//! received may proceed.
//!
//! Warm, it touches neither the store nor Ed25519: access-key secrets, the principals'
//! compiled policies and the resource-policy index are kept in memory, labelled with the
//! store's write generation. Any committed change in this process moves the generation
//! on, so the next decision reloads (revocation and policy changes bite on the next
//! call); changes by another process on the same data directory (the local admin CLI)
//! are noticed within a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use time::OffsetDateTime;

use super::authorize_wire::{Check, CheckResult, MAX_CHECKS, MAX_CONTEXT_KEYS, MatchedOut};
use super::authz::{PrincipalEntry, Question, session_guard};
use super::resource_policies::covering_arns;
use super::{Caller, CallerKind, RequestContext, Vault};
use crate::error::{Error, Result};
use crate::model::SecretString;
use crate::policy::{self, CompiledPolicy, ContextValue, PolicyKind};
use crate::store::{EntityKind, ReadTx, RoleRow, UserRow};

/// How often changes by other processes are looked for.
const EXTERNAL_CHECK: time::Duration = time::Duration::seconds(1);
/// Bound on each in-memory map; past it the map is emptied and refilled on demand.
const WARM_LIMIT: usize = 100_000;

/// Inserts into one of the in-memory maps, emptying it first when it holds
/// [`WARM_LIMIT`] entries (it refills on demand).
fn bounded_insert<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= WARM_LIMIT {
        map.clear();
    }
    map.insert(key, value);
}

/// An active long-term access key: its user and its secret.
pub struct KeyEntry {
    /// The key's user.
    pub user: UserRow,
    /// The secret access key.
    pub secret: SecretString,
}

/// A resource policy as the decision path uses it: owner and compiled form, or why it
/// could not be compiled (which denies, failing closed).
type IndexedPolicy = (String, std::result::Result<Arc<CompiledPolicy>, String>);

/// A role as AssumeRole reads it: its row, and its tags as `aws:ResourceTag/…` keys.
pub(super) struct WarmRole {
    pub row: RoleRow,
    pub tag_keys: Vec<(String, ContextValue)>,
}

#[derive(Default)]
struct WarmState {
    generation: u64,
    keys: HashMap<String, Option<Arc<KeyEntry>>>,
    principals: HashMap<String, Arc<PrincipalEntry>>,
    /// `account/lower-case name` → the role, or that there is none.
    roles: HashMap<String, Option<Arc<WarmRole>>>,
    /// Users by (account, canonical name); only users that exist.
    users: HashMap<(String, String), Arc<UserRow>>,
    resources: Option<Arc<HashMap<String, IndexedPolicy>>>,
    data_events: Option<bool>,
}

/// The in-memory state of the decision path.
#[derive(Default)]
pub(super) struct WarmCache {
    state: RwLock<WarmState>,
    external_checked: Mutex<Option<OffsetDateTime>>,
    /// `(access key, service)` → when its last-used stamp was last known fresh.
    stamps: Mutex<HashMap<(String, String), OffsetDateTime>>,
}

impl Vault {
    /// The store generation, after looking (at most once a second) for another
    /// process's changes.
    fn warm_generation(&self) -> u64 {
        let now = self.now();
        let due = match self.warm.external_checked.lock() {
            Ok(mut last) => {
                let due = last.is_none_or(|t| now - t >= EXTERNAL_CHECK || now < t);
                if due {
                    *last = Some(now);
                }
                due
            }
            Err(_) => true,
        };
        if due && let Err(e) = self.store().observe_external_changes() {
            tracing::warn!(error = %e, "could not check the store for outside changes");
        }
        self.store().generation()
    }

    fn warm_read<T>(&self, generation: u64, f: impl FnOnce(&WarmState) -> Option<T>) -> Option<T> {
        let st = self.warm.state.read().ok()?;
        if st.generation != generation {
            return None;
        }
        f(&st)
    }

    fn warm_write(&self, generation: u64, f: impl FnOnce(&mut WarmState)) {
        let Ok(mut st) = self.warm.state.write() else {
            return;
        };
        if st.generation > generation {
            // Filled from a state older than what is cached now: drop it.
            return;
        }
        if st.generation < generation {
            *st = WarmState {
                generation,
                ..WarmState::default()
            };
        }
        f(&mut st);
    }

    /// The owner and secret of an active long-term key, for request verification.
    /// Inactive and unknown keys give `None`. Answered from memory while nothing changed.
    pub fn access_key_secret(&self, access_key_id: &str) -> Result<Option<Arc<KeyEntry>>> {
        let g = self.warm_generation();
        if let Some(hit) = self.warm_read(g, |st| st.keys.get(access_key_id).cloned()) {
            return Ok(hit);
        }
        let loaded = self.load_access_key_secret(access_key_id)?.map(Arc::new);
        self.warm_write(g, |st| {
            bounded_insert(&mut st.keys, access_key_id.to_owned(), loaded.clone());
        });
        Ok(loaded)
    }

    /// Whether the once-a-second look for another process's changes is due (it reads
    /// the store, so whatever would trigger it belongs on the blocking pool).
    fn external_check_due(&self) -> bool {
        let now = self.now();
        match self.warm.external_checked.lock() {
            Ok(last) => last.is_none_or(|t| now - t >= EXTERNAL_CHECK || now < t),
            Err(_) => true,
        }
    }

    /// Whether a request signed with `access_key_id` (and `session_token`) for `service`
    /// can be authenticated from memory alone right now. A session token: it was verified
    /// before and the signing keys and revocation state are fresh (no generation-labelled
    /// cache is read). A long-term key: no check for outside changes is due, its secret is
    /// cached for the current generation, and its last-used stamp is fresh. The server
    /// then handles a `GetCallerIdentity` on its async worker instead of the blocking
    /// pool. It is a hint: if the state moves on in between, the request still runs
    /// correctly, only it may touch the store.
    pub fn credentials_warm(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        service: &str,
    ) -> bool {
        if let Some(token) = session_token {
            return self.session_warm(token);
        }
        if access_key_id.starts_with("ASIA") || self.external_check_due() {
            return false;
        }
        let g = self.store().generation();
        self.warm_read(g, |st| st.keys.get(access_key_id).map(Option::is_some))
            .unwrap_or(false)
            && self.stamp_known_fresh(access_key_id, service)
    }

    /// Whether an `AssumeRole` of `role_arn` signed with these credentials can be answered
    /// from memory right now ([`Vault::credentials_warm`], and the caller's policies, the
    /// role and the token signing state are cached for the current generation). The
    /// server then handles it on its async worker. A hint, as for `credentials_warm`.
    pub fn assume_role_warm(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        service: &str,
        role_arn: &str,
    ) -> bool {
        // The caller's policies and the role are read from generation-labelled caches.
        if self.external_check_due()
            || !self.credentials_warm(access_key_id, session_token, service)
            || !self.minting_warm()
        {
            return false;
        }
        let Ok(arn) = crate::model::Arn::parse(role_arn) else {
            return false;
        };
        let Some(role_name) = arn
            .resource()
            .strip_prefix("role/")
            .and_then(|r| r.rsplit('/').next())
        else {
            return false;
        };
        let role_key = format!("{}/{}", arn.account(), role_name.to_ascii_lowercase());
        let g = self.store().generation();
        let token_id = match session_token {
            Some(token) => match self.warm_session_token_id(token) {
                Some(id) => Some(id),
                None => return false,
            },
            None => None,
        };
        self.warm_read(g, |st| {
            let principal = match token_id {
                Some(id) => format!("t:{}", hex::encode(id)),
                None => format!("u:{}", st.keys.get(access_key_id)?.as_ref()?.user.user_id),
            };
            Some(st.principals.contains_key(&principal) && st.roles.contains_key(&role_key))
        })
        .unwrap_or(false)
    }

    /// Whether `(key, service)` was stamped as used less than 15 minutes ago, as far as
    /// this process knows.
    pub(super) fn stamp_known_fresh(&self, key: &str, service: &str) -> bool {
        let now = self.now();
        self.warm.stamps.lock().is_ok_and(|m| {
            m.get(&(key.to_owned(), service.to_owned()))
                .is_some_and(|t| now - *t < time::Duration::minutes(15) && *t <= now)
        })
    }

    /// Remembers that `(key, service)` carries a stamp from `at`.
    pub(super) fn remember_stamp(&self, key: &str, service: &str, at: OffsetDateTime) {
        if let Ok(mut m) = self.warm.stamps.lock() {
            bounded_insert(&mut m, (key.to_owned(), service.to_owned()), at);
        }
    }

    /// The identity side of `caller` (`None` for a root user), from memory when warm.
    pub(super) fn warm_principal(&self, caller: &Caller) -> Result<Option<Arc<PrincipalEntry>>> {
        let key = match &caller.kind {
            CallerKind::Root => return Ok(None),
            CallerKind::User { user_id, .. } => format!("u:{user_id}"),
            CallerKind::Session(c) => format!("t:{}", hex::encode(c.token_id)),
        };
        self.warm_entry(key, |tx| self.principal_entry(tx, caller))
    }

    /// The identity side of the user `user_id` as its own long-term key sees it (the
    /// same cache entry), from memory when warm; `None` when there is no such user.
    pub(super) fn warm_user(&self, user_id: &str) -> Result<Option<Arc<PrincipalEntry>>> {
        self.warm_entry(format!("u:{user_id}"), |tx| {
            tx.user_by_id(user_id)?
                .map(|u| self.user_entry(tx, &u))
                .transpose()
        })
    }

    /// A user by account and canonical name, from memory when warm. A missing user is
    /// looked up again each time (not remembered, so unknown names cannot fill memory).
    pub(super) fn warm_user_by_name(
        &self,
        account: &str,
        name_canon: &str,
    ) -> Result<Option<Arc<UserRow>>> {
        let key = (account.to_owned(), name_canon.to_owned());
        let g = self.warm_generation();
        if let Some(hit) = self.warm_read(g, |st| st.users.get(&key).cloned()) {
            return Ok(Some(hit));
        }
        let Some(row) = self
            .store()
            .read()?
            .user(account, name_canon)?
            .map(Arc::new)
        else {
            return Ok(None);
        };
        self.warm_write(g, |st| {
            bounded_insert(&mut st.users, key, Arc::clone(&row));
        });
        Ok(Some(row))
    }

    /// A principal's identity side under `key`, from memory when warm, else loaded in a
    /// read transaction of its own and remembered for the current generation.
    fn warm_entry(
        &self,
        key: String,
        load: impl FnOnce(&ReadTx<'_>) -> Result<Option<PrincipalEntry>>,
    ) -> Result<Option<Arc<PrincipalEntry>>> {
        let g = self.warm_generation();
        if let Some(hit) = self.warm_read(g, |st| st.principals.get(&key).cloned()) {
            return Ok(Some(hit));
        }
        let entry = {
            let tx = self.store().read()?;
            load(&tx)?
        };
        let Some(entry) = entry.map(Arc::new) else {
            return Ok(None);
        };
        self.warm_write(g, |st| {
            bounded_insert(&mut st.principals, key, Arc::clone(&entry));
        });
        Ok(Some(entry))
    }

    /// A role by account and lower-case name, with its tags: from memory while the store
    /// has not changed, so a warm AssumeRole reads no SQL. A missing role is remembered
    /// too; creating one moves the generation on.
    pub(super) fn warm_role(
        &self,
        account: &str,
        name_lower: &str,
    ) -> Result<Option<Arc<WarmRole>>> {
        let key = format!("{account}/{name_lower}");
        let g = self.warm_generation();
        if let Some(hit) = self.warm_read(g, |st| st.roles.get(&key).cloned()) {
            return Ok(hit);
        }
        let role = {
            let tx = self.store().read()?;
            match tx.role(account, name_lower)? {
                Some(row) => {
                    let tags = tx.tags(EntityKind::Role, &row.role_id)?;
                    Some(Arc::new(WarmRole {
                        tag_keys: super::authz::resource_tag_keys_of(&tags),
                        row,
                    }))
                }
                None => None,
            }
        };
        self.warm_write(g, |st| {
            bounded_insert(&mut st.roles, key, role.clone());
        });
        Ok(role)
    }

    /// Whether allowed authorization-API decisions are audited, from memory when warm.
    pub fn audit_data_events_cached(&self) -> Result<bool> {
        let g = self.warm_generation();
        if let Some(hit) = self.warm_read(g, |st| st.data_events) {
            return Ok(hit);
        }
        let on = self.audit_data_events()?;
        self.warm_write(g, |st| st.data_events = Some(on));
        Ok(on)
    }

    /// Every resource policy, compiled, by resource ARN.
    fn warm_resources(&self) -> Result<Arc<HashMap<String, IndexedPolicy>>> {
        let g = self.warm_generation();
        if let Some(hit) = self.warm_read(g, |st| st.resources.clone()) {
            return Ok(hit);
        }
        let rows = self.store().read()?.all_resource_policies()?;
        let index: HashMap<String, IndexedPolicy> = rows
            .into_iter()
            .map(|r| {
                let compiled = self
                    .compiled
                    .get(&r.document, PolicyKind::Resource)
                    .map_err(|e| e.message().to_owned());
                (r.resource_arn, (r.account_id, compiled))
            })
            .collect();
        let index = Arc::new(index);
        self.warm_write(g, |st| st.resources = Some(Arc::clone(&index)));
        Ok(index)
    }

    /// Answers a service's questions about a request from `client`.
    ///
    /// `service` is the authenticated caller of the API; it needs `vault:Authorize` on
    /// every checked resource, else the whole call is refused. Each check then gets the
    /// client's decision: its identity policies, boundary and session policies, and the
    /// resource policies covering the resource. A resource with no covering policy is
    /// taken to belong to the service's account.
    pub fn authorize_checks(
        &self,
        service: &Caller,
        service_ctx: &RequestContext,
        client: &Caller,
        client_ctx: &RequestContext,
        checks: &[Check],
        context: &[(String, ContextValue)],
    ) -> Result<Vec<CheckResult>> {
        validate_checks(checks, context)?;
        let service_entry = self.warm_principal(service)?;
        for c in checks {
            session_guard(service, "vault:Authorize")?;
            let owner = owner_from_arn(&c.resource).unwrap_or(service.account.as_str());
            let q = Question {
                action: "vault:Authorize",
                resource: &c.resource,
                ctx: service_ctx,
                keys: &[],
                resource_policy: None,
                covering: &[],
                owner,
            };
            let (d, eval) = self.evaluate_entry(service, service_entry.as_deref(), &q);
            if !d.is_allowed() {
                let eval = eval
                    .unwrap_or_else(|| self.explain_entry(service, service_entry.as_deref(), &q));
                return Err(Error::AccessDenied(policy::denial_message(
                    &service.arn,
                    "vault:Authorize",
                    &c.resource,
                    &eval,
                )));
            }
        }
        let client_entry = match self.warm_principal(client) {
            Ok(e) => e,
            Err(Error::AccessDenied(m)) => {
                return Ok(checks.iter().map(|c| denied(c, m.clone())).collect());
            }
            Err(e) => return Err(e),
        };
        let index = self.warm_resources()?;
        let mut out = Vec::with_capacity(checks.len());
        for c in checks {
            if let Err(Error::AccessDenied(m)) = session_guard(client, &c.action) {
                out.push(denied(c, m));
                continue;
            }
            let mut covering: Vec<(&str, &CompiledPolicy)> = Vec::new();
            let mut owner: Option<&str> = None;
            let mut broken = None;
            for arn in covering_arns(&c.resource) {
                if let Some((acct, compiled)) = index.get(arn) {
                    match compiled {
                        Ok(p) => covering.push((arn, p.as_ref())),
                        Err(why) => broken = Some(format!("{arn}: {why}")),
                    }
                    if owner.is_some_and(|o| o != acct) {
                        broken = Some(format!("{arn}: policies of two accounts cover it"));
                    }
                    owner = Some(acct);
                }
            }
            if let Some(why) = broken {
                out.push(denied(
                    c,
                    format!(
                        "access denied because the resource policy {why} could not be evaluated"
                    ),
                ));
                continue;
            }
            let owner = owner
                .or_else(|| owner_from_arn(&c.resource))
                .unwrap_or(service.account.as_str());
            let q = Question {
                action: &c.action,
                resource: &c.resource,
                ctx: client_ctx,
                keys: context,
                resource_policy: None,
                covering: &covering,
                owner,
            };
            let eval = self.explain_entry(client, client_entry.as_deref(), &q);
            let reason = (!eval.decision.is_allowed())
                .then(|| policy::denial_message(&client.arn, &c.action, &c.resource, &eval));
            out.push(CheckResult {
                action: c.action.clone(),
                resource: c.resource.clone(),
                decision: eval.decision.as_str().to_owned(),
                matched_statements: eval
                    .matched
                    .iter()
                    .map(|m| MatchedOut {
                        policy_id: m.policy_id.clone(),
                        policy_type: m.policy_type.as_str().to_owned(),
                        sid: m.sid_or_index.clone(),
                        effect: m.effect.as_str().to_owned(),
                    })
                    .collect(),
                reason,
            });
        }
        Ok(out)
    }
}

fn denied(c: &Check, reason: String) -> CheckResult {
    CheckResult {
        action: c.action.clone(),
        resource: c.resource.clone(),
        decision: policy::Decision::ImplicitDeny.as_str().to_owned(),
        matched_statements: Vec::new(),
        reason: Some(reason),
    }
}

/// The account an ARN names, when it names one.
fn owner_from_arn(resource: &str) -> Option<&str> {
    let acct = resource.split(':').nth(4)?;
    (!acct.is_empty() && acct != "aws" && !acct.contains('*')).then_some(acct)
}

/// Condition keys a service may supply: its own service's keys, and the tag keys that
/// describe the resource or the request. Keys the vault computes itself (`aws:SourceIp`,
/// `aws:PrincipalArn`, …) may not be supplied.
fn context_key_allowed(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    match lower.strip_prefix("aws:") {
        Some(rest) => {
            rest.starts_with("resourcetag/") || rest.starts_with("requesttag/") || rest == "tagkeys"
        }
        None => lower
            .split_once(':')
            .is_some_and(|(svc, name)| !svc.is_empty() && !name.is_empty()),
    }
}

fn validate_checks(checks: &[Check], context: &[(String, ContextValue)]) -> Result<()> {
    if checks.is_empty() || checks.len() > MAX_CHECKS {
        return Err(Error::Validation(format!(
            "a call must carry between 1 and {MAX_CHECKS} checks, not {}",
            checks.len()
        )));
    }
    for c in checks {
        let (svc, name) = c.action.split_once(':').unwrap_or(("", ""));
        let ok_part = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if c.action.len() > 128 || !ok_part(svc) || !ok_part(name) {
            return Err(Error::Validation(format!(
                "the action `{}` is not of the form service:Action (no wildcards)",
                c.action.escape_default()
            )));
        }
        if c.resource.is_empty()
            || c.resource.len() > 2048
            || c.resource.chars().any(char::is_control)
        {
            return Err(Error::Validation(
                "a resource must be 1 to 2048 characters with no control characters".into(),
            ));
        }
    }
    if context.len() > MAX_CONTEXT_KEYS {
        return Err(Error::Validation(format!(
            "at most {MAX_CONTEXT_KEYS} context keys may be supplied"
        )));
    }
    for (k, _) in context {
        if k.len() > 256 || !context_key_allowed(k) {
            return Err(Error::Validation(format!(
                "the context key `{}` may not be supplied: use the service's own keys (`svc:name`) or aws:ResourceTag/…, aws:RequestTag/…, aws:TagKeys; the vault sets the other aws: keys itself",
                k.escape_default()
            )));
        }
    }
    Ok(())
}

/// Turns the JSON `context` of a call into condition keys: strings, lists of strings,
/// booleans and numbers.
pub fn context_from_json(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<(String, ContextValue)>> {
    use serde_json::Value;
    map.iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => ContextValue::String(s.clone()),
                Value::Bool(b) => ContextValue::Bool(*b),
                Value::Number(n) => ContextValue::Number(n.as_f64().unwrap_or(f64::NAN)),
                Value::Array(items) => ContextValue::StringList(
                    items
                        .iter()
                        .map(|i| {
                            i.as_str().map(str::to_owned).ok_or_else(|| {
                                Error::Validation(format!(
                                    "the context key `{}` must be a list of strings",
                                    k.escape_default()
                                ))
                            })
                        })
                        .collect::<Result<_>>()?,
                ),
                _ => {
                    return Err(Error::Validation(format!(
                        "the context key `{}` must be a string, a list of strings, a boolean or a number",
                        k.escape_default()
                    )));
                }
            };
            Ok((k.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_supplied_keys() {
        assert!(context_key_allowed("s3:prefix"));
        assert!(context_key_allowed("aws:ResourceTag/team"));
        assert!(context_key_allowed("aws:RequestTag/team"));
        assert!(context_key_allowed("aws:TagKeys"));
        for k in [
            "aws:SourceIp",
            "aws:PrincipalArn",
            "AWS:userid",
            "nocolon",
            ":x",
            "x:",
        ] {
            assert!(!context_key_allowed(k), "{k}");
        }
    }

    #[test]
    fn check_validation() {
        let c = |a: &str, r: &str| Check {
            action: a.into(),
            resource: r.into(),
        };
        assert!(validate_checks(&[c("s3:GetObject", "arn:aws:s3:::b/k")], &[]).is_ok());
        assert!(validate_checks(&[], &[]).is_err());
        assert!(validate_checks(&[c("s3:*", "x")], &[]).is_err());
        assert!(validate_checks(&[c("GetObject", "x")], &[]).is_err());
        assert!(validate_checks(&[c("s3:GetObject", "")], &[]).is_err());
        let many: Vec<Check> = (0..=MAX_CHECKS).map(|_| c("s3:GetObject", "x")).collect();
        assert!(validate_checks(&many, &[]).is_err());
    }
}
