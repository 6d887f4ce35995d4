//! The limits the policy puts on its input.

/// The API server refuses request bodies over 3 MiB and etcd stores objects of 1.5 MiB at most;
/// an admission request carries the object and, on UPDATE, the old one. A payload far beyond
/// that did not come from the API server, and decoding it would only burn the time budget.
pub const MAX_PAYLOAD_BYTES: usize = 8 * 1024 * 1024;

/// Kubernetes objects nest a dozen levels at most (a Pod's node affinity is the deepest); the
/// envelope adds three. Anything far deeper is not an object the API server produced.
pub const MAX_DEPTH: usize = 100;
