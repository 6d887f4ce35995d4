//! Sigstore's trust root from a file, for verification without the network: what
//! `kwctl verify --sigstore-trust-config FILE` and policy-server's `--sigstore-trust-config`
//! (`KUBEWARDEN_SIGSTORE_TRUST_CONFIG_PATH`, the PolicyServer's `spec.sigstoreTrustConfig`)
//! read instead of fetching the trust root from Sigstore's TUF repository.
//!
//! The file is a ClientTrustConfig JSON (the Sigstore protobuf specs' message), parsed with the
//! same `sigstore_protobuf_specs` type kwctl parses it with; like kwctl, its `trustedRoot` is
//! required and taken unchecked (no TUF signature over it). The Fulcio certificates and Rekor
//! keys are picked as sigstore's `SigstoreTrustRoot` picks them (certificates whether expired
//! or not, Rekor keys valid now) and handed to the cosign client. sigstore's own reader sits
//! behind its `sigstore-trust-root` feature, which brings in a whole TUF client that an
//! offline reading never uses; the selection it does is the few lines below.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use rustls::pki_types::CertificateDer;
use sigstore::trust::ManualTrustRoot;
use sigstore_protobuf_specs::dev::sigstore::common::v1::TimeRange;
use sigstore_protobuf_specs::dev::sigstore::trustroot::v1::{
    ClientTrustConfig, TransparencyLogInstance,
};

/// The trust root of a ClientTrustConfig file, ready for `ClientBuilder::with_trust_repository`.
pub fn load(path: &Path) -> Result<ManualTrustRoot<'static>> {
    let json = std::fs::read(path).with_context(|| {
        format!(
            "could not read Sigstore trust config file {}",
            path.display()
        )
    })?;
    from_json(&json).with_context(|| format!("Sigstore trust config file {}", path.display()))
}

/// [`load`] on the file's contents.
pub fn from_json(json: &[u8]) -> Result<ManualTrustRoot<'static>> {
    let config: ClientTrustConfig = serde_json::from_slice(json)
        .map_err(|e| anyhow!("could not parse it as a ClientTrustConfig: {e}"))?;
    let root = config
        .trusted_root
        .context("missing trusted_root field (`trustedRoot`)")?;
    let now = chrono::Utc::now().timestamp();
    let fulcio_certs: Vec<CertificateDer<'static>> = root
        .certificate_authorities
        .iter()
        .filter(|ca| started(ca.valid_for.as_ref(), now))
        .flat_map(|ca| ca.cert_chain.iter().flat_map(|c| c.certificates.iter()))
        .map(|cert| CertificateDer::from(cert.raw_bytes.clone()))
        .collect();
    // SigstoreTrustRoot refuses a root without them, and so `kwctl verify` would.
    if fulcio_certs.is_empty() {
        bail!("Fulcio certificates not found in trustedRoot.certificateAuthorities");
    }
    Ok(ManualTrustRoot {
        fulcio_certs,
        rekor_keys: current_keys(&root.tlogs, now),
        ctfe_keys: current_keys(&root.ctlogs, now),
    })
}

/// Whether a validity range has begun (an expired one still counts for certificates: they may
/// have been valid when they signed).
fn started(range: Option<&TimeRange>, now: i64) -> bool {
    range
        .and_then(|r| r.start.as_ref())
        .is_none_or(|start| start.seconds <= now)
}

/// Whether a validity range holds now.
fn current(range: Option<&TimeRange>, now: i64) -> bool {
    started(range, now)
        && range
            .and_then(|r| r.end.as_ref())
            .is_none_or(|end| now <= end.seconds)
}

/// The logs' keys valid now, by hex key id.
fn current_keys(logs: &[TransparencyLogInstance], now: i64) -> BTreeMap<String, Vec<u8>> {
    logs.iter()
        .filter_map(|log| {
            let key = log.public_key.as_ref()?;
            if !current(key.valid_for.as_ref(), now) {
                return None;
            }
            let id = log.log_id.as_ref()?;
            Some((hex(&id.key_id), key.raw_bytes.clone()?))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigstore::trust::TrustRoot as _;

    /// The file docs/release.md shows is a trust config kwctl and policy-server accept: Sigstore's
    /// public-good trust root, its Fulcio certificates and its Rekor key.
    #[test]
    fn the_documented_file_is_a_trust_config() {
        let root = load(&crate::workspace_root().join("docs/sigstore-trust-config.json")).unwrap();
        assert_eq!(root.fulcio_certs().unwrap().len(), 3);
        assert_eq!(root.rekor_keys().unwrap().len(), 1);
        // Its certificates parse: the cosign client builds its certificate pool from them.
        sigstore::cosign::ClientBuilder::default()
            .with_trust_repository(&root)
            .unwrap()
            .build()
            .unwrap();
    }

    #[test]
    fn what_kwctl_refuses_is_refused() {
        let message = |json: &str| format!("{:#}", from_json(json.as_bytes()).unwrap_err());
        assert!(message("{").contains("could not parse it as a ClientTrustConfig"));
        assert!(
            message(r#"{"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"}"#)
                .contains("missing trusted_root field")
        );
        let empty = r#"{"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": {"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}}"#;
        assert!(message(empty).contains("Fulcio certificates not found"));
    }
}
