//! Online backup and restore.
//!
//! A backup is a consistent copy of the database taken through SQLite's backup API while
//! the server runs. It holds every secret only in sealed form: the master key is not in
//! it, so a backup file alone opens nothing. Restoring needs the backup and the master
//! key, into an empty data directory.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use serde::Serialize;

use super::{Caller, CallerKind, Vault};
use crate::clock::Env;
use crate::crypto::{MASTER_KEY_FILE, MasterKey};
use crate::error::{Error, Result};
use crate::store::{DB_FILE, Store};

/// What a backup or restore reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    /// The database file written.
    pub file: String,
    /// Audit records in it.
    pub audit_records: i64,
    /// The last audit position in it (signed by a checkpoint).
    pub audit_head: i64,
    /// Whether the audit chain in it verifies.
    pub audit_ok: bool,
}

impl Vault {
    /// Writes a consistent copy of the database to `to` (which must not exist), after
    /// signing an audit checkpoint of the current end of the log. Root only.
    pub fn backup(&self, caller: &Caller, to: &Path) -> Result<BackupReport> {
        if caller.kind != CallerKind::Root {
            return Err(Error::AccessDenied(
                "only the account root may take a backup".into(),
            ));
        }
        self.audit_checkpoint()?;
        self.store().backup_to(to)?;
        // Report on the copy itself, not on the live database.
        let copy = Store::open(to)?;
        let v = crate::audit::verify(&copy, &self.keys.audit_signing_key().verifying_key())?;
        Ok(BackupReport {
            file: to.display().to_string(),
            audit_records: v.records,
            audit_head: v.head,
            audit_ok: v.ok(),
        })
    }

    /// Restores a backup into `data_dir`, which must be empty or absent, with the master
    /// key file the backup was made under. Checks the database's integrity, that the key
    /// opens its sealed data, and its audit chain; on any failure the files it wrote are
    /// removed again.
    pub fn restore(
        data_dir: &Path,
        from: &Path,
        master_key: &Path,
        passphrase: Option<&crate::model::SecretString>,
        env: Env,
    ) -> Result<BackupReport> {
        let empty = match fs::read_dir(data_dir) {
            Ok(mut d) => d.next().is_none(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot read `{}`: {e}",
                    data_dir.display()
                )));
            }
        };
        if !empty {
            return Err(Error::VaultExists(format!(
                "`{}` is not empty; restore only into an empty data directory",
                data_dir.display()
            )));
        }
        // Loaded (and unwrapped) first, so a wrong key file or passphrase fails before
        // anything is written; the file is then copied as it is, wrapped or not.
        MasterKey::load_with(master_key, passphrase)?;
        let key_file = fs::read(master_key)
            .map_err(|e| Error::Config(format!("cannot read `{}`: {e}", master_key.display())))?;
        let created = !data_dir.exists();
        fs::create_dir_all(data_dir)
            .map_err(|e| Error::Config(format!("cannot create `{}`: {e}", data_dir.display())))?;
        let result = (|| {
            fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700)).map_err(|e| {
                Error::Config(format!(
                    "cannot set the mode of `{}`: {e}",
                    data_dir.display()
                ))
            })?;
            copy_key_file(&data_dir.join(MASTER_KEY_FILE), &key_file)?;
            let db = data_dir.join(DB_FILE);
            Store::restore_file(from, &db)?;
            let vault = Vault::open_with(data_dir, env, passphrase)?;
            vault.check_master_key().map_err(|_| {
                Error::Config(format!(
                    "the master key `{}` does not open the sealed data of this backup",
                    master_key.display()
                ))
            })?;
            let v = vault.audit_verify()?;
            if !v.ok() {
                return Err(Error::Config(format!(
                    "the backup's audit log does not verify: {}",
                    v.problem.unwrap_or_default()
                )));
            }
            Ok(BackupReport {
                file: db.display().to_string(),
                audit_records: v.records,
                audit_head: v.head,
                audit_ok: true,
            })
        })();
        if result.is_err() {
            for f in [DB_FILE, "vault.db-wal", "vault.db-shm", MASTER_KEY_FILE] {
                let _ = fs::remove_file(data_dir.join(f));
            }
            if created {
                let _ = fs::remove_dir(data_dir);
            }
        }
        result
    }
}

fn copy_key_file(dest: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(|e| Error::Config(format!("cannot create `{}`: {e}", dest.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::Config(format!("cannot write `{}`: {e}", dest.display())))
}

impl Vault {
    /// Changes the passphrase that wraps the master key: wraps it under `new`, or stores
    /// it unwrapped (mode 0600) when `new` is `None`. `current` must open the key file.
    /// The file is replaced atomically; the master key itself and everything sealed under
    /// it stay as they are. Root only.
    pub fn change_passphrase(
        &self,
        caller: &Caller,
        current: Option<&crate::model::SecretString>,
        new: Option<&crate::model::SecretString>,
        params: crate::crypto::WrapParams,
    ) -> Result<()> {
        if caller.kind != CallerKind::Root {
            return Err(Error::AccessDenied(
                "only the account root may change the master key passphrase".into(),
            ));
        }
        let dir = self
            .data_dir()
            .ok_or_else(|| Error::Config("this vault has no data directory".into()))?;
        let path = dir.join(MASTER_KEY_FILE);
        let master = MasterKey::load_with(&path, current)?;
        // The file must hold this vault's key, not some other one.
        if crate::crypto::KeyRing::derive(&master)?
            .audit_signing_key()
            .verifying_key()
            != self.keys.audit_signing_key().verifying_key()
        {
            return Err(Error::Config(
                "the master key file does not hold this vault's key".into(),
            ));
        }
        master.replace_file(&path, new.map(|p| (p, params)), self.random())
    }
}
