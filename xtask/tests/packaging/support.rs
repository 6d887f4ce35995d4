//! The packaging tests' support: the real registry is the shared one
//! (`policy_artifact::test_registry`, the `test-registry` feature this crate's dev-dependencies
//! enable; prepuller-check's `registry://` test starts the same one); docker config directories
//! are the packaging tests' own.

pub use policy_artifact::test_registry::{PASSWORD, Registry, USER, free_port, http_get};

/// A docker config directory with credentials for `host` (what `docker login` writes).
pub fn docker_config(host: &str, user: &str, password: &str) -> tempfile::TempDir {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::json!({"auths": {host: {"auth": auth}}}).to_string(),
    )
    .unwrap();
    dir
}
