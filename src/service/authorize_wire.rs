//! The wire format of `POST /vault/v1/authorize`, shared by the server and
//! [`crate::client::Authorizer`]. JSON, field names in snake_case.
//!
//! ```json
//! {
//!   "request": {
//!     "method": "GET",
//!     "path": "/reports/2026/q3.csv",
//!     "query": "versionId=3",
//!     "headers": [["host", "objects.internal:9000"], ["x-amz-date", "20261128T120000Z"],
//!                 ["x-amz-content-sha256", "e3b0…"], ["authorization", "AWS4-HMAC-SHA256 …"]],
//!     "body_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
//!     "source_ip": "10.0.0.7",
//!     "secure_transport": true
//!   },
//!   "checks": [{"action": "s3:GetObject", "resource": "arn:aws:s3:::reports/2026/q3.csv"}],
//!   "context": {"s3:prefix": "2026/"}
//! }
//! ```
//!
//! The answer is `200` whenever the calling service itself was authenticated and allowed
//! `vault:Authorize`; whether the *client* was authenticated is in the body.

use serde::{Deserialize, Serialize};

/// Most `(action, resource)` pairs in one call.
pub const MAX_CHECKS: usize = 20;
/// Most extra context keys in one call.
pub const MAX_CONTEXT_KEYS: usize = 50;
/// Longest cache hint, in seconds.
pub const MAX_CACHE_SECONDS: i64 = 60;

/// The client's request, as the service received it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRequest {
    /// HTTP method.
    pub method: String,
    /// The raw path, percent-encoded as it arrived.
    pub path: String,
    /// The raw query string, without `?`.
    #[serde(default)]
    pub query: String,
    /// Every header as `[name, value]`, in arrival order (repeats allowed).
    pub headers: Vec<(String, String)>,
    /// Lowercase hex SHA-256 of the body the service received.
    pub body_sha256: String,
    /// The client's address.
    #[serde(default)]
    pub source_ip: Option<String>,
    /// Whether the client connected over TLS.
    #[serde(default)]
    pub secure_transport: bool,
}

impl std::fmt::Debug for ClientRequest {
    /// Header values are left out: they carry signatures and session tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// One question: may the client do `action` on `resource`?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// `service:Action`, e.g. `s3:GetObject`.
    pub action: String,
    /// The resource ARN, e.g. `arn:aws:s3:::reports/2026/q3.csv`.
    pub resource: String,
}

/// The body of `POST /vault/v1/authorize`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// The client's request.
    pub request: ClientRequest,
    /// The questions, answered in order.
    pub checks: Vec<Check>,
    /// Extra condition keys: a string or a list of strings each (e.g. `s3:prefix`).
    #[serde(default)]
    pub context: serde_json::Map<String, serde_json::Value>,
}

/// Who the client is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalOut {
    /// The principal's ARN (`…:user/alice`, `…:assumed-role/web/i-…`).
    pub arn: String,
    /// Its account.
    pub account: String,
    /// `aws:userid`: `AIDA…`, or `AROA…:session` for a role session.
    pub userid: String,
}

/// A statement that decided a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedOut {
    /// The policy: an ARN, `user/NAME/POLICY` for an inline policy, or the resource ARN
    /// a resource policy is attached to.
    pub policy_id: String,
    /// `identity-based policy`, `resource-based policy`, `permissions boundary`,
    /// `session policy`.
    pub policy_type: String,
    /// The statement's Sid, or its index.
    pub sid: String,
    /// `Allow` or `Deny`.
    pub effect: String,
}

/// The answer to one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The action asked about.
    pub action: String,
    /// The resource asked about.
    pub resource: String,
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: String,
    /// The statements that decided it.
    pub matched_statements: Vec<MatchedOut>,
    /// For a denial, AWS's wording of why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CheckResult {
    /// Whether the check was allowed.
    pub fn allowed(&self) -> bool {
        self.decision == "allowed"
    }
}

/// Why the client's request was not authenticated, with the code the service should
/// answer with (S3's codes when the client signed for `s3`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAuthError {
    /// HTTP status the service should answer with.
    pub status: u16,
    /// AWS error code (`SignatureDoesNotMatch`, `InvalidAccessKeyId`, `ExpiredToken`, …).
    pub code: String,
    /// Message; never contains a secret.
    pub message: String,
}

/// The answer of `POST /vault/v1/authorize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeResponse {
    /// Whether the client's signature and credentials were good.
    pub authenticated: bool,
    /// Set when not authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ClientAuthError>,
    /// Set when authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<PrincipalOut>,
    /// The access key the client signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// One per check, in order (empty when not authenticated).
    #[serde(default)]
    pub results: Vec<CheckResult>,
    /// How long a service may reuse these decisions for the same principal, action and
    /// resource: never longer than the credential's remaining life, nor
    /// [`MAX_CACHE_SECONDS`]. 0 means do not cache. A service that caches accepts that a
    /// revocation reaches it only when its cache entry ends.
    pub cache_seconds: i64,
}

impl AuthorizeResponse {
    /// Whether the client was authenticated and every check was allowed.
    pub fn all_allowed(&self) -> bool {
        self.authenticated && !self.results.is_empty() && self.results.iter().all(|r| r.allowed())
    }
}
