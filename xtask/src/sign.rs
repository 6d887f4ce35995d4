//! `cosign generate-key-pair`, `cosign sign --key` and `cosign verify --key` for the pushed
//! artifact, on the `sigstore` crate that kwctl and policy-server verify with.
//!
//! Signatures are stored cosign's way, the only way kwctl looks for them: an image manifest
//! tagged `sha256-<hex of the artifact's manifest digest>.sig` in the artifact's repository, one
//! layer per signature, each the simple-signing JSON payload (naming the manifest digest, the
//! `-a key=value` annotations under `optional`) with the base64 signature of exactly those bytes
//! in its `dev.cosignproject.cosign/signature` annotation.
//!
//! Verification is policy-fetcher's (behind `kwctl verify` and `verification-config`): resolve
//! the tag to a digest, read that digest's signature layers, and require one layer to satisfy a
//! `PublicKeyVerifier` and an `AnnotationVerifier` together.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail, ensure};
use oci_client::Reference;
use oci_client::client::{Config, ImageLayer};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use sigstore::cosign::constraint::{AnnotationMarker, Constraint, PrivateKeySigner};
use sigstore::cosign::signature_layers::SignatureLayer;
use sigstore::cosign::verification_constraint::{
    AnnotationVerifier, PublicKeyVerifier, VerificationConstraint,
};
use sigstore::cosign::{ClientBuilder, CosignCapabilities};
use sigstore::crypto::SigningScheme;
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::signing_key::ecdsa::ECDSAKeys;
use sigstore::registry::OciReference;
use zeroize::Zeroizing;

use policy_artifact::credentials::{self, Origin};
use policy_artifact::oci::{Transport, explain, runtime};

/// Where the private key's password is read from, as cosign does.
pub const PASSWORD_VAR: &str = "COSIGN_PASSWORD";
/// The media type of a cosign signature layer (the simple-signing payload).
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature of the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The config blob cosign and sigstore-rs give a signature manifest.
const SIGNATURE_CONFIG: &[u8] = b"{}";

/// The password from `COSIGN_PASSWORD` (empty when unset: cosign's keys may have an empty one).
pub fn password_from_env() -> Zeroizing<Vec<u8>> {
    Zeroizing::new(std::env::var(PASSWORD_VAR).unwrap_or_default().into_bytes())
}

/// Parses `key=value` annotations (cosign's `-a`), refusing a key given twice with two values:
/// the signature could only carry one of them.
pub fn parse_annotations<S: AsRef<str>>(items: &[S]) -> Result<BTreeMap<String, String>> {
    let mut annotations = BTreeMap::new();
    for item in items {
        let item = item.as_ref();
        let (key, value) = item
            .split_once('=')
            .with_context(|| format!("annotation {item:?} is not KEY=VALUE"))?;
        let key = key.trim();
        ensure!(!key.is_empty(), "annotation {item:?} has an empty key");
        if let Some(previous) = annotations.insert(key.to_owned(), value.to_owned()) {
            ensure!(
                previous == value,
                "annotation {key:?} is given twice, as {previous:?} and {value:?}"
            );
        }
    }
    Ok(annotations)
}

/// The key files `generate_key_pair` wrote.
#[derive(Debug)]
pub struct KeyPair {
    /// `<prefix>.key`, encrypted: it signs releases, so it is never overwritten.
    pub private_key: PathBuf,
    /// `<prefix>.pub`, what kwctl and policy-server verify against.
    pub public_key: PathBuf,
}

/// Writes `<prefix>.key` (an ECDSA P-256 key encrypted cosign's way, scrypt and secretbox,
/// under `password`) and `<prefix>.pub` (its public key, PEM), like `cosign generate-key-pair`.
/// Existing files are never overwritten: losing a signing key is not undoable.
pub fn generate_key_pair(prefix: &Path, password: &[u8]) -> Result<KeyPair> {
    let private_key = prefix.with_extension("key");
    let public_key = prefix.with_extension("pub");
    for path in [&private_key, &public_key] {
        ensure!(
            !path.exists(),
            "{} exists already; move it away or choose another name",
            path.display()
        );
    }
    let keys = SigStoreKeyPair::ECDSA(
        ECDSAKeys::new(sigstore::crypto::signing_key::ecdsa::EllipticCurve::P256)
            .map_err(|e| anyhow!("cannot generate a key: {e}"))?,
    );
    let encrypted = keys
        .private_key_to_encrypted_pem(password)
        .map_err(|e| anyhow!("cannot encrypt the private key: {e}"))?;
    let public = keys
        .public_key_to_pem()
        .map_err(|e| anyhow!("cannot encode the public key: {e}"))?;
    write_new(&private_key, encrypted.as_bytes(), 0o600)?;
    write_new(&public_key, public.as_bytes(), 0o644)?;
    Ok(KeyPair {
        private_key,
        public_key,
    })
}

/// Creates a file that must not exist yet, with `mode` on Unix (the private key is the owner's).
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a private key: cosign's encrypted format (`ENCRYPTED SIGSTORE PRIVATE KEY`, or the
/// older `ENCRYPTED COSIGN PRIVATE KEY`) with `password`, or an unencrypted PKCS#8 PEM key
/// (`PRIVATE KEY`). The PEM label decides, not whether a password is set, so a stray
/// `COSIGN_PASSWORD` does not break an unencrypted key and an empty password (which cosign
/// allows) still opens an encrypted one.
pub fn load_private_key(pem: &[u8], password: &[u8]) -> Result<SigStoreKeyPair> {
    let text = std::str::from_utf8(pem).context("the private key is not a PEM text file")?;
    let label = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .context("the private key is not PEM (no -----BEGIN ...----- line)")?;
    match label {
        "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" => {
            SigStoreKeyPair::from_encrypted_pem(pem, password).map_err(|e| {
                anyhow!(
                    "cannot decrypt the private key ({e}): is {PASSWORD_VAR} the password it \
                     was created with?"
                )
            })
        }
        "PRIVATE KEY" => SigStoreKeyPair::from_pem(pem)
            .map_err(|e| anyhow!("cannot read the PKCS#8 private key: {e}")),
        other => bail!(
            "unsupported private key type {other:?}: use a cosign key (`make keygen`, \
             `cosign generate-key-pair`) or an unencrypted PKCS#8 PEM key (`PRIVATE KEY`)"
        ),
    }
}

/// The signing scheme cosign uses for a key of this type.
fn scheme_for(keys: &SigStoreKeyPair) -> SigningScheme {
    match keys {
        SigStoreKeyPair::ECDSA(ECDSAKeys::P384(_)) => SigningScheme::ECDSA_P384_SHA384_ASN1,
        SigStoreKeyPair::ECDSA(ECDSAKeys::P521(_)) => SigningScheme::ECDSA_P521_SHA512_ASN1,
        SigStoreKeyPair::ECDSA(ECDSAKeys::P256(_)) => SigningScheme::ECDSA_P256_SHA256_ASN1,
        SigStoreKeyPair::ED25519(_) => SigningScheme::ED25519,
        // cosign signs with PKCS#1 v1.5 and the verifier derives the same from an RSA key.
        SigStoreKeyPair::RSA(_) => SigningScheme::RSA_PKCS1_SHA256(0),
    }
}

/// `registry/repository:sha256-<hex>.sig`, where cosign keeps the signatures of `digest`.
pub fn signature_reference(reference: &Reference, digest: &str) -> Reference {
    Reference::with_tag(
        reference.registry().to_owned(),
        reference.repository().to_owned(),
        format!("{}.sig", digest.replace(':', "-")),
    )
}

/// What `sign` did.
#[derive(Debug)]
pub struct Signed {
    /// The manifest digest that was signed (what the tag pointed to).
    pub digest: String,
    /// Where the signature manifest is.
    pub signature_reference: Reference,
    /// Signatures now stored there, this one included.
    pub signatures: usize,
    /// Where the registry credentials came from, for the report.
    pub credentials: Origin,
}

/// Signs the artifact `reference` points to with `keys`, with `annotations` in the payload, and
/// adds the signature to the ones already stored for that digest (as cosign does: signing with a
/// second key, or after the release workflow's keyless signature, keeps the others; signing the
/// same payload with the same key again adds nothing).
pub fn sign(
    reference: &Reference,
    keys: &SigStoreKeyPair,
    annotations: &BTreeMap<String, String>,
    transport: Transport,
) -> Result<Signed> {
    let (auth, origin) = credentials::for_registry(reference.resolve_registry())?;
    let client = transport.client()?;
    let why = |e| explain(e, "sign", reference, transport, &origin);
    runtime()?.block_on(async {
        let digest = client
            .fetch_manifest_digest(reference, &auth)
            .await
            .map_err(why)?;
        if let Some(pinned) = reference.digest() {
            ensure!(
                pinned == digest,
                "the registry serves {digest} for {reference}, not the digest it names"
            );
        }
        let layer = signed_layer(reference, &digest, keys, annotations)?;
        let sig_ref = signature_reference(reference, &digest);
        let mut layers = existing_signatures(&client, &sig_ref, &auth)
            .await
            .map_err(|e| explain(e, "read the signatures of", reference, transport, &origin))?;
        // cosign's duplicate rule: a signature already stored for the same payload that verifies
        // with this key is this signature (ECDSA signatures differ each time they are made).
        let verification_key = keys
            .to_verification_key(&scheme_for(keys))
            .map_err(|e| anyhow!("cannot derive the public key: {e}"))?;
        let duplicate = layers.iter().any(|l| {
            l.data == layer.data
                && l.annotations
                    .as_ref()
                    .and_then(|a| a.get(SIGNATURE_ANNOTATION))
                    .is_some_and(|sig| {
                        verification_key
                            .verify_signature(
                                sigstore::crypto::Signature::Base64Encoded(sig.as_bytes()),
                                &l.data,
                            )
                            .is_ok()
                    })
        });
        if !duplicate {
            layers.push(layer);
        }
        let config = Config::oci_v1(SIGNATURE_CONFIG.to_vec(), None);
        let mut manifest = OciImageManifest::build(&layers, &config, None);
        manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_owned());
        client
            .push(&sig_ref, &layers, config, &auth, Some(manifest))
            .await
            .map_err(|e| explain(e, "push the signature of", reference, transport, &origin))?;
        Ok(Signed {
            digest,
            signature_reference: sig_ref,
            signatures: layers.len(),
            credentials: origin.clone(),
        })
    })
}

/// The simple-signing layer for `digest`, signed. The payload is built and signed by sigstore's
/// own constraints (`AnnotationMarker` then `PrivateKeySigner`), so its bytes are the ones the
/// verifier parses; `docker-reference` is the repository without tag, as cosign writes it.
fn signed_layer(
    reference: &Reference,
    digest: &str,
    keys: &SigStoreKeyPair,
    annotations: &BTreeMap<String, String>,
) -> Result<ImageLayer> {
    let repository = format!("{}/{}", reference.registry(), reference.repository());
    let oci_ref: OciReference = reference
        .whole()
        .parse()
        .map_err(|e| anyhow!("{reference} is not a reference sigstore accepts: {e}"))?;
    let mut layer = SignatureLayer::new_unsigned(&oci_ref, digest)
        .map_err(|e| anyhow!("cannot build the signature payload: {e}"))?;
    layer.simple_signing.critical.identity.docker_reference = repository;
    if !annotations.is_empty() {
        let marker =
            AnnotationMarker::new(annotations.clone().into_iter().collect::<HashMap<_, _>>());
        ensure!(
            marker
                .add_constraint(&mut layer)
                .map_err(|e| anyhow!("cannot add the annotations: {e}"))?,
            "cannot add the annotations to the signature payload"
        );
    }
    let signer = keys
        .to_sigstore_signer(&scheme_for(keys))
        .map_err(|e| anyhow!("cannot sign with this {keys}: {e}"))?;
    let signed = PrivateKeySigner::new_with_signer(signer)
        .add_constraint(&mut layer)
        .map_err(|e| anyhow!("cannot sign the payload: {e}"))?;
    let signature = layer
        .signature
        .clone()
        .filter(|_| signed)
        .context("the signer produced no signature")?;
    Ok(ImageLayer::new(
        layer.raw_data.clone(),
        SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
        Some(BTreeMap::from([(
            SIGNATURE_ANNOTATION.to_owned(),
            signature,
        )])),
    ))
}

/// The layers of an existing signature manifest, with their annotations (a keyless signature's
/// certificate and bundle included), byte for byte; none when the tag does not exist yet.
async fn existing_signatures(
    client: &oci_client::Client,
    sig_ref: &Reference,
    auth: &RegistryAuth,
) -> std::result::Result<Vec<ImageLayer>, OciDistributionError> {
    let manifest = match client.pull_manifest(sig_ref, auth).await {
        Ok((OciManifest::Image(manifest), _)) => manifest,
        Ok((OciManifest::ImageIndex(_), _)) => {
            return Err(OciDistributionError::GenericError(Some(format!(
                "{sig_ref} is an image index, not a cosign signature manifest"
            ))));
        }
        Err(e) if is_unknown(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for descriptor in &manifest.layers {
        let mut data = Vec::new();
        client.pull_blob(sig_ref, descriptor, &mut data).await?;
        layers.push(ImageLayer::new(
            data,
            descriptor.media_type.clone(),
            descriptor.annotations.clone(),
        ));
    }
    Ok(layers)
}

/// The registry's "no such manifest": the one failure that means "not signed".
fn is_unknown(err: &OciDistributionError) -> bool {
    match err {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown
            )
        }),
        OciDistributionError::ServerError { code: 404, .. } => true,
        _ => false,
    }
}

/// A signature layer must be made with the key and carry every annotation asked for: one
/// constraint over one layer, as policy-fetcher's `PublicKeyAndAnnotationsVerifier` is.
#[derive(Debug)]
struct KeyAndAnnotations {
    key: PublicKeyVerifier,
    annotations: AnnotationVerifier,
}

impl VerificationConstraint for KeyAndAnnotations {
    fn verify(&self, layer: &SignatureLayer) -> sigstore::errors::Result<bool> {
        Ok(self.key.verify(layer)? && self.annotations.verify(layer)?)
    }
}

/// What `verify` found.
#[derive(Debug)]
pub struct Verified {
    /// The manifest digest whose signature verified (what the tag points to now).
    pub digest: String,
    /// Signatures stored for that digest that sigstore could read.
    pub signatures: usize,
}

/// Verifies that the artifact `reference` points to now carries a signature made with the
/// private key of `public_key_pem` whose payload holds every one of `annotations`, the way kwctl
/// and policy-server do. Every failure says which one it is: no signature for this digest,
/// signatures none of which this key made (or altered ones), or the key's signature without the
/// annotations. `trust_root` is a `--sigstore-trust-config` file's ([`crate::trust::load`]),
/// given to the cosign client as kwctl gives it; nothing here fetches Sigstore's trust root
/// from the network, with a file or without.
pub fn verify(
    reference: &Reference,
    public_key_pem: &[u8],
    annotations: &BTreeMap<String, String>,
    transport: Transport,
    trust_root: Option<&sigstore::trust::ManualTrustRoot<'_>>,
) -> Result<Verified> {
    let key = PublicKeyVerifier::try_from(public_key_pem)
        .map_err(|e| anyhow!("cannot read the public key: {e}"))?;
    let (auth, origin) = credentials::for_registry(reference.resolve_registry())?;
    let sig_auth = match &auth {
        RegistryAuth::Basic(user, password) => {
            sigstore::registry::Auth::Basic(user.clone(), password.clone())
        }
        RegistryAuth::Bearer(token) => sigstore::registry::Auth::Bearer(token.clone()),
        RegistryAuth::Anonymous => sigstore::registry::Auth::Anonymous,
    };
    let plain = transport.client()?;
    let mut builder =
        ClientBuilder::default().with_oci_client_config(sigstore::registry::ClientConfig {
            protocol: if transport.insecure {
                sigstore::registry::ClientProtocol::Http
            } else {
                sigstore::registry::ClientProtocol::Https
            },
            ..Default::default()
        });
    if let Some(root) = trust_root {
        builder = builder
            .with_trust_repository(root)
            .map_err(|e| anyhow!("cannot use the Sigstore trust root: {e}"))?;
    }
    let mut cosign = builder
        .build()
        .map_err(|e| anyhow!("cannot set up the cosign client: {e}"))?;
    let why = |e| explain(e, "verify", reference, transport, &origin);
    runtime()?.block_on(async {
        // The digest the tag points to now, then everything about that digest only: a tag moved
        // between the two reads cannot pair one module with another one's signature.
        let digest = plain
            .fetch_manifest_digest(reference, &auth)
            .await
            .map_err(why)?;
        if let Some(pinned) = reference.digest() {
            ensure!(
                pinned == digest,
                "the registry serves {digest} for {reference}, not the digest it names"
            );
        }
        let sig_ref = signature_reference(reference, &digest);
        match plain.pull_manifest(&sig_ref, &auth).await {
            Ok(_) => {}
            Err(e) if is_unknown(&e) => bail!(
                "{reference} is not signed: it points to {digest}, and the registry has no \
                 signature for that digest (no tag {} in {}/{}). A module pushed again under \
                 the same tag has a new digest and needs a new signature",
                sig_ref.tag().unwrap_or_default(),
                reference.registry(),
                reference.repository()
            ),
            Err(e) => {
                return Err(explain(
                    e,
                    "read the signatures of",
                    reference,
                    transport,
                    &origin,
                ));
            }
        }
        let pinned: OciReference = format!(
            "{}/{}@{digest}",
            reference.registry(),
            reference.repository()
        )
        .parse()
        .map_err(|e| anyhow!("cannot address {reference} by digest: {e}"))?;
        let layers = cosign
            .trusted_signature_layers(&sig_auth, &pinned)
            .await
            .map_err(|e| anyhow!("cannot read the signatures of {reference}: {e}"))?;
        ensure!(
            !layers.is_empty(),
            "{reference} ({digest}): the signature manifest {sig_ref} holds no signature of this \
             digest (its payloads name another manifest, or are not cosign signatures)"
        );
        let by_key: Vec<&SignatureLayer> = layers
            .iter()
            .filter(|l| key.verify(l).unwrap_or(false))
            .collect();
        ensure!(
            !by_key.is_empty(),
            "{reference} ({digest}): none of its {} signature(s) verifies with this public key: \
             they were made with another key, or altered after signing",
            layers.len()
        );
        let constraint: Box<dyn VerificationConstraint> = Box::new(KeyAndAnnotations {
            key,
            annotations: AnnotationVerifier {
                annotations: annotations.clone(),
            },
        });
        if sigstore::cosign::verify_constraints(&layers, std::iter::once(&constraint)).is_err() {
            let carried: Vec<String> = by_key
                .iter()
                .map(|l| {
                    let extra = l
                        .simple_signing
                        .optional
                        .as_ref()
                        .map(|o| {
                            o.extra
                                .iter()
                                .map(|(k, v)| match v {
                                    serde_json::Value::String(s) => format!("{k}={s}"),
                                    other => format!("{k}={other}"),
                                })
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default();
                    if extra.is_empty() {
                        "no annotations".to_owned()
                    } else {
                        extra
                    }
                })
                .collect();
            let wanted: Vec<String> = annotations
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            bail!(
                "{reference} ({digest}) is signed with this key, but no such signature carries \
                 the annotations {}: they carry [{}]",
                wanted.join(" "),
                carried.join("], [")
            );
        }
        Ok(Verified {
            digest,
            signatures: layers.len(),
        })
    })
}
