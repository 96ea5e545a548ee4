//! Registry credentials, found the way the Docker CLI finds them: `auths` and credential
//! helpers in the Docker config directory (`$DOCKER_CONFIG`, else `~/.docker`). Image pushes
//! (the engine) and plugin artifacts (OCI distribution) both ask here, so a `docker login`
//! serves both. With the `oci` feature, the OCI client that the registry view and plugin
//! distribution share is set up here too ([`oci`]).

#[cfg(feature = "oci")]
pub mod oci;

use std::io::BufReader;
use std::path::{Path, PathBuf};

use docker_credential::CredentialRetrievalError;
pub use docker_credential::DockerCredential;

/// Which credentials a registry request uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RegistryAuth {
    /// Whatever the user's Docker config (`$DOCKER_CONFIG` or `~/.docker`) holds for the
    /// registry, credential helpers included; no entry means an anonymous request.
    #[default]
    FromDockerConfig,
    /// The same, from the Docker config directory given (as `docker --config DIR`).
    DockerConfigAt(PathBuf),
    /// These, regardless of the Docker config.
    UsernamePassword { username: String, password: String },
    /// No credentials at all.
    Anonymous,
}

/// The user's Docker credentials for a registry could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("reading Docker credentials for {registry} failed: {message}")]
pub struct CredentialError {
    pub registry: String,
    pub message: String,
}

/// The credential `auth` gives for the registry `server` (as keyed in the Docker config:
/// `host[:port]`, or Docker Hub's URL), or `None` for an anonymous request.
pub fn registry_credential(
    auth: &RegistryAuth,
    server: &str,
) -> Result<Option<DockerCredential>, CredentialError> {
    match auth {
        RegistryAuth::Anonymous => Ok(None),
        RegistryAuth::UsernamePassword { username, password } => Ok(Some(
            DockerCredential::UsernamePassword(username.clone(), password.clone()),
        )),
        RegistryAuth::FromDockerConfig => from_docker_config(&docker_config_dir(), server),
        RegistryAuth::DockerConfigAt(dir) => from_docker_config(dir, server),
    }
}

/// The Docker CLI's configuration directory: `DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> PathBuf {
    if let Some(path) = std::env::var_os("DOCKER_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    dirs::home_dir().unwrap_or_default().join(".docker")
}

/// Reads `config.json` in the Docker config directory `dir`, running a credential helper
/// where it names one. No config, or no entry for the registry, means anonymous; a broken
/// config or a failing helper is an error.
fn from_docker_config(
    dir: &Path,
    server: &str,
) -> Result<Option<DockerCredential>, CredentialError> {
    let path = dir.join("config.json");
    let failed = |message: String| CredentialError {
        registry: server.to_string(),
        message,
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(failed(format!("{}: {error}", path.display()))),
    };
    match docker_credential::get_credential_from_reader(BufReader::new(file), server) {
        Ok(credential) => Ok(Some(credential)),
        Err(CredentialRetrievalError::NoCredentialConfigured) => Ok(None),
        Err(error) => Err(failed(format!("{}: {error}", path.display()))),
    }
}
