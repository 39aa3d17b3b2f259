//! AWS Signature Version 4: canonical requests, signing and verification, shared by the
//! server's verifier and the client's signer, plus the Query protocol form parser.
//!
//! Server side:
//! ```text
//! let req = HttpRequest::new(method, raw_path, raw_query, headers, PayloadHash::Body(&body))?;
//! let auth = parse_auth(&req)?;                 // which key, scope, signed headers
//! auth.check_scope("sts", None)?;               // this server's signing name
//! // look up auth.access_key_id() (InvalidClientTokenId if unknown), get its signing key
//! // (SigningKeyCache), then:
//! verify(&req, &auth, &key, clock.now())?;
//! let params = form::parse_form(&body, 200)?;   // the Query protocol parameters
//! ```
//! Client side: build an [`OwnedRequest`] with a `host` header and call [`sign`] (header
//! form) or [`presign`] (query form).
//!
//! Limits: every input is bounded (see the constants in [`request`], [`auth`] and
//! [`form`]); past a limit is an error. The current time is always a parameter.
//!
//! Behaviour follows the AWS SigV4 documentation and the AWS signing test suite; the
//! suite is checked case by case in the unit tests (`vectors.rs`, run with
//! `IAMVAULT_SIGV4_VECTORS` set to the suite's folder).

pub mod auth;
pub mod canonical;
pub mod error;
pub mod form;
pub mod key;
pub mod request;
pub mod sign;
pub mod verify;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

pub use auth::{AuthLocation, ParsedAuth, format_amz_date, parse_amz_date, parse_auth};
pub use canonical::{CanonicalOptions, PathEncoding, Scope};
pub use error::SigV4Error;
pub use form::{FormError, parse_form};
pub use key::{SigningKey, SigningKeyCache};
pub use request::{HttpRequest, OwnedRequest, PayloadHash};
pub use sign::{Signed, SigningParams, SigningSettings, presign, sign, sign_with};
pub use verify::{MAX_CLOCK_SKEW, verify, verify_with_options, verify_with_secret};
