//! Generation of access keys, unique ids and passwords from the injected random source.

use crate::clock::Random;
use crate::error::Result;
use crate::model::{AccessKeyId, IdPrefix, SecretString, UniqueId};

const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Generates an access key id (`AKIA…`, or `ASIA…` when `temporary`) and a 40-character
/// secret from the alphabet `A-Za-z0-9+/`, as AWS's.
pub fn generate_access_key(
    rng: &dyn Random,
    temporary: bool,
) -> Result<(AccessKeyId, SecretString)> {
    let mut id_bytes = [0u8; AccessKeyId::RANDOM_LEN];
    rng.fill(&mut id_bytes)?;
    let id = AccessKeyId::from_random(temporary, &id_bytes);
    let mut raw = zeroize::Zeroizing::new([0u8; 40]);
    rng.fill(raw.as_mut())?;
    let mut secret = String::with_capacity(40);
    for b in raw.iter() {
        // `b & 63` < 64, the alphabet's length.
        secret.push(
            SECRET_ALPHABET
                .get(usize::from(b & 63))
                .map_or('A', |c| char::from(*c)),
        );
    }
    Ok((id, SecretString::new(secret)))
}

/// Generates a unique id with `prefix`.
pub fn generate_unique_id(rng: &dyn Random, prefix: IdPrefix) -> Result<UniqueId> {
    let mut b = [0u8; UniqueId::RANDOM_LEN];
    rng.fill(&mut b)?;
    Ok(UniqueId::from_random(prefix, &b))
}

/// Generates a 32-character password with upper, lower, digit and symbol characters, which
/// satisfies any AWS password policy up to 32 characters.
pub fn generate_password(rng: &dyn Random) -> Result<SecretString> {
    const CLASSES: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"!@#$%^&*()_+-=[]{}|'",
    ];
    let mut raw = zeroize::Zeroizing::new([0u8; 64]);
    rng.fill(raw.as_mut())?;
    let mut out = String::with_capacity(32);
    for (i, pair) in raw.chunks_exact(2).enumerate() {
        // The first four characters take one class each; the rest draw from the first
        // three classes, so the password has every class.
        let class = if i < 4 {
            i
        } else {
            usize::from(pair.first().copied().unwrap_or(0)) % 3
        };
        let set = CLASSES.get(class).copied().unwrap_or(CLASSES[0]);
        let pick = usize::from(pair.get(1).copied().unwrap_or(0)) % set.len();
        out.push(set.get(pick).map_or('a', |c| char::from(*c)));
    }
    Ok(SecretString::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{SystemRandom, TestRandom};

    #[test]
    fn access_key_format() {
        let rng = SystemRandom::new();
        for _ in 0..200 {
            let (id, secret) = generate_access_key(&rng, false).unwrap();
            let s = id.as_str();
            assert_eq!(s.len(), 20);
            assert!(s.starts_with("AKIA"));
            assert!(
                s[4..]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
                "{s}"
            );
            let sec = secret.expose();
            assert_eq!(sec.len(), 40);
            assert!(
                sec.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
            );
        }
        assert!(
            generate_access_key(&rng, true)
                .unwrap()
                .0
                .as_str()
                .starts_with("ASIA")
        );
    }

    #[test]
    fn ids_differ() {
        let rng = TestRandom::new(3);
        let a = generate_unique_id(&rng, IdPrefix::User).unwrap();
        let b = generate_unique_id(&rng, IdPrefix::User).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn password_has_every_class() {
        let rng = SystemRandom::new();
        for _ in 0..50 {
            let p = generate_password(&rng).unwrap();
            let p = p.expose();
            assert_eq!(p.len(), 32);
            assert!(p.bytes().any(|b| b.is_ascii_uppercase()));
            assert!(p.bytes().any(|b| b.is_ascii_lowercase()));
            assert!(p.bytes().any(|b| b.is_ascii_digit()));
            assert!(p.bytes().any(|b| !b.is_ascii_alphanumeric()));
        }
    }
}
