//! Token buckets per key, for the authentication paths: sign-in per source address and
//! per user name, failed SigV4 authentications per source address.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

/// A token bucket per key: `burst` requests at once, refilled at `per_minute`.
pub struct RateLimiter<K = String> {
    buckets: Mutex<HashMap<K, (f64, OffsetDateTime)>>,
    burst: f64,
    per_second: f64,
}

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    /// A limiter allowing `burst` at once and `per_minute` sustained.
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            burst: f64::from(burst),
            per_second: f64::from(per_minute) / 60.0,
        }
    }

    /// The tokens `key` has at `now`, refilled since its last use.
    fn tokens(&self, b: &HashMap<K, (f64, OffsetDateTime)>, key: &K, now: OffsetDateTime) -> f64 {
        let (tokens, at) = b.get(key).copied().unwrap_or((self.burst, now));
        let elapsed = (now - at).as_seconds_f64().max(0.0);
        (tokens + elapsed * self.per_second).min(self.burst)
    }

    /// Takes one token for `key` at `now`; false when the bucket is empty.
    pub fn take(&self, key: K, now: OffsetDateTime) -> bool {
        let Ok(mut b) = self.buckets.lock() else {
            return false;
        };
        if b.len() > 100_000 {
            // Bounded memory: forget everyone (buckets refill quickly anyway).
            b.clear();
        }
        let tokens = self.tokens(&b, &key, now);
        if tokens < 1.0 {
            b.insert(key, (tokens, now));
            return false;
        }
        b.insert(key, (tokens - 1.0, now));
        true
    }

    /// Whether `key` has a token left at `now`, without taking it.
    pub fn has_token(&self, key: &K, now: OffsetDateTime) -> bool {
        let Ok(b) = self.buckets.lock() else {
            return false;
        };
        b.is_empty() || self.tokens(&b, key, now) >= 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn buckets_refill_over_time() {
        let r = RateLimiter::new(3, 60);
        let t = datetime!(2026-01-01 0:00 UTC);
        assert!((0..3).all(|_| r.take("a", t)));
        assert!(!r.take("a", t));
        assert!(r.take("b", t), "keys are independent");
        assert!(
            r.take("a", t + time::Duration::seconds(1)),
            "one token per second at 60/min"
        );
        assert!(!r.take("a", t + time::Duration::seconds(1)));
    }
}
