//! Changing the master key: every sealed value is opened with the old key and sealed
//! with the new one, and every audit checkpoint is re-signed with the new checkpoint
//! key, in one transaction.
//!
//! Crash safety: the new key file is written first as `master.key.new`; the database is
//! then rewritten in one transaction; last, the new file is renamed over `master.key`. If
//! the process dies between the commit and the rename, the next open finds both files,
//! keeps whichever opens the data, and finishes the rename ([`recover_key_file`]).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Caller, CallerKind, Vault};
use crate::crypto::{KeyRing, MASTER_KEY_FILE, MasterKey, Purpose, WrapParams};
use crate::error::{Error, Result};
use crate::model::SecretString;
use crate::sts::TokenSigningKey;

/// The name of the exclusive lock a running server holds in the data directory.
pub const SERVE_LOCK_FILE: &str = "serve.lock";

/// What a master-key change rewrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RekeyReport {
    /// Access-key secrets resealed.
    pub access_keys: usize,
    /// MFA seeds resealed.
    pub mfa_devices: usize,
    /// Token-signing keys resealed.
    pub signing_keys: usize,
    /// Audit checkpoints re-signed.
    pub checkpoints: usize,
}

fn new_key_path(dir: &Path) -> PathBuf {
    dir.join(format!("{MASTER_KEY_FILE}.new"))
}

/// Takes the data directory's server lock, failing when a server holds it.
pub fn lock_data_dir(dir: &Path) -> Result<fs::File> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(SERVE_LOCK_FILE))
        .map_err(|e| {
            Error::Config(format!(
                "cannot open the lock file in `{}`: {e}",
                dir.display()
            ))
        })?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(fs::TryLockError::WouldBlock) => Err(Error::VaultBusy(format!(
            "an iamvault server is running on `{}`; stop it first",
            dir.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(Error::Config(format!(
            "cannot lock `{}`: {e}",
            dir.display()
        ))),
    }
}

/// Finishes an interrupted master-key change: with both `master.key` and
/// `master.key.new` present, keeps the one whose key opens the data.
pub(super) fn recover_key_file(
    dir: &Path,
    passphrase: Option<&SecretString>,
    opens: impl Fn(&MasterKey) -> bool,
) -> Result<()> {
    let new = new_key_path(dir);
    if !new.exists() {
        return Ok(());
    }
    let current = dir.join(MASTER_KEY_FILE);
    let new_key = MasterKey::load_with(&new, passphrase).ok();
    if new_key.as_ref().is_some_and(&opens) {
        fs::rename(&new, &current)
            .map_err(|e| Error::Config(format!("cannot finish the interrupted rekey: {e}")))?;
        tracing::warn!("finished an interrupted master-key change");
    } else {
        // The change never committed: the old key is still the one.
        let _ = fs::remove_file(&new);
    }
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl Vault {
    /// Whether `master` opens this database's sealed data (and matches its audit
    /// checkpoints). Used to pick the right key after an interrupted change.
    pub(super) fn key_opens_data(&self, master: &MasterKey) -> bool {
        let Ok(ring) = KeyRing::derive(master) else {
            return false;
        };
        let Ok(tx) = self.store().read() else {
            return false;
        };
        if let Ok(Some(c)) = tx.audit_first_checkpoint()
            && c.public_key.as_slice() != ring.audit_signing_key().verifying_key().as_bytes()
        {
            return false;
        }
        if let Ok(keys) = tx.sealed_access_keys()
            && let Some(k) = keys.first()
        {
            return ring
                .sealer(Purpose::AccessKeySecret)
                .open(
                    &super::keys::secret_aad(&k.account_id, &k.user_id, &k.id),
                    &k.sealed,
                )
                .is_ok();
        }
        true
    }

    /// Replaces the master key with a fresh one and reseals everything under it, in one
    /// transaction. Outstanding session tokens stop working (their secrets were sealed
    /// under the old key). The server must be stopped. Root only.
    pub fn rekey_master(
        &self,
        caller: &Caller,
        wrap: Option<(&SecretString, WrapParams)>,
    ) -> Result<RekeyReport> {
        if caller.kind != CallerKind::Root {
            return Err(Error::AccessDenied(
                "only the account root may change the master key".into(),
            ));
        }
        let dir = self
            .data_dir()
            .ok_or_else(|| Error::Config("this vault has no data directory".into()))?
            .to_owned();
        let _lock = lock_data_dir(&dir)?;
        // Never re-sign a chain that does not verify.
        let v = self.audit_verify()?;
        if !v.ok() {
            return Err(Error::Config(format!(
                "the audit log does not verify ({}); investigate before changing the master key",
                v.problem.unwrap_or_default()
            )));
        }
        let master = MasterKey::generate(self.random())?;
        let ring = KeyRing::derive(&master)?;
        let new_path = new_key_path(&dir);
        let _ = fs::remove_file(&new_path);
        match wrap {
            Some((p, params)) => master.write_new_wrapped(&new_path, p, params, self.random())?,
            None => master.write_new(&new_path)?,
        }
        let result = (|| {
            let tx = self.store().write()?;
            let mut report = RekeyReport {
                access_keys: 0,
                mfa_devices: 0,
                signing_keys: 0,
                checkpoints: 0,
            };
            for k in tx.sealed_access_keys()? {
                let aad = super::keys::secret_aad(&k.account_id, &k.user_id, &k.id);
                let plain = self
                    .keys
                    .sealer(Purpose::AccessKeySecret)
                    .open(&aad, &k.sealed)?;
                let sealed = ring.sealer(Purpose::AccessKeySecret).seal(
                    self.random(),
                    &aad,
                    plain.expose(),
                )?;
                tx.reseal_access_key(&k.id, &sealed)?;
                report.access_keys += 1;
            }
            for d in tx.sealed_mfa_seeds()? {
                let aad = super::signin::mfa_aad(&d.id);
                let plain = self.keys.sealer(Purpose::TotpSeed).open(&aad, &d.sealed)?;
                let sealed =
                    ring.sealer(Purpose::TotpSeed)
                        .seal(self.random(), &aad, plain.expose())?;
                tx.reseal_mfa_seed(&d.id, &sealed)?;
                report.mfa_devices += 1;
            }
            for r in tx.signing_keys()? {
                let kid: [u8; 8] = hex::decode(&r.kid)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| Error::Internal("a stored key id is malformed".into()))?;
                let key = TokenSigningKey::open(&self.keys, &kid, &r.sealed_private)?;
                tx.reseal_signing_key(&r.kid, &key.seal(&ring, self.random())?)?;
                report.signing_keys += 1;
            }
            let signer = ring.audit_signing_key();
            for c in tx.audit_checkpoints()? {
                let sig = crate::audit::sign_checkpoint(signer, c.seq, &c.hash);
                tx.resign_audit_checkpoint(c.seq, signer.verifying_key().as_bytes(), &sig)?;
                report.checkpoints += 1;
            }
            // The change's own audit record is signed into the chain by the next
            // checkpoint, under the new key.
            self.commit(tx)?;
            Ok(report)
        })();
        match result {
            Ok(report) => {
                fs::rename(&new_path, dir.join(MASTER_KEY_FILE)).map_err(|e| {
                    Error::Config(format!(
                        "the database was rekeyed but `{}` could not be renamed ({e}); the next start finishes it",
                        new_path.display()
                    ))
                })?;
                if let Ok(d) = fs::File::open(&dir) {
                    let _ = d.sync_all();
                }
                Ok(report)
            }
            Err(e) => {
                let _ = fs::remove_file(&new_path);
                Err(e)
            }
        }
    }
}
