//! Per-purpose keys derived with HKDF, and AES-256-GCM sealing bound to associated data.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;

use super::MasterKey;
use crate::clock::Random;
use crate::error::{Error, Result};
use crate::model::SecretBytes;

/// What a derived key is for. Each purpose gets its own key, so a ciphertext of one kind
/// can never be opened as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Secret access keys of long-term access keys.
    AccessKeySecret,
    /// TOTP seeds of virtual MFA devices.
    TotpSeed,
    /// Ed25519 token-signing keys.
    SigningKey,
    /// Secrets carried inside session tokens.
    SessionSecret,
    /// Encoded authorization failure messages (decoded by STS DecodeAuthorizationMessage).
    AuthorizationMessage,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Purpose::AccessKeySecret => b"iamvault/v1/seal/access-key-secret",
            Purpose::TotpSeed => b"iamvault/v1/seal/totp-seed",
            Purpose::SigningKey => b"iamvault/v1/seal/signing-key",
            Purpose::SessionSecret => b"iamvault/v1/seal/session-secret",
            Purpose::AuthorizationMessage => b"iamvault/v1/seal/authorization-message",
        }
    }
}

const HKDF_SALT: &[u8] = b"iamvault key hierarchy v1";
const SEALED_VERSION: u8 = 1;

/// An AEAD key for one purpose.
pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// Encrypts `plaintext` so that it opens only with the same `aad`. Output:
    /// version (1 byte) ‖ nonce (12) ‖ ciphertext ‖ tag (16).
    pub fn seal(&self, rng: &dyn Random, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(SEALED_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts a value sealed with the same key and `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes> {
        let fail = || {
            Error::Internal("a sealed value failed to open (wrong key or moved ciphertext)".into())
        };
        let (&version, rest) = sealed.split_first().ok_or_else(fail)?;
        if version != SEALED_VERSION || rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(fail());
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| fail())?;
        let out = SecretBytes::new(plain.to_vec());
        zeroize::Zeroize::zeroize(&mut buf);
        Ok(out)
    }
}

/// The keys derived from the master key, one per [`Purpose`].
pub struct KeyRing {
    access_key: Sealer,
    totp: Sealer,
    signing: Sealer,
    session: Sealer,
    authz_message: Sealer,
    /// The Ed25519 key that signs audit-log checkpoints. Derived, never stored: whoever
    /// can edit the database but lacks the master key cannot re-sign a forged chain.
    /// Expanded once here (a scalar multiplication), not on every audited write; it
    /// zeroizes itself on drop.
    audit_key: ed25519_dalek::SigningKey,
}

/// HKDF info of the audit checkpoint key.
const AUDIT_INFO: &[u8] = b"iamvault/v1/sign/audit-checkpoint";

struct Len32;
impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn derive(prk: &hkdf::Prk, purpose: Purpose) -> Result<Sealer> {
    let info = [purpose.info()];
    let okm = prk
        .expand(&info, Len32)
        .map_err(|_| Error::Internal("key derivation failed".into()))?;
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    okm.fill(raw.as_mut())
        .map_err(|_| Error::Internal("key derivation failed".into()))?;
    let key = UnboundKey::new(&AES_256_GCM, raw.as_ref())
        .map_err(|_| Error::Internal("key derivation failed".into()))?;
    Ok(Sealer {
        key: LessSafeKey::new(key),
    })
}

impl KeyRing {
    /// Derives every purpose key from `master`.
    pub fn derive(master: &MasterKey) -> Result<Self> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(master.bytes());
        Ok(Self {
            access_key: derive(&prk, Purpose::AccessKeySecret)?,
            totp: derive(&prk, Purpose::TotpSeed)?,
            signing: derive(&prk, Purpose::SigningKey)?,
            session: derive(&prk, Purpose::SessionSecret)?,
            authz_message: derive(&prk, Purpose::AuthorizationMessage)?,
            audit_key: {
                let okm = prk
                    .expand(&[AUDIT_INFO], Len32)
                    .map_err(|_| Error::Internal("key derivation failed".into()))?;
                let mut raw = zeroize::Zeroizing::new([0u8; 32]);
                okm.fill(raw.as_mut())
                    .map_err(|_| Error::Internal("key derivation failed".into()))?;
                ed25519_dalek::SigningKey::from_bytes(&raw)
            },
        })
    }

    /// The Ed25519 key that signs audit-log checkpoints.
    pub fn audit_signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.audit_key
    }

    /// The sealer for `purpose`.
    pub fn sealer(&self, purpose: Purpose) -> &Sealer {
        match purpose {
            Purpose::AccessKeySecret => &self.access_key,
            Purpose::TotpSeed => &self.totp,
            Purpose::SigningKey => &self.signing,
            Purpose::SessionSecret => &self.session,
            Purpose::AuthorizationMessage => &self.authz_message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestRandom;

    fn ring() -> KeyRing {
        KeyRing::derive(&MasterKey::generate(&TestRandom::new(9)).unwrap()).unwrap()
    }

    #[test]
    fn round_trip() {
        let r = ring();
        let rng = TestRandom::new(1);
        let s = r.sealer(Purpose::AccessKeySecret);
        let c = s
            .seal(&rng, b"access-key:AKIAAAAAAAAAAAAAAAAA", b"secret")
            .unwrap();
        assert_eq!(
            s.open(b"access-key:AKIAAAAAAAAAAAAAAAAA", &c)
                .unwrap()
                .expose(),
            b"secret"
        );
        assert!(!c.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn moved_ciphertext_fails_to_open() {
        let r = ring();
        let rng = TestRandom::new(1);
        let s = r.sealer(Purpose::AccessKeySecret);
        let c = s
            .seal(&rng, b"access-key:AKIAAAAAAAAAAAAAAAAA", b"secret")
            .unwrap();
        assert!(s.open(b"access-key:AKIABBBBBBBBBBBBBBBB", &c).is_err());
    }

    #[test]
    fn purposes_are_separated_and_tampering_detected() {
        let r = ring();
        let rng = TestRandom::new(1);
        let c = r
            .sealer(Purpose::AccessKeySecret)
            .seal(&rng, b"x", b"secret")
            .unwrap();
        assert!(r.sealer(Purpose::TotpSeed).open(b"x", &c).is_err());
        for i in 0..c.len() {
            let mut t = c.clone();
            t[i] ^= 1;
            assert!(
                r.sealer(Purpose::AccessKeySecret).open(b"x", &t).is_err(),
                "bit flip at {i}"
            );
        }
        assert!(
            r.sealer(Purpose::AccessKeySecret)
                .open(b"x", &c[..10])
                .is_err()
        );
        assert!(r.sealer(Purpose::AccessKeySecret).open(b"x", &[]).is_err());
    }

    #[test]
    fn other_master_key_cannot_open() {
        let a = ring();
        let b = KeyRing::derive(&MasterKey::generate(&TestRandom::new(10)).unwrap()).unwrap();
        let rng = TestRandom::new(1);
        let c = a
            .sealer(Purpose::TotpSeed)
            .seal(&rng, b"x", b"seed")
            .unwrap();
        assert!(b.sealer(Purpose::TotpSeed).open(b"x", &c).is_err());
    }
}
