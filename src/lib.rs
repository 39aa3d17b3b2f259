//! iamvault: a self-hosted identity and access management vault that speaks the AWS IAM
//! and STS APIs.
//!
//! The crate is layered (see `docs/architecture.md`): [`model`] and [`clock`] at the bottom,
//! then [`crypto`], then [`store`] (the only place SQL is written), then [`service`] (one
//! function per operation: authorize, validate, execute in one transaction), and the
//! [`cli`] on top. `main.rs` is a thin entry point.

pub mod agent;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod client;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod model;
pub mod policy;
pub mod report;
pub mod service;
pub mod sigv4;
pub mod store;
pub mod sts;

pub use error::{Error, Result};
