//! Authentication of people: argon2id password hashing on a bounded pool, the account
//! password policy, the bundled common-password list, and virtual MFA (TOTP).

pub mod common;
mod password;
pub mod password_policy;
mod pool;
pub mod totp;

pub use password::{PasswordParams, hash_password, verify_password};
pub use password_policy::{PasswordPolicy, PasswordPolicyUpdate, PasswordRules};
pub use pool::HashPool;
