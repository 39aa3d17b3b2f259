//! IAM actions: parameters in, service call, AWS-shaped result out.

use serde::Serialize;
use serde_json::{Value, json};

use super::paginate::{page_request, page_result};
use super::{ActionResult, Api, Call, WireError, paginate};
use crate::auth::PasswordPolicyUpdate;
use crate::error::Error;
use crate::model::{SecretString, Tag};
use crate::service::{NewRole, PolicyScope, SimulationInput, context_value, parse_status};
use crate::store::EntityKind;

fn to_value<T: Serialize>(v: T) -> Result<Value, WireError> {
    serde_json::to_value(v)
        .map_err(|e| Error::Internal(format!("cannot encode the result: {e}")).into())
}

fn obj(field: &str, v: impl Serialize) -> ActionResult {
    let mut m = serde_json::Map::new();
    m.insert(field.to_owned(), to_value(v)?);
    Ok(Some(Value::Object(m)))
}

fn tags(c: &Call<'_>) -> Result<Vec<Tag>, WireError> {
    c.params
        .structs("Tags", &["Key", "Value"])
        .into_iter()
        .map(|row| {
            let key = row.first().copied().flatten().unwrap_or("");
            let value = row.get(1).copied().flatten().unwrap_or("");
            Tag::new(key, value).map_err(WireError::from)
        })
        .collect()
}

fn tag_keys(c: &Call<'_>) -> Vec<String> {
    c.params
        .list("TagKeys")
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// The user, group or role an attachment/inline action names, from its action name.
fn entity(action: &str) -> Option<(EntityKind, &'static str)> {
    if action.contains("User") {
        Some((EntityKind::User, "UserName"))
    } else if action.contains("Group") {
        Some((EntityKind::Group, "GroupName"))
    } else if action.contains("Role") {
        Some((EntityKind::Role, "RoleName"))
    } else {
        None
    }
}

/// Runs one IAM action.
pub fn dispatch(c: &Call<'_>, action: &str) -> ActionResult {
    let (v, who, ctx, p) = (c.vault, c.caller, c.ctx, c.params);
    match action {
        // ---- users ----
        "CreateUser" => obj(
            "User",
            v.create_user(
                who,
                ctx,
                p.required("UserName")?,
                p.get("Path"),
                p.get("PermissionsBoundary"),
                &tags(c)?,
            )?,
        ),
        "GetUser" => obj("User", v.get_user(who, ctx, p.get("UserName"))?),
        "ListUsers" => {
            let page = page_request(p)?;
            page_result(
                v.list_users_page(who, ctx, p.get("PathPrefix"), &page)?,
                "Users",
            )
        }
        "UpdateUser" => {
            v.update_user(
                who,
                ctx,
                p.required("UserName")?,
                p.get("NewUserName"),
                p.get("NewPath"),
            )?;
            Ok(None)
        }
        "DeleteUser" => {
            v.delete_user(who, ctx, p.required("UserName")?, false)?;
            Ok(None)
        }
        "TagUser" => {
            v.tag_user(who, ctx, p.required("UserName")?, &tags(c)?)?;
            Ok(None)
        }
        "UntagUser" => {
            v.untag_user(who, ctx, p.required("UserName")?, &tag_keys(c))?;
            Ok(None)
        }
        "ListUserTags" => paginate(
            v.list_user_tags(who, ctx, p.required("UserName")?)?
                .into_iter()
                .map(to_value)
                .collect::<Result<_, _>>()?,
            "Key",
            p,
            "Tags",
        ),
        // ---- groups ----
        "CreateGroup" => obj(
            "Group",
            v.create_group(who, ctx, p.required("GroupName")?, p.get("Path"))?,
        ),
        "GetGroup" => {
            let g = v.get_group(who, ctx, p.required("GroupName")?)?;
            let mut out = paginate(
                g.users
                    .into_iter()
                    .map(to_value)
                    .collect::<Result<_, _>>()?,
                "UserName",
                p,
                "Users",
            )?;
            if let Some(Value::Object(m)) = &mut out {
                m.insert("Group".into(), to_value(g.group)?);
            }
            Ok(out)
        }
        "ListGroups" => {
            let page = page_request(p)?;
            page_result(
                v.list_groups_page(who, ctx, p.get("PathPrefix"), &page)?,
                "Groups",
            )
        }
        "DeleteGroup" => {
            v.delete_group(who, ctx, p.required("GroupName")?, false)?;
            Ok(None)
        }
        "AddUserToGroup" => {
            v.add_user_to_group(who, ctx, p.required("GroupName")?, p.required("UserName")?)?;
            Ok(None)
        }
        "RemoveUserFromGroup" => {
            v.remove_user_from_group(who, ctx, p.required("GroupName")?, p.required("UserName")?)?;
            Ok(None)
        }
        "ListGroupsForUser" => paginate(
            v.list_groups_for_user(who, ctx, p.required("UserName")?)?
                .into_iter()
                .map(to_value)
                .collect::<Result<_, _>>()?,
            "GroupName",
            p,
            "Groups",
        ),
        // ---- roles ----
        "CreateRole" => {
            let t = tags(c)?;
            obj(
                "Role",
                v.create_role(
                    who,
                    ctx,
                    &NewRole {
                        name: p.required("RoleName")?,
                        path: p.get("Path"),
                        trust_policy: p.required("AssumeRolePolicyDocument")?,
                        description: p.get("Description"),
                        max_session_duration: p.int("MaxSessionDuration")?,
                        boundary: p.get("PermissionsBoundary"),
                        tags: &t,
                    },
                )?,
            )
        }
        "GetRole" => obj("Role", v.get_role(who, ctx, p.required("RoleName")?)?),
        "ListRoles" => {
            let page = page_request(p)?;
            page_result(
                v.list_roles_page(who, ctx, p.get("PathPrefix"), &page)?,
                "Roles",
            )
        }
        "UpdateRole" => {
            v.update_role(
                who,
                ctx,
                p.required("RoleName")?,
                p.get("Description"),
                p.int("MaxSessionDuration")?,
            )?;
            Ok(Some(json!({})))
        }
        "UpdateAssumeRolePolicy" => {
            v.update_assume_role_policy(
                who,
                ctx,
                p.required("RoleName")?,
                p.required("PolicyDocument")?,
            )?;
            Ok(None)
        }
        "DeleteRole" => {
            v.delete_role(who, ctx, p.required("RoleName")?, false)?;
            Ok(None)
        }
        "TagRole" => {
            v.tag_role(who, ctx, p.required("RoleName")?, &tags(c)?)?;
            Ok(None)
        }
        "UntagRole" => {
            v.untag_role(who, ctx, p.required("RoleName")?, &tag_keys(c))?;
            Ok(None)
        }
        "ListRoleTags" => paginate(
            v.list_role_tags(who, ctx, p.required("RoleName")?)?
                .into_iter()
                .map(to_value)
                .collect::<Result<_, _>>()?,
            "Key",
            p,
            "Tags",
        ),
        // ---- instance profiles ----
        "CreateInstanceProfile" => obj(
            "InstanceProfile",
            v.create_instance_profile(who, ctx, p.required("InstanceProfileName")?, p.get("Path"))?,
        ),
        "GetInstanceProfile" => obj(
            "InstanceProfile",
            v.get_instance_profile(who, ctx, p.required("InstanceProfileName")?)?,
        ),
        "ListInstanceProfiles" => paginate(
            v.list_instance_profiles(who, ctx, p.get("PathPrefix"))?
                .into_iter()
                .map(to_value)
                .collect::<Result<_, _>>()?,
            "InstanceProfileName",
            p,
            "InstanceProfiles",
        ),
        "ListInstanceProfilesForRole" => paginate(
            v.list_instance_profiles_for_role(who, ctx, p.required("RoleName")?)?
                .into_iter()
                .map(to_value)
                .collect::<Result<_, _>>()?,
            "InstanceProfileName",
            p,
            "InstanceProfiles",
        ),
        "AddRoleToInstanceProfile" => {
            v.add_role_to_instance_profile(
                who,
                ctx,
                p.required("InstanceProfileName")?,
                p.required("RoleName")?,
            )?;
            Ok(None)
        }
        "RemoveRoleFromInstanceProfile" => {
            v.remove_role_from_instance_profile(
                who,
                ctx,
                p.required("InstanceProfileName")?,
                p.required("RoleName")?,
            )?;
            Ok(None)
        }
        "DeleteInstanceProfile" => {
            v.delete_instance_profile(who, ctx, p.required("InstanceProfileName")?, false)?;
            Ok(None)
        }
        // ---- managed policies ----
        "CreatePolicy" => obj(
            "Policy",
            v.create_policy(
                who,
                ctx,
                p.required("PolicyName")?,
                p.get("Path"),
                p.required("PolicyDocument")?,
                p.get("Description"),
            )?,
        ),
        "GetPolicy" => obj("Policy", v.get_policy(who, ctx, p.required("PolicyArn")?)?),
        "ListPolicies" => {
            let scope = p
                .get("Scope")
                .map(PolicyScope::parse)
                .transpose()?
                .unwrap_or_default();
            let only = p.bool("OnlyAttached")?.unwrap_or(false);
            paginate(
                v.list_policies(who, ctx, scope, only, p.get("PathPrefix"))?
                    .into_iter()
                    .map(to_value)
                    .collect::<Result<_, _>>()?,
                "PolicyName",
                p,
                "Policies",
            )
        }
        "DeletePolicy" => {
            v.delete_policy(who, ctx, p.required("PolicyArn")?, false)?;
            Ok(None)
        }
        "CreatePolicyVersion" => obj(
            "PolicyVersion",
            v.create_policy_version(
                who,
                ctx,
                p.required("PolicyArn")?,
                p.required("PolicyDocument")?,
                p.bool("SetAsDefault")?.unwrap_or(false),
            )?,
        ),
        "GetPolicyVersion" => obj(
            "PolicyVersion",
            v.get_policy_version(who, ctx, p.required("PolicyArn")?, p.required("VersionId")?)?,
        ),
        "ListPolicyVersions" => paginate(
            v.list_policy_versions(who, ctx, p.required("PolicyArn")?)?
                .into_iter()
                .map(to_value)
                .collect::<Result<_, _>>()?,
            "__none",
            p,
            "Versions",
        ),
        "DeletePolicyVersion" => {
            v.delete_policy_version(who, ctx, p.required("PolicyArn")?, p.required("VersionId")?)?;
            Ok(None)
        }
        "SetDefaultPolicyVersion" => {
            v.set_default_policy_version(
                who,
                ctx,
                p.required("PolicyArn")?,
                p.required("VersionId")?,
            )?;
            Ok(None)
        }
        // ---- attachments, inline policies, boundaries ----
        "AttachUserPolicy" | "AttachGroupPolicy" | "AttachRolePolicy" => {
            let (k, f) =
                entity(action).ok_or_else(|| WireError::invalid_action(action, Api::Iam))?;
            v.attach_policy(who, ctx, k, p.required(f)?, p.required("PolicyArn")?)?;
            Ok(None)
        }
        "DetachUserPolicy" | "DetachGroupPolicy" | "DetachRolePolicy" => {
            let (k, f) =
                entity(action).ok_or_else(|| WireError::invalid_action(action, Api::Iam))?;
            v.detach_policy(who, ctx, k, p.required(f)?, p.required("PolicyArn")?)?;
            Ok(None)
        }
        "ListAttachedUserPolicies" | "ListAttachedGroupPolicies" | "ListAttachedRolePolicies" => {
            let (k, f) =
                entity(action).ok_or_else(|| WireError::invalid_action(action, Api::Iam))?;
            paginate(
                v.list_attached_policies(who, ctx, k, p.required(f)?)?
                    .into_iter()
                    .map(to_value)
                    .collect::<Result<_, _>>()?,
                "PolicyName",
                p,
                "AttachedPolicies",
            )
        }
        "PutUserPolicy" | "PutGroupPolicy" | "PutRolePolicy" => {
            let (k, f) =
                entity(action).ok_or_else(|| WireError::invalid_action(action, Api::Iam))?;
            v.put_inline_policy(
                who,
                ctx,
                k,
                p.required(f)?,
                p.required("PolicyName")?,
                p.required("PolicyDocument")?,
            )?;
            Ok(None)
        }
        "GetUserPolicy" | "GetGroupPolicy" | "GetRolePolicy" => {
            let (k, f) =
                entity(action).ok_or_else(|| WireError::invalid_action(action, Api::Iam))?;
            let ip = v.get_inline_policy(who, ctx, k, p.required(f)?, p.required("PolicyName")?)?;
            let mut m = serde_json::Map::new();
            m.insert(f.to_owned(), Value::String(ip.owner_name));
            m.insert("PolicyName".into(), Value::String(ip.policy_name));
            m.insert("PolicyDocument".into(), Value::String(ip.policy_document));
            Ok(Some(Value::Object(m)))
        }
        "ListUserPolicies" | "ListGroupPolicies" | "ListRolePolicies" => {
            let (k, f) =
                entity(action).ok_or_else(|| WireError::invalid_action(action, Api::Iam))?;
            let names = v.list_inline_policies(who, ctx, k, p.required(f)?)?;
            let items: Vec<Value> = names.into_iter().map(|n| json!({ "n": n })).collect();
            let mut out = paginate(items, "n", p, "PolicyNames")?;
            if let Some(Value::Array(a)) = out.as_mut().and_then(|o| o.get_mut("PolicyNames")) {
                for item in a.iter_mut() {
                    *item = item.get("n").cloned().unwrap_or(Value::Null);
                }
            }
            Ok(out)
        }
        "DeleteUserPolicy" | "DeleteGroupPolicy" | "DeleteRolePolicy" => {
            let (k, f) =
                entity(action).ok_or_else(|| WireError::invalid_action(action, Api::Iam))?;
            v.delete_inline_policy(who, ctx, k, p.required(f)?, p.required("PolicyName")?)?;
            Ok(None)
        }
        "PutUserPermissionsBoundary" | "PutRolePermissionsBoundary" => {
            let (k, f) =
                entity(action).ok_or_else(|| WireError::invalid_action(action, Api::Iam))?;
            v.put_permissions_boundary(
                who,
                ctx,
                k,
                p.required(f)?,
                p.required("PermissionsBoundary")?,
            )?;
            Ok(None)
        }
        "DeleteUserPermissionsBoundary" | "DeleteRolePermissionsBoundary" => {
            let (k, f) =
                entity(action).ok_or_else(|| WireError::invalid_action(action, Api::Iam))?;
            v.delete_permissions_boundary(who, ctx, k, p.required(f)?)?;
            Ok(None)
        }
        // ---- access keys ----
        "CreateAccessKey" => obj(
            "AccessKey",
            v.create_access_key(who, ctx, p.get("UserName"))?,
        ),
        "ListAccessKeys" => paginate(
            v.list_access_keys(who, ctx, p.get("UserName"))?
                .into_iter()
                .map(to_value)
                .collect::<Result<_, _>>()?,
            "__none",
            p,
            "AccessKeyMetadata",
        ),
        "UpdateAccessKey" => {
            v.update_access_key(
                who,
                ctx,
                p.get("UserName"),
                p.required("AccessKeyId")?,
                parse_status(p.required("Status")?)?,
            )?;
            Ok(None)
        }
        "DeleteAccessKey" => {
            v.delete_access_key(who, ctx, p.get("UserName"), p.required("AccessKeyId")?)?;
            Ok(None)
        }
        "GetAccessKeyLastUsed" => Ok(Some(to_value(v.get_access_key_last_used(
            who,
            ctx,
            p.required("AccessKeyId")?,
        )?)?)),
        // ---- login profiles and passwords ----
        "CreateLoginProfile" => obj(
            "LoginProfile",
            v.create_login_profile(
                who,
                ctx,
                p.required("UserName")?,
                &SecretString::new(p.required("Password")?.to_owned()),
                p.bool("PasswordResetRequired")?.unwrap_or(false),
            )?,
        ),
        "GetLoginProfile" => obj(
            "LoginProfile",
            v.get_login_profile(who, ctx, p.required("UserName")?)?,
        ),
        "UpdateLoginProfile" => {
            let pw = p.get("Password").map(|s| SecretString::new(s.to_owned()));
            v.update_login_profile(
                who,
                ctx,
                p.required("UserName")?,
                pw.as_ref(),
                p.bool("PasswordResetRequired")?,
            )?;
            Ok(None)
        }
        "DeleteLoginProfile" => {
            v.delete_login_profile(who, ctx, p.required("UserName")?)?;
            Ok(None)
        }
        "ChangePassword" => {
            v.change_password(
                who,
                ctx,
                &SecretString::new(p.required("OldPassword")?.to_owned()),
                &SecretString::new(p.required("NewPassword")?.to_owned()),
            )?;
            Ok(None)
        }
        "GetAccountPasswordPolicy" => {
            obj("PasswordPolicy", v.get_account_password_policy(who, ctx)?)
        }
        "UpdateAccountPasswordPolicy" => {
            let u = PasswordPolicyUpdate {
                minimum_password_length: p.int("MinimumPasswordLength")?,
                require_symbols: p.bool("RequireSymbols")?,
                require_numbers: p.bool("RequireNumbers")?,
                require_uppercase_characters: p.bool("RequireUppercaseCharacters")?,
                require_lowercase_characters: p.bool("RequireLowercaseCharacters")?,
                allow_users_to_change_password: p.bool("AllowUsersToChangePassword")?,
                max_password_age: p.int("MaxPasswordAge")?,
                password_reuse_prevention: p.int("PasswordReusePrevention")?,
                hard_expiry: p.bool("HardExpiry")?,
                reject_common_passwords: p.bool("RejectCommonPasswords")?,
            };
            v.update_account_password_policy(who, ctx, &u)?;
            Ok(None)
        }
        "DeleteAccountPasswordPolicy" => {
            v.delete_account_password_policy(who, ctx)?;
            Ok(None)
        }
        // ---- MFA ----
        "CreateVirtualMFADevice" => obj(
            "VirtualMFADevice",
            v.create_virtual_mfa_device(
                who,
                ctx,
                p.required("VirtualMFADeviceName")?,
                p.get("Path"),
            )?,
        ),
        "EnableMFADevice" => {
            v.enable_mfa_device(
                who,
                ctx,
                p.get("UserName"),
                p.required("SerialNumber")?,
                p.required("AuthenticationCode1")?,
                p.required("AuthenticationCode2")?,
            )?;
            Ok(None)
        }
        "ResyncMFADevice" => {
            v.resync_mfa_device(
                who,
                ctx,
                p.get("UserName"),
                p.required("SerialNumber")?,
                p.required("AuthenticationCode1")?,
                p.required("AuthenticationCode2")?,
            )?;
            Ok(None)
        }
        "DeactivateMFADevice" => {
            v.deactivate_mfa_device(who, ctx, p.get("UserName"), p.required("SerialNumber")?)?;
            Ok(None)
        }
        "DeleteVirtualMFADevice" => {
            v.delete_virtual_mfa_device(who, ctx, p.required("SerialNumber")?)?;
            Ok(None)
        }
        "ListMFADevices" => paginate(
            v.list_mfa_devices(who, ctx, p.get("UserName"))?
                .into_iter()
                .map(to_value)
                .collect::<Result<_, _>>()?,
            "SerialNumber",
            p,
            "MFADevices",
        ),
        "ListVirtualMFADevices" => paginate(
            v.list_virtual_mfa_devices(who, ctx, p.get("AssignmentStatus"))?
                .into_iter()
                .map(to_value)
                .collect::<Result<_, _>>()?,
            "SerialNumber",
            p,
            "VirtualMFADevices",
        ),
        // ---- reports ----
        "GenerateCredentialReport" => {
            let (state, description) = v.generate_credential_report(who, ctx, false)?;
            Ok(Some(json!({ "State": state, "Description": description })))
        }
        "GetCredentialReport" => {
            use base64::Engine as _;
            let r = v.get_credential_report(who, ctx)?;
            Ok(Some(json!({
                "Content": base64::engine::general_purpose::STANDARD.encode(r.content.as_bytes()),
                "ReportFormat": r.report_format,
                "GeneratedTime": crate::service::iso8601(&r.generated_time),
            })))
        }
        "GetAccountSummary" => {
            let entries: Vec<Value> = v
                .get_account_summary(who, ctx)?
                .into_iter()
                .map(|(k, n)| json!({ "key": k, "value": n }))
                .collect();
            Ok(Some(json!({ "SummaryMap": entries })))
        }
        // ---- simulation ----
        "SimulateCustomPolicy" | "SimulatePrincipalPolicy" => {
            simulate(c, action == "SimulatePrincipalPolicy")
        }
        _ => Err(WireError::invalid_action(action, Api::Iam)),
    }
}

/// SimulateCustomPolicy / SimulatePrincipalPolicy: one evaluation per (action, resource).
fn simulate(c: &Call<'_>, principal: bool) -> ActionResult {
    let p = c.params;
    let mut context = Vec::new();
    for i in 1..=super::query::MAX_PARAMS {
        let base = format!("ContextEntries.member.{i}");
        let Some(key) = p.get(&format!("{base}.ContextKeyName")) else {
            break;
        };
        let ty = p.get(&format!("{base}.ContextKeyType")).unwrap_or("string");
        let values = p.list(&format!("{base}.ContextKeyValues"));
        let value = context_value(ty, &values)
            .map_err(|e| Error::InvalidInput(format!("context entry `{key}`: {e}")))?;
        context.push((key.to_owned(), value));
    }
    let principal_user = if principal {
        let arn = p.required("PolicySourceArn")?;
        let name = arn
            .split_once(":user/")
            .map(|(_, rest)| rest.rsplit('/').next().unwrap_or(rest).to_owned())
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "PolicySourceArn `{arn}` is not a user arn; only users are supported"
                ))
            })?;
        Some(name)
    } else {
        None
    };
    let actions = p.list("ActionNames");
    if actions.is_empty() {
        return Err(Error::Validation("1 validation error detected: value null at `actionNames` failed to satisfy constraint: member must not be null".into()).into());
    }
    let resources: Vec<Option<String>> = match p.list("ResourceArns") {
        r if r.is_empty() => vec![None],
        r => r.into_iter().map(|s| Some(s.to_owned())).collect(),
    };
    let boundary = p
        .list("PermissionsBoundaryPolicyInputList")
        .first()
        .map(|s| (*s).to_owned());
    let mut results = Vec::new();
    for action in &actions {
        for resource in &resources {
            let input = SimulationInput {
                identity_policies: p
                    .list("PolicyInputList")
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                principal_user: principal_user.clone(),
                boundary: boundary.clone(),
                session_policies: Vec::new(),
                resource_policy: p.get("ResourcePolicy").map(str::to_owned),
                resource_owner: p.get("ResourceOwner").map(str::to_owned),
                caller_arn: p.get("CallerArn").map(str::to_owned),
                action: (*action).to_owned(),
                resource: resource.clone(),
                context: context.clone(),
            };
            let r = c.vault.simulate(c.caller, c.ctx, &input)?;
            let matched: Vec<Value> = r
                .matched_statements
                .iter()
                .map(|m| {
                    json!({
                        "SourcePolicyId": m.policy_id,
                        "SourcePolicyType": source_type(m.policy_type),
                    })
                })
                .collect();
            results.push(json!({
                "EvalActionName": action,
                "EvalResourceName": resource.clone().unwrap_or_else(|| "*".into()),
                "EvalDecision": r.decision,
                "MatchedStatements": matched,
                "MissingContextValues": [],
            }));
        }
    }
    Ok(Some(
        json!({ "EvaluationResults": results, "IsTruncated": false }),
    ))
}

/// AWS's `PolicySourceType` for a policy type.
fn source_type(policy_type: &str) -> &'static str {
    match policy_type {
        "permissions boundary" => "user",
        "resource-based policy" => "resource",
        "session policy" => "none",
        _ => "user",
    }
}
