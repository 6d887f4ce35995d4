//! Structure-aware: requests from the test kit's grammar in its wild profile (the fields the
//! rules read, mixed with unknown fields, wrong types and arbitrary strings, under generated
//! settings; see `testkit/src/grammar.rs`). Every invariant of `check_payload`, plus: key order,
//! key escapes and unknown fields change nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prepuller_serviceaccount_policy_fuzz::POLICY;
use testkit::Case;

fuzz_target!(|case: Case| {
    let payload = serde_json::to_vec(&case.envelope).expect("a Value serialises");
    POLICY.check_payload(&payload);
    POLICY.check_spelling_invariance(&case.envelope, case.seed);
});
