//! Authentication of people: password hashing now; password policy, TOTP and lockout
//! arrive with the sign-in work.

mod password;

pub use password::{PasswordParams, hash_password, verify_password};
