//! The annotated module: what the custom section holds, that it is reproducible, and that it
//! changes nothing else.

use policy_artifact::metadata::{self, Metadata};
use policy_artifact::section::{self, METADATA_SECTION};
use xtask::annotate::{self, Inputs};

use crate::{annotated_wasm, policy_wasm, root, run, xtask};

fn inputs(module: &[u8]) -> Inputs<'_> {
    let root = root();
    Inputs::load(
        module,
        &root.join("metadata.yml"),
        &root.join("README.md"),
        &root.join("Cargo.toml"),
    )
    .unwrap()
}

#[test]
fn the_section_holds_metadata_yml_the_readme_and_the_protocol_version() {
    let annotated = std::fs::read(annotated_wasm()).unwrap();
    let json = section::read_metadata(&annotated)
        .unwrap()
        .expect("annotated");
    let embedded: serde_json::Value = serde_json::from_slice(json).unwrap();
    let on_disk = Metadata::load(&root().join("metadata.yml")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();

    assert_eq!(embedded["protocolVersion"], "v1");
    assert_eq!(embedded["mutating"], on_disk.mutating);
    assert_eq!(embedded["backgroundAudit"], on_disk.background_audit);
    assert_eq!(embedded["executionMode"], "kubewarden-wapc");
    assert_eq!(embedded["policyType"], "kubernetes");
    assert_eq!(
        embedded["contextAwareResources"],
        serde_json::to_value(&on_disk.context_aware_resources).unwrap()
    );
    assert_eq!(
        embedded["rules"],
        serde_json::to_value(&on_disk.rules).unwrap()
    );
    let annotations = embedded["annotations"].as_object().unwrap();
    assert_eq!(annotations[metadata::USAGE], readme.as_str());
    for (key, value) in &on_disk.annotations {
        assert_eq!(annotations[key], value.as_str(), "{key}");
    }
    assert_eq!(annotations.len(), on_disk.annotations.len() + 1);
}

#[test]
fn the_annotated_module_is_reproducible_and_up_to_date() {
    let plain = std::fs::read(policy_wasm()).unwrap();
    let fresh = annotate::annotate(&inputs(&plain)).unwrap();
    let annotated = std::fs::read(annotated_wasm()).unwrap();
    assert!(
        fresh == annotated,
        "annotating policy.wasm again gives other bytes than annotated-policy.wasm: run `make annotated-policy.wasm`"
    );
}

#[test]
fn only_the_metadata_section_is_added() {
    let plain = std::fs::read(policy_wasm()).unwrap();
    let annotated = std::fs::read(annotated_wasm()).unwrap();
    let before = section::sections(&plain).unwrap();
    let after = section::sections(&annotated).unwrap();
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(&after[..before.len()], before.as_slice());
    assert_eq!(after.last().unwrap().name, Some(METADATA_SECTION));
}

#[test]
fn re_annotating_an_annotated_module_replaces_the_section() {
    let annotated = std::fs::read(annotated_wasm()).unwrap();
    let again = annotate::annotate(&inputs(&annotated)).unwrap();
    assert!(again == annotated, "re-annotation is not idempotent");
    let count = section::sections(&again)
        .unwrap()
        .iter()
        .filter(|s| s.name == Some(METADATA_SECTION))
        .count();
    assert_eq!(count, 1);
}

#[test]
fn the_annotated_module_still_answers_in_the_runtime() {
    let policy = policy_host::Policy::load(&annotated_wasm()).unwrap();
    assert_eq!(policy.protocol_version().unwrap(), "v1");
    let verdict = policy
        .validate_settings(&serde_json::json!({"mode": "audit"}))
        .unwrap();
    assert!(!verdict.valid);
    assert!(
        verdict
            .message
            .unwrap()
            .contains("mode: unknown variant `audit`")
    );
}

#[test]
fn the_command_refuses_invalid_metadata_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("metadata.yml"))
        .unwrap()
        .replace(
            "io.kubewarden.policy.author: prepuller-serviceaccount-policy developers <maintainers@prepuller-policy.dev>",
            "io.kubewarden.policy.author: maintainers@prepuller-policy.dev",
        )
        .replace("io.kubewarden.policy.title: prepuller-serviceaccount", "io.kubewarden.policy.title: Prepuller Policy");
    let bad = dir.path().join("metadata.yml");
    std::fs::write(&bad, text).unwrap();
    let output = dir.path().join("out.wasm");
    let result = run(xtask(dir.path())
        .args(["annotate", "--wasm"])
        .arg(policy_wasm())
        .arg("--metadata")
        .arg(&bad)
        .arg("--output")
        .arg(&output));
    assert!(!result.ok);
    assert!(
        result.stderr.contains("metadata.yml is invalid")
            && result.stderr.contains("io.kubewarden.policy.author: \"maintainers@prepuller-policy.dev\" is not an RFC 5322 name-addr")
            && result.stderr.contains("io.kubewarden.policy.title: \"Prepuller Policy\" is not a valid RFC 1123 name"),
        "{}",
        result.stderr
    );
    assert!(!output.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only metadata.yml"
    );
}

#[test]
fn a_module_that_is_not_a_policy_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let not_wasm = dir.path().join("policy.wasm");
    std::fs::write(&not_wasm, b"#!/bin/sh\n").unwrap();
    let output = dir.path().join("out.wasm");
    let result = run(xtask(dir.path())
        .args(["annotate", "--wasm"])
        .arg(&not_wasm)
        .arg("--output")
        .arg(&output));
    assert!(!result.ok);
    assert!(
        result
            .stderr
            .contains("cannot load the module in the waPC runtime"),
        "{}",
        result.stderr
    );
    assert!(!output.exists());
}

/// The module calls `kubernetes/get_resource` (kwctl 1.36's scan finds it), and metadata.yml
/// declares exactly that, so the embedded metadata does too.
#[test]
fn the_module_calls_the_host_capabilities_metadata_declares() {
    let plain = std::fs::read(policy_wasm()).unwrap();
    let detected = xtask::capabilities::detect(&plain).unwrap();
    assert_eq!(
        detected.iter().map(String::as_str).collect::<Vec<_>>(),
        ["kubernetes/get_resource"]
    );
    let on_disk = Metadata::load(&root().join("metadata.yml")).unwrap();
    assert_eq!(on_disk.host_capabilities.as_ref(), Some(&detected));
    let annotated = std::fs::read(annotated_wasm()).unwrap();
    let embedded = Metadata::of_module(&annotated).unwrap().expect("annotated");
    assert_eq!(embedded.host_capabilities, Some(detected));
}

/// `make annotated-policy.wasm` fails, writing nothing, when metadata.yml's hostCapabilities
/// leave out a capability the module calls, or list one it does not call (kwctl 1.36 prints
/// the same two sentences as warnings).
#[test]
fn the_command_refuses_host_capabilities_that_differ_from_the_module() {
    let original = std::fs::read_to_string(root().join("metadata.yml")).unwrap();
    let declared = "hostCapabilities:\n  - kubernetes/get_resource\n";
    assert!(
        original.contains(declared),
        "metadata.yml declares {declared}"
    );
    let cases = [
        (
            original.replace(declared, ""),
            "host capabilities used by the policy but not declared in metadata: kubernetes/get_resource",
        ),
        (
            original.replace(
                declared,
                "hostCapabilities:\n  - kubernetes/get_resource\n  - kubernetes/list_resources_all\n",
            ),
            "host capabilities declared in metadata but not detected in the policy: kubernetes/list_resources_all",
        ),
    ];
    for (text, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let metadata = dir.path().join("metadata.yml");
        std::fs::write(&metadata, text).unwrap();
        let output = dir.path().join("out.wasm");
        let result = run(xtask(dir.path())
            .args(["annotate", "--wasm"])
            .arg(policy_wasm())
            .arg("--metadata")
            .arg(&metadata)
            .arg("--output")
            .arg(&output));
        assert!(!result.ok, "annotation passed, expected: {expected}");
        assert!(result.stderr.contains(expected), "{}", result.stderr);
        assert!(!output.exists());
    }
}
