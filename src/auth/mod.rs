//! Authentication of people, as pure functions over plain data: argon2id password hashing
//! (on a bounded pool), the account password policy, the bundled common-password list,
//! sign-in lockout, and virtual MFA (TOTP). Nothing here touches the store or reads the
//! clock: time comes in as `OffsetDateTime`, randomness as `&dyn Random`.

pub mod common;
pub mod lockout;
mod password;
pub mod password_policy;
mod pool;
pub mod totp;

pub use password::{PasswordParams, hash_password, verify_password};
pub use password_policy::{
    PasswordPolicy, PasswordPolicyUpdate, PasswordRules, PolicyViolation, check_new_password,
};
pub use pool::HashPool;
