use super::*;
use crate::clock::TestRandom;
use crate::crypto::MasterKey;
use time::macros::datetime;

pub(crate) fn claims(now: OffsetDateTime) -> Claims {
    Claims {
        kind: SessionKind::Role,
        account: "123456789012".into(),
        principal_arn: "arn:aws:sts::123456789012:assumed-role/app/s1".into(),
        principal_id: "AROAEXAMPLEEXAMPLEEXA:s1".into(),
        role_arn: Some("arn:aws:iam::123456789012:role/app".into()),
        session_name: Some("s1".into()),
        issued_at: now.unix_timestamp(),
        expires_at: now.unix_timestamp() + 3600,
        mfa_time: Some(now.unix_timestamp()),
        source_identity: Some("alice".into()),
        tags: vec![("team".into(), "platform".into())],
        transitive_tag_keys: vec!["team".into()],
        session_policies: vec![r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#.into()],
        policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
        chain_depth: 0,
        token_id: [7; 16],
        access_key_id: "ASIAEXAMPLEEXAMPLE22".into(),
        source_access_key_id: None,
    }
}

struct Fx {
    ring: KeyRing,
    key: TokenSigningKey,
    keys: PublicKeySet,
    now: OffsetDateTime,
}

fn fx() -> Fx {
    let rng = TestRandom::new(11);
    let ring = KeyRing::derive(&MasterKey::from_bytes([3; 32])).unwrap();
    let key = TokenSigningKey::generate(&rng).unwrap();
    let mut keys = PublicKeySet::default();
    keys.insert(key.public(), None);
    Fx {
        ring,
        key,
        keys,
        now: datetime!(2026-06-01 12:00 UTC),
    }
}

fn secret() -> SecretString {
    SecretString::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into())
}

fn raw(token: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap()
}

fn enc(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[test]
fn round_trip() {
    let f = fx();
    let c = claims(f.now);
    let t = mint(&c, &secret(), &f.key, &f.ring, &TestRandom::new(1)).unwrap();
    let v = verify(&t, &f.keys, &f.ring, f.now).unwrap();
    assert_eq!(v.claims, c);
    assert!(v.secret == secret());
    assert!(!t.contains("wJalr"));
    let (ic, kid, ok) = inspect(&t, Some(&f.keys), f.now).unwrap();
    assert_eq!((ic, kid, ok), (c, f.key.kid(), Some(true)));
}

#[test]
fn a_flipped_bit_anywhere_is_refused() {
    let f = fx();
    let t = mint(
        &claims(f.now),
        &secret(),
        &f.key,
        &f.ring,
        &TestRandom::new(1),
    )
    .unwrap();
    let r = raw(&t);
    for i in 0..r.len() {
        for bit in [0x01u8, 0x80] {
            let mut m = r.clone();
            m[i] ^= bit;
            assert_eq!(
                verify(&enc(&m), &f.keys, &f.ring, f.now).err(),
                Some(TokenError::Invalid),
                "byte {i}"
            );
        }
    }
}

#[test]
fn key_ids_versions_and_other_vaults() {
    let f = fx();
    let t = mint(
        &claims(f.now),
        &secret(),
        &f.key,
        &f.ring,
        &TestRandom::new(1),
    )
    .unwrap();
    // Unknown key id.
    let mut m = raw(&t);
    m[4..12].copy_from_slice(&[9; 8]);
    assert!(verify(&enc(&m), &f.keys, &f.ring, f.now).is_err());
    // Signed by another vault's key (same key ring, different signing key).
    let other = TokenSigningKey::generate(&TestRandom::new(99)).unwrap();
    let forged = mint(
        &claims(f.now),
        &secret(),
        &other,
        &f.ring,
        &TestRandom::new(1),
    )
    .unwrap();
    assert_eq!(
        verify(&forged, &f.keys, &f.ring, f.now).err(),
        Some(TokenError::Invalid)
    );
    // Swapped key id: another key's id on this key's signature.
    let mut both = f.keys.clone();
    both.insert(other.public(), None);
    let mut m = raw(&t);
    m[4..12].copy_from_slice(&other.kid());
    assert!(verify(&enc(&m), &both, &f.ring, f.now).is_err());
    // Another vault's key ring cannot unseal the secret even with the right key.
    let other_ring = KeyRing::derive(&MasterKey::from_bytes([4; 32])).unwrap();
    assert!(verify(&t, &f.keys, &other_ring, f.now).is_err());
    // Wrong version byte.
    let mut m = raw(&t);
    m[3] = 2;
    assert!(verify(&enc(&m), &f.keys, &f.ring, f.now).is_err());
}

#[test]
fn a_sealed_secret_moved_into_another_token_does_not_open() {
    let f = fx();
    let a = claims(f.now);
    let mut b = claims(f.now);
    b.token_id = [8; 16];
    b.access_key_id = "ASIAOTHEROTHEROTHER2".into();
    let ta = mint(&a, &secret(), &f.key, &f.ring, &TestRandom::new(1)).unwrap();
    // Re-sign b's claims carrying a's sealed secret (an attacker with the signing key but
    // not the master key): the secret is bound to a's token id and key id.
    let (_, msg, _, _) = split(&ta).unwrap();
    let (_, sealed_a) = decode_claims(&msg[HEADER..]).unwrap();
    let body = encode_claims(&b, &sealed_a).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&f.key.kid());
    out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&body);
    let mut signed = DOMAIN.to_vec();
    signed.extend_from_slice(&out);
    out.extend_from_slice(&f.key.sign(&signed));
    assert_eq!(
        verify(&enc(&out), &f.keys, &f.ring, f.now).err(),
        Some(TokenError::Invalid)
    );
}

#[test]
fn truncated_oversized_expired_and_future_tokens() {
    let f = fx();
    let t = mint(
        &claims(f.now),
        &secret(),
        &f.key,
        &f.ring,
        &TestRandom::new(1),
    )
    .unwrap();
    for cut in [0, 1, 10, t.len() / 2, t.len() - 1] {
        assert!(
            verify(&t[..cut], &f.keys, &f.ring, f.now).is_err(),
            "cut {cut}"
        );
    }
    assert!(verify(&"A".repeat(MAX_TOKEN_CHARS + 1), &f.keys, &f.ring, f.now).is_err());
    assert_eq!(
        verify(&t, &f.keys, &f.ring, f.now + time::Duration::hours(1)).err(),
        Some(TokenError::Expired)
    );
    assert!(verify(&t, &f.keys, &f.ring, f.now + time::Duration::minutes(59)).is_ok());
    assert_eq!(
        verify(&t, &f.keys, &f.ring, f.now - time::Duration::minutes(6)).err(),
        Some(TokenError::Invalid)
    );
    assert_eq!(TokenError::Expired.code(), "ExpiredToken");
    assert_eq!(TokenError::Invalid.code(), "InvalidClientTokenId");
}

#[test]
fn retired_keys_stop_verifying() {
    let f = fx();
    let t = mint(
        &claims(f.now),
        &secret(),
        &f.key,
        &f.ring,
        &TestRandom::new(1),
    )
    .unwrap();
    let mut keys = PublicKeySet::default();
    keys.insert(f.key.public(), Some(f.now + time::Duration::minutes(30)));
    assert!(verify(&t, &keys, &f.ring, f.now).is_ok());
    assert!(verify(&t, &keys, &f.ring, f.now + time::Duration::minutes(31)).is_err());
    let jwks = super::super::jwks(&keys);
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert_eq!(jwks["keys"][0]["kid"], hex::encode(f.key.kid()));
    let back = super::super::keys::from_jwks(&jwks).unwrap();
    assert_eq!(inspect(&t, Some(&back), f.now).unwrap().2, Some(true));
}

#[test]
fn sealed_signing_keys_round_trip_bound_to_their_id() {
    let f = fx();
    let sealed = f.key.seal(&f.ring, &TestRandom::new(2)).unwrap();
    let back = TokenSigningKey::open(&f.ring, &f.key.kid(), &sealed).unwrap();
    assert_eq!(back.kid(), f.key.kid());
    assert!(TokenSigningKey::open(&f.ring, &[0; 8], &sealed).is_err());
}

proptest::proptest! {
    #[test]
    fn verify_and_inspect_never_panic(s in ".{0,400}") {
        let f = fx();
        let _ = verify(&s, &f.keys, &f.ring, f.now);
        let _ = inspect(&s, None, f.now);
    }

    #[test]
    fn mutated_tokens_never_panic(flips in proptest::collection::vec((0usize..2000, 0u8..=255), 1..8)) {
        let f = fx();
        let t = mint(&claims(f.now), &secret(), &f.key, &f.ring, &TestRandom::new(1)).unwrap();
        let mut r = raw(&t);
        for (i, v) in flips {
            let n = r.len();
            r[i % n] = v;
        }
        let _ = verify(&enc(&r), &f.keys, &f.ring, f.now);
    }
}

/// The published vectors in `keys/`: a TEST-ONLY signing key and master key, valid tokens
/// with their claims, and invalid tokens each labelled with the reason and the error.
mod vectors {
    use super::*;
    use serde_json::{Value, json};

    const SEED: [u8; 32] = [0x42; 32];
    const MASTER: [u8; 32] = [0x24; 32];

    fn dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keys")
    }

    fn at() -> OffsetDateTime {
        datetime!(2026-01-01 00:00 UTC)
    }

    fn tamper(t: &str, f: impl Fn(&mut Vec<u8>)) -> String {
        let mut r = raw(t);
        f(&mut r);
        enc(&r)
    }

    /// Regenerates the vector files: `cargo test --lib generate_token_vectors -- --ignored`.
    #[test]
    #[ignore]
    fn generate_token_vectors() {
        let key = TokenSigningKey::from_seed(&SEED);
        let ring = KeyRing::derive(&MasterKey::from_bytes(MASTER)).unwrap();
        let rng = TestRandom::new(2026);
        let c = claims(at());
        let valid = mint(&c, &secret(), &key, &ring, &rng).unwrap();
        let mut user = claims(at());
        user.kind = SessionKind::User;
        user.role_arn = None;
        user.session_name = None;
        user.principal_arn = "arn:aws:iam::123456789012:user/alice".into();
        user.principal_id = "AIDAEXAMPLEEXAMPLEEX".into();
        user.tags.clear();
        user.transitive_tag_keys.clear();
        user.session_policies.clear();
        user.policy_arns.clear();
        user.mfa_time = None;
        user.token_id = [9; 16];
        let valid_user = mint(&user, &secret(), &key, &ring, &rng).unwrap();
        let other = TokenSigningKey::from_seed(&[0x43; 32]);
        let mut expired = claims(at() - time::Duration::hours(2));
        expired.token_id = [1; 16];
        let mut future = claims(at() + time::Duration::hours(1));
        future.token_id = [2; 16];
        let len = raw(&valid).len();
        let invalid = vec![
            (
                "bit flipped in the magic",
                tamper(&valid, |r| r[0] ^= 1),
                "InvalidClientTokenId",
            ),
            (
                "unknown version byte",
                tamper(&valid, |r| r[3] = 2),
                "InvalidClientTokenId",
            ),
            (
                "bit flipped in the key id",
                tamper(&valid, |r| r[5] ^= 1),
                "InvalidClientTokenId",
            ),
            (
                "bit flipped in the claims length",
                tamper(&valid, |r| r[13] ^= 1),
                "InvalidClientTokenId",
            ),
            (
                "bit flipped in the claims",
                tamper(&valid, |r| r[40] ^= 1),
                "InvalidClientTokenId",
            ),
            (
                "bit flipped in the signature",
                tamper(&valid, |r| r[len - 5] ^= 1),
                "InvalidClientTokenId",
            ),
            (
                "signed by another key",
                mint(&c, &secret(), &other, &ring, &rng).unwrap(),
                "InvalidClientTokenId",
            ),
            (
                "another key's id on this key's signature",
                tamper(&valid, |r| r[4..12].copy_from_slice(&other.kid())),
                "InvalidClientTokenId",
            ),
            (
                "truncated",
                valid[..valid.len() - 10].to_owned(),
                "InvalidClientTokenId",
            ),
            (
                "oversized",
                "A".repeat(MAX_TOKEN_CHARS + 4),
                "InvalidClientTokenId",
            ),
            (
                "not base64url",
                format!("{}!", &valid[..20]),
                "InvalidClientTokenId",
            ),
            (
                "expired",
                mint(&expired, &secret(), &key, &ring, &rng).unwrap(),
                "ExpiredToken",
            ),
            (
                "issued in the future",
                mint(&future, &secret(), &key, &ring, &rng).unwrap(),
                "InvalidClientTokenId",
            ),
        ];
        let keyfile = json!({
            "WARNING": "TEST ONLY. This key is published; it protects nothing. Never use it in a vault.",
            "algorithm": "Ed25519",
            "seed_hex": hex::encode(SEED),
            "public_key_hex": hex::encode(key.public().as_bytes()),
            "kid_hex": hex::encode(key.kid()),
            "master_key_hex_TEST_ONLY": hex::encode(MASTER),
        });
        let vectors = json!({
            "WARNING": "TEST ONLY vectors for docs/token-format.md, verified at `now`.",
            "now": at().unix_timestamp(),
            "secret_access_key": secret().expose(),
            "valid": [
                {"label": "role session with tags, policies, MFA and source identity", "token": valid, "principal_arn": c.principal_arn, "access_key_id": c.access_key_id, "expires_at": c.expires_at},
                {"label": "user session (GetSessionToken) without MFA", "token": valid_user, "principal_arn": user.principal_arn, "access_key_id": user.access_key_id, "expires_at": user.expires_at},
            ],
            "invalid": invalid.iter().map(|(l, t, code)| json!({"label": l, "token": t, "error": code})).collect::<Vec<_>>(),
        });
        std::fs::write(
            dir().join("test-signing-key.TEST-ONLY.json"),
            serde_json::to_string_pretty(&keyfile).unwrap() + "\n",
        )
        .unwrap();
        std::fs::write(
            dir().join("token-vectors.json"),
            serde_json::to_string_pretty(&vectors).unwrap() + "\n",
        )
        .unwrap();
    }

    #[test]
    fn published_token_vectors_hold() {
        let keyfile: Value = serde_json::from_str(
            &std::fs::read_to_string(dir().join("test-signing-key.TEST-ONLY.json")).unwrap(),
        )
        .unwrap();
        assert!(
            keyfile["WARNING"]
                .as_str()
                .unwrap()
                .starts_with("TEST ONLY")
        );
        let seed: [u8; 32] = hex::decode(keyfile["seed_hex"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let master: [u8; 32] = hex::decode(keyfile["master_key_hex_TEST_ONLY"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let key = TokenSigningKey::from_seed(&seed);
        assert_eq!(hex::encode(key.kid()), keyfile["kid_hex"].as_str().unwrap());
        let ring = KeyRing::derive(&MasterKey::from_bytes(master)).unwrap();
        let mut keys = PublicKeySet::default();
        keys.insert(key.public(), None);
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(dir().join("token-vectors.json")).unwrap(),
        )
        .unwrap();
        let now = OffsetDateTime::from_unix_timestamp(v["now"].as_i64().unwrap()).unwrap();
        let secret = v["secret_access_key"].as_str().unwrap();
        let valid = v["valid"].as_array().unwrap();
        assert!(valid.len() >= 2);
        for case in valid {
            let t = verify(case["token"].as_str().unwrap(), &keys, &ring, now)
                .unwrap_or_else(|e| panic!("{}: {e}", case["label"]));
            assert_eq!(
                t.claims.principal_arn,
                case["principal_arn"].as_str().unwrap()
            );
            assert_eq!(
                t.claims.access_key_id,
                case["access_key_id"].as_str().unwrap()
            );
            assert_eq!(t.claims.expires_at, case["expires_at"].as_i64().unwrap());
            assert_eq!(t.secret.expose(), secret);
        }
        let invalid = v["invalid"].as_array().unwrap();
        assert!(invalid.len() >= 12);
        for case in invalid {
            let e = verify(case["token"].as_str().unwrap(), &keys, &ring, now).err();
            assert_eq!(
                e.map(|e| e.code()),
                Some(case["error"].as_str().unwrap()),
                "{}",
                case["label"]
            );
        }
    }
}
