//! The one test kit of the policy: the grammar of generated requests, the oracle's own kind
//! table, the spellings of a request, the policy's answers as the API server sees them (patches
//! applied as policy-server applies them), and the invariants. Both the properties
//! (`tests/properties.rs`, proptest) and the fuzz targets (`fuzz/`, libFuzzer) use it, so they
//! check the same things in the same words.
//!
//! The policy under test is handed in as a [`Policy`] of its entry points: the kit does not
//! depend on the policy crate, so it cannot reuse the code it checks.

#![warn(missing_docs)]

pub mod grammar;
pub mod kinds;
pub mod oracle;
pub mod policy;
pub mod spelling;

pub use grammar::{Case, Profile};
pub use kinds::Kind;
pub use oracle::Fix;
pub use policy::{Answer, Policy};

/// Where the API server mounts a ServiceAccount token.
pub const TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The name prefix of the volume the ServiceAccount admission plugin injects.
pub const INJECTED_PREFIX: &str = "kube-api-access-";

/// The pod spec's container lists.
pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
