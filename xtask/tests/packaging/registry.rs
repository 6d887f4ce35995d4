//! Push and pull against a real registry: what is stored, byte for byte, and how failures are
//! reported.

use std::collections::BTreeMap;

use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};
use policy_artifact::metadata::{self, Metadata};
use policy_artifact::oci::{self, Transport};
use serde_json::Value;

use crate::support::{self, PASSWORD, Registry, USER, http_get};
use crate::{annotated_wasm, policy_wasm, root, run, xtask};

/// The annotations the manifest must carry: metadata.yml's (single-line) annotations plus the
/// OCI source; the README usage is left out.
fn expected_annotations() -> BTreeMap<String, String> {
    let metadata = Metadata::load(&root().join("metadata.yml")).unwrap();
    let mut expected = metadata.annotations.clone();
    expected.insert(
        "org.opencontainers.image.source".into(),
        metadata.annotation(metadata::SOURCE).unwrap().into(),
    );
    expected
}

fn push(registry: &Registry, docker_config: &std::path::Path, path: &str) -> crate::Run {
    run(xtask(docker_config)
        .env("OCI_INSECURE", "1")
        .args(["push", "--wasm"])
        .arg(annotated_wasm())
        .arg(registry.reference(path)))
}

#[test]
fn push_then_pull_by_tag_and_by_digest_gives_back_the_same_bytes() {
    let registry = Registry::start();
    let no_credentials = tempfile::tempdir().unwrap();
    let annotated = std::fs::read(annotated_wasm()).unwrap();

    let pushed = push(
        &registry,
        no_credentials.path(),
        "policies/prepuller:v0.1.0",
    );
    assert!(
        pushed.ok,
        "{}\nregistry log:\n{}",
        pushed.stderr,
        registry.log()
    );
    let digest = pushed.stdout.trim().to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest:?}"
    );
    assert!(pushed.stderr.contains(&format!(
        "immutable reference: {}@{digest}",
        registry.reference("policies/prepuller")
    )));

    // What the registry serves, read without the code under test.
    let served = http_get(
        registry.port,
        "/v2/policies/prepuller/manifests/v0.1.0",
        &[("Accept", OCI_IMAGE_MEDIA_TYPE)],
    )
    .unwrap();
    assert_eq!(served.status, 200);
    assert_eq!(
        served.header("Docker-Content-Digest"),
        Some(digest.as_str())
    );
    assert_eq!(served.header("Content-Type"), Some(OCI_IMAGE_MEDIA_TYPE));
    assert_eq!(oci::sha256_digest(&served.body), digest);
    let manifest: Value = serde_json::from_slice(&served.body).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["config"]["mediaType"], WASM_CONFIG_MEDIA_TYPE);
    assert_eq!(manifest["config"]["size"], 2);
    assert_eq!(manifest["config"]["digest"], oci::sha256_digest(b"{}"));
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], WASM_LAYER_MEDIA_TYPE);
    assert_eq!(layers[0]["size"], annotated.len());
    assert_eq!(layers[0]["digest"], oci::sha256_digest(&annotated));
    let annotations: BTreeMap<String, String> =
        serde_json::from_value(manifest["annotations"].clone()).unwrap();
    assert_eq!(annotations, expected_annotations());
    assert!(!annotations.contains_key(metadata::USAGE));
    // The blobs as the registry wrote them to disk.
    assert_eq!(
        registry
            .stored_blob(&oci::sha256_digest(&annotated))
            .as_deref(),
        Some(annotated.as_slice())
    );
    assert_eq!(
        registry.stored_blob(&oci::sha256_digest(b"{}")).as_deref(),
        Some(b"{}".as_slice())
    );
    // The manifest digest is the one the same module and metadata give locally.
    assert_eq!(oci::artifact(&annotated).unwrap().digest, digest);

    // Pull by tag through the command line, checked against the digest and the local module.
    let out = tempfile::tempdir().unwrap();
    let pulled_path = out.path().join("pulled.wasm");
    let pulled = run(xtask(no_credentials.path())
        .env("OCI_INSECURE", "1")
        .args(["pull", "--expect-digest", &digest, "--compare"])
        .arg(annotated_wasm())
        .arg("--output")
        .arg(&pulled_path)
        .arg(registry.reference("policies/prepuller:v0.1.0")));
    assert!(pulled.ok, "{}", pulled.stderr);
    assert_eq!(pulled.stdout.trim(), digest);
    assert_eq!(std::fs::read(&pulled_path).unwrap(), annotated);

    // Pull by digest through the library: everything checked and returned.
    let by_digest =
        oci::parse_reference(&registry.reference(&format!("policies/prepuller@{digest}"))).unwrap();
    let artifact = oci::pull(&by_digest, Transport { insecure: true }, Some(&digest)).unwrap();
    assert_eq!(artifact.digest, digest);
    assert_eq!(artifact.manifest_bytes, served.body);
    assert_eq!(artifact.config, b"{}");
    assert!(
        artifact.module == annotated,
        "the module pulled by digest differs"
    );
    assert_eq!(artifact.metadata.protocol_version.as_deref(), Some("v1"));

    // A wrong expected digest is caught.
    let wrong = format!("sha256:{}", "0".repeat(64));
    let err = oci::pull(&by_digest, Transport { insecure: true }, Some(&wrong)).unwrap_err();
    let shown = format!("{err:#}");
    assert!(
        shown.starts_with(&format!("cannot pull {by_digest}: "))
            && shown.contains(&format!("expected {wrong}")),
        "{shown}"
    );
}

#[test]
fn https_is_the_default_and_a_plain_http_registry_is_refused_clearly() {
    let registry = Registry::start();
    let no_credentials = tempfile::tempdir().unwrap();
    let result = run(xtask(no_credentials.path())
        .args(["push", "--wasm"])
        .arg(annotated_wasm())
        .arg(registry.reference("policies/prepuller:v0.1.0")));
    assert!(!result.ok);
    assert!(
        result.stderr.contains(&format!(
            "cannot reach the registry at https://{}",
            registry.host()
        )) && result.stderr.contains("TLS handshake failed")
            && result.stderr.contains("set OCI_INSECURE=1"),
        "{}",
        result.stderr
    );
    assert_eq!(registry.repositories(), Vec::<String>::new());
    assert_eq!(registry.blob_count(), 0);
}

#[test]
fn an_unannotated_module_is_refused_before_anything_is_sent() {
    let registry = Registry::start();
    let no_credentials = tempfile::tempdir().unwrap();
    let result = run(xtask(no_credentials.path())
        .env("OCI_INSECURE", "1")
        .args(["push", "--wasm"])
        .arg(policy_wasm())
        .arg(registry.reference("policies/prepuller:v0.1.0")));
    assert!(!result.ok);
    assert!(
        result
            .stderr
            .contains("the module is not annotated (it has no io.kubewarden.metadata section)")
            && result.stderr.contains("make annotated-policy.wasm"),
        "{}",
        result.stderr
    );
    assert_eq!(result.stdout, "");
    assert_eq!(registry.repositories(), Vec::<String>::new());
    assert_eq!(registry.blob_count(), 0);
}

#[test]
fn a_registry_that_is_down_fails_clearly_and_leaves_nothing() {
    let port = support::free_port();
    let no_credentials = tempfile::tempdir().unwrap();
    let reference = format!("127.0.0.1:{port}/policies/prepuller:v0.1.0");
    let result = run(xtask(no_credentials.path())
        .env("OCI_INSECURE", "1")
        .args(["push", "--wasm"])
        .arg(annotated_wasm())
        .arg(&reference));
    assert!(!result.ok);
    assert!(
        result.stderr.contains(&format!(
            "cannot reach the registry at http://127.0.0.1:{port}: connection refused"
        )),
        "{}",
        result.stderr
    );
    assert_eq!(result.stdout, "");

    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("pulled.wasm");
    let result = run(xtask(no_credentials.path())
        .env("OCI_INSECURE", "1")
        .args(["pull", "--output"])
        .arg(&target)
        .arg(&reference));
    assert!(!result.ok);
    assert!(
        result.stderr.contains("connection refused"),
        "{}",
        result.stderr
    );
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "no file left behind"
    );
}

#[test]
fn pulling_what_is_not_there_fails_clearly_and_leaves_nothing() {
    let registry = Registry::start();
    let no_credentials = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let result = run(xtask(no_credentials.path())
        .env("OCI_INSECURE", "1")
        .args(["pull", "--output"])
        .arg(out.path().join("pulled.wasm"))
        .arg(registry.reference("policies/prepuller:v9.9.9")));
    assert!(!result.ok);
    assert!(
        result.stderr.contains("the registry has no such artifact"),
        "{}",
        result.stderr
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn basic_auth_with_credentials_from_a_docker_config_or_the_environment() {
    let registry = Registry::start_with_auth();
    let annotated = std::fs::read(annotated_wasm()).unwrap();

    // A wrong password: refused, named as such, nothing stored.
    let wrong = support::docker_config(&registry.host(), USER, "not the password");
    let result = push(&registry, wrong.path(), "policies/denied:v0.1.0");
    assert!(!result.ok);
    assert!(
        result.stderr.contains("authentication failed")
            && result
                .stderr
                .contains("the registry refused the credentials from the docker config"),
        "{}",
        result.stderr
    );
    assert_eq!(registry.repositories(), Vec::<String>::new());
    assert_eq!(registry.blob_count(), 0);

    // No credentials at all: told how to provide them.
    let empty = tempfile::tempdir().unwrap();
    let result = push(&registry, empty.path(), "policies/denied:v0.1.0");
    assert!(!result.ok);
    assert!(
        result
            .stderr
            .contains("the registry requires credentials: `docker login"),
        "{}",
        result.stderr
    );

    // The right credentials from a docker config file: pushed, and pulled back identical.
    let good = support::docker_config(&registry.host(), USER, PASSWORD);
    let pushed = push(&registry, good.path(), "policies/prepuller:v0.1.0");
    assert!(
        pushed.ok,
        "{}\nregistry log:\n{}",
        pushed.stderr,
        registry.log()
    );
    assert!(
        pushed
            .stderr
            .contains("credentials: the docker config file"),
        "{}",
        pushed.stderr
    );
    assert!(!pushed.stderr.contains(PASSWORD) && !pushed.stdout.contains(PASSWORD));
    let digest = pushed.stdout.trim().to_owned();
    let out = tempfile::tempdir().unwrap();
    let pulled = run(xtask(good.path())
        .env("OCI_INSECURE", "1")
        .args(["pull", "--expect-digest", &digest, "--compare"])
        .arg(annotated_wasm())
        .arg("--output")
        .arg(out.path().join("pulled.wasm"))
        .arg(registry.reference("policies/prepuller:v0.1.0")));
    assert!(pulled.ok, "{}", pulled.stderr);
    assert_eq!(
        std::fs::read(out.path().join("pulled.wasm")).unwrap(),
        annotated
    );

    // Anonymous pulls are refused by this registry.
    let anonymous = run(xtask(empty.path())
        .env("OCI_INSECURE", "1")
        .args(["pull", "--output"])
        .arg(out.path().join("anonymous.wasm"))
        .arg(registry.reference("policies/prepuller:v0.1.0")));
    assert!(!anonymous.ok);
    assert!(
        anonymous
            .stderr
            .contains("the registry requires credentials"),
        "{}",
        anonymous.stderr
    );
    assert!(!out.path().join("anonymous.wasm").exists());

    // Credentials from the environment (CI secrets) take precedence over the docker config.
    let from_env = run(xtask(wrong.path())
        .env("OCI_INSECURE", "1")
        .env("OCI_USERNAME", USER)
        .env("OCI_PASSWORD", PASSWORD)
        .args(["push", "--wasm"])
        .arg(annotated_wasm())
        .arg(registry.reference("policies/prepuller:ci")));
    assert!(from_env.ok, "{}", from_env.stderr);
    assert!(
        from_env
            .stderr
            .contains("credentials: OCI_USERNAME/OCI_PASSWORD")
    );
    assert_eq!(from_env.stdout.trim(), digest, "same artifact, same digest");
    assert_eq!(
        registry.repositories(),
        vec!["policies/prepuller".to_owned()]
    );
}
