//! Registry credentials, from where docker, kwctl and CI systems keep them, never from the
//! command line (where they would land in shell history and `ps`).
//!
//! Order: `OCI_USERNAME` with `OCI_PASSWORD` (CI secrets), else the docker config file
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, including credential helpers),
//! else anonymous.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

/// The registry user name in CI; only used together with [`PASSWORD_VAR`].
pub const USERNAME_VAR: &str = "OCI_USERNAME";
/// The registry password or token in CI; only used together with [`USERNAME_VAR`].
pub const PASSWORD_VAR: &str = "OCI_PASSWORD";

/// Where the credentials came from, for messages (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `OCI_USERNAME` and `OCI_PASSWORD`.
    Environment,
    /// The docker config file or one of its credential helpers.
    DockerConfig,
    /// None found: a refusal may just mean the registry wants a login.
    Anonymous,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Environment => "OCI_USERNAME/OCI_PASSWORD",
            Origin::DockerConfig => "the docker config file",
            Origin::Anonymous => "no credentials (anonymous)",
        })
    }
}

/// The docker config key of a registry: Docker Hub is stored under its v1 index URL.
fn docker_config_key(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://index.docker.io/v1/",
        other => other,
    }
}

fn from_env() -> Result<Option<RegistryAuth>> {
    let user = std::env::var(USERNAME_VAR).ok().filter(|v| !v.is_empty());
    let password = std::env::var(PASSWORD_VAR).ok().filter(|v| !v.is_empty());
    match (user, password) {
        (Some(u), Some(p)) => Ok(Some(RegistryAuth::Basic(u, p))),
        (None, None) => Ok(None),
        (Some(_), None) => bail!("{USERNAME_VAR} is set but {PASSWORD_VAR} is not"),
        (None, Some(_)) => bail!("{PASSWORD_VAR} is set but {USERNAME_VAR} is not"),
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`: where `docker login` writes.
pub fn docker_config_path() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")))
        .map(|dir| dir.join("config.json"))
}

/// The credentials for `registry` (a `host[:port]`).
pub fn for_registry(registry: &str) -> Result<(RegistryAuth, Origin)> {
    if let Some(auth) = from_env()? {
        return Ok((auth, Origin::Environment));
    }
    let Some(path) = docker_config_path().filter(|p| p.exists()) else {
        return Ok((RegistryAuth::Anonymous, Origin::Anonymous));
    };
    let file = std::fs::File::open(&path)
        .with_context(|| format!("cannot read the docker config {}", path.display()))?;
    let found = docker_credential::get_credential_from_reader(
        BufReader::new(file),
        docker_config_key(registry),
    );
    match found {
        Ok(DockerCredential::UsernamePassword(u, p)) => {
            Ok((RegistryAuth::Basic(u, p), Origin::DockerConfig))
        }
        Ok(DockerCredential::IdentityToken(_)) => bail!(
            "the docker config {} holds an identity token for {registry}, which this tool cannot \
             exchange; log in with a username and password, or set {USERNAME_VAR} and \
             {PASSWORD_VAR}",
            path.display()
        ),
        Err(CredentialRetrievalError::NoCredentialConfigured) => {
            Ok((RegistryAuth::Anonymous, Origin::Anonymous))
        }
        Err(CredentialRetrievalError::ConfigReadError) => {
            bail!("the docker config {} is not valid JSON", path.display())
        }
        Err(e) => bail!(
            "cannot read the credentials for {registry} from the docker config {}: {e}",
            path.display()
        ),
    }
}
