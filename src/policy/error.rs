//! Errors raised while parsing and validating a policy document.

/// A policy document was rejected.
///
/// The message is lowercase, names the offending element and puts user input in
/// backticks. [`PolicyError::code`] gives the AWS error code to put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is not a valid policy (AWS `MalformedPolicyDocument`).
    #[error("{0}")]
    Malformed(String),
    /// The document is larger than allowed (AWS `LimitExceeded`).
    #[error("{0}")]
    LimitExceeded(String),
}

impl PolicyError {
    /// The AWS error code: `MalformedPolicyDocument` or `LimitExceeded`.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Malformed(_) => "MalformedPolicyDocument",
            PolicyError::LimitExceeded(_) => "LimitExceeded",
        }
    }

    /// The human readable message (the same text as `Display`).
    pub fn message(&self) -> &str {
        match self {
            PolicyError::Malformed(m) | PolicyError::LimitExceeded(m) => m,
        }
    }

    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        PolicyError::Malformed(msg.into())
    }
}
