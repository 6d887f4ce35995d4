//! `--module registry://HOST/PATH:TAG` against a real OCI registry (Debian's docker-registry on
//! 127.0.0.1, the packaging tests' `policy_artifact::test_registry`; `make packaging-deps`
//! installs it):
//! the annotated module (`make annotated-policy.wasm`, or `$ANNOTATED_WASM`) is pushed, then the
//! `prepuller-check` binary pulls it over plain HTTP (`OCI_INSECURE=1`) and must report exactly
//! what it reports for the same file, the module named with the digest the registry serves.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use policy_artifact::oci::{self, Transport};
use policy_artifact::test_registry::{Registry, http_get};
use policy_host::workspace_root;

const RELEASE: &str = "test_data/releases/z2jh-4.0.0-default.yaml";
const REPOSITORY: &str = "policies/prepuller";

fn annotated_wasm() -> PathBuf {
    let path = policy_host::annotated_path();
    assert!(
        path.exists(),
        "{} is missing: run `make annotated-policy.wasm`",
        path.display()
    );
    path
}

/// The binary on `RELEASE`, from the workspace root, with an environment of its own: plain HTTP
/// allowed, no credentials from the caller's environment or docker config.
fn check(module: &str, no_credentials: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prepuller-check"))
        .current_dir(workspace_root())
        .env("OCI_INSECURE", "1")
        .env("DOCKER_CONFIG", no_credentials)
        .env_remove("OCI_USERNAME")
        .env_remove("OCI_PASSWORD")
        .args([
            RELEASE, "-n", "jhub", "--color", "never", "--module", module,
        ])
        .output()
        .expect("cannot run prepuller-check")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_pulled_module_is_named_with_its_digest_and_checks_as_the_file_does() {
    let registry = Registry::start();
    let no_credentials = tempfile::tempdir().unwrap();
    let wasm = annotated_wasm();
    let module = std::fs::read(&wasm).unwrap();
    let reference = oci::parse_reference(&registry.reference(&format!("{REPOSITORY}:v0.1.0")))
        .expect("a valid reference");
    let pushed = oci::push(&module, &reference, Transport { insecure: true })
        .unwrap_or_else(|e| panic!("push: {e:#}\nregistry log:\n{}", registry.log()));

    // The digest the registry serves for the tag, read without the code under test.
    let served = http_get(
        registry.port,
        &format!("/v2/{REPOSITORY}/manifests/v0.1.0"),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
    )
    .unwrap();
    assert_eq!(served.status, 200);
    let digest = served
        .header("Docker-Content-Digest")
        .expect("the registry names the manifest's digest")
        .to_owned();
    assert_eq!(oci::sha256_digest(&served.body), digest);
    assert_eq!(pushed.digest, digest);

    let spec = format!(
        "registry://{}",
        registry.reference(&format!("{REPOSITORY}:v0.1.0"))
    );
    let pulled = check(&spec, no_credentials.path());
    let from_file = check(wasm.to_str().unwrap(), no_credentials.path());

    let (pulled_report, file_report) = (text(&pulled.stdout), text(&from_file.stdout));
    assert_eq!(
        from_file.status.code(),
        Some(1),
        "{file_report}{}",
        text(&from_file.stderr)
    );
    assert_eq!(
        pulled.status.code(),
        Some(1),
        "{pulled_report}{}\nregistry log:\n{}",
        text(&pulled.stderr),
        registry.log()
    );
    assert_eq!(text(&pulled.stderr), "");
    // The first line names the module; everything else is the same report, byte for byte.
    let (pulled_header, pulled_body) = pulled_report.split_once('\n').unwrap();
    let (file_header, file_body) = file_report.split_once('\n').unwrap();
    assert_eq!(
        pulled_header,
        file_header.replacen(
            &format!("module {};", wasm.display()),
            &format!("module {spec} ({digest});"),
            1
        )
    );
    assert!(
        pulled_header.starts_with(&format!(
            "prepuller-check: module {spec} ({digest}); policy "
        )),
        "{pulled_header}"
    );
    assert!(pulled_body.contains("MUTATE"), "{pulled_body}");
    assert_eq!(pulled_body, file_body);
}

#[test]
fn a_tag_the_registry_lacks_is_one_line_and_exit_2() {
    let registry = Registry::start();
    let no_credentials = tempfile::tempdir().unwrap();
    let spec = format!(
        "registry://{}",
        registry.reference(&format!("{REPOSITORY}:no-such-tag"))
    );
    let out = check(&spec, no_credentials.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        format!(
            "prepuller-check: error: cannot pull {}: the registry has no such artifact\n",
            registry.reference(&format!("{REPOSITORY}:no-such-tag"))
        )
    );
}
