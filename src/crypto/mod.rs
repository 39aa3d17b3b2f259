//! Key material: the master key, the keys derived from it, AEAD sealing, and generation of
//! ids and secrets.
//!
//! - HKDF-SHA256 (RFC 5869, through ring) derives one key per purpose from the master key.
//! - AES-256-GCM (RFC 5116, through ring) seals secrets at rest. The associated data binds
//!   each ciphertext to its row, so a ciphertext copied to another row fails to open.

mod generate;
mod master;
mod seal;

pub use generate::{generate_access_key, generate_password, generate_unique_id};
pub use master::{MASTER_KEY_FILE, MasterKey, WrapParams};
pub use seal::{KeyRing, Purpose, Sealer};
