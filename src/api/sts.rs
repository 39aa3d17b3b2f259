//! STS actions.

use serde_json::json;

use super::{ActionResult, Api, Call, WireError};
use crate::error::Error;
use crate::model::AccessKeyId;
use crate::service::{AssumeRoleRequest, CallerKind};

/// Runs one STS action.
pub fn dispatch(c: &Call<'_>, action: &str) -> ActionResult {
    match action {
        // No permission is needed to ask who you are, as in AWS.
        "GetCallerIdentity" => {
            let user_id = match &c.caller.kind {
                CallerKind::Root => c.caller.account.to_string(),
                CallerKind::User { user_id, .. } => user_id.clone(),
                CallerKind::Session(s) => s.principal_id.clone(),
            };
            Ok(Some(json!({
                "UserId": user_id,
                "Account": c.caller.account.as_str(),
                "Arn": c.caller.arn,
            })))
        }
        "GetAccessKeyInfo" => {
            let id = c.params.required("AccessKeyId")?;
            AccessKeyId::parse(id)?;
            let account = c.vault.access_key_account(id)?.ok_or_else(|| {
                Error::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
            })?;
            Ok(Some(json!({ "Account": account })))
        }
        "AssumeRole" => {
            let p = c.params;
            let tags = p
                .structs("Tags", &["Key", "Value"])
                .into_iter()
                .map(|row| {
                    crate::model::Tag::new(
                        row.first().copied().flatten().unwrap_or(""),
                        row.get(1).copied().flatten().unwrap_or(""),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            let req = AssumeRoleRequest {
                role_arn: p.required("RoleArn")?.to_owned(),
                session_name: p.required("RoleSessionName")?.to_owned(),
                duration_seconds: p.int("DurationSeconds")?,
                external_id: p.get("ExternalId").map(str::to_owned),
                serial_number: p.get("SerialNumber").map(str::to_owned),
                token_code: p.get("TokenCode").map(str::to_owned),
                policy: p.get("Policy").map(str::to_owned),
                policy_arns: p
                    .structs("PolicyArns", &["arn"])
                    .into_iter()
                    .filter_map(|r| r.first().copied().flatten().map(str::to_owned))
                    .collect(),
                tags,
                transitive_tag_keys: p
                    .list("TransitiveTagKeys")
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                source_identity: p.get("SourceIdentity").map(str::to_owned),
            };
            let s = c.vault.assume_role(c.caller, c.ctx, &req)?;
            let mut out = json!({
                "Credentials": serde_json::to_value(&s).map_err(|e| Error::Internal(e.to_string()))?,
                "AssumedRoleUser": { "AssumedRoleId": s.claims.principal_id, "Arn": s.claims.principal_arn },
                "PackedPolicySize": s.packed_policy_size,
            });
            if let (Some(si), Some(o)) = (&s.claims.source_identity, out.as_object_mut()) {
                o.insert("SourceIdentity".into(), json!(si));
            }
            Ok(Some(out))
        }
        "GetSessionToken" => {
            let p = c.params;
            let s = c.vault.get_session_token(
                c.caller,
                Some(c.access_key_id),
                p.int("DurationSeconds")?,
                p.get("SerialNumber"),
                p.get("TokenCode"),
            )?;
            Ok(Some(
                json!({ "Credentials": serde_json::to_value(&s).map_err(|e| Error::Internal(e.to_string()))? }),
            ))
        }
        "DecodeAuthorizationMessage" => {
            let decoded = c.vault.decode_authorization_message(
                c.caller,
                c.ctx,
                c.params.required("EncodedMessage")?,
            )?;
            Ok(Some(json!({ "DecodedMessage": decoded })))
        }
        _ => Err(WireError::invalid_action(action, Api::Sts)),
    }
}
