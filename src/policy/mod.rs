//! The policy engine: parses and validates AWS IAM policy documents, compiles them once,
//! and evaluates requests against them with the AWS decision logic.
//!
//! - [`parse`] turns a document into a [`CompiledPolicy`] or a [`PolicyError`] whose
//!   [`PolicyError::code`] is the AWS error code.
//! - [`RequestContext`] describes one request (action, resource, condition keys).
//! - [`decide`] is the allocation-free hot path; [`explain`] also returns the matched
//!   statements, and [`denial_message`] renders AWS's access-denied wording.
//!
//! The module depends on nothing else in the crate, so it can be benchmarked, fuzzed and
//! property-tested alone.

mod condition;
mod context;
mod document;
mod error;
mod eval;
mod json;
mod matcher;
mod values;

#[cfg(test)]
mod reference_eval;
#[cfg(test)]
mod tests;

pub use context::{ContextValue, RequestContext, RequestContextBuilder};
pub use document::{
    CompiledPolicy, Effect, MANAGED_POLICY_MAX, MAX_INPUT_BYTES, PolicyKind, PolicyVersion,
    RESOURCE_POLICY_MAX, SESSION_POLICY_MAX, TRUST_POLICY_MAX, max_size, non_whitespace_len, parse,
    parse_with_limit,
};
pub use error::PolicyError;
pub use eval::{
    Decision, Evaluation, MatchedStatement, PolicySet, PolicyType, PrincipalInfo, PrincipalKind,
    decide, denial_message, explain,
};
