//! Amazon Resource Names.

use std::fmt;

use super::{AccountId, EntityName, PolicyPath};
use crate::error::{Error, Result};

/// The IAM resource types that have ARNs of the form `arn:aws:iam::ACCT:type/path/name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// `user/`
    User,
    /// `group/`
    Group,
    /// `role/`
    Role,
    /// `policy/`
    Policy,
    /// `instance-profile/`
    InstanceProfile,
}

impl ResourceType {
    /// The resource-type segment of the ARN.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::User => "user",
            ResourceType::Group => "group",
            ResourceType::Role => "role",
            ResourceType::Policy => "policy",
            ResourceType::InstanceProfile => "instance-profile",
        }
    }
}

/// A parsed ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    text: String,
    service_end: usize,
    region_end: usize,
    account_end: usize,
}

/// The largest ARN accepted anywhere (AWS's `arnType` maximum).
pub const MAX_ARN_LEN: usize = 2048;

impl Arn {
    /// The ARN of an IAM entity: `arn:aws:iam::ACCT:type` + path + name.
    pub fn iam(
        account: &AccountId,
        ty: ResourceType,
        path: &PolicyPath,
        name: &EntityName,
    ) -> Self {
        Self::from_text(format!(
            "arn:aws:iam::{}:{}{}{}",
            account,
            ty.as_str(),
            path,
            name
        ))
    }

    /// The ARN of an account's root user.
    pub fn root(account: &AccountId) -> Self {
        Self::from_text(format!("arn:aws:iam::{account}:root"))
    }

    /// Builds from text known to be well formed (produced by the constructors above).
    fn from_text(text: String) -> Self {
        // The constructors above always produce six colon-separated fields; parse finds
        // the boundaries. Fall back to treating the whole text as the resource.
        match Self::parse(&text) {
            Ok(a) => a,
            Err(_) => Self {
                service_end: 0,
                region_end: 0,
                account_end: 0,
                text,
            },
        }
    }

    /// Parses `arn:partition:service:region:account:resource`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::Validation(format!("`{}` is not a valid arn", s.escape_default()));
        if s.len() > MAX_ARN_LEN || !s.starts_with("arn:") || s.chars().any(|c| c.is_control()) {
            return Err(bad());
        }
        let mut idx = Vec::with_capacity(5);
        for (i, b) in s.bytes().enumerate() {
            if b == b':' {
                idx.push(i);
                if idx.len() == 5 {
                    break;
                }
            }
        }
        let [_, p, sv, r, a] = <[usize; 5]>::try_from(idx).map_err(|_| bad())?;
        if p + 1 == sv || a + 1 >= s.len() {
            return Err(bad());
        }
        Ok(Self {
            text: s.to_owned(),
            service_end: sv,
            region_end: r,
            account_end: a,
        })
    }

    /// The ARN text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The service field (`iam`, `sts`, `s3`…).
    pub fn service(&self) -> &str {
        let start = self
            .text
            .get(4..)
            .and_then(|t| t.find(':'))
            .map_or(0, |i| i + 5);
        self.text.get(start..self.service_end).unwrap_or("")
    }

    /// The account field (empty for `arn:aws:iam::aws:policy/…` style and S3).
    pub fn account(&self) -> &str {
        self.text
            .get(self.region_end + 1..self.account_end)
            .unwrap_or("")
    }

    /// The resource field (everything after the fifth colon).
    pub fn resource(&self) -> &str {
        self.text.get(self.account_end + 1..).unwrap_or("")
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NameKind;

    #[test]
    fn iam_arns() {
        let acct = AccountId::parse("123456789012").unwrap();
        let name = EntityName::parse(NameKind::User, "alice").unwrap();
        let a = Arn::iam(&acct, ResourceType::User, &PolicyPath::root(), &name);
        assert_eq!(a.as_str(), "arn:aws:iam::123456789012:user/alice");
        let p = PolicyPath::parse("/division/sub/").unwrap();
        let a = Arn::iam(&acct, ResourceType::User, &p, &name);
        assert_eq!(
            a.as_str(),
            "arn:aws:iam::123456789012:user/division/sub/alice"
        );
        assert_eq!(a.service(), "iam");
        assert_eq!(a.account(), "123456789012");
        assert_eq!(a.resource(), "user/division/sub/alice");
        assert_eq!(Arn::root(&acct).as_str(), "arn:aws:iam::123456789012:root");
    }

    #[test]
    fn parse_arns() {
        let a = Arn::parse("arn:aws:iam::aws:policy/AdministratorAccess").unwrap();
        assert_eq!(a.account(), "aws");
        assert_eq!(a.resource(), "policy/AdministratorAccess");
        let s3 = Arn::parse("arn:aws:s3:::bucket/key:with:colons").unwrap();
        assert_eq!(s3.service(), "s3");
        assert_eq!(s3.account(), "");
        assert_eq!(s3.resource(), "bucket/key:with:colons");
        for bad in [
            "",
            "arn",
            "arn:aws:iam",
            "arn:aws:iam::123",
            "nope:aws:iam::1:x",
            "arn:aws:iam::1:",
        ] {
            assert!(Arn::parse(bad).is_err(), "{bad}");
        }
    }
}
