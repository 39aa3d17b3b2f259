//! Session tokens: a versioned, self-contained envelope signed with Ed25519, which any
//! vault node verifies without a database read. `docs/token-format.md` specifies it byte
//! for byte.

mod keys;
mod token;

pub use keys::{KeyId, PublicKeySet, TokenSigningKey, from_jwks, jwks};
pub use token::{
    Claims, MAX_TOKEN_CHARS, SessionKind, TokenError, VerifiedToken, inspect, mint, verify,
};
