//! The SigV4 request path must never panic: `OwnedRequest::parse_http1`, `parse_auth`,
//! canonicalization (URI, query, canonical request), verification, and signing the parsed
//! request again (header and query forms).
#![no_main]

use iamvault::sigv4::canonical::{CanonicalRequest, canonical_query, canonical_uri};
use iamvault::sigv4::{
    self, CanonicalOptions, OwnedRequest, PayloadHash, SigningParams, SigningSettings, parse_auth,
};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fuzz_target!(|data: &[u8]| {
    let now = sigv4::parse_amz_date("20150830T123600Z").expect("date");
    let Ok(req) = OwnedRequest::parse_http1(data) else {
        return;
    };
    if let Ok(view) = req.view(PayloadHash::Body(&req.body)) {
        for opts in [
            CanonicalOptions::default(),
            CanonicalOptions::for_service("s3"),
        ] {
            let _ = canonical_uri(view.path(), opts);
        }
        let q = canonical_query(view.query(), false);
        let _ = canonical_query(view.query(), true);
        if let Ok(auth) = parse_auth(&view) {
            let _ = auth.check_scope("sts", Some("us-east-1"));
            if let Ok(q) = &q {
                let hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
                if let Ok(c) = CanonicalRequest::build(
                    &view,
                    auth.signed_headers(),
                    q,
                    hash,
                    CanonicalOptions::for_service(auth.service()),
                ) {
                    let _ = c.string_to_sign(auth.amz_date(), auth.scope());
                }
            }
            let _ = sigv4::verify_with_secret(&view, &auth, SECRET, now);
        }
    }
    let params = SigningParams {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: SECRET,
        session_token: Some("token"),
        region: "us-east-1",
        service: "iam",
        settings: SigningSettings::default(),
    };
    let mut signed = req.clone();
    if sigv4::sign_with(&mut signed, &params, now).is_ok()
        && let Ok(view) = signed.view(PayloadHash::Body(&signed.body))
        && let Ok(auth) = parse_auth(&view)
    {
        let _ = sigv4::verify_with_secret(&view, &auth, SECRET, now);
    }
    let mut pre = req;
    let _ = sigv4::presign(&mut pre, &params, 60, now);
});
