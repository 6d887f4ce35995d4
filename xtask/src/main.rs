//! `cargo run -p xtask -- <command>`: the packaging steps behind `make annotated-policy.wasm`,
//! `make push`, `make pull` and `make artifacthub`. Results go to stdout (a digest, a file
//! name), explanations to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use policy_artifact::{Metadata, metadata, oci};
use xtask::{annotate, scaffold, sign, write_atomically};

#[derive(Parser)]
#[command(about = "Annotate, push, pull and scaffold the Kubewarden policy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed metadata.yml (with README.md as usage) into the module, like `kwctl annotate`.
    Annotate {
        #[arg(long, default_value = "policy.wasm")]
        wasm: PathBuf,
        #[arg(long, default_value = "metadata.yml")]
        metadata: PathBuf,
        #[arg(long, default_value = "README.md")]
        usage: PathBuf,
        /// The Cargo.toml whose version the metadata must carry.
        #[arg(long, default_value = "Cargo.toml")]
        cargo_toml: PathBuf,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Push an annotated module, like `kwctl push`; prints the manifest digest. Plain HTTP only
    /// with OCI_INSECURE=1 or --insecure. Credentials: OCI_USERNAME/OCI_PASSWORD or the docker
    /// config file ($DOCKER_CONFIG/config.json, ~/.docker/config.json).
    Push {
        #[arg(long, default_value = "annotated-policy.wasm")]
        wasm: PathBuf,
        /// HOST[:PORT]/PATH:TAG (a `registry://` prefix is accepted).
        reference: String,
        #[arg(long)]
        insecure: bool,
    },
    /// Pull an artifact and check its digest, media types, blobs and metadata; prints the digest.
    Pull {
        /// HOST[:PORT]/PATH:TAG or HOST[:PORT]/PATH@sha256:...
        reference: String,
        #[arg(long, short)]
        output: PathBuf,
        /// Fail unless the manifest has this digest.
        #[arg(long)]
        expect_digest: Option<String>,
        /// Fail unless the pulled module is byte-identical to this file.
        #[arg(long)]
        compare: Option<PathBuf>,
        #[arg(long)]
        insecure: bool,
    },
    /// Print a module's embedded metadata, like `kwctl inspect`.
    Inspect { wasm: PathBuf },
    /// Write a cosign key pair, like `cosign generate-key-pair`: PREFIX.key (ECDSA P-256,
    /// encrypted with COSIGN_PASSWORD) and PREFIX.pub. Never overwrites.
    Keygen {
        #[arg(long, default_value = "cosign")]
        prefix: PathBuf,
    },
    /// Sign the artifact a reference points to, like `cosign sign --key`: the signature goes to
    /// the `sha256-<digest>.sig` tag next to it, with any earlier signatures kept.
    Sign {
        /// HOST[:PORT]/PATH:TAG or HOST[:PORT]/PATH@sha256:...
        reference: String,
        /// A cosign private key (encrypted; password from COSIGN_PASSWORD) or a PKCS#8 PEM key.
        #[arg(long)]
        key: PathBuf,
        /// KEY=VALUE to sign into the payload (cosign's `-a`); repeatable.
        #[arg(long = "annotation", short = 'a')]
        annotations: Vec<String>,
        #[arg(long)]
        insecure: bool,
    },
    /// Verify the artifact's cosign signature with a public key, as `kwctl verify
    /// --verification-key` does; prints the verified digest.
    VerifySignature {
        reference: String,
        /// The PEM public key (cosign.pub).
        #[arg(long)]
        key: PathBuf,
        /// KEY=VALUE the signature must carry; repeatable.
        #[arg(long = "annotation", short = 'a')]
        annotations: Vec<String>,
        /// A Sigstore ClientTrustConfig JSON file, as `kwctl verify --sigstore-trust-config`
        /// and policy-server take it: checked and used as the trust root.
        #[arg(long, value_name = "FILE")]
        sigstore_trust_config: Option<PathBuf>,
        #[arg(long)]
        insecure: bool,
    },
    /// Write (or with --check, verify) artifacthub-repo.yml, questions-ui.yml and manifests/.
    /// With --artifacthub-pkg, write artifacthub-pkg.yml for the version in metadata.yml: the
    /// release workflow's step once that version is pushed.
    Scaffold {
        #[arg(long, conflicts_with = "artifacthub_pkg")]
        check: bool,
        #[arg(long)]
        artifacthub_pkg: bool,
    },
}

fn transport(insecure: bool) -> oci::Transport {
    let from_env = oci::Transport::from_env();
    oci::Transport {
        insecure: insecure || from_env.insecure,
    }
}

/// Results on stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print_result(line: &str) -> Result<()> {
    use std::io::Write as _;
    match writeln!(std::io::stdout(), "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Annotate {
            wasm,
            metadata,
            usage,
            cargo_toml,
            output,
        } => {
            let module = read(&wasm)?;
            let inputs = annotate::Inputs::load(&module, &metadata, &usage, &cargo_toml)?;
            let annotated = annotate::annotate(&inputs)
                .with_context(|| format!("cannot annotate {}", wasm.display()))?;
            write_atomically(&output, &annotated)?;
            eprintln!(
                "annotated {} with {} and {} (protocol v1): {}",
                wasm.display(),
                metadata.display(),
                usage.display(),
                output.display()
            );
        }
        Command::Push {
            wasm,
            reference,
            insecure,
        } => {
            let module = read(&wasm)?;
            let reference = oci::parse_reference(&reference)?;
            let pushed = oci::push(&module, &reference, transport(insecure))
                .with_context(|| format!("cannot push {}", wasm.display()))?;
            eprintln!(
                "pushed {} to {reference} (credentials: {}); immutable reference: {}/{}@{}",
                wasm.display(),
                pushed.credentials,
                reference.resolve_registry(),
                reference.repository(),
                pushed.digest
            );
            print_result(&pushed.digest)?;
        }
        Command::Pull {
            reference,
            output,
            expect_digest,
            compare,
            insecure,
        } => {
            let reference = oci::parse_reference(&reference)?;
            let pulled = oci::pull(&reference, transport(insecure), expect_digest.as_deref())?;
            if let Some(local) = &compare {
                let local_bytes = read(local)?;
                if local_bytes != pulled.module {
                    bail!(
                        "the module in {reference} ({} bytes) is not byte-identical to {} ({} bytes)",
                        pulled.module.len(),
                        local.display(),
                        local_bytes.len()
                    );
                }
            }
            write_atomically(&output, &pulled.module)?;
            eprintln!(
                "pulled {reference}: manifest {}, config {} ({}), layer {} ({}, {} bytes), {} annotations{}; written to {}",
                pulled.digest,
                pulled.manifest.config.digest,
                pulled.manifest.config.media_type,
                pulled.manifest.layers[0].digest,
                pulled.manifest.layers[0].media_type,
                pulled.module.len(),
                pulled.manifest.annotations.as_ref().map_or(0, |a| a.len()),
                compare
                    .map(|c| format!(", identical to {}", c.display()))
                    .unwrap_or_default(),
                output.display()
            );
            print_result(&pulled.digest)?;
        }
        Command::Inspect { wasm } => {
            let metadata = Metadata::of_module(&read(&wasm)?)?
                .with_context(|| format!("{} is not annotated", wasm.display()))?;
            let mut shown = metadata.clone();
            if let Some(usage) = shown.annotations.get_mut(metadata::USAGE) {
                *usage = format!("<{} bytes: README.md>", usage.len());
            }
            print_result(&serde_json::to_string_pretty(&shown)?)?;
        }
        Command::Keygen { prefix } => {
            let password = sign::password_from_env();
            if password.is_empty() {
                eprintln!(
                    "warning: {} is empty: the private key is encrypted with an empty password",
                    sign::PASSWORD_VAR
                );
            }
            let pair = sign::generate_key_pair(&prefix, &password)?;
            eprintln!(
                "wrote {} (private, encrypted) and {} (public)",
                pair.private_key.display(),
                pair.public_key.display()
            );
        }
        Command::Sign {
            reference,
            key,
            annotations,
            insecure,
        } => {
            let annotations = sign::parse_annotations(&annotations)?;
            let pem = zeroize::Zeroizing::new(read(&key)?);
            let keys = sign::load_private_key(&pem, &sign::password_from_env())
                .with_context(|| format!("cannot use {}", key.display()))?;
            let reference = oci::parse_reference(&reference)?;
            let signed = sign::sign(&reference, &keys, &annotations, transport(insecure))?;
            eprintln!(
                "signed {reference} ({}) with {}; {} signature(s) in {} (credentials: {})",
                signed.digest,
                key.display(),
                signed.signatures,
                signed.signature_reference,
                signed.credentials
            );
            print_result(&signed.digest)?;
        }
        Command::VerifySignature {
            reference,
            key,
            annotations,
            sigstore_trust_config,
            insecure,
        } => {
            let annotations = sign::parse_annotations(&annotations)?;
            let pem = read(&key)?;
            let reference = oci::parse_reference(&reference)?;
            let trust_root = sigstore_trust_config
                .as_deref()
                .map(xtask::trust::load)
                .transpose()?;
            let verified = sign::verify(
                &reference,
                &pem,
                &annotations,
                transport(insecure),
                trust_root.as_ref(),
            )
            .with_context(|| format!("signature verification with {} failed", key.display()))?;
            eprintln!(
                "{reference} ({}) is signed with {}{}",
                verified.digest,
                key.display(),
                if annotations.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", with {}",
                        annotations
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                }
            );
            print_result(&verified.digest)?;
        }
        Command::Scaffold {
            check,
            artifacthub_pkg,
        } => {
            let root = std::env::current_dir()?;
            if artifacthub_pkg {
                eprintln!("wrote {}", scaffold::write_package(&root)?.display());
            } else if check {
                scaffold::check(&root)?;
                eprintln!("generated files are up to date");
            } else {
                for path in scaffold::write(&root)? {
                    eprintln!("wrote {}", path.display());
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
