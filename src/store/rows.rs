//! Typed rows: plain data in and out of the store.

use time::OffsetDateTime;

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// 12-digit id.
    pub account_id: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// The kind of an entity that holds policies or tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    /// IAM user.
    User,
    /// IAM group.
    Group,
    /// IAM role.
    Role,
}

impl EntityKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// `AIDA…`
    pub user_id: String,
    /// Owning account.
    pub account_id: String,
    /// Name as given.
    pub name: String,
    /// Path.
    pub path: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Permissions boundary policy ARN.
    pub boundary_arn: Option<String>,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// `AGPA…`
    pub group_id: String,
    /// Owning account.
    pub account_id: String,
    /// Name as given.
    pub name: String,
    /// Path.
    pub path: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// A role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    /// `AROA…`
    pub role_id: String,
    /// Owning account.
    pub account_id: String,
    /// Name as given.
    pub name: String,
    /// Path.
    pub path: String,
    /// Trust policy document, as given.
    pub trust_policy: String,
    /// Description.
    pub description: String,
    /// Maximum session duration, seconds.
    pub max_session_duration: i64,
    /// Permissions boundary policy ARN.
    pub boundary_arn: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// An instance profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceProfileRow {
    /// `AIPA…`
    pub profile_id: String,
    /// Owning account.
    pub account_id: String,
    /// Name as given.
    pub name: String,
    /// Path.
    pub path: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// The role in the profile, at most one.
    pub role_id: Option<String>,
}

/// A customer managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    /// `ANPA…`
    pub policy_id: String,
    /// Owning account.
    pub account_id: String,
    /// Name as given.
    pub name: String,
    /// Path.
    pub path: String,
    /// ARN.
    pub arn: String,
    /// Description.
    pub description: String,
    /// The default version number (`v<N>`).
    pub default_version: i64,
    /// The number the next version gets.
    pub next_version: i64,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change time.
    pub updated_at: OffsetDateTime,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionRow {
    /// Version number.
    pub version: i64,
    /// Document as given.
    pub document: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// An inline policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePolicyRow {
    /// Name as given.
    pub name: String,
    /// Document as given.
    pub document: String,
}

/// A tag row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRow {
    /// Key as given.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Status of a long-term access key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Kept but refused.
    Inactive,
}

impl KeyStatus {
    /// The AWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

/// A long-term access key. The secret is sealed; this row never holds it in plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyRow {
    /// `AKIA…`
    pub access_key_id: String,
    /// Owning account.
    pub account_id: String,
    /// Owning user.
    pub user_id: String,
    /// Status.
    pub status: KeyStatus,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// The secret, sealed with associated data naming this key id.
    pub sealed_secret: Vec<u8>,
    /// When it was last used.
    pub last_used_at: Option<OffsetDateTime>,
    /// The service it was last used with.
    pub last_used_service: Option<String>,
    /// The region it was last used in.
    pub last_used_region: Option<String>,
}

impl std::fmt::Debug for AccessKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRow")
            .field("access_key_id", &self.access_key_id)
            .field("user_id", &self.user_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}
