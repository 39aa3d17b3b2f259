//! `init`: creates a vault in a data directory: the directory (0700), the master key
//! (0600), the database, the account and its root user, and an `admin` IAM user with
//! `AdministratorAccess` and one access key written to `bootstrap-credentials` (0600).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::{Caller, RequestContext, Vault};
use crate::auth::{PasswordParams, hash_password};
use crate::clock::Env;
use crate::crypto::{KeyRing, MASTER_KEY_FILE, MasterKey, generate_password};
use crate::error::{Error, Result};
use crate::model::{AccountId, SecretString};
use crate::store::{AccountRow, DB_FILE, EntityKind, Store};

/// The bootstrap credentials file's name inside the data directory.
pub const BOOTSTRAP_CREDENTIALS_FILE: &str = "bootstrap-credentials";

/// The name of the administrator user `init` creates.
pub const ADMIN_USER: &str = "admin";

/// What `init` takes.
#[derive(Default)]
pub struct InitOptions {
    /// The account id; random when absent.
    pub account_id: Option<AccountId>,
    /// The root password; generated (and reported once) when absent.
    pub root_password: Option<SecretString>,
    /// argon2id parameters for the root password.
    pub password_params: PasswordParams,
    /// Wrap the master key with this operator passphrase (argon2id-derived key).
    pub passphrase: Option<SecretString>,
    /// argon2id cost of the passphrase wrapping.
    pub wrap_params: crate::crypto::WrapParams,
}

/// What `init` reports. It carries secrets, so it has no `Debug`; it is serialized once,
/// to the terminal of the operator who ran `init`.
pub struct InitOutput {
    /// The account id.
    pub account_id: AccountId,
    /// The root user's ARN.
    pub root_arn: String,
    /// The root password, only when it was generated.
    pub root_password: Option<SecretString>,
    /// The administrator user's name.
    pub admin_user: String,
    /// Its access key id.
    pub admin_access_key_id: String,
    /// Its secret access key.
    pub admin_secret_access_key: SecretString,
    /// Where the credentials were written.
    pub credentials_file: PathBuf,
}

impl Serialize for InitOutput {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("InitOutput", 7)?;
        st.serialize_field("account_id", self.account_id.as_str())?;
        st.serialize_field("root_arn", &self.root_arn)?;
        if let Some(p) = &self.root_password {
            st.serialize_field("root_password", p.expose())?;
        }
        st.serialize_field("admin_user", &self.admin_user)?;
        st.serialize_field("admin_access_key_id", &self.admin_access_key_id)?;
        st.serialize_field(
            "admin_secret_access_key",
            self.admin_secret_access_key.expose(),
        )?;
        st.serialize_field(
            "credentials_file",
            &self.credentials_file.display().to_string(),
        )?;
        st.end()
    }
}

/// True when `dir` already holds a vault (or the remains of one).
pub fn vault_exists(dir: &Path) -> bool {
    dir.join(DB_FILE).exists()
        || dir.join(MASTER_KEY_FILE).exists()
        || dir.join(BOOTSTRAP_CREDENTIALS_FILE).exists()
}

fn random_account_id(env: &Env) -> Result<AccountId> {
    let mut b = [0u8; 12];
    env.rng.fill(&mut b)?;
    let digits: String = b.iter().map(|x| char::from(b'0' + x % 10)).collect();
    AccountId::parse(&digits)
}

/// The shortest operator passphrase accepted, in characters (`init`, `serve` on an empty
/// directory, and `rekey --new-passphrase-file`).
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Refuses a new passphrase shorter than [`MIN_PASSPHRASE_CHARS`].
pub fn check_new_passphrase(p: &SecretString) -> Result<()> {
    if p.expose().chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(Error::InvalidInput(format!(
            "the passphrase must be at least {MIN_PASSPHRASE_CHARS} characters"
        )));
    }
    Ok(())
}

impl Vault {
    /// Creates a new vault in `data_dir`. On an existing vault it fails and changes
    /// nothing; if a later step fails, the files it created are removed again.
    pub fn init(data_dir: &Path, env: Env, opts: InitOptions) -> Result<(Vault, InitOutput)> {
        if let Some(p) = &opts.passphrase {
            check_new_passphrase(p)?;
        }
        if vault_exists(data_dir) {
            return Err(Error::VaultExists(format!(
                "a vault already exists in `{}`; refusing to overwrite it",
                data_dir.display()
            )));
        }
        let created_dir = !data_dir.exists();
        fs::create_dir_all(data_dir)
            .map_err(|e| Error::Config(format!("cannot create `{}`: {e}", data_dir.display())))?;
        let result = Self::init_inner(data_dir, env, opts);
        if result.is_err() {
            for f in [
                DB_FILE,
                "vault.db-wal",
                "vault.db-shm",
                MASTER_KEY_FILE,
                BOOTSTRAP_CREDENTIALS_FILE,
            ] {
                let _ = fs::remove_file(data_dir.join(f));
            }
            if created_dir {
                let _ = fs::remove_dir(data_dir);
            }
        }
        result
    }

    fn init_inner(data_dir: &Path, env: Env, opts: InitOptions) -> Result<(Vault, InitOutput)> {
        fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700)).map_err(|e| {
            Error::Config(format!(
                "cannot set the mode of `{}`: {e}",
                data_dir.display()
            ))
        })?;
        let master = MasterKey::generate(env.rng.as_ref())?;
        match &opts.passphrase {
            Some(p) => master.write_new_wrapped(
                &data_dir.join(MASTER_KEY_FILE),
                p,
                opts.wrap_params,
                env.rng.as_ref(),
            )?,
            None => master.write_new(&data_dir.join(MASTER_KEY_FILE))?,
        }
        let db = data_dir.join(DB_FILE);
        let store = Store::open(&db)?;
        // SQLite creates the file with the umask's mode; the WAL and shared-memory files it
        // makes later copy this file's mode.
        fs::set_permissions(&db, fs::Permissions::from_mode(0o600)).map_err(|e| {
            Error::Config(format!("cannot set the mode of `{}`: {e}", db.display()))
        })?;
        let vault = Vault {
            store: std::sync::Arc::new(store),
            keys: KeyRing::derive(&master)?,
            compiled: super::authz::CompiledCache::default(),
            warm: super::authorize::WarmCache::default(),
            audit_queue: super::audit::AuditQueue::default(),
            hashes: crate::auth::HashPool::new(super::hash_permits(), opts.password_params),
            tokens: super::sessions::new_state(),
            nonces: super::instances::NonceCache::default(),
            env: env.clone(),
            data_dir: Some(data_dir.to_owned()),
        };
        let account = match opts.account_id {
            Some(a) => a,
            None => random_account_id(&env)?,
        };
        let (password, generated) = match opts.root_password {
            Some(p) => (p, false),
            None => (generate_password(env.rng.as_ref())?, true),
        };
        let hash = hash_password(env.rng.as_ref(), &password, opts.password_params)?;
        {
            let tx = vault.store.write()?;
            tx.insert_account(
                &AccountRow {
                    account_id: account.to_string(),
                    created_at: vault.now(),
                },
                Some(&hash),
            )?;
            tx.set_meta("default_account", account.as_str())?;
            tx.commit()?;
        }
        let root = Caller::root(&account);
        let ctx = RequestContext {
            secure_transport: true,
            ..RequestContext::default()
        };
        vault.create_user(&root, &ctx, ADMIN_USER, None, None, &[])?;
        vault.attach_policy(
            &root,
            &ctx,
            EntityKind::User,
            ADMIN_USER,
            "arn:aws:iam::aws:policy/AdministratorAccess",
        )?;
        let key = vault.create_access_key(&root, &ctx, Some(ADMIN_USER))?;
        let cred_path = data_dir.join(BOOTSTRAP_CREDENTIALS_FILE);
        write_credentials_file(&cred_path, &key.metadata.access_key_id, &key.secret)?;
        let out = InitOutput {
            root_arn: root.arn.clone(),
            account_id: account,
            root_password: generated.then_some(password),
            admin_user: ADMIN_USER.into(),
            admin_access_key_id: key.metadata.access_key_id.clone(),
            admin_secret_access_key: key.secret,
            credentials_file: cred_path,
        };
        Ok((vault, out))
    }

    /// Creates another account in this vault (local administration only: file access to
    /// the data directory is the authority). Returns its root password when generated.
    pub fn create_account(
        &self,
        account: &AccountId,
        root_password: Option<SecretString>,
    ) -> Result<Option<SecretString>> {
        let (password, generated) = match root_password {
            Some(p) => (p, false),
            None => (generate_password(self.env.rng.as_ref())?, true),
        };
        let hash = self.hashes.hash(self.env.rng.as_ref(), &password)?;
        let tx = self.store.write()?;
        if tx.account(account.as_str())?.is_some() {
            return Err(Error::EntityAlreadyExists(format!(
                "account {account} already exists"
            )));
        }
        tx.insert_account(
            &AccountRow {
                account_id: account.to_string(),
                created_at: self.now(),
            },
            Some(&hash),
        )?;
        self.commit(tx)?;
        Ok(generated.then_some(password))
    }

    /// The account the local CLI acts in: the first one created by `init`.
    pub fn default_account(&self) -> Result<AccountId> {
        let tx = self.store.read()?;
        let id = tx
            .meta("default_account")?
            .ok_or_else(|| Error::Config("the vault has no default account".into()))?;
        AccountId::parse(&id)
    }
}

/// Writes an AWS credentials file with profile `[iamvault-admin]`, mode 0600.
fn write_credentials_file(path: &Path, key_id: &str, secret: &SecretString) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::Config(format!("cannot create `{}`: {e}", path.display())))?;
    let body = zeroize::Zeroizing::new(format!(
        "# Written by `iamvault init`: the first administrator's access key.\n# Move it into ~/.aws/credentials or a secrets manager, then delete this file.\n[iamvault-admin]\naws_access_key_id = {key_id}\naws_secret_access_key = {}\n",
        secret.expose()
    ));
    f.write_all(body.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::Config(format!("cannot write `{}`: {e}", path.display())))
}
