//! Arbitrary bytes through `validate_settings`: always `{valid, message}`, a message exactly when
//! invalid, agreeing with `Settings::from_json`. Valid settings then judge a few bundled requests
//! with every request-side invariant checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prepuller_serviceaccount_policy_fuzz::POLICY;

const REQUESTS: [&str; 6] = [
    include_str!("../../test_data/hook-pod-legacy-create.json"),
    include_str!("../../test_data/hook-pod-token-injected-create.json"),
    include_str!("../../test_data/continuous-daemonset-legacy-create.json"),
    include_str!("../../test_data/hook-cronjob-default-sa-create.json"),
    include_str!("../../test_data/deployment-borrows-continuous-sa-create.json"),
    include_str!("../../test_data/hook-serviceaccount-create.json"),
];

fuzz_target!(|data: &[u8]| {
    let answer = POLICY.check_settings(data);
    if !answer.valid {
        return;
    }
    let settings = std::str::from_utf8(data).expect("valid settings are UTF-8");
    let settings = if settings.trim().is_empty() {
        "null"
    } else {
        settings
    };
    for request in REQUESTS {
        let payload = format!(r#"{{"request":{request},"settings":{settings}}}"#);
        POLICY.check_payload(payload.as_bytes());
    }
});
