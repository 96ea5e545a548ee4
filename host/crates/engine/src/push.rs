//! Pushing an image to its registry with the user's Docker credentials (`auths` and
//! credential helpers in `~/.docker/config.json`, read with `docker_credential`; bollard reads
//! none), and reading the pushed digest back from the image's `RepoDigests` (bollard's push
//! stream carries none).

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::PushImageOptionsBuilder;
use dockwright_registry_auth::{DockerCredential, RegistryAuth, registry_credential};
use futures_util::StreamExt;

use super::error::{EngineError, engine_message};
use super::reference::ImageReference;

/// A pushed image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedImage {
    /// What was pushed, e.g. `localhost:5000/team/app:v1`.
    pub reference: String,
    /// The manifest digest the registry stored, `sha256:...`.
    pub digest: String,
}

impl PushedImage {
    /// The reference by digest (`localhost:5000/team/app@sha256:...`), for runs that must use
    /// exactly these bits.
    pub fn pinned(&self) -> String {
        let repository = ImageReference::parse(&self.reference)
            .map(|r| r.repository)
            .unwrap_or_default();
        format!("{repository}@{}", self.digest)
    }
}

/// Pushes `name` (which must be a local tag) and returns its digest in the registry.
pub(crate) async fn push(
    docker: &Docker,
    name: &str,
    auth: &RegistryAuth,
) -> Result<PushedImage, EngineError> {
    let reference = ImageReference::parse(name)?;
    let credentials = credentials_for(&reference, auth)?;
    let failed = |message: String| EngineError::PushFailed {
        image: reference.to_string(),
        message,
    };
    let options = PushImageOptionsBuilder::default()
        .tag(&reference.tag)
        .build();
    let mut stream = docker.push_image(&reference.repository, Some(options), credentials);
    while let Some(message) = stream.next().await {
        if let Err(error) = message {
            return Err(failed(explain_push_error(
                &reference,
                &engine_message(&error),
            )));
        }
    }
    let digest = pushed_digest(docker, &reference).await?;
    Ok(PushedImage {
        reference: reference.to_string(),
        digest,
    })
}

/// Adds what the user can do about the common registry refusals.
fn explain_push_error(reference: &ImageReference, message: &str) -> String {
    let lower = message.to_lowercase();
    if lower.contains("unauthorized")
        || lower.contains("no basic auth credentials")
        || lower.contains("authentication required")
    {
        return format!(
            "{message} (the registry {} refused the credentials; log in with `docker login {}` or check the credentials given)",
            reference.registry(),
            reference.registry()
        );
    }
    if lower.contains("connection refused")
        || lower.contains("no such host")
        || lower.contains("i/o timeout")
    {
        return format!(
            "{message} (the registry {} cannot be reached)",
            reference.registry()
        );
    }
    message.to_string()
}

/// The digest the push recorded in the image's `RepoDigests` for this repository.
async fn pushed_digest(docker: &Docker, reference: &ImageReference) -> Result<String, EngineError> {
    let image = docker
        .inspect_image(&reference.to_string())
        .await
        .map_err(|error| {
            EngineError::request(format!("inspecting {reference} after the push"), error)
        })?;
    let prefix = format!("{}@", reference.repository);
    image
        .repo_digests
        .unwrap_or_default()
        .iter()
        .find_map(|entry| entry.strip_prefix(&prefix).map(str::to_string))
        .ok_or_else(|| EngineError::PushFailed {
            image: reference.to_string(),
            message: "the engine recorded no digest for the pushed image".to_string(),
        })
}

/// The credentials bollard sends in `X-Registry-Auth`.
fn credentials_for(
    reference: &ImageReference,
    auth: &RegistryAuth,
) -> Result<Option<DockerCredentials>, EngineError> {
    let server = reference.auth_key();
    let Some(credential) = registry_credential(auth, &server)? else {
        return Ok(None);
    };
    let mut credentials = DockerCredentials {
        serveraddress: Some(server),
        ..Default::default()
    };
    match credential {
        DockerCredential::UsernamePassword(username, password) => {
            credentials.username = Some(username);
            credentials.password = Some(password);
        }
        DockerCredential::IdentityToken(token) => credentials.identitytoken = Some(token),
    }
    Ok(Some(credentials))
}
