//! `kwctl push` and `kwctl pull`: the annotated module as an OCI artifact.
//!
//! The artifact is what policy-server and kwctl fetch: an OCI image manifest with the module as
//! its only layer (`application/vnd.wasm.content.layer.v1+wasm`) and `{}` as its config
//! (`application/vnd.wasm.config.v1+json`), annotated with the policy metadata. The manifest is
//! serialised as canonical JSON like oci-client (and so kwctl) does, so the digest printed here
//! is the digest of the bytes the registry stores, and is checked against the registry's own.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{
    OCI_IMAGE_MEDIA_TYPE, OciImageManifest, OciManifest, WASM_CONFIG_MEDIA_TYPE,
    WASM_LAYER_MEDIA_TYPE,
};
use oci_client::{Client, Reference};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::credentials::{self, Origin};
use crate::metadata::{Metadata, SOURCE};

/// The OCI annotation registries link to the source with; kwctl sets it from the policy's source.
pub const OCI_SOURCE_ANNOTATION: &str = "org.opencontainers.image.source";
/// Set to `1` to talk plain HTTP to a local test registry; never the default.
pub const INSECURE_VAR: &str = "OCI_INSECURE";
/// kwctl's config blob: an empty JSON object.
pub const CONFIG_BLOB: &[u8] = b"{}";

/// How to talk to the registry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transport {
    /// Plain HTTP. Only for registries the user named as such: credentials and the module would
    /// otherwise cross the network unprotected.
    pub insecure: bool,
}

impl Transport {
    /// `OCI_INSECURE=1` (or `true`) asks for plain HTTP.
    pub fn from_env() -> Transport {
        let insecure = std::env::var(INSECURE_VAR)
            .map(|v| matches!(v.trim(), "1" | "true" | "yes"))
            .unwrap_or(false);
        Transport { insecure }
    }

    fn scheme(self) -> &'static str {
        if self.insecure { "http" } else { "https" }
    }

    /// The registry client for this transport (the signing in xtask talks to the registry
    /// with it too).
    pub fn client(self) -> Result<Client> {
        // reqwest is built without a bundled crypto provider; ring is the process-wide one.
        // A second install (another call in the same process) is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = ClientConfig {
            protocol: if self.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            connect_timeout: Some(Duration::from_secs(15)),
            read_timeout: Some(Duration::from_secs(120)),
            ..Default::default()
        };
        Client::try_from(config).context("cannot set up the registry client")
    }
}

/// The reference as users write it (`HOST/PATH:TAG`, `HOST/PATH@sha256:...`), with kwctl's
/// `registry://` prefix accepted too. The registry host is required: pushing a policy to Docker
/// Hub by accident, through a default, is not wanted.
pub fn parse_reference(raw: &str) -> Result<Reference> {
    let bare = raw.strip_prefix("registry://").unwrap_or(raw);
    let first = bare.split('/').next().unwrap_or_default();
    if !bare.contains('/') || !(first.contains('.') || first.contains(':') || first == "localhost")
    {
        bail!("{raw:?} does not name a registry: write HOST[:PORT]/PATH:TAG");
    }
    bare.parse::<Reference>()
        .with_context(|| format!("{raw:?} is not a valid OCI reference"))
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The manifest annotations kwctl writes: the metadata annotations minus multi-line values (OCI
/// annotations are single strings shown in one line by registries; the README stays in the
/// module), trimmed, plus `org.opencontainers.image.source` from `io.kubewarden.policy.source`.
pub fn manifest_annotations(metadata: &Metadata) -> BTreeMap<String, String> {
    let mut annotations: BTreeMap<String, String> = metadata
        .annotations
        .iter()
        .filter(|(_, v)| v.lines().count() <= 1)
        .map(|(k, v)| (k.clone(), v.trim().to_owned()))
        .collect();
    if let Some(source) = annotations.get(SOURCE).cloned() {
        annotations
            .entry(OCI_SOURCE_ANNOTATION.to_owned())
            .or_insert(source);
    }
    annotations
}

/// The manifest bytes as they are sent: canonical JSON, like oci-client's `push_manifest`.
fn canonical_json(manifest: &OciImageManifest) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut body, olpc_cjson::CanonicalFormatter::new());
    OciManifest::Image(manifest.clone())
        .serialize(&mut ser)
        .context("cannot serialise the manifest")?;
    Ok(body)
}

/// The artifact for an annotated module, before anything is sent.
pub struct Artifact {
    /// The one layer: the annotated module, with kwctl's wasm media type.
    pub layers: Vec<ImageLayer>,
    /// kwctl's empty config blob.
    pub config: Config,
    /// The manifest, built as kwctl builds it.
    pub manifest: OciImageManifest,
    /// The manifest as sent (canonical JSON): the digest is computed over these bytes.
    pub manifest_bytes: Vec<u8>,
    /// The manifest digest, what a signature and a pinned reference name.
    pub digest: String,
}

/// Builds the artifact, refusing a module that has no valid metadata: kwctl, policy-server and
/// Artifact Hub all read it, and an unannotated policy cannot be scaffolded or audited.
pub fn artifact(module: &[u8]) -> Result<Artifact> {
    let metadata = Metadata::of_module(module)?.ok_or_else(|| {
        anyhow!(
            "the module is not annotated (it has no io.kubewarden.metadata section): build \
             annotated-policy.wasm with `make annotated-policy.wasm` and push that"
        )
    })?;
    ensure!(
        metadata.protocol_version.as_deref() == Some("v1"),
        "the module's metadata has no protocolVersion \"v1\": re-annotate it"
    );
    let layers = vec![ImageLayer::new(
        module.to_vec(),
        WASM_LAYER_MEDIA_TYPE.to_owned(),
        None,
    )];
    let config = Config::new(
        CONFIG_BLOB.to_vec(),
        WASM_CONFIG_MEDIA_TYPE.to_owned(),
        None,
    );
    // Built exactly as kwctl builds it (no `mediaType` field; it is sent as the Content-Type),
    // so the same module and metadata give the same manifest digest with either tool.
    let manifest = OciImageManifest::build(&layers, &config, Some(manifest_annotations(&metadata)));
    let manifest_bytes = canonical_json(&manifest)?;
    let digest = sha256_digest(&manifest_bytes);
    Ok(Artifact {
        layers,
        config,
        manifest,
        manifest_bytes,
        digest,
    })
}

/// Turns oci-client's errors into what the user has to do about them:
/// `cannot ACTION REFERENCE: why`.
pub fn explain(
    err: OciDistributionError,
    action: &str,
    reference: &Reference,
    transport: Transport,
    origin: &Origin,
) -> anyhow::Error {
    anyhow!(
        "cannot {action} {reference}: {}",
        reason(err, reference, transport, origin)
    )
}

/// [`explain`]'s why, for an operation that names the reference once around all its errors.
fn reason(
    err: OciDistributionError,
    reference: &Reference,
    transport: Transport,
    origin: &Origin,
) -> String {
    let registry = reference.resolve_registry();
    let denied = |detail: String| {
        let hint = match origin {
            Origin::Anonymous => format!(
                "the registry requires credentials: `docker login {registry}` (or a docker \
                 config in $DOCKER_CONFIG), or set {} and {}",
                credentials::USERNAME_VAR,
                credentials::PASSWORD_VAR
            ),
            other => format!(
                "the registry refused the credentials from {other}: check the username and \
                 password for {registry}"
            ),
        };
        format!("authentication failed ({detail}); {hint}")
    };
    match err {
        OciDistributionError::UnauthorizedError { .. } => denied("401 Unauthorized".into()),
        OciDistributionError::AuthenticationFailure(reason) => denied(reason),
        OciDistributionError::ServerError { code: 401, .. } => denied("401 Unauthorized".into()),
        OciDistributionError::ServerError { code: 403, .. } => denied("403 Forbidden".into()),
        OciDistributionError::RegistryError { envelope, .. }
            if envelope
                .errors
                .iter()
                .any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)) =>
        {
            denied(envelope.to_string())
        }
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|e| {
                matches!(
                    e.code,
                    OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown
                )
            }) =>
        {
            "the registry has no such artifact".to_owned()
        }
        OciDistributionError::ImageManifestNotFoundError(_) => {
            "the registry has no such artifact".to_owned()
        }
        OciDistributionError::RequestError(e) => {
            let chain = error_chain(&e);
            let base = format!(
                "cannot reach the registry at {}://{registry}",
                transport.scheme()
            );
            if chain.contains("Connection refused") || chain.contains("ConnectionRefused") {
                format!(
                    "{base}: connection refused (is the registry running, and the address right?)"
                )
            } else if e.is_timeout() {
                format!("{base}: timed out")
            } else if !transport.insecure && looks_like_tls(&chain) {
                format!(
                    "{base}: the TLS handshake failed ({chain}). If this registry serves plain \
                     HTTP (a local test registry), set {INSECURE_VAR}=1"
                )
            } else {
                format!("{base}: {chain}")
            }
        }
        other => other.to_string(),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn looks_like_tls(chain: &str) -> bool {
    let lower = chain.to_ascii_lowercase();
    [
        "tls",
        "certificate",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
        "ssl",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// What a push did.
#[derive(Debug)]
pub struct Pushed {
    /// The manifest digest the registry confirmed, to sign and to pin.
    pub digest: String,
    /// Where the credentials came from, for the report.
    pub credentials: Origin,
}

/// The single-threaded runtime every registry operation runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Pushes an annotated module. Nothing is sent when the module is not annotated; the digest is
/// confirmed with the registry after the manifest is stored.
pub fn push(module: &[u8], reference: &Reference, transport: Transport) -> Result<Pushed> {
    let artifact = artifact(module)?;
    let (auth, origin) = credentials::for_registry(reference.resolve_registry())?;
    let client = transport.client()?;
    let why = |e| explain(e, "push to", reference, transport, &origin);
    runtime()?.block_on(async {
        client
            .push(
                reference,
                &artifact.layers,
                artifact.config.clone(),
                &auth,
                Some(artifact.manifest.clone()),
            )
            .await
            .map_err(why)?;
        let stored = client
            .fetch_manifest_digest(reference, &auth)
            .await
            .map_err(why)?;
        ensure!(
            stored == artifact.digest,
            "the registry stored manifest {stored}, but the manifest sent was {}",
            artifact.digest
        );
        Ok(Pushed {
            digest: artifact.digest,
            credentials: origin.clone(),
        })
    })
}

/// An artifact fetched back and checked.
#[derive(Debug)]
pub struct Pulled {
    /// The manifest digest, checked against the bytes received.
    pub digest: String,
    /// The manifest as received.
    pub manifest_bytes: Vec<u8>,
    /// The manifest, parsed.
    pub manifest: OciImageManifest,
    /// The config blob.
    pub config: Vec<u8>,
    /// The module from the one layer, as policy-server would run it.
    pub module: Vec<u8>,
    /// The module's embedded metadata.
    pub metadata: Metadata,
}

/// Pulls by tag or digest and checks everything kwctl relies on: the manifest digest (against
/// the reference's digest and `expect_digest`), the media types, one layer, the blobs' digests
/// and sizes, the module's metadata, and that the manifest annotations are the ones that
/// metadata yields. Every error names the reference once: `cannot pull REFERENCE: why`.
pub fn pull(
    reference: &Reference,
    transport: Transport,
    expect_digest: Option<&str>,
) -> Result<Pulled> {
    fetch(reference, transport, expect_digest).with_context(|| format!("cannot pull {reference}"))
}

/// [`pull`] without the reference in its errors.
fn fetch(
    reference: &Reference,
    transport: Transport,
    expect_digest: Option<&str>,
) -> Result<Pulled> {
    let (auth, origin) = credentials::for_registry(reference.resolve_registry())?;
    let client = transport.client()?;
    let why = |e| anyhow!(reason(e, reference, transport, &origin));
    let (raw, manifest, config, module) = runtime()?.block_on(async {
        let (raw, _) = client
            .pull_manifest_raw(reference, &auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .map_err(why)?;
        let manifest: OciImageManifest =
            serde_json::from_slice(&raw).context("the manifest is not an OCI image manifest")?;
        check_manifest(&manifest)?;
        let mut config = Vec::new();
        client
            .pull_blob(reference, &manifest.config, &mut config)
            .await
            .map_err(why)?;
        let mut module = Vec::new();
        client
            .pull_blob(reference, &manifest.layers[0], &mut module)
            .await
            .map_err(why)?;
        Ok::<_, anyhow::Error>((raw.to_vec(), manifest, config, module))
    })?;
    verify(reference, expect_digest, raw, manifest, config, module)
}

/// What [`pull`] checks of what it received.
fn verify(
    reference: &Reference,
    expect_digest: Option<&str>,
    manifest_bytes: Vec<u8>,
    manifest: OciImageManifest,
    config: Vec<u8>,
    module: Vec<u8>,
) -> Result<Pulled> {
    let digest = sha256_digest(&manifest_bytes);
    if let Some(wanted) = reference.digest() {
        ensure!(digest == wanted, "the registry answered manifest {digest}");
    }
    if let Some(wanted) = expect_digest {
        ensure!(
            digest == wanted,
            "it is manifest {digest}, expected {wanted}"
        );
    }
    check_blob(
        "config",
        &config,
        &manifest.config.digest,
        manifest.config.size,
    )?;
    ensure!(
        config == CONFIG_BLOB,
        "the config blob is {:?}, expected {{}}",
        String::from_utf8_lossy(&config)
    );
    let layer = &manifest.layers[0];
    check_blob("module layer", &module, &layer.digest, layer.size)?;
    let metadata = Metadata::of_module(&module)?
        .context("the pulled module has no io.kubewarden.metadata section")?;
    let expected = manifest_annotations(&metadata);
    ensure!(
        manifest.annotations.as_ref() == Some(&expected),
        "the manifest annotations {:?} are not the ones the module's metadata yields {expected:?}",
        manifest.annotations
    );
    Ok(Pulled {
        digest,
        manifest_bytes,
        manifest,
        config,
        module,
        metadata,
    })
}

fn check_manifest(manifest: &OciImageManifest) -> Result<()> {
    ensure!(
        manifest.schema_version == 2,
        "manifest schemaVersion is {}, expected 2",
        manifest.schema_version
    );
    // Served under the OCI media type asked for; the field itself is optional, and kwctl omits it.
    ensure!(
        manifest
            .media_type
            .as_deref()
            .is_none_or(|m| m == OCI_IMAGE_MEDIA_TYPE),
        "manifest mediaType is {:?}, expected {OCI_IMAGE_MEDIA_TYPE}",
        manifest.media_type
    );
    ensure!(
        manifest.config.media_type == WASM_CONFIG_MEDIA_TYPE,
        "config mediaType is {}, expected {WASM_CONFIG_MEDIA_TYPE}",
        manifest.config.media_type
    );
    ensure!(
        manifest.layers.len() == 1,
        "the manifest has {} layers, a policy has exactly one",
        manifest.layers.len()
    );
    ensure!(
        manifest.layers[0].media_type == WASM_LAYER_MEDIA_TYPE,
        "layer mediaType is {}, expected {WASM_LAYER_MEDIA_TYPE}",
        manifest.layers[0].media_type
    );
    Ok(())
}

fn check_blob(what: &str, bytes: &[u8], digest: &str, size: i64) -> Result<()> {
    let actual = sha256_digest(bytes);
    ensure!(
        actual == digest,
        "{what} has digest {actual}, the manifest says {digest}"
    );
    ensure!(
        i64::try_from(bytes.len()).ok() == Some(size),
        "{what} is {} bytes, the manifest says {size}",
        bytes.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_need_a_registry_host() {
        for ok in [
            "127.0.0.1:5000/policies/prepuller:v0.1.0",
            "registry://ghcr.io/org/policies/prepuller:v0.1.0",
            "localhost/prepuller:latest",
        ] {
            parse_reference(ok).unwrap();
        }
        let err = parse_reference("prepuller:v1").unwrap_err().to_string();
        assert!(err.contains("does not name a registry"), "{err}");
        let err = parse_reference("ghcr.io/UPPER/x:v1").unwrap_err();
        assert!(
            format!("{err:#}").contains("not a valid OCI reference"),
            "{err:#}"
        );
    }

    #[test]
    fn manifest_annotations_drop_multi_line_values_and_add_the_source() {
        let mut metadata = Metadata::from_yaml("rules: []\nmutating: false\n").unwrap();
        for (k, v) in [
            (SOURCE, "https://example.org/src"),
            ("io.kubewarden.policy.usage", "# Title\n\nbody\n"),
            ("io.kubewarden.policy.description", " one line \n"),
        ] {
            metadata.annotations.insert(k.into(), v.into());
        }
        let got = manifest_annotations(&metadata);
        assert_eq!(
            got,
            BTreeMap::from([
                ("io.kubewarden.policy.description".into(), "one line".into()),
                (SOURCE.into(), "https://example.org/src".into()),
                (
                    OCI_SOURCE_ANNOTATION.into(),
                    "https://example.org/src".into()
                ),
            ])
        );
    }

    #[test]
    fn digests_are_sha256_of_the_bytes() {
        assert_eq!(
            sha256_digest(b"{}"),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
