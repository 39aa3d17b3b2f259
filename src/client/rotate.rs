//! Safe rotation of the access key in a credentials-file profile.
//!
//! 1. create a new key with the current one;
//! 2. write it into the file atomically (keeping the file's mode);
//! 3. prove it with GetCallerIdentity;
//! 4. deactivate the old key, then delete it.
//!
//! Whatever fails, the file is left holding a key that works, and the report says what
//! happened and what, if anything, is left to clean up.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::credentials_file::{read_profile, write_profile};
use super::{Client, Credentials};
use crate::error::{Error, Result};
use crate::model::SecretString;

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotateReport {
    /// The key that was in the profile.
    pub old_access_key_id: String,
    /// The key now in the profile.
    pub new_access_key_id: String,
    /// The identity the new key proved.
    pub arn: String,
    /// True once the old key is deleted.
    pub old_key_deleted: bool,
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str().map(str::to_owned)
}

/// Rotates the key of `profile` in the credentials file at `path`. With `mfa`
/// (serial, code), the IAM calls run in a GetSessionToken session made from the old key
/// with that code, for accounts whose policies require MFA for IAM; the old key is then
/// deleted in one step (deactivating it would end that session).
pub fn rotate_key(
    client: &Client,
    path: &Path,
    profile: &str,
    mfa: Option<(&str, &str)>,
) -> Result<RotateReport> {
    let old = read_profile(path, profile)?;
    if old.session_token.is_some() || old.access_key_id.starts_with("ASIA") {
        return Err(Error::InvalidInput(format!(
            "profile `{profile}` holds temporary credentials; only long-term keys (AKIA…) are rotated"
        )));
    }
    let acting = match mfa {
        Some((serial, code)) => {
            let s = super::login::session_from_profile(client, &old, None, Some((serial, code)))?;
            s.credentials()
        }
        None => old.clone(),
    };
    // 1. Create the new key while the old one still works.
    let created = client.call(&acting, "iam", "CreateAccessKey", &[]).map_err(|e| match e {
        Error::LimitExceeded(_) => Error::LimitExceeded(
            "this user already has two access keys; delete the one not in use (iamvault access-key delete, or aws iam delete-access-key), then rotate again. Nothing was changed".into(),
        ),
        other => other,
    })?;
    let new_id = text(&created, &["AccessKey", "AccessKeyId"]).ok_or_else(|| {
        Error::Remote(
            "MalformedResponse".into(),
            "CreateAccessKey returned no key id".into(),
        )
    })?;
    let new_secret = text(&created, &["AccessKey", "SecretAccessKey"]).ok_or_else(|| {
        Error::Remote(
            "MalformedResponse".into(),
            "CreateAccessKey returned no secret".into(),
        )
    })?;
    let new = Credentials {
        access_key_id: new_id.clone(),
        secret_access_key: SecretString::new(new_secret),
        session_token: None,
    };
    let undo_new = |why: Error| -> Error {
        match client.call(
            &acting,
            "iam",
            "DeleteAccessKey",
            &[("AccessKeyId", &new_id)],
        ) {
            Ok(_) => Error::Remote(
                "RotationAborted".into(),
                format!(
                    "{why}; the new key {new_id} was deleted again and the profile still holds the old key"
                ),
            ),
            Err(e2) => Error::Remote(
                "RotationAborted".into(),
                format!(
                    "{why}; the profile still holds the old key, but deleting the new key {new_id} failed too ({e2}): delete it by hand"
                ),
            ),
        }
    };
    // 2. Write it.
    if let Err(e) = write_profile(path, profile, &new) {
        return Err(undo_new(e));
    }
    // 3. Prove it.
    let ident = match client.call(&new, "sts", "GetCallerIdentity", &[]) {
        Ok(v) => v,
        Err(e) => {
            // Put the old key back before anything else.
            let restored = write_profile(path, profile, &old);
            return Err(match restored {
                Ok(()) => undo_new(Error::Remote(
                    "RotationAborted".into(),
                    format!("the new key did not work ({e})"),
                )),
                Err(w) => Error::Remote(
                    "RotationAborted".into(),
                    format!(
                        "the new key did not work ({e}) and restoring the old key in the file failed ({w}); the new key {new_id} is in the file"
                    ),
                ),
            });
        }
    };
    let arn = text(&ident, &["Arn"]).unwrap_or_default();
    // 4. Retire the old key, using the new one.
    let mut report = RotateReport {
        old_access_key_id: old.access_key_id.clone(),
        new_access_key_id: new_id.clone(),
        arn,
        old_key_deleted: false,
    };
    if mfa.is_some() {
        client
            .call(&acting, "iam", "DeleteAccessKey", &[("AccessKeyId", &old.access_key_id)])
            .map_err(|e| {
                Error::Remote(
                    "RotationIncomplete".into(),
                    format!("the profile holds the new key {new_id}, but deleting the old key {} failed ({e}); delete it by hand", old.access_key_id),
                )
            })?;
        report.old_key_deleted = true;
        return Ok(report);
    }
    client
        .call(&new, "iam", "UpdateAccessKey", &[("AccessKeyId", &old.access_key_id), ("Status", "Inactive")])
        .map_err(|e| {
            Error::Remote(
                "RotationIncomplete".into(),
                format!("the profile now holds the new key {new_id}, but deactivating the old key {} failed ({e}); deactivate and delete it by hand", old.access_key_id),
            )
        })?;
    client
        .call(&new, "iam", "DeleteAccessKey", &[("AccessKeyId", &old.access_key_id)])
        .map_err(|e| {
            Error::Remote(
                "RotationIncomplete".into(),
                format!("the profile holds the new key {new_id} and the old key {} is inactive, but deleting it failed ({e})", old.access_key_id),
            )
        })?;
    report.old_key_deleted = true;
    Ok(report)
}
