//! The derived SigV4 signing key and a bounded cache of them.
//!
//! ```text
//! kDate    = HMAC-SHA256("AWS4" + secret, YYYYMMDD)
//! kRegion  = HMAC-SHA256(kDate, region)
//! kService = HMAC-SHA256(kRegion, service)
//! kSigning = HMAC-SHA256(kService, "aws4_request")
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ring::hmac;
use zeroize::{Zeroize, Zeroizing};

use super::canonical::{Scope, TERMINATOR};

/// A derived signing key (`kSigning`). It has no `Debug` or `Display`, is zeroized on
/// drop, and is only used through [`SigningKey::sign`] and the verifier.
pub struct SigningKey {
    bytes: [u8; 32],
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

fn hmac_into(key: &[u8], data: &[u8], out: &mut [u8; 32]) {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    out.copy_from_slice(tag.as_ref());
}

impl SigningKey {
    /// Derives the key for `secret` (the secret access key) and a scope.
    pub fn derive(secret: &[u8], date: &str, region: &str, service: &str) -> Self {
        let mut k_secret = Zeroizing::new(Vec::with_capacity(secret.len() + 4));
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret);
        let mut a = Zeroizing::new([0u8; 32]);
        let mut b = Zeroizing::new([0u8; 32]);
        hmac_into(&k_secret, date.as_bytes(), &mut a);
        hmac_into(a.as_ref(), region.as_bytes(), &mut b);
        hmac_into(b.as_ref(), service.as_bytes(), &mut a);
        let mut bytes = [0u8; 32];
        hmac_into(a.as_ref(), TERMINATOR.as_bytes(), &mut bytes);
        Self { bytes }
    }

    /// Derives the key for `secret` and `scope`.
    pub fn for_scope(secret: &[u8], scope: &Scope) -> Self {
        Self::derive(secret, scope.date(), scope.region(), scope.service())
    }

    fn hmac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.bytes)
    }

    /// The signature of `string_to_sign`, as lowercase hex.
    pub fn sign(&self, string_to_sign: &str) -> String {
        super::request::lower_hex(hmac::sign(&self.hmac_key(), string_to_sign.as_bytes()).as_ref())
    }

    /// Whether `signature` (raw 32 bytes) is the signature of `string_to_sign`. The
    /// comparison is constant-time (ring's `hmac::verify`).
    pub(crate) fn verify(&self, string_to_sign: &str, signature: &[u8]) -> bool {
        hmac::verify(&self.hmac_key(), string_to_sign.as_bytes(), signature).is_ok()
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

/// A bounded cache of derived signing keys per (access key id, date, region, service).
///
/// When full, entries for other dates than the one being inserted are dropped first (they
/// are about to become useless), then an arbitrary entry. Remove an access key's entries
/// when the key is deleted, deactivated or its session revoked
/// ([`SigningKeyCache::remove_access_key`]); callers still check the key's status before
/// using a cached key.
pub struct SigningKeyCache {
    capacity: usize,
    entries: Mutex<HashMap<CacheKey, Arc<SigningKey>>>,
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl SigningKeyCache {
    /// An empty cache holding at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Arc<SigningKey>>> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters (every operation is a single insert or remove), so recover from poison.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn key(access_key_id: &str, scope: &Scope) -> CacheKey {
        CacheKey {
            access_key_id: access_key_id.to_owned(),
            date: scope.date().to_owned(),
            region: scope.region().to_owned(),
            service: scope.service().to_owned(),
        }
    }

    /// The cached key, if any.
    pub fn get(&self, access_key_id: &str, scope: &Scope) -> Option<Arc<SigningKey>> {
        self.lock().get(&Self::key(access_key_id, scope)).cloned()
    }

    /// Stores a key and returns it shared.
    pub fn insert(&self, access_key_id: &str, scope: &Scope, key: SigningKey) -> Arc<SigningKey> {
        let key = Arc::new(key);
        let mut map = self.lock();
        let k = Self::key(access_key_id, scope);
        if !map.contains_key(&k) && map.len() >= self.capacity {
            map.retain(|e, _| e.date == k.date);
            if map.len() >= self.capacity {
                let victim = map.keys().next().cloned();
                if let Some(v) = victim {
                    map.remove(&v);
                }
            }
        }
        map.insert(k, Arc::clone(&key));
        key
    }

    /// The cached key, or the one `derive` makes (then cached). `derive` runs without the
    /// lock held.
    pub fn get_or_try_insert_with<E>(
        &self,
        access_key_id: &str,
        scope: &Scope,
        derive: impl FnOnce() -> Result<SigningKey, E>,
    ) -> Result<Arc<SigningKey>, E> {
        if let Some(k) = self.get(access_key_id, scope) {
            return Ok(k);
        }
        let key = derive()?;
        Ok(self.insert(access_key_id, scope, key))
    }

    /// Drops every key of `access_key_id`.
    pub fn remove_access_key(&self, access_key_id: &str) {
        self.lock().retain(|k, _| k.access_key_id != access_key_id);
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn derivation_matches_aws_example() {
        // From the AWS documentation's key-derivation example (iam, 20150830).
        let k = SigningKey::derive(SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(
            hex::encode(k.bytes),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn cache_is_bounded_and_prefers_evicting_old_dates() {
        let cache = SigningKeyCache::new(2);
        let s1 = Scope::new("20150830", "us-east-1", "sts").unwrap();
        let s2 = Scope::new("20150831", "us-east-1", "sts").unwrap();
        cache.insert(
            "A",
            &s1,
            SigningKey::derive(SECRET, "20150830", "us-east-1", "sts"),
        );
        cache.insert(
            "B",
            &s1,
            SigningKey::derive(SECRET, "20150830", "us-east-1", "sts"),
        );
        assert_eq!(cache.len(), 2);
        cache.insert(
            "C",
            &s2,
            SigningKey::derive(SECRET, "20150831", "us-east-1", "sts"),
        );
        assert_eq!(cache.len(), 1);
        assert!(cache.get("C", &s2).is_some());
        cache.insert(
            "D",
            &s2,
            SigningKey::derive(SECRET, "20150831", "us-east-1", "sts"),
        );
        cache.insert(
            "E",
            &s2,
            SigningKey::derive(SECRET, "20150831", "us-east-1", "sts"),
        );
        assert_eq!(cache.len(), 2);
        cache.remove_access_key("E");
        assert!(cache.get("E", &s2).is_none());
        let got: Result<_, ()> = cache.get_or_try_insert_with("F", &s2, || {
            Ok(SigningKey::derive(SECRET, "20150831", "us-east-1", "sts"))
        });
        assert!(got.is_ok());
        assert!(cache.get("F", &s2).is_some());
        cache.clear();
        assert!(cache.is_empty());
    }
}
