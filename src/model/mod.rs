//! Validated newtypes: entity names, paths, ARNs, unique ids, access key ids, tags and
//! secret types. "Parse, don't validate": once a value has one of these types it is known
//! to satisfy AWS's constraints, and its canonical (case-folded) form is fixed.

mod arn;
mod ids;
mod names;
mod secret;
mod tags;

pub use arn::{Arn, ResourceType};
pub use ids::{AccessKeyId, AccountId, IdPrefix, UniqueId};
pub use names::{EntityName, NameKind, PolicyPath};
pub use secret::{SecretBytes, SecretString, ct_eq};
pub use tags::{MAX_TAGS, Tag, validate_tag_set};
