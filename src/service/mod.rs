//! One function per operation. Each one takes the caller and the request, asks
//! [`Vault::authorize`] with the IAM action and resource ARN AWS uses, validates its input,
//! then executes in one write transaction.

mod audit;
mod authorize;
mod authorize_wire;
mod authz;
mod backup;
mod builtin;
mod groups;
mod init;
mod instances;
mod keys;
mod mfa;
mod page;
mod policies;
mod profiles;
mod prune;
mod rekey;
mod reports;
mod resource_policies;
mod roles;
mod sessions;
mod signin;
mod simulate;
mod types;
mod users;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::clock::Env;
use crate::crypto::{KeyRing, MASTER_KEY_FILE, MasterKey};
use crate::error::{Error, Result};
use crate::model::{AccountId, Arn, EntityName, NameKind};
use crate::store::{DB_FILE, ReadTx, Store};

pub use audit::{AuditContext, AuditGuard, AuditOutcome, AuditPending, audit_begin};
pub use authorize::{KeyEntry, context_from_json};
pub use authorize_wire::*;
pub use backup::BackupReport;
pub use builtin::{BUILTIN_POLICIES, BuiltinPolicy};
pub use init::{
    ADMIN_USER, BOOTSTRAP_CREDENTIALS_FILE, InitOptions, InitOutput, MIN_PASSPHRASE_CHARS,
    check_new_passphrase, vault_exists,
};
pub use instances::{INSTANCE_CLOCK_WINDOW, InstanceInfo, instance_request_message};
pub use keys::{MAX_KEYS_PER_USER, parse_status};
pub use mfa::{MAX_MFA_DEVICES, MfaDevice, NewVirtualMfaDevice, VirtualMfaDevice};
pub use page::{Page, PageRequest};
pub use policies::{DocumentKind, PolicyScope};
pub use prune::PruneReport;
pub use rekey::{RekeyReport, SERVE_LOCK_FILE, lock_data_dir};
pub use reports::{CredentialReport, REPORT_MAX_AGE};
pub use resource_policies::{MAX_RESOURCE_POLICY_BYTES, ResourcePolicy, check_resource_arn};
pub use roles::{MAX_SESSION_RANGE, NewRole};
pub use sessions::{AssumeRoleRequest, IssuedSession, MAX_TOKEN_LIFETIME, VerifiedSession};
pub use signin::{LockoutSettings, LoginProfile, SignIn};
pub use simulate::{
    MatchedStatementOut, SimulationInput, SimulationResult, context_value, parse_context_entry,
};
pub use types::*;

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's account.
    pub account: AccountId,
    /// The caller's ARN.
    pub arn: String,
    /// What kind of principal the caller is.
    pub kind: CallerKind,
}

/// The kinds of caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// The account's root user (also the local admin CLI).
    Root,
    /// An IAM user with a long-term access key.
    User {
        /// `AIDA…`
        user_id: String,
        /// User name.
        name: String,
    },
    /// A session from a verified session token.
    Session(std::sync::Arc<crate::sts::Claims>),
}

impl Caller {
    /// The IAM user name behind the caller: an IAM user, or the user of a GetSessionToken
    /// session. `None` for the root user and role sessions.
    pub fn user_name(&self) -> Option<String> {
        match &self.kind {
            CallerKind::User { name, .. } => Some(name.clone()),
            CallerKind::Session(c) if c.kind == crate::sts::SessionKind::User => {
                c.principal_arn.rsplit('/').next().map(str::to_owned)
            }
            _ => None,
        }
    }

    /// The root user of `account`.
    pub fn root(account: &AccountId) -> Self {
        Self {
            arn: Arn::root(account).to_string(),
            account: account.clone(),
            kind: CallerKind::Root,
        }
    }
}

/// Facts about the request that are not parameters: where it came from and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The client's address.
    pub source_ip: Option<IpAddr>,
    /// Whether it arrived over TLS (or locally).
    pub secure_transport: bool,
    /// The region the request was signed for.
    pub region: Option<String>,
}

/// An open vault: its store, its keys and its environment.
pub struct Vault {
    /// Shared with the audit writer thread.
    store: Arc<Store>,
    keys: KeyRing,
    compiled: authz::CompiledCache,
    warm: authorize::WarmCache,
    audit_queue: audit::AuditQueue,
    hashes: crate::auth::HashPool,
    tokens: std::sync::RwLock<sessions::TokenState>,
    nonces: instances::NonceCache,
    env: Env,
    data_dir: Option<PathBuf>,
}

/// Concurrent argon2 computations allowed: one per core, so a login flood queues.
fn hash_permits() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

impl Vault {
    /// Opens the vault in `data_dir`.
    pub fn open(data_dir: &Path, env: Env) -> Result<Self> {
        Self::open_with(data_dir, env, None)
    }

    /// Opens the vault in `data_dir`, unwrapping a passphrase-protected master key with
    /// `passphrase`.
    pub fn open_with(
        data_dir: &Path,
        env: Env,
        passphrase: Option<&crate::model::SecretString>,
    ) -> Result<Self> {
        let db = data_dir.join(DB_FILE);
        if !db.exists() {
            return Err(Error::Config(format!(
                "no vault in `{}` (no {DB_FILE})",
                data_dir.display()
            )));
        }
        if data_dir.join(format!("{MASTER_KEY_FILE}.new")).exists() {
            // An interrupted master-key change: open with the old key only to decide
            // which key file is the right one, then start again.
            let old = MasterKey::load_with(&data_dir.join(MASTER_KEY_FILE), passphrase)?;
            let probe = Self::assemble(data_dir, &db, &old, env.clone())?;
            rekey::recover_key_file(data_dir, passphrase, |k| probe.key_opens_data(k))?;
            drop(probe);
        }
        let master = MasterKey::load_with(&data_dir.join(MASTER_KEY_FILE), passphrase)?;
        let mut vault = Self::assemble(data_dir, &db, &master, env)?;
        let params = vault.stored_password_params()?;
        vault.set_password_params(params);
        Ok(vault)
    }

    fn assemble(data_dir: &Path, db: &Path, master: &MasterKey, env: Env) -> Result<Self> {
        Ok(Self {
            store: Arc::new(Store::open(db)?),
            keys: KeyRing::derive(master)?,
            compiled: authz::CompiledCache::default(),
            warm: authorize::WarmCache::default(),
            audit_queue: audit::AuditQueue::default(),
            hashes: crate::auth::HashPool::new(
                hash_permits(),
                crate::auth::PasswordParams::default(),
            ),
            tokens: sessions::new_state(),
            nonces: instances::NonceCache::default(),
            env,
            data_dir: Some(data_dir.to_owned()),
        })
    }

    /// A vault held entirely in memory, for tests.
    pub fn in_memory(env: Env) -> Result<Self> {
        let master = MasterKey::generate(env.rng.as_ref())?;
        Ok(Self {
            store: Arc::new(Store::open_in_memory()?),
            keys: KeyRing::derive(&master)?,
            compiled: authz::CompiledCache::default(),
            warm: authorize::WarmCache::default(),
            audit_queue: audit::AuditQueue::default(),
            hashes: crate::auth::HashPool::new(
                hash_permits(),
                crate::auth::PasswordParams::default(),
            ),
            tokens: sessions::new_state(),
            nonces: instances::NonceCache::default(),
            env,
            data_dir: None,
        })
    }

    /// Uses `params` for new password hashes (tests use cheap ones; outdated hashes are
    /// rehashed at the next successful sign-in).
    pub fn set_password_params(&mut self, params: crate::auth::PasswordParams) {
        self.hashes = crate::auth::HashPool::new(hash_permits(), params);
    }

    /// The argon2 pool (its verification count is what the enumeration tests compare).
    pub fn hash_pool(&self) -> &crate::auth::HashPool {
        &self.hashes
    }

    /// The data directory, if the vault lives on disk.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// The current time from the injected clock, truncated to whole seconds (what the
    /// store keeps).
    pub fn now(&self) -> OffsetDateTime {
        let t = self.env.clock.now();
        t.replace_nanosecond(0).unwrap_or(t)
    }

    /// The accounts in the vault, oldest first.
    pub fn accounts(&self) -> Result<Vec<AccountId>> {
        self.store
            .read()?
            .accounts()?
            .iter()
            .map(|a| AccountId::parse(&a.account_id))
            .collect()
    }

    /// The injected random source.
    pub fn random(&self) -> &dyn crate::clock::Random {
        self.env.rng.as_ref()
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The store, for a thread of the vault's own (the audit writer).
    pub(crate) fn store_arc(&self) -> &Arc<Store> {
        &self.store
    }
}

/// Parses a name, mapping its error.
fn name(kind: NameKind, s: &str) -> Result<EntityName> {
    EntityName::parse(kind, s)
}

/// Refuses a delete while any named dependent remains: `(present, "what")` pairs.
fn refuse_dependents(parts: &[(bool, &str)]) -> Result<()> {
    let what: Vec<&str> = parts
        .iter()
        .filter(|(present, _)| *present)
        .map(|(_, w)| *w)
        .collect();
    if what.is_empty() {
        Ok(())
    } else {
        Err(Error::DeleteConflict(format!(
            "Cannot delete entity, must remove {} first.",
            what.join(", ")
        )))
    }
}

/// Fails with `NoSuchEntity` in AWS's wording.
fn no_such(what: &str, name: &str) -> Error {
    Error::NoSuchEntity(format!("The {what} with name {name} cannot be found."))
}

/// Checks that an account exists.
fn require_account(tx: &ReadTx<'_>, account: &AccountId) -> Result<()> {
    if tx.account(account.as_str())?.is_none() {
        return Err(Error::NoSuchEntity(format!(
            "account `{account}` does not exist in this vault"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_audit;
#[cfg(test)]
mod tests_instances;
#[cfg(test)]
mod tests_sessions;
#[cfg(test)]
mod tests_signin;
#[cfg(test)]
mod tests_simulate;
