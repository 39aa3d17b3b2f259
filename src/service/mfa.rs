//! Virtual MFA devices: create, enable (two consecutive codes), resync, deactivate,
//! delete, list. Seeds are sealed with associated data naming the serial number.

use serde::Serialize;
use time::OffsetDateTime;

use super::signin::mfa_aad;
use super::users::arn_for;
use super::{Caller, CallerKind, RequestContext, Vault, name, no_such};
use crate::auth::totp;
use crate::crypto::Purpose;
use crate::error::{Error, Result};
use crate::model::{NameKind, PolicyPath, SecretBytes};
use crate::store::{MfaDeviceRow, UserRow};

/// Most MFA devices per user (and per root).
pub const MAX_MFA_DEVICES: usize = 8;

/// A new virtual device. Carries the seed, so it has no `Debug`; it is serialized once,
/// into the response that creates the device.
pub struct NewVirtualMfaDevice {
    /// `arn:aws:iam::ACCT:mfa/NAME`.
    pub serial_number: String,
    /// The seed.
    pub seed: SecretBytes,
    /// The `otpauth://` URI.
    pub otpauth_uri: String,
    /// A PNG QR code of the URI.
    pub qr_png: Vec<u8>,
}

impl Serialize for NewVirtualMfaDevice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use base64::Engine as _;
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("VirtualMFADevice", 3)?;
        st.serialize_field("SerialNumber", &self.serial_number)?;
        // AWS returns the base32 seed and the PNG base64-encoded (blob fields).
        let b64 = base64::engine::general_purpose::STANDARD;
        st.serialize_field(
            "Base32StringSeed",
            &b64.encode(totp::seed_base32(&self.seed)),
        )?;
        st.serialize_field("QRCodePNG", &b64.encode(&self.qr_png))?;
        st.end()
    }
}

/// An MFA device as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MfaDevice {
    /// Owner (empty for the root user).
    pub user_name: String,
    /// Serial number.
    pub serial_number: String,
    /// When enabled.
    #[serde(serialize_with = "super::types::ser_time_pub")]
    pub enable_date: OffsetDateTime,
}

/// A virtual MFA device as listed by ListVirtualMFADevices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VirtualMfaDevice {
    /// Serial number.
    pub serial_number: String,
    /// The user it is enabled for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<serde_json::Value>,
    /// When enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_date: Option<String>,
}

/// Whose device: a user, or the account root (the local CLI only).
fn owner(caller: &Caller, user_name: Option<&str>) -> Result<Option<String>> {
    match (user_name, &caller.kind) {
        (Some(u), _) => Ok(Some(u.to_owned())),
        (None, CallerKind::Root) => Ok(None),
        (None, _) => caller.user_name().map(Some).ok_or_else(|| {
            Error::InvalidInput(
                "UserName is required when the request is signed with role credentials".into(),
            )
        }),
    }
}

impl Vault {
    fn resolve_owner(
        &self,
        tx: &crate::store::ReadTx<'_>,
        caller: &Caller,
        ctx: &RequestContext,
        action: &str,
        user_name: Option<&str>,
    ) -> Result<Option<UserRow>> {
        match owner(caller, user_name)? {
            Some(u) => {
                let n = name(NameKind::User, &u)?;
                let found = tx.user(caller.account.as_str(), n.canonical())?;
                self.authorize(
                    tx,
                    caller,
                    action,
                    &arn_for(&caller.account, found.as_ref(), &n),
                    ctx,
                )?;
                Ok(Some(found.ok_or_else(|| no_such("user", n.as_str()))?))
            }
            None => {
                self.authorize(tx, caller, action, &caller.arn, ctx)?;
                Ok(None)
            }
        }
    }

    fn device(
        &self,
        tx: &crate::store::ReadTx<'_>,
        caller: &Caller,
        serial: &str,
    ) -> Result<MfaDeviceRow> {
        tx.mfa_device(serial)?
            .filter(|d| d.account_id == caller.account.as_str())
            .ok_or_else(|| {
                Error::NoSuchEntity(format!(
                    "MFA device with serial number {serial} does not exist."
                ))
            })
    }

    /// CreateVirtualMFADevice.
    pub fn create_virtual_mfa_device(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        device_name: &str,
        path: Option<&str>,
    ) -> Result<NewVirtualMfaDevice> {
        let n = name(NameKind::User, device_name).map_err(|_| {
            Error::Validation(format!(
                "1 validation error detected: value `{}` at `virtualMFADeviceName` failed to satisfy constraint: member must satisfy regular expression pattern: [\\w+=,.@-]+",
                device_name.escape_default()
            ))
        })?;
        let path = path
            .map(PolicyPath::parse)
            .transpose()?
            .unwrap_or_else(PolicyPath::root);
        let serial = format!("arn:aws:iam::{}:mfa{}{}", caller.account, path, n);
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:CreateVirtualMFADevice", &serial, ctx)?;
        if tx.mfa_device(&serial)?.is_some() {
            return Err(Error::EntityAlreadyExists(
                "MFADevice entity at the same path and name already exists.".into(),
            ));
        }
        let seed = totp::generate_seed(self.env.rng.as_ref())?;
        let sealed = self.keys.sealer(Purpose::TotpSeed).seal(
            self.env.rng.as_ref(),
            &mfa_aad(&serial),
            seed.expose(),
        )?;
        tx.insert_mfa_device(&MfaDeviceRow {
            serial_number: serial.clone(),
            account_id: caller.account.to_string(),
            name: n.as_str().to_owned(),
            path: path.to_string(),
            sealed_seed: sealed,
            user_id: None,
            root: false,
            enabled_at: None,
            last_step: None,
            created_at: self.now(),
        })?;
        let label = format!("{}@{}", n.as_str(), caller.account);
        let out = NewVirtualMfaDevice {
            otpauth_uri: totp::otpauth_uri(&seed, &label)?,
            qr_png: totp::qr_png(&seed, &label)?,
            serial_number: serial,
            seed,
        };
        self.commit(tx)?;
        Ok(out)
    }

    fn seed_of(&self, d: &MfaDeviceRow) -> Result<SecretBytes> {
        self.keys
            .sealer(Purpose::TotpSeed)
            .open(&mfa_aad(&d.serial_number), &d.sealed_seed)
    }

    /// EnableMFADevice: assigns a device to a user (or, locally, the root) after two
    /// consecutive codes.
    pub fn enable_mfa_device(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: Option<&str>,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()> {
        let tx = self.store().write()?;
        let user = self.resolve_owner(&tx, caller, ctx, "iam:EnableMFADevice", user_name)?;
        let d = self.device(&tx, caller, serial)?;
        if d.user_id.is_some() || d.root {
            return Err(Error::EntityAlreadyExists(
                "MFA Device is already in use.".into(),
            ));
        }
        let count = match &user {
            Some(u) => tx.mfa_devices_for_user(&u.user_id)?.len(),
            None => tx
                .mfa_devices(caller.account.as_str())?
                .iter()
                .filter(|d| d.root)
                .count(),
        };
        if count >= MAX_MFA_DEVICES {
            return Err(Error::LimitExceeded(format!(
                "Cannot exceed quota for MFADevicesPerUser: {MAX_MFA_DEVICES}"
            )));
        }
        let seed = self.seed_of(&d)?;
        let step = totp::verify_consecutive(seed.expose(), code1, code2, self.now(), d.last_step)?;
        tx.set_mfa_assignment(
            serial,
            user.as_ref().map(|u| u.user_id.as_str()),
            user.is_none(),
            Some(self.now()),
            Some(step),
        )?;
        self.commit(tx)
    }

    /// ResyncMFADevice: two consecutive codes re-anchor an enabled device.
    pub fn resync_mfa_device(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: Option<&str>,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()> {
        let tx = self.store().write()?;
        let user = self.resolve_owner(&tx, caller, ctx, "iam:ResyncMFADevice", user_name)?;
        let d = self.device(&tx, caller, serial)?;
        let mine = match &user {
            Some(u) => d.user_id.as_deref() == Some(u.user_id.as_str()),
            None => d.root,
        };
        if !mine {
            return Err(Error::NoSuchEntity(format!(
                "MFA device {serial} is not enabled for this user."
            )));
        }
        let seed = self.seed_of(&d)?;
        let step = totp::verify_consecutive(seed.expose(), code1, code2, self.now(), d.last_step)?;
        if !tx.advance_mfa_step(serial, step)? {
            return Err(Error::InvalidAuthenticationCode(
                "Authentication code for the MFA device is not valid.".into(),
            ));
        }
        self.commit(tx)
    }

    /// DeactivateMFADevice: unassigns a device; it can be enabled again or deleted.
    pub fn deactivate_mfa_device(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: Option<&str>,
        serial: &str,
    ) -> Result<()> {
        let tx = self.store().write()?;
        let user = self.resolve_owner(&tx, caller, ctx, "iam:DeactivateMFADevice", user_name)?;
        let d = self.device(&tx, caller, serial)?;
        let mine = match &user {
            Some(u) => d.user_id.as_deref() == Some(u.user_id.as_str()),
            None => d.root,
        };
        if !mine {
            return Err(Error::NoSuchEntity(format!(
                "MFA device {serial} is not enabled for this user."
            )));
        }
        // The last accepted step is kept, so re-enabling cannot replay an old code.
        tx.set_mfa_assignment(serial, None, false, None, d.last_step)?;
        self.commit(tx)
    }

    /// DeleteVirtualMFADevice: an enabled device must be deactivated first.
    pub fn delete_virtual_mfa_device(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        serial: &str,
    ) -> Result<()> {
        let tx = self.store().write()?;
        self.authorize(&tx, caller, "iam:DeleteVirtualMFADevice", serial, ctx)?;
        let d = self.device(&tx, caller, serial)?;
        if d.user_id.is_some() || d.root {
            return Err(Error::DeleteConflict(
                "MFA device is still in use; deactivate it first.".into(),
            ));
        }
        tx.delete_mfa_device(serial)?;
        self.commit(tx)
    }

    /// ListMFADevices: the devices enabled for a user (or, locally, the root).
    pub fn list_mfa_devices(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        user_name: Option<&str>,
    ) -> Result<Vec<MfaDevice>> {
        let tx = self.store().read()?;
        let user = self.resolve_owner(&tx, caller, ctx, "iam:ListMFADevices", user_name)?;
        let rows = match &user {
            Some(u) => tx.mfa_devices_for_user(&u.user_id)?,
            None => tx
                .mfa_devices(caller.account.as_str())?
                .into_iter()
                .filter(|d| d.root)
                .collect(),
        };
        Ok(rows
            .into_iter()
            .map(|d| MfaDevice {
                user_name: user.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
                serial_number: d.serial_number,
                enable_date: d.enabled_at.unwrap_or(d.created_at),
            })
            .collect())
    }

    /// ListVirtualMFADevices, filtered by `Assigned`, `Unassigned` or `Any`.
    pub fn list_virtual_mfa_devices(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        status: Option<&str>,
    ) -> Result<Vec<VirtualMfaDevice>> {
        let status = status.unwrap_or("Any");
        if !matches!(status, "Assigned" | "Unassigned" | "Any") {
            return Err(Error::Validation(format!(
                "1 validation error detected: value `{}` at `assignmentStatus` failed to satisfy constraint: member must satisfy enum value set: [Assigned, Unassigned, Any]",
                status.escape_default()
            )));
        }
        let tx = self.store().read()?;
        self.authorize(
            &tx,
            caller,
            "iam:ListVirtualMFADevices",
            &format!("arn:aws:iam::{}:mfa/", caller.account),
            ctx,
        )?;
        let mut out = Vec::new();
        for d in tx.mfa_devices(caller.account.as_str())? {
            let assigned = d.user_id.is_some() || d.root;
            if (status == "Assigned" && !assigned) || (status == "Unassigned" && assigned) {
                continue;
            }
            let user = match &d.user_id {
                Some(id) => tx.user_by_id(id)?.map(|u| {
                    serde_json::to_value(super::users::to_user(u, Vec::new())).unwrap_or_default()
                }),
                None if d.root => {
                    Some(serde_json::json!({"Arn": caller.arn, "UserId": caller.account.as_str()}))
                }
                None => None,
            };
            out.push(VirtualMfaDevice {
                serial_number: d.serial_number,
                user,
                enable_date: d.enabled_at.as_ref().map(super::types::iso8601),
            });
        }
        Ok(out)
    }
}
