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
