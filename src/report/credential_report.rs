//! AWS's credential report: the same 22 columns in the same order and the same value
//! rules (`<root_account>`, `not_supported`, `no_information`, `N/A`, ISO 8601 with
//! `+00:00`, lowercase booleans).

use time::OffsetDateTime;

/// The header row.
pub const COLUMNS: [&str; 22] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

/// One access key in a report row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Active (false for inactive).
    pub active: bool,
    /// Creation time.
    pub created: OffsetDateTime,
    /// Last use: time, region, service.
    pub last_used: Option<(OffsetDateTime, String, String)>,
}

/// A console password in a report row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordInfo {
    /// Last successful sign-in.
    pub last_used: Option<OffsetDateTime>,
    /// Last change.
    pub last_changed: OffsetDateTime,
    /// When it must next be changed (when the policy sets an age).
    pub next_rotation: Option<OffsetDateTime>,
}

/// One user (or the root) in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportUser {
    /// User name; the root row says `<root_account>`.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Creation time.
    pub created: OffsetDateTime,
    /// Console password, if any (ignored for the root row, whose password fields are
    /// `not_supported`).
    pub password: Option<PasswordInfo>,
    /// Root row: the root's last sign-in.
    pub root_password_last_used: Option<OffsetDateTime>,
    /// An MFA device is enabled.
    pub mfa_active: bool,
    /// Access keys, oldest first (at most two are reported).
    pub keys: Vec<KeyInfo>,
    /// This is the root row.
    pub is_root: bool,
}

/// `2014-10-16T16:03:09+00:00`.
pub fn time(t: &OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn b(v: bool) -> String {
    if v { "true" } else { "false" }.to_owned()
}

/// RFC 4180 quoting when a value needs it.
fn field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

fn row(u: &ReportUser) -> Vec<String> {
    let na = || "N/A".to_owned();
    let mut r = vec![
        if u.is_root {
            "<root_account>".to_owned()
        } else {
            u.name.clone()
        },
        u.arn.clone(),
        time(&u.created),
    ];
    if u.is_root {
        r.push("not_supported".into());
        r.push(
            u.root_password_last_used
                .as_ref()
                .map_or_else(|| "no_information".into(), time),
        );
        r.push("not_supported".into());
        r.push("not_supported".into());
    } else {
        match &u.password {
            Some(p) => {
                r.push(b(true));
                r.push(
                    p.last_used
                        .as_ref()
                        .map_or_else(|| "no_information".into(), time),
                );
                r.push(time(&p.last_changed));
                r.push(p.next_rotation.as_ref().map_or_else(na, time));
            }
            None => {
                r.push(b(false));
                r.push(na());
                r.push(na());
                r.push(na());
            }
        }
    }
    r.push(b(u.mfa_active));
    for i in 0..2 {
        match u.keys.get(i) {
            Some(k) => {
                r.push(b(k.active));
                r.push(time(&k.created));
                match &k.last_used {
                    Some((t, region, service)) => {
                        r.push(time(t));
                        r.push(region.clone());
                        r.push(service.clone());
                    }
                    None => {
                        r.push(na());
                        r.push(na());
                        r.push(na());
                    }
                }
            }
            None => {
                r.push(b(false));
                for _ in 0..4 {
                    r.push(na());
                }
            }
        }
    }
    // X.509 signing certificates are not supported by the vault.
    r.extend([b(false), na(), b(false), na()]);
    r
}

/// The CSV, root row first.
pub fn render(users: &[ReportUser]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for u in users {
        out.push_str(
            &row(u)
                .iter()
                .map(|v| field(v))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn header_root_and_users() {
        let t = datetime!(2026-01-02 03:04:05 UTC);
        let csv = render(&[
            ReportUser {
                name: String::new(),
                arn: "arn:aws:iam::123456789012:root".into(),
                created: t,
                password: None,
                root_password_last_used: None,
                mfa_active: false,
                keys: vec![],
                is_root: true,
            },
            ReportUser {
                name: "alice".into(),
                arn: "arn:aws:iam::123456789012:user/alice".into(),
                created: t,
                password: Some(PasswordInfo {
                    last_used: None,
                    last_changed: t,
                    next_rotation: None,
                }),
                root_password_last_used: None,
                mfa_active: true,
                keys: vec![
                    KeyInfo {
                        active: true,
                        created: t,
                        last_used: Some((t, "us-east-1".into(), "iam".into())),
                    },
                    KeyInfo {
                        active: false,
                        created: t,
                        last_used: None,
                    },
                ],
                is_root: false,
            },
            ReportUser {
                name: "bob".into(),
                arn: "arn:aws:iam::123456789012:user/bob".into(),
                created: t,
                password: None,
                root_password_last_used: None,
                mfa_active: false,
                keys: vec![],
                is_root: false,
            },
        ]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
        );
        assert_eq!(
            lines[1],
            "<root_account>,arn:aws:iam::123456789012:root,2026-01-02T03:04:05+00:00,not_supported,no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
        );
        assert_eq!(
            lines[2],
            "alice,arn:aws:iam::123456789012:user/alice,2026-01-02T03:04:05+00:00,true,no_information,2026-01-02T03:04:05+00:00,N/A,true,true,2026-01-02T03:04:05+00:00,2026-01-02T03:04:05+00:00,us-east-1,iam,false,2026-01-02T03:04:05+00:00,N/A,N/A,N/A,false,N/A,false,N/A"
        );
        assert_eq!(
            lines[3],
            "bob,arn:aws:iam::123456789012:user/bob,2026-01-02T03:04:05+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
        );
        for l in &lines {
            assert_eq!(l.split(',').count(), 22, "{l}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("a\"b"), "\"a\"\"b\"");
        assert_eq!(field("plain"), "plain");
    }
}
