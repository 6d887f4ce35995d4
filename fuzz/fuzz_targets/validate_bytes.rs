//! Arbitrary bytes through `validate`: the answer is always a ValidationResponse, and when the
//! bytes are a JSON request, mutations are idempotent, touch only owned paths, and the two modes
//! agree (see the crate's lib.rs). Seeds: every request in test_data/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    prepuller_serviceaccount_policy_fuzz::check_payload(data);
});
