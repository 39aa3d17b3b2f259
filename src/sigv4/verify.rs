//! Server-side verification of a parsed request.

use time::{Duration, OffsetDateTime};

use super::auth::{AuthLocation, ParsedAuth, format_amz_date};
use super::canonical::{CanonicalOptions, CanonicalRequest, canonical_query, redact_token};
use super::error::SigV4Error;
use super::key::SigningKey;
use super::request::{HttpRequest, PayloadHash, UNSIGNED_PAYLOAD};

/// How far the request time may be from the server's time (AWS IAM and STS: 15 minutes).
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);

/// The start of AWS's signature-mismatch message.
pub const MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the \
signature you provided. Check your AWS Secret Access Key and signing method. Consult the \
service documentation for details.";

/// Verifies `req` against its parsed authentication with the derived signing key of the
/// claimed access key, at time `now`. Canonical options follow the scope's service
/// ([`CanonicalOptions::for_service`]).
///
/// Rules, in order:
/// 1. `host` is a signed header; in the header form the date header used (`x-amz-date`,
///    else `date`) is signed too.
/// 2. The credential scope date is the date of the request time.
/// 3. Header form: the request time is within 15 minutes of `now` either way. Query form:
///    not more than 15 minutes in the future, and `now` is not past the request time plus
///    `X-Amz-Expires`.
/// 4. A client-sent `x-amz-content-sha256` equals the payload hash (unless the caller
///    chose [`PayloadHash::Unsigned`]).
/// 5. The signature matches, compared in constant time.
///
/// An `x-amz-security-token` header that is not signed is accepted (some SDKs add it after
/// signing); the token itself is checked by the caller.
pub fn verify(
    req: &HttpRequest<'_>,
    auth: &ParsedAuth,
    key: &SigningKey,
    now: OffsetDateTime,
) -> Result<(), SigV4Error> {
    verify_with_options(
        req,
        auth,
        key,
        now,
        CanonicalOptions::for_service(auth.service()),
    )
}

/// [`verify`] with a secret access key instead of a derived key.
pub fn verify_with_secret(
    req: &HttpRequest<'_>,
    auth: &ParsedAuth,
    secret: &[u8],
    now: OffsetDateTime,
) -> Result<(), SigV4Error> {
    let key = SigningKey::for_scope(secret, auth.scope());
    verify(req, auth, &key, now)
}

/// [`verify`] with explicit canonicalization options.
pub fn verify_with_options(
    req: &HttpRequest<'_>,
    auth: &ParsedAuth,
    key: &SigningKey,
    now: OffsetDateTime,
    opts: CanonicalOptions,
) -> Result<(), SigV4Error> {
    check_signed_headers(auth)?;
    // One `host` only: a second one could route the request elsewhere than what was
    // signed.
    req.single_header("host")?;
    check_scope_date(auth)?;
    check_time(auth, now)?;
    let payload_hash = payload_hash(req)?;
    let query = canonical_query(req.query(), auth.location() == AuthLocation::Query)?;
    let creq = CanonicalRequest::build(req, auth.signed_headers(), &query, &payload_hash, opts)?;
    let sts = creq.string_to_sign(auth.amz_date(), auth.scope());
    if key.verify(&sts, auth.signature()) {
        Ok(())
    } else {
        Err(SigV4Error::mismatch(format!(
            "{MISMATCH_MESSAGE}\n\nThe Canonical String for this request should have been\n'{}'\n\n\
             The String-to-Sign should have been\n'{sts}'\n",
            redact_token(creq.as_str())
        )))
    }
}

fn check_signed_headers(auth: &ParsedAuth) -> Result<(), SigV4Error> {
    let signed = |name: &str| auth.signed_headers().iter().any(|h| h == name);
    if !signed("host") {
        return Err(SigV4Error::incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    if auth.location() == AuthLocation::Header && !signed(auth.date_header()) {
        let name = if auth.date_header() == "date" {
            "Date"
        } else {
            "X-Amz-Date"
        };
        return Err(SigV4Error::incomplete(format!(
            "'{name}' must be a 'SignedHeader' in the AWS Authorization."
        )));
    }
    Ok(())
}

fn check_scope_date(auth: &ParsedAuth) -> Result<(), SigV4Error> {
    let day = auth.amz_date().get(..8).unwrap_or_default();
    if auth.date() != day {
        return Err(SigV4Error::mismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{}' != '{day}', from '{}'.",
            auth.date(),
            auth.amz_date()
        )));
    }
    Ok(())
}

/// `now` cut to whole seconds, for messages in the AWS date form.
fn fmt(t: OffsetDateTime) -> String {
    format_amz_date(t)
}

fn check_time(auth: &ParsedAuth, now: OffsetDateTime) -> Result<(), SigV4Error> {
    let t = auth.request_time();
    // Checked arithmetic: the request time is attacker input and may be near the end of
    // the representable range.
    let latest = now.checked_add(MAX_CLOCK_SKEW).unwrap_or(now);
    if t > latest {
        return Err(SigV4Error::mismatch(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            auth.amz_date(),
            fmt(latest),
            fmt(now)
        )));
    }
    match auth.expires_in() {
        None => {
            let earliest = now.checked_sub(MAX_CLOCK_SKEW).unwrap_or(now);
            if t < earliest {
                return Err(SigV4Error::mismatch(format!(
                    "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                    auth.amz_date(),
                    fmt(earliest),
                    fmt(now)
                )));
            }
        }
        Some(secs) => {
            let expiry = t
                .checked_add(Duration::seconds(i64::from(secs)))
                .unwrap_or(t);
            if now > expiry {
                return Err(SigV4Error::AccessDenied(format!(
                    "Request has expired: X-Amz-Date {} plus X-Amz-Expires {secs} is {}, \
                     and the server time is {}",
                    auth.amz_date(),
                    fmt(expiry),
                    fmt(now)
                )));
            }
        }
    }
    Ok(())
}

fn payload_hash(req: &HttpRequest<'_>) -> Result<String, SigV4Error> {
    let claimed = req
        .single_header("x-amz-content-sha256")?
        .map(|v| v.trim_matches([' ', '\t']));
    match req.payload() {
        PayloadHash::Unsigned => Ok(claimed.unwrap_or(UNSIGNED_PAYLOAD).to_owned()),
        p => {
            let h = p.to_hex()?;
            match claimed {
                Some(c) if c != h => Err(SigV4Error::mismatch(
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                )),
                _ => Ok(h),
            }
        }
    }
}
