//! Packaging for the policy: what kwctl's `annotate`, `push`, `pull`, `inspect`, `scaffold` and
//! cosign's signing do, because kwctl is not installable where this project is built. The
//! artifact itself (metadata, custom section, OCI push and pull) is `policy_artifact`'s, which
//! the user's tools share; what is here is the developers' alone. `main.rs` is the command line
//! the Makefile calls.

#![warn(missing_docs)]

pub mod annotate;
pub mod capabilities;
pub mod mailbox;
pub mod metadata;
pub mod scaffold;
pub mod sign;
pub mod trust;

use std::path::Path;

use anyhow::{Context, Result};

/// The workspace root, where metadata.yml, README.md and the generated files live (the host
/// harness's: one definition for both crates).
pub use policy_host::workspace_root;

/// Writes through a temporary file in the same directory and renames it into place, so a
/// failure never leaves a truncated module where a good one is expected.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("cannot move the result to {}: {e}", path.display())
    })
}
