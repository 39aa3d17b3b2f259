//! The one error type, with one mapping to AWS error codes and HTTP statuses
//! ([`Error::aws`]) and one mapping to process exit codes ([`Error::exit_code`]).
//!
//! Messages are lowercase-friendly, put user input in backticks, and never contain a
//! secret: no variant carries key material, passwords or tokens.

use thiserror::Error as ThisError;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure an operation can report.
#[derive(Debug, ThisError, Clone, PartialEq, Eq)]
pub enum Error {
    /// The named entity does not exist.
    #[error("{0}")]
    NoSuchEntity(String),
    /// An entity with that name (compared case-insensitively) already exists.
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// A quota would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// The entity still has dependents.
    #[error("{0}")]
    DeleteConflict(String),
    /// A parameter failed its constraints (AWS `ValidationError`).
    #[error("{0}")]
    Validation(String),
    /// A parameter value is invalid in context (AWS `InvalidInput`).
    #[error("{0}")]
    InvalidInput(String),
    /// A policy document is malformed.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// The caller is not allowed to do this.
    #[error("{0}")]
    AccessDenied(String),
    /// A new password breaks the account password policy; the message names every rule.
    #[error("{0}")]
    PasswordPolicyViolation(String),
    /// An MFA code was wrong, malformed or already used.
    #[error("{0}")]
    InvalidAuthenticationCode(String),
    /// Sign-in failed. One message for every cause (unknown user, wrong password or code,
    /// locked, disabled): the real cause goes to the audit log only.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The password and code were right, but the password must be changed first.
    #[error("{0}")]
    PasswordChangeRequired(String),
    /// Session policies and tags take more than the session's allowance.
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    /// No credential report has been generated.
    #[error("{0}")]
    ReportNotPresent(String),
    /// The vault is not set up, or its files are unusable.
    #[error("{0}")]
    Config(String),
    /// `init` found a vault (or its remains) in the data directory.
    #[error("{0}")]
    VaultExists(String),
    /// Another process (a running server) holds the data directory's lock.
    #[error("{0}")]
    VaultBusy(String),
    /// The entity changed while the request was being checked; the caller may retry.
    #[error("{0}")]
    EntityTemporarilyUnmodifiable(String),
    /// A remote endpoint answered with an error code this crate has no variant for
    /// (code, message).
    #[error("{0}: {1}")]
    Remote(String, String),
    /// Something failed inside the vault (storage, crypto). The message names the part
    /// that failed, never secret material.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The AWS error code and HTTP status for this error.
    pub fn aws(&self) -> (u16, &'static str) {
        match self {
            Error::NoSuchEntity(_) => (404, "NoSuchEntity"),
            Error::EntityAlreadyExists(_) => (409, "EntityAlreadyExists"),
            Error::LimitExceeded(_) => (409, "LimitExceeded"),
            Error::DeleteConflict(_) => (409, "DeleteConflict"),
            Error::Validation(_) => (400, "ValidationError"),
            Error::InvalidInput(_) => (400, "InvalidInput"),
            Error::MalformedPolicyDocument(_) => (400, "MalformedPolicyDocument"),
            Error::AccessDenied(_) => (403, "AccessDenied"),
            Error::PasswordPolicyViolation(_) => (400, "PasswordPolicyViolation"),
            Error::InvalidAuthenticationCode(_) => (403, "InvalidAuthenticationCode"),
            Error::AuthenticationFailed => (401, "AuthenticationFailed"),
            Error::PasswordChangeRequired(_) => (403, "PasswordChangeRequired"),
            Error::ReportNotPresent(_) => (410, "ReportNotPresent"),
            Error::PackedPolicyTooLarge(_) => (400, "PackedPolicyTooLarge"),
            Error::EntityTemporarilyUnmodifiable(_) => (409, "EntityTemporarilyUnmodifiable"),
            Error::Config(_) | Error::VaultExists(_) | Error::VaultBusy(_) | Error::Internal(_) => {
                (500, "ServiceFailure")
            }
            Error::Remote(..) => (502, "RemoteError"),
        }
    }

    /// The AWS error code alone.
    pub fn code(&self) -> &'static str {
        self.aws().1
    }

    /// The process exit code: 0 ok (never produced here), 1 error, 2 denied, 3 invalid
    /// input.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::AccessDenied(_)
            | Error::AuthenticationFailed
            | Error::InvalidAuthenticationCode(_) => 2,
            Error::Validation(_)
            | Error::InvalidInput(_)
            | Error::MalformedPolicyDocument(_)
            | Error::PasswordPolicyViolation(_) => 3,
            _ => 1,
        }
    }

    /// The label the CLI prints before the message: the AWS code, or for vault set-up
    /// problems (which never reach the wire) a plainer word.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Config(_) => "VaultConfiguration",
            Error::VaultExists(_) => "VaultExists",
            Error::VaultBusy(_) => "VaultBusy",
            _ => self.code(),
        }
    }

    /// A next step for a person reading the error on a terminal, when there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::DeleteConflict(_) => {
                Some("remove the dependents first, or pass --force to remove them in one step")
            }
            Error::LimitExceeded(_) => Some("delete an unused entity first, then retry"),
            Error::EntityTemporarilyUnmodifiable(_) => Some("retry the request"),
            Error::VaultBusy(_) => Some(
                "stop that server first (one process at a time holds a data directory's serve.lock)",
            ),
            Error::Config(_) => {
                Some("check --data-dir (or IAMVAULT_DATA_DIR); `iamvault init` creates a vault")
            }
            Error::VaultExists(_) => {
                Some("pick another --data-dir; an existing vault is never overwritten")
            }
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        // SQLite errors name tables and constraints, never bound values, so they are safe
        // to report; still, keep only the summary.
        Error::Internal(format!("storage error: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_mapping_is_the_documented_one() {
        let m = |e: Error| e.aws();
        assert_eq!(m(Error::NoSuchEntity(String::new())), (404, "NoSuchEntity"));
        assert_eq!(
            m(Error::EntityAlreadyExists(String::new())),
            (409, "EntityAlreadyExists")
        );
        assert_eq!(
            m(Error::LimitExceeded(String::new())),
            (409, "LimitExceeded")
        );
        assert_eq!(
            m(Error::DeleteConflict(String::new())),
            (409, "DeleteConflict")
        );
        assert_eq!(
            m(Error::Validation(String::new())),
            (400, "ValidationError")
        );
        assert_eq!(m(Error::InvalidInput(String::new())), (400, "InvalidInput"));
        assert_eq!(
            m(Error::MalformedPolicyDocument(String::new())),
            (400, "MalformedPolicyDocument")
        );
        assert_eq!(m(Error::AccessDenied(String::new())), (403, "AccessDenied"));
        assert_eq!(m(Error::Internal(String::new())), (500, "ServiceFailure"));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Error::AccessDenied(String::new()).exit_code(), 2);
        assert_eq!(Error::Validation(String::new()).exit_code(), 3);
        assert_eq!(Error::InvalidInput(String::new()).exit_code(), 3);
        assert_eq!(Error::MalformedPolicyDocument(String::new()).exit_code(), 3);
        assert_eq!(Error::NoSuchEntity(String::new()).exit_code(), 1);
        assert_eq!(Error::DeleteConflict(String::new()).exit_code(), 1);
        assert_eq!(Error::Internal(String::new()).exit_code(), 1);
    }
}
