//! The one error type of the SigV4 module.
//!
//! Every variant maps to exactly one AWS error code through [`SigV4Error::code`]. The HTTP
//! status for each code is chosen in the crate's `error.rs` (one mapping for the whole
//! server); for reference, AWS answers 403 for `MissingAuthenticationToken`,
//! `InvalidClientTokenId`, `SignatureDoesNotMatch` and `AccessDenied`, and 400 for
//! `IncompleteSignature` and `MalformedQueryString` (AWS itself uses 404 for the latter).
//!
//! The `Display` text is the message sent on the wire. Where AWS has a well-known wording
//! (clock skew, signature mismatch, missing token) it is copied, because SDKs match on it:
//! the clock-skew correction of several SDKs looks for `Signature expired` and
//! `Signature not yet current`. Messages never carry the secret access key or a signing
//! key; a `SignatureDoesNotMatch` message may carry the canonical request and string to
//! sign, which hold neither, exactly as AWS does.

/// A request that failed SigV4 parsing or verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// No `Authorization` header and no `X-Amz-Algorithm`/`X-Amz-Credential`/
    /// `X-Amz-Signature` query parameters.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,

    /// The authentication information is present but malformed or incomplete
    /// (bad `Authorization` syntax, missing date, duplicate authentication, ...).
    #[error("{0}")]
    IncompleteSignature(String),

    /// The access key id (or session token) is unknown. This module never looks keys up;
    /// the caller returns this variant when its lookup fails.
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,

    /// The signature, its scope or its time window is wrong. The text is AWS's:
    /// `Signature expired: ...`, `Signature not yet current: ...`, `Date in Credential
    /// scope does not match ...`, or the calculated-signature message.
    #[error("{0}")]
    SignatureDoesNotMatch(String),

    /// A presigned request whose `X-Amz-Expires` window has passed.
    #[error("{0}")]
    AccessDenied(String),

    /// The request line, query string or headers could not be parsed or exceed a limit.
    #[error("{0}")]
    MalformedQueryString(String),
}

impl SigV4Error {
    /// The AWS error code for the `<Code>` element of the error response.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            Self::AccessDenied(_) => "AccessDenied",
            Self::MalformedQueryString(_) => "MalformedQueryString",
        }
    }

    pub(crate) fn incomplete(msg: impl Into<String>) -> Self {
        Self::IncompleteSignature(msg.into())
    }

    pub(crate) fn mismatch(msg: impl Into<String>) -> Self {
        Self::SignatureDoesNotMatch(msg.into())
    }

    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        Self::MalformedQueryString(msg.into())
    }
}

/// Shortens user input for an error message: at most `max` characters, control characters
/// replaced, so a message never grows with an attacker's input.
pub(crate) fn excerpt(input: &str, max: usize) -> String {
    let mut out: String = input
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if input.chars().nth(max).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_aws_codes() {
        assert_eq!(
            SigV4Error::MissingAuthenticationToken.code(),
            "MissingAuthenticationToken"
        );
        assert_eq!(SigV4Error::incomplete("x").code(), "IncompleteSignature");
        assert_eq!(
            SigV4Error::InvalidClientTokenId.code(),
            "InvalidClientTokenId"
        );
        assert_eq!(SigV4Error::mismatch("x").code(), "SignatureDoesNotMatch");
        assert_eq!(SigV4Error::AccessDenied("x".into()).code(), "AccessDenied");
        assert_eq!(SigV4Error::malformed("x").code(), "MalformedQueryString");
    }

    #[test]
    fn excerpt_is_bounded() {
        assert_eq!(excerpt("abc", 5), "abc");
        assert_eq!(excerpt("abcdef", 3), "abc...");
        assert_eq!(excerpt("a\nb", 5), "a?b");
    }
}
