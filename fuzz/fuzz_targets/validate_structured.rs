//! Structure-aware: requests built from a grammar of the fields the rules read (labels on the
//! object, template and job template; serviceAccountName, serviceAccount, automount of several
//! JSON types; volumes with projected token, configMap and downwardAPI sources; containers,
//! initContainers and ephemeralContainers mounting them at the token path and its spellings),
//! mixed with unknown fields and wrong types, under generated settings. Every invariant of
//! `check_payload`, plus: key order, key escapes and unknown fields change nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prepuller_serviceaccount_policy_fuzz::{Case, check_payload, check_spelling_invariance};

fuzz_target!(|case: Case| {
    let payload = case.payload();
    check_payload(&serde_json::to_vec(&payload).expect("serialises"));
    check_spelling_invariance(&payload, case.seed);
});
