//! Arbitrary bytes through `validate`: the answer is always a ValidationResponse, and when the
//! bytes are a JSON request, mutations are idempotent, touch only owned paths, and the two modes
//! agree (the test kit's `Policy::check_payload`). Seeds: every request in test_data/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prepuller_serviceaccount_policy_fuzz::POLICY;

fuzz_target!(|data: &[u8]| {
    POLICY.check_payload(data);
});
