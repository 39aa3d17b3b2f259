//! `iamvault login-profile|password-policy|mfa|settings|credential-report|doctor`.

use std::io::BufRead;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::init::read_secret_file;
use super::{Ctx, Output};
use crate::auth::PasswordPolicyUpdate;
use crate::auth::totp;
use crate::error::{Error, Result};
use crate::service::LockoutSettings;

/// Login profile (console password) commands.
#[derive(Debug, Subcommand)]
pub enum LoginProfileCmd {
    /// Give a user a console password.
    #[command(
        after_help = "Example:\n  iamvault login-profile create alice --password-file pw.txt --reset-required"
    )]
    Create {
        /// User name.
        user: String,
        /// File holding the password (one trailing newline is stripped).
        #[arg(long)]
        password_file: PathBuf,
        /// The user must change it at the next sign-in.
        #[arg(long)]
        reset_required: bool,
    },
    /// Show whether a user has a console password.
    #[command(after_help = "Example:\n  iamvault login-profile get alice")]
    Get {
        /// User name.
        user: String,
    },
    /// Set a new password and/or the reset flag (also clears a sign-in lock).
    #[command(
        after_help = "Example:\n  iamvault login-profile update alice --password-file pw.txt --reset-required true"
    )]
    Update {
        /// User name.
        user: String,
        /// File holding the new password.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// true or false.
        #[arg(long)]
        reset_required: Option<bool>,
    },
    /// Remove a user's console password.
    #[command(after_help = "Example:\n  iamvault login-profile delete alice")]
    Delete {
        /// User name.
        user: String,
    },
}

/// Account password policy commands.
#[derive(Debug, Subcommand)]
pub enum PasswordPolicyCmd {
    /// Show the account password policy.
    #[command(after_help = "Example:\n  iamvault password-policy get")]
    Get,
    /// Replace the account password policy (omitted settings take their defaults).
    #[command(
        after_help = "Example:\n  iamvault password-policy set --min-length 14 --require-uppercase --require-lowercase --require-numbers --require-symbols --reuse-prevention 24 --max-age 90"
    )]
    Set(PolicyArgs),
    /// Remove the account password policy (AWS's default rules apply again).
    #[command(after_help = "Example:\n  iamvault password-policy delete")]
    Delete,
}

/// The password policy settings.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Minimum length, 6-128.
    #[arg(long)]
    min_length: Option<i64>,
    /// Require a symbol.
    #[arg(long)]
    require_symbols: bool,
    /// Require a number.
    #[arg(long)]
    require_numbers: bool,
    /// Require an uppercase letter.
    #[arg(long)]
    require_uppercase: bool,
    /// Require a lowercase letter.
    #[arg(long)]
    require_lowercase: bool,
    /// Let users change their own password without a policy.
    #[arg(long)]
    allow_users_to_change: bool,
    /// Days before a password expires, 1-1095.
    #[arg(long)]
    max_age: Option<i64>,
    /// Previous passwords refused, 1-24.
    #[arg(long)]
    reuse_prevention: Option<i64>,
    /// Expired passwords need an administrator.
    #[arg(long)]
    hard_expiry: bool,
    /// Refuse passwords from the bundled list of common passwords.
    #[arg(long)]
    reject_common: bool,
}

/// Virtual MFA device commands.
#[derive(Debug, Subcommand)]
pub enum MfaCmd {
    /// Create a virtual device, show its QR code, then enable it with two codes read from
    /// standard input.
    #[command(after_help = "Example:\n  iamvault mfa create alice-phone --user alice")]
    Create {
        /// Device name.
        name: String,
        /// Enable it for this user.
        #[arg(long, conflicts_with = "root")]
        user: Option<String>,
        /// Enable it for the account's root user.
        #[arg(long)]
        root: bool,
        /// Only create it; enable later with `mfa enable`.
        #[arg(long)]
        no_enable: bool,
    },
    /// Enable a device for a user with two consecutive codes.
    #[command(
        after_help = "Example:\n  iamvault mfa enable arn:aws:iam::123456789012:mfa/alice-phone --user alice 123456 654321"
    )]
    Enable {
        /// Serial number.
        serial: String,
        /// User (default: the root user).
        #[arg(long)]
        user: Option<String>,
        /// First code.
        code1: String,
        /// The next code.
        code2: String,
    },
    /// Resynchronise a device with two consecutive codes.
    #[command(
        after_help = "Example:\n  iamvault mfa resync arn:aws:iam::123456789012:mfa/alice-phone --user alice 123456 654321"
    )]
    Resync {
        /// Serial number.
        serial: String,
        /// User (default: the root user).
        #[arg(long)]
        user: Option<String>,
        /// First code.
        code1: String,
        /// The next code.
        code2: String,
    },
    /// Deactivate a device.
    #[command(
        after_help = "Example:\n  iamvault mfa deactivate arn:aws:iam::123456789012:mfa/alice-phone --user alice"
    )]
    Deactivate {
        /// Serial number.
        serial: String,
        /// User (default: the root user).
        #[arg(long)]
        user: Option<String>,
    },
    /// Delete a deactivated device.
    #[command(
        after_help = "Example:\n  iamvault mfa delete arn:aws:iam::123456789012:mfa/alice-phone"
    )]
    Delete {
        /// Serial number.
        serial: String,
    },
    /// List devices: a user's, or all virtual devices.
    #[command(
        after_help = "Example:\n  iamvault mfa list --user alice\n  iamvault mfa list --status Unassigned"
    )]
    List {
        /// Only this user's enabled devices.
        #[arg(long)]
        user: Option<String>,
        /// Assigned, Unassigned or Any.
        #[arg(long)]
        status: Option<String>,
    },
}

/// Vault settings.
#[derive(Debug, Subcommand)]
pub enum SettingsCmd {
    /// Show or change the argon2id parameters for new password hashes (older hashes are
    /// upgraded at the next successful sign-in).
    #[command(
        after_help = "Example:\n  iamvault settings argon2 --memory-kib 65536 --iterations 3"
    )]
    Argon2 {
        /// Memory cost in KiB (default 19456).
        #[arg(long)]
        memory_kib: Option<u32>,
        /// Iterations (default 2).
        #[arg(long)]
        iterations: Option<u32>,
        /// Parallelism (default 1).
        #[arg(long)]
        parallelism: Option<u32>,
    },
    /// Show or change the sign-in lockout: after THRESHOLD failures within WINDOW seconds a
    /// user name is locked for LOCK_PERIOD seconds.
    #[command(
        after_help = "Example:\n  iamvault settings lockout --threshold 5 --window 900 --lock-period 1800"
    )]
    Lockout {
        /// Failures allowed within the window.
        #[arg(long)]
        threshold: Option<u32>,
        /// The window, seconds.
        #[arg(long)]
        window: Option<i64>,
        /// How long a lock lasts, seconds.
        #[arg(long)]
        lock_period: Option<i64>,
    },
    /// Show or switch the auditing of allowed decisions of the authorization API (data
    /// events). Denials are always audited.
    #[command(
        name = "audit-data-events",
        after_help = "Example:\n  iamvault settings audit-data-events on"
    )]
    AuditDataEvents {
        /// `on` or `off`; omitted, the current state is shown.
        #[arg(value_parser = ["on", "off"])]
        state: Option<String>,
    },
}

pub(super) fn login_profile(c: &Ctx, cmd: LoginProfileCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        LoginProfileCmd::Create {
            user,
            password_file,
            reset_required,
        } => {
            let pw = read_secret_file(&password_file)?;
            Output::doc(
                json!({ "LoginProfile": v.create_login_profile(who, req, &user, &pw, reset_required)? }),
            )
        }
        LoginProfileCmd::Get { user } => {
            Output::doc(json!({ "LoginProfile": v.get_login_profile(who, req, &user)? }))
        }
        LoginProfileCmd::Update {
            user,
            password_file,
            reset_required,
        } => {
            let pw = password_file.as_deref().map(read_secret_file).transpose()?;
            v.update_login_profile(who, req, &user, pw.as_ref(), reset_required)?;
            Output::done(format!("updated the login profile of {user}"))
        }
        LoginProfileCmd::Delete { user } => {
            v.delete_login_profile(who, req, &user)?;
            Output::done(format!("deleted the login profile of {user}"))
        }
    })
}

pub(super) fn password_policy(c: &Ctx, cmd: PasswordPolicyCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        PasswordPolicyCmd::Get => {
            Output::doc(json!({ "PasswordPolicy": v.get_account_password_policy(who, req)? }))
        }
        PasswordPolicyCmd::Set(a) => {
            let u = PasswordPolicyUpdate {
                minimum_password_length: a.min_length,
                require_symbols: Some(a.require_symbols),
                require_numbers: Some(a.require_numbers),
                require_uppercase_characters: Some(a.require_uppercase),
                require_lowercase_characters: Some(a.require_lowercase),
                allow_users_to_change_password: Some(a.allow_users_to_change),
                max_password_age: a.max_age,
                password_reuse_prevention: a.reuse_prevention,
                hard_expiry: Some(a.hard_expiry),
                reject_common_passwords: Some(a.reject_common),
            };
            Output::doc(
                json!({ "PasswordPolicy": v.update_account_password_policy(who, req, &u)? }),
            )
        }
        PasswordPolicyCmd::Delete => {
            v.delete_account_password_policy(who, req)?;
            Output::done("deleted the account password policy")
        }
    })
}

fn read_code(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::InvalidInput(format!("cannot read the code: {e}")))?;
    Ok(line.trim().to_owned())
}

pub(super) fn mfa(c: &Ctx, cmd: MfaCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        MfaCmd::Create {
            name,
            user,
            root,
            no_enable,
        } => {
            let d = v.create_virtual_mfa_device(who, req, &name, None)?;
            eprintln!("{}", totp::qr_terminal(&d.otpauth_uri)?);
            eprintln!(
                "Scan the code above, or add this URI to an authenticator app:\n{}\n",
                d.otpauth_uri
            );
            let enable_for = if root { Some(None) } else { user.map(Some) };
            if let (Some(target), false) = (enable_for, no_enable) {
                let c1 = read_code("First code: ")?;
                let c2 = read_code("Next code (wait for it to change): ")?;
                v.enable_mfa_device(who, req, target.as_deref(), &d.serial_number, &c1, &c2)?;
            }
            Output {
                note: Some(format!("created {}", d.serial_number)),
                json: json!({ "SerialNumber": d.serial_number, "OtpauthUri": d.otpauth_uri }),
                exit: 0,
                lines: false,
            }
        }
        MfaCmd::Enable {
            serial,
            user,
            code1,
            code2,
        } => {
            v.enable_mfa_device(who, req, user.as_deref(), &serial, &code1, &code2)?;
            Output::done(format!("enabled {serial}"))
        }
        MfaCmd::Resync {
            serial,
            user,
            code1,
            code2,
        } => {
            v.resync_mfa_device(who, req, user.as_deref(), &serial, &code1, &code2)?;
            Output::done(format!("resynchronised {serial}"))
        }
        MfaCmd::Deactivate { serial, user } => {
            v.deactivate_mfa_device(who, req, user.as_deref(), &serial)?;
            Output::done(format!("deactivated {serial}"))
        }
        MfaCmd::Delete { serial } => {
            v.delete_virtual_mfa_device(who, req, &serial)?;
            Output::done(format!("deleted {serial}"))
        }
        MfaCmd::List { user: Some(u), .. } => {
            Output::doc(json!({ "MFADevices": v.list_mfa_devices(who, req, Some(&u))? }))
        }
        MfaCmd::List { user: None, status } => Output::doc(
            json!({ "VirtualMFADevices": v.list_virtual_mfa_devices(who, req, status.as_deref())? }),
        ),
    })
}

pub(super) fn settings(c: &mut Ctx, cmd: SettingsCmd) -> Result<Output> {
    match cmd {
        SettingsCmd::Argon2 {
            memory_kib,
            iterations,
            parallelism,
        } => {
            let mut p = c.vault.stored_password_params()?;
            if memory_kib.is_some() || iterations.is_some() || parallelism.is_some() {
                p.m_cost = memory_kib.unwrap_or(p.m_cost);
                p.t_cost = iterations.unwrap_or(p.t_cost);
                p.p_cost = parallelism.unwrap_or(p.p_cost);
                let caller = c.caller.clone();
                c.vault.set_password_params_setting(&caller, p)?;
            }
            Ok(Output::doc(
                json!({ "Argon2": { "memory_kib": p.m_cost, "iterations": p.t_cost, "parallelism": p.p_cost } }),
            ))
        }
        SettingsCmd::Lockout {
            threshold,
            window,
            lock_period,
        } => {
            let mut s: LockoutSettings = c.vault.lockout_settings()?;
            if threshold.is_some() || window.is_some() || lock_period.is_some() {
                s.threshold = threshold.unwrap_or(s.threshold);
                s.window_secs = window.unwrap_or(s.window_secs);
                s.lock_period_secs = lock_period.unwrap_or(s.lock_period_secs);
                c.vault.set_lockout_settings(&c.caller, s)?;
            }
            Ok(Output::doc(json!({ "Lockout": s })))
        }
        SettingsCmd::AuditDataEvents { state } => {
            if let Some(st) = state {
                c.vault.set_audit_data_events(&c.caller, st == "on")?;
            }
            let on = c.vault.audit_data_events()?;
            Ok(Output::doc(
                json!({ "AuditDataEvents": if on { "on" } else { "off" } }),
            ))
        }
    }
}

/// Arguments of `credential-report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Generate a new report even if one is less than four hours old.
    #[arg(long)]
    force: bool,
}

pub(super) fn credential_report(c: &Ctx, a: ReportArgs) -> Result<Output> {
    c.vault
        .generate_credential_report(&c.caller, &c.req, a.force)?;
    let r = c.vault.get_credential_report(&c.caller, &c.req)?;
    Ok(Output {
        note: Some(r.content.trim_end().to_owned()),
        json: json!(r),
        exit: 0,
        lines: false,
    })
}

pub(super) fn doctor(c: &Ctx) -> Result<Output> {
    let findings = c.vault.doctor(&c.caller, &c.req)?;
    let mut note = String::new();
    for f in &findings {
        let sev = match f.severity {
            crate::report::doctor::Severity::High => "high",
            crate::report::doctor::Severity::Medium => "medium",
            crate::report::doctor::Severity::Low => "low",
        };
        note.push_str(&format!("[{sev}] {}\n    fix: {}\n", f.message, f.fix));
    }
    if findings.is_empty() {
        note.push_str("no findings: the account follows the checked best practices");
    }
    Ok(Output {
        note: Some(note.trim_end().to_owned()),
        exit: i32::from(!findings.is_empty()),
        lines: false,
        json: json!({ "findings": findings }),
    })
}
