//! Stable-toolchain versions of the cargo-fuzz targets `token_decode` and `sigv4_parse`
//! (`fuzz/fuzz_targets/`), through the public API only. Beyond "never panics", each
//! family checks one property that can fail: a token verifies only when it is exactly
//! the token that was minted, and a signed request verifies after a trip through its
//! HTTP/1.1 text. Case counts are fixed so the whole module runs in a few seconds; they
//! are recorded in `docs/security.md` ("Fuzzing").

use std::sync::OnceLock;

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use iamvault::crypto::{KeyRing, MasterKey};
use iamvault::model::SecretString;
use iamvault::sigv4::{self, OwnedRequest, PayloadHash, parse_auth};
use iamvault::sts::{self, Claims, PublicKeySet, SessionKind, TokenSigningKey};
use proptest::prelude::*;
use time::OffsetDateTime;
use time::macros::datetime;

/// Cases per property (see `docs/security.md`).
const TOKEN_CASES: u32 = 256;
const SIGV4_CASES: u32 = 512;

/// The TEST-ONLY key material of `keys/test-signing-key.TEST-ONLY.json`.
const SEED: [u8; 32] = [0x42; 32];
const MASTER: [u8; 32] = [0x24; 32];
const DOMAIN: &[u8] = b"iamvault session token v1\0";
const NOW: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

struct Fixture {
    keys: PublicKeySet,
    ring: KeyRing,
    kid: [u8; 8],
    token: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = TokenSigningKey::from_seed(&SEED);
        let mut keys = PublicKeySet::default();
        keys.insert(key.public(), None);
        let ring = KeyRing::derive(&MasterKey::from_bytes(MASTER)).unwrap();
        let claims = Claims {
            kind: SessionKind::Role,
            account: "123456789012".into(),
            principal_arn: "arn:aws:sts::123456789012:assumed-role/app/s1".into(),
            principal_id: "AROAEXAMPLEEXAMPLEEXA:s1".into(),
            role_arn: Some("arn:aws:iam::123456789012:role/app".into()),
            session_name: Some("s1".into()),
            issued_at: NOW.unix_timestamp(),
            expires_at: NOW.unix_timestamp() + 3600,
            mfa_time: None,
            source_identity: None,
            tags: vec![("team".into(), "platform".into())],
            transitive_tag_keys: vec![],
            session_policies: vec![],
            policy_arns: vec![],
            chain_depth: 0,
            token_id: [9; 16],
            access_key_id: "ASIAEXAMPLEEXAMPLE22".into(),
            source_access_key_id: None,
        };
        let token = sts::mint(
            &claims,
            &SecretString::new(String::from_utf8(SECRET.to_vec()).unwrap()),
            &key,
            &ring,
            &iamvault::clock::TestRandom::new(5),
        )
        .unwrap();
        assert!(sts::verify(&token, &keys, &ring, NOW).is_ok());
        Fixture {
            keys,
            ring,
            kid: key.kid(),
            token,
        }
    })
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// An envelope around `claims`, signed by the test key (so verification reaches the
/// claims decoder).
fn signed_envelope(claims: &[u8]) -> String {
    let f = fixture();
    let mut env = b"IVT\x01".to_vec();
    env.extend_from_slice(&f.kid);
    env.extend_from_slice(&u16::try_from(claims.len()).unwrap().to_be_bytes());
    env.extend_from_slice(claims);
    let mut msg = DOMAIN.to_vec();
    msg.extend_from_slice(&env);
    env.extend_from_slice(
        &ed25519_dalek::SigningKey::from_bytes(&SEED)
            .sign(&msg)
            .to_bytes(),
    );
    b64(&env)
}

/// TLV records (tag, value) in the token's claims encoding.
fn tlv(records: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, v) in records {
        out.push(*t);
        out.extend_from_slice(&u16::try_from(v.len()).unwrap().to_be_bytes());
        out.extend_from_slice(v);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(TOKEN_CASES))]

    #[test]
    fn token_text_never_panics(s in ".{0,600}") {
        let f = fixture();
        let _ = sts::verify(&s, &f.keys, &f.ring, NOW);
        let _ = sts::inspect(&s, None, NOW);
        let _ = sts::inspect(&s, Some(&f.keys), NOW);
    }

    #[test]
    fn signed_arbitrary_claims_never_panic(claims in proptest::collection::vec(any::<u8>(), 0..700)) {
        let f = fixture();
        let t = signed_envelope(&claims);
        let _ = sts::verify(&t, &f.keys, &f.ring, NOW);
        let _ = sts::inspect(&t, None, NOW);
    }

    #[test]
    fn signed_tlv_claims_never_panic(
        mut records in proptest::collection::vec(
            (0u8..22, proptest::collection::vec(any::<u8>(), 0..48)), 0..24),
        sorted in any::<bool>(),
    ) {
        // Mostly canonical order, so the decoder gets past the ordering rule.
        if sorted {
            records.sort_by_key(|(t, _)| *t);
        }
        let f = fixture();
        let t = signed_envelope(&tlv(&records));
        if let Ok(v) = sts::verify(&t, &f.keys, &f.ring, NOW) {
            // Random bytes cannot carry a secret sealed under the vault's key.
            prop_assert!(false, "random claims verified: {:?}", v.claims);
        }
        let _ = sts::inspect(&t, None, NOW);
    }

    #[test]
    fn a_changed_token_never_verifies(flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..6)) {
        let f = fixture();
        let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&f.token).unwrap();
        let n = raw.len();
        for (i, x) in flips {
            raw[i % n] ^= x;
        }
        let t = b64(&raw);
        prop_assert!(t == f.token || sts::verify(&t, &f.keys, &f.ring, NOW).is_err());
    }

    #[test]
    fn a_changed_token_text_never_verifies(
        edits in proptest::collection::vec((any::<usize>(), "[A-Za-z0-9_=+/ .-]"), 1..4),
        cut in 0usize..3,
    ) {
        let f = fixture();
        let mut chars: Vec<char> = f.token.chars().collect();
        for (i, c) in edits {
            let n = chars.len();
            chars[i % n] = c.chars().next().unwrap();
        }
        chars.truncate(chars.len() - cut);
        let t: String = chars.into_iter().collect();
        prop_assert!(t == f.token || sts::verify(&t, &f.keys, &f.ring, NOW).is_err(), "{t}");
    }
}

// ---------------------------------------------------------------------------------------
// SigV4: parse_http1, parse_auth, canonicalization, verification.
// ---------------------------------------------------------------------------------------

fn full_pipeline(raw: &[u8]) {
    let Ok(req) = OwnedRequest::parse_http1(raw) else {
        return;
    };
    if let Ok(view) = req.view(PayloadHash::Body(&req.body)) {
        let _ = sigv4::canonical::canonical_query(view.query(), false);
        let _ = sigv4::canonical::canonical_query(view.query(), true);
        let _ = sigv4::canonical::canonical_uri(view.path(), sigv4::CanonicalOptions::default());
        let _ = sigv4::canonical::canonical_uri(
            view.path(),
            sigv4::CanonicalOptions::for_service("s3"),
        );
        if let Ok(auth) = parse_auth(&view) {
            let _ = auth.check_scope("iam", Some("us-east-1"));
            let _ = sigv4::verify_with_secret(&view, &auth, SECRET, NOW);
        }
    }
    let mut again = req;
    let _ = sigv4::sign(
        &mut again,
        "AKIDEXAMPLE",
        SECRET,
        Some("t"),
        "us-east-1",
        "iam",
        NOW,
    );
}

/// The HTTP/1.1 text of a request.
fn http1(r: &OwnedRequest) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\n", r.method, r.target()).into_bytes();
    for (k, v) in &r.headers {
        out.extend_from_slice(format!("{k}:{v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&r.body);
    out
}

fn auth_header() -> impl Strategy<Value = String> {
    (
        "(AWS4-HMAC-SHA256|AWS4-HMAC-SHA1|aws4-hmac-sha256|)",
        "[A-Z0-9]{0,22}",
        "(20150830|2015083|)",
        "(us-east-1|)",
        "(iam|sts|s3|)",
        "(aws4_request|aws4)",
        "[a-z;-]{0,30}",
        "[0-9a-f]{0,66}",
        "(, |,| ,|  )",
    )
        .prop_map(|(alg, akid, date, region, svc, term, sh, sig, sep)| {
            format!(
                "{alg} Credential={akid}/{date}/{region}/{svc}/{term}{sep}SignedHeaders={sh}{sep}Signature={sig}"
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(SIGV4_CASES))]

    #[test]
    fn arbitrary_http1_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        full_pipeline(&raw);
    }

    #[test]
    fn sigv4_shaped_http1_never_panics(
        method in "(GET|POST|PUT|DELETE|get|G E T|)",
        path in "(/|/[ -~]{0,30}|[a-z]{0,5})",
        query in "[ -~]{0,60}",
        auth in auth_header(),
        date in "(20150830T123600Z|20150830T1236|2015-08-30T12:36:00Z|[0-9TZ]{0,18})",
        extra in proptest::collection::vec(("[A-Za-z-]{1,12}", "[ -~\t]{0,20}"), 0..5),
        presigned in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut text = format!("{method} {path}");
        if presigned {
            text.push_str(&format!(
                "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiam%2Faws4_request&X-Amz-Date={date}&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00&{query}"
            ));
        } else if !query.is_empty() {
            text.push('?');
            text.push_str(&query);
        }
        text.push_str(" HTTP/1.1\r\nHost:example.com\r\n");
        if !presigned {
            text.push_str(&format!("Authorization:{auth}\r\nX-Amz-Date:{date}\r\n"));
        }
        for (k, v) in &extra {
            text.push_str(&format!("{k}:{v}\r\n"));
        }
        text.push_str("\r\n");
        let mut raw = text.into_bytes();
        raw.extend_from_slice(&body);
        full_pipeline(&raw);
    }

    #[test]
    fn a_signed_request_verifies_after_a_trip_through_http1(
        method in "(GET|POST|PUT)",
        path in "/[a-zA-Z0-9._~/-]{0,30}",
        query in proptest::collection::vec(("[a-zA-Z0-9._-]{1,8}", "[a-zA-Z0-9._~-]{0,8}"), 0..4),
        headers in proptest::collection::vec(("x-[a-z]{1,10}", "[!-~]([ -~]{0,18}[!-~])?"), 0..4),
        token in proptest::option::of("[A-Za-z0-9_-]{1,60}"),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        tamper in any::<bool>(),
    ) {
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let target = if q.is_empty() { path.clone() } else { format!("{path}?{}", q.join("&")) };
        let mut r = OwnedRequest::new(&method, &target)
            .with_header("host", "example.com")
            .with_body(body);
        for (k, v) in &headers {
            r.headers.push((k.clone(), v.clone()));
        }
        sigv4::sign(&mut r, "AKIDEXAMPLE", SECRET, token.as_deref(), "us-east-1", "iam", NOW).unwrap();
        if tamper {
            r.body.push(b'!');
        }
        let back = OwnedRequest::parse_http1(&http1(&r)).unwrap();
        let view = back.view(PayloadHash::Body(&back.body)).unwrap();
        let auth = parse_auth(&view).unwrap();
        prop_assert_eq!(auth.security_token(), token.as_deref());
        let verified = sigv4::verify_with_secret(&view, &auth, SECRET, NOW);
        prop_assert_eq!(verified.is_ok(), !tamper, "{:?}", verified.err().map(|e| e.to_string()));
        // Another secret never verifies it.
        prop_assert!(sigv4::verify_with_secret(&view, &auth, b"another secret", NOW).is_err());
    }
}
