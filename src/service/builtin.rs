//! Vault-provided managed policies under `arn:aws:iam::aws:policy/`. Their documents
//! carry AWS's meaning for the IAM and STS actions.

/// A vault-provided managed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinPolicy {
    /// Name.
    pub name: &'static str,
    /// Path.
    pub path: &'static str,
    /// Fixed id.
    pub id: &'static str,
    /// Description.
    pub description: &'static str,
    /// Document (version `v1`).
    pub document: &'static str,
}

impl BuiltinPolicy {
    /// `arn:aws:iam::aws:policy` + path + name.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::aws:policy{}{}", self.path, self.name)
    }
}

/// Every vault-provided policy.
pub const BUILTIN_POLICIES: &[BuiltinPolicy] = &[
    BuiltinPolicy {
        name: "AdministratorAccess",
        path: "/",
        id: "ANPAIWMBCKSKIEE64ZLYK",
        description: "Provides full access to all actions and resources.",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    },
    BuiltinPolicy {
        name: "IAMFullAccess",
        path: "/",
        id: "ANPAI7XKCFMBPM3QQRRVQ",
        description: "Provides full access to IAM.",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*"],"Resource":"*"}]}"#,
    },
    BuiltinPolicy {
        name: "IAMReadOnlyAccess",
        path: "/",
        id: "ANPAJKSO7NDY4T57MWDSQ",
        description: "Provides read only access to IAM.",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    },
    BuiltinPolicy {
        name: "IAMUserChangePassword",
        path: "/",
        id: "ANPAJ4L4MM2A7QIEB56MS",
        description: "Provides the ability for an IAM user to change their own password.",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ChangePassword"],"Resource":["arn:aws:iam::*:user/${aws:username}"]},{"Effect":"Allow","Action":["iam:GetAccountPasswordPolicy"],"Resource":"*"}]}"#,
    },
    BuiltinPolicy {
        name: "ReadOnlyAccess",
        path: "/",
        id: "ANPAILL3HVNFSB6DCOWYQ",
        description: "Provides read-only access to all services and resources (IAM and STS here).",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Generate*","iam:Get*","iam:List*","iam:Simulate*","sts:GetCallerIdentity","sts:GetAccessKeyInfo","sts:DecodeAuthorizationMessage"],"Resource":"*"}]}"#,
    },
];

/// Finds a vault-provided policy by ARN.
pub fn builtin_by_arn(arn: &str) -> Option<&'static BuiltinPolicy> {
    BUILTIN_POLICIES.iter().find(|p| p.arn() == arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_well_formed() {
        for p in BUILTIN_POLICIES {
            let v: serde_json::Value = serde_json::from_str(p.document).unwrap();
            assert_eq!(v["Version"], "2012-10-17", "{}", p.name);
            assert!(
                crate::model::UniqueId::parse(crate::model::IdPrefix::Policy, p.id).is_ok(),
                "{}",
                p.name
            );
        }
        assert_eq!(
            builtin_by_arn("arn:aws:iam::aws:policy/AdministratorAccess").map(|p| p.name),
            Some("AdministratorAccess")
        );
    }
}
