//! A bounded pool for argon2 work: at most `permits` hashes or verifications run at once,
//! so a flood of sign-ins queues instead of allocating 19 MiB per request without bound.
//! It also counts verifications, so tests can check that every sign-in failure path does
//! the same work (no timing assertion needed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use super::password::{
    PasswordParams, Scratch, hash_password, hash_password_in, verify_password_in,
};
use crate::clock::Random;
use crate::error::{Error, Result};
use crate::model::SecretString;

/// Sign-ins admitted to the blocking pool per argon2 permit (see [`HashPool::admission`]):
/// one hashing, one reserving its attempt or committing its success, and one ready to hash
/// when a permit frees, so a core never waits for a sign-in's fsync.
const ADMITTED_PER_PERMIT: usize = 3;

/// The pool.
pub struct HashPool {
    permits: Mutex<usize>,
    freed: Condvar,
    params: PasswordParams,
    verifications: AtomicU64,
    real_verifications: AtomicU64,
    dummy: OnceLock<String>,
    /// argon2 working memory, one per permit at most, reused by verifications.
    scratch: Mutex<Vec<Scratch>>,
    admission: Arc<tokio::sync::Semaphore>,
}

struct Permit<'a>(&'a HashPool);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Ok(mut p) = self.0.permits.lock() {
            *p += 1;
        }
        self.0.freed.notify_one();
    }
}

impl HashPool {
    /// A pool running at most `permits` argon2 computations at once with `params`.
    pub fn new(permits: usize, params: PasswordParams) -> Self {
        Self {
            permits: Mutex::new(permits.max(1)),
            freed: Condvar::new(),
            params,
            verifications: AtomicU64::new(0),
            real_verifications: AtomicU64::new(0),
            dummy: OnceLock::new(),
            scratch: Mutex::new(Vec::new()),
            admission: Arc::new(tokio::sync::Semaphore::new(
                permits.max(1).saturating_mul(ADMITTED_PER_PERMIT),
            )),
        }
    }

    /// The gate an async caller (the login endpoint) passes before it takes a blocking
    /// thread for a sign-in: three times as many sign-ins as hash permits, so the store
    /// writes of the others overlap each permit's hashing while the rest wait as cheap
    /// async tasks. (With two per permit, the argon2 threads sat idle while both of the
    /// others waited on the store.)
    /// Without it a flood of sign-ins parks one blocking thread per request on the pool
    /// (up to tokio's 512), and a request the server sheds after its timeout still runs
    /// its argon2 verification later, for an answer nobody reads.
    pub fn admission(&self) -> Arc<tokio::sync::Semaphore> {
        Arc::clone(&self.admission)
    }

    fn acquire(&self) -> Result<Permit<'_>> {
        let mut p = self
            .permits
            .lock()
            .map_err(|_| Error::Internal("the hash pool is poisoned".into()))?;
        while *p == 0 {
            p = self
                .freed
                .wait(p)
                .map_err(|_| Error::Internal("the hash pool is poisoned".into()))?;
        }
        *p -= 1;
        Ok(Permit(self))
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> PasswordParams {
        self.params
    }

    /// Hashes a password.
    pub fn hash(&self, rng: &dyn Random, password: &SecretString) -> Result<String> {
        let _permit = self.acquire()?;
        self.with_scratch(|scratch| hash_password_in(rng, password, self.params, scratch))?
    }

    /// Runs `f` with a scratch, taken by a permit holder (there are never more than
    /// permits of them) and given back; none is ever freed, so the pool's argon2 memory
    /// stays at permits × m_cost however many threads hash or verify.
    fn with_scratch<T>(&self, f: impl FnOnce(&mut Scratch) -> T) -> Result<T> {
        let poisoned = || Error::Internal("the hash pool is poisoned".into());
        let mut scratch = self
            .scratch
            .lock()
            .map_err(|_| poisoned())?
            .pop()
            .unwrap_or_default();
        let out = f(&mut scratch);
        self.scratch.lock().map_err(|_| poisoned())?.push(scratch);
        Ok(out)
    }

    /// Verifies a password against a PHC string.
    pub fn verify(&self, password: &SecretString, phc: &str) -> Result<bool> {
        self.real_verifications.fetch_add(1, Ordering::Relaxed);
        self.verify_inner(password, phc)
    }

    fn verify_inner(&self, password: &SecretString, phc: &str) -> Result<bool> {
        let _permit = self.acquire()?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        self.with_scratch(|scratch| verify_password_in(password, phc, scratch))
    }

    /// Verifies against a dummy hash of the same cost and returns false: the work an
    /// unknown user costs, so that it looks like a wrong password from outside.
    pub fn verify_dummy(&self, rng: &dyn Random, password: &SecretString) -> Result<bool> {
        let dummy = match self.dummy.get() {
            Some(d) => d.clone(),
            None => {
                let d = hash_password(
                    rng,
                    &SecretString::new("iamvault-dummy-password".into()),
                    self.params,
                )?;
                self.dummy.get_or_init(|| d).clone()
            }
        };
        self.verify_inner(password, &dummy).map(|_| false)
    }

    /// How many verifications ran so far, real and dummy alike.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// How many verifications ran against a real (stored) hash.
    pub fn real_verifications(&self) -> u64 {
        self.real_verifications.load(Ordering::Relaxed)
    }

    /// True when `phc` was made with other parameters than the pool's (rehash it).
    pub fn outdated(&self, phc: &str) -> bool {
        let p = self.params;
        !phc.starts_with(&format!(
            "$argon2id$v=19$m={},t={},p={}$",
            p.m_cost, p.t_cost, p.p_cost
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestRandom;
    use std::sync::Arc;

    fn cheap() -> PasswordParams {
        PasswordParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }

    #[test]
    fn verifies_counts_and_detects_outdated_hashes() {
        let pool = HashPool::new(2, cheap());
        let rng = TestRandom::new(1);
        let pw = SecretString::new("pw".into());
        let h = pool.hash(&rng, &pw).unwrap();
        assert!(pool.verify(&pw, &h).unwrap());
        assert!(!pool.verify_dummy(&rng, &pw).unwrap());
        assert_eq!(pool.verifications(), 2);
        assert!(!pool.outdated(&h));
        let other = HashPool::new(
            1,
            PasswordParams {
                m_cost: 128,
                ..cheap()
            },
        );
        assert!(other.outdated(&h));
    }

    #[test]
    fn concurrency_is_bounded() {
        let pool = Arc::new(HashPool::new(1, cheap()));
        let rng = Arc::new(TestRandom::new(2));
        let h = pool
            .hash(rng.as_ref(), &SecretString::new("x".into()))
            .unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (pool, h) = (Arc::clone(&pool), h.clone());
                std::thread::spawn(move || pool.verify(&SecretString::new("x".into()), &h).unwrap())
            })
            .collect();
        for t in threads {
            assert!(t.join().unwrap());
        }
        assert_eq!(*pool.permits.lock().unwrap(), 1);
        assert_eq!(pool.verifications(), 8);
    }

    #[test]
    fn admission_admits_three_times_the_hash_permits() {
        assert_eq!(HashPool::new(2, cheap()).admission().available_permits(), 6);
        assert_eq!(HashPool::new(0, cheap()).admission().available_permits(), 3);
        let pool = HashPool::new(1, cheap());
        let gate = pool.admission();
        let held = Arc::clone(&gate).try_acquire_many_owned(3).unwrap();
        assert!(pool.admission().try_acquire().is_err(), "one gate, shared");
        drop(held);
        assert!(pool.admission().try_acquire().is_ok());
    }
}
