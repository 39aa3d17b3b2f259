//! The scenarios: what one operation is, and what must exist before the clock starts.

use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::ValueEnum;
use iamvault::clock::{Clock, SystemClock};
use iamvault::service::{AuthorizeRequest, AuthorizeResponse, Check, ClientRequest};
use iamvault::sigv4::{self, OwnedRequest};

use crate::conn::Conn;
use crate::setup::{self, State};
use crate::wire::{self, Creds, Target};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// STS GetCallerIdentity signed with a long-term key.
    GetCallerIdentity,
    /// STS GetCallerIdentity signed with a GetSessionToken session.
    GetCallerIdentitySession,
    /// STS AssumeRole of the setup's role.
    AssumeRole,
    /// IAM CreateAccessKey then DeleteAccessKey (one operation = both calls).
    CreateDeleteAccessKey,
    /// IAM SimulatePrincipalPolicy for the caller, two actions.
    SimulatePrincipalPolicy,
    /// POST /vault/v1/authorize for an S3 GetObject signed with a role session (iamvault).
    Authorize,
    /// POST /vault/v1/login with password and TOTP (iamvault).
    Login,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::GetCallerIdentity => "get-caller-identity",
            Self::GetCallerIdentitySession => "get-caller-identity-session",
            Self::AssumeRole => "assume-role",
            Self::CreateDeleteAccessKey => "create-delete-access-key",
            Self::SimulatePrincipalPolicy => "simulate-principal-policy",
            Self::Authorize => "authorize",
            Self::Login => "login",
        }
    }
}

/// The result of one operation.
pub enum Outcome {
    Ok,
    Err(String),
    /// Nothing left to do (the login scenario's one-time codes ran out).
    Exhausted,
}

/// A scenario ready to run.
pub struct Ready {
    pub scenario: Scenario,
    pub target: Target,
    creds: Creds,
    keys: Vec<Creds>,
    role_arn: String,
    caller_arn: String,
    key_users: Vec<String>,
    admin: Option<Creds>,
    service: Option<Creds>,
    bucket: String,
    account: String,
    login_queue: Mutex<Vec<(usize, String)>>,
    login_taken: AtomicUsize,
    login_names: Vec<String>,
    /// The login scenario's source addresses (none: the system's choice).
    login_sources: Vec<IpAddr>,
}

/// Why a scenario cannot run against a target.
pub enum NotReady {
    /// The endpoint lacks the API (moto and the vault's own endpoints).
    Unsupported(String),
    Failed(String),
}

impl From<String> for NotReady {
    fn from(s: String) -> Self {
        Self::Failed(s)
    }
}

/// The options of `prepare`.
pub struct Inputs<'a> {
    pub target: &'a Target,
    pub state: Option<&'a mut State>,
    /// Credentials from flags or the environment (the admin's for the setup).
    pub creds: Option<Creds>,
    /// Extra long-term keys to rotate through (the scale test's sampled keys).
    pub keys: Vec<Creds>,
    pub clients: usize,
}

fn need_state<'a>(s: &'a Option<&'a mut State>, what: Scenario) -> Result<&'a State, NotReady> {
    s.as_deref().ok_or_else(|| {
        NotReady::Failed(format!(
            "scenario `{}` needs `--state FILE` written by `setup`",
            what.name()
        ))
    })
}

/// Prepares `scenario`: sessions it signs with, one-time codes; then one probe operation
/// that must succeed (its failure says whether the target lacks the API).
pub async fn prepare(scenario: Scenario, mut inp: Inputs<'_>) -> Result<Ready, NotReady> {
    let t = inp.target.clone();
    let http = wire::http_client(None)?;
    let mut r = Ready {
        scenario,
        target: t.clone(),
        creds: Creds {
            id: String::new(),
            secret: String::new(),
            token: None,
        },
        keys: inp.keys.clone(),
        role_arn: String::new(),
        caller_arn: String::new(),
        key_users: Vec::new(),
        admin: inp.creds.clone(),
        service: None,
        bucket: String::new(),
        account: String::new(),
        login_queue: Mutex::new(Vec::new()),
        login_taken: AtomicUsize::new(0),
        login_names: Vec::new(),
        login_sources: Vec::new(),
    };
    if let Some(s) = inp.state.as_deref() {
        r.creds = s.caller.clone();
        r.role_arn = s.role_arn.clone();
        r.caller_arn = s.caller_arn.clone();
        r.key_users = s.key_users.clone();
        r.service = s.service.clone();
        r.bucket = s.bucket.clone();
        r.account = s.account.clone();
    } else if let Some(c) = &inp.creds {
        r.creds = c.clone();
    } else if let Some(k) = inp.keys.first() {
        r.creds = k.clone();
    }
    match scenario {
        Scenario::GetCallerIdentity => {
            if r.creds.id.is_empty() {
                return Err(NotReady::Failed(
                    "no credentials: give --state, --access-key-id/--secret-access-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".into(),
                ));
            }
        }
        Scenario::GetCallerIdentitySession => {
            let p = wire::query(
                &t,
                &r.creds,
                "sts",
                "GetSessionToken",
                &[("DurationSeconds", "3600")],
            )?;
            let xml = wire::call(&http, &t, p)
                .await
                .map_err(|e| NotReady::Failed(format!("GetSessionToken: {e}")))?;
            r.creds = wire::session_creds(&xml)?;
        }
        Scenario::AssumeRole | Scenario::SimulatePrincipalPolicy => {
            need_state(&inp.state, scenario)?;
        }
        Scenario::CreateDeleteAccessKey => {
            let s = need_state(&inp.state, scenario)?;
            if s.key_users.len() < inp.clients {
                return Err(NotReady::Failed(format!(
                    "setup made {} key users; run `setup --max-clients {}`",
                    s.key_users.len(),
                    inp.clients
                )));
            }
            if r.admin.is_none() {
                return Err(NotReady::Failed(
                    "create-delete-access-key acts as the admin: give its credentials".into(),
                ));
            }
        }
        Scenario::Authorize => {
            let s = need_state(&inp.state, scenario)?;
            if s.service.is_none() {
                return Err(NotReady::Unsupported(
                    s.authorize_note
                        .clone()
                        .unwrap_or_else(|| "no resource-policy API".into()),
                ));
            }
            let p = wire::query(
                &t,
                &s.caller,
                "sts",
                "AssumeRole",
                &[
                    ("RoleArn", &s.role_arn),
                    ("RoleSessionName", "authorize-client"),
                ],
            )?;
            let xml = wire::call(&http, &t, p)
                .await
                .map_err(|e| NotReady::Failed(format!("AssumeRole: {e}")))?;
            r.creds = wire::session_creds(&xml)?;
        }
        Scenario::Login => {
            let s = inp
                .state
                .as_deref_mut()
                .ok_or_else(|| NotReady::Failed("scenario `login` needs `--state FILE`".into()))?;
            prepare_login(&mut r, s).await?;
        }
    }
    // The probe: one operation that must succeed.
    let mut conn = Conn::new(&t)?;
    match r.op(&mut conn, 0, 0).await {
        Outcome::Ok => Ok(r),
        Outcome::Exhausted => Err(NotReady::Failed("no login users left".into())),
        Outcome::Err(e) => {
            let lacks = e.contains("HTTP 404")
                || e.contains("not been implemented")
                || e.contains("NotImplemented")
                || e.contains("InvalidAction")
                // moto answers an action it lacks (and a path it does not know) with a
                // bare HTML 500 page; its log says `NotImplementedError`.
                || e.to_ascii_lowercase().starts_with("http 500: <!doctype html");
            if lacks {
                Err(NotReady::Unsupported(e))
            } else {
                Err(NotReady::Failed(e))
            }
        }
    }
}

/// One-time codes for every login user that can sign in now: the step after the last one
/// its device accepted, if the server still accepts it (one step of skew either way).
async fn prepare_login(r: &mut Ready, s: &mut State) -> Result<(), NotReady> {
    if s.login.is_empty() {
        return Err(NotReady::Failed(
            "setup made no login users (`setup --login-users N`)".into(),
        ));
    }
    let mut now = setup::step_now();
    let usable = |now: i64, s: &State| s.login.iter().filter(|u| u.last_step < now + 1).count();
    if usable(now, s) < s.login.len() / 2 {
        // Codes are accepted once per step per device: wait for a fresh step.
        let wait = 30 - (SystemClock.now().unix_timestamp() % 30) + 1;
        eprintln!("login: waiting {wait} s for a fresh TOTP step");
        tokio::time::sleep(std::time::Duration::from_secs(wait.unsigned_abs())).await;
        now = setup::step_now();
    }
    let mut queue = Vec::new();
    for (i, u) in s.login.iter_mut().enumerate() {
        let step = (u.last_step + 1).max(now);
        if step > now + 1 {
            continue;
        }
        queue.push((i, setup::code(&u.seed_base32, step)?));
        u.last_step = step;
    }
    // Used from the back: reverse so the first users go first.
    queue.reverse();
    r.login_names = s.login.iter().map(|u| u.name.clone()).collect();
    r.login_queue = Mutex::new(queue);
    // The server limits logins per source address (a burst of 30, then one a second).
    // Over loopback, spread them over source addresses 127.x.y.z, 20 per address, so the
    // measurement is of sign-in, not of that limiter; elsewhere use one client. Each run
    // takes addresses no earlier run of this state used: two runs within a few seconds
    // (as `moto-compare.sh` makes at 1 and 32 clients) on the same addresses would
    // spend their burst twice, and the second run's answers would be 429s.
    let n = s.login.len().div_ceil(20).max(1);
    if r.target.is_loopback_v4() {
        let first = s.login_next_source;
        s.login_next_source = first.wrapping_add(n as u32);
        for k in 0..n as u32 {
            let ip = setup::login_source_address(first.wrapping_add(k));
            r.login_sources.push(IpAddr::V4(ip));
        }
    }
    Ok(())
}

fn check(res: Result<String, String>) -> Outcome {
    match res {
        Ok(_) => Outcome::Ok,
        Err(e) => Outcome::Err(e),
    }
}

impl Ready {
    /// The long-term key for worker `w`'s `seq`th request (rotating through `keys` when
    /// the scale test gave many).
    fn key_for(&self, w: usize, seq: u64) -> &Creds {
        if self.keys.len() > 1 {
            let i = (w as u64).wrapping_mul(7919).wrapping_add(seq) % self.keys.len() as u64;
            self.keys.get(i as usize).unwrap_or(&self.creds)
        } else {
            &self.creds
        }
    }

    /// One operation of the scenario by worker `w`.
    pub async fn op(&self, conn: &mut Conn, w: usize, seq: u64) -> Outcome {
        match self.op_inner(conn, w, seq).await {
            Ok(o) => o,
            Err(e) => Outcome::Err(e),
        }
    }

    async fn op_inner(&self, conn: &mut Conn, w: usize, seq: u64) -> Result<Outcome, String> {
        let t = &self.target;
        Ok(match self.scenario {
            Scenario::GetCallerIdentity | Scenario::GetCallerIdentitySession => {
                let c = if self.scenario == Scenario::GetCallerIdentity {
                    self.key_for(w, seq)
                } else {
                    &self.creds
                };
                check(
                    conn.call(&wire::query(t, c, "sts", "GetCallerIdentity", &[])?)
                        .await,
                )
            }
            Scenario::AssumeRole => {
                let name = format!("bench-{w}-{seq}");
                let p = wire::query(
                    t,
                    &self.creds,
                    "sts",
                    "AssumeRole",
                    &[("RoleArn", &self.role_arn), ("RoleSessionName", &name)],
                )?;
                check(conn.call(&p).await)
            }
            Scenario::SimulatePrincipalPolicy => {
                let p = wire::query(
                    t,
                    &self.creds,
                    "iam",
                    "SimulatePrincipalPolicy",
                    &[
                        ("PolicySourceArn", &self.caller_arn),
                        ("ActionNames.member.1", "iam:ListUsers"),
                        ("ActionNames.member.2", "iam:DeleteUser"),
                    ],
                )?;
                check(conn.call(&p).await)
            }
            Scenario::CreateDeleteAccessKey => {
                let admin = self.admin.as_ref().ok_or("no admin credentials")?;
                let user = self
                    .key_users
                    .get(w % self.key_users.len().max(1))
                    .ok_or("no key users")?;
                let p = wire::query(t, admin, "iam", "CreateAccessKey", &[("UserName", user)])?;
                let xml = conn.call(&p).await?;
                let id = wire::xml_field(&xml, "AccessKeyId").ok_or("no AccessKeyId")?;
                let p = wire::query(
                    t,
                    admin,
                    "iam",
                    "DeleteAccessKey",
                    &[("UserName", user), ("AccessKeyId", &id)],
                )?;
                check(conn.call(&p).await)
            }
            Scenario::Authorize => {
                let svc = self.service.as_ref().ok_or("no service credentials")?;
                let body = self.authorize_body(seq)?;
                let p = wire::vault_json(t, svc, "/vault/v1/authorize", body)?;
                let text = conn.call(&p).await?;
                let a: AuthorizeResponse =
                    serde_json::from_str(&text).map_err(|e| format!("authorize answer: {e}"))?;
                if a.all_allowed() {
                    Outcome::Ok
                } else {
                    Outcome::Err(format!("not allowed: {}", wire::short(&text)))
                }
            }
            Scenario::Login => {
                let Some((i, code)) = self.login_queue.lock().map_err(|e| e.to_string())?.pop()
                else {
                    return Ok(Outcome::Exhausted);
                };
                let k = self.login_taken.fetch_add(1, Ordering::Relaxed);
                // 20 logins per source address; a client's connection moves with its address.
                conn.set_source(
                    self.login_sources
                        .get((k / 20) % self.login_sources.len().max(1))
                        .copied(),
                );
                let body = serde_json::json!({
                    "account_id": self.account,
                    "user_name": self.login_names.get(i).ok_or("no such login user")?,
                    "password": setup::PASSWORD,
                    "mfa_code": code,
                });
                let p = wire::Prepared {
                    path: "/vault/v1/login".into(),
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: body.to_string().into_bytes(),
                };
                check(conn.call(&p).await)
            }
        })
    }

    /// The service's call for one client request: an S3 GetObject signed with the role
    /// session, forwarded with one check.
    fn authorize_body(&self, seq: u64) -> Result<Vec<u8>, String> {
        let path = format!("/{}/objects/{}.csv", self.bucket, seq % 64);
        let mut creq = OwnedRequest::new("GET", &path)
            .with_header("host", "objects.internal:9000")
            .with_header("x-amz-content-sha256", EMPTY_SHA256);
        sigv4::sign(
            &mut creq,
            &self.creds.id,
            self.creds.secret.as_bytes(),
            self.creds.token.as_deref(),
            "us-east-1",
            "s3",
            SystemClock.now(),
        )
        .map_err(|e| format!("signing the client request: {e}"))?;
        let req = AuthorizeRequest {
            request: ClientRequest {
                method: creq.method,
                path: creq.path,
                query: creq.query,
                headers: creq.headers,
                body_sha256: EMPTY_SHA256.into(),
                source_ip: Some("10.0.0.7".into()),
                secure_transport: true,
            },
            checks: vec![Check {
                action: "s3:GetObject".into(),
                resource: format!("arn:aws:s3:::{}/objects/{}.csv", self.bucket, seq % 64),
            }],
            context: serde_json::Map::new(),
        };
        serde_json::to_vec(&req).map_err(|e| e.to_string())
    }
}
