//! `setup`: creates what the scenarios need through the IAM API itself (and the vault's
//! resource-policy endpoint for `authorize`), so the same setup runs against moto.

use std::path::Path;
use std::sync::Arc;

use iamvault::clock::{Clock, SystemClock};
use serde::{Deserialize, Serialize};

use crate::wire::{self, Creds, Target};

/// Everything a scenario needs, written by `setup` and read by `run` and `sweep`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub endpoint: String,
    pub account: String,
    pub prefix: String,
    /// The calling user (an inline policy allows the scenarios' actions).
    pub caller: Creds,
    pub caller_arn: String,
    pub role_arn: String,
    /// One user per client for `create-delete-access-key` (two keys at most per user).
    pub key_users: Vec<String>,
    /// The calling service of `authorize` and the bucket its resource policy covers;
    /// `None` with the reason when the endpoint has no resource-policy API.
    pub service: Option<Creds>,
    pub bucket: String,
    pub authorize_note: Option<String>,
    pub login: Vec<LoginUser>,
    /// The next loopback source address a `login` run may use (see
    /// [`login_source_address`]): every run takes fresh ones, so a run never meets the
    /// per-address sign-in limit that an earlier run spent.
    #[serde(default)]
    pub login_next_source: u32,
}

/// Loopback source addresses 127.10.0.1 onwards, 62,500 per second octet (10..=249),
/// skipping .0 and the top of each last octet.
pub fn login_source_address(i: u32) -> std::net::Ipv4Addr {
    let i = i % (240 * 62_500);
    std::net::Ipv4Addr::new(
        127,
        (10 + i / 62_500) as u8,
        (i / 250 % 250) as u8,
        (1 + i % 250) as u8,
    )
}

/// A user with a password and an enabled virtual MFA device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginUser {
    pub name: String,
    pub password: String,
    pub seed_base32: String,
    /// The last TOTP step this user's device accepted (codes must be later ones).
    pub last_step: i64,
}

pub const PASSWORD: &str = "Bench-pass-7f3!Qz";

impl State {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e} (run `setup` first)", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("`{}`: {e}", path.display()))
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    }
}

pub fn step_now() -> i64 {
    iamvault::auth::totp::step_of(SystemClock.now())
}

pub fn code(seed_base32: &str, step: i64) -> Result<String, String> {
    let seed = wire::base32_decode(seed_base32).ok_or("the MFA seed is not base32")?;
    iamvault::auth::totp::code_at(&seed, step, 6).map_err(|e| format!("TOTP: {e:?}"))
}

async fn iam(
    http: &reqwest::Client,
    t: &Target,
    c: &Creds,
    action: &str,
    params: &[(&str, &str)],
) -> Result<String, String> {
    let p = wire::query(t, c, "iam", action, params)?;
    wire::call(http, t, p)
        .await
        .map_err(|e| format!("{action}: {e}"))
}

async fn new_key(
    http: &reqwest::Client,
    t: &Target,
    admin: &Creds,
    user: &str,
) -> Result<Creds, String> {
    let xml = iam(http, t, admin, "CreateAccessKey", &[("UserName", user)]).await?;
    Ok(Creds {
        id: wire::xml_field(&xml, "AccessKeyId").ok_or("CreateAccessKey: no AccessKeyId")?,
        secret: wire::xml_field(&xml, "SecretAccessKey")
            .ok_or("CreateAccessKey: no SecretAccessKey")?,
        token: None,
    })
}

/// Runs the setup; prints what it did.
pub async fn setup(
    t: &Target,
    admin: &Creds,
    max_clients: usize,
    login_users: usize,
) -> Result<State, String> {
    let http = wire::http_client(None)?;
    let who = wire::call(
        &http,
        t,
        wire::query(t, admin, "sts", "GetCallerIdentity", &[])?,
    )
    .await
    .map_err(|e| format!("GetCallerIdentity with the admin credentials: {e}"))?;
    let account = wire::xml_field(&who, "Account").ok_or("GetCallerIdentity: no Account")?;
    let unix = SystemClock.now().unix_timestamp();
    let prefix = format!("b{}", unix % 10_000_000);
    eprintln!("setup: account {account}, names prefixed `{prefix}-`");

    // The caller: an inline policy for every scenario action, and a managed policy.
    let caller_name = format!("{prefix}-caller");
    let xml = iam(&http, t, admin, "CreateUser", &[("UserName", &caller_name)]).await?;
    let caller_arn = wire::xml_field(&xml, "Arn").ok_or("CreateUser: no Arn")?;
    let inline = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:GetSessionToken","sts:GetCallerIdentity","iam:SimulatePrincipalPolicy","iam:GetUser"],"Resource":"*"}]}"#;
    iam(
        &http,
        t,
        admin,
        "PutUserPolicy",
        &[
            ("UserName", &caller_name),
            ("PolicyName", "bench-scenarios"),
            ("PolicyDocument", inline),
        ],
    )
    .await?;
    let managed = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListUsers","iam:GetRole"],"Resource":"*"},{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}"#;
    let xml = iam(
        &http,
        t,
        admin,
        "CreatePolicy",
        &[
            ("PolicyName", &format!("{prefix}-readers")),
            ("PolicyDocument", managed),
        ],
    )
    .await?;
    let policy_arn = wire::xml_field(&xml, "Arn").ok_or("CreatePolicy: no Arn")?;
    iam(
        &http,
        t,
        admin,
        "AttachUserPolicy",
        &[("UserName", &caller_name), ("PolicyArn", &policy_arn)],
    )
    .await?;
    let caller = new_key(&http, t, admin, &caller_name).await?;

    // The role, trusted by the account.
    let role_name = format!("{prefix}-role");
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let xml = iam(
        &http,
        t,
        admin,
        "CreateRole",
        &[
            ("RoleName", &role_name),
            ("AssumeRolePolicyDocument", &trust),
        ],
    )
    .await?;
    let role_arn = wire::xml_field(&xml, "Arn").ok_or("CreateRole: no Arn")?;
    iam(
        &http,
        t,
        admin,
        "PutRolePolicy",
        &[
            ("RoleName", &role_name),
            ("PolicyName", "bench-role"),
            (
                "PolicyDocument",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
            ),
        ],
    )
    .await?;

    // One user per client for CreateAccessKey/DeleteAccessKey.
    let mut key_users = Vec::new();
    for i in 0..max_clients {
        let n = format!("{prefix}-ck-{i}");
        iam(&http, t, admin, "CreateUser", &[("UserName", &n)]).await?;
        key_users.push(n);
    }

    // `authorize`: a calling service with vault:Authorize, and a resource policy that
    // lets the role's sessions read the bucket.
    let bucket = format!("{prefix}-bucket");
    let svc_name = format!("{prefix}-svc");
    iam(&http, t, admin, "CreateUser", &[("UserName", &svc_name)]).await?;
    let svc_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"vault:Authorize","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    iam(
        &http,
        t,
        admin,
        "PutUserPolicy",
        &[
            ("UserName", &svc_name),
            ("PolicyName", "authorizer"),
            ("PolicyDocument", &svc_policy),
        ],
    )
    .await?;
    let svc = new_key(&http, t, admin, &svc_name).await?;
    let resource_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{role_arn}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    let body = serde_json::json!({
        "resource_arn": format!("arn:aws:s3:::{bucket}"),
        "policy": resource_policy,
    })
    .to_string()
    .into_bytes();
    let put = wire::vault_json(t, admin, "/vault/v1/resource-policies/put", body)?;
    let (service, authorize_note) = match wire::call(&http, t, put).await {
        Ok(_) => (Some(svc), None),
        Err(e) => {
            eprintln!("setup: no resource-policy API here ({e}); `authorize` will be skipped");
            (
                None,
                Some(format!("no /vault/v1/resource-policies API: {e}")),
            )
        }
    };

    // Login users: password and an enabled virtual MFA device each.
    let login = make_login_users(&http, t, admin, &prefix, login_users).await?;
    eprintln!(
        "setup: caller, role, {} key users, service, {} login users",
        key_users.len(),
        login.len()
    );
    Ok(State {
        endpoint: t.base.clone(),
        account,
        prefix,
        caller,
        caller_arn,
        role_arn,
        key_users,
        service,
        bucket,
        authorize_note,
        login,
        // Another setup against the same server within the minute starts elsewhere.
        login_next_source: (SystemClock.now().unix_timestamp() / 60 % 240 * 62_500) as u32,
    })
}

async fn make_login_users(
    http: &reqwest::Client,
    t: &Target,
    admin: &Creds,
    prefix: &str,
    n: usize,
) -> Result<Vec<LoginUser>, String> {
    let sem = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (http, t, admin, sem) = (http.clone(), t.clone(), admin.clone(), Arc::clone(&sem));
        let name = format!("{prefix}-login-{i}");
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.map_err(|e| e.to_string())?;
            iam(&http, &t, &admin, "CreateUser", &[("UserName", &name)]).await?;
            iam(
                &http,
                &t,
                &admin,
                "CreateLoginProfile",
                &[
                    ("UserName", &name),
                    ("Password", PASSWORD),
                    ("PasswordResetRequired", "false"),
                ],
            )
            .await?;
            let xml = iam(
                &http,
                &t,
                &admin,
                "CreateVirtualMFADevice",
                &[("VirtualMFADeviceName", &name)],
            )
            .await?;
            let serial = wire::xml_field(&xml, "SerialNumber").ok_or("no SerialNumber")?;
            let b64 = wire::xml_field(&xml, "Base32StringSeed").ok_or("no Base32StringSeed")?;
            use base64::Engine as _;
            let seed_base32 = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or(b64);
            let step = step_now();
            iam(
                &http,
                &t,
                &admin,
                "EnableMFADevice",
                &[
                    ("UserName", &name),
                    ("SerialNumber", &serial),
                    ("AuthenticationCode1", &code(&seed_base32, step - 1)?),
                    ("AuthenticationCode2", &code(&seed_base32, step)?),
                ],
            )
            .await?;
            Ok::<_, String>(LoginUser {
                name,
                password: PASSWORD.into(),
                seed_base32,
                last_step: step,
            })
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.map_err(|e| e.to_string())??);
    }
    Ok(out)
}
