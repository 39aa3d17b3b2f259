//! The AWS Query protocol body: `application/x-www-form-urlencoded`.
//!
//! `Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3A...`: pairs separated by `&`,
//! name and value by the first `=`, `+` is a space and `%XX` a byte; the decoded bytes
//! must be UTF-8. Empty pieces (`a=1&&b=2`) are skipped, a piece without `=` has an empty
//! value, and repeated names are all returned in order (the caller decides what a repeat
//! means). Malformed input is an error, never a guess: a `%` without two hex digits, an
//! empty name, invalid UTF-8, too many pairs or too many bytes.

/// Largest body accepted, in bytes. An IAM managed policy document may be 6144 characters
/// and an inline one 10240; percent-encoding can triple that, and a request carries a few
/// of them, so 1 MiB leaves ample room while bounding the work.
pub const MAX_FORM_BYTES: usize = 1024 * 1024;

/// Why a form body was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// The body is larger than [`MAX_FORM_BYTES`].
    #[error("request body is larger than {MAX_FORM_BYTES} bytes")]
    TooLarge,
    /// More pairs than the caller allows.
    #[error("request has more than {0} parameters")]
    TooManyPairs(usize),
    /// A `%` not followed by two hex digits, at this byte offset of the body.
    #[error("invalid percent-encoding at byte {0} of the request body")]
    BadEscape(usize),
    /// A pair whose name is empty, at this byte offset.
    #[error("empty parameter name at byte {0} of the request body")]
    EmptyName(usize),
    /// The decoded name or value of the pair at this byte offset is not UTF-8.
    #[error("parameter at byte {0} of the request body is not valid UTF-8")]
    NotUtf8(usize),
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `raw` (starting at byte `offset` of the body).
fn decode(raw: &[u8], offset: usize) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0usize;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_val);
                let lo = raw.get(i + 2).copied().and_then(hex_val);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(FormError::BadEscape(offset + i)),
                }
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8(offset))
}

/// Parses a form body into `(name, value)` pairs, at most `max_pairs` of them.
pub fn parse_form(body: &[u8], max_pairs: usize) -> Result<Vec<(String, String)>, FormError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(FormError::TooLarge);
    }
    let mut pairs = Vec::new();
    let mut offset = 0usize;
    for piece in body.split(|&b| b == b'&') {
        let start = offset;
        offset += piece.len() + 1;
        if piece.is_empty() {
            continue;
        }
        if pairs.len() >= max_pairs {
            return Err(FormError::TooManyPairs(max_pairs));
        }
        let (name, value, value_start) = match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (
                piece.get(..eq).unwrap_or_default(),
                piece.get(eq + 1..).unwrap_or_default(),
                start + eq + 1,
            ),
            None => (piece, &[][..], start + piece.len()),
        };
        if name.is_empty() {
            return Err(FormError::EmptyName(start));
        }
        pairs.push((decode(name, start)?, decode(value, value_start)?));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Vec<(String, String)> {
        parse_form(body.as_bytes(), 100).unwrap()
    }

    #[test]
    fn parses_query_protocol_bodies() {
        assert_eq!(
            ok("Action=GetCallerIdentity&Version=2011-06-15"),
            vec![
                ("Action".into(), "GetCallerIdentity".into()),
                ("Version".into(), "2011-06-15".into())
            ]
        );
        assert_eq!(
            ok("a=x+y%2B%20z&b&&c=&d=%E1%88%B4&e=a=b"),
            vec![
                ("a".into(), "x y+ z".into()),
                ("b".into(), String::new()),
                ("c".into(), String::new()),
                ("d".into(), "\u{1234}".into()),
                ("e".into(), "a=b".into()),
            ]
        );
        assert_eq!(ok(""), vec![]);
        assert_eq!(ok("a=1&a=2").len(), 2);
    }

    #[test]
    fn rejects_bad_escapes() {
        assert_eq!(parse_form(b"a=%zz", 10), Err(FormError::BadEscape(2)));
        assert_eq!(parse_form(b"a=%4", 10), Err(FormError::BadEscape(2)));
        assert_eq!(parse_form(b"ok=1&a%=1", 10), Err(FormError::BadEscape(6)));
        assert_eq!(parse_form(b"a=%", 10), Err(FormError::BadEscape(2)));
    }

    #[test]
    fn rejects_too_many_pairs_and_too_much() {
        assert_eq!(
            parse_form(b"a=1&b=2&c=3", 2),
            Err(FormError::TooManyPairs(2))
        );
        assert!(parse_form(b"a=1&b=2", 2).is_ok());
        assert!(parse_form(b"&&&&a=1", 1).is_ok());
        let big = vec![b'a'; MAX_FORM_BYTES + 1];
        assert_eq!(parse_form(&big, 10), Err(FormError::TooLarge));
    }

    #[test]
    fn rejects_non_utf8_and_empty_names() {
        assert_eq!(parse_form(b"a=%FF", 10), Err(FormError::NotUtf8(2)));
        assert_eq!(parse_form(b"a=\xff", 10), Err(FormError::NotUtf8(2)));
        assert_eq!(parse_form(b"%C3=1", 10), Err(FormError::NotUtf8(0)));
        assert_eq!(parse_form(b"a=1&=2", 10), Err(FormError::EmptyName(4)));
    }
}
