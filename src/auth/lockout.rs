//! Sign-in lockout as pure state transitions. The store keeps one [`LockoutState`] per
//! (account, [`canonical_key`]) and applies these functions inside a transaction; nothing
//! here reads the clock or the store.
//!
//! # The contract with the store: reserve before you verify
//!
//! A naive "verify, then count the failure" lets a burst through: 50 parallel sign-ins all
//! read `failures = 0`, all run argon2, and all fail before any increment lands. So an
//! attempt is counted *before* the password is checked:
//!
//! 1. In one serialised write transaction (SQLite `BEGIN IMMEDIATE`; PostgreSQL
//!    `SELECT … FOR UPDATE` on the row, or an upsert with a conditional update), read the
//!    state, call [`try_begin_attempt`], write the returned state, commit. `Err(Locked)`
//!    means: do not verify; fail the sign-in with the same error as a wrong password (and
//!    persist [`Locked::state`], which records when a lock began).
//! 2. Only with a reservation, verify the password (and the MFA code).
//! 3. On success, write [`record_success`] (a reset). On failure there is nothing to write:
//!    the reservation already counted it. ([`settle_failure`] is the identity on the
//!    counter and exists so a caller can say what it means.)
//!
//! Because the read-check-increment of step 1 is atomic, at most `threshold` attempts per
//! window ever reach the password check, however many run in parallel. An attempt that
//! dies between steps 1 and 3 counts as a failure, which errs on the safe side.
//!
//! [`record_failure`] is the simple counter for callers that verify first (tests, tools);
//! do not mix it with reservations for the same attempt, or the attempt counts twice.
//!
//! Keys are the canonical (lowercased) user name, so `Alice`, `ALICE` and `alice` share one
//! counter, and an unknown name is counted like a known one (no enumeration by lockout).

use time::{Duration, OffsetDateTime};

/// When to lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutSettings {
    /// Failed attempts allowed within `window` (default 10). The attempt after the last
    /// allowed one is refused and locks the name.
    pub threshold: u32,
    /// The counting window, from the first failure (default 15 minutes).
    pub window: Duration,
    /// How long a lock lasts (default 15 minutes).
    pub lock_period: Duration,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        Self {
            threshold: 10,
            window: Duration::minutes(15),
            lock_period: Duration::minutes(15),
        }
    }
}

/// The stored counter of one canonical user name. `Default` is "never failed".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockoutState {
    /// Failures (reserved attempts included) in the current window.
    pub failures: u32,
    /// When the current window began (the first failure in it).
    pub window_start: Option<OffsetDateTime>,
    /// Locked until this time (exclusive).
    pub locked_until: Option<OffsetDateTime>,
}

/// An attempt refused because the name is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// When the lock ends.
    pub until: OffsetDateTime,
    /// The state to persist (a lock that has just begun is recorded here).
    pub state: LockoutState,
    /// True when this refusal started the lock (audit "locked" once, not per attempt).
    pub newly_locked: bool,
}

/// The key of a lockout counter: the canonical (ASCII-lowercased) user name, the same
/// canonical form the model uses for names (`EntityName::canonical`).
pub fn canonical_key(user_name: &str) -> String {
    user_name.to_ascii_lowercase()
}

/// Whether the state is locked at `now`.
pub fn is_locked(state: &LockoutState, now: OffsetDateTime) -> bool {
    state.locked_until.is_some_and(|t| now < t)
}

/// The state with an expired window or lock cleared.
fn current(state: &LockoutState, now: OffsetDateTime, s: &LockoutSettings) -> LockoutState {
    let lock_over = state.locked_until.is_some_and(|t| now >= t);
    let window_over = state
        .window_start
        .is_none_or(|w| now < w || now - w >= s.window);
    if lock_over || window_over {
        LockoutState::default()
    } else {
        *state
    }
}

fn lock(now: OffsetDateTime, s: &LockoutSettings, failures: u32) -> LockoutState {
    LockoutState {
        failures,
        window_start: Some(now),
        locked_until: Some(now.saturating_add(s.lock_period)),
    }
}

/// Reserves one attempt: counts it as a failure up front and returns the state to
/// persist, or refuses when the name is locked or the window already holds `threshold`
/// failures (then the lock begins now). Run it atomically with the store write; see the
/// module docs.
pub fn try_begin_attempt(
    state: &LockoutState,
    now: OffsetDateTime,
    settings: &LockoutSettings,
) -> Result<LockoutState, Locked> {
    if let Some(until) = state.locked_until.filter(|t| now < *t) {
        return Err(Locked {
            until,
            state: *state,
            newly_locked: false,
        });
    }
    let cur = current(state, now, settings);
    if cur.failures >= settings.threshold {
        let locked = lock(now, settings, cur.failures);
        return Err(Locked {
            until: locked.locked_until.unwrap_or(now),
            state: locked,
            newly_locked: true,
        });
    }
    Ok(LockoutState {
        failures: cur.failures.saturating_add(1),
        window_start: cur.window_start.or(Some(now)),
        locked_until: None,
    })
}

/// After a reserved attempt failed: the counter already holds it, so the state is
/// unchanged (an expired lock or window is not revived either).
pub fn settle_failure(state: &LockoutState) -> LockoutState {
    *state
}

/// Counts one failure (for callers that verify first; see the module docs). Reaching
/// `threshold` failures within the window locks the name for `lock_period`. A failure
/// while locked changes nothing (the lock is not extended).
pub fn record_failure(
    state: &LockoutState,
    now: OffsetDateTime,
    settings: &LockoutSettings,
) -> LockoutState {
    if is_locked(state, now) {
        return *state;
    }
    let cur = current(state, now, settings);
    let failures = cur.failures.saturating_add(1);
    if failures >= settings.threshold {
        lock(now, settings, failures)
    } else {
        LockoutState {
            failures,
            window_start: cur.window_start.or(Some(now)),
            locked_until: None,
        }
    }
}

/// After a successful sign-in: the counter resets. (The store may delete the row.)
pub fn record_success(_state: &LockoutState) -> LockoutState {
    LockoutState::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn s(threshold: u32) -> LockoutSettings {
        LockoutSettings {
            threshold,
            ..LockoutSettings::default()
        }
    }

    #[test]
    fn defaults() {
        let d = LockoutSettings::default();
        assert_eq!(d.threshold, 10);
        assert_eq!(d.window, Duration::minutes(15));
        assert_eq!(d.lock_period, Duration::minutes(15));
        assert!(!is_locked(&LockoutState::default(), T0));
    }

    #[test]
    fn canonical_keys_fold_case() {
        assert_eq!(canonical_key("Alice"), "alice");
        assert_eq!(canonical_key("ALICE"), canonical_key("alice"));
        assert_eq!(canonical_key("Bob.Smith@Corp"), "bob.smith@corp");
    }

    #[test]
    fn reservations_let_at_most_threshold_through() {
        // 50 "parallel" attempts, serialised by the store's transaction: only the first
        // `threshold` get to verify.
        let settings = s(10);
        let mut st = LockoutState::default();
        let mut through = 0;
        let mut newly = 0;
        for _ in 0..50 {
            match try_begin_attempt(&st, T0, &settings) {
                Ok(next) => {
                    through += 1;
                    st = next; // the password check fails; nothing more to write
                    st = settle_failure(&st);
                }
                Err(l) => {
                    newly += usize::from(l.newly_locked);
                    assert_eq!(l.until, T0 + Duration::minutes(15));
                    st = l.state;
                }
            }
        }
        assert_eq!(through, 10);
        assert_eq!(newly, 1, "the lock is reported as new once");
        assert!(is_locked(&st, T0));
        assert!(is_locked(
            &st,
            T0 + Duration::minutes(15) - Duration::seconds(1)
        ));
        // The lock ends after the lock period; counting starts afresh.
        let later = T0 + Duration::minutes(15);
        assert!(!is_locked(&st, later));
        let next = try_begin_attempt(&st, later, &settings).unwrap();
        assert_eq!(next.failures, 1);
        assert_eq!(next.window_start, Some(later));
        assert_eq!(next.locked_until, None);
    }

    #[test]
    fn fifty_threads_against_a_serialised_store() {
        // The store's write transaction is modelled by a mutex around the state; argon2 by
        // a counter of verifications. However the threads interleave, at most `threshold`
        // verifications happen.
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::sync::{Arc, Mutex};
        let settings = LockoutSettings::default();
        let store = Arc::new(Mutex::new(LockoutState::default()));
        let verified = Arc::new(AtomicU32::new(0));
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let (store, verified) = (Arc::clone(&store), Arc::clone(&verified));
                std::thread::spawn(move || {
                    let reserved = {
                        let mut st = store.lock().unwrap();
                        match try_begin_attempt(&st, T0, &settings) {
                            Ok(next) => {
                                *st = next;
                                true
                            }
                            Err(l) => {
                                *st = l.state;
                                false
                            }
                        }
                    };
                    if reserved {
                        // The wrong password is checked outside the transaction.
                        verified.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(verified.load(Ordering::SeqCst), settings.threshold);
        assert!(is_locked(&store.lock().unwrap(), T0));
    }

    #[test]
    fn success_resets() {
        let settings = s(3);
        let a = try_begin_attempt(&LockoutState::default(), T0, &settings).unwrap();
        let b = try_begin_attempt(&a, T0, &settings).unwrap();
        assert_eq!(b.failures, 2);
        assert_eq!(record_success(&b), LockoutState::default());
    }

    #[test]
    fn window_expires() {
        let settings = s(3);
        let mut st = LockoutState::default();
        for _ in 0..2 {
            st = record_failure(&st, T0, &settings);
        }
        assert_eq!(st.failures, 2);
        assert!(!is_locked(&st, T0));
        // Outside the window the old failures no longer count.
        let later = T0 + Duration::minutes(15);
        let st2 = record_failure(&st, later, &settings);
        assert_eq!(st2.failures, 1);
        assert_eq!(st2.window_start, Some(later));
        // Inside the window the third failure locks.
        let st3 = record_failure(&st, T0 + Duration::minutes(14), &settings);
        assert!(is_locked(&st3, T0 + Duration::minutes(14)));
        assert_eq!(
            st3.locked_until,
            Some(T0 + Duration::minutes(14) + Duration::minutes(15))
        );
        // Failures while locked do not extend the lock.
        assert_eq!(
            record_failure(&st3, T0 + Duration::minutes(20), &settings),
            st3
        );
        // A clock that went backwards past the window start restarts the window.
        let back = record_failure(&st, T0 - Duration::minutes(1), &settings);
        assert_eq!(back.failures, 1);
    }

    #[test]
    fn locked_attempt_persists_nothing_new() {
        let settings = s(1);
        let a = try_begin_attempt(&LockoutState::default(), T0, &settings).unwrap();
        let l = try_begin_attempt(&a, T0, &settings).unwrap_err();
        assert!(l.newly_locked);
        let again = try_begin_attempt(&l.state, T0 + Duration::minutes(1), &settings).unwrap_err();
        assert!(!again.newly_locked);
        assert_eq!(again.state, l.state);
        assert_eq!(again.until, l.until);
    }
}
