//! The policy engine: parses and validates AWS IAM policy documents, compiles them once,
//! and evaluates requests against them with the AWS decision logic.
//!
//! - [`parse`] turns a document into a [`CompiledPolicy`] or a [`PolicyError`] whose
//!   [`PolicyError::code`] is the AWS error code.
//! - [`RequestContext`] describes one request (action, resource, condition keys).
//! - [`decide`] is the allocation-free hot path; [`explain`] also returns the matched
//!   statements, and [`denial_message`] renders AWS's access-denied wording.
//!
//! Choices where the AWS documentation is silent or ambiguous:
//! - `Id` is accepted in every kind of policy; an empty `Sid` is accepted and not
//!   counted for uniqueness; `Statement` must not be an empty list.
//! - Condition operator names are case-sensitive; values that a typed operator cannot
//!   read (a bad number, date, IP, base64 or boolean) are rejected when parsing.
//! - A context value that a typed operator cannot read does not match (so a negated
//!   operator is true). A plain operator on a multivalued key matches if any value does.
//! - `Null` treats an absent key and an empty list as null.
//! - A `Resource`/`NotResource` pattern whose variable has no value matches nothing,
//!   and a `NotResource` statement holding one does not apply.
//! - Four-digit date values are years; other integers are epoch seconds.
//! - In a resource-based policy an account principal only delegates to identity
//!   policies (it grants directly only to that account's root). Naming the caller's
//!   own ARN, a session ARN, `*` or a service grants directly; naming the role behind a
//!   session (or the user behind a federated session) is limited by the boundary and
//!   session policies. A trust policy must allow the caller even in the same account.
//! - Several session policies together are a union.
//! - `decide` allocates nothing: patterns with variables are matched against the
//!   variable's value in place. Only a `Bool` value that mixes text and a variable
//!   builds a string.
//!
//! The module depends on nothing else in the crate, so it can be benchmarked, fuzzed and
//! property-tested alone.

mod condition;
mod context;
mod document;
mod error;
mod eval;
mod index;
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
    decide, decide_with_index, denial_message, explain, explain_with_index,
};
pub use index::IdentityIndex;
