//! Virtual MFA (RFC 6238 TOTP) through totp-rs: HMAC-SHA-1, 6 digits, 30-second steps,
//! which is what AWS's virtual devices use and what every authenticator app assumes when
//! the otpauth URI carries no `algorithm`, `digits` or `period`.
//!
//! Verification rules:
//! - Input is normalised first: ASCII whitespace is trimmed, and anything that is not then
//!   exactly six ASCII digits is refused. So `"123456 "` and `" 123456"` are the same code
//!   as `"123456"` and cannot be replayed as a "different" one.
//! - A code is accepted for the current step or one step either side.
//! - Each step is accepted at most once per device: a code for a step at or before the last
//!   accepted one is refused. [`verify`] returns the accepted step; the caller must persist
//!   it atomically ("set last_step = s where last_step < s"), so that two requests racing
//!   with the same code cannot both win.
//! - Every candidate step is computed and compared in constant time, whichever matches.
//!
//! Time comes in as an `OffsetDateTime` and randomness as a `&dyn Random`; nothing here
//! reads the clock.

use std::fmt;

use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Totp};

use crate::clock::Random;
use crate::error::{Error, Result};
use crate::model::{SecretBytes, ct_eq};

/// Seed length in bytes (AWS's virtual devices use 40: 64 base32 characters).
pub const SEED_LEN: usize = 40;
/// Seconds per step.
pub const STEP: i64 = 30;
/// Digits per code.
pub const DIGITS: u8 = 6;
/// Steps accepted either side of the current one by [`verify`].
pub const SKEW: i64 = 1;
/// How far (in steps, either side of now) [`verify_two_consecutive`] looks for the pair, so
/// that a device whose clock drifted can be enabled or resynchronised (10 steps = 5 min).
pub const RESYNC_WINDOW: i64 = 10;
/// The issuer in provisioning URIs.
pub const ISSUER: &str = "iamvault";

/// Why a code was refused. Callers outside the vault must see one error for all of them
/// (`From<TotpError> for Error` gives `InvalidAuthenticationCode` with one message); the
/// variants are for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TotpError {
    /// Not exactly six ASCII digits after trimming ASCII whitespace.
    Malformed,
    /// No step in the window has this code.
    Mismatch,
    /// The code matches a step at or before the last accepted one.
    Replayed,
    /// The generator could not be built (a seed shorter than 128 bits) or the time is out
    /// of range.
    Internal(String),
}

impl fmt::Display for TotpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TotpError::Malformed => f.write_str("the code is not six digits"),
            TotpError::Mismatch => f.write_str("the code does not match"),
            TotpError::Replayed => f.write_str("the code was already used"),
            TotpError::Internal(m) => write!(f, "totp failure: {m}"),
        }
    }
}

impl std::error::Error for TotpError {}

impl From<TotpError> for Error {
    fn from(e: TotpError) -> Self {
        match e {
            TotpError::Internal(m) => Error::Internal(format!("totp failure: {m}")),
            TotpError::Malformed | TotpError::Mismatch | TotpError::Replayed => {
                Error::InvalidAuthenticationCode(
                    "Authentication code for the MFA device is not valid.".into(),
                )
            }
        }
    }
}

fn generator(seed: &[u8], digits: u8, account: &str) -> Result<Totp, TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_step_duration(30)
        .with_skew(0)
        .with_secret(seed.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| TotpError::Internal(format!("cannot build the generator: {e}")))
}

/// A new random seed of [`SEED_LEN`] bytes.
pub fn generate_seed(rng: &dyn Random) -> Result<SecretBytes> {
    let mut s = vec![0u8; SEED_LEN];
    rng.fill(&mut s)?;
    Ok(SecretBytes::new(s))
}

/// The seed in base32 (RFC 4648, no padding): `Base32StringSeed`, and the `secret` of the
/// otpauth URI. It is the secret itself: show it once, never log it.
pub fn seed_base32(seed: &SecretBytes) -> String {
    totp_rs::Secret::from(seed.expose().to_vec()).to_base32()
}

/// The account label of a provisioning URI: `<user>@<account>` (AWS uses the device name
/// or user name, then `@`, then the account). A `:` would end the issuer prefix in the
/// label, so it becomes `_` (AWS names never contain one).
pub fn label(user: &str, account: &str) -> String {
    format!("{user}@{account}").replace(':', "_")
}

/// `otpauth://totp/iamvault:<label>?secret=…&issuer=iamvault` for authenticator apps;
/// build the label with [`label`]. The label is percent-encoded (`@` is `%40`).
pub fn otpauth_uri(seed: &SecretBytes, label: &str) -> Result<String> {
    generator(seed.expose(), DIGITS, &label.replace(':', "_"))?
        .to_url()
        .map_err(|e| Error::Internal(format!("cannot build the otpauth uri: {e}")))
}

/// A PNG QR code of the otpauth URI (`QRCodePNG`; AWS returns it base64-encoded).
pub fn qr_png(seed: &SecretBytes, label: &str) -> Result<Vec<u8>> {
    generator(seed.expose(), DIGITS, &label.replace(':', "_"))?
        .to_qr_png()
        .map_err(|e| Error::Internal(format!("cannot draw the qr code: {e}")))
}

/// [`qr_png`], base64-encoded (standard alphabet, padded) as the Query API returns blobs.
pub fn qr_png_base64(seed: &SecretBytes, label: &str) -> Result<String> {
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::STANDARD.encode(qr_png(seed, label)?))
}

/// A QR code of `text` drawn with Unicode half blocks (two modules per character row),
/// light on dark so it scans from a dark terminal.
pub fn qr_terminal(text: &str) -> Result<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| Error::Internal(format!("cannot draw the qr code: {e}")))?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// The time step of `t` (Unix seconds / 30, rounded down).
pub fn step_of(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(STEP)
}

/// The code for `step` with `digits` digits (6 for devices; 8 for the RFC 6238 vectors).
pub fn code_at(seed: &[u8], step: i64, digits: u8) -> Result<String, TotpError> {
    let t = step
        .checked_mul(STEP)
        .and_then(|t| u64::try_from(t).ok())
        .ok_or_else(|| TotpError::Internal("time out of range".into()))?;
    Ok(generator(seed, digits, "")?.generate(t).to_string())
}

/// Trims ASCII whitespace and requires exactly six ASCII digits.
pub fn normalize(code: &str) -> Option<&str> {
    let c = code.trim_matches(|ch: char| ch.is_ascii_whitespace());
    (c.len() == usize::from(DIGITS) && c.bytes().all(|b| b.is_ascii_digit())).then_some(c)
}

/// The steps in `lo..=hi` whose code equals `code`; every step is computed and compared in
/// constant time.
fn matching_steps(seed: &[u8], code: &str, lo: i64, hi: i64) -> Result<Vec<i64>, TotpError> {
    let mut out = Vec::new();
    // Steps before 1970 have no code; they are skipped, not errors.
    for step in lo.max(0)..=hi {
        let expected = code_at(seed, step, DIGITS)?;
        if ct_eq(expected.as_bytes(), code.as_bytes()) {
            out.push(step);
        }
    }
    Ok(out)
}

/// Checks one code at `now` against the current step ± [`SKEW`]. `last_accepted_step` is
/// the step the device last accepted (none for a fresh device); a code for that step or an
/// earlier one is a replay. Returns the accepted step, which the caller must persist
/// atomically (refusing it if another request already persisted the same or a later one).
pub fn verify(
    seed: &[u8],
    code: &str,
    now: OffsetDateTime,
    last_accepted_step: Option<i64>,
) -> Result<i64, TotpError> {
    let code = normalize(code).ok_or(TotpError::Malformed)?;
    let current = step_of(now);
    let matches = matching_steps(seed, code, current - SKEW, current + SKEW)?;
    let fresh = |s: &i64| last_accepted_step.is_none_or(|l| *s > l);
    match matches.iter().copied().filter(fresh).max() {
        Some(s) => Ok(s),
        None if matches.is_empty() => Err(TotpError::Mismatch),
        None => Err(TotpError::Replayed),
    }
}

/// Checks two consecutive codes (EnableMFADevice and ResyncMFADevice take "two consecutive
/// codes" from the device): `code2` must be the code of the step right after `code1`'s,
/// with both steps within [`RESYNC_WINDOW`] steps of `now` and after
/// `last_accepted_step`. Returns the later step, to persist as the last accepted one.
pub fn verify_two_consecutive(
    seed: &[u8],
    code1: &str,
    code2: &str,
    now: OffsetDateTime,
    last_accepted_step: Option<i64>,
) -> Result<i64, TotpError> {
    let c1 = normalize(code1).ok_or(TotpError::Malformed)?;
    let c2 = normalize(code2).ok_or(TotpError::Malformed)?;
    let current = step_of(now);
    let (lo, hi) = (current - RESYNC_WINDOW, current + RESYNC_WINDOW);
    let first = matching_steps(seed, c1, lo, hi - 1)?;
    let second = matching_steps(seed, c2, lo + 1, hi)?;
    let pairs: Vec<i64> = first
        .iter()
        .filter(|s| second.contains(&(**s + 1)))
        .map(|s| s + 1)
        .collect();
    let fresh = |later: &i64| last_accepted_step.is_none_or(|l| *later - 1 > l);
    match pairs.iter().copied().filter(fresh).max() {
        Some(s) => Ok(s),
        None if pairs.is_empty() => Err(TotpError::Mismatch),
        None => Err(TotpError::Replayed),
    }
}

/// The same as [`verify_two_consecutive`], with the crate error (the name the service
/// uses).
pub fn verify_consecutive(
    seed: &[u8],
    code1: &str,
    code2: &str,
    now: OffsetDateTime,
    last_step: Option<i64>,
) -> Result<i64> {
    Ok(verify_two_consecutive(seed, code1, code2, now, last_step)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestRandom;

    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 Appendix B, SHA-1 column (8 digits).
        for (t, expected) in [
            (59_i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = step_of(at(t));
            assert_eq!(code_at(RFC_SEED, step, 8).unwrap(), expected, "t={t}");
            // Six digits are the low six of the eight.
            assert_eq!(code_at(RFC_SEED, step, 6).unwrap(), &expected[2..], "t={t}");
            // And verify accepts the six-digit code at that time.
            assert_eq!(verify(RFC_SEED, &expected[2..], at(t), None).unwrap(), step);
        }
    }

    fn at(t: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(t).unwrap()
    }

    #[test]
    fn window_is_one_step_either_side() {
        let now = at(1_234_567_890);
        let s = step_of(now);
        for d in [-1, 0, 1] {
            let c = code_at(RFC_SEED, s + d, 6).unwrap();
            assert_eq!(verify(RFC_SEED, &c, now, None).unwrap(), s + d);
        }
        for d in [-3, -2, 2, 3] {
            let c = code_at(RFC_SEED, s + d, 6).unwrap();
            assert_eq!(
                verify(RFC_SEED, &c, now, None),
                Err(TotpError::Mismatch),
                "{d}"
            );
        }
    }

    #[test]
    fn step_boundaries() {
        assert_eq!(step_of(at(0)), 0);
        assert_eq!(step_of(at(29)), 0);
        assert_eq!(step_of(at(30)), 1);
        assert_eq!(step_of(at(59)), 1);
        assert_eq!(step_of(at(-1)), -1, "rounds down before 1970");
        // At t=89 (step 2) the code of step 1 (t=59) is still accepted, at t=90 (step 3)
        // it is not.
        let c = code_at(RFC_SEED, 1, 6).unwrap();
        assert_eq!(verify(RFC_SEED, &c, at(89), None), Ok(1));
        assert_eq!(verify(RFC_SEED, &c, at(90), None), Err(TotpError::Mismatch));
        // Right after 1970 the window just has no step -1.
        let c0 = code_at(RFC_SEED, 0, 6).unwrap();
        assert_eq!(verify(RFC_SEED, &c0, at(10), None), Ok(0));
        // Before 1970 there is no code.
        assert!(matches!(
            code_at(RFC_SEED, -1, 6),
            Err(TotpError::Internal(_))
        ));
    }

    #[test]
    fn replay_is_refused_also_with_whitespace_variants() {
        let now = at(1_234_567_890);
        let s = step_of(now);
        let code = code_at(RFC_SEED, s, 6).unwrap();
        let step = verify(RFC_SEED, &code, now, None).unwrap();
        assert_eq!(step, s);
        for variant in [
            code.clone(),
            format!("{code} "),
            format!(" {code}"),
            format!("\t{code}\r\n"),
        ] {
            assert_eq!(
                verify(RFC_SEED, &variant, now, Some(step)),
                Err(TotpError::Replayed),
                "{variant:?}"
            );
            // Outside, every refusal is the same error.
            assert_eq!(
                Error::from(TotpError::Replayed).code(),
                "InvalidAuthenticationCode"
            );
        }
        // An older step after a newer one is a replay; the next step is fine.
        let prev = code_at(RFC_SEED, s - 1, 6).unwrap();
        assert_eq!(
            verify(RFC_SEED, &prev, now, Some(s)),
            Err(TotpError::Replayed)
        );
        let next = code_at(RFC_SEED, s + 1, 6).unwrap();
        assert_eq!(verify(RFC_SEED, &next, now, Some(s)).unwrap(), s + 1);
    }

    #[test]
    fn malformed_codes() {
        let now = at(1_234_567_890);
        assert_eq!(normalize(" 123456\n"), Some("123456"));
        assert_eq!(normalize("123456 "), normalize(" 123456"));
        for bad in [
            "12345",
            "1234567",
            "12 3456",
            "１２３４５６",
            "abcdef",
            "",
            "+12345",
            "-12345",
            "12345\u{a0}",
            "\u{2003}123456",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
            assert_eq!(verify(RFC_SEED, bad, now, None), Err(TotpError::Malformed));
        }
    }

    #[test]
    fn consecutive_codes() {
        let now = at(1_700_000_000);
        let s = step_of(now);
        let c = |d: i64| code_at(RFC_SEED, s + d, 6).unwrap();
        assert_eq!(
            verify_two_consecutive(RFC_SEED, &c(-1), &c(0), now, None),
            Ok(s)
        );
        assert_eq!(
            verify_two_consecutive(RFC_SEED, &c(0), &c(1), now, None),
            Ok(s + 1)
        );
        // A drifted device within the window can be resynchronised.
        assert_eq!(
            verify_two_consecutive(RFC_SEED, &c(-9), &c(-8), now, None),
            Ok(s - 8)
        );
        assert_eq!(
            verify_two_consecutive(RFC_SEED, &c(9), &c(10), now, None),
            Ok(s + 10)
        );
        assert_eq!(
            verify_two_consecutive(RFC_SEED, &c(10), &c(11), now, None),
            Err(TotpError::Mismatch)
        );
        assert_eq!(
            verify_two_consecutive(RFC_SEED, &c(0), &c(-1), now, None),
            Err(TotpError::Mismatch),
            "wrong order"
        );
        assert_eq!(
            verify_two_consecutive(RFC_SEED, &c(-1), &c(1), now, None),
            Err(TotpError::Mismatch),
            "not consecutive"
        );
        assert_eq!(
            verify_two_consecutive(RFC_SEED, &c(-1), &c(0), now, Some(s - 1)),
            Err(TotpError::Replayed)
        );
        assert_eq!(
            verify_two_consecutive(RFC_SEED, &c(-1), &c(0), now, Some(s - 2)),
            Ok(s)
        );
        assert_eq!(
            verify_two_consecutive(
                RFC_SEED,
                &format!(" {}", c(0)),
                &format!("{}\n", c(1)),
                now,
                None
            ),
            Ok(s + 1)
        );
        assert_eq!(
            verify_two_consecutive(RFC_SEED, "12345", &c(1), now, None),
            Err(TotpError::Malformed)
        );
        // The service's name, with the crate error.
        assert_eq!(
            verify_consecutive(RFC_SEED, &c(0), &c(-1), now, None)
                .unwrap_err()
                .code(),
            "InvalidAuthenticationCode"
        );
    }

    #[test]
    fn short_seed_is_an_internal_error() {
        let now = at(1_700_000_000);
        assert!(matches!(
            verify(b"short", "123456", now, None),
            Err(TotpError::Internal(_))
        ));
        assert_eq!(
            Error::from(TotpError::Internal("x".into())).code(),
            "ServiceFailure"
        );
    }

    #[test]
    fn provisioning() {
        let seed = generate_seed(&TestRandom::new(9)).unwrap();
        assert_eq!(seed.expose().len(), SEED_LEN);
        let b32 = seed_base32(&seed);
        assert_eq!(b32.len(), 64);
        assert!(
            b32.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
        let l = label("alice", "123456789012");
        assert_eq!(l, "alice@123456789012");
        let uri = otpauth_uri(&seed, &l).unwrap();
        assert_eq!(
            uri,
            format!("otpauth://totp/iamvault:alice%40123456789012?secret={b32}&issuer=iamvault")
        );
        let png = qr_png(&seed, &l).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        use base64::Engine as _;
        let b64 = qr_png_base64(&seed, &l).unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
            png
        );
        let term = qr_terminal(&uri).unwrap();
        assert!(term.lines().count() > 10);
        assert!(term.contains('▀') || term.contains('▄') || term.contains('█'));
        // A colon in a label cannot break the issuer prefix.
        assert!(
            otpauth_uri(&seed, "a:b")
                .unwrap()
                .starts_with("otpauth://totp/iamvault:a_b?")
        );
    }
}
