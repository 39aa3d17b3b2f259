//! Typed scalar parsing shared by condition values and request-context values:
//! numbers, ISO 8601 / epoch dates, IP networks, booleans and base64.
//!
//! None of these allocate, so they may run on the evaluation path.

use std::net::IpAddr;

use ipnet::IpNet;
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// Parses a decimal number: optional sign, digits, optional fraction, optional exponent.
/// Rejects `inf`, `NaN` and other spellings `f64::from_str` would accept.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while matches!(b.get(i), Some(c) if c.is_ascii_digit()) {
        i += 1;
    }
    let mut digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while matches!(b.get(i), Some(c) if c.is_ascii_digit()) {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while matches!(b.get(i), Some(c) if c.is_ascii_digit()) {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

fn digits_at(b: &[u8], start: usize, len: usize) -> Option<u32> {
    let slice = b.get(start..start + len)?;
    let mut v: u32 = 0;
    for c in slice {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses a date as nanoseconds since the Unix epoch.
///
/// Accepts the W3C profile of ISO 8601 (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm[:ss[.fff]]TZD` where TZD is `Z` or `+hh:mm`/`-hh:mm`; a missing TZD
/// means UTC) and epoch seconds (an integer, optionally negative, not four digits long,
/// since four digits are read as a year).
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let all_digits = !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    let neg_digits =
        b.len() > 1 && b.first() == Some(&b'-') && b.iter().skip(1).all(u8::is_ascii_digit);
    if (all_digits && b.len() != 4) || neg_digits {
        if b.len() > 19 {
            return None;
        }
        let secs: i64 = s.parse().ok()?;
        // Keep within what `time` can represent so comparisons stay meaningful.
        if !(-377_705_116_800..=253_402_300_799).contains(&secs) {
            return None;
        }
        return Some(i128::from(secs) * 1_000_000_000);
    }
    let year = digits_at(b, 0, 4)?;
    let (month, day, rest) = match b.len() {
        4 => (1, 1, 4),
        _ => {
            if b.get(4) != Some(&b'-') {
                return None;
            }
            let month = digits_at(b, 5, 2)?;
            if b.len() == 7 {
                (month, 1, 7)
            } else {
                if b.get(7) != Some(&b'-') {
                    return None;
                }
                (month, digits_at(b, 8, 2)?, 10)
            }
        }
    };
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let year = i32::try_from(year).ok()?;
    let date = Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    if rest == b.len() {
        let dt = PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc();
        return Some(dt.unix_timestamp_nanos());
    }
    if !matches!(b.get(rest), Some(b'T' | b't')) {
        return None;
    }
    let hour = digits_at(b, rest + 1, 2)?;
    if b.get(rest + 3) != Some(&b':') {
        return None;
    }
    let minute = digits_at(b, rest + 4, 2)?;
    let mut i = rest + 6;
    let mut second = 0;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b':') {
        second = digits_at(b, i + 1, 2)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            let mut scale: u32 = 100_000_000;
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                nanos += u32::from(c - b'0') * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    let offset = match b.get(i) {
        None => UtcOffset::UTC,
        Some(b'Z' | b'z') => {
            i += 1;
            UtcOffset::UTC
        }
        Some(sign @ (b'+' | b'-')) => {
            let oh = digits_at(b, i + 1, 2)?;
            if b.get(i + 3) != Some(&b':') {
                return None;
            }
            let om = digits_at(b, i + 4, 2)?;
            i += 6;
            let (oh, om) = (i8::try_from(oh).ok()?, i8::try_from(om).ok()?);
            if *sign == b'-' {
                UtcOffset::from_hms(-oh, -om, 0).ok()?
            } else {
                UtcOffset::from_hms(oh, om, 0).ok()?
            }
        }
        Some(_) => return None,
    };
    if i != b.len() {
        return None;
    }
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_offset(offset)
            .unix_timestamp_nanos(),
    )
}

/// Parses an IP address or CIDR block; a bare address is a /32 or /128 network.
pub(crate) fn parse_ip_net(s: &str) -> Option<IpNet> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net);
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Parses `true` / `false`, ignoring ASCII case.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_val(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes standard base64 (RFC 4648 section 4); padding is optional.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    if s.len() - trimmed.len() > 2 {
        return None;
    }
    let bytes = trimmed.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    if s.len() != trimmed.len() && !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc: u32 = 0;
        for (n, c) in chunk.iter().enumerate() {
            acc |= b64_val(*c)? << (18 - 6 * n);
        }
        let [_, b0, b1, b2] = acc.to_be_bytes();
        out.push(b0);
        if chunk.len() > 2 {
            out.push(b1);
        }
        if chunk.len() > 3 {
            out.push(b2);
        }
    }
    Some(out)
}

/// Encodes bytes as padded standard base64.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let acc = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for n in 0..4 {
            if n <= chunk.len() {
                let idx = ((acc >> (18 - 6 * n)) & 63) as usize;
                out.push(char::from(B64.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number(".5"), Some(0.5));
        for bad in ["", "inf", "NaN", "1e", "1.2.3", "abc", "-", "1e999"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates() {
        let z = parse_date("2020-01-02T03:04:05Z").unwrap();
        assert_eq!(z, 1_577_934_245 * 1_000_000_000);
        assert_eq!(parse_date("2020-01-02T04:04:05+01:00"), Some(z));
        assert_eq!(parse_date("2020-01-02T03:04:05"), Some(z));
        assert_eq!(parse_date("1577934245"), Some(z));
        assert_eq!(parse_date("2020-01-02T03:04:05.5Z"), Some(z + 500_000_000));
        assert_eq!(parse_date("2020"), parse_date("2020-01-01T00:00Z"));
        assert_eq!(parse_date("2020-03"), parse_date("2020-03-01"));
        for bad in [
            "",
            "2020-13-01",
            "2020-02-30",
            "20-01-01",
            "2020-01-01T",
            "x",
            "2020-01-01T10:00+1",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn ips() {
        assert_eq!(parse_ip_net("10.0.0.1").unwrap().prefix_len(), 32);
        assert_eq!(parse_ip_net("10.0.0.0/8").unwrap().prefix_len(), 8);
        assert_eq!(parse_ip_net("2001:db8::/32").unwrap().prefix_len(), 32);
        assert!(parse_ip_net("10.0.0.0/33").is_none());
        assert!(parse_ip_net("nope").is_none());
    }

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            let enc = base64_encode(data);
            assert_eq!(base64_decode(&enc).unwrap(), data);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_decode("Zm9vYg").unwrap(), b"foob");
        assert!(base64_decode("Zm9v!").is_none());
        assert!(base64_decode("Z").is_none());
    }
}
