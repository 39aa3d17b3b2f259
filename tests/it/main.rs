//! The one integration test binary. Each module drives a real piece of the vault from
//! outside: `cli` runs the built `iamvault` binary against temporary data directories.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

mod attacks;
mod audit;
mod aws_clients;
mod backup;
mod cli;
mod crash;
mod docs;
mod fuzz_props;
mod objstore;
mod pagination;
mod passphrase;
mod policy_corpus;
mod races;
mod rekey;
mod serve;
mod server;
mod signin;
mod simulate;
mod support;
mod tokens;
mod wire;
mod workloads;
