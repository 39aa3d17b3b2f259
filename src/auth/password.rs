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

/// argon2 working memory a caller keeps between verifications (the hash pool keeps one
/// per permit), so a verification neither allocates nor page-faults its 19 MiB afresh.
/// Reusing it unzeroed is sound: argon2's first pass overwrites every block it reads.
#[derive(Default)]
pub struct Scratch(Vec<argon2::Block>);

impl Scratch {
    /// At least `blocks` blocks of it.
    fn blocks(&mut self, blocks: usize) -> Option<&mut [argon2::Block]> {
        if self.0.len() < blocks {
            self.0.resize(blocks, argon2::Block::new());
        }
        self.0.get_mut(..blocks)
    }
}

/// [`hash_password`] computed in `scratch`: the same PHC string.
pub fn hash_password_in(
    rng: &dyn Random,
    password: &SecretString,
    params: PasswordParams,
    scratch: &mut Scratch,
) -> Result<String> {
    use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
    let failed =
        |e: &dyn std::fmt::Display| Error::Internal(format!("password hashing failed: {e}"));
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)?;
    let argon = hasher(params)?;
    let argon_params = argon.params().clone();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let memory = scratch
        .blocks(argon_params.block_count())
        .ok_or_else(|| failed(&"no memory"))?;
    argon
        .hash_password_into_with_memory(password.expose().as_bytes(), &salt, &mut out, memory)
        .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&argon_params).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// [`verify_password`] computed in `scratch`, grown when the stored hash needs more
/// memory than it has. The same answer for every input, including malformed hashes.
pub fn verify_password_in(password: &SecretString, phc: &str, scratch: &mut Scratch) -> bool {
    verify_in(password, phc, scratch).unwrap_or(false)
}

fn verify_in(password: &SecretString, phc: &str, scratch: &mut Scratch) -> Option<bool> {
    let hash = argon2::PasswordHash::new(phc).ok()?;
    let (salt, expected) = (hash.salt.as_ref()?, hash.hash.as_ref()?);
    let algorithm = Algorithm::try_from(hash.algorithm.as_str()).ok()?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    // Also sets the output length from the stored hash, as argon2's own verifier does.
    let params = Params::try_from(&hash).ok()?;
    let memory = scratch.blocks(params.block_count())?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            password.expose().as_bytes(),
            salt.as_ref(),
            &mut out,
            memory,
        )
        .ok()?;
    let computed = argon2::password_hash::phc::Output::new(&out).ok()?;
    // `Output`'s equality is constant-time.
    Some(computed == *expected)
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

    #[test]
    fn verifying_in_reused_scratch_agrees_with_argon2() {
        let small = PasswordParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        };
        let big = PasswordParams {
            m_cost: 256,
            t_cost: 2,
            p_cost: 2,
        };
        let pw = SecretString::new("correct horse".into());
        let wrong = SecretString::new("correct hors3".into());
        let mut scratch = Scratch::default();
        // Grow, then reuse dirty memory for a smaller hash, then grow again.
        for p in [small, big, small, big] {
            let phc = hash_password(&TestRandom::new(u64::from(p.m_cost)), &pw, p).unwrap();
            assert!(verify_password_in(&pw, &phc, &mut scratch));
            assert!(!verify_password_in(&wrong, &phc, &mut scratch));
            assert_eq!(
                verify_password_in(&pw, &phc, &mut scratch),
                verify_password(&pw, &phc)
            );
        }
        // Hashing in scratch gives argon2's own PHC string for the same salt.
        for p in [small, big] {
            let a = hash_password(&TestRandom::new(7), &pw, p).unwrap();
            let b = hash_password_in(&TestRandom::new(7), &pw, p, &mut scratch).unwrap();
            assert_eq!(a, b);
        }
        for bad in ["not a hash", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ", ""] {
            assert!(!verify_password_in(&pw, bad, &mut scratch));
        }
        // A hash made by argon2's defaults (and a v=16 one) verifies the same way.
        let phc = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"correct horse", b"saltsaltsalt")
        .unwrap()
        .to_string();
        assert!(verify_password(&pw, &phc));
        assert!(verify_password_in(&pw, &phc, &mut scratch));
        assert!(!verify_password_in(&wrong, &phc, &mut scratch));
    }
}
