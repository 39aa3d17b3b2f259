//! AWS's credential report: the same 22 columns in the same order and the same value
//! rules, from plain rows the service gathers (nothing here reads the store).
//!
//! Value rules (IAM User Guide, "Getting credential reports"):
//! - the root row's `user` is `<root_account>`; its `password_enabled`,
//!   `password_last_changed` and `password_next_rotation` are `not_supported`;
//! - `password_last_used` is `no_information` for a password never used, `N/A` without a
//!   password; `password_last_changed` and `password_next_rotation` are `N/A` without a
//!   password (and the latter when the policy sets no age);
//! - `access_key_N_*` and `cert_N_*` are `N/A` without that key or certificate;
//!   `..._last_used_*` are `N/A` for a key never used, and the region is `N/A` for a
//!   non-regional service;
//! - times are ISO 8601 in UTC with a `+00:00` offset, seconds precision
//!   (`2014-10-16T16:03:09+00:00`);
//! - booleans are lowercase `true`/`false` (the docs say `TRUE`/`FALSE`; real reports, and
//!   the tools that parse them, use lowercase).
//!
//! `access_key_N_last_rotated` of an *inactive* key: the docs say `N/A` when the key is not
//! active, real reports show the key's date; this follows the real reports.
//!
//! Values are quoted per RFC 4180 when they contain a comma, a quote or a line break (IAM
//! names may contain commas). The vault has no X.509 signing certificates, so `cert_*` are
//! always `false`/`N/A`.

use std::borrow::Cow;

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
    /// Last use: time, region, service (the service namespace, e.g. `iam`, `sts`). An empty
    /// region or service is reported as `N/A` (a non-regional service has no region).
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

/// `2014-10-16T16:03:09+00:00`: UTC, seconds precision (the same as [`iso8601`]).
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

/// `2014-10-16T16:03:09+00:00`: the report's time format, in UTC, seconds precision.
pub fn iso8601(t: &OffsetDateTime) -> String {
    time(t)
}

fn b(v: bool) -> Cow<'static, str> {
    Cow::Borrowed(if v { "true" } else { "false" })
}

/// RFC 4180 quoting when a value needs it: a value containing a comma, a double quote, a
/// carriage return or a line feed is enclosed in double quotes, with inner quotes doubled.
pub fn quote_field(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    push_field(&mut out, v);
    out
}

/// Appends `v` to `out`, quoted as [`quote_field`] says.
fn push_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

/// `N/A` for an empty value (a non-regional service has no region).
fn or_na(v: &str) -> Cow<'_, str> {
    Cow::Borrowed(if v.is_empty() { "N/A" } else { v })
}

impl ReportUser {
    /// The root row: `<root_account>`, its ARN (`arn:aws:iam::ACCOUNT:root`), the account's
    /// creation time, the root's last sign-in, whether it has MFA, and its access keys.
    pub fn root(
        arn: String,
        created: OffsetDateTime,
        password_last_used: Option<OffsetDateTime>,
        mfa_active: bool,
        keys: Vec<KeyInfo>,
    ) -> Self {
        Self {
            name: "<root_account>".to_owned(),
            arn,
            created,
            password: None,
            root_password_last_used: password_last_used,
            mfa_active,
            keys,
            is_root: true,
        }
    }

    /// An IAM user's row.
    pub fn user(
        name: String,
        arn: String,
        created: OffsetDateTime,
        password: Option<PasswordInfo>,
        mfa_active: bool,
        keys: Vec<KeyInfo>,
    ) -> Self {
        Self {
            name,
            arn,
            created,
            password,
            root_password_last_used: None,
            mfa_active,
            keys,
            is_root: false,
        }
    }
}

/// The 22 values of one row, unquoted.
pub fn row_values(u: &ReportUser) -> Vec<String> {
    row(u).into_iter().map(Cow::into_owned).collect()
}

/// The 22 values of one row, unquoted, borrowing all but the times.
fn row(u: &ReportUser) -> Vec<Cow<'_, str>> {
    let na = || Cow::Borrowed("N/A");
    let t = |t: &OffsetDateTime| Cow::Owned(time(t));
    let mut r = Vec::with_capacity(COLUMNS.len());
    r.push(Cow::Borrowed(if u.is_root {
        "<root_account>"
    } else {
        u.name.as_str()
    }));
    r.push(Cow::Borrowed(u.arn.as_str()));
    r.push(t(&u.created));
    if u.is_root {
        r.push(Cow::Borrowed("not_supported"));
        r.push(
            u.root_password_last_used
                .as_ref()
                .map_or(Cow::Borrowed("no_information"), t),
        );
        r.push(Cow::Borrowed("not_supported"));
        r.push(Cow::Borrowed("not_supported"));
    } else {
        match &u.password {
            Some(p) => {
                r.push(b(true));
                r.push(
                    p.last_used
                        .as_ref()
                        .map_or(Cow::Borrowed("no_information"), t),
                );
                r.push(t(&p.last_changed));
                r.push(p.next_rotation.as_ref().map_or_else(na, t));
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
                r.push(t(&k.created));
                match &k.last_used {
                    Some((when, region, service)) => {
                        r.push(t(when));
                        r.push(or_na(region));
                        r.push(or_na(service));
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

/// The CSV: the header, then one row per entry in the order given (the root row first,
/// as AWS does). Lines end with `\n`, the last one too.
pub fn render(users: &[ReportUser]) -> String {
    // About 200 bytes per row without keys, 300 with two.
    let mut out = String::with_capacity(512 + users.len().saturating_mul(256));
    out.push_str(&COLUMNS.join(","));
    out.push('\n');
    for u in users {
        for (i, v) in row(u).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_field(&mut out, v);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";
    const T: OffsetDateTime = datetime!(2026-01-02 03:04:05 UTC);
    const TS: &str = "2026-01-02T03:04:05+00:00";

    fn lines(csv: &str) -> Vec<String> {
        csv.lines().map(str::to_owned).collect()
    }

    fn user(name: &str) -> ReportUser {
        ReportUser::user(
            name.into(),
            format!("arn:aws:iam::123456789012:user/{name}"),
            T,
            None,
            false,
            vec![],
        )
    }

    #[test]
    fn header_row_is_exact() {
        assert_eq!(COLUMNS.len(), 22);
        assert_eq!(COLUMNS.join(","), HEADER);
        let csv = render(&[]);
        assert_eq!(csv, format!("{HEADER}\n"));
    }

    #[test]
    fn root_row() {
        let root = ReportUser::root(
            "arn:aws:iam::123456789012:root".into(),
            T,
            None,
            false,
            vec![],
        );
        let csv = render(std::slice::from_ref(&root));
        assert_eq!(
            lines(&csv)[1],
            format!(
                "<root_account>,arn:aws:iam::123456789012:root,{TS},not_supported,no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
            )
        );
        // With a sign-in, MFA and a key; the name field is always `<root_account>`, even
        // when a row is built by hand with another name.
        let mut root = ReportUser::root(
            "arn:aws:iam::123456789012:root".into(),
            T,
            Some(datetime!(2026-02-03 04:05:06 UTC)),
            true,
            vec![KeyInfo {
                active: true,
                created: T,
                last_used: None,
            }],
        );
        root.name = "root".into();
        root.password = Some(PasswordInfo {
            last_used: None,
            last_changed: T,
            next_rotation: Some(T),
        });
        assert_eq!(
            row_values(&root).join(","),
            format!(
                "<root_account>,arn:aws:iam::123456789012:root,{TS},not_supported,2026-02-03T04:05:06+00:00,not_supported,not_supported,true,true,{TS},N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
            )
        );
    }

    #[test]
    fn user_without_password_or_keys() {
        assert_eq!(
            row_values(&user("bob")).join(","),
            format!(
                "bob,arn:aws:iam::123456789012:user/bob,{TS},false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
            )
        );
    }

    #[test]
    fn user_with_password_mfa_and_two_keys() {
        let mut u = user("alice");
        u.password = Some(PasswordInfo {
            last_used: None,
            last_changed: T,
            next_rotation: Some(datetime!(2026-04-02 03:04:05 UTC)),
        });
        u.mfa_active = true;
        u.keys = vec![
            KeyInfo {
                active: true,
                created: T,
                last_used: Some((
                    datetime!(2026-01-05 00:00 UTC),
                    "us-east-1".into(),
                    "iam".into(),
                )),
            },
            KeyInfo {
                active: false,
                created: datetime!(2026-01-03 00:00 UTC),
                last_used: Some((datetime!(2026-01-04 00:00 UTC), String::new(), "s3".into())),
            },
            // A third key (never possible in IAM) is not reported.
            KeyInfo {
                active: true,
                created: T,
                last_used: None,
            },
        ];
        let v = row_values(&u);
        assert_eq!(v.len(), 22);
        assert_eq!(
            v.join(","),
            format!(
                "alice,arn:aws:iam::123456789012:user/alice,{TS},true,no_information,{TS},2026-04-02T03:04:05+00:00,true,true,{TS},2026-01-05T00:00:00+00:00,us-east-1,iam,false,2026-01-03T00:00:00+00:00,2026-01-04T00:00:00+00:00,N/A,s3,false,N/A,false,N/A"
            )
        );
        u.password = Some(PasswordInfo {
            last_used: Some(T),
            last_changed: T,
            next_rotation: None,
        });
        let v = row_values(&u);
        assert_eq!(&v[3..7], ["true", TS, TS, "N/A"]);
    }

    #[test]
    fn time_format() {
        assert_eq!(iso8601(&T), TS);
        // Other offsets are converted to UTC; sub-seconds are dropped.
        assert_eq!(iso8601(&datetime!(2026-01-02 05:04:05.999 +02:00)), TS);
        assert_eq!(
            iso8601(&datetime!(1999-12-31 23:59:59 -01:00)),
            "2000-01-01T00:59:59+00:00"
        );
        assert_eq!(time(&T), iso8601(&T));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_field("a,b"), "\"a,b\"");
        assert_eq!(quote_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_field("a\nb"), "\"a\nb\"");
        assert_eq!(quote_field("a\rb"), "\"a\rb\"");
        assert_eq!(quote_field("plain"), "plain");
        assert_eq!(quote_field(""), "");
        // IAM names may contain commas: the row stays 22 fields for a CSV reader.
        let csv = render(&[user("a,b")]);
        let row = &lines(&csv)[1];
        assert!(
            row.starts_with("\"a,b\",\"arn:aws:iam::123456789012:user/a,b\","),
            "{row}"
        );
    }

    #[test]
    fn rows_in_the_order_given() {
        let root = ReportUser::root(
            "arn:aws:iam::123456789012:root".into(),
            T,
            None,
            true,
            vec![],
        );
        let csv = render(&[root, user("alice"), user("bob")]);
        let l = lines(&csv);
        assert_eq!(l.len(), 4);
        assert_eq!(l[0], HEADER);
        assert!(l[1].starts_with("<root_account>,"));
        assert!(l[2].starts_with("alice,"));
        assert!(l[3].starts_with("bob,"));
        assert!(csv.ends_with('\n'));
        for line in &l {
            assert_eq!(line.split(',').count(), 22, "{line}");
        }
    }
}
