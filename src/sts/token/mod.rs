//! The session-token envelope. Layout (before base64url without padding):
//!
//! ```text
//! magic "IVT" | version 0x01 | key id (8) | claims length (u16 BE) | claims | signature (64)
//! ```
//!
//! The signature is Ed25519 over `DOMAIN ‖ magic ‖ version ‖ key id ‖ length ‖ claims`
//! and is always checked with `verify_strict`. The version fixes the algorithm; nothing in
//! the token chooses it. Claims are a canonical TLV list (tag u8, length u16 BE, value) in
//! ascending tag order; unknown tags are refused. The session's secret access key is
//! sealed (AES-256-GCM, session-secret purpose key) with associated data naming the token
//! id and the access key id, so it cannot be moved into another token.

use base64::Engine as _;
use ed25519_dalek::Signature;
use time::OffsetDateTime;

use super::keys::{KeyId, PublicKeySet, TokenSigningKey};
use crate::clock::Random;
use crate::crypto::{KeyRing, Purpose};
use crate::error::{Error, Result};
use crate::model::SecretString;

/// Domain separation for the signed bytes.
const DOMAIN: &[u8] = b"iamvault session token v1\0";
const MAGIC: &[u8; 3] = b"IVT";
const VERSION: u8 = 1;
const HEADER: usize = 3 + 1 + 8 + 2;
const SIG: usize = 64;
/// Largest claims block.
pub const MAX_CLAIMS: usize = 8_192;
/// Largest token accepted, in characters, checked before decoding.
pub const MAX_TOKEN_CHARS: usize = (HEADER + MAX_CLAIMS + SIG).div_ceil(3) * 4;
/// Tokens issued this far in the future are not yet valid (clock skew allowance).
const FUTURE_SKEW_SECS: i64 = 300;

/// What kind of session a token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// AssumeRole.
    Role,
    /// GetSessionToken (and sign-in).
    User,
    /// An EC2-like instance's role session.
    Instance,
}

impl SessionKind {
    fn byte(self) -> u8 {
        match self {
            SessionKind::Role => 1,
            SessionKind::User => 2,
            SessionKind::Instance => 3,
        }
    }
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(SessionKind::Role),
            2 => Some(SessionKind::User),
            3 => Some(SessionKind::Instance),
            _ => None,
        }
    }
}

/// The claims of a session. The secret is not here: it travels sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Session kind.
    pub kind: SessionKind,
    /// The account of the session.
    pub account: String,
    /// The session's ARN (`…:assumed-role/ROLE/SESSION` or the user ARN).
    pub principal_arn: String,
    /// The principal's unique id: `AROA…:session` or `AIDA…`.
    pub principal_id: String,
    /// The role ARN (role and instance sessions).
    pub role_arn: Option<String>,
    /// The session name (role sessions).
    pub session_name: Option<String>,
    /// Issue time (unix seconds).
    pub issued_at: i64,
    /// Expiry (unix seconds).
    pub expires_at: i64,
    /// MFA was used, and when (unix seconds).
    pub mfa_time: Option<i64>,
    /// SourceIdentity.
    pub source_identity: Option<String>,
    /// Session tags.
    pub tags: Vec<(String, String)>,
    /// Transitive tag keys.
    pub transitive_tag_keys: Vec<String>,
    /// Inline session policy documents.
    pub session_policies: Vec<String>,
    /// Managed session policy ARNs.
    pub policy_arns: Vec<String>,
    /// Role chaining depth (0 for a first-hop session).
    pub chain_depth: u8,
    /// 16 random bytes.
    pub token_id: [u8; 16],
    /// The session access key id (`ASIA…`).
    pub access_key_id: String,
    /// The long-term key the session was made from (GetSessionToken), for revocation.
    pub source_access_key_id: Option<String>,
}

/// A verified token: its claims and the session secret.
pub struct VerifiedToken {
    /// The claims.
    pub claims: Claims,
    /// The secret access key for SigV4 verification.
    pub secret: SecretString,
    /// The key id that signed it.
    pub kid: KeyId,
}

/// Why a token was refused, mapped to AWS's codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed, forged, unknown key, moved secret…: AWS's `InvalidClientTokenId`.
    #[error("The security token included in the request is invalid.")]
    Invalid,
    /// Expired: AWS's `ExpiredToken`.
    #[error("The security token included in the request is expired")]
    Expired,
}

impl TokenError {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Invalid => "InvalidClientTokenId",
            TokenError::Expired => "ExpiredToken",
        }
    }
}

mod tag {
    pub const KIND: u8 = 1;
    pub const ACCOUNT: u8 = 2;
    pub const PRINCIPAL_ARN: u8 = 3;
    pub const PRINCIPAL_ID: u8 = 4;
    pub const ROLE_ARN: u8 = 5;
    pub const SESSION_NAME: u8 = 6;
    pub const ISSUED_AT: u8 = 7;
    pub const EXPIRES_AT: u8 = 8;
    pub const MFA_TIME: u8 = 9;
    pub const SOURCE_IDENTITY: u8 = 10;
    pub const TAG: u8 = 11;
    pub const TRANSITIVE_KEY: u8 = 12;
    pub const SESSION_POLICY: u8 = 13;
    pub const POLICY_ARN: u8 = 14;
    pub const CHAIN_DEPTH: u8 = 15;
    pub const TOKEN_ID: u8 = 16;
    pub const ACCESS_KEY_ID: u8 = 17;
    pub const SOURCE_ACCESS_KEY_ID: u8 = 18;
    pub const SEALED_SECRET: u8 = 19;
}

fn put(out: &mut Vec<u8>, t: u8, v: &[u8]) -> Result<()> {
    let len = u16::try_from(v.len())
        .map_err(|_| Error::InvalidInput("a session claim is too large".into()))?;
    out.push(t);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(v);
    Ok(())
}

fn secret_aad(token_id: &[u8; 16], access_key_id: &str) -> Vec<u8> {
    format!(
        "iamvault/session-secret/v1|{}|{access_key_id}",
        hex::encode(token_id)
    )
    .into_bytes()
}

fn encode_claims(c: &Claims, sealed: &[u8]) -> Result<Vec<u8>> {
    let mut o = Vec::with_capacity(512);
    put(&mut o, tag::KIND, &[c.kind.byte()])?;
    put(&mut o, tag::ACCOUNT, c.account.as_bytes())?;
    put(&mut o, tag::PRINCIPAL_ARN, c.principal_arn.as_bytes())?;
    put(&mut o, tag::PRINCIPAL_ID, c.principal_id.as_bytes())?;
    if let Some(r) = &c.role_arn {
        put(&mut o, tag::ROLE_ARN, r.as_bytes())?;
    }
    if let Some(s) = &c.session_name {
        put(&mut o, tag::SESSION_NAME, s.as_bytes())?;
    }
    put(&mut o, tag::ISSUED_AT, &c.issued_at.to_be_bytes())?;
    put(&mut o, tag::EXPIRES_AT, &c.expires_at.to_be_bytes())?;
    if let Some(m) = c.mfa_time {
        put(&mut o, tag::MFA_TIME, &m.to_be_bytes())?;
    }
    if let Some(s) = &c.source_identity {
        put(&mut o, tag::SOURCE_IDENTITY, s.as_bytes())?;
    }
    for (k, v) in &c.tags {
        let mut kv = Vec::with_capacity(k.len() + v.len() + 1);
        kv.extend_from_slice(k.as_bytes());
        kv.push(0);
        kv.extend_from_slice(v.as_bytes());
        put(&mut o, tag::TAG, &kv)?;
    }
    for k in &c.transitive_tag_keys {
        put(&mut o, tag::TRANSITIVE_KEY, k.as_bytes())?;
    }
    for p in &c.session_policies {
        put(&mut o, tag::SESSION_POLICY, p.as_bytes())?;
    }
    for p in &c.policy_arns {
        put(&mut o, tag::POLICY_ARN, p.as_bytes())?;
    }
    put(&mut o, tag::CHAIN_DEPTH, &[c.chain_depth])?;
    put(&mut o, tag::TOKEN_ID, &c.token_id)?;
    put(&mut o, tag::ACCESS_KEY_ID, c.access_key_id.as_bytes())?;
    if let Some(s) = &c.source_access_key_id {
        put(&mut o, tag::SOURCE_ACCESS_KEY_ID, s.as_bytes())?;
    }
    put(&mut o, tag::SEALED_SECRET, sealed)?;
    if o.len() > MAX_CLAIMS {
        return Err(Error::LimitExceeded(
            "the session's claims (policies and tags) are too large to fit in a session token"
                .into(),
        ));
    }
    Ok(o)
}

fn text(v: &[u8]) -> std::result::Result<String, TokenError> {
    String::from_utf8(v.to_vec()).map_err(|_| TokenError::Invalid)
}

fn int(v: &[u8]) -> std::result::Result<i64, TokenError> {
    let a: [u8; 8] = v.try_into().map_err(|_| TokenError::Invalid)?;
    Ok(i64::from_be_bytes(a))
}

fn decode_claims(mut b: &[u8]) -> std::result::Result<(Claims, Vec<u8>), TokenError> {
    let mut c = Claims {
        kind: SessionKind::Role,
        account: String::new(),
        principal_arn: String::new(),
        principal_id: String::new(),
        role_arn: None,
        session_name: None,
        issued_at: 0,
        expires_at: 0,
        mfa_time: None,
        source_identity: None,
        tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        session_policies: Vec::new(),
        policy_arns: Vec::new(),
        chain_depth: 0,
        token_id: [0; 16],
        access_key_id: String::new(),
        source_access_key_id: None,
    };
    let mut sealed = None;
    let mut last = 0u8;
    let mut seen = [false; 20];
    while !b.is_empty() {
        let (&t, rest) = b.split_first().ok_or(TokenError::Invalid)?;
        let len_bytes: [u8; 2] = rest
            .get(..2)
            .and_then(|s| s.try_into().ok())
            .ok_or(TokenError::Invalid)?;
        let len = usize::from(u16::from_be_bytes(len_bytes));
        let v = rest.get(2..2 + len).ok_or(TokenError::Invalid)?;
        b = rest.get(2 + len..).ok_or(TokenError::Invalid)?;
        // Canonical order: ascending tags; only the list tags may repeat.
        let repeatable = matches!(
            t,
            tag::TAG | tag::TRANSITIVE_KEY | tag::SESSION_POLICY | tag::POLICY_ARN
        );
        if t < last || (t == last && !repeatable) {
            return Err(TokenError::Invalid);
        }
        last = t;
        if let Some(s) = seen.get_mut(usize::from(t)) {
            *s = true;
        }
        match t {
            tag::KIND => {
                c.kind = v
                    .first()
                    .copied()
                    .and_then(SessionKind::from_byte)
                    .ok_or(TokenError::Invalid)?
            }
            tag::ACCOUNT => c.account = text(v)?,
            tag::PRINCIPAL_ARN => c.principal_arn = text(v)?,
            tag::PRINCIPAL_ID => c.principal_id = text(v)?,
            tag::ROLE_ARN => c.role_arn = Some(text(v)?),
            tag::SESSION_NAME => c.session_name = Some(text(v)?),
            tag::ISSUED_AT => c.issued_at = int(v)?,
            tag::EXPIRES_AT => c.expires_at = int(v)?,
            tag::MFA_TIME => c.mfa_time = Some(int(v)?),
            tag::SOURCE_IDENTITY => c.source_identity = Some(text(v)?),
            tag::TAG => {
                let s = text(v)?;
                let (k, val) = s.split_once('\0').ok_or(TokenError::Invalid)?;
                c.tags.push((k.to_owned(), val.to_owned()));
            }
            tag::TRANSITIVE_KEY => c.transitive_tag_keys.push(text(v)?),
            tag::SESSION_POLICY => c.session_policies.push(text(v)?),
            tag::POLICY_ARN => c.policy_arns.push(text(v)?),
            tag::CHAIN_DEPTH => {
                c.chain_depth = *v
                    .first()
                    .filter(|_| v.len() == 1)
                    .ok_or(TokenError::Invalid)?
            }
            tag::TOKEN_ID => c.token_id = v.try_into().map_err(|_| TokenError::Invalid)?,
            tag::ACCESS_KEY_ID => c.access_key_id = text(v)?,
            tag::SOURCE_ACCESS_KEY_ID => c.source_access_key_id = Some(text(v)?),
            tag::SEALED_SECRET => sealed = Some(v.to_vec()),
            _ => return Err(TokenError::Invalid),
        }
    }
    let required = [
        tag::KIND,
        tag::ACCOUNT,
        tag::PRINCIPAL_ARN,
        tag::PRINCIPAL_ID,
        tag::ISSUED_AT,
        tag::EXPIRES_AT,
        tag::CHAIN_DEPTH,
        tag::TOKEN_ID,
        tag::ACCESS_KEY_ID,
        tag::SEALED_SECRET,
    ];
    if required
        .iter()
        .any(|t| !seen.get(usize::from(*t)).copied().unwrap_or(false))
    {
        return Err(TokenError::Invalid);
    }
    Ok((c, sealed.ok_or(TokenError::Invalid)?))
}

/// Mints a token for `claims`, sealing `secret` inside it.
pub fn mint(
    claims: &Claims,
    secret: &SecretString,
    key: &TokenSigningKey,
    keyring: &KeyRing,
    rng: &dyn Random,
) -> Result<String> {
    let sealed = keyring.sealer(Purpose::SessionSecret).seal(
        rng,
        &secret_aad(&claims.token_id, &claims.access_key_id),
        secret.expose().as_bytes(),
    )?;
    let body = encode_claims(claims, &sealed)?;
    let len = u16::try_from(body.len()).map_err(|_| Error::Internal("claims length".into()))?;
    let mut out = Vec::with_capacity(HEADER + body.len() + SIG);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&key.kid());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    let mut signed = Vec::with_capacity(DOMAIN.len() + out.len());
    signed.extend_from_slice(DOMAIN);
    signed.extend_from_slice(&out);
    out.extend_from_slice(&key.sign(&signed));
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out))
}

/// Splits a token into (kid, signed bytes without the domain, claims, signature), with
/// every bound checked before anything is allocated in proportion to the input.
fn split(token: &str) -> std::result::Result<(KeyId, Vec<u8>, usize, Signature), TokenError> {
    if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
        return Err(TokenError::Invalid);
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| TokenError::Invalid)?;
    if raw.len() < HEADER + SIG
        || raw.get(..3) != Some(MAGIC.as_slice())
        || raw.get(3) != Some(&VERSION)
    {
        return Err(TokenError::Invalid);
    }
    let kid: KeyId = raw
        .get(4..12)
        .and_then(|s| s.try_into().ok())
        .ok_or(TokenError::Invalid)?;
    let len_bytes: [u8; 2] = raw
        .get(12..14)
        .and_then(|s| s.try_into().ok())
        .ok_or(TokenError::Invalid)?;
    let len = usize::from(u16::from_be_bytes(len_bytes));
    if len > MAX_CLAIMS || raw.len() != HEADER + len + SIG {
        return Err(TokenError::Invalid);
    }
    let sig_bytes: [u8; 64] = raw
        .get(HEADER + len..)
        .and_then(|s| s.try_into().ok())
        .ok_or(TokenError::Invalid)?;
    let mut msg = raw;
    msg.truncate(HEADER + len);
    Ok((kid, msg, len, Signature::from_bytes(&sig_bytes)))
}

/// Verifies a token at `now`: bounded parse → version → key id → strict signature →
/// time window → unseal the secret.
pub fn verify(
    token: &str,
    keys: &PublicKeySet,
    keyring: &KeyRing,
    now: OffsetDateTime,
) -> std::result::Result<VerifiedToken, TokenError> {
    let (kid, msg, _len, sig) = split(token)?;
    let vk = keys.get(&kid, now).ok_or(TokenError::Invalid)?;
    let mut signed = Vec::with_capacity(DOMAIN.len() + msg.len());
    signed.extend_from_slice(DOMAIN);
    signed.extend_from_slice(&msg);
    vk.verify_strict(&signed, &sig)
        .map_err(|_| TokenError::Invalid)?;
    let (claims, sealed) = decode_claims(msg.get(HEADER..).ok_or(TokenError::Invalid)?)?;
    let t = now.unix_timestamp();
    if claims.issued_at > t + FUTURE_SKEW_SECS || claims.expires_at <= claims.issued_at {
        return Err(TokenError::Invalid);
    }
    if t >= claims.expires_at {
        return Err(TokenError::Expired);
    }
    let plain = keyring
        .sealer(Purpose::SessionSecret)
        .open(
            &secret_aad(&claims.token_id, &claims.access_key_id),
            &sealed,
        )
        .map_err(|_| TokenError::Invalid)?;
    let secret = String::from_utf8(plain.expose().to_vec()).map_err(|_| TokenError::Invalid)?;
    Ok(VerifiedToken {
        claims,
        secret: SecretString::new(secret),
        kid,
    })
}

/// Decodes a token's claims without a data directory; checks the signature when a key set
/// is given. Returns the claims, the key id, and whether the signature verified.
pub fn inspect(
    token: &str,
    keys: Option<&PublicKeySet>,
    now: OffsetDateTime,
) -> std::result::Result<(Claims, KeyId, Option<bool>), TokenError> {
    let (kid, msg, _len, sig) = split(token)?;
    let (claims, _sealed) = decode_claims(msg.get(HEADER..).ok_or(TokenError::Invalid)?)?;
    let checked = keys.map(|ks| {
        let mut signed = Vec::with_capacity(DOMAIN.len() + msg.len());
        signed.extend_from_slice(DOMAIN);
        signed.extend_from_slice(&msg);
        ks.get(&kid, now)
            .is_some_and(|vk| vk.verify_strict(&signed, &sig).is_ok())
    });
    Ok((claims, kid, checked))
}

#[cfg(test)]
mod tests;
