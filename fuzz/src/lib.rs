//! The policy as the fuzz targets call it. Everything they check (the invariants, the grammar of
//! the structure-aware target, patches applied as policy-server applies them) is the test kit's
//! (`testkit/`), shared with the properties in `tests/properties.rs`.

/// The guest's waPC entry points, called natively, and the settings decoder that
/// `validate_settings` must agree with.
pub const POLICY: testkit::Policy = testkit::policy_of!(prepuller_serviceaccount_policy);
