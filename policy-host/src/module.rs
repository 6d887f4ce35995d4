//! What the host reads from the module file itself: the metadata `kwctl annotate` embeds in the
//! `io.kubewarden.metadata` custom section, found with wasmparser (the parser wasmtime compiles
//! the module with, and policy-evaluator's `Metadata::from_contents` reads the section with).

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde::Deserialize;
use wasmparser::{Parser, Payload};

use crate::host::ContextAwareResource;

/// The custom section holding a module's metadata (policy-evaluator's
/// `KUBEWARDEN_CUSTOM_SECTION_METADATA`), which `xtask annotate` writes.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";

/// What the host reads from the module's metadata: the Kubernetes resource types the policy
/// says it needs (`contextAwareResources`), which `kwctl run --allow-context-aware` grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleMetadata {
    /// The resource types the policy asks to read; empty means it may read none.
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
}

/// The module's `io.kubewarden.metadata` section (what `kwctl annotate` writes), parsed for
/// what the host needs from it; `None` for a module that was not annotated. The first such
/// section counts and the module is read no further, as policy-evaluator reads it.
pub fn module_metadata(module: &[u8]) -> Result<Option<ModuleMetadata>> {
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::CustomSection(reader) = payload.context("not a valid WebAssembly module")?
            && reader.name() == METADATA_SECTION
        {
            return serde_json::from_slice(reader.data())
                .map(Some)
                .with_context(|| format!("the {METADATA_SECTION} section is not metadata JSON"));
        }
    }
    Ok(None)
}

/// The contents of every `io.kubewarden.metadata` section, in module order, the whole module
/// read: the packaging refuses a module with more than one (a reader believes only the first).
pub fn metadata_sections(module: &[u8]) -> Result<Vec<&[u8]>> {
    let mut found = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::CustomSection(reader) = payload.context("not a valid WebAssembly module")?
            && reader.name() == METADATA_SECTION
        {
            found.push(reader.data());
        }
    }
    Ok(found)
}
