//! What the user's binary links. `cargo install --locked --path prepuller-check` must work on a
//! machine without OpenSSL's headers and give a binary that does not load libssl: so nothing
//! it builds (normal and build dependencies, on every target) may be OpenSSL, native-tls, the
//! signing crate (sigstore, which needs a crypto backend) or the developers' task runner
//! (xtask). The same question asked of xtask, which does link them, shows the check sees them.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Packages the user's binary must not build.
const DEVELOPERS_ONLY: &[&str] = &[
    "xtask",
    "sigstore",
    "openssl",
    "openssl-sys",
    "native-tls",
    "aws-lc-sys",
];

/// The names of every package `package` builds: `cargo tree` over its normal and build
/// dependencies, for every target, from the lock file. It reads the manifests of packages
/// only other targets build (windows-sys, security-framework, ...), which a build here never
/// fetched: where CARGO_HOME has not got them, the first run fetches them (some 80 small
/// crates) from crates.io, as the build itself fetches its own; it takes about a second.
fn builds(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "tree",
            "--locked",
            "--edges",
            "normal,build",
            "--target",
            "all",
        ])
        .args(["--prefix", "none", "--format", "{p}", "--package", package])
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .expect("cannot run cargo tree");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn forbidden(packages: &BTreeSet<String>) -> Vec<&'static str> {
    DEVELOPERS_ONLY
        .iter()
        .copied()
        .filter(|p| packages.contains(*p))
        .collect()
}

#[test]
fn prepuller_check_links_no_openssl_sigstore_or_xtask() {
    let packages = builds("prepuller-check");
    // The tree really is prepuller-check's, registry client included.
    for expected in ["policy-artifact", "policy-host", "oci-client", "rustls"] {
        assert!(
            packages.contains(expected),
            "{expected} not in {packages:?}"
        );
    }
    assert_eq!(
        forbidden(&packages),
        Vec::<&str>::new(),
        "prepuller-check builds developers' tooling or OpenSSL: it must not depend on xtask or \
         on anything that links OpenSSL (see artifact/Cargo.toml)"
    );
}

#[test]
fn the_check_sees_what_xtask_links() {
    let packages = builds("xtask");
    for expected in ["xtask", "sigstore", "openssl-sys"] {
        assert!(
            forbidden(&packages).contains(&expected),
            "{expected} not in {packages:?}"
        );
    }
}
