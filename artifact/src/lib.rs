//! The policy as an artifact, for every tool that handles one: the Kubewarden metadata and the
//! webhook rules it declares ([`metadata`]), the `io.kubewarden.metadata` custom section that
//! carries it in the module ([`section`]), and, with the `oci` feature, the OCI artifact pushed
//! and pulled as kwctl does ([`oci`], with registry [`credentials`]) over rustls.
//!
//! It is what the user's binary (prepuller-check), the host (policy-host) and the packaging
//! (xtask) share, and so it holds nothing only the developers need: signing (sigstore, which
//! links OpenSSL) stays in xtask. `cargo tree -p prepuller-check -e normal` shows no OpenSSL,
//! sigstore or xtask (`tests/user_binary.rs` keeps it so).

#![warn(missing_docs)]

#[cfg(feature = "oci")]
pub mod credentials;
pub mod metadata;
#[cfg(feature = "oci")]
pub mod oci;
pub mod section;
#[cfg(feature = "test-registry")]
pub mod test_registry;

pub use metadata::{ContextAwareResource, Metadata, Rule};
pub use section::METADATA_SECTION;
