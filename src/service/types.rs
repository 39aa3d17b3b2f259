//! Results of operations, shaped and named like AWS's responses so that the CLI's JSON and
//! the wire API's XML carry the same fields.

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::model::{SecretString, Tag};

/// Formats a time as AWS does in IAM responses: `2026-01-01T00:00:00Z`.
pub fn iso8601(t: &OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn ser_time<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso8601(t))
}

/// [`iso8601`] as a serde serializer, for result types elsewhere in `service`.
pub(crate) fn ser_time_pub<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    ser_time(t, s)
}

fn ser_opt_time<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&iso8601(t)),
        None => s.serialize_none(),
    }
}

/// A permissions boundary as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionsBoundary {
    /// Always `Policy`.
    pub permissions_boundary_type: &'static str,
    /// The managed policy ARN.
    pub permissions_boundary_arn: String,
}

impl PermissionsBoundary {
    pub(crate) fn from_arn(arn: Option<String>) -> Option<Self> {
        arn.map(|a| Self {
            permissions_boundary_type: "Policy",
            permissions_boundary_arn: a,
        })
    }
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct User {
    /// Path.
    pub path: String,
    /// Name.
    pub user_name: String,
    /// `AIDA…`
    pub user_id: String,
    /// ARN.
    pub arn: String,
    /// Creation time.
    #[serde(serialize_with = "ser_time")]
    pub create_date: OffsetDateTime,
    /// Permissions boundary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<PermissionsBoundary>,
    /// Tags (only on GetUser, as in AWS).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// An IAM group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Group {
    /// Path.
    pub path: String,
    /// Name.
    pub group_name: String,
    /// `AGPA…`
    pub group_id: String,
    /// ARN.
    pub arn: String,
    /// Creation time.
    #[serde(serialize_with = "ser_time")]
    pub create_date: OffsetDateTime,
}

/// A group with its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupWithUsers {
    /// The group.
    pub group: Group,
    /// Its members.
    pub users: Vec<User>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    /// Path.
    pub path: String,
    /// Name.
    pub role_name: String,
    /// `AROA…`
    pub role_id: String,
    /// ARN.
    pub arn: String,
    /// Creation time.
    #[serde(serialize_with = "ser_time")]
    pub create_date: OffsetDateTime,
    /// Trust policy.
    pub assume_role_policy_document: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Maximum session duration, seconds.
    pub max_session_duration: i64,
    /// Permissions boundary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<PermissionsBoundary>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// An instance profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfile {
    /// Path.
    pub path: String,
    /// Name.
    pub instance_profile_name: String,
    /// `AIPA…`
    pub instance_profile_id: String,
    /// ARN.
    pub arn: String,
    /// Creation time.
    #[serde(serialize_with = "ser_time")]
    pub create_date: OffsetDateTime,
    /// The role, zero or one.
    pub roles: Vec<Role>,
}

/// A managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    /// Name.
    pub policy_name: String,
    /// `ANPA…`
    pub policy_id: String,
    /// ARN.
    pub arn: String,
    /// Path.
    pub path: String,
    /// `v<N>`.
    pub default_version_id: String,
    /// Entities it is attached to.
    pub attachment_count: i64,
    /// Entities using it as a boundary.
    pub permissions_boundary_usage_count: i64,
    /// Always true.
    pub is_attachable: bool,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Creation time.
    #[serde(serialize_with = "ser_time")]
    pub create_date: OffsetDateTime,
    /// Last change.
    #[serde(serialize_with = "ser_time")]
    pub update_date: OffsetDateTime,
}

/// A policy version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersion {
    /// The document (omitted in lists, as AWS does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// `v<N>`.
    pub version_id: String,
    /// Whether it is the default.
    pub is_default_version: bool,
    /// Creation time.
    #[serde(serialize_with = "ser_time")]
    pub create_date: OffsetDateTime,
}

/// A managed policy attached to an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicy {
    /// Name.
    pub policy_name: String,
    /// ARN.
    pub policy_arn: String,
}

/// An inline policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    /// The owning user, group or role name.
    pub owner_name: String,
    /// Policy name.
    pub policy_name: String,
    /// Document.
    pub policy_document: String,
}

/// Access key metadata; never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyMetadata {
    /// Owner.
    pub user_name: String,
    /// `AKIA…`
    pub access_key_id: String,
    /// `Active` or `Inactive`.
    pub status: &'static str,
    /// Creation time.
    #[serde(serialize_with = "ser_time")]
    pub create_date: OffsetDateTime,
}

/// A newly created access key: the only value that ever carries the secret. It has no
/// `Debug`; its `Serialize` writes the secret, so it is serialized only into the response
/// that creates it.
pub struct NewAccessKey {
    /// The key's metadata.
    pub metadata: AccessKeyMetadata,
    /// The secret.
    pub secret: SecretString,
}

impl Serialize for NewAccessKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("AccessKey", 5)?;
        st.serialize_field("UserName", &self.metadata.user_name)?;
        st.serialize_field("AccessKeyId", &self.metadata.access_key_id)?;
        st.serialize_field("Status", self.metadata.status)?;
        st.serialize_field("SecretAccessKey", self.secret.expose())?;
        st.serialize_field("CreateDate", &iso8601(&self.metadata.create_date))?;
        st.end()
    }
}

/// When and where a key was last used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyLastUsed {
    /// Last use, absent when never used.
    #[serde(
        serialize_with = "ser_opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used_date: Option<OffsetDateTime>,
    /// Service name, `N/A` when never used.
    pub service_name: String,
    /// Region, `N/A` when never used.
    pub region: String,
}

/// GetAccessKeyLastUsed's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyLastUsedResult {
    /// Owner.
    pub user_name: String,
    /// Usage.
    pub access_key_last_used: AccessKeyLastUsed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_format() {
        let t = time::macros::datetime!(2026-03-04 05:06:07.5 UTC);
        assert_eq!(iso8601(&t), "2026-03-04T05:06:07Z");
    }
}
