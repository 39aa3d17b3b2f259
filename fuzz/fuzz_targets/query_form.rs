//! The Query-protocol form parser and the SigV4 Authorization-header parser must never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iamvault::sigv4::parse_form(data, 1000);
    let _ = iamvault::sigv4::auth::parse_authorization_header(&String::from_utf8_lossy(data));
});
