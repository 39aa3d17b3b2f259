//! STS actions.

use serde_json::json;

use super::{ActionResult, Api, Call, WireError};
use crate::error::Error;
use crate::model::AccessKeyId;
use crate::service::CallerKind;

/// Runs one STS action.
pub fn dispatch(c: &Call<'_>, action: &str) -> ActionResult {
    match action {
        // No permission is needed to ask who you are, as in AWS.
        "GetCallerIdentity" => {
            let user_id = match &c.caller.kind {
                CallerKind::Root => c.caller.account.to_string(),
                CallerKind::User { user_id, .. } => user_id.clone(),
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
