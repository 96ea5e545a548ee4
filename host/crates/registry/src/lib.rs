//! A container registry, asked one question: is this image there, and with what digest and
//! labels? Dockwright asks it before building, so that an image another machine built and
//! pushed (with the same `dockwright.build-key` label) is reused instead of built again.
//!
//! Manifests and image configs are read with `oci-client` (Docker's schema 2 and OCI
//! manifests alike), with the user's Docker credentials, through the client
//! `dockwright-registry-auth` sets up for every registry (plain HTTP on loopback only).

use std::collections::BTreeMap;

pub use dockwright_registry_auth::oci::is_loopback;
use dockwright_registry_auth::{RegistryAuth, oci};
use oci_client::Reference;
use oci_client::errors::{OciDistributionError, OciErrorCode};

/// An image found in a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteImage {
    /// The reference asked for, as written.
    pub reference: String,
    /// `sha256:…` of its manifest: what `name@digest` pulls.
    pub digest: String,
    /// `sha256:…` of its config: the image id an engine gives it once pulled.
    pub config_digest: String,
    /// Its config's labels (`config.Labels`).
    pub labels: BTreeMap<String, String>,
}

/// Why the registry could not say.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("`{0}` is not an image reference")]
    BadReference(String),
    #[error(
        "the registry {registry} refused the credentials, or got none (log in with `docker login {registry}`): {message}"
    )]
    Refused { registry: String, message: String },
    #[error("the registry {registry} cannot be reached: {message}")]
    Unreachable { registry: String, message: String },
    #[error("the registry {registry} answered for {reference}: {message}")]
    Other {
        registry: String,
        reference: String,
        message: String,
    },
    #[error(transparent)]
    Credentials(#[from] dockwright_registry_auth::CredentialError),
}

/// The image at `reference` (`registry/repository:tag`), or `None` when the registry has
/// no such manifest. Only the manifest and the (small) config are downloaded.
pub async fn find_image(
    reference: &str,
    auth: &RegistryAuth,
) -> Result<Option<RemoteImage>, RegistryError> {
    let parsed: Reference = reference
        .parse()
        .map_err(|_| RegistryError::BadReference(reference.to_string()))?;
    let registry = parsed.registry().to_string();
    let client = oci::client(&registry);
    let auth = oci::credentials(auth, &registry)?;
    match client.pull_manifest_and_config(&parsed, &auth).await {
        Ok((manifest, digest, config)) => Ok(Some(RemoteImage {
            reference: reference.to_string(),
            digest,
            config_digest: manifest.config.digest,
            labels: labels(&config),
        })),
        Err(error) if is_not_found(&error) => Ok(None),
        Err(error) => Err(classify(error, &registry, reference)),
    }
}

/// `config.Labels` of an image config (Docker's and OCI's spell it the same).
fn labels(config: &str) -> BTreeMap<String, String> {
    #[derive(serde::Deserialize, Default)]
    struct Image {
        #[serde(default)]
        config: Option<Inner>,
    }
    #[derive(serde::Deserialize, Default)]
    struct Inner {
        #[serde(rename = "Labels", default)]
        labels: Option<BTreeMap<String, String>>,
    }
    serde_json::from_str::<Image>(config)
        .ok()
        .and_then(|image| image.config)
        .and_then(|inner| inner.labels)
        .unwrap_or_default()
}

/// Fuzz entry (`fuzz/fuzz_targets/registry.rs`): an image reference as `find_image` parses
/// it, up to the first 0xFF byte, then an image config whose labels are read. Not API.
#[doc(hidden)]
pub fn fuzz_image(data: &[u8]) {
    let mut parts = data.splitn(2, |&b| b == 0xff);
    let reference = String::from_utf8_lossy(parts.next().unwrap_or_default());
    if let Ok(parsed) = reference.parse::<Reference>() {
        // What `find_image` goes on to use.
        let _ = (parsed.registry(), parsed.whole());
    }
    let config = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let labels = labels(&config);
    assert!(labels.len() <= config.len());
}

fn is_not_found(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound
            )
        }),
        _ => false,
    }
}

fn classify(error: OciDistributionError, registry: &str, reference: &str) -> RegistryError {
    let message = error.to_string();
    let refused = match &error {
        OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::UnauthorizedError { .. } => true,
        OciDistributionError::ServerError { code, .. } => matches!(code, 401 | 403),
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)),
        _ => false,
    };
    if refused {
        return RegistryError::Refused {
            registry: registry.to_string(),
            message,
        };
    }
    match error {
        OciDistributionError::RequestError(e) => RegistryError::Unreachable {
            registry: registry.to_string(),
            // reqwest's own message is "error sending request"; the cause says why.
            message: chain(&e),
        },
        _ => RegistryError::Other {
            registry: registry.to_string(),
            reference: reference.to_string(),
            message,
        },
    }
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_read_from_docker_and_oci_configs() {
        let config = r#"{"architecture":"amd64","config":{"Env":["A=1"],"Labels":{"dockwright.build-key":"sha256:ab"}},"rootfs":{}}"#;
        assert_eq!(
            labels(config),
            BTreeMap::from([("dockwright.build-key".to_string(), "sha256:ab".to_string())])
        );
        assert!(labels(r#"{"config":{"Labels":null}}"#).is_empty());
        assert!(labels(r#"{"config":{}}"#).is_empty());
        assert!(labels("not json").is_empty());
    }

    #[tokio::test]
    async fn a_registry_that_is_not_there_is_unreachable_not_missing() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = find_image(
            &format!("127.0.0.1:{port}/team/app:v1"),
            &RegistryAuth::Anonymous,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, RegistryError::Unreachable { .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("the registry 127.0.0.1:{port} cannot be reached")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_bad_reference_is_said() {
        let error = find_image("UPPER/Case:v1", &RegistryAuth::Anonymous)
            .await
            .unwrap_err();
        assert!(matches!(error, RegistryError::BadReference(_)), "{error}");
    }
}
