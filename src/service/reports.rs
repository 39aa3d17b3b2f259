//! Credential report, best-practice checks and account summary: gather rows, hand them to
//! `report`.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::users::user_arn;
use super::{Caller, RequestContext, Vault};
use crate::auth::password_policy::next_rotation;
use crate::error::{Error, Result};
use crate::report::credential_report::{KeyInfo, PasswordInfo, ReportUser, render};
use crate::report::doctor::{
    self, DoctorInput, DoctorKey, DoctorPasswordPolicy, DoctorUser, Finding,
};
use crate::store::{EntityKind, KeyStatus, KeyUsageRow, PasswordDatesRow, ReadTx};

/// A report younger than this is returned instead of generating a new one.
pub const REPORT_MAX_AGE: Duration = Duration::hours(4);

/// GetCredentialReport's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CredentialReport {
    /// The CSV.
    pub content: String,
    /// Always `text/csv`.
    pub report_format: &'static str,
    /// When it was generated.
    #[serde(serialize_with = "super::types::ser_time_pub")]
    pub generated_time: OffsetDateTime,
}

/// An account's MFA devices, password dates and access keys, each read in one pass and
/// joined by user id: one lookup per user made a report of 100,000 users cost 200,000
/// queries and as many random page reads.
struct AccountCredentials {
    /// The root user has an MFA device.
    root_mfa: bool,
    /// Users with an MFA device.
    with_mfa: HashSet<String>,
    passwords: HashMap<String, PasswordDatesRow>,
    keys: HashMap<String, Vec<KeyUsageRow>>,
}

impl AccountCredentials {
    fn read(tx: &ReadTx<'_>, account: &str) -> Result<Self> {
        let devices = tx.mfa_devices(account)?;
        Ok(Self {
            root_mfa: devices.iter().any(|d| d.root),
            with_mfa: devices.into_iter().filter_map(|d| d.user_id).collect(),
            passwords: tx.password_dates_of_account(account)?,
            keys: tx.key_usage_of_account(account)?,
        })
    }

    /// A user's keys, oldest first (taken: each user is visited once).
    fn keys_of(&mut self, user_id: &str) -> Vec<KeyUsageRow> {
        self.keys.remove(user_id).unwrap_or_default()
    }
}

impl Vault {
    fn report_rows(&self, tx: &ReadTx<'_>, account: &str) -> Result<Vec<ReportUser>> {
        let acct = tx
            .account(account)?
            .ok_or_else(|| Error::NoSuchEntity(format!("account `{account}` does not exist")))?;
        let policy = self.password_policy_of(tx, account)?;
        let mut creds = AccountCredentials::read(tx, account)?;
        let mut rows = vec![ReportUser {
            name: String::new(),
            arn: format!("arn:aws:iam::{account}:root"),
            created: acct.created_at,
            password: None,
            root_password_last_used: None,
            mfa_active: creds.root_mfa,
            keys: Vec::new(),
            is_root: true,
        }];
        for u in tx.users(account, "/")? {
            let password = creds.passwords.get(&u.user_id).map(|p| PasswordInfo {
                last_used: p.last_used,
                last_changed: p.changed_at,
                next_rotation: next_rotation(policy.as_ref(), p.changed_at),
            });
            let keys = creds
                .keys_of(&u.user_id)
                .into_iter()
                .map(|k| KeyInfo {
                    active: k.status == KeyStatus::Active,
                    created: k.created_at,
                    last_used: k.last_used_at.map(|t| {
                        (
                            t,
                            k.last_used_region.unwrap_or_else(|| "N/A".into()),
                            k.last_used_service.unwrap_or_else(|| "N/A".into()),
                        )
                    }),
                })
                .collect();
            rows.push(ReportUser {
                arn: user_arn(&u),
                created: u.created_at,
                password,
                root_password_last_used: None,
                mfa_active: creds.with_mfa.contains(&u.user_id),
                keys,
                is_root: false,
                name: u.name,
            });
        }
        Ok(rows)
    }

    /// GenerateCredentialReport: generates at most every four hours unless `force`.
    /// Returns AWS's `State` and `Description`.
    pub fn generate_credential_report(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        force: bool,
    ) -> Result<(&'static str, String)> {
        let account = caller.account.as_str();
        let now = self.now();
        // Built from a read snapshot: a large account's report takes a second or more, and
        // the write lock would hold every other write in the vault for that long. Only
        // storing it takes the write lock, and is authorized again there.
        let csv = {
            let tx = self.store().read()?;
            self.authorize(&tx, caller, "iam:GenerateCredentialReport", "*", ctx)?;
            let recent = tx
                .credential_report_generated_at(account)?
                .is_some_and(|at| now - at < REPORT_MAX_AGE);
            if !force && recent {
                return Ok((
                    "COMPLETE",
                    "A report generated less than four hours ago is available.".into(),
                ));
            }
            render(&self.report_rows(&tx, account)?)
        };
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:GenerateCredentialReport", "*", ctx)?;
        tx.put_credential_report(account, now, &csv)?;
        self.commit(tx)?;
        Ok(("COMPLETE", "A new report was generated.".into()))
    }

    /// GetCredentialReport: the stored report; `ReportNotPresent` when none.
    pub fn get_credential_report(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
    ) -> Result<CredentialReport> {
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "iam:GetCredentialReport", "*", ctx)?;
        let (at, content) = tx
            .credential_report(caller.account.as_str())?
            .ok_or_else(|| {
                Error::ReportNotPresent(
                    "Credential report not present. Call GenerateCredentialReport first.".into(),
                )
            })?;
        Ok(CredentialReport {
            content,
            report_format: "text/csv",
            generated_time: at,
        })
    }

    /// Best-practice findings for the caller's account.
    pub fn doctor(&self, caller: &Caller, ctx: &RequestContext) -> Result<Vec<Finding>> {
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "iam:GenerateCredentialReport", "*", ctx)?;
        let account = caller.account.as_str();
        let mut creds = AccountCredentials::read(&tx, account)?;
        let mut users = Vec::new();
        let mut policies = Vec::new();
        for u in tx.users(account, "/")? {
            let attached = tx.attached(EntityKind::User, &u.user_id)?;
            let inline = tx.inline_policies(EntityKind::User, &u.user_id)?;
            for p in &inline {
                if let Ok(v) = serde_json::from_str(&p.document) {
                    policies.push((format!("user/{}/{}", u.name, p.name), v));
                }
            }
            users.push(DoctorUser {
                console_password: creds.passwords.contains_key(&u.user_id),
                mfa: creds.with_mfa.contains(&u.user_id),
                keys: creds
                    .keys_of(&u.user_id)
                    .into_iter()
                    .map(|k| DoctorKey {
                        active: k.status == KeyStatus::Active,
                        created: k.created_at,
                        last_used: k.last_used_at,
                        id: k.access_key_id,
                    })
                    .collect(),
                direct_policies: attached.len() + inline.len(),
                name: u.name,
            });
        }
        for p in tx.policies(account, "/")? {
            let doc = tx
                .policy_version(&p.policy_id, p.default_version)?
                .and_then(|v| serde_json::from_str(&v.document).ok());
            if let Some(doc) = doc {
                policies.push((p.arn.clone(), doc));
            }
        }
        let mut roles = Vec::new();
        for r in tx.roles(account, "/")? {
            if let Ok(doc) = serde_json::from_str(&r.trust_policy) {
                roles.push((r.name.clone(), doc));
            }
        }
        let password_policy =
            self.password_policy_of(&tx, account)?
                .map(|p| DoctorPasswordPolicy {
                    min_length: p.minimum_password_length,
                    classes: u32::from(p.require_uppercase_characters)
                        + u32::from(p.require_lowercase_characters)
                        + u32::from(p.require_numbers)
                        + u32::from(p.require_symbols),
                    reuse_prevention: p.password_reuse_prevention.unwrap_or(0),
                });
        Ok(doctor::check(&DoctorInput {
            now: self.now(),
            root_mfa: creds.root_mfa,
            // The vault does not issue access keys to the root user.
            root_has_keys: false,
            users,
            password_policy,
            policies,
            roles,
        }))
    }

    /// GetAccountSummary: counts and quotas.
    pub fn get_account_summary(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
    ) -> Result<Vec<(&'static str, i64)>> {
        let tx = self.store().read()?;
        self.authorize(&tx, caller, "iam:GetAccountSummary", "*", ctx)?;
        let a = caller.account.as_str();
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        let users = tx.users(a, "/")?;
        let devices = tx.mfa_devices(a)?;
        let policies = tx.policies(a, "/")?;
        let versions: usize = policies
            .iter()
            .map(|p| tx.policy_versions(&p.policy_id).map_or(0, |v| v.len()))
            .sum();
        Ok(vec![
            ("Users", n(users.len())),
            ("UsersQuota", 5000),
            ("Groups", n(tx.groups(a, "/")?.len())),
            ("GroupsQuota", 300),
            ("Roles", n(tx.roles(a, "/")?.len())),
            ("RolesQuota", 1000),
            ("InstanceProfiles", n(tx.instance_profiles(a, "/")?.len())),
            ("InstanceProfilesQuota", 1000),
            ("Policies", n(policies.len())),
            ("PoliciesQuota", 1500),
            ("PolicyVersionsInUse", n(versions)),
            ("PolicyVersionsInUseQuota", 10000),
            ("AccessKeysPerUserQuota", 2),
            ("MFADevices", n(devices.len())),
            (
                "MFADevicesInUse",
                n(devices
                    .iter()
                    .filter(|d| d.user_id.is_some() || d.root)
                    .count()),
            ),
            (
                "AccountMFAEnabled",
                i64::from(devices.iter().any(|d| d.root)),
            ),
            ("AccountAccessKeysPresent", 0),
            ("AccountSigningCertificatesPresent", 0),
            ("AttachedPoliciesPerUserQuota", 10),
            ("AttachedPoliciesPerGroupQuota", 10),
            ("AttachedPoliciesPerRoleQuota", 10),
            ("UserPolicySizeQuota", 2048),
            ("GroupPolicySizeQuota", 5120),
            ("PolicySizeQuota", 6144),
            ("AssumeRolePolicySizeQuota", 2048),
            ("VersionsPerPolicyQuota", 5),
            ("GroupsPerUserQuota", 10),
            ("ServerCertificates", 0),
            ("ServerCertificatesQuota", 20),
            ("SigningCertificatesPerUserQuota", 2),
            ("Providers", 0),
            ("GlobalEndpointTokenVersion", 1),
        ])
    }
}
