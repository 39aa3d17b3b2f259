//! argon2id password hashing (RFC 9106), stored as PHC strings.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::clock::Random;
use crate::error::{Error, Result};
use crate::model::SecretString;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl Default for PasswordParams {
    /// OWASP's argon2id baseline, and argon2's default: m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        Self {
            m_cost: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

fn hasher(p: PasswordParams) -> Result<Argon2<'static>> {
    let params = Params::new(p.m_cost, p.t_cost, p.p_cost, None)
        .map_err(|e| Error::Config(format!("invalid argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with a 16-byte salt from the injected random source.
pub fn hash_password(
    rng: &dyn Random,
    password: &SecretString,
    params: PasswordParams,
) -> Result<String> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)?;
    let hash = hasher(params)?
        .hash_password_with_salt(password.expose().as_bytes(), &salt)
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))?;
    Ok(hash.to_string())
}

/// Checks `password` against a PHC string. Any malformed hash counts as a mismatch.
pub fn verify_password(password: &SecretString, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.expose().as_bytes(), phc)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestRandom;

    #[test]
    fn hash_and_verify() {
        let cheap = PasswordParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        };
        let pw = SecretString::new("correct horse".into());
        let phc = hash_password(&TestRandom::new(1), &pw, cheap).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify_password(&pw, &phc));
        assert!(!verify_password(&SecretString::new("wrong".into()), &phc));
        assert!(!verify_password(&pw, "not a hash"));
    }
}
