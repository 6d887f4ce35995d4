//! Host capabilities: which ones the module calls, found the way `kwctl annotate` 1.36 finds
//! them, and the check that `metadata.yml`'s `hostCapabilities` declares exactly those.
//!
//! A waPC guest reaches every capability through one import, `wapc::__host_call`, passing the
//! binding, namespace and operation as strings at run time, so the imports cannot tell which
//! capabilities a module uses. kwctl's `wasm_scanner` looks for the strings instead: a
//! capability counts as used when its namespace and its operation both appear in the module's
//! data segments (all of them joined, a 0xFF byte between two, so no match spans a boundary),
//! and an operation that is the start of a longer one (`v1/oci_manifest` of
//! `v1/oci_manifest_config`) counts only where it is not that longer one. The same scan here,
//! on wasmparser, gives the same answer kwctl's warning is based on.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use memchr::memmem;
use wasmparser::{Parser, Payload};

/// Every capability policy-evaluator 1.36 knows (`HostCapabilities::enumerate_operations`,
/// the leaves of its capability tree), as `(namespace, operation)`.
pub const KNOWN: &[(&str, &str)] = &[
    ("crypto", "v1/is_certificate_trusted"),
    ("kubernetes", "can_i"),
    ("kubernetes", "get_resource"),
    ("kubernetes", "list_resources_all"),
    ("kubernetes", "list_resources_by_namespace"),
    ("net", "v1/dns_lookup_host"),
    ("oci", "v1/manifest_digest"),
    ("oci", "v1/oci_manifest"),
    ("oci", "v1/oci_manifest_config"),
    ("oci", "v1/verify"),
    ("oci", "v2/verify"),
];

/// Whether `path` names one capability policy-evaluator knows, as `namespace/operation`.
pub fn is_known(path: &str) -> bool {
    KNOWN
        .iter()
        .any(|(namespace, operation)| path.split_once('/') == Some((namespace, operation)))
}

/// The capabilities the module uses, as `namespace/operation`, by kwctl's scan of its data
/// segments.
pub fn detect(module: &[u8]) -> Result<BTreeSet<String>> {
    let mut data = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::DataSection(reader) = payload.context("not a valid WebAssembly module")? {
            for segment in reader {
                data.extend_from_slice(segment.context("not a valid data segment")?.data);
                data.push(0xFF);
            }
        }
    }
    Ok(KNOWN
        .iter()
        .filter(|(namespace, operation)| {
            let longer: Vec<&str> = KNOWN
                .iter()
                .map(|(_, other)| *other)
                .filter(|other| other != operation && other.starts_with(operation))
                .collect();
            is_present(&data, namespace, operation, &longer)
        })
        .map(|(namespace, operation)| format!("{namespace}/{operation}"))
        .collect())
}

/// kwctl's `is_operation_present`: the namespace appears, and the operation appears on its
/// own, apart from every longer operation it begins.
fn is_present(data: &[u8], namespace: &str, operation: &str, longer: &[&str]) -> bool {
    if memmem::find(data, namespace.as_bytes()).is_none() {
        return false;
    }
    if longer.is_empty() {
        return memmem::find(data, operation.as_bytes()).is_some();
    }
    longer.iter().all(|l| {
        memmem::find_iter(data, operation.as_bytes())
            .any(|at| !data[at..].starts_with(l.as_bytes()))
    })
}

/// Fails unless `declared` (metadata.yml's `hostCapabilities`, absent meaning none) is exactly
/// what `module` uses. kwctl 1.36 only warns, with these two sentences; here either one stops
/// the annotation, so the published metadata never drifts from the module.
pub fn check(module: &[u8], declared: Option<&BTreeSet<String>>) -> Result<()> {
    let detected = detect(module)?;
    let declared = declared.cloned().unwrap_or_default();
    let list = |set: BTreeSet<&String>| {
        set.into_iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut problems = Vec::new();
    let undeclared: BTreeSet<&String> = detected.difference(&declared).collect();
    if !undeclared.is_empty() {
        problems.push(format!(
            "host capabilities used by the policy but not declared in metadata: {} (add them to \
             hostCapabilities in metadata.yml)",
            list(undeclared)
        ));
    }
    let unused: BTreeSet<&String> = declared.difference(&detected).collect();
    if !unused.is_empty() {
        problems.push(format!(
            "host capabilities declared in metadata but not detected in the policy: {} (remove \
             them from hostCapabilities in metadata.yml)",
            list(unused)
        ));
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{ConstExpr, DataSection, MemorySection, MemoryType, Module};

    /// A module with one active data segment per entry of `segments`, 64 bytes apart.
    fn module_of(segments: &[&[u8]]) -> Vec<u8> {
        let mut m = Module::new();
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        m.section(&memories);
        let mut data = DataSection::new();
        for (i, bytes) in (0i32..).zip(segments) {
            data.active(0, &ConstExpr::i32_const(i * 64), bytes.to_vec());
        }
        m.section(&data);
        m.finish()
    }

    /// A module whose only data segment holds `strings`, NUL-terminated, as kwctl's tests build.
    fn module(strings: &[&str]) -> Vec<u8> {
        let bytes: Vec<u8> = strings.iter().flat_map(|s| s.bytes().chain([0])).collect();
        module_of(&[&bytes])
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_capability_needs_its_namespace_and_its_operation() {
        let get = module(&["kubewarden", "kubernetes", "get_resource"]);
        assert_eq!(detect(&get).unwrap(), set(&["kubernetes/get_resource"]));
        assert_eq!(detect(&module(&["hello", "world"])).unwrap(), set(&[]));
        // `can_i` without the `kubernetes` namespace is not a call.
        assert_eq!(detect(&module(&["kubewarden", "can_i"])).unwrap(), set(&[]));
    }

    #[test]
    fn an_operation_inside_a_longer_one_is_not_counted() {
        let config = module(&["kubewarden", "oci", "v1/oci_manifest_config"]);
        assert_eq!(
            detect(&config).unwrap(),
            set(&["oci/v1/oci_manifest_config"])
        );
        let both = module(&["oci", "v1/oci_manifest_config", "v1/oci_manifest"]);
        assert_eq!(
            detect(&both).unwrap(),
            set(&["oci/v1/oci_manifest", "oci/v1/oci_manifest_config"])
        );
    }

    #[test]
    fn strings_in_two_segments_do_not_join() {
        let m = module_of(&[b"kubernetes get_", b"resource"]);
        assert_eq!(detect(&m).unwrap(), set(&[]));
    }

    #[test]
    fn every_known_capability_is_detected() {
        let mut strings = Vec::new();
        for (namespace, operation) in KNOWN {
            strings.extend([*namespace, *operation]);
        }
        assert_eq!(detect(&module(&strings)).unwrap().len(), KNOWN.len());
    }

    #[test]
    fn undeclared_and_unused_capabilities_fail_the_check() {
        let get = module(&["kubewarden", "kubernetes", "get_resource"]);
        check(&get, Some(&set(&["kubernetes/get_resource"]))).unwrap();

        let err = check(&get, None).unwrap_err().to_string();
        assert_eq!(
            err,
            "host capabilities used by the policy but not declared in metadata: \
             kubernetes/get_resource (add them to hostCapabilities in metadata.yml)"
        );

        let err = check(
            &get,
            Some(&set(&["kubernetes/get_resource", "kubernetes/can_i"])),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "host capabilities declared in metadata but not detected in the policy: \
             kubernetes/can_i (remove them from hostCapabilities in metadata.yml)"
        );

        let err = check(
            &module(&["nothing"]),
            Some(&set(&["kubernetes/get_resource"])),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("host capabilities declared in metadata but not detected"));
    }

    #[test]
    fn known_paths_are_exact_leaves() {
        assert!(is_known("kubernetes/get_resource"));
        assert!(is_known("oci/v2/verify"));
        for bad in [
            "kubernetes/*",
            "*",
            "oci/v1",
            "kubernetes",
            "net/v1/dns_lookup",
            "",
        ] {
            assert!(!is_known(bad), "{bad:?}");
        }
    }
}
