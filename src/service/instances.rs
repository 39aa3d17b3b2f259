//! EC2-like instance identities: an instance holds an Ed25519 private key; the vault holds
//! the public half and hands out role credentials to signed, fresh, unreplayed requests.

use std::collections::HashMap;
use std::sync::Mutex;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;

use super::sessions::IssuedSession;
use super::{Caller, RequestContext, Vault, name, no_such};
use crate::error::{Error, Result};
use crate::model::{AccountId, NameKind};
use crate::policy::{self, ContextValue, PolicyKind, PolicySet, PrincipalInfo};
use crate::store::InstanceRow;
use crate::sts::SessionKind;

/// How far a request's timestamp may be from the vault's clock, seconds.
pub const INSTANCE_CLOCK_WINDOW: i64 = 300;
/// The longest instance session.
const INSTANCE_SESSION_MAX: i64 = 6 * 3600;
/// Most nonces remembered per node.
const NONCE_LIMIT: usize = 200_000;

/// Nonces seen within the clock window, with their expiry (unix seconds).
#[derive(Default)]
pub(crate) struct NonceCache(Mutex<HashMap<String, i64>>);

/// The bytes an instance signs to ask for credentials: it names itself by its public key
/// (hex), so the agent needs nothing but its key file.
pub fn instance_request_message(public_key_hex: &str, timestamp: i64, nonce: &str) -> Vec<u8> {
    format!("iamvault instance credentials v1\n{public_key_hex}\n{timestamp}\n{nonce}").into_bytes()
}

/// A registered instance as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceInfo {
    /// `i-` + 17 hex digits.
    pub instance_id: String,
    /// Name.
    pub name: String,
    /// Instance profile ARN.
    pub instance_profile_arn: String,
    /// The profile's role, if it has one.
    pub role_arn: Option<String>,
    /// Hex of the public key.
    pub public_key: String,
}

impl Vault {
    fn instance_info(
        &self,
        tx: &crate::store::ReadTx<'_>,
        row: &InstanceRow,
    ) -> Result<InstanceInfo> {
        let profile = tx
            .instance_profiles(&row.account_id, "/")?
            .into_iter()
            .find(|p| p.profile_id == row.profile_id)
            .ok_or_else(|| Error::Internal("an instance's profile is missing".into()))?;
        let role = match &profile.role_id {
            Some(id) => tx.role_by_id(id)?,
            None => None,
        };
        Ok(InstanceInfo {
            instance_id: row.instance_id.clone(),
            name: row.name.clone(),
            instance_profile_arn: format!(
                "arn:aws:iam::{}:instance-profile{}{}",
                profile.account_id, profile.path, profile.name
            ),
            role_arn: role.as_ref().map(super::roles::role_arn),
            public_key: hex::encode(&row.public_key),
        })
    }

    /// Registers an instance with an instance profile. Handing the profile's role to the
    /// instance passes it, so the caller needs `iam:PassRole` on that role.
    pub fn register_instance(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        instance_name: &str,
        profile_name: &str,
        public_key: &[u8],
    ) -> Result<InstanceInfo> {
        let n = name(NameKind::InstanceProfile, instance_name)?;
        let pn = name(NameKind::InstanceProfile, profile_name)?;
        let key: [u8; 32] = public_key
            .try_into()
            .map_err(|_| Error::InvalidInput("the public key must be 32 bytes (Ed25519)".into()))?;
        VerifyingKey::from_bytes(&key)
            .map_err(|_| Error::InvalidInput("not an Ed25519 public key".into()))?;
        let tx = self.store().write()?;
        let profile = tx
            .instance_profile(caller.account.as_str(), pn.canonical())?
            .ok_or_else(|| no_such("instance profile", pn.as_str()))?;
        let profile_arn = format!(
            "arn:aws:iam::{}:instance-profile{}{}",
            profile.account_id, profile.path, profile.name
        );
        self.authorize(&tx, caller, "vault:RegisterInstance", &profile_arn, ctx)?;
        if let Some(role_id) = &profile.role_id {
            let role = tx
                .role_by_id(role_id)?
                .ok_or_else(|| Error::Internal("an instance profile's role is missing".into()))?;
            self.authorize_with(
                &tx,
                caller,
                "iam:PassRole",
                &super::roles::role_arn(&role),
                ctx,
                &[(
                    "iam:PassedToService".to_owned(),
                    ContextValue::String("ec2.amazonaws.com".to_owned()),
                )],
            )?;
        }
        let mut id = [0u8; 9];
        self.env.rng.fill(&mut id)?;
        let hex17: String = hex::encode(id).chars().take(17).collect();
        let row = InstanceRow {
            instance_id: format!("i-{hex17}"),
            account_id: caller.account.to_string(),
            name: n.as_str().to_owned(),
            profile_id: profile.profile_id.clone(),
            public_key: key.to_vec(),
            registered_at: self.now(),
        };
        tx.insert_instance(&row).map_err(|e| match e {
            Error::Internal(m) if m.contains("UNIQUE") => Error::EntityAlreadyExists(
                "an instance with this public key is already registered".into(),
            ),
            other => other,
        })?;
        let info = self.instance_info(&tx, &row)?;
        self.commit(tx)?;
        Ok(info)
    }

    /// The instances of the caller's account.
    pub fn list_instances(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
    ) -> Result<Vec<InstanceInfo>> {
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "vault:ListInstances", "*", ctx)?;
        tx.instances(caller.account.as_str())?
            .iter()
            .map(|r| self.instance_info(&tx, r))
            .collect()
    }

    /// Deregisters an instance: its key gets no more credentials, and the sessions it
    /// already has are revoked.
    pub fn deregister_instance(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        instance_id: &str,
    ) -> Result<()> {
        let tx = self.store().write()?;
        let row = tx
            .instance(instance_id)?
            .filter(|r| r.account_id == caller.account.as_str())
            .ok_or_else(|| {
                Error::NoSuchEntity(format!("The instance {instance_id} is not registered."))
            })?;
        let arn = format!(
            "arn:aws:ec2::{}:instance/{}",
            row.account_id, row.instance_id
        );
        self.authorize(&tx, caller, "vault:DeregisterInstance", &arn, ctx)?;
        tx.delete_instance(instance_id)?;
        self.revoke_sessions_of(&tx, "instance", instance_id)?;
        self.commit(tx)
    }

    /// Role credentials for a registered instance. All of these must hold: the signature
    /// verifies with the registered key; the timestamp is within five minutes and the nonce
    /// is new; the instance is registered; its profile has a role; the role's trust policy
    /// allows `ec2.amazonaws.com` to call `sts:AssumeRole`.
    pub fn instance_credentials(
        &self,
        public_key_hex: &str,
        timestamp: i64,
        nonce: &str,
        signature: &[u8],
    ) -> Result<(String, IssuedSession)> {
        let denied = || Error::AccessDenied("the instance credential request was refused".into());
        if !(16..=128).contains(&nonce.len())
            || !nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::InvalidInput(
                "the nonce must be 16-128 characters of [A-Za-z0-9_-]".into(),
            ));
        }
        let now = self.now().unix_timestamp();
        if (timestamp - now).abs() > INSTANCE_CLOCK_WINDOW {
            return Err(denied());
        }
        let key: [u8; 32] = hex::decode(public_key_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(denied)?;
        let tx = self.store().read()?;
        let row = tx.instance_by_key(&key)?.ok_or_else(denied)?;
        let instance_id = row.instance_id.clone();
        let vk = VerifyingKey::from_bytes(&key).map_err(|_| denied())?;
        let sig_bytes: [u8; 64] = signature.try_into().map_err(|_| denied())?;
        vk.verify_strict(
            &instance_request_message(public_key_hex, timestamp, nonce),
            &Signature::from_bytes(&sig_bytes),
        )
        .map_err(|_| denied())?;
        // Only a correctly signed request spends its nonce.
        {
            let mut seen = self
                .nonces
                .0
                .lock()
                .map_err(|_| Error::Internal("nonce cache poisoned".into()))?;
            seen.retain(|_, exp| *exp > now);
            if seen.len() >= NONCE_LIMIT {
                return Err(Error::Internal(
                    "too many instance credential requests in flight".into(),
                ));
            }
            let k = format!("{instance_id}|{nonce}");
            if seen.contains_key(&k) {
                return Err(denied());
            }
            seen.insert(k, now + 2 * INSTANCE_CLOCK_WINDOW);
        }
        let profile = tx
            .instance_profiles(&row.account_id, "/")?
            .into_iter()
            .find(|p| p.profile_id == row.profile_id)
            .ok_or_else(denied)?;
        let role = match &profile.role_id {
            Some(id) => tx.role_by_id(id)?.ok_or_else(denied)?,
            None => {
                return Err(Error::AccessDenied(format!(
                    "instance profile {} has no role",
                    profile.name
                )));
            }
        };
        let trust = self
            .compiled
            .get(&role.trust_policy, PolicyKind::Trust)
            .map_err(|_| denied())?;
        let role_arn = super::roles::role_arn(&role);
        let rctx = policy::RequestContext::builder("sts:AssumeRole", role_arn.clone())
            .principal("ec2.amazonaws.com", "")
            .current_time(self.now())
            .build();
        let mut set = PolicySet::new(PrincipalInfo::service("ec2.amazonaws.com"));
        set.resource = Some(("trust policy", trust.as_ref()));
        set.resource_owner = Some(role.account_id.as_str());
        if !policy::decide(&set, &rctx).is_allowed() {
            return Err(Error::AccessDenied(format!(
                "the trust policy of {role_arn} does not allow the service principal ec2.amazonaws.com"
            )));
        }
        drop(tx);
        let duration = role.max_session_duration.min(INSTANCE_SESSION_MAX);
        let account = AccountId::parse(&role.account_id)?;
        let mut claims = self.new_claims_pub(
            SessionKind::Instance,
            account.as_str(),
            format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                role.account_id, role.name, row.instance_id
            ),
            format!("{}:{}", role.role_id, row.instance_id),
            duration,
        )?;
        claims.role_arn = Some(role_arn);
        claims.session_name = Some(row.instance_id.clone());
        claims.source_access_key_id = None;
        Ok((instance_id, self.mint_pub(claims)?))
    }
}
