//! Token-signing keys: Ed25519 (RFC 8032, through ed25519-dalek), identified by the first
//! 8 bytes of SHA-256 of the public key.

use std::collections::HashMap;

use ed25519_dalek::{SigningKey, VerifyingKey};
use time::OffsetDateTime;

use crate::clock::Random;
use crate::crypto::{KeyRing, Purpose};
use crate::error::{Error, Result};

/// A key id: the first 8 bytes of SHA-256 over the 32-byte public key.
pub type KeyId = [u8; 8];

fn key_id_of(public: &VerifyingKey) -> KeyId {
    let d = ring::digest::digest(&ring::digest::SHA256, public.as_bytes());
    let mut id = [0u8; 8];
    for (o, i) in id.iter_mut().zip(d.as_ref()) {
        *o = *i;
    }
    id
}

fn aad(kid: &KeyId) -> Vec<u8> {
    format!("iamvault/signing-key/v1|{}", hex::encode(kid)).into_bytes()
}

/// A private signing key. No `Debug`; ed25519-dalek zeroizes it on drop.
pub struct TokenSigningKey {
    key: SigningKey,
    kid: KeyId,
}

impl TokenSigningKey {
    /// A fresh key from the injected random source.
    pub fn generate(rng: &dyn Random) -> Result<Self> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill(seed.as_mut())?;
        let key = SigningKey::from_bytes(&seed);
        let kid = key_id_of(&key.verifying_key());
        Ok(Self { key, kid })
    }

    /// A key from a 32-byte seed (published test keys).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let kid = key_id_of(&key.verifying_key());
        Self { key, kid }
    }

    /// The key id.
    pub fn kid(&self) -> KeyId {
        self.kid
    }

    /// The public half.
    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs `msg`.
    pub(super) fn sign(&self, msg: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.key.sign(msg).to_bytes()
    }

    /// Seals the private key for storage, bound to its key id.
    pub fn seal(&self, keyring: &KeyRing, rng: &dyn Random) -> Result<Vec<u8>> {
        let seed = zeroize::Zeroizing::new(self.key.to_bytes());
        keyring
            .sealer(Purpose::SigningKey)
            .seal(rng, &aad(&self.kid), seed.as_ref())
    }

    /// Opens a sealed private key and checks it belongs to `kid`.
    pub fn open(keyring: &KeyRing, kid: &KeyId, sealed: &[u8]) -> Result<Self> {
        let plain = keyring
            .sealer(Purpose::SigningKey)
            .open(&aad(kid), sealed)?;
        let seed: [u8; 32] = plain
            .expose()
            .try_into()
            .map_err(|_| Error::Internal("a stored signing key has the wrong length".into()))?;
        let key = SigningKey::from_bytes(&seed);
        let me = Self {
            kid: key_id_of(&key.verifying_key()),
            key,
        };
        if &me.kid != kid {
            return Err(Error::Internal(
                "a stored signing key does not match its key id".into(),
            ));
        }
        Ok(me)
    }
}

/// Public keys that verify tokens, with the time after which each is dropped (when every
/// token it signed has expired). `None` = the current key.
#[derive(Debug, Clone, Default)]
pub struct PublicKeySet {
    keys: HashMap<KeyId, (VerifyingKey, Option<OffsetDateTime>)>,
}

impl PublicKeySet {
    /// Adds a key.
    pub fn insert(&mut self, public: VerifyingKey, retire_after: Option<OffsetDateTime>) -> KeyId {
        let kid = key_id_of(&public);
        self.keys.insert(kid, (public, retire_after));
        kid
    }

    /// Adds a key from its 32 raw bytes.
    pub fn insert_bytes(
        &mut self,
        bytes: &[u8; 32],
        retire_after: Option<OffsetDateTime>,
    ) -> Result<KeyId> {
        let vk = VerifyingKey::from_bytes(bytes)
            .map_err(|_| Error::InvalidInput("not an ed25519 public key".into()))?;
        Ok(self.insert(vk, retire_after))
    }

    /// The key for `kid`, if it is still valid at `now`.
    pub fn get(&self, kid: &KeyId, now: OffsetDateTime) -> Option<&VerifyingKey> {
        self.keys
            .get(kid)
            .filter(|(_, retire)| retire.is_none_or(|t| now < t))
            .map(|(k, _)| k)
    }

    /// All keys, for JWKS export.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyId, &VerifyingKey, Option<OffsetDateTime>)> {
        self.keys.iter().map(|(k, (v, r))| (k, v, *r))
    }

    /// Drops keys retired before `now`.
    pub fn prune(&mut self, now: OffsetDateTime) {
        self.keys.retain(|_, (_, r)| r.is_none_or(|t| now < t));
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The public keys as a JWKS (RFC 8037 OKP keys, crv Ed25519), for checking tokens offline.
pub fn jwks(set: &PublicKeySet) -> serde_json::Value {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut keys: Vec<serde_json::Value> = set
        .iter()
        .map(|(kid, vk, _)| {
            serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64.encode(vk.as_bytes()),
                "kid": hex::encode(kid),
                "use": "sig",
                "alg": "EdDSA",
            })
        })
        .collect();
    keys.sort_by(|a, b| a["kid"].as_str().cmp(&b["kid"].as_str()));
    serde_json::json!({ "keys": keys })
}

/// Reads a JWKS back into a key set (for `iamvault token inspect`).
pub fn from_jwks(v: &serde_json::Value) -> Result<PublicKeySet> {
    use base64::Engine as _;
    let mut set = PublicKeySet::default();
    let keys = v
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| Error::InvalidInput("the key set has no `keys` list".into()))?;
    for k in keys {
        if k.get("kty").and_then(serde_json::Value::as_str) != Some("OKP")
            || k.get("crv").and_then(serde_json::Value::as_str) != Some("Ed25519")
        {
            continue;
        }
        let x = k
            .get("x")
            .and_then(serde_json::Value::as_str)
            .and_then(|x| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(x)
                    .ok()
            })
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| Error::InvalidInput("a key in the set has no valid `x`".into()))?;
        set.insert_bytes(&x, None)?;
    }
    Ok(set)
}
