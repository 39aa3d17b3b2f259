//! An index across the identity policies of one principal.
//!
//! Each [`CompiledPolicy`] indexes its own statements by the service prefix of their
//! actions, so evaluating without this index costs one binary search per policy even
//! when only one policy names the request's service. [`IdentityIndex`] merges those
//! per-policy indexes into one: a request looks up its service once and visits only the
//! statements that name that service, plus those that may match any service (`*`, a
//! wildcard service prefix such as `s3*:Get*`, or `NotAction`). It is built once per
//! principal (the server caches it with the principal's policies) and passed to
//! [`super::decide_with_index`] or [`super::explain_with_index`].

use super::document::CompiledPolicy;

/// A statement of a principal's identity policies: `(policy position, statement index)`.
pub(crate) type Slot = (usize, usize);

/// The statements of a principal's identity policies, indexed by the service prefix of
/// their actions across all the policies.
///
/// Built from the same list, in the same order, as the `identity` field of the
/// [`super::PolicySet`] it is used with. An index whose policy count differs from the
/// set's is ignored (the evaluation falls back to the per-policy indexes).
#[derive(Debug, Clone, Default)]
pub struct IdentityIndex {
    /// The number of policies it was built from.
    policies: usize,
    /// Sorted by service prefix (lowercase); slots ascending.
    by_service: Vec<(Box<str>, Vec<Slot>)>,
    /// Statements that may match any service; slots ascending.
    any_service: Vec<Slot>,
}

impl IdentityIndex {
    /// Indexes `identity`: `(policy id, policy)` as in [`super::PolicySet::identity`].
    pub fn new(identity: &[(&str, &CompiledPolicy)]) -> Self {
        Self::from_policies(identity.iter().map(|(_, p)| *p))
    }

    /// Indexes the policies in order (the same order as the set's `identity` list).
    pub fn from_policies<'p>(policies: impl IntoIterator<Item = &'p CompiledPolicy>) -> Self {
        let mut by: std::collections::BTreeMap<&str, Vec<Slot>> = std::collections::BTreeMap::new();
        let mut any_service = Vec::new();
        let mut count = 0;
        for (p, pol) in policies.into_iter().enumerate() {
            count = p + 1;
            for (svc, stmts) in &pol.by_service {
                by.entry(&**svc)
                    .or_default()
                    .extend(stmts.iter().map(|&i| (p, i)));
            }
            any_service.extend(pol.any_service.iter().map(|&i| (p, i)));
        }
        IdentityIndex {
            policies: count,
            by_service: by.into_iter().map(|(k, v)| (Box::from(k), v)).collect(),
            any_service,
        }
    }

    /// The number of policies indexed.
    pub fn policy_count(&self) -> usize {
        self.policies
    }

    /// The statements that may apply to an action of `service`, in policy order and statement
    /// order within a policy (the order of the per-policy path).
    /// `service` is the lowercase service prefix of the action.
    pub(crate) fn candidates<'a>(&'a self, service: &str) -> Merge<'a, Slot> {
        service_candidates(&self.by_service, &self.any_service, service)
    }
}

/// The entries listed under `service` in a service-sorted index, merged with those that
/// apply to every service: ascending, without duplicates. Shared by each policy's own
/// statement index and the per-principal [`IdentityIndex`].
pub(crate) fn service_candidates<'a, T: Ord + Copy>(
    by_service: &'a [(Box<str>, Vec<T>)],
    any_service: &'a [T],
    service: &str,
) -> Merge<'a, T> {
    let by = by_service
        .binary_search_by(|(s, _)| (**s).cmp(service))
        .ok()
        .and_then(|i| by_service.get(i))
        .map_or(&[][..], |(_, v)| v.as_slice());
    Merge {
        a: by,
        b: any_service,
    }
}

/// Merges two ascending lists without duplicates.
pub(crate) struct Merge<'a, T> {
    a: &'a [T],
    b: &'a [T],
}

impl<T: Ord + Copy> Iterator for Merge<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match (self.a.split_first(), self.b.split_first()) {
            (Some((&x, ra)), Some((&y, rb))) => match x.cmp(&y) {
                std::cmp::Ordering::Less => {
                    self.a = ra;
                    Some(x)
                }
                std::cmp::Ordering::Greater => {
                    self.b = rb;
                    Some(y)
                }
                std::cmp::Ordering::Equal => {
                    self.a = ra;
                    self.b = rb;
                    Some(x)
                }
            },
            (Some((&x, ra)), None) => {
                self.a = ra;
                Some(x)
            }
            (None, Some((&y, rb))) => {
                self.b = rb;
                Some(y)
            }
            (None, None) => None,
        }
    }
}
