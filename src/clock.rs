//! Injected time and randomness.
//!
//! Everything that needs the current time takes a [`Clock`]; everything that needs random
//! bytes takes a [`Random`]. Production uses [`SystemClock`] and [`SystemRandom`]; tests use
//! [`TestClock`] (settable, steppable) and [`TestRandom`] (deterministic). This is the only
//! module allowed to read the wall clock (enforced by `clippy.toml`).

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place the wall clock is read"
    )]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from(std::time::SystemTime::now())
    }
}

/// A clock for tests: starts at a fixed instant and only moves when told to.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl TestClock {
    /// A clock frozen at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        if let Ok(mut g) = self.now.lock() {
            *g = to;
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut g) = self.now.lock() {
            *g += by;
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        match self.now.lock() {
            Ok(g) => *g,
            // A poisoned lock still holds a valid time; a test that panicked elsewhere
            // should not turn every later read into a second panic.
            Err(p) => *p.into_inner(),
        }
    }
}

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<()>;
}

/// ring's operating-system random source.
#[derive(Debug)]
pub struct SystemRandom(ring::rand::SystemRandom);

impl SystemRandom {
    /// A handle on the operating system's CSPRNG.
    pub fn new() -> Self {
        Self(ring::rand::SystemRandom::new())
    }
}

impl Default for SystemRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl Random for SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<()> {
        ring::rand::SecureRandom::fill(&self.0, dest)
            .map_err(|_| Error::Internal("the system random source failed".into()))
    }
}

/// Deterministic bytes for tests: SHA-256 in counter mode over a seed. Never use it for
/// real keys; it exists so that tests can predict ids.
#[derive(Debug)]
pub struct TestRandom {
    seed: u64,
    counter: Mutex<u64>,
}

impl TestRandom {
    /// A generator whose output depends only on `seed` and the number of calls.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            counter: Mutex::new(0),
        }
    }
}

impl Random for TestRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<()> {
        let mut counter = self
            .counter
            .lock()
            .map_err(|_| Error::Internal("test random lock poisoned".into()))?;
        for chunk in dest.chunks_mut(32) {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            ctx.update(&self.seed.to_be_bytes());
            ctx.update(&counter.to_be_bytes());
            *counter += 1;
            for (d, s) in chunk.iter_mut().zip(ctx.finish().as_ref()) {
                *d = *s;
            }
        }
        Ok(())
    }
}

/// The pair every service holds: a clock and a random source.
#[derive(Clone)]
pub struct Env {
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// The random source.
    pub rng: Arc<dyn Random>,
}

impl Env {
    /// The production environment: wall clock and the OS random source.
    pub fn system() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            rng: Arc::new(SystemRandom::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn test_clock_steps() {
        let start = time::macros::datetime!(2026-01-01 00:00 UTC);
        let c = TestClock::new(start);
        assert_eq!(c.now(), start);
        c.advance(Duration::minutes(15));
        assert_eq!(c.now(), start + Duration::minutes(15));
    }

    #[test]
    fn test_random_is_deterministic_and_distinct() {
        let (a, b) = (TestRandom::new(7), TestRandom::new(7));
        let (mut x, mut y) = ([0u8; 40], [0u8; 40]);
        a.fill(&mut x).unwrap();
        b.fill(&mut y).unwrap();
        assert_eq!(x, y);
        a.fill(&mut y).unwrap();
        assert_ne!(x, y);
    }
}
