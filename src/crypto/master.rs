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

    /// Writes the key to `path`, which must not exist yet, with mode 0600.
    pub fn write_new(&self, path: &Path) -> Result<()> {
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
        let text = Zeroizing::new(format!("{HEADER}{}\n", hex::encode(self.0.as_ref())));
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| {
                Error::Config(format!(
                    "cannot write the master key file `{}`: {e}",
                    path.display()
                ))
            })
    }

    /// Reads the key from `path`. A file that group or others can read is refused.
    pub fn load(path: &Path) -> Result<Self> {
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
        let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the master key file `{}`: {e}",
                path.display()
            ))
        })?);
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

    /// The raw key bytes, for deriving subkeys only.
    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
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
}
