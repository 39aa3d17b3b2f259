//! The one integration test binary. Each module drives a real piece of the vault from
//! outside: `cli` runs the built `iamvault` binary against temporary data directories.

mod cli;
mod support;
