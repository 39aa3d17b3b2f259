//! The policy parser must never panic, whatever the input and the kind of policy.
#![no_main]

use iamvault::policy::{self, PolicyKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for kind in [
        PolicyKind::Identity,
        PolicyKind::PermissionsBoundary,
        PolicyKind::Trust,
        PolicyKind::Resource,
        PolicyKind::Session,
    ] {
        let _ = policy::parse(&text, kind);
    }
});
