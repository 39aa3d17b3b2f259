//! `iamvault instance …` and `iamvault agent`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Ctx, Output};
use crate::error::{Error, Result};

/// Instance identity commands.
#[derive(Debug, Subcommand)]
pub enum InstanceCmd {
    /// Make an instance key: the private key to FILE (0600), the public key to FILE.pub.
    #[command(after_help = "Example:\n  iamvault instance keygen --out /etc/iamvault/instance.key")]
    Keygen {
        /// Where to write the private key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Register an instance's public key with an instance profile (needs iam:PassRole on
    /// the profile's role).
    #[command(
        after_help = "Example:\n  iamvault instance register web-1 --instance-profile web --public-key-file instance.key.pub"
    )]
    Register {
        /// A name for people.
        name: String,
        /// The instance profile.
        #[arg(long)]
        instance_profile: String,
        /// The `.pub` file from `instance keygen`.
        #[arg(long)]
        public_key_file: PathBuf,
    },
    /// List registered instances.
    #[command(after_help = "Example:\n  iamvault instance list")]
    List,
    /// Deregister an instance; its sessions are revoked.
    #[command(after_help = "Example:\n  iamvault instance deregister i-0123456789abcdef0")]
    Deregister {
        /// Instance id.
        instance_id: String,
    },
}

/// Arguments of `agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The vault's URL.
    #[arg(long)]
    endpoint: String,
    /// The instance key from `instance keygen`.
    #[arg(long)]
    instance_key: PathBuf,
    /// Where to serve IMDSv2 and container credentials.
    #[arg(long, default_value = "127.0.0.1:8901")]
    listen: SocketAddr,
    /// A file holding the bearer token for /v1/container-credentials.
    #[arg(long)]
    container_token_file: Option<PathBuf>,
}

pub(super) fn keygen(out: &Path) -> Result<Output> {
    let public = crate::agent::keygen(out)?;
    let pub_file = format!("{}.pub", out.display());
    Ok(Output {
        note: Some(public.clone()),
        json: json!({ "public_key": public, "private_key_file": out.display().to_string(), "public_key_file": pub_file }),
        exit: 0,
        lines: false,
    })
}

pub(super) fn run(c: &Ctx, cmd: InstanceCmd) -> Result<Output> {
    let (v, who, req) = (&c.vault, &c.caller, &c.req);
    Ok(match cmd {
        InstanceCmd::Keygen { out } => keygen(&out)?,
        InstanceCmd::Register {
            name,
            instance_profile,
            public_key_file,
        } => {
            let text = std::fs::read_to_string(&public_key_file).map_err(|e| {
                Error::InvalidInput(format!("cannot read `{}`: {e}", public_key_file.display()))
            })?;
            let key = hex::decode(text.trim()).map_err(|_| {
                Error::InvalidInput(format!(
                    "`{}` is not a hex public key",
                    public_key_file.display()
                ))
            })?;
            Output::doc(
                serde_json::to_value(v.register_instance(
                    who,
                    req,
                    &name,
                    &instance_profile,
                    &key,
                )?)
                .unwrap_or_default(),
            )
        }
        InstanceCmd::List => Output::doc(json!({ "Instances": v.list_instances(who, req)? })),
        InstanceCmd::Deregister { instance_id } => {
            v.deregister_instance(who, req, &instance_id)?;
            Output::done(format!("deregistered {instance_id}"))
        }
    })
}

pub(super) fn agent(a: AgentArgs) -> Result<Output> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(super::logbuf::ansi())
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(crate::agent::run(
        a.endpoint,
        &a.instance_key,
        a.listen,
        a.container_token_file.as_deref(),
    ))?;
    Ok(Output::done("iamvault agent stopped"))
}
