//! `seed`: a large vault built in-process through `iamvault::service::Vault` as the
//! account root (no HTTP), for the scale measurements.

use std::path::{Path, PathBuf};
use std::time::Instant;

use iamvault::clock::Env;
use iamvault::model::AccountId;
use iamvault::service::{Caller, InitOptions, NewRole, RequestContext, Vault};
use iamvault::store::EntityKind;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::wire::Creds;

pub struct SeedArgs {
    pub data_dir: PathBuf,
    pub users: usize,
    pub keys_per_user: usize,
    pub roles: usize,
    pub policies: usize,
    pub staging: Option<PathBuf>,
    pub sample: usize,
    pub keys_out: PathBuf,
    pub quiet: bool,
}

/// What `seed` leaves next to the vault: the admin's key and sampled users' keys.
#[derive(Debug, Serialize, Deserialize)]
pub struct SeedKeys {
    pub account: String,
    pub admin: Creds,
    pub sample: Vec<Creds>,
    pub users: usize,
    pub access_keys: usize,
    pub roles: usize,
    pub policies: usize,
    pub seconds_seed: f64,
    pub seconds_copy: f64,
}

fn bar(n: usize, what: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(n as u64);
    if let Ok(s) = ProgressStyle::with_template(&format!(
        "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} ({{per_sec}})"
    )) {
        b.set_style(s.progress_chars("=> "));
    }
    b
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Seeds; returns the keys file's content (also written to `keys_out`).
pub fn seed(a: &SeedArgs) -> Result<SeedKeys, String> {
    if a.data_dir.exists()
        && std::fs::read_dir(&a.data_dir)
            .map_err(err)?
            .next()
            .is_some()
    {
        return Err(format!(
            "`{}` exists and is not empty: seed makes a new vault",
            a.data_dir.display()
        ));
    }
    // Seed where fsync is free (tmpfs) and copy the finished files: every service call
    // is its own durable transaction, 300,000+ of them.
    let staging = match &a.staging {
        Some(s) => s.clone(),
        None if Path::new("/dev/shm").is_dir() => {
            PathBuf::from(format!("/dev/shm/iamvault-seed-{}", std::process::id()))
        }
        None => a.data_dir.clone(),
    };
    let started = Instant::now();
    let acct = AccountId::parse("123456789012").map_err(err)?;
    let (vault, out) = Vault::init(
        &staging,
        Env::system(),
        InitOptions {
            account_id: Some(acct.clone()),
            ..InitOptions::default()
        },
    )
    .map_err(err)?;
    let root = Caller::root(&acct);
    let ctx = RequestContext::default();

    let b = bar(a.policies, "policies", a.quiet);
    let mut policy_arns = Vec::with_capacity(a.policies);
    for i in 0..a.policies {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Read{i}","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::data-{i}","arn:aws:s3:::data-{i}/*"]}},{{"Effect":"Allow","Action":"iam:Get*","Resource":"arn:aws:iam::123456789012:user/${{aws:username}}"}},{{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"false"}}}}}}]}}"#
        );
        let p = vault
            .create_policy(
                &root,
                &ctx,
                &format!("seed-policy-{i:05}"),
                None,
                &doc,
                None,
            )
            .map_err(|e| format!("CreatePolicy {i}: {e}"))?;
        policy_arns.push(p.arn);
        b.inc(1);
    }
    b.finish_and_clear();

    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    let b = bar(a.roles, "roles", a.quiet);
    for i in 0..a.roles {
        let name = format!("seed-role-{i:04}");
        vault
            .create_role(
                &root,
                &ctx,
                &NewRole {
                    name: &name,
                    trust_policy: trust,
                    ..NewRole::default()
                },
            )
            .map_err(|e| format!("CreateRole {i}: {e}"))?;
        if let Some(arn) = policy_arns.get(i % policy_arns.len().max(1)) {
            vault
                .attach_policy(&root, &ctx, EntityKind::Role, &name, arn)
                .map_err(|e| format!("AttachRolePolicy {i}: {e}"))?;
        }
        b.inc(1);
    }
    b.finish_and_clear();

    // Users on two threads: the store serializes the transactions, the threads overlap
    // the sealing, id generation and policy checks around them.
    let every = (a.users / a.sample.max(1)).max(1);
    let b = bar(a.users, "users", a.quiet);
    let threads = 2;
    let results: Vec<Result<Vec<Creds>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (vault, root, ctx, b, policy_arns) = (&vault, &root, &ctx, &b, &policy_arns);
                s.spawn(move || -> Result<Vec<Creds>, String> {
                    let mut sample = Vec::new();
                    for i in (t..a.users).step_by(threads) {
                        let name = format!("seed-user-{i:06}");
                        vault
                            .create_user(root, ctx, &name, None, None, &[])
                            .map_err(|e| format!("CreateUser {i}: {e}"))?;
                        if let Some(arn) = policy_arns.get(i % policy_arns.len().max(1)) {
                            vault
                                .attach_policy(root, ctx, EntityKind::User, &name, arn)
                                .map_err(|e| format!("AttachUserPolicy {i}: {e}"))?;
                        }
                        for k in 0..a.keys_per_user {
                            let key = vault
                                .create_access_key(root, ctx, Some(&name))
                                .map_err(|e| format!("CreateAccessKey {i}: {e}"))?;
                            if k == 0 && i % every == 0 {
                                sample.push(Creds {
                                    id: key.metadata.access_key_id.clone(),
                                    secret: key.secret.expose().to_owned(),
                                    token: None,
                                });
                            }
                        }
                        b.inc(1);
                    }
                    Ok(sample)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a seeding thread panicked".into()))
            })
            .collect()
    });
    b.finish_and_clear();
    let mut sample = Vec::new();
    for r in results {
        sample.extend(r?);
    }
    drop(vault);
    let seconds_seed = started.elapsed().as_secs_f64();

    let copy_started = Instant::now();
    if staging != a.data_dir {
        copy_dir(&staging, &a.data_dir)?;
        std::fs::remove_dir_all(&staging).map_err(err)?;
    }
    let seconds_copy = copy_started.elapsed().as_secs_f64();
    let keys = SeedKeys {
        account: out.account_id.to_string(),
        admin: Creds {
            id: out.admin_access_key_id.clone(),
            secret: out.admin_secret_access_key.expose().to_owned(),
            token: None,
        },
        sample,
        users: a.users,
        access_keys: a.users * a.keys_per_user,
        roles: a.roles,
        policies: a.policies,
        seconds_seed,
        seconds_copy,
    };
    let text = serde_json::to_string_pretty(&keys).map_err(err)?;
    std::fs::write(&a.keys_out, text)
        .map_err(|e| format!("cannot write `{}`: {e}", a.keys_out.display()))?;
    Ok(keys)
}

/// Copies the vault's files (mode bits kept) and makes them durable.
fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(to)
        .map_err(|e| format!("cannot create `{}`: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(err)? {
        let entry = entry.map_err(err)?;
        if !entry.file_type().map_err(err)?.is_file() {
            continue;
        }
        let dest = to.join(entry.file_name());
        std::fs::copy(entry.path(), &dest)
            .map_err(|e| format!("cannot copy to `{}`: {e}", dest.display()))?;
        std::fs::File::open(&dest)
            .and_then(|f| f.sync_all())
            .map_err(err)?;
    }
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(err)?;
    Ok(())
}

pub fn load_keys(path: &Path) -> Result<SeedKeys, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("`{}`: {e}", path.display()))
}
