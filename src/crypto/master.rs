//! The 256-bit master key and its file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use crate::clock::Random;
use crate::error::{Error, Result};

/// The master key's file name inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

const HEADER: &str = "iamvault-master-key-v1:";
const HEADER_WRAPPED: &str = "iamvault-master-key-v2:argon2id:";

/// argon2id cost of deriving the wrapping key from an operator passphrase. Paid once per
/// start, so it is set higher than for sign-in passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrapParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl Default for WrapParams {
    /// m = 64 MiB, t = 3, p = 1.
    fn default() -> Self {
        Self {
            m_cost: 65_536,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

/// Bounds on parameters read from a key file, so a crafted file cannot make start-up
/// allocate without limit.
const MAX_WRAP_MEMORY_KIB: u32 = 4 * 1024 * 1024;
const MAX_WRAP_ITERATIONS: u32 = 64;

fn wrapping_key(
    passphrase: &crate::model::SecretString,
    salt: &[u8],
    p: WrapParams,
) -> Result<ring::aead::LessSafeKey> {
    if p.m_cost > MAX_WRAP_MEMORY_KIB || p.t_cost > MAX_WRAP_ITERATIONS || p.p_cost > 16 {
        return Err(Error::Config(
            "the master key file asks for argon2 parameters beyond the accepted bounds".into(),
        ));
    }
    let params = argon2::Params::new(p.m_cost, p.t_cost, p.p_cost, Some(32))
        .map_err(|e| Error::Config(format!("invalid argon2 parameters in the key file: {e}")))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(passphrase.expose().as_bytes(), salt, out.as_mut())
        .map_err(|e| Error::Config(format!("cannot derive the wrapping key: {e}")))?;
    let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, out.as_ref())
        .map_err(|_| Error::Internal("cannot build the wrapping key".into()))?;
    Ok(ring::aead::LessSafeKey::new(key))
}

fn wrap_aad(p: WrapParams, salt: &[u8]) -> Vec<u8> {
    format!(
        "iamvault/master-key/v2|m={},t={},p={}|{}",
        p.m_cost,
        p.t_cost,
        p.p_cost,
        hex::encode(salt)
    )
    .into_bytes()
}

/// The vault's master key. Every other key is derived from it. No `Debug`; zeroized on
/// drop.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    /// Generates a fresh key.
    pub fn generate(rng: &dyn Random) -> Result<Self> {
        let mut k = Zeroizing::new([0u8; 32]);
        rng.fill(k.as_mut())?;
        Ok(Self(k))
    }

    /// A key from raw bytes (published test vectors; restore tooling).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The file content: plain, or wrapped under `passphrase`.
    fn encode(
        &self,
        wrap: Option<(&crate::model::SecretString, WrapParams)>,
        rng: &dyn Random,
    ) -> Result<Zeroizing<String>> {
        let Some((passphrase, p)) = wrap else {
            return Ok(Zeroizing::new(format!(
                "{HEADER}{}\n",
                hex::encode(self.0.as_ref())
            )));
        };
        let mut salt = [0u8; 16];
        rng.fill(&mut salt)?;
        let mut nonce = [0u8; 12];
        rng.fill(&mut nonce)?;
        let key = wrapping_key(passphrase, &salt, p)?;
        let mut buf = Zeroizing::new(self.0.to_vec());
        key.seal_in_place_append_tag(
            ring::aead::Nonce::assume_unique_for_key(nonce),
            ring::aead::Aad::from(wrap_aad(p, &salt)),
            &mut *buf,
        )
        .map_err(|_| Error::Internal("cannot wrap the master key".into()))?;
        Ok(Zeroizing::new(format!(
            "{HEADER_WRAPPED}m={},t={},p={}:{}:{}{}\n",
            p.m_cost,
            p.t_cost,
            p.p_cost,
            hex::encode(salt),
            hex::encode(nonce),
            hex::encode(&*buf)
        )))
    }

    /// Writes the key, wrapped under an argon2id-derived key from `passphrase`, to
    /// `path`, which must not exist yet, with mode 0600.
    pub fn write_new_wrapped(
        &self,
        path: &Path,
        passphrase: &crate::model::SecretString,
        params: WrapParams,
        rng: &dyn Random,
    ) -> Result<()> {
        let text = self.encode(Some((passphrase, params)), rng)?;
        write_exclusive(path, text.as_bytes())
    }

    /// Replaces the key file at `path` atomically (a new file, fsynced, renamed over the
    /// old one): plain when `wrap` is `None`.
    pub fn replace_file(
        &self,
        path: &Path,
        wrap: Option<(&crate::model::SecretString, WrapParams)>,
        rng: &dyn Random,
    ) -> Result<()> {
        let text = self.encode(wrap, rng)?;
        let tmp = path.with_extension("key.new");
        let _ = fs::remove_file(&tmp);
        write_exclusive(&tmp, text.as_bytes())?;
        fs::rename(&tmp, path)
            .map_err(|e| Error::Config(format!("cannot replace `{}`: {e}", path.display())))?;
        if let Some(dir) = path.parent() {
            // Make the rename itself durable.
            let _ = fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }

    /// Whether the key file at `path` is wrapped by a passphrase.
    pub fn is_wrapped(path: &Path) -> Result<bool> {
        let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the master key file `{}`: {e}",
                path.display()
            ))
        })?);
        Ok(text.starts_with(HEADER_WRAPPED))
    }

    /// Writes the key to `path`, which must not exist yet, with mode 0600.
    pub fn write_new(&self, path: &Path) -> Result<()> {
        let text = Zeroizing::new(format!("{HEADER}{}\n", hex::encode(self.0.as_ref())));
        write_exclusive(path, text.as_bytes())
    }

    /// Reads the key from `path`, unwrapping it with `passphrase` when the file is
    /// wrapped. A file that group or others can read is refused.
    pub fn load_with(path: &Path, passphrase: Option<&crate::model::SecretString>) -> Result<Self> {
        let text = read_key_file(path)?;
        let bad = || {
            Error::Config(format!(
                "the master key file `{}` is not in the expected format",
                path.display()
            ))
        };
        let Some(rest) = text.trim_end().strip_prefix(HEADER_WRAPPED) else {
            return Self::decode_plain(&text, path);
        };
        let Some(passphrase) = passphrase else {
            return Err(Error::Config(format!(
                "the master key `{}` is protected by a passphrase: pass --passphrase-file FILE (or set IAMVAULT_PASSPHRASE_FILE)",
                path.display()
            )));
        };
        let mut parts = rest.split(':');
        let (Some(params), Some(salt), Some(sealed), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let mut p = WrapParams {
            m_cost: 0,
            t_cost: 0,
            p_cost: 0,
        };
        for kv in params.split(',') {
            let (k, v) = kv.split_once('=').ok_or_else(bad)?;
            let v: u32 = v.parse().map_err(|_| bad())?;
            match k {
                "m" => p.m_cost = v,
                "t" => p.t_cost = v,
                "p" => p.p_cost = v,
                _ => return Err(bad()),
            }
        }
        let salt = hex::decode(salt).map_err(|_| bad())?;
        let sealed = hex::decode(sealed).map_err(|_| bad())?;
        let (nonce, ct) = sealed.split_at_checked(12).ok_or_else(bad)?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| bad())?;
        let key = wrapping_key(passphrase, &salt, p)?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let plain = key
            .open_in_place(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(wrap_aad(p, &salt)),
                &mut buf,
            )
            .map_err(|_| {
                Error::Config(format!(
                    "the passphrase does not open the master key `{}`",
                    path.display()
                ))
            })?;
        let k: [u8; 32] = (&*plain).try_into().map_err(|_| bad())?;
        Ok(Self(Zeroizing::new(k)))
    }

    fn decode_plain(text: &str, path: &Path) -> Result<Self> {
        let bad = || {
            Error::Config(format!(
                "the master key file `{}` is not in the expected format",
                path.display()
            ))
        };
        let hexpart = text.trim_end().strip_prefix(HEADER).ok_or_else(bad)?;
        let mut k = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hexpart, k.as_mut()).map_err(|_| bad())?;
        Ok(Self(k))
    }

    /// Reads a plain key from `path` (a wrapped one needs [`MasterKey::load_with`]).
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, None)
    }

    /// The raw key bytes, for deriving subkeys only.
    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn write_exclusive(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            Error::Config(format!(
                "cannot create the master key file `{}`: {e}",
                path.display()
            ))
        })?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| {
        Error::Config(format!(
            "cannot write the master key file `{}`: {e}",
            path.display()
        ))
    })
}

fn read_key_file(path: &Path) -> Result<Zeroizing<String>> {
    let meta = fs::metadata(path).map_err(|e| {
        Error::Config(format!(
            "cannot read the master key file `{}`: {e}",
            path.display()
        ))
    })?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::Config(format!(
            "the master key file `{}` has mode {:o}; it must be readable by its owner only (chmod 600)",
            path.display(),
            mode & 0o777
        )));
    }
    Ok(Zeroizing::new(fs::read_to_string(path).map_err(|e| {
        Error::Config(format!(
            "cannot read the master key file `{}`: {e}",
            path.display()
        ))
    })?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestRandom;

    #[test]
    fn write_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(MASTER_KEY_FILE);
        let k = MasterKey::generate(&TestRandom::new(1)).unwrap();
        k.write_new(&p).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = MasterKey::load(&p).unwrap();
        assert_eq!(k.bytes(), again.bytes());
        // Refuses to overwrite.
        assert!(k.write_new(&p).is_err());
    }

    #[test]
    fn refuses_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(MASTER_KEY_FILE);
        MasterKey::generate(&TestRandom::new(1))
            .unwrap()
            .write_new(&p)
            .unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let err = MasterKey::load(&p).err().unwrap();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    const CHEAP: WrapParams = WrapParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };

    #[test]
    fn wrapped_keys_need_the_passphrase() {
        use crate::model::SecretString;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(MASTER_KEY_FILE);
        let rng = TestRandom::new(3);
        let k = MasterKey::generate(&rng).unwrap();
        let pass = SecretString::new("correct horse battery staple".into());
        k.write_new_wrapped(&p, &pass, CHEAP, &rng).unwrap();
        assert!(MasterKey::is_wrapped(&p).unwrap());
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // The file holds no plaintext key.
        let text = fs::read_to_string(&p).unwrap();
        assert!(!text.contains(&hex::encode(k.bytes())));
        // Without the passphrase: a clear error naming the flag.
        let e = MasterKey::load(&p).err().unwrap().to_string();
        assert!(e.contains("--passphrase-file"), "{e}");
        // Wrong passphrase.
        let e = MasterKey::load_with(&p, Some(&SecretString::new("nope".into())))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("does not open"), "{e}");
        assert!(!e.contains("nope"));
        // Right one.
        let again = MasterKey::load_with(&p, Some(&pass)).unwrap();
        assert_eq!(k.bytes(), again.bytes());
        // Tampered parameters (bound as associated data) fail.
        let tampered = text.replacen("m=64", "m=65", 1);
        fs::write(&p, tampered).unwrap();
        assert!(MasterKey::load_with(&p, Some(&pass)).is_err());
        // Absurd parameters are refused before any work.
        fs::write(&p, text.replacen("m=64", "m=4294967295", 1)).unwrap();
        let e = MasterKey::load_with(&p, Some(&pass))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("bounds"), "{e}");
    }

    #[test]
    fn replacing_the_file_rewraps_atomically() {
        use crate::model::SecretString;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(MASTER_KEY_FILE);
        let rng = TestRandom::new(4);
        let k = MasterKey::generate(&rng).unwrap();
        k.write_new(&p).unwrap();
        let pass = SecretString::new("first passphrase".into());
        k.replace_file(&p, Some((&pass, CHEAP)), &rng).unwrap();
        assert!(MasterKey::is_wrapped(&p).unwrap());
        assert_eq!(
            MasterKey::load_with(&p, Some(&pass)).unwrap().bytes(),
            k.bytes()
        );
        k.replace_file(&p, None, &rng).unwrap();
        assert!(!MasterKey::is_wrapped(&p).unwrap());
        assert_eq!(MasterKey::load(&p).unwrap().bytes(), k.bytes());
        assert!(!p.with_extension("key.new").exists());
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
