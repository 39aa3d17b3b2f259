//! Long-term access keys: at most two per user, secrets sealed at rest and shown once.

use super::users::{arn_for, require_user};
use super::{
    AccessKeyLastUsed, AccessKeyLastUsedResult, AccessKeyMetadata, Caller, CallerKind,
    NewAccessKey, RequestContext, Vault, name,
};
use crate::crypto::{Purpose, generate_access_key};
use crate::error::{Error, Result};
use crate::model::{AccessKeyId, EntityName, NameKind, SecretString};
use crate::store::{AccessKeyRow, KeyStatus, UserRow};

/// Most access keys per user, active or not.
pub const MAX_KEYS_PER_USER: usize = 2;

/// The associated data that binds a sealed secret to its key row.
pub(super) fn secret_aad(account_id: &str, user_id: &str, access_key_id: &str) -> Vec<u8> {
    format!("iamvault/access-key/v1|{account_id}|{user_id}|{access_key_id}").into_bytes()
}

fn metadata(user: &UserRow, k: &AccessKeyRow) -> AccessKeyMetadata {
    AccessKeyMetadata {
        user_name: user.name.clone(),
        access_key_id: k.access_key_id.clone(),
        status: k.status.as_str(),
        create_date: k.created_at,
    }
}

/// Parses `Active` / `Inactive`.
pub fn parse_status(s: &str) -> Result<KeyStatus> {
    match s {
        "Active" => Ok(KeyStatus::Active),
        "Inactive" => Ok(KeyStatus::Inactive),
        _ => Err(Error::Validation(format!(
            "1 validation error detected: value `{}` at `status` failed to satisfy constraint: member must satisfy enum value set: [Active, Inactive]",
            s.escape_default()
        ))),
    }
}

impl Vault {
    /// The user an access-key operation is about: the named one, or the caller itself.
    fn key_owner(&self, caller: &Caller, user_name: Option<&str>) -> Result<EntityName> {
        match (user_name, &caller.kind) {
            (Some(s), _) => name(NameKind::User, s),
            (None, CallerKind::User { name: own, .. }) => name(NameKind::User, own),
            (None, CallerKind::Session(_)) => match caller.user_name() {
                Some(own) => name(NameKind::User, &own),
                None => Err(Error::InvalidInput(
                    "UserName is required when the request is signed with role credentials".into(),
                )),
            },
            (None, CallerKind::Root) => Err(Error::InvalidInput(
                "access keys for the root user are not supported; name an IAM user with --user-name".into(),
            )),
        }
    }

    /// CreateAccessKey. Returns the secret; this is the only time it is ever shown.
    pub fn create_access_key(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: Option<&str>,
    ) -> Result<NewAccessKey> {
        let n = self.key_owner(caller, user_name)?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:CreateAccessKey",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let user = require_user(&tx, &caller.account, &n)?;
        // The count and the insert share one IMMEDIATE transaction, so parallel requests
        // are serialized and can never make a third key.
        if tx.access_keys_for_user(&user.user_id)?.len() >= MAX_KEYS_PER_USER {
            return Err(Error::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
            )));
        }
        let (id, secret) = generate_access_key(self.env.rng.as_ref(), false)?;
        let sealed = self.keys.sealer(Purpose::AccessKeySecret).seal(
            self.env.rng.as_ref(),
            &secret_aad(&user.account_id, &user.user_id, id.as_str()),
            secret.expose().as_bytes(),
        )?;
        let row = AccessKeyRow {
            access_key_id: id.to_string(),
            account_id: user.account_id.clone(),
            user_id: user.user_id.clone(),
            status: KeyStatus::Active,
            created_at: self.now(),
            sealed_secret: sealed,
            last_used_at: None,
            last_used_service: None,
            last_used_region: None,
        };
        tx.insert_access_key(&row)?;
        self.commit(tx)?;
        Ok(NewAccessKey {
            metadata: metadata(&user, &row),
            secret,
        })
    }

    /// ListAccessKeys: metadata only, never secrets.
    pub fn list_access_keys(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: Option<&str>,
    ) -> Result<Vec<AccessKeyMetadata>> {
        let n = self.key_owner(caller, user_name)?;
        let tx = self.store().read()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:ListAccessKeys",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let user = require_user(&tx, &caller.account, &n)?;
        Ok(tx
            .access_keys_for_user(&user.user_id)?
            .iter()
            .map(|k| metadata(&user, k))
            .collect())
    }

    /// Finds a key that belongs to the named user.
    fn owned_key(
        &self,
        tx: &crate::store::ReadTx<'_>,
        user: &UserRow,
        access_key_id: &str,
    ) -> Result<AccessKeyRow> {
        AccessKeyId::parse(access_key_id)?;
        tx.access_key(access_key_id)?
            .filter(|k| k.user_id == user.user_id)
            .ok_or_else(|| {
                Error::NoSuchEntity(format!(
                    "The Access Key with id {access_key_id} cannot be found."
                ))
            })
    }

    /// UpdateAccessKey: sets `Active` or `Inactive`.
    pub fn update_access_key(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: Option<&str>,
        access_key_id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        let n = self.key_owner(caller, user_name)?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:UpdateAccessKey",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let user = require_user(&tx, &caller.account, &n)?;
        let key = self.owned_key(&tx, &user, access_key_id)?;
        tx.set_key_status(&key.access_key_id, status)?;
        if status == KeyStatus::Inactive {
            // Sessions made from this key with GetSessionToken stop working too.
            self.revoke_sessions_of(&tx, "key", &key.access_key_id)?;
        }
        self.commit(tx)
    }

    /// DeleteAccessKey.
    pub fn delete_access_key(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: Option<&str>,
        access_key_id: &str,
    ) -> Result<()> {
        let n = self.key_owner(caller, user_name)?;
        let tx = self.store().write()?;
        let found = tx.user(caller.account.as_str(), n.canonical())?;
        self.authorize(
            &tx,
            caller,
            "iam:DeleteAccessKey",
            &arn_for(&caller.account, found.as_ref(), &n),
            ctx,
        )?;
        let user = require_user(&tx, &caller.account, &n)?;
        let key = self.owned_key(&tx, &user, access_key_id)?;
        tx.delete_access_key(&key.access_key_id)?;
        self.revoke_sessions_of(&tx, "key", &key.access_key_id)?;
        self.commit(tx)
    }

    /// GetAccessKeyLastUsed. `N/A` for service and region when the key was never used.
    pub fn get_access_key_last_used(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        access_key_id: &str,
    ) -> Result<AccessKeyLastUsedResult> {
        AccessKeyId::parse(access_key_id)?;
        let tx = self.store().read()?;
        let key = tx
            .access_key(access_key_id)?
            .filter(|k| k.account_id == caller.account.as_str());
        let user = match &key {
            Some(k) => tx.user_by_id(&k.user_id)?,
            None => None,
        };
        let resource = match &user {
            Some(u) => super::users::user_arn(u),
            None => format!("arn:aws:iam::{}:user/", caller.account),
        };
        self.authorize(&tx, caller, "iam:GetAccessKeyLastUsed", &resource, ctx)?;
        let (key, user) = key.zip(user).ok_or_else(|| {
            Error::NoSuchEntity(format!(
                "The Access Key with id {access_key_id} cannot be found."
            ))
        })?;
        Ok(AccessKeyLastUsedResult {
            user_name: user.name,
            access_key_last_used: AccessKeyLastUsed {
                last_used_date: key.last_used_at,
                service_name: key.last_used_service.unwrap_or_else(|| "N/A".into()),
                region: key.last_used_region.unwrap_or_else(|| "N/A".into()),
            },
        })
    }

    /// Records that a key was used (called by the request verifier). AWS records at most
    /// once per 15-minute span; so does this, to keep writes off the hot path.
    pub fn record_access_key_use(
        &self,
        access_key_id: &str,
        service: &str,
        region: &str,
    ) -> Result<()> {
        let now = self.now();
        let fresh = |key: &AccessKeyRow| {
            key.last_used_at.is_some_and(|t| {
                now - t < time::Duration::minutes(15)
                    && key.last_used_service.as_deref() == Some(service)
            })
        };
        // Temporary keys have no row and no last-used stamp.
        if access_key_id.starts_with("ASIA") {
            return Ok(());
        }
        // Most requests find a recent stamp in memory: no read, no write, no fsync.
        if self.stamp_known_fresh(access_key_id, service) {
            return Ok(());
        }
        match self.store().read()?.access_key(access_key_id)? {
            None => return Ok(()),
            Some(k) if fresh(&k) => {
                if let Some(t) = k.last_used_at {
                    self.remember_stamp(access_key_id, service, t);
                }
                return Ok(());
            }
            Some(_) => {}
        }
        let tx = self.store().write()?;
        if tx.access_key(access_key_id)?.is_some_and(|k| !fresh(&k)) {
            tx.record_key_use(access_key_id, now, service, region)?;
        }
        // A last-used stamp changes no authorization state: the warm caches stay.
        tx.commit_bookkeeping()?;
        self.remember_stamp(access_key_id, service, now);
        Ok(())
    }

    /// The account an access key belongs to (STS GetAccessKeyInfo). Like AWS, it needs no
    /// permission and reveals nothing but the account id.
    pub fn access_key_account(&self, access_key_id: &str) -> Result<Option<String>> {
        // Temporary ids carry their account; long-term ones are looked up.
        if let Some(a) = AccessKeyId::parse(access_key_id)?.temporary_account() {
            return Ok(Some(a.to_string()));
        }
        Ok(self
            .store()
            .read()?
            .access_key(access_key_id)?
            .map(|k| k.account_id))
    }

    /// The owner and secret of an active long-term key, read from the store.
    pub(super) fn load_access_key_secret(
        &self,
        access_key_id: &str,
    ) -> Result<Option<super::KeyEntry>> {
        let tx = self.store().read()?;
        let Some(key) = tx.access_key(access_key_id)? else {
            return Ok(None);
        };
        if key.status != KeyStatus::Active {
            return Ok(None);
        }
        let Some(user) = tx.user_by_id(&key.user_id)? else {
            return Ok(None);
        };
        let plain = self.keys.sealer(Purpose::AccessKeySecret).open(
            &secret_aad(&key.account_id, &key.user_id, &key.access_key_id),
            &key.sealed_secret,
        )?;
        let text = String::from_utf8(plain.expose().to_vec())
            .map_err(|_| Error::Internal("a stored access key secret is not text".into()))?;
        Ok(Some(super::KeyEntry {
            user,
            secret: SecretString::new(text),
        }))
    }
}
