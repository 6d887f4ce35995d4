//! The end-to-end suite: the compiled `policy.wasm` (or `$POLICY_WASM`) on the request table in
//! `policy-host/cases.yaml`, plus settings validation, protocol version, garbage payloads and the
//! kwctl-like command. Each case is a libtest-mimic trial, so the test harness's arguments work:
//! `cargo test -p policy-host --test e2e -- NAME` runs only the cases whose name contains NAME,
//! `-- --list` lists them, and every failure is reported under its case's name.

#[path = "support/cases.rs"]
mod cases;

use std::path::Path;

use anyhow::{Context, Result, anyhow, ensure};
use cases::{RequestCase, SettingsCase};
use libtest_mimic::{Arguments, Failed, Trial};
use policy_host::{Policy, policy_path, read_request, workspace_root};
use serde_json::{Value, json};

use policy_host::chain::{self, Root};

/// One case of the suite: its name, and the check, run only when the filter selects it.
type Case = (String, Box<dyn FnOnce() -> Result<()> + Send>);

fn case(name: impl Into<String>, check: impl FnOnce() -> Result<()> + Send + 'static) -> Case {
    (name.into(), Box::new(check))
}

fn check_request_case(policy: &Policy, data: &Path, case: &RequestCase) -> Result<()> {
    let request = read_request(&data.join(&case.request))?;
    let response = policy.run(&request, &case.settings)?;
    ensure!(
        response.allowed == case.allowed,
        "allowed is {} (message: {:?})",
        response.allowed,
        response.message()
    );
    if !case.allowed {
        ensure!(
            response.message().is_some_and(|m| !m.is_empty()),
            "a rejection without a message"
        );
    }
    for fragment in &case.message {
        let message = response.message().unwrap_or_default();
        ensure!(
            message.contains(fragment.as_str()),
            "message {message:?} lacks {fragment:?}"
        );
    }
    let warnings = response.warnings.clone().unwrap_or_default();
    if let Some(count) = case.warnings_count {
        ensure!(
            warnings.len() == count,
            "{} warnings, expected {count}: {warnings:?}",
            warnings.len()
        );
    }
    for (i, fragment) in case.warnings.iter().enumerate() {
        let warning = warnings.get(i).map(String::as_str).unwrap_or_default();
        ensure!(
            warning.contains(fragment.as_str()),
            "warning {i} {warning:?} lacks {fragment:?}"
        );
    }

    let patch = response.decoded_patch()?;
    match (&case.patch, patch) {
        (None, None) => Ok(()),
        (None, Some(p)) => Err(anyhow!("unexpected patch {}", serde_json::to_string(&p)?)),
        (Some(_), None) => Err(anyhow!("expected a patch, got none")),
        (Some(expected), Some(patch)) => {
            ensure!(
                response.patch_type.as_deref() == Some("JSONPatch"),
                "patchType {:?}",
                response.patch_type
            );
            let got = serde_json::to_value(&patch)?;
            ensure!(&got == expected, "patch is {got}, expected {expected}");
            let mut patched = request["object"].clone();
            json_patch::patch(&mut patched, &patch).context("the patch does not apply")?;
            let expected_path = case
                .expected
                .clone()
                .unwrap_or_else(|| format!("expected/{}", case.request));
            let expected_object: Value =
                serde_json::from_str(&std::fs::read_to_string(data.join(&expected_path))?)?;
            ensure!(
                patched == expected_object,
                "object after the patch differs from {expected_path}:\n{patched:#}"
            );
            check_fixed_object(policy, &request, &patched, &case.settings)
        }
    }
}

/// A mutated object is compliant: the policy leaves it alone in both modes (idempotence).
fn check_fixed_object(
    policy: &Policy,
    request: &Value,
    patched: &Value,
    settings: &Value,
) -> Result<()> {
    let mut again = request.clone();
    again["object"] = patched.clone();
    let mut reject_mode = settings.clone();
    reject_mode["mode"] = json!("reject");
    for s in [settings, &reject_mode] {
        let r = policy.run(&again, s)?;
        ensure!(
            r.allowed && r.patch.is_none() && r.warnings.is_none(),
            "the mutated object is not left alone with settings {s}: {r:?}"
        );
    }
    Ok(())
}

fn check_settings_case(policy: &Policy, case: &SettingsCase) -> Result<()> {
    let got = policy.validate_settings(&case.settings)?;
    ensure!(
        got.valid == case.valid,
        "valid is {} ({:?})",
        got.valid,
        got.message
    );
    if let Some(fragment) = &case.message {
        let message = got.message.unwrap_or_default();
        ensure!(
            message.contains(fragment.as_str()),
            "message {message:?} lacks {fragment:?}"
        );
    }
    Ok(())
}

/// A Pod with `depth` nested arrays in a field no rule reads; a legacy hook puller to mutate
/// when `puller`.
fn nested(depth: usize, puller: bool) -> Vec<u8> {
    let mut s = String::from(if puller {
        r#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","userInfo":{"username":"kubernetes-admin"},"object":{"metadata":{"labels":{"component":"hook-image-puller"}},"spec":{"serviceAccountName":"default","automountServiceAccountToken":false,"x":"#
    } else {
        r#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":{"spec":{"x":"#
    });
    s.push_str(&"[".repeat(depth));
    s.push_str(&"]".repeat(depth));
    s.push_str("}}},\"settings\":{}}");
    s.into_bytes()
}

/// An UPDATE whose object and oldObject are the same `object`: the template comparison of the
/// UPDATE path reads both whole.
fn same_update(kind: &str, group: &str, object: &Value, settings: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "request": {"uid": "u", "kind": {"group": group, "version": "v1", "kind": kind},
            "operation": "UPDATE", "userInfo": {"username": "kubernetes-admin"},
            "object": object, "oldObject": object},
        "settings": settings
    }))
    .unwrap_or_default()
}

/// A hook puller DaemonSet as `default`, with `depth` nested arrays in a field no rule reads.
fn deep_puller_daemonset(depth: usize) -> Value {
    let mut x = json!([]);
    for _ in 0..depth {
        x = json!([x]);
    }
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "hook-image-puller", "namespace": "jhub"},
        "spec": {"template": {"metadata": {"labels": {"component": "hook-image-puller"}},
            "spec": {"serviceAccountName": "default", "containers": [{"name": "pause", "image": "pause"}], "x": x}}}})
}

/// A Deployment of no role whose pod template has `labels` labels.
fn wide_deployment(labels: usize) -> Value {
    let labels: serde_json::Map<String, Value> = (0..labels)
        .map(|i| (format!("label-{i}"), json!("v")))
        .collect();
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "wide", "namespace": "jhub"},
        "spec": {"template": {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": "app"}]}}}})
}

/// A Pod with `containers` many containers of padding: a large but valid object.
fn big_pod(containers: usize) -> Vec<u8> {
    let list: Vec<Value> = (0..containers)
        .map(|i| json!({"name": format!("c{i}"), "image": "busybox", "env": [{"name": "PAD", "value": "x".repeat(1000)}]}))
        .collect();
    serde_json::to_vec(&json!({
        "request": {"uid": "big", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big", "labels": {"app": "x"}},
                "spec": {"containers": list}}},
        "settings": {}
    }))
    .unwrap_or_default()
}

/// Garbage through the waPC entry point: a clean rejection every time, never a trap.
fn check_garbage(policy: &'static Policy) -> Vec<Case> {
    let truncated = br#"{"request":{"kind":{"kind":"Pod"},"object":{"spec":{"#.to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "empty payload",
            Vec::new(),
            "cannot decode the validation request",
        ),
        ("invalid UTF-8", vec![0xff, 0xfe, b'{', 0x80], "not UTF-8"),
        (
            "truncated JSON",
            truncated,
            "cannot decode the validation request",
        ),
        (
            "JSON array",
            b"[1,2,3]".to_vec(),
            "cannot decode the validation request",
        ),
        (
            // serde skips what no rule reads without recursing; only an echo must be shallow.
            "nested 10,000 deep in a field no rule reads, of a Pod the policy accepts untouched",
            nested(10_000, false),
            "",
        ),
        (
            // Compared as text, without a walk: the same template, carried over (accepted with
            // a warning), never a stack overflow.
            "UPDATE of a puller DaemonSet nested 2,500 deep in a field no rule reads",
            same_update("DaemonSet", "apps", &deep_puller_daemonset(2_500), json!({"mode": "reject"})),
            "",
        ),
        (
            // Compared as text: well within policy-server's deadline.
            "UPDATE of a Deployment with 20,000 template labels (requireExistingServiceAccounts)",
            same_update("Deployment", "apps", &wide_deployment(20_000), json!({"requireExistingServiceAccounts": true})),
            "",
        ),
        (
            // A ServiceAccount has no pod template: its UPDATE is compared by its automount.
            "UPDATE of the hook puller ServiceAccount turning automount back on",
            serde_json::to_vec(&json!({
                "request": {"uid": "sa", "kind": {"group": "", "version": "v1", "kind": "ServiceAccount"},
                    "operation": "UPDATE", "userInfo": {"username": "kubernetes-admin"},
                    "object": {"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "hook-image-puller", "namespace": "jhub"},
                        "automountServiceAccountToken": true},
                    "oldObject": {"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "hook-image-puller", "namespace": "jhub"},
                        "automountServiceAccountToken": false}},
                "settings": {"serviceAccountObjects": true, "mode": "reject"}
            }))
            .unwrap_or_default(),
            "automountServiceAccountToken is true, expected false",
        ),
        ("1 MB Pod is judged", big_pod(1_000), ""),
        (
            "10 MB Pod is beyond any admission request",
            big_pod(10_000),
            "more than the 8388608 an admission request can carry",
        ),
        (
            "settings not a map",
            br#"{"request":{"kind":{"kind":"Pod"}},"settings":[1]}"#.to_vec(),
            "the policy settings are not valid",
        ),
        (
            "request without kind",
            br#"{"request":{"operation":"CREATE","object":{}},"settings":{}}"#.to_vec(),
            "has no kind.kind",
        ),
        (
            "Pod without object",
            br#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE"},"settings":{}}"#.to_vec(),
            "has no object",
        ),
        (
            "Pod with a null object",
            br#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":null},"settings":{}}"#
                .to_vec(),
            "has no object",
        ),
        (
            "whitespace only",
            b" \n\t ".to_vec(),
            "cannot decode the validation request",
        ),
        (
            "JSON null",
            b"null".to_vec(),
            "cannot decode the validation request",
        ),
        (
            "request null",
            br#"{"request":null,"settings":{}}"#.to_vec(),
            "cannot decode the validation request",
        ),
        (
            "NUL bytes",
            b"{\"request\":\0\0}".to_vec(),
            "cannot decode the validation request",
        ),
        (
            "lone surrogate escape in a label",
            br#"{"request":{"kind":{"kind":"Pod"},"object":{"metadata":{"labels":{"component":"\ud800"}},"spec":{}}},"settings":{}}"#
                .to_vec(),
            "cannot decode the Pod object",
        ),
        (
            // Only a mutation echoes the object; an unrelated Pod is accepted without it.
            "a 400-digit integer in a Pod the policy accepts untouched",
            format!(
                r#"{{"request":{{"kind":{{"kind":"Pod"}},"object":{{"spec":{{"x":1,"y":{}}}}}}},"settings":{{}}}}"#,
                "9".repeat(400)
            )
            .into_bytes(),
            "",
        ),
        (
            "1e400 in an object the policy does not judge",
            br#"{"request":{"kind":{"kind":"ConfigMap"},"object":{"data":{"x":1e400}}},"settings":{}}"#
                .to_vec(),
            "",
        ),
        (
            "brackets nested 10,000 deep inside a string",
            format!(
                r#"{{"request":{{"kind":{{"kind":"Pod"}},"object":{{"metadata":{{"annotations":{{"a":"{}"}}}},"spec":{{}}}}}},"settings":{{}}}}"#,
                "[{".repeat(10_000)
            )
            .into_bytes(),
            "",
        ),
        (
            "policy settings nested 10,000 deep",
            {
                let mut p = br#"{"request":{"kind":{"kind":"Pod"},"object":{"spec":{}}},"settings":{"hookPuller":"#.to_vec();
                p.extend("[".repeat(10_000).bytes());
                p.extend("]".repeat(10_000).bytes());
                p.extend(b"}}");
                p
            },
            "the policy settings are not valid: hookPuller: invalid type: sequence, expected a map",
        ),
    ];
    let mut results = Vec::new();
    // What no host can deliver (docs/security.md, "The input contract"): the host's own parse
    // refuses it before the module runs. Given it anyway, the module answers without trapping;
    // a mutation echoes the object, so the answer holds the same text and only its start is
    // checked.
    let undeliverable: Vec<(&str, Vec<u8>)> = vec![
        (
            "nested 10,000 deep in a field no rule reads, of a Pod to mutate",
            nested(10_000, true),
        ),
        (
            "lone surrogate escape in a field no rule reads, of a Pod to mutate",
            br#"{"request":{"kind":{"kind":"Pod"},"userInfo":{"username":"kubernetes-admin"},"object":{"metadata":{"labels":{"component":"hook-image-puller"}},"spec":{"serviceAccountName":"default","automountServiceAccountToken":false,"x-note":"\ud800"}}},"settings":{}}"#
                .to_vec(),
        ),
        (
            "1e400 in a field no rule reads, of a DaemonSet to mutate",
            br#"{"request":{"kind":{"group":"apps","kind":"DaemonSet"},"userInfo":{"username":"kubernetes-admin"},"object":{"spec":{"template":{"metadata":{"labels":{"component":"hook-image-puller"}},"spec":{"serviceAccountName":"default","automountServiceAccountToken":false,"securityContext":{"runAsGroup":1e400}}}}}},"settings":{}}"#
                .to_vec(),
        ),
    ];
    for (name, payload) in undeliverable {
        let check = move || -> Result<()> {
            ensure!(
                serde_json::from_slice::<Value>(&payload).is_err(),
                "a host could deliver this payload"
            );
            let out = policy.call("validate", &payload)?;
            ensure!(
                out.starts_with(br#"{"accepted":"#),
                "not a ValidationResponse: {}",
                String::from_utf8_lossy(&out[..out.len().min(200)])
            );
            Ok(())
        };
        results.push(case(format!("garbage, undeliverable: {name}"), check));
    }
    for (name, payload, fragment) in cases {
        let check = move || -> Result<()> {
            let r = policy.validate_raw(&payload)?;
            if fragment.is_empty() {
                ensure!(r.accepted, "expected an accept, got {r:?}");
            } else {
                ensure!(!r.accepted, "expected a rejection, got {r:?}");
                let m = r.message.unwrap_or_default();
                ensure!(m.contains(fragment), "message {m:?} lacks {fragment:?}");
            }
            // The runtime keeps serving: a normal evaluation right after still works.
            let ok = policy.run(
                &read_request(&workspace_root().join("test_data/hook-pod-create.json"))?,
                &json!({}),
            )?;
            ensure!(ok.allowed, "the next evaluation failed");
            Ok(())
        };
        results.push(case(format!("garbage: {name}"), check));
    }
    results
}

/// Garbage through `validate_settings` (and `protocol_version`, and an operation the guest does
/// not export): always an answer, never a trap, and the next call still works.
fn check_garbage_settings(policy: &'static Policy) -> Vec<Case> {
    let deep = |depth: usize| {
        let mut s = String::from(r#"{"hookPuller":{"selector":{"matchLabels":"#);
        s.push_str(&"[".repeat(depth));
        s.push_str(&"]".repeat(depth));
        s.push_str("}}}");
        s.into_bytes()
    };
    let big = {
        // With the hook puller's own label, so that it stays apart from the other roles.
        let labels: serde_json::Map<String, Value> = (0..400_000)
            .map(|i| (format!("k{i}"), json!("v")))
            .chain([("component".to_owned(), json!("hook-image-puller"))])
            .collect();
        serde_json::to_vec(&json!({"hookPuller": {"selector": {"matchLabels": labels}}}))
            .unwrap_or_default()
    };
    // (name, payload, expected validity, fragment of the message when invalid)
    let cases: Vec<(&str, Vec<u8>, bool, &str)> = vec![
        ("empty payload (the defaults)", Vec::new(), true, ""),
        ("invalid UTF-8", vec![0xff, b'{', 0x80], false, "not UTF-8"),
        (
            "truncated JSON",
            br#"{"hookPuller":{"#.to_vec(),
            false,
            "EOF",
        ),
        (
            "JSON nested 10,000 deep",
            deep(10_000),
            false,
            "invalid type",
        ),
        (
            "a bare string",
            br#""mutate""#.to_vec(),
            false,
            "not a string",
        ),
        ("a 5 MB selector", big, true, ""),
        (
            "lone surrogate escape",
            br#"{"mode":"\udfff"}"#.to_vec(),
            false,
            "surrogate",
        ),
    ];
    let mut results = Vec::new();
    for (name, payload, valid, fragment) in cases {
        let check = move || -> Result<()> {
            let out = policy.call("validate_settings", &payload)?;
            let got: policy_host::SettingsValidation =
                serde_json::from_slice(&out).with_context(|| {
                    format!("not a settings answer: {}", String::from_utf8_lossy(&out))
                })?;
            ensure!(
                got.valid == valid,
                "valid is {} ({:?})",
                got.valid,
                got.message
            );
            if !valid {
                let m = got.message.unwrap_or_default();
                ensure!(m.contains(fragment), "message {m:?} lacks {fragment:?}");
            }
            ensure!(
                policy.validate_settings(&json!({}))?.valid,
                "the next settings validation failed"
            );
            Ok(())
        };
        results.push(case(format!("garbage settings: {name}"), check));
    }
    results.push(case(
        "garbage: protocol_version with a payload",
        move || {
            let out = policy.call("protocol_version", &[0xff; 64])?;
            ensure!(out == br#""v1""#, "got {}", String::from_utf8_lossy(&out));
            Ok(())
        },
    ));
    results.push(case(
        "garbage: an operation the guest does not export is an error, not a trap",
        move || {
            ensure!(
                policy.call("mutate", b"{}").is_err(),
                "an unknown operation answered"
            );
            ensure!(policy.protocol_version()? == "v1", "the next call failed");
            Ok(())
        },
    ));
    results
}

/// Byte-level bypass attempts (docs/security.md): the request files from
/// `test_data/generate.py` go to the module exactly as written. Re-encoding them, as the table
/// does, would decode the escapes and drop the duplicate keys before the policy saw them.
fn check_raw_bypasses(policy: &'static Policy, data: &'static Path) -> Vec<Case> {
    let fixed_sa = json!([
        {"op": "replace", "path": "/spec/serviceAccount", "value": "hook-image-puller"},
        {"op": "replace", "path": "/spec/serviceAccountName", "value": "hook-image-puller"}
    ]);
    // (name, request file, Ok(patch) for a mutation or Err(fragment) for a rejection)
    let cases: Vec<(&str, &str, std::result::Result<Value, &str>)> = vec![
        (
            "JSON escapes in a label key and value (\\u0063omponent: hook\\u002dimage-puller)",
            "hook-pod-legacy-escaped-labels-create.json",
            Ok(fixed_sa.clone()),
        ),
        (
            "an escaped key in a projected source (service\\u0041ccountToken)",
            "hook-pod-token-volume-escaped-key-create.json",
            Err(
                r#"spec.volumes[0] is projected volume "api-credentials" with a serviceAccountToken source"#,
            ),
        ),
        (
            "duplicate automountServiceAccountToken keys (false, then true)",
            "hook-daemonset-duplicate-automount-create.json",
            Err("duplicate field `automountServiceAccountToken`"),
        ),
        (
            "duplicate label keys, the last one a puller's",
            "hook-pod-legacy-duplicate-label-create.json",
            Ok(fixed_sa),
        ),
    ];
    let mut results = Vec::new();
    for (name, file, expect) in cases {
        let check = move || -> Result<()> {
            let text = std::fs::read_to_string(data.join(file))?;
            let payload = format!(r#"{{"request":{text},"settings":{{}}}}"#);
            let response = policy.validate_raw(payload.as_bytes())?;
            // The API server's reading of the same bytes: escapes decoded, the last key wins.
            let request: Value = serde_json::from_str(&text)?;
            let admission = policy_host::admission_response(&request, &response)?;
            match expect {
                Err(fragment) => {
                    ensure!(
                        !admission.allowed,
                        "expected a rejection, got {admission:?}"
                    );
                    let m = admission.message().unwrap_or_default();
                    ensure!(m.contains(fragment), "message {m:?} lacks {fragment:?}");
                }
                Ok(expected_patch) => {
                    ensure!(admission.allowed, "expected a mutation, got {admission:?}");
                    let patch = admission
                        .decoded_patch()?
                        .ok_or_else(|| anyhow!("expected a patch, got none"))?;
                    let got = serde_json::to_value(&patch)?;
                    ensure!(
                        got == expected_patch,
                        "patch is {got}, expected {expected_patch}"
                    );
                    let mut patched = request["object"].clone();
                    json_patch::patch(&mut patched, &patch)?;
                    let expected: Value = serde_json::from_str(&std::fs::read_to_string(
                        data.join("expected").join(file),
                    )?)?;
                    ensure!(
                        patched == expected,
                        "object after the patch differs from expected/{file}"
                    );
                }
            }
            Ok(())
        };
        results.push(case(format!("bypass (raw bytes): {name}"), check));
    }
    results
}

/// Requests no Kubewarden host hands the module: kwctl cannot decode them as policy-evaluator's
/// AdmissionRequest and stops with an error, policy-server answers the API server with one, so
/// `read_request` refuses them with kwctl's message (the module's answer to such bytes is the
/// garbage checks' concern).
fn check_refused_requests(data: &'static Path) -> Vec<Case> {
    let cases = [(
        "a request kind without group and version",
        "hook-daemonset-default-sa-groupless-create.json",
        "cannot build AdmissionRequest object from given input: missing field `group`",
    )];
    cases
        .into_iter()
        .map(|(name, file, expected)| {
            case(format!("refused as kwctl refuses it: {name}"), move || {
                let error = match read_request(&data.join(file)) {
                    Ok(_) => return Err(anyhow!("{file} was read, expected kwctl's refusal")),
                    Err(e) => format!("{:#}", anyhow::Error::from(e)),
                };
                ensure!(error.contains(expected), "{error}\n    lacks {expected:?}");
                Ok(())
            })
        })
        .collect()
}

/// With `FUZZ_CORPUS` (a `validate` corpus) and `FUZZ_SETTINGS_CORPUS` (a `validate_settings`
/// one) set, as `make fuzz` does, every input the native fuzzers kept goes through the compiled
/// module too: its stack, memory and 32-bit arithmetic are not the native build's. Each must get
/// an answer of the right shape; a trap or anything else fails the case and names the file.
fn check_fuzz_corpus(policy: &'static Policy) -> Vec<Case> {
    let mut results = Vec::new();
    for (var, operation) in [
        ("FUZZ_CORPUS", "validate"),
        ("FUZZ_SETTINGS_CORPUS", "validate_settings"),
    ] {
        let Some(dir) = std::env::var_os(var) else {
            continue;
        };
        // Relative to the workspace root, like POLICY_WASM.
        let dir = workspace_root().join(dir);
        let check = move || -> Result<()> {
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .with_context(|| format!("{var}: cannot read {}", dir.display()))?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()?;
            files.sort();
            ensure!(!files.is_empty(), "{var}: the corpus is empty");
            for file in &files {
                let input = std::fs::read(file)?;
                let answered = || -> Result<()> {
                    let out = policy.call(operation, &input)?;
                    if operation == "validate" {
                        // Any bytes: an answer, never a trap. What a host can deliver (the
                        // bytes parsed and written again by serde_json): an answer that parses.
                        if let Ok(value) = serde_json::from_slice::<Value>(&input) {
                            policy.validate_raw(&serde_json::to_vec(&value)?)?;
                        }
                    } else {
                        serde_json::from_slice::<policy_host::SettingsValidation>(&out)
                            .context("not a settings answer")?;
                    }
                    Ok(())
                };
                let answered = answered();
                answered.with_context(|| format!("{}", file.display()))?;
            }
            println!(
                "    {} inputs of {} through {operation}",
                files.len(),
                dir.display()
            );
            Ok(())
        };
        results.push(case(
            format!("fuzz corpus through the module: {operation}"),
            check,
        ));
    }
    results
}

/// The kwctl-like command prints the same AdmissionResponse line as the library.
fn check_cli(policy: &'static Policy, data: &'static Path) -> Result<()> {
    let request_path = data.join("hook-pod-legacy-create.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_policy-run"))
        .arg("--request-path")
        .arg(&request_path)
        .arg("--settings-json")
        .arg("{}")
        .arg(policy_path())
        .output()?;
    ensure!(
        out.status.success(),
        "policy-run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout)?;
    ensure!(
        stdout.lines().count() == 1,
        "expected one line, got {stdout:?}"
    );
    let from_cli: Value = serde_json::from_str(&stdout)?;
    let from_lib = serde_json::to_value(policy.run(&read_request(&request_path)?, &json!({}))?)?;
    ensure!(from_cli == from_lib, "CLI {from_cli} != library {from_lib}");
    ensure!(
        from_cli["patchType"] == "JSONPatch",
        "no patch in {from_cli}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_policy-run"))
        .args(["--request-path"])
        .arg(&request_path)
        .args(["--settings-json", r#"{"mode":"audit"}"#])
        .arg(policy_path())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "invalid settings must fail");
    ensure!(
        stderr.contains("Provided settings are not valid: mode: unknown variant `audit`"),
        "{stderr}"
    );
    Ok(())
}

/// The chart's controllers and every labelling variant, admitted through the module with their
/// children derived as the controllers do, in both modes (the coherence law, README Decisions).
fn check_chain_table(policy: &'static Policy, data: &'static Path) -> Vec<Case> {
    use Root::{Accepted as A, Mutated as M, Rejected as R};
    let kinds = [
        "daemonset",
        "deployment",
        "statefulset",
        "replicaset",
        "replicationcontroller",
        "job",
        "cronjob",
    ];
    let mut table: Vec<(String, Value, Value, Root, Root)> = Vec::new();
    let mut file = |name: &str, mutate: Root, reject: Root| -> Result<()> {
        let request = read_request(&data.join(name))?;
        table.push((
            name.to_owned(),
            request["object"].clone(),
            json!({}),
            mutate,
            reject,
        ));
        Ok(())
    };
    let mut loaded = Vec::new();
    for (name, mutate, reject) in [
        ("hook-daemonset-create.json", A, A),
        ("continuous-daemonset-create.json", A, A),
        ("awaiter-job-create.json", A, A),
        ("continuous-daemonset-legacy-create.json", M, R),
        ("hook-daemonset-automount-unset-create.json", M, R),
        ("hook-daemonset-labels-on-controller-only-create.json", A, A),
        ("hook-daemonset-labels-on-template-only-create.json", M, R),
        ("hook-cronjob-labels-on-job-template-only-create.json", A, A),
        ("awaiter-job-default-sa-create.json", M, R),
        ("deployment-borrows-continuous-sa-create.json", R, R),
    ] {
        loaded.push(file(name, mutate, reject));
    }
    for kind in kinds {
        loaded.push(file(&format!("hook-{kind}-create.json"), A, A));
        loaded.push(file(&format!("hook-{kind}-default-sa-create.json"), M, R));
    }
    let mut results: Vec<Case> = loaded
        .into_iter()
        .filter_map(|r| r.err())
        .map(|e| case("chain: test data", move || Err(e)))
        .collect();
    // fullnameOverride: myhub, with the policy configured for it, and the chart 4.0.0 form.
    let fullname = json!({"hookPuller": {"serviceAccountName": "myhub-hook-image-puller"},
        "continuousPuller": {"serviceAccountName": "myhub-continuous-image-puller"},
        "awaiter": {"serviceAccountName": "myhub-hook-image-awaiter"}});
    if let Ok(request) = read_request(&data.join("hook-daemonset-create.json")) {
        let mut ds = request["object"].clone();
        ds["metadata"]["name"] = json!("myhub-hook-image-puller");
        ds["spec"]["template"]["spec"]["serviceAccountName"] = json!("myhub-hook-image-puller");
        table.push((
            "fullnameOverride hook DaemonSet".into(),
            ds.clone(),
            fullname.clone(),
            A,
            A,
        ));
        ds["spec"]["template"]["spec"]["serviceAccountName"] = json!("default");
        table.push((
            "fullnameOverride 4.0.0 hook DaemonSet".into(),
            ds,
            fullname,
            M,
            R,
        ));
    }
    for (name, root, settings, mutate, reject) in table {
        for (mode, expected) in [("mutate", mutate), ("reject", reject)] {
            let mut settings = settings.clone();
            settings["mode"] = json!(mode);
            let root = root.clone();
            let check = move || -> Result<()> {
                let o = chain::run(policy, &root, &settings)?;
                ensure!(
                    o.root == expected,
                    "root {:?}, expected {expected:?}",
                    o.root
                );
                ensure!(
                    o.root == Root::Rejected || o.derived > 0,
                    "an admitted controller derived nothing"
                );
                Ok(())
            };
            results.push(case(format!("chain: {name} ({mode})"), check));
        }
    }
    results
}

/// Generated controllers of every kind, every placement of the role labels, every
/// ServiceAccount, automount and token variant, in both modes: for each one the module admits,
/// everything Kubernetes derives from it is admitted too (the coherence law).
fn check_chain_property(policy: &'static Policy) -> Case {
    let kinds = [
        "DaemonSet",
        "Deployment",
        "StatefulSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
    ];
    let roles = [
        "hook-image-puller",
        "continuous-image-puller",
        "image-puller",
    ];
    let accounts = [
        None,
        Some("default"),
        Some("own"),
        Some("continuous-image-puller"),
        Some("jupyterhub-hub"),
    ];
    let automounts = [None, Some(true), Some(false)];
    let check = move || -> Result<()> {
        let (mut roots, mut admitted, mut derived) = (0, 0, 0);
        for kind in kinds {
            let placements: &[&str] = if kind == "CronJob" {
                &["template", "controller", "both", "none", "jobTemplate"]
            } else {
                &["template", "controller", "both", "none"]
            };
            for placement in placements {
                for role in roles {
                    for account in accounts {
                        for automount in automounts {
                            for token in [false, true] {
                                let object =
                                    generated(kind, placement, role, account, automount, token);
                                for mode in ["mutate", "reject"] {
                                    let o = chain::run(policy, &object, &json!({"mode": mode}))
                                        .with_context(|| {
                                            format!(
                                                "{kind}, labels on {placement}, {role}, account {account:?}, automount {automount:?}, token {token}, {mode}"
                                            )
                                        })?;
                                    roots += 1;
                                    if o.root != Root::Rejected {
                                        admitted += 1;
                                    }
                                    derived += o.derived;
                                }
                            }
                        }
                    }
                }
            }
        }
        ensure!(
            admitted > 0 && derived > admitted,
            "the generator admitted too little"
        );
        println!(
            "    {roots} controllers, {admitted} admitted, {derived} derived objects admitted"
        );
        Ok(())
    };
    case(
        "chain property: the coherence law over generated controllers",
        check,
    )
}

/// A controller of `kind` whose role label (`component: role`) sits at `placement`.
fn generated(
    kind: &str,
    placement: &str,
    role: &str,
    account: Option<&str>,
    automount: Option<bool>,
    token: bool,
) -> Value {
    let role_account = match role {
        "hook-image-puller" => "hook-image-puller",
        "continuous-image-puller" => "continuous-image-puller",
        _ => "hook-image-awaiter",
    };
    let labelled = |here: bool| {
        let mut labels = json!({"app": "jupyterhub", "release": "jhub"});
        if here {
            labels["component"] = json!(role);
        }
        labels
    };
    let mut spec = json!({
        "initContainers": [{"name": "image-pull-singleuser", "image": "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0", "command": ["/bin/sh", "-c", "echo Pulling complete"]}],
        "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10.1"}],
        "nodeSelector": {"hub.jupyter.org/node-purpose": "user"},
    });
    match account {
        Some("own") => spec["serviceAccountName"] = json!(role_account),
        Some(a) => spec["serviceAccountName"] = json!(a),
        None => {}
    }
    if let Some(a) = automount {
        spec["automountServiceAccountToken"] = json!(a);
    }
    if token {
        spec["volumes"] = json!([{"name": "api-token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]);
        spec["containers"][0]["volumeMounts"] =
            json!([{"name": "api-token", "mountPath": "/token"}]);
    }
    let in_template = matches!(placement, "template" | "both");
    let on_controller = matches!(placement, "controller" | "both");
    let mut template = json!({"metadata": {"labels": labelled(in_template)}, "spec": spec});
    let selector = json!({"matchLabels": {"app": "jupyterhub", "release": "jhub"}});
    let (api, body) = match kind {
        "Job" | "CronJob" => {
            template["spec"]["restartPolicy"] = json!("Never");
            if kind == "Job" {
                ("batch/v1", json!({"template": template, "backoffLimit": 0}))
            } else {
                (
                    "batch/v1",
                    json!({"schedule": "*/30 * * * *", "jobTemplate": {
                        "metadata": {"labels": labelled(placement == "jobTemplate")},
                        "spec": {"template": template}}}),
                )
            }
        }
        "ReplicationController" => (
            "v1",
            json!({"replicas": 1, "selector": {"app": "jupyterhub", "release": "jhub"}, "template": template}),
        ),
        "StatefulSet" => (
            "apps/v1",
            json!({"serviceName": "pullers", "selector": selector, "template": template}),
        ),
        "DaemonSet" => (
            "apps/v1",
            json!({"selector": selector, "template": template}),
        ),
        _ => (
            "apps/v1",
            json!({"replicas": 1, "selector": selector, "template": template}),
        ),
    };
    json!({"apiVersion": api, "kind": kind,
        "metadata": {"name": "pullers", "namespace": "jhub", "labels": labelled(on_controller)},
        "spec": body})
}

/// `requireExistingServiceAccounts` (issue 9) through the compiled module: the lookups it makes
/// (asserted call by call), the ones it must not make, kwctl's recorded sessions, and the
/// coherence law with the setting on.
fn check_context_aware(policy: &'static Policy, data: &'static Path) -> Vec<Case> {
    use policy_host::host::{Fixtures, GetResource, Host, Replay};

    let sa = |name: &str| {
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": "jhub", "labels": {"app": "jupyterhub", "component": name}}})
    };
    let lookup = |name: &str, uncached: bool| GetResource::service_account("jhub", name, uncached);
    let all = move || -> Result<Fixtures> {
        Ok(Fixtures::new()
            .found(sa("hook-image-puller"))?
            .found(sa("continuous-image-puller"))?
            .found(sa("hook-image-awaiter"))?)
    };
    let on = |mode: &str| json!({"requireExistingServiceAccounts": true, "mode": mode});
    let mut results = Vec::new();
    for mode in ["mutate", "reject"] {
        let settings = on(mode);
        // (name, request, fixtures, allowed, message fragment, expected lookups)
        type Case<'a> = (
            &'a str,
            &'a str,
            Result<Fixtures>,
            bool,
            &'a str,
            Vec<GetResource>,
        );
        let cases: Vec<Case> = vec![
            (
                "4.4.0 release with its ServiceAccounts: one cached lookup",
                "hook-daemonset-create.json",
                all(),
                true,
                "",
                vec![lookup("hook-image-puller", false)],
            ),
            (
                "a compliant puller whose ServiceAccount is missing: cached, then uncached",
                "hook-daemonset-create.json",
                Ok(Fixtures::new()),
                false,
                r#"DaemonSet jhub/hook-image-puller (hook image puller, matched by hookPuller.selector) would run as ServiceAccount "hook-image-puller" of namespace "jhub", which does not exist"#,
                vec![
                    lookup("hook-image-puller", false),
                    lookup("hook-image-puller", true),
                ],
            ),
            (
                "the ServiceAccount only visible uncached (Helm created it a moment ago)",
                "hook-daemonset-create.json",
                Fixtures::new()
                    .found_only_uncached(sa("hook-image-puller"))
                    .map_err(Into::into),
                true,
                "",
                vec![
                    lookup("hook-image-puller", false),
                    lookup("hook-image-puller", true),
                ],
            ),
            (
                "a host error is no proof the account is missing: a compliant puller is admitted",
                "continuous-pod-create.json",
                Ok(Fixtures::new().host_error(
                    "v1",
                    "ServiceAccount",
                    Some("jhub"),
                    "continuous-image-puller",
                    "ServiceError: client error (Connect)",
                )),
                true,
                "",
                vec![
                    lookup("continuous-image-puller", false),
                    lookup("continuous-image-puller", true),
                ],
            ),
            (
                "the awaiter is looked up too",
                "awaiter-job-create.json",
                all(),
                true,
                "",
                vec![lookup("hook-image-awaiter", false)],
            ),
            (
                "an unrelated Pod asks nothing",
                "proxy-pod-create.json",
                Ok(Fixtures::new()),
                true,
                "",
                vec![],
            ),
            (
                "a borrower asks nothing",
                "deployment-borrows-continuous-sa-create.json",
                Ok(Fixtures::new()),
                false,
                "reserved for the continuous image puller",
                vec![],
            ),
            (
                "a DELETE asks nothing",
                "hook-pod-legacy-delete.json",
                Ok(Fixtures::new()),
                true,
                "",
                vec![],
            ),
        ];
        let mut cases = cases;
        // The chart 4.0.0 hook DaemonSet: mutated to an account that is missing, or, in reject
        // mode, rejected for its violations before any lookup.
        cases.push(if mode == "mutate" {
            (
                "4.0.0 release without its ServiceAccounts: rejected after two lookups",
                "hook-daemonset-chart-4.0.0-create.json",
                Ok(Fixtures::new()),
                false,
                MISSING_4_0_0,
                vec![
                    lookup("hook-image-puller", false),
                    lookup("hook-image-puller", true),
                ],
            )
        } else {
            (
                "4.0.0 release without its ServiceAccounts: rejected for its violations, no lookup",
                "hook-daemonset-chart-4.0.0-create.json",
                Ok(Fixtures::new()),
                false,
                "(mode: reject, so nothing was changed)",
                vec![],
            )
        });
        for (name, file, fixtures, allowed, fragment, lookups) in cases {
            let settings = settings.clone();
            let check = move || -> Result<()> {
                let host = Host::new(fixtures?);
                let request = read_request(&data.join(file))?;
                let r = policy.run_with_host(&request, &settings, &host)?;
                ensure!(
                    r.allowed == allowed,
                    "allowed is {} ({:?})",
                    r.allowed,
                    r.message()
                );
                let message = r.message().unwrap_or_default();
                ensure!(
                    message.contains(fragment),
                    "message {message:?} lacks {fragment:?}"
                );
                let calls = host.get_resource_calls();
                ensure!(calls == lookups, "lookups {calls:?}, expected {lookups:?}");
                ensure!(
                    host.calls().len() == calls.len(),
                    "other host calls: {:?}",
                    host.calls()
                );
                Ok(())
            };
            results.push(case(format!("context-aware ({mode}): {name}"), check));
        }
    }
    // The setting off: today's decisions, and not a single host call.
    for (file, allowed, patched) in [
        ("hook-daemonset-create.json", true, false),
        ("hook-daemonset-default-sa-create.json", true, true),
        ("awaiter-job-create.json", true, false),
    ] {
        let check = move || -> Result<()> {
            let host = Host::new(Fixtures::new());
            let r = policy.run_with_host(&read_request(&data.join(file))?, &json!({}), &host)?;
            ensure!(
                r.allowed == allowed && r.patch.is_some() == patched,
                "{r:?}"
            );
            ensure!(host.calls().is_empty(), "host calls: {:?}", host.calls());
            Ok(())
        };
        results.push(case(
            format!("context-aware off: {file} asks nothing"),
            check,
        ));
    }
    // kwctl's recorded sessions, replayed exchange by exchange.
    for (session, file, mode, allowed) in [
        (
            "z2jh-4.4.0-hook-sa.yaml",
            "hook-daemonset-create.json",
            "reject",
            true,
        ),
        (
            "z2jh-4.0.0-no-hook-sa.yaml",
            "hook-daemonset-default-sa-create.json",
            "mutate",
            false,
        ),
        (
            "z2jh-4.4.0-hook-sa-uncached-only.yaml",
            "hook-daemonset-create.json",
            "mutate",
            true,
        ),
    ] {
        let check = move || -> Result<()> {
            let host = Host::new(Replay::load(&data.join("context").join(session))?);
            let r = policy.run_with_host(&read_request(&data.join(file))?, &on(mode), &host)?;
            ensure!(
                r.allowed == allowed,
                "allowed is {} ({:?})",
                r.allowed,
                r.message()
            );
            host.kubernetes().finish()?;
            Ok(())
        };
        results.push(case(format!("context-aware replay: {session}"), check));
    }
    // The coherence law with the setting on, every ServiceAccount present.
    for file in [
        "hook-daemonset-create.json",
        "continuous-daemonset-legacy-create.json",
        "awaiter-job-create.json",
        "hook-cronjob-default-sa-create.json",
        "hook-deployment-default-sa-create.json",
    ] {
        for mode in ["mutate", "reject"] {
            let check = move || -> Result<()> {
                let host = Host::new(all()?);
                let root = read_request(&data.join(file))?["object"].clone();
                let o = chain::run_with_host(policy, &host, &root, &on(mode))?;
                ensure!(
                    o.root == Root::Rejected || o.derived > 0,
                    "an admitted controller derived nothing"
                );
                ensure!(
                    !host.get_resource_calls().is_empty() || o.root == Root::Rejected,
                    "no lookup"
                );
                Ok(())
            };
            results.push(case(format!("context-aware chain ({mode}): {file}"), check));
        }
    }
    results
}

/// What the guest gets for a lookup the host fails: the SDK's wrapping of the waPC host error.
fn host_answer(host_message: &str) -> String {
    format!("error invoking host capability kubernetes.get_resource: Host error: {host_message}")
}

/// The causes and fixes the policy names for each refusal, as `src/render.rs` words them.
const NOT_GRANTED_CAUSE: &str = "the policy is not granted ServiceAccount lookups";
const NOT_GRANTED_FIX: &str = "requireExistingServiceAccounts needs a ClusterAdmissionPolicy listing contextAwareResources [{apiVersion: v1, kind: ServiceAccount}] (an AdmissionPolicy cannot look anything up: Kubewarden grants it none, so use the ClusterAdmissionPolicy or set requireExistingServiceAccounts: false; a policy's hostCapabilities must allow kubernetes/get_resource)";
const FORBIDDEN_CAUSE: &str =
    "the API server forbids policy-server's ServiceAccount to read ServiceAccounts";
const FORBIDDEN_FIX: &str = "let policy-server's ServiceAccount get, list and watch serviceaccounts (the ClusterRole and ClusterRoleBinding in the policy's README, Require existing ServiceAccounts)";
const FAILED_CAUSE: &str = "the lookup failed (the API server may be unreachable)";
const FAILED_FIX: &str =
    "check that policy-server reaches the API server (its logs say why the lookup failed)";
const HOOK_DS: &str =
    "DaemonSet jhub/hook-image-puller (hook image puller, matched by hookPuller.selector)";
/// The fix of the hook DaemonSet of chart 4.4.0 made to run as default: the chart's values.
const HOOK_DS_FIXES: &str = r#"(1) spec.template.spec.serviceAccountName is "default", expected "hook-image-puller": run it as ServiceAccount "hook-image-puller" (Zero to JupyterHub: prePuller.hook.serviceAccountImagePuller.create=true and prePuller.hook.serviceAccountImagePuller.name=hook-image-puller; if yours is named otherwise, set hookPuller.serviceAccountName in the policy settings)"#;
/// The fix of chart 4.0.0's hook DaemonSet, which has no value for it (issue 22).
const HOOK_DS_4_0_0_FIXES: &str = r#"(1) spec.template.spec.serviceAccountName is unset (runs as "default"), expected "hook-image-puller": run it as ServiceAccount "hook-image-puller" (Zero to JupyterHub 4.0.0 has no value for it: upgrade the chart to 4.1.0 or later, which creates it and runs the hook image puller as it by default, or create it with kubectl create serviceaccount hook-image-puller -n jhub and let the policy's mode: mutate set it; if yours is named otherwise, set hookPuller.serviceAccountName in the policy settings)"#;
/// What a 404 for the hook puller's ServiceAccount advises, for chart 4.4.0 and 4.0.0.
const MISSING_4_4_0: &str = "Have the chart create it (Zero to JupyterHub: prePuller.hook.serviceAccountImagePuller.create=true and prePuller.hook.serviceAccountImagePuller.name=hook-image-puller), or create it (kubectl create serviceaccount hook-image-puller -n jhub), or set hookPuller.serviceAccountName in the policy settings to the ServiceAccount you use";
const MISSING_4_0_0: &str = "Zero to JupyterHub 4.0.0 does not create it: upgrade the chart to 4.1.0 or later, which does by default, or create it (kubectl create serviceaccount hook-image-puller -n jhub), or set hookPuller.serviceAccountName in the policy settings to the ServiceAccount you use";

/// One lookup-truth case: (name, session, access, request, settings, audit, expected allowed,
/// message, warnings, lookups).
type LookupCase = (
    String,
    String,
    policy_host::host::ContextAwareAccess,
    &'static str,
    Value,
    bool,
    bool,
    String,
    Vec<String>,
    usize,
);

/// `requireExistingServiceAccounts` tells not found from refused (issue 15), on the compiled
/// module with kwctl's recorded sessions (404, 403, unreachable, not granted), in both modes
/// and for the audit scanner's requests: exact messages and warnings, every session replayed.
fn check_lookup_truth(policy: &'static Policy, data: &'static Path) -> Vec<Case> {
    use policy_host::host::{ContextAwareAccess, Host, Replay};

    let not_found = host_answer(
        r#"Callback evaluation failure: Cannot find v1/ServiceAccount named 'hook-image-puller' inside of namespace 'Some("jhub")'"#,
    );
    let missing = |advice: &str| {
        format!(
            r#"{HOOK_DS} would run as ServiceAccount "hook-image-puller" of namespace "jhub", which does not exist (requireExistingServiceAccounts: true; the host answered {not_found:?}): the API server will refuse its Pods, and a Helm hook waiting for them will time out. {advice}"#
        )
    };
    let forbidden_session = data.join("context/z2jh-4.4.0-hook-sa-forbidden.yaml");
    let forbidden = match Replay::load(&forbidden_session) {
        Ok(replay) => match &replay.remaining()[0].response {
            policy_host::RecordedResponse::Error { message } => {
                host_answer(&format!("Callback evaluation failure: {message}"))
            }
            other => format!("unexpected {other:?}"),
        },
        Err(e) => format!("{e:#}"),
    };
    let refusals = [
        (
            "z2jh-4.4.0-hook-sa-not-granted.yaml",
            ContextAwareAccess::Denied,
            host_answer(
                "Policy has not been granted access to Kubernetes v1/ServiceAccount resources. The violation has been reported.",
            ),
            NOT_GRANTED_CAUSE,
            NOT_GRANTED_FIX,
            1,
        ),
        (
            "z2jh-4.4.0-hook-sa-forbidden.yaml",
            ContextAwareAccess::All,
            forbidden,
            FORBIDDEN_CAUSE,
            FORBIDDEN_FIX,
            2,
        ),
        (
            "z2jh-4.4.0-hook-sa-unreachable.yaml",
            ContextAwareAccess::All,
            host_answer("Callback evaluation failure: ServiceError: client error (Connect)"),
            FAILED_CAUSE,
            FAILED_FIX,
            2,
        ),
    ];
    // (name, session, access, request, settings, audit, expected allowed, message, warnings, lookups)
    let mut cases: Vec<LookupCase> = Vec::new();
    for mode in ["mutate", "reject"] {
        for audit in [false, true] {
            let settings = json!({"requireExistingServiceAccounts": true, "mode": mode});
            // 404: the compliant 4.4.0 DaemonSet is rejected, admission and audit alike.
            cases.push((
                format!("404, compliant 4.4.0 hook DaemonSet ({mode}, audit: {audit}): rejected as missing"),
                "z2jh-4.0.0-no-hook-sa.yaml".into(),
                ContextAwareAccess::All,
                "hook-daemonset-create.json",
                settings.clone(),
                audit,
                false,
                missing(MISSING_4_4_0),
                vec![],
                2,
            ));
            for (session, access, answer, cause, fix, asks) in &refusals {
                // Refused: the compliant DaemonSet is admitted with the cause and the fix.
                cases.push((
                    format!("{session}: compliant 4.4.0 hook DaemonSet ({mode}, audit: {audit}): admitted with the cause"),
                    (*session).into(),
                    access.clone(),
                    "hook-daemonset-create.json",
                    settings.clone(),
                    audit,
                    true,
                    String::new(),
                    vec![format!(
                        r#"{HOOK_DS} runs as ServiceAccount "hook-image-puller" of namespace "jhub", which the policy could not look up: {cause} (requireExistingServiceAccounts: true; the host answered {answer:?}). Admitted, since the API server itself refuses Pods whose ServiceAccount does not exist; for the lookup to work, {fix}"#
                    )],
                    *asks,
                ));
            }
        }
    }
    // A mutation is never made blind: the 4.0.0 DaemonSet in mode: mutate (as rendered, and
    // the 4.4.0 one made to run as default), each with the advice its chart version allows.
    let mutate = json!({"requireExistingServiceAccounts": true});
    for (file, advice, fixes) in [
        (
            "hook-daemonset-chart-4.0.0-create.json",
            MISSING_4_0_0,
            HOOK_DS_4_0_0_FIXES,
        ),
        (
            "hook-daemonset-default-sa-create.json",
            MISSING_4_4_0,
            HOOK_DS_FIXES,
        ),
    ] {
        cases.push((
            format!("404, {file} (mutate): rejected as missing"),
            "z2jh-4.0.0-no-hook-sa.yaml".into(),
            ContextAwareAccess::All,
            file,
            mutate.clone(),
            false,
            false,
            missing(advice),
            vec![],
            2,
        ));
        for (session, access, answer, cause, fix, asks) in &refusals {
            cases.push((
                format!("{session}: {file} (mutate): rejected with the cause, not changed"),
                (*session).into(),
                access.clone(),
                file,
                mutate.clone(),
                false,
                false,
                format!(
                    r#"{HOOK_DS} would be changed to run as ServiceAccount "hook-image-puller" of namespace "jhub", which the policy could not look up: {cause} (requireExistingServiceAccounts: true; the host answered {answer:?}), so nothing was changed. For the lookup to work, {fix}; or make these changes yourself: {fixes}"#
                ),
                vec![],
                *asks,
            ));
        }
    }
    let mut results = Vec::new();
    for (name, session, access, file, settings, audit, allowed, message, warnings, asks) in cases {
        let check = move || -> Result<()> {
            let host =
                Host::new(Replay::load(&data.join("context").join(&session))?).with_access(access);
            let mut request = read_request(&data.join(file))?;
            if audit {
                // The audit scanner's request: no userInfo.
                request
                    .as_object_mut()
                    .context("a request object")?
                    .remove("userInfo");
            }
            let r = policy.run_with_host(&request, &settings, &host)?;
            unpatched_answer(&r, allowed, &message, &warnings)?;
            let calls = host.get_resource_calls().len();
            ensure!(calls == asks, "{calls} lookups, expected {asks}");
            host.kubernetes().finish()?;
            Ok(())
        };
        results.push(case(format!("lookup truth: {name}"), check));
    }
    results
}

/// A host answer quoted in a message is cut to its first line (issue 22): with `RUST_BACKTRACE=1`
/// in policy-server's environment, the callback handler's `{:?}` of an `anyhow::Error` carries
/// `Caused by:` lines and a backtrace of thousands of characters. Exact messages and warnings.
fn check_multiline_host_answers(policy: &'static Policy, data: &'static Path) -> Vec<Case> {
    use policy_host::host::{Fixtures, Host};

    let backtrace: String = (0..40)
        .map(|i| {
            format!(
                "\n  {i:>2}: policy_evaluator::callback_handler::kubernetes::client::Client::get_resource::{{{{closure}}}}\n             at /cargo/registry/src/index.crates.io/policy-evaluator/src/callback_handler/kubernetes/client.rs:{}:{}",
                100 + i,
                9 + i % 7
            )
        })
        .collect();
    let unreachable = format!(
        "ServiceError: client error (Connect)\n\nCaused by:\n    0: client error (Connect)\n    1: tcp connect error: Connection refused (os error 111)\n\nStack backtrace:{backtrace}"
    );
    let not_found = format!(
        "Cannot find v1/ServiceAccount named 'hook-image-puller' inside of namespace 'Some(\"jhub\")'\n\nStack backtrace:{backtrace}"
    );
    let first = |line: &str| host_answer(&format!("Callback evaluation failure: {line}"));
    let unreachable_first = first("ServiceError: client error (Connect)");
    let not_found_first = first(
        r#"Cannot find v1/ServiceAccount named 'hook-image-puller' inside of namespace 'Some("jhub")'"#,
    );
    // (name, request, host message, allowed, message, warnings)
    let cases = [
        (
            "unreachable, with a backtrace: a compliant hook DaemonSet is admitted, the warning quoting the first line",
            "hook-daemonset-create.json",
            unreachable.clone(),
            true,
            String::new(),
            vec![format!(
                r#"{HOOK_DS} runs as ServiceAccount "hook-image-puller" of namespace "jhub", which the policy could not look up: {FAILED_CAUSE} (requireExistingServiceAccounts: true; the host answered {unreachable_first:?} and 84 more lines). Admitted, since the API server itself refuses Pods whose ServiceAccount does not exist; for the lookup to work, {FAILED_FIX}"#
            )],
        ),
        (
            "unreachable, with a backtrace: a mutation is refused, quoting the first line",
            "hook-daemonset-default-sa-create.json",
            unreachable,
            false,
            format!(
                r#"{HOOK_DS} would be changed to run as ServiceAccount "hook-image-puller" of namespace "jhub", which the policy could not look up: {FAILED_CAUSE} (requireExistingServiceAccounts: true; the host answered {unreachable_first:?} and 84 more lines), so nothing was changed. For the lookup to work, {FAILED_FIX}; or make these changes yourself: {HOOK_DS_FIXES}"#
            ),
            vec![],
        ),
        (
            "not found, with a backtrace: rejected as missing, quoting the first line",
            "hook-daemonset-create.json",
            not_found,
            false,
            format!(
                r#"{HOOK_DS} would run as ServiceAccount "hook-image-puller" of namespace "jhub", which does not exist (requireExistingServiceAccounts: true; the host answered {not_found_first:?} and 81 more lines): the API server will refuse its Pods, and a Helm hook waiting for them will time out. {MISSING_4_4_0}"#
            ),
            vec![],
        ),
    ];
    let settings = json!({"requireExistingServiceAccounts": true});
    let mut results = Vec::new();
    for (name, file, host_message, allowed, message, warnings) in cases {
        let settings = settings.clone();
        let check = move || -> Result<()> {
            let fixtures = Fixtures::new().host_error(
                "v1",
                "ServiceAccount",
                Some("jhub"),
                "hook-image-puller",
                &host_message,
            );
            let host = Host::new(fixtures);
            let r = policy.run_with_host(&read_request(&data.join(file))?, &settings, &host)?;
            unpatched_answer(&r, allowed, &message, &warnings)?;
            Ok(())
        };
        results.push(case(format!("multi-line host answer: {name}"), check));
    }
    results
}

/// The kwctl command for `requireExistingServiceAccounts` in docs/decisions.md, through
/// `policy-run` with kwctl's flags and recorded sessions. kwctl grants what the module's metadata
/// declares, so this runs on an annotated module only (`make packaging-tests` runs the suite on
/// one).
fn check_cli_context_aware(data: &'static Path) -> Option<Case> {
    let module = std::fs::read(policy_path()).ok()?;
    policy_artifact::Metadata::of_module(&module).ok()??;
    let check = move || -> Result<()> {
        for (session, request, allowed, fragment) in [
            (
                "z2jh-4.0.0-no-hook-sa.yaml",
                "hook-daemonset-default-sa-create.json",
                false,
                "Cannot find v1/ServiceAccount named 'hook-image-puller'",
            ),
            (
                "z2jh-4.4.0-hook-sa.yaml",
                "hook-daemonset-create.json",
                true,
                "",
            ),
        ] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_policy-run"))
                .arg("--allow-context-aware")
                .arg("--replay-host-capabilities-interactions")
                .arg(data.join("context").join(session))
                .args([
                    "--settings-json",
                    r#"{"requireExistingServiceAccounts":true}"#,
                ])
                .arg("--request-path")
                .arg(data.join(request))
                .arg(policy_path())
                .output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            ensure!(
                out.status.success(),
                "{session}: policy-run failed: {stderr}"
            );
            ensure!(!stderr.contains("not been replayed"), "{session}: {stderr}");
            let answer: Value = serde_json::from_slice(&out.stdout)?;
            ensure!(answer["allowed"] == allowed, "{session}: {answer}");
            let message = answer["status"]["message"].as_str().unwrap_or_default();
            ensure!(
                message.contains(fragment),
                "{session}: {message:?} lacks {fragment:?}"
            );
        }
        Ok(())
    };
    Some(case(
        "kwctl-like policy-run with recorded host interactions (docs/decisions.md)",
        check,
    ))
}

fn main() {
    let args = Arguments::from_args();
    let root = workspace_root();
    let policy = match Policy::load(&policy_path()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "cannot load the policy: {:#} (build it with `make policy.wasm`)",
                anyhow::Error::from(e)
            );
            std::process::exit(2);
        }
    };
    let table = match cases::load(&root.join("policy-host/cases.yaml")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(2);
        }
    };
    // Every case borrows the one compiled module and the data directory for the whole run.
    let policy: &'static Policy = Box::leak(Box::new(policy));
    let data: &'static Path = Box::leak(root.join("test_data").into_boxed_path());
    let mut cases: Vec<Case> = Vec::new();
    cases.push(case("protocol_version is v1", move || {
        let v = policy.protocol_version()?;
        ensure!(v == "v1", "got {v}");
        Ok(())
    }));
    for request in table.requests {
        cases.push(case(format!("request: {}", request.name), move || {
            check_request_case(policy, data, &request)
        }));
    }
    for settings in table.settings {
        cases.push(case(format!("settings: {}", settings.name), move || {
            check_settings_case(policy, &settings)
        }));
    }
    cases.extend(check_garbage(policy));
    cases.extend(check_garbage_settings(policy));
    cases.extend(check_raw_bypasses(policy, data));
    cases.extend(check_refused_requests(data));
    cases.extend(check_fuzz_corpus(policy));
    cases.extend(check_chain_table(policy, data));
    cases.push(check_chain_property(policy));
    cases.extend(check_context_aware(policy, data));
    cases.extend(check_lookup_truth(policy, data));
    cases.extend(check_multiline_host_answers(policy, data));
    cases.push(case("kwctl-like policy-run command", move || {
        check_cli(policy, data)
    }));
    cases.extend(check_cli_context_aware(data));
    cases.push(case(
        "settings the policy refuses are Error::SettingsRefused, with its message",
        move || {
            let request = read_request(&data.join("hook-pod-legacy-create.json"))?;
            match policy.run(&request, &json!({"mode": "audit"})) {
                Err(policy_host::Error::SettingsRefused { message }) => {
                    let expected = "mode: unknown variant `audit`, expected `mutate` or `reject`";
                    ensure!(message == expected, "{message:?}, expected {expected:?}");
                    Ok(())
                }
                other => Err(anyhow!("expected refused settings, got {other:?}")),
            }
        },
    ));

    let trials = cases
        .into_iter()
        .map(|(name, check)| {
            Trial::test(name, move || {
                check().map_err(|e| Failed::from(format!("{e:#}")))
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// An answer without a patch: the decision, the exact message and the exact warnings.
fn unpatched_answer(
    r: &policy_host::AdmissionResponse,
    allowed: bool,
    message: &str,
    warnings: &[String],
) -> Result<()> {
    ensure!(
        r.allowed == allowed,
        "allowed is {} ({:?})",
        r.allowed,
        r.message()
    );
    ensure!(
        r.message().unwrap_or_default() == message,
        "message:\n{:?}\nexpected:\n{message:?}",
        r.message().unwrap_or_default()
    );
    let got = r.warnings.clone().unwrap_or_default();
    ensure!(
        got == warnings,
        "warnings:\n{got:?}\nexpected:\n{warnings:?}"
    );
    ensure!(r.patch.is_none(), "a patch");
    Ok(())
}
