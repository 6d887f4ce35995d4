//! cosign signatures against a real registry: `keygen`, `sign` and `verify-signature` through the
//! command line, what is stored (read back without the code under test), and every way
//! verification must fail: an unsigned tag, a wrong key, an altered signature, a module pushed
//! again under the same tag, a signature copied onto another digest, missing annotations.

use std::path::{Path, PathBuf};

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::Value;
use xtask::sign::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};

use crate::support::{Registry, http_get};
use crate::{annotated_wasm, policy_wasm, root, run, xtask};

const PASSWORD: &str = "correct horse battery staple";

/// The xtask command against the plain-HTTP test registry, without anonymous-credential or
/// password leaks from the caller's environment.
fn cmd(dir: &Path) -> std::process::Command {
    let mut c = xtask(dir);
    c.env("OCI_INSECURE", "1").env_remove("COSIGN_PASSWORD");
    c
}

fn keygen(dir: &Path, prefix: &str, password: &str) -> (PathBuf, PathBuf) {
    let out = run(cmd(dir)
        .env("COSIGN_PASSWORD", password)
        .args(["keygen", "--prefix"])
        .arg(dir.join(prefix)));
    assert!(out.ok, "{}", out.stderr);
    (
        dir.join(format!("{prefix}.key")),
        dir.join(format!("{prefix}.pub")),
    )
}

fn push(dir: &Path, wasm: &Path, reference: &str) -> String {
    let out = run(cmd(dir).args(["push", "--wasm"]).arg(wasm).arg(reference));
    assert!(out.ok, "{}", out.stderr);
    out.stdout.trim().to_owned()
}

fn sign(
    dir: &Path,
    key: &Path,
    password: Option<&str>,
    reference: &str,
    annotations: &[&str],
) -> crate::Run {
    let mut c = cmd(dir);
    if let Some(p) = password {
        c.env("COSIGN_PASSWORD", p);
    }
    c.arg("sign").arg(reference).arg("--key").arg(key);
    for a in annotations {
        c.args(["-a", a]);
    }
    run(&mut c)
}

fn verify(dir: &Path, public: &Path, reference: &str, annotations: &[&str]) -> crate::Run {
    let mut c = cmd(dir);
    c.arg("verify-signature")
        .arg(reference)
        .arg("--key")
        .arg(public);
    for a in annotations {
        c.args(["-a", a]);
    }
    run(&mut c)
}

fn assert_fails(out: &crate::Run, expected: &str) {
    assert!(
        !out.ok,
        "verification passed, expected a failure: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(expected),
        "expected {expected:?} in:\n{}",
        out.stderr
    );
    assert!(
        out.stdout.is_empty(),
        "no digest is printed on failure: {}",
        out.stdout
    );
}

/// The signature manifest as the registry serves it, and its layers' payloads.
fn stored_signature(registry: &Registry, repository: &str, digest: &str) -> (Value, Vec<Value>) {
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let served = http_get(
        registry.port,
        &format!("/v2/{repository}/manifests/{tag}"),
        &[("Accept", OCI_IMAGE_MEDIA_TYPE)],
    )
    .unwrap();
    assert_eq!(served.status, 200, "no {tag} in {repository}");
    let manifest: Value = serde_json::from_slice(&served.body).unwrap();
    let payloads = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| {
            let digest = layer["digest"].as_str().unwrap();
            let blob = registry
                .stored_blob(digest)
                .expect("the layer blob is stored");
            serde_json::from_slice(&blob).unwrap()
        })
        .collect();
    (manifest, payloads)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn raw_client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    })
}

/// Reads the signature manifest at `from`, lets `edit` change its layers (payload bytes and
/// annotations), and stores the result at `to`: what someone with write access to the
/// repository, but not the private key, can do.
fn rewrite_signature(from: &str, to: &str, edit: impl Fn(&mut Vec<ImageLayer>)) {
    let client = raw_client();
    let from: Reference = from.parse().unwrap();
    let to: Reference = to.parse().unwrap();
    block_on(async {
        let (manifest, _) = client
            .pull_manifest(&from, &RegistryAuth::Anonymous)
            .await
            .unwrap();
        let OciManifest::Image(manifest) = manifest else {
            panic!("not an image manifest")
        };
        let mut layers = Vec::new();
        for d in &manifest.layers {
            let mut data = Vec::new();
            client.pull_blob(&from, d, &mut data).await.unwrap();
            layers.push(ImageLayer::new(
                data,
                d.media_type.clone(),
                d.annotations.clone(),
            ));
        }
        edit(&mut layers);
        let config = Config::oci_v1(b"{}".to_vec(), None);
        let mut new_manifest = OciImageManifest::build(&layers, &config, None);
        new_manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_owned());
        client
            .push(
                &to,
                &layers,
                config,
                &RegistryAuth::Anonymous,
                Some(new_manifest),
            )
            .await
            .unwrap();
    });
}

fn sig_tag(registry: &Registry, repository: &str, digest: &str) -> String {
    registry.reference(&format!("{repository}:{}.sig", digest.replace(':', "-")))
}

/// Another annotated module: the same policy with a different usage text, so another digest.
fn other_module(dir: &Path) -> PathBuf {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let usage = dir.join("USAGE.md");
    std::fs::write(&usage, format!("{readme}\nA rebuilt module.\n")).unwrap();
    let output = dir.join("other.wasm");
    let out = run(cmd(dir)
        .args(["annotate", "--wasm"])
        .arg(policy_wasm())
        .args(["--metadata", "metadata.yml", "--usage"])
        .arg(&usage)
        .arg("--output")
        .arg(&output));
    assert!(out.ok, "{}", out.stderr);
    output
}

#[test]
fn keygen_writes_a_cosign_key_pair_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "cosign", PASSWORD);
    let key_text = std::fs::read_to_string(&key).unwrap();
    assert!(
        key_text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        "{key_text}"
    );
    assert!(
        std::fs::read_to_string(&public)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let again = run(cmd(dir.path())
        .env("COSIGN_PASSWORD", PASSWORD)
        .args(["keygen", "--prefix"])
        .arg(dir.path().join("cosign")));
    assert!(!again.ok);
    assert!(again.stderr.contains("exists already"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), key_text);
    // The key opens with its password only.
    let pem = std::fs::read(&key).unwrap();
    xtask::sign::load_private_key(&pem, PASSWORD.as_bytes()).unwrap();
    let err = xtask::sign::load_private_key(&pem, b"wrong")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("cannot decrypt the private key"), "{err}");
}

#[test]
fn sign_then_verify_stores_a_cosign_signature_and_checks_annotations() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "cosign", PASSWORD);
    let repository = "policies/prepuller";
    let reference = registry.reference(&format!("{repository}:v0.1.0"));
    let digest = push(dir.path(), &annotated_wasm(), &reference);

    // Not signed yet.
    assert_fails(
        &verify(dir.path(), &public, &reference, &[]),
        &format!("is not signed: it points to {digest}, and the registry has no signature"),
    );

    // A wrong password is refused before anything is sent.
    let wrong = sign(dir.path(), &key, Some("wrong"), &reference, &[]);
    assert!(
        !wrong.ok && wrong.stderr.contains("cannot decrypt the private key"),
        "{}",
        wrong.stderr
    );

    let signed = sign(
        dir.path(),
        &key,
        Some(PASSWORD),
        &reference,
        &["env=prod", "team=jhub"],
    );
    assert!(signed.ok, "{}\n{}", signed.stderr, registry.log());
    assert_eq!(signed.stdout.trim(), digest);

    // Stored cosign's way, read back without the code under test.
    let (manifest, payloads) = stored_signature(&registry, repository, &digest);
    assert_eq!(manifest["mediaType"], OCI_IMAGE_MEDIA_TYPE);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], SIMPLE_SIGNING_MEDIA_TYPE);
    assert!(
        layers[0]["annotations"][SIGNATURE_ANNOTATION]
            .as_str()
            .is_some_and(|s| s.len() > 40)
    );
    let payload = &payloads[0];
    assert_eq!(
        payload["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        registry.reference(repository).as_str()
    );
    assert_eq!(payload["optional"]["env"], "prod");
    assert_eq!(payload["optional"]["team"], "jhub");

    // Verifies, with and without the annotations it carries.
    for annotations in [&[][..], &["env=prod"][..], &["env=prod", "team=jhub"][..]] {
        let ok = verify(dir.path(), &public, &reference, annotations);
        assert!(ok.ok, "{annotations:?}: {}", ok.stderr);
        assert_eq!(ok.stdout.trim(), digest);
    }
    let by_digest = registry.reference(&format!("{repository}@{digest}"));
    assert!(verify(dir.path(), &public, &by_digest, &["env=prod"]).ok);
    // An annotation the signature does not carry, or carries with another value.
    assert_fails(
        &verify(dir.path(), &public, &reference, &["env=dev"]),
        "is signed with this key, but no such signature carries the annotations env=dev: they carry [env=prod team=jhub]",
    );
    assert_fails(
        &verify(dir.path(), &public, &reference, &["env=prod", "tier=gold"]),
        "no such signature carries the annotations env=prod tier=gold",
    );

    // Another key did not sign it.
    let (_, other_public) = keygen(dir.path(), "other", PASSWORD);
    assert_fails(
        &verify(dir.path(), &other_public, &reference, &[]),
        "none of its 1 signature(s) verifies with this public key",
    );

    // An unencrypted PKCS#8 key (no password) adds a second signature; the first one stays.
    let other_pem = std::fs::read(dir.path().join("other.key")).unwrap();
    let other_pair = xtask::sign::load_private_key(&other_pem, PASSWORD.as_bytes()).unwrap();
    let pkcs8 = dir.path().join("other-pkcs8.pem");
    std::fs::write(&pkcs8, other_pair.private_key_to_pem().unwrap().as_bytes()).unwrap();
    assert!(
        std::fs::read_to_string(&pkcs8)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let second = sign(dir.path(), &pkcs8, None, &reference, &[]);
    assert!(second.ok, "{}", second.stderr);
    assert!(
        second.stderr.contains("2 signature(s)"),
        "{}",
        second.stderr
    );
    assert!(verify(dir.path(), &other_public, &reference, &[]).ok);
    assert!(verify(dir.path(), &public, &reference, &["env=prod"]).ok);
    // Signing again with the same key and payload adds nothing.
    let repeat = sign(dir.path(), &pkcs8, None, &reference, &[]);
    assert!(
        repeat.ok && repeat.stderr.contains("2 signature(s)"),
        "{}",
        repeat.stderr
    );
}

#[test]
fn altered_signatures_and_moved_tags_fail_verification() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "cosign", PASSWORD);
    let repository = "policies/prepuller";
    let reference = registry.reference(&format!("{repository}:v0.1.0"));
    let digest = push(dir.path(), &annotated_wasm(), &reference);
    assert!(sign(dir.path(), &key, Some(PASSWORD), &reference, &["env=prod"]).ok);
    assert!(verify(dir.path(), &public, &reference, &[]).ok);
    let sig = sig_tag(&registry, repository, &digest);

    // The payload changed after signing (the annotation rewritten to another value).
    rewrite_signature(&sig, &sig, |layers| {
        let text = String::from_utf8(layers[0].data.to_vec()).unwrap();
        assert!(text.contains("\"env\":\"prod\""), "{text}");
        layers[0] = ImageLayer::new(
            text.replace("\"env\":\"prod\"", "\"env\":\"dev\"")
                .into_bytes(),
            layers[0].media_type.clone(),
            layers[0].annotations.clone(),
        );
    });
    assert_fails(
        &verify(dir.path(), &public, &reference, &["env=dev"]),
        "none of its 1 signature(s) verifies with this public key: they were made with another key, or altered after signing",
    );

    // The signature itself altered (one bit of the DER signature flipped).
    assert!(sign(dir.path(), &key, Some(PASSWORD), &reference, &["env=prod"]).ok);
    rewrite_signature(&sig, &sig, |layers| {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        for layer in layers.iter_mut() {
            let mut annotations = layer.annotations.clone().unwrap();
            let mut bytes = b64.decode(&annotations[SIGNATURE_ANNOTATION]).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            annotations.insert(SIGNATURE_ANNOTATION.to_owned(), b64.encode(bytes));
            *layer = ImageLayer::new(
                layer.data.to_vec(),
                layer.media_type.clone(),
                Some(annotations),
            );
        }
    });
    assert_fails(
        &verify(dir.path(), &public, &reference, &[]),
        "verifies with this public key: they were made with another key, or altered after signing",
    );

    // A fresh valid signature, then another module pushed under the same tag.
    let fresh_repo = "policies/moved";
    let moved = registry.reference(&format!("{fresh_repo}:v0.1.0"));
    let first = push(dir.path(), &annotated_wasm(), &moved);
    assert!(sign(dir.path(), &key, Some(PASSWORD), &moved, &[]).ok);
    assert!(verify(dir.path(), &public, &moved, &[]).ok);
    let second = push(dir.path(), &other_module(dir.path()), &moved);
    assert_ne!(first, second);
    assert_fails(
        &verify(dir.path(), &public, &moved, &[]),
        &format!(
            "is not signed: it points to {second}, and the registry has no signature for that digest"
        ),
    );
    assert!(
        verify(dir.path(), &public, &moved, &[])
            .stderr
            .contains("pushed again under the same tag"),
    );
    // The first module is still verifiable by its digest.
    let pinned = registry.reference(&format!("{fresh_repo}@{first}"));
    let ok = verify(dir.path(), &public, &pinned, &[]);
    assert!(ok.ok && ok.stdout.trim() == first, "{}", ok.stderr);

    // The first module's signature copied onto the new digest's tag names the old digest.
    rewrite_signature(
        &sig_tag(&registry, fresh_repo, &first),
        &sig_tag(&registry, fresh_repo, &second),
        |_| {},
    );
    assert_fails(
        &verify(dir.path(), &public, &moved, &[]),
        "holds no signature of this digest",
    );
}

/// docs/release.md's offline verification: the trust config file it ships
/// (docs/sigstore-trust-config.json, read as `kwctl verify --sigstore-trust-config` reads it)
/// with a key-signed artifact in a local registry, every other address unreachable (a proxy
/// nobody listens on, loopback exempt), verifies; a file kwctl would refuse fails first.
#[test]
fn keyed_verification_with_the_documented_trust_config_works_offline() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "cosign", PASSWORD);
    let reference = registry.reference("policies/offline:v0.1.0");
    let digest = push(dir.path(), &annotated_wasm(), &reference);
    let signed = sign(dir.path(), &key, Some(PASSWORD), &reference, &["env=prod"]);
    assert!(signed.ok, "{}", signed.stderr);

    let dead_proxy = format!("http://127.0.0.1:{}", crate::support::free_port());
    let offline = |config: &Path| {
        let mut c = cmd(dir.path());
        for var in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
        ] {
            c.env(var, &dead_proxy);
        }
        c.env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .arg("verify-signature")
            .arg(&reference)
            .arg("--key")
            .arg(&public)
            .args(["-a", "env=prod", "--sigstore-trust-config"])
            .arg(config);
        run(&mut c)
    };
    let documented = root().join("docs/sigstore-trust-config.json");
    let ok = offline(&documented);
    assert!(ok.ok, "{}\n{}", ok.stderr, registry.log());
    assert_eq!(ok.stdout.trim(), digest);

    let no_root = dir.path().join("no-root.json");
    std::fs::write(
        &no_root,
        r#"{"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"}"#,
    )
    .unwrap();
    assert_fails(&offline(&no_root), "missing trusted_root field");
    let missing = dir.path().join("absent.json");
    assert_fails(
        &offline(&missing),
        "could not read Sigstore trust config file",
    );
}
