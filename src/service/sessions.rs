//! STS: signing keys, session issuance (AssumeRole, GetSessionToken), verification of
//! session tokens with a warm cache, and revocation.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::signin::mfa_aad;
use super::{Caller, CallerKind, RequestContext, Vault};
use crate::auth::totp;
use crate::crypto::{Purpose, generate_access_key};
use crate::error::{Error, Result};
use crate::model::{AccountId, SecretString, Tag, validate_tag_set};
use crate::policy::{self, ContextValue, PolicyKind};
use crate::store::SigningKeyRow;
use crate::sts::{self, Claims, PublicKeySet, SessionKind, TokenError, TokenSigningKey};

/// Longest token lifetime any key may have signed (GetSessionToken's 36 hours); old public
/// keys stay published this long after a rotation.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::hours(36);
/// Verified tokens kept in memory.
const CACHE_LIMIT: usize = 50_000;
/// How often the revocation state is re-read from the store.
const REVOCATION_REFRESH: Duration = Duration::seconds(1);

/// Revocation state: revoke-before cut-offs and revoked token ids.
#[derive(Default)]
struct Revocations {
    version: i64,
    /// The revocation version the cut-offs were read through (`None`: read them all).
    cutoffs_through: Option<i64>,
    keys_version: i64,
    checked_at: Option<OffsetDateTime>,
    /// The store generation the state was read at: every revocation is a committed
    /// change, which moves the generation on, so it bites on the next check.
    generation: u64,
    cutoffs: HashMap<(String, String), i64>,
    tokens: HashSet<String>,
}

/// A verified session, cached by token hash until it expires.
pub struct VerifiedSession {
    /// The claims.
    pub claims: Arc<Claims>,
    /// The session secret, for SigV4.
    pub secret: SecretString,
}

#[derive(Default)]
pub(crate) struct TokenState {
    current: Option<TokenSigningKey>,
    public: PublicKeySet,
    revocations: Revocations,
    cache: HashMap<[u8; 32], Arc<VerifiedSession>>,
    ed25519_verifications: u64,
}

impl TokenState {
    /// Whether the revocation state may be used without reading the store: read less
    /// than a second ago (for other processes' changes) and at the current generation
    /// (for this process's).
    fn revocations_fresh(&self, generation: u64, now: OffsetDateTime) -> bool {
        self.revocations.generation == generation
            && self
                .revocations
                .checked_at
                .is_some_and(|t| now - t < REVOCATION_REFRESH && t <= now)
    }
}

/// A signing key as listed: (hex key id, current, created at, retired after), unix seconds.
pub type SigningKeyInfo = (String, bool, i64, Option<i64>);

/// A new session: what AssumeRole and GetSessionToken return.
pub struct IssuedSession {
    /// The claims.
    pub claims: Claims,
    /// The secret access key (shown once).
    pub secret: SecretString,
    /// The session token.
    pub token: String,
    /// PackedPolicySize: percent of the session-policy allowance used.
    pub packed_policy_size: u32,
}

impl Serialize for IssuedSession {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let exp = OffsetDateTime::from_unix_timestamp(self.claims.expires_at)
            .map_err(serde::ser::Error::custom)?;
        let mut st = s.serialize_struct("Credentials", 4)?;
        st.serialize_field("AccessKeyId", &self.claims.access_key_id)?;
        st.serialize_field("SecretAccessKey", self.secret.expose())?;
        st.serialize_field("SessionToken", &self.token)?;
        st.serialize_field("Expiration", &super::types::iso8601(&exp))?;
        st.end()
    }
}

/// AssumeRole's parameters.
#[derive(Debug, Clone, Default)]
pub struct AssumeRoleRequest {
    /// The role.
    pub role_arn: String,
    /// 2–64 of `[\w+=,.@-]`.
    pub session_name: String,
    /// 900 to the role's maximum (1 hour when chaining); default 3600.
    pub duration_seconds: Option<i64>,
    /// `sts:ExternalId`.
    pub external_id: Option<String>,
    /// MFA device serial.
    pub serial_number: Option<String>,
    /// MFA code.
    pub token_code: Option<String>,
    /// Inline session policy.
    pub policy: Option<String>,
    /// Managed session policies (at most 10).
    pub policy_arns: Vec<String>,
    /// Session tags.
    pub tags: Vec<Tag>,
    /// Transitive tag keys.
    pub transitive_tag_keys: Vec<String>,
    /// SourceIdentity.
    pub source_identity: Option<String>,
}

fn session_name_ok(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// The lifetime of a sign-in session: 12 hours unless asked, 15 minutes to 36 hours.
pub(super) fn sign_in_duration(duration: Option<i64>) -> Result<i64> {
    let d = duration.unwrap_or(43_200);
    if !(900..=129_600).contains(&d) {
        return Err(validation(
            "durationSeconds",
            "member must have value between 900 and 129600",
        ));
    }
    Ok(d)
}

fn validation(param: &str, msg: &str) -> Error {
    Error::Validation(format!(
        "1 validation error detected: value at `{param}` failed to satisfy constraint: {msg}"
    ))
}

impl Vault {
    fn token_state(&self) -> &RwLock<TokenState> {
        &self.tokens
    }

    /// Checks that this vault's master key opens its sealed signing keys (a restore with
    /// the wrong key fails here).
    pub fn check_master_key(&self) -> Result<()> {
        let tx = self.store().read()?;
        // Audit checkpoints are signed with a key derived from the master key.
        let audit_key = self.keys.audit_signing_key().verifying_key();
        if let Some(c) = tx.audit_first_checkpoint()?
            && c.public_key.as_slice() != audit_key.as_bytes()
        {
            return Err(Error::Config(
                "the audit checkpoints were signed under another master key".into(),
            ));
        }
        let rows = tx.signing_keys()?;
        let first_key = tx.first_access_key_id()?;
        drop(tx);
        if let Some(id) = first_key {
            self.load_access_key_secret(&id)?;
        }
        for r in rows {
            let kid: [u8; 8] = hex::decode(&r.kid)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| Error::Internal("a stored key id is malformed".into()))?;
            TokenSigningKey::open(&self.keys, &kid, &r.sealed_private)?;
        }
        Ok(())
    }

    /// Loads the signing keys (creating the first one) into memory.
    fn ensure_keys(&self) -> Result<()> {
        if self
            .token_state()
            .read()
            .map_err(|_| poisoned())?
            .current
            .is_some()
        {
            return Ok(());
        }
        let now = self.now();
        let tx = self.store().write()?;
        let mut rows = tx.signing_keys()?;
        if !rows.iter().any(|r| r.current) {
            let key = TokenSigningKey::generate(self.env.rng.as_ref())?;
            let row = SigningKeyRow {
                kid: hex::encode(key.kid()),
                public_key: key.public().as_bytes().to_vec(),
                sealed_private: key.seal(&self.keys, self.env.rng.as_ref())?,
                created_at: now.unix_timestamp(),
                retire_after: None,
                current: true,
            };
            tx.insert_signing_key(&row, Some((now + MAX_TOKEN_LIFETIME).unix_timestamp()))?;
            rows = tx.signing_keys()?;
        }
        tx.commit()?;
        self.install_keys(&rows)
    }

    fn install_keys(&self, rows: &[SigningKeyRow]) -> Result<()> {
        let mut public = PublicKeySet::default();
        let mut current = None;
        for r in rows {
            let bytes: [u8; 32] =
                r.public_key.as_slice().try_into().map_err(|_| {
                    Error::Internal("a stored public key has the wrong length".into())
                })?;
            let retire = r
                .retire_after
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
            public.insert_bytes(&bytes, retire)?;
            if r.current {
                let kid: [u8; 8] = hex::decode(&r.kid)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| Error::Internal("a stored key id is malformed".into()))?;
                current = Some(TokenSigningKey::open(&self.keys, &kid, &r.sealed_private)?);
            }
        }
        let mut st = self.token_state().write().map_err(|_| poisoned())?;
        st.public = public;
        st.current = current;
        Ok(())
    }

    /// Rotates the signing key: a new key signs new tokens; old public keys stay until
    /// every token they signed has expired.
    pub fn rotate_signing_key(&self, caller: &Caller) -> Result<String> {
        if caller.kind != CallerKind::Root {
            return Err(Error::AccessDenied(
                "only the account root may rotate signing keys".into(),
            ));
        }
        let now = self.now();
        let key = TokenSigningKey::generate(self.env.rng.as_ref())?;
        let kid = hex::encode(key.kid());
        let tx = self.store().write()?;
        tx.prune_signing_keys(now)?;
        tx.insert_signing_key(
            &SigningKeyRow {
                kid: kid.clone(),
                public_key: key.public().as_bytes().to_vec(),
                sealed_private: key.seal(&self.keys, self.env.rng.as_ref())?,
                created_at: now.unix_timestamp(),
                retire_after: None,
                current: true,
            },
            Some((now + MAX_TOKEN_LIFETIME).unix_timestamp()),
        )?;
        tx.bump_keys_version()?;
        let rows = tx.signing_keys()?;
        self.commit(tx)?;
        self.install_keys(&rows)?;
        Ok(kid)
    }

    /// The signing keys: `(kid, current, created, retire_after)`.
    pub fn signing_keys(&self) -> Result<Vec<SigningKeyInfo>> {
        self.ensure_keys()?;
        Ok(self
            .store()
            .read()?
            .signing_keys()?
            .into_iter()
            .map(|r| (r.kid, r.current, r.created_at, r.retire_after))
            .collect())
    }

    /// The public keys as JWKS.
    pub fn jwks(&self) -> Result<serde_json::Value> {
        self.ensure_keys()?;
        let st = self.token_state().read().map_err(|_| poisoned())?;
        Ok(sts::jwks(&st.public))
    }

    /// How many Ed25519 verifications ran (the warm path runs none).
    pub fn token_verifications(&self) -> u64 {
        self.token_state()
            .read()
            .map(|s| s.ed25519_verifications)
            .unwrap_or(0)
    }

    pub(super) fn mint_pub(&self, claims: Claims) -> Result<IssuedSession> {
        self.mint(claims)
    }

    pub(super) fn new_claims_pub(
        &self,
        kind: SessionKind,
        account: &str,
        arn: String,
        id: String,
        duration: i64,
    ) -> Result<Claims> {
        self.new_claims(kind, account, arn, id, duration)
    }

    fn mint(&self, claims: Claims) -> Result<IssuedSession> {
        // Revocation cut-offs and retired public keys are dropped once this long has
        // passed: a longer-lived token would outlive its revocation.
        if claims.expires_at - claims.issued_at > MAX_TOKEN_LIFETIME.whole_seconds() {
            return Err(Error::Internal(
                "a session may not outlive the longest token lifetime".into(),
            ));
        }
        self.ensure_keys()?;
        self.refresh_revocations()?;
        let (_, secret) = generate_access_key(self.env.rng.as_ref(), true)?;
        let st = self.token_state().read().map_err(|_| poisoned())?;
        let key = st
            .current
            .as_ref()
            .ok_or_else(|| Error::Internal("no signing key".into()))?;
        let token = sts::mint(&claims, &secret, key, &self.keys, self.env.rng.as_ref())?;
        let policy_chars: usize = claims
            .session_policies
            .iter()
            .map(|p| policy::non_whitespace_len(p))
            .sum::<usize>()
            + claims.policy_arns.iter().map(String::len).sum::<usize>();
        Ok(IssuedSession {
            packed_policy_size: u32::try_from(policy_chars * 100 / policy::SESSION_POLICY_MAX)
                .unwrap_or(u32::MAX),
            claims,
            secret,
            token,
        })
    }

    fn new_claims(
        &self,
        kind: SessionKind,
        account: &str,
        principal_arn: String,
        principal_id: String,
        duration: i64,
    ) -> Result<Claims> {
        let mut random = [0u8; 8];
        self.env.rng.fill(&mut random)?;
        let key_id =
            crate::model::AccessKeyId::temporary_for_account(&AccountId::parse(account)?, &random);
        let mut token_id = [0u8; 16];
        self.env.rng.fill(&mut token_id)?;
        let now = self.now().unix_timestamp();
        Ok(Claims {
            kind,
            account: account.to_owned(),
            principal_arn,
            principal_id,
            role_arn: None,
            session_name: None,
            issued_at: now,
            expires_at: now + duration,
            mfa_time: None,
            source_identity: None,
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            session_policies: Vec::new(),
            policy_arns: Vec::new(),
            chain_depth: 0,
            token_id,
            access_key_id: key_id.to_string(),
            source_access_key_id: None,
        })
    }

    /// Checks an MFA code against a device enabled for `user_id` and spends its step.
    fn check_mfa(&self, user_id: &str, serial: &str, code: &str) -> Result<()> {
        let invalid = || {
            Error::AccessDenied(
                "MultiFactorAuthentication failed with invalid MFA one time pass code.".into(),
            )
        };
        let d = self
            .store()
            .read()?
            .mfa_device(serial)?
            .filter(|d| d.user_id.as_deref() == Some(user_id))
            .ok_or_else(invalid)?;
        let seed = self
            .keys
            .sealer(Purpose::TotpSeed)
            .open(&mfa_aad(serial), &d.sealed_seed)?;
        let step =
            totp::verify(seed.expose(), code, self.now(), d.last_step).map_err(|_| invalid())?;
        let tx = self.store().write()?;
        if !tx.advance_mfa_step(serial, step)? {
            return Err(invalid());
        }
        tx.commit()
    }

    /// GetSessionToken: temporary credentials for the calling user, optionally with MFA.
    /// They cannot call IAM unless MFA was used, and in STS only AssumeRole and
    /// GetCallerIdentity.
    pub fn get_session_token(
        &self,
        caller: &Caller,
        access_key_id: Option<&str>,
        duration: Option<i64>,
        serial: Option<&str>,
        code: Option<&str>,
    ) -> Result<IssuedSession> {
        let CallerKind::User { user_id, .. } = &caller.kind else {
            return Err(Error::AccessDenied(
                "GetSessionToken must be called with a user's long-term credentials".into(),
            ));
        };
        let d = duration.unwrap_or(43_200);
        if !(900..=129_600).contains(&d) {
            return Err(validation(
                "durationSeconds",
                "member must have value between 900 and 129600",
            ));
        }
        let mfa = match (serial, code) {
            (Some(s), Some(c)) => {
                self.check_mfa(user_id, s, c)?;
                true
            }
            (None, None) => false,
            _ => {
                return Err(Error::InvalidInput(
                    "SerialNumber and TokenCode go together".into(),
                ));
            }
        };
        let mut claims = self.new_claims(
            SessionKind::User,
            caller.account.as_str(),
            caller.arn.clone(),
            user_id.clone(),
            d,
        )?;
        claims.mfa_time = mfa.then_some(claims.issued_at);
        claims.source_access_key_id = access_key_id.map(str::to_owned);
        self.mint(claims)
    }

    /// A session for a user who signed in with a password (and code): the login API.
    pub fn session_for_sign_in(
        &self,
        signin: &super::SignIn,
        duration: Option<i64>,
    ) -> Result<IssuedSession> {
        let d = sign_in_duration(duration)?;
        let u = &signin.user;
        let arn = super::users::user_arn(u);
        let mut claims =
            self.new_claims(SessionKind::User, &u.account_id, arn, u.user_id.clone(), d)?;
        claims.mfa_time = signin.mfa_time.map(|t| t.unix_timestamp());
        self.mint(claims)
    }

    /// AssumeRole.
    pub fn assume_role(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        req: &AssumeRoleRequest,
    ) -> Result<IssuedSession> {
        if !session_name_ok(&req.session_name) {
            return Err(validation(
                "roleSessionName",
                "member must satisfy regular expression pattern: [\\w+=,.@-]{2,64}",
            ));
        }
        let arn = crate::model::Arn::parse(&req.role_arn)
            .map_err(|_| validation("roleArn", "must be a role arn"))?;
        let role_name = arn
            .resource()
            .strip_prefix("role/")
            .and_then(|r| r.rsplit('/').next())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| validation("roleArn", "must be a role arn"))?;
        let role_account = AccountId::parse(arn.account())?;
        if req
            .external_id
            .as_ref()
            .is_some_and(|e| !(2..=1224).contains(&e.len()))
        {
            return Err(validation(
                "externalId",
                "member must have length between 2 and 1224",
            ));
        }
        if req.policy_arns.len() > 10 {
            return Err(validation(
                "policyArns",
                "member must have length less than or equal to 10",
            ));
        }
        validate_tag_set(&req.tags)?;
        if req
            .source_identity
            .as_deref()
            .is_some_and(|s| !session_name_ok(s))
        {
            return Err(validation(
                "sourceIdentity",
                "member must satisfy regular expression pattern: [\\w+=,.@-]{2,64}",
            ));
        }
        let chained = matches!(&caller.kind, CallerKind::Session(c) if c.kind == SessionKind::Role || c.kind == SessionKind::Instance);
        // The caller's identity side from the warm cache (no SQL for a caller seen since
        // the store last changed). Changes made through the server take effect on the
        // next request; another process's (the local CLI's) within a second, as for the
        // authorization API.
        let entry = self.warm_principal(caller)?;
        let warm_role = self
            .warm_role(role_account.as_str(), &role_name.to_ascii_lowercase())?
            .filter(|r| super::roles::role_arn(&r.row) == req.role_arn || r.row.name == role_name);
        let Some(warm_role) = warm_role else {
            return Err(Error::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller.arn, req.role_arn
            )));
        };
        let role = &warm_role.row;
        let max = if chained {
            3600
        } else {
            role.max_session_duration
        };
        let duration = req.duration_seconds.unwrap_or(3600.min(max));
        if duration < 900 || duration > max {
            return Err(validation(
                "durationSeconds",
                &format!(
                    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role ({max}){}",
                    if chained {
                        " or the one-hour limit of role chaining"
                    } else {
                        ""
                    }
                ),
            ));
        }
        // MFA given with the request.
        let mut mfa_time = match &caller.kind {
            CallerKind::Session(c) => c.mfa_time,
            _ => None,
        };
        if let (Some(serial), Some(code)) = (&req.serial_number, &req.token_code) {
            let user_id = match &caller.kind {
                CallerKind::User { user_id, .. } => user_id.clone(),
                CallerKind::Session(c) if c.kind == SessionKind::User => c.principal_id.clone(),
                _ => {
                    return Err(Error::AccessDenied(
                        "MFA codes are checked against a user's device".into(),
                    ));
                }
            };
            self.check_mfa(&user_id, serial, code)?;
            mfa_time = Some(self.now().unix_timestamp());
        } else if req.serial_number.is_some() || req.token_code.is_some() {
            return Err(Error::InvalidInput(
                "SerialNumber and TokenCode go together".into(),
            ));
        }
        let trust = self
            .compiled
            .get(&role.trust_policy, PolicyKind::Trust)
            .map_err(|e| {
                Error::AccessDenied(format!(
                    "the trust policy of {} could not be evaluated: {}",
                    req.role_arn,
                    e.message()
                ))
            })?;
        let mut keys: Vec<(String, ContextValue)> = vec![(
            "sts:RoleSessionName".into(),
            ContextValue::String(req.session_name.clone()),
        )];
        if let Some(e) = &req.external_id {
            keys.push(("sts:ExternalId".into(), ContextValue::String(e.clone())));
        }
        if let Some(s) = &req.source_identity {
            keys.push(("sts:SourceIdentity".into(), ContextValue::String(s.clone())));
        }
        keys.push((
            "aws:MultiFactorAuthPresent".into(),
            ContextValue::Bool(mfa_time.is_some()),
        ));
        if let Some(t) = mfa_time {
            keys.push((
                "aws:MultiFactorAuthAge".into(),
                ContextValue::Number((self.now().unix_timestamp() - t) as f64),
            ));
        }
        keys.extend(super::authz::request_tag_keys(&req.tags));
        let role_arn = super::roles::role_arn(role);
        let trust_ref = Some(("trust policy", trust.as_ref()));
        // `aws:ResourceTag/…` of the role, for a role of the caller's own account (as
        // for any IAM resource the caller names).
        let role_tags = || {
            if role_account == caller.account {
                warm_role.tag_keys.clone()
            } else {
                Vec::new()
            }
        };
        let mut actions = vec!["sts:AssumeRole"];
        if !req.tags.is_empty() || !req.transitive_tag_keys.is_empty() {
            actions.push("sts:TagSession");
        }
        if req.source_identity.is_some() {
            actions.push("sts:SetSourceIdentity");
        }
        for action in actions {
            self.authorize_with_tags(
                caller,
                entry.as_deref(),
                action,
                &role_arn,
                ctx,
                role_tags(),
                &keys,
                trust_ref,
                role_account.as_str(),
            )?;
        }
        // Session policies must parse as session policies.
        if let Some(p) = &req.policy {
            policy::parse(p, PolicyKind::Session).map_err(|e| match e.code() {
                "LimitExceeded" => Error::PackedPolicyTooLarge(format!(
                    "the session policy is larger than {} characters",
                    policy::SESSION_POLICY_MAX
                )),
                _ => Error::from(e),
            })?;
        }
        if !req.policy_arns.is_empty() {
            let tx = self.store().read()?;
            for a in &req.policy_arns {
                if self
                    .managed_document(&tx, role_account.as_str(), a)?
                    .is_none()
                {
                    return Err(Error::InvalidInput(format!("policy {a} does not exist")));
                }
            }
        }
        let session_arn = format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            role.account_id, role.name, req.session_name
        );
        let mut claims = self.new_claims(
            SessionKind::Role,
            &role.account_id,
            session_arn,
            format!("{}:{}", role.role_id, req.session_name),
            duration,
        )?;
        claims.role_arn = Some(role_arn);
        claims.session_name = Some(req.session_name.clone());
        claims.mfa_time = mfa_time;
        claims.source_identity = req.source_identity.clone().or_else(|| match &caller.kind {
            CallerKind::Session(c) => c.source_identity.clone(),
            _ => None,
        });
        // Transitive tags of a chained session carry over.
        if let CallerKind::Session(c) = &caller.kind {
            for k in &c.transitive_tag_keys {
                if let Some((key, v)) = c.tags.iter().find(|(tk, _)| tk.eq_ignore_ascii_case(k)) {
                    claims.tags.push((key.clone(), v.clone()));
                    claims.transitive_tag_keys.push(k.clone());
                }
            }
            claims.chain_depth = c.chain_depth.saturating_add(1);
        }
        for t in &req.tags {
            claims.tags.retain(|(k, _)| !k.eq_ignore_ascii_case(&t.key));
            claims.tags.push((t.key.clone(), t.value.clone()));
        }
        claims
            .transitive_tag_keys
            .extend(req.transitive_tag_keys.iter().cloned());
        claims.session_policies = req.policy.iter().cloned().collect();
        claims.policy_arns = req.policy_arns.clone();
        self.mint(claims)
    }

    fn refresh_revocations(&self) -> Result<()> {
        let now = self.now();
        if self
            .token_state()
            .read()
            .map_err(|_| poisoned())?
            .revocations_fresh(self.store().generation(), now)
        {
            return Ok(());
        }
        // Read before the snapshot: a commit in between leaves this refresh labelled
        // older than the state, so the next check refreshes again.
        let generation = self.store().generation();
        let tx = self.store().read()?;
        let version = tx.revocation_version()?;
        let keys_version = tx.keys_version()?;
        let key_rows = if keys_version
            != self
                .token_state()
                .read()
                .map_err(|_| poisoned())?
                .revocations
                .keys_version
        {
            Some(tx.signing_keys()?)
        } else {
            None
        };
        if let Some(rows) = &key_rows {
            // Another process (the local CLI) rotated the keys: pick them up.
            self.install_keys(rows)?;
        }
        let mut st = self.token_state().write().map_err(|_| poisoned())?;
        st.revocations.keys_version = keys_version;
        st.revocations.checked_at = Some(now);
        st.revocations.generation = generation;
        if version == st.revocations.version && version != 0 {
            return Ok(());
        }
        st.revocations.version = version;
        // Only the cut-offs set or raised since the last read (cut-offs only ever rise).
        let r = &mut st.revocations;
        // Read all of them the first time, or when the version went back (another
        // database file).
        let changed = match r.cutoffs_through.filter(|through| *through <= version) {
            Some(through) => tx.session_revocations_since(through)?,
            None => {
                r.cutoffs.clear();
                tx.session_revocations()?
            }
        };
        for (scope, subject, t) in changed {
            let e = r.cutoffs.entry((scope, subject)).or_insert(t);
            *e = (*e).max(t);
        }
        r.cutoffs_through = Some(version);
        // Cut-offs older than any live session refuse nothing (the store prunes them too).
        let dead = revocation_horizon(now).unix_timestamp();
        r.cutoffs.retain(|_, t| *t > dead);
        r.tokens = tx.revoked_tokens(now)?.into_iter().collect();
        Ok(())
    }

    fn revoked(&self, c: &Claims) -> Result<bool> {
        self.refresh_revocations()?;
        let st = self.token_state().read().map_err(|_| poisoned())?;
        let r = &st.revocations;
        let before = |scope: &str, subject: &str| {
            r.cutoffs
                .get(&(scope.to_owned(), subject.to_owned()))
                .is_some_and(|t| c.issued_at < *t)
        };
        Ok(r.tokens.contains(&hex::encode(c.token_id))
            || before("account", &c.account)
            || c.role_arn.as_deref().is_some_and(|a| before("role", a))
            || before("principal", &c.principal_id)
            || (c.kind == SessionKind::Instance
                && c.session_name
                    .as_deref()
                    .is_some_and(|i| before("instance", i)))
            || c.source_access_key_id
                .as_deref()
                .is_some_and(|k| before("key", k)))
    }

    /// Whether [`Vault::verify_session`] would answer `token` from memory right now: the
    /// token was verified before and the revocation state needs no refresh (no SQL).
    pub(super) fn session_warm(&self, token: &str) -> bool {
        self.warm_session_token_id(token).is_some()
    }

    /// For a session token verified before, while the signing keys and the revocation
    /// state are fresh in memory: the session's token id (what its warm caller entry is
    /// filed under). `None` when answering for it could touch the store.
    pub(super) fn warm_session_token_id(&self, token: &str) -> Option<[u8; 16]> {
        let now = self.now();
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(digest.as_ref());
        let st = self.token_state().read().ok()?;
        if !self.tokens_fresh(&st, now) {
            return None;
        }
        st.cache.get(&key).map(|s| s.claims.token_id)
    }

    /// Whether a session can be minted without touching the store: the signing key is
    /// loaded and the revocation state was read less than a second ago.
    pub(super) fn minting_warm(&self) -> bool {
        let now = self.now();
        self.token_state()
            .read()
            .is_ok_and(|st| self.tokens_fresh(&st, now))
    }

    fn tokens_fresh(&self, st: &TokenState, now: OffsetDateTime) -> bool {
        st.current.is_some() && st.revocations_fresh(self.store().generation(), now)
    }

    /// Verifies a session token presented with `access_key_id`. A token seen before is
    /// answered from memory: no Ed25519 work and no SQL (revocation state refreshes at
    /// most once a second).
    pub fn verify_session(
        &self,
        access_key_id: &str,
        token: &str,
    ) -> std::result::Result<Arc<VerifiedSession>, TokenError> {
        let now = self.now();
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(digest.as_ref());
        self.ensure_keys().map_err(|_| TokenError::Invalid)?;
        let cached = self
            .token_state()
            .read()
            .ok()
            .and_then(|st| st.cache.get(&key).cloned());
        let session = match cached {
            Some(s) => s,
            None => {
                let v = {
                    let mut st = self
                        .token_state()
                        .write()
                        .map_err(|_| TokenError::Invalid)?;
                    st.ed25519_verifications += 1;
                    sts::verify(token, &st.public, &self.keys, now)?
                };
                let s = Arc::new(VerifiedSession {
                    claims: Arc::new(v.claims),
                    secret: v.secret,
                });
                if let Ok(mut st) = self.token_state().write() {
                    if st.cache.len() >= CACHE_LIMIT {
                        let t = now.unix_timestamp();
                        st.cache.retain(|_, s| s.claims.expires_at > t);
                        if st.cache.len() >= CACHE_LIMIT {
                            st.cache.clear();
                        }
                    }
                    st.cache.insert(key, Arc::clone(&s));
                }
                s
            }
        };
        if now.unix_timestamp() >= session.claims.expires_at {
            return Err(TokenError::Expired);
        }
        if session.claims.access_key_id != access_key_id {
            return Err(TokenError::Invalid);
        }
        if self
            .revoked(&session.claims)
            .map_err(|_| TokenError::Invalid)?
        {
            return Err(TokenError::Invalid);
        }
        Ok(session)
    }

    /// Revokes every session of a role issued before now (AWS's revoke-older-sessions).
    pub fn revoke_role_sessions(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        role_name: &str,
    ) -> Result<String> {
        let n = super::name(crate::model::NameKind::Role, role_name)?;
        let tx = self.store().write()?;
        let found = tx.role(caller.account.as_str(), n.canonical())?;
        let arn = super::roles::arn_for(&caller.account, found.as_ref(), &n);
        self.authorize(&tx, caller, "iam:PutRolePolicy", &arn, ctx)?;
        let role = found.ok_or_else(|| super::no_such("role", n.as_str()))?;
        let role_arn = super::roles::role_arn(&role);
        self.revoke_sessions_of(&tx, "role", &role_arn)?;
        self.commit(tx)?;
        Ok(role_arn)
    }

    /// Revokes one session by token id (hex).
    pub fn revoke_session(&self, caller: &Caller, token_id: &str, expires_at: i64) -> Result<()> {
        if caller.kind != CallerKind::Root {
            return Err(Error::AccessDenied(
                "only the account root may revoke single sessions".into(),
            ));
        }
        let tx = self.store().write()?;
        tx.revoke_token(token_id, expires_at, self.now())?;
        self.commit(tx)?;
        Ok(())
    }

    /// Revokes sessions derived from a principal or a key (called on delete/deactivate).
    pub(super) fn revoke_sessions_of(
        &self,
        tx: &crate::store::WriteTx<'_>,
        scope: &str,
        subject: &str,
    ) -> Result<()> {
        let now = self.now();
        tx.revoke_before(
            scope,
            subject,
            now + Duration::seconds(1),
            revocation_horizon(now),
        )?;
        Ok(())
    }
}

fn poisoned() -> Error {
    Error::Internal("the token state lock is poisoned".into())
}

/// Revoke-before cut-offs at or before this time refuse nothing any more: every session
/// issued before them expired (the longest lifetime, plus an hour for clock steps).
fn revocation_horizon(now: OffsetDateTime) -> OffsetDateTime {
    now - MAX_TOKEN_LIFETIME - Duration::hours(1)
}

pub(crate) fn new_state() -> RwLock<TokenState> {
    RwLock::new(TokenState::default())
}
