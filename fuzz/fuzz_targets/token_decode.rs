//! The session-token decoder and verifier (`iamvault::sts::{verify, inspect}`) must never
//! panic, whatever the token text: as given, as the claims of an envelope (so the claims
//! decoder sees it), and XORed into a valid token signed by the TEST-ONLY key in `keys/`
//! (so verification runs on near-valid input).
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use iamvault::crypto::{KeyRing, MasterKey};
use iamvault::sts::{self, PublicKeySet, TokenSigningKey};
use libfuzzer_sys::fuzz_target;

/// `keys/test-signing-key.TEST-ONLY.json`: seed and master key.
const SEED: [u8; 32] = [0x42; 32];
const MASTER: [u8; 32] = [0x24; 32];
const DOMAIN: &[u8] = b"iamvault session token v1\0";

struct Fixture {
    keys: PublicKeySet,
    ring: KeyRing,
    kid: [u8; 8],
    valid: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = TokenSigningKey::from_seed(&SEED);
        let mut keys = PublicKeySet::default();
        keys.insert(key.public(), None);
        let ring = KeyRing::derive(&MasterKey::from_bytes(MASTER)).expect("key ring");
        let vectors = include_str!("../../keys/token-vectors.json");
        let token = vectors
            .split("\"token\": \"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .expect("a valid vector");
        let valid = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .expect("the vector is base64url");
        Fixture {
            keys,
            ring,
            kid: key.kid(),
            valid,
        }
    })
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let now = iamvault::sigv4::parse_amz_date("20260101T000000Z").expect("date");
    // The text as a token.
    let text = String::from_utf8_lossy(data);
    let _ = sts::verify(&text, &f.keys, &f.ring, now);
    let _ = sts::inspect(&text, None, now);
    let _ = sts::inspect(&text, Some(&f.keys), now);
    // The bytes as the claims of an envelope signed by the test key: verification
    // passes the signature and reaches the claims decoder, the time checks and unsealing.
    if data.len() <= 8192 {
        let mut env = b"IVT\x01".to_vec();
        env.extend_from_slice(&f.kid);
        env.extend_from_slice(&u16::try_from(data.len()).unwrap_or(0).to_be_bytes());
        env.extend_from_slice(data);
        let mut msg = DOMAIN.to_vec();
        msg.extend_from_slice(&env);
        let sig = ed25519_dalek::SigningKey::from_bytes(&SEED).sign(&msg);
        env.extend_from_slice(&sig.to_bytes());
        let t = b64(&env);
        let _ = sts::verify(&t, &f.keys, &f.ring, now);
        let _ = sts::inspect(&t, None, now);
    }
    // The bytes XORed into a valid token.
    let mut v = f.valid.clone();
    for (i, b) in data.iter().enumerate() {
        if let Some(x) = v.get_mut(i % f.valid.len()) {
            *x ^= b;
        }
    }
    let _ = sts::verify(&b64(&v), &f.keys, &f.ring, now);
});
