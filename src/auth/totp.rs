//! Virtual MFA (RFC 6238 TOTP) through totp-rs: SHA-1, 6 digits, 30-second steps, so every
//! authenticator app works. A code is accepted for the current step or one step either
//! side, and each step at most once per device: a code for a step at or before the last
//! accepted one is refused. Input is normalised first, so `"123456 "` cannot replay
//! `"123456"`.

use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Totp};

use crate::clock::Random;
use crate::error::{Error, Result};
use crate::model::{SecretBytes, ct_eq};

/// Seed length in bytes (AWS's virtual devices use 40).
pub const SEED_LEN: usize = 40;
/// Seconds per step.
pub const STEP: i64 = 30;
/// Digits per code.
pub const DIGITS: u8 = 6;

fn totp(seed: &[u8], digits: u8, account: &str) -> Result<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_step_duration(30)
        .with_skew(0)
        .with_secret(seed.to_vec())
        .with_issuer(Some("iamvault"))
        .with_account_name(account)
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the totp generator: {e}")))
}

/// A new random seed.
pub fn generate_seed(rng: &dyn Random) -> Result<SecretBytes> {
    let mut s = vec![0u8; SEED_LEN];
    rng.fill(&mut s)?;
    Ok(SecretBytes::new(s))
}

/// The seed in base32 (RFC 4648, no padding), as `Base32StringSeed` and otpauth URIs carry it.
pub fn seed_base32(seed: &SecretBytes) -> String {
    totp_rs::Secret::from(seed.expose().to_vec()).to_base32()
}

/// `otpauth://totp/iamvault:<label>?secret=…&issuer=iamvault`, for authenticator apps.
pub fn otpauth_uri(seed: &SecretBytes, label: &str) -> Result<String> {
    totp(seed.expose(), DIGITS, &label.replace(':', "_"))?
        .to_url()
        .map_err(|e| Error::Internal(format!("cannot build the otpauth uri: {e}")))
}

/// A PNG QR code of the otpauth URI.
pub fn qr_png(seed: &SecretBytes, label: &str) -> Result<Vec<u8>> {
    totp(seed.expose(), DIGITS, &label.replace(':', "_"))?
        .to_qr_png()
        .map_err(|e| Error::Internal(format!("cannot draw the qr code: {e}")))
}

/// A QR code of `text` drawn with Unicode half blocks, for a terminal.
pub fn qr_terminal(text: &str) -> Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| Error::Internal(format!("cannot draw the qr code: {e}")))?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .build())
}

/// The time step of `t`.
pub fn step_of(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(STEP)
}

/// The code for `step` (for tests and for the CLI's own checks).
pub fn code_at(seed: &[u8], step: i64, digits: u8) -> Result<String> {
    let t = u64::try_from(step.saturating_mul(STEP))
        .map_err(|_| Error::InvalidInput("time before 1970".into()))?;
    Ok(totp(seed, digits, "x")?.generate(t).to_string())
}

/// Trims ASCII whitespace and requires exactly six ASCII digits.
pub fn normalize(code: &str) -> Option<&str> {
    let c = code.trim_matches(|ch: char| ch.is_ascii_whitespace());
    (c.len() == usize::from(DIGITS) && c.bytes().all(|b| b.is_ascii_digit())).then_some(c)
}

fn invalid() -> Error {
    Error::InvalidAuthenticationCode("Authentication code for the MFA device is not valid.".into())
}

/// Checks one code at `now`. Returns the accepted step, which the caller must persist (and
/// must refuse if another request already persisted the same or a later step).
pub fn verify(seed: &[u8], code: &str, now: OffsetDateTime, last_step: Option<i64>) -> Result<i64> {
    let code = normalize(code).ok_or_else(invalid)?;
    let current = step_of(now);
    let mut accepted = None;
    // Every candidate is computed and compared, so the work does not depend on which
    // step matches.
    for step in [current - 1, current, current + 1] {
        let expected = code_at(seed, step, DIGITS)?;
        if ct_eq(expected.as_bytes(), code.as_bytes()) && accepted.is_none() {
            accepted = Some(step);
        }
    }
    match accepted {
        Some(s) if last_step.is_none_or(|l| s > l) => Ok(s),
        _ => Err(invalid()),
    }
}

/// Checks two consecutive codes (EnableMFADevice, ResyncMFADevice): `code2` must be the
/// step right after `code1`'s, within a window of a few steps around `now` so that a
/// device whose clock drifted can be resynchronised. Returns the later step.
pub fn verify_consecutive(
    seed: &[u8],
    code1: &str,
    code2: &str,
    now: OffsetDateTime,
    last_step: Option<i64>,
) -> Result<i64> {
    let c1 = normalize(code1).ok_or_else(invalid)?;
    let c2 = normalize(code2).ok_or_else(invalid)?;
    let current = step_of(now);
    let mut found = None;
    for step in (current - 10)..=(current + 1) {
        let a = code_at(seed, step, DIGITS)?;
        let b = code_at(seed, step + 1, DIGITS)?;
        if ct_eq(a.as_bytes(), c1.as_bytes())
            && ct_eq(b.as_bytes(), c2.as_bytes())
            && found.is_none()
        {
            found = Some(step + 1);
        }
    }
    match found {
        Some(s) if last_step.is_none_or(|l| s - 1 > l) => Ok(s),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(code_at(RFC_SEED, t / STEP, 8).unwrap(), expected, "t={t}");
            // Six digits are the low six of the eight.
            assert_eq!(
                code_at(RFC_SEED, t / STEP, 6).unwrap(),
                &expected[2..],
                "t={t}"
            );
        }
    }

    fn at(t: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(t).unwrap()
    }

    #[test]
    fn window_and_replay() {
        let now = at(1_234_567_890);
        let s = step_of(now);
        let code = code_at(RFC_SEED, s, 6).unwrap();
        let step = verify(RFC_SEED, &code, now, None).unwrap();
        assert_eq!(step, s);
        // The same step again is refused, with or without whitespace.
        for variant in [
            code.clone(),
            format!("{code} "),
            format!(" {code}"),
            format!("\t{code}\n"),
        ] {
            assert_eq!(
                verify(RFC_SEED, &variant, now, Some(step))
                    .unwrap_err()
                    .code(),
                "InvalidAuthenticationCode"
            );
        }
        // One step either side is accepted; two is not.
        let prev = code_at(RFC_SEED, s - 1, 6).unwrap();
        assert_eq!(verify(RFC_SEED, &prev, now, None).unwrap(), s - 1);
        let next = code_at(RFC_SEED, s + 1, 6).unwrap();
        assert_eq!(verify(RFC_SEED, &next, now, Some(s)).unwrap(), s + 1);
        let far = code_at(RFC_SEED, s + 2, 6).unwrap();
        assert!(verify(RFC_SEED, &far, now, None).is_err());
        // An older step after a newer one is a replay.
        assert!(verify(RFC_SEED, &prev, now, Some(s)).is_err());
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize(" 123456\n"), Some("123456"));
        for bad in ["12345", "1234567", "12 3456", "１２３４５６", "abcdef", ""] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn consecutive_codes() {
        let now = at(1_700_000_000);
        let s = step_of(now);
        let c1 = code_at(RFC_SEED, s - 1, 6).unwrap();
        let c2 = code_at(RFC_SEED, s, 6).unwrap();
        assert_eq!(
            verify_consecutive(RFC_SEED, &c1, &c2, now, None).unwrap(),
            s
        );
        assert!(verify_consecutive(RFC_SEED, &c2, &c1, now, None).is_err());
        assert!(verify_consecutive(RFC_SEED, &c1, &c1, now, None).is_err());
        assert!(verify_consecutive(RFC_SEED, &c1, &c2, now, Some(s)).is_err());
    }

    #[test]
    fn provisioning() {
        let seed = SecretBytes::new(vec![7u8; SEED_LEN]);
        let b32 = seed_base32(&seed);
        assert_eq!(b32.len(), 64);
        let uri = otpauth_uri(&seed, "alice@123456789012").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/iamvault:alice%40123456789012?secret="),
            "{uri}"
        );
        assert!(uri.contains(&b32));
        let png = qr_png(&seed, "alice@123456789012").unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(qr_terminal(&uri).unwrap().lines().count() > 10);
    }
}
