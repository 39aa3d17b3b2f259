//! `iamvault keys …` and `iamvault token inspect`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::{Ctx, Output};
use crate::error::{Error, Result};
use crate::sts;

/// Token-signing key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// List the token-signing keys.
    #[command(after_help = "Example:\n  iamvault keys list")]
    List,
    /// Make a new signing key current; old public keys stay until their tokens expire.
    #[command(after_help = "Example:\n  iamvault keys rotate")]
    Rotate,
    /// Print the public keys as a JWKS (OKP, Ed25519), for checking tokens offline.
    #[command(after_help = "Example:\n  iamvault keys export > jwks.json")]
    Export,
}

/// Session commands.
#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// Revoke one session: its token stops working at once and stays refused until it
    /// would have expired.
    #[command(after_help = "Example:\n  iamvault session revoke \"$AWS_SESSION_TOKEN\"")]
    Revoke {
        /// The session token.
        token: String,
    },
}

pub(super) fn session(c: &Ctx, cmd: SessionCmd) -> Result<Output> {
    match cmd {
        SessionCmd::Revoke { token } => {
            let now = crate::clock::Clock::now(&crate::clock::SystemClock);
            let (claims, _, _) = sts::inspect(token.trim(), None, now)
                .map_err(|e| Error::InvalidInput(e.to_string()))?;
            let id = hex::encode(claims.token_id);
            c.vault.revoke_session(&c.caller, &id, claims.expires_at)?;
            Ok(Output {
                note: Some(format!("revoked session {} ({})", id, claims.principal_arn)),
                json: json!({ "token_id": id, "principal_arn": claims.principal_arn }),
                exit: 0,
                lines: false,
            })
        }
    }
}

/// Token commands that need no data directory.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Decode a session token's claims; with --jwks, also check its signature.
    #[command(
        after_help = "Example:\n  iamvault token inspect \"$AWS_SESSION_TOKEN\" --jwks jwks.json"
    )]
    Inspect {
        /// The session token.
        token: String,
        /// A JWKS file from `iamvault keys export`.
        #[arg(long)]
        jwks: Option<PathBuf>,
    },
}

pub(super) fn keys(c: &Ctx, cmd: KeysCmd) -> Result<Output> {
    Ok(match cmd {
        KeysCmd::List => {
            let keys: Vec<serde_json::Value> = c
                .vault
                .signing_keys()?
                .into_iter()
                .map(|(kid, current, created, retire)| json!({"kid": kid, "current": current, "created_at": created, "retire_after": retire}))
                .collect();
            Output::doc(json!({ "keys": keys }))
        }
        KeysCmd::Rotate => {
            let kid = c.vault.rotate_signing_key(&c.caller)?;
            Output {
                note: Some(format!("new current signing key {kid}")),
                json: json!({ "kid": kid }),
                exit: 0,
                lines: false,
            }
        }
        KeysCmd::Export => Output::doc(c.vault.jwks()?),
    })
}

pub(super) fn token(cmd: TokenCmd) -> Result<Output> {
    match cmd {
        TokenCmd::Inspect { token, jwks } => {
            let keys = match jwks {
                Some(p) => {
                    let text = std::fs::read_to_string(&p).map_err(|e| {
                        Error::InvalidInput(format!("cannot read `{}`: {e}", p.display()))
                    })?;
                    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                        Error::InvalidInput(format!("`{}` is not json: {e}", p.display()))
                    })?;
                    Some(sts::from_jwks(&v)?)
                }
                None => None,
            };
            let now = crate::clock::Clock::now(&crate::clock::SystemClock);
            let (c, kid, ok) = sts::inspect(token.trim(), keys.as_ref(), now)
                .map_err(|e| Error::InvalidInput(e.to_string()))?;
            let json = json!({
                "kid": hex::encode(kid),
                "signature_valid": ok,
                "kind": format!("{:?}", c.kind),
                "account": c.account,
                "arn": c.principal_arn,
                "principal_id": c.principal_id,
                "role_arn": c.role_arn,
                "session_name": c.session_name,
                "issued_at": c.issued_at,
                "expires_at": c.expires_at,
                "expired": now.unix_timestamp() >= c.expires_at,
                "mfa_time": c.mfa_time,
                "source_identity": c.source_identity,
                "tags": c.tags,
                "transitive_tag_keys": c.transitive_tag_keys,
                "session_policies": c.session_policies,
                "policy_arns": c.policy_arns,
                "chain_depth": c.chain_depth,
                "token_id": hex::encode(c.token_id),
                "access_key_id": c.access_key_id,
            });
            let exit = if ok == Some(false) { 2 } else { 0 };
            Ok(Output {
                note: None,
                json,
                exit,
                lines: false,
            })
        }
    }
}
