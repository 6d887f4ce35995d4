//! `kwctl annotate`: metadata.yml plus the README as usage, checked (its `hostCapabilities`
//! against the capabilities the module calls, as kwctl 1.36 scans them), completed with the
//! protocol version the module itself reports, written into the module's custom section.

use std::path::Path;

use anyhow::{Context, Result, bail};

use policy_artifact::metadata::{Metadata, USAGE};
use policy_artifact::section;

use crate::{capabilities, metadata};

/// The inputs of an annotation, all read from the project's files.
pub struct Inputs<'a> {
    /// The built module, which is asked for its protocol version.
    pub module: &'a [u8],
    /// metadata.yml as written, before usage and protocol version are filled in.
    pub metadata: Metadata,
    /// README.md, embedded as the usage that Artifact Hub and `kwctl inspect` show.
    pub readme: String,
    /// Cargo.toml's version, which the metadata's version must equal.
    pub crate_version: String,
}

impl<'a> Inputs<'a> {
    /// Reads the metadata, README and crate version from their files.
    pub fn load(
        module: &'a [u8],
        metadata: &Path,
        readme: &Path,
        cargo_toml: &Path,
    ) -> Result<Inputs<'a>> {
        Ok(Inputs {
            module,
            metadata: Metadata::load(metadata)?,
            readme: std::fs::read_to_string(readme)
                .with_context(|| format!("cannot read {}", readme.display()))?,
            crate_version: metadata::crate_version(cargo_toml)?,
        })
    }
}

/// Asks the module which waPC protocol it speaks, through the same runtime stack policy-server
/// uses. kwctl does this too: a module that cannot answer would fail in the cluster, so it must
/// not be published.
pub fn protocol_version(module: &[u8]) -> Result<String> {
    let policy = policy_host::Policy::from_bytes(module)
        .context("cannot load the module in the waPC runtime")?;
    let version = policy
        .protocol_version()
        .context("cannot compute the protocol version used by the policy")?;
    if version != "v1" {
        bail!("the policy reports protocol version {version:?}; Kubewarden runs \"v1\"");
    }
    Ok(version)
}

/// The metadata as it is embedded: validated, its host capabilities exactly the module's, with
/// usage and protocol version filled in.
pub fn embedded_metadata(inputs: &Inputs<'_>) -> Result<Metadata> {
    metadata::validate(&inputs.metadata, &inputs.crate_version)?;
    if inputs.readme.trim().is_empty() {
        bail!("README.md is empty: it becomes {}", USAGE);
    }
    let mut embedded = inputs.metadata.clone();
    embedded
        .annotations
        .insert(USAGE.into(), inputs.readme.clone());
    embedded.protocol_version = Some(protocol_version(inputs.module)?);
    // After the runtime has loaded the module, so that what is not a module says so first.
    capabilities::check(inputs.module, inputs.metadata.host_capabilities.as_ref())
        .context("metadata.yml's hostCapabilities must be what the module calls")?;
    Ok(embedded)
}

/// The annotated module's bytes.
pub fn annotate(inputs: &Inputs<'_>) -> Result<Vec<u8>> {
    let embedded = embedded_metadata(inputs)?;
    section::write_metadata(inputs.module, &embedded.to_json()?)
}
