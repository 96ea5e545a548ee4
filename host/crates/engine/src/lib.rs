//! Docker execution (DESIGN.md §7): everything that talks to the Docker engine, through
//! bollard on tokio. It owns the connection (found the way the Docker CLI finds it), reuse of
//! images by build key, builds (context streamed from the caller's tar writer, classic builder
//! by default, BuildKit on request), tags, pushes with the user's Docker credentials, and
//! running step containers. Nothing outside this module and `run` touches Docker.
//!
//! bollard's traps are handled here, not by callers: one tag per build call (the rest are
//! applied with `tag_image`), no digest from a push (read back from `RepoDigests`), non-zero
//! container exits reported as errors (turned back into exit codes), and a 120 s timeout that
//! builds and long steps would exceed (they use a second client with a long one).

mod builder;
mod connect;
mod container;
mod context_body;
mod error;
mod interrupt;
mod lock;
mod progress;
mod push;
mod reference;

use std::collections::HashMap;
use std::path::Path;

use bollard::Docker;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures_util::StreamExt;

/// The bollard version this module is built on, for callers of [`Engine::docker`].
pub use bollard;
pub use builder::{BUILD_KEY_LABEL, BuildJob, Builder, BuiltImage};
pub use connect::{DEFAULT_DOCKER_HOST, docker_host_from_env};
pub use container::{ContainerExit, ContainerSpec, LogLine, LogStream, VolumeMount};
pub use context_body::ContextWriter;
pub use dockwright_registry_auth::RegistryAuth;
pub use error::EngineError;
pub use interrupt::{Interrupt, Interrupter};
pub use lock::BuildLock;
pub use progress::{BuildProgress, BuildStep, NoProgress, PlainProgress};
pub use push::PushedImage;
pub use reference::ImageReference;

/// A connection to one Docker engine.
#[derive(Clone)]
pub struct Engine {
    /// For requests the engine answers at once.
    docker: Docker,
    /// For builds, pushes and container waits, which may take hours to answer.
    long: Docker,
    host: String,
}

/// How [`Engine::build_once`] got its image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildOutcome {
    pub image: BuiltImage,
    /// True when an image with the build key already existed and nothing was built.
    pub reused: bool,
}

impl Engine {
    /// Connects to the engine `DOCKER_HOST` names (or the default socket) and checks that it
    /// answers.
    pub async fn connect() -> Result<Engine, EngineError> {
        Engine::connect_to(&docker_host_from_env()).await
    }

    /// Connects to the engine at `host` (`unix://`, `tcp://`, `https://` or `ssh://`).
    pub async fn connect_to(host: &str) -> Result<Engine, EngineError> {
        let docker = connect::client_for(host)?;
        connect::ping(&docker, host).await?;
        // No `negotiate_version`: bollard 0.21 (pinned) never puts the version in its
        // requests (issue #736), and the `/version` request it makes is the slowest the
        // engine answers (about 10 ms, a third of a no-op `dockwright build`).
        let long = docker.clone().with_timeout(connect::LONG_TIMEOUT);
        Ok(Engine {
            docker,
            long,
            host: host.to_string(),
        })
    }

    /// The address this engine was reached at.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The underlying bollard client, for tests that clean up after themselves; the host
    /// itself asks only through this type.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The id of an image carrying `dockwright.build-key=<build_key>` (the newest, should
    /// there be several).
    pub async fn find_by_key(&self, build_key: &str) -> Result<Option<String>, EngineError> {
        let filters = HashMap::from([("label", vec![format!("{BUILD_KEY_LABEL}={build_key}")])]);
        let options = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let images = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(|error| EngineError::request("listing images by build key", error))?;
        Ok(images
            .into_iter()
            .max_by_key(|image| image.created)
            .map(|image| image.id))
    }

    /// Builds `job`, streaming its progress; see [`BuildJob`]. A failed build returns
    /// [`EngineError::BuildFailed`] with the failing instruction and its last output lines,
    /// and leaves neither a tag nor an image carrying the build key.
    pub async fn build(
        &self,
        job: BuildJob,
        progress: &mut dyn BuildProgress,
    ) -> Result<BuiltImage, EngineError> {
        builder::build(&self.long, job, progress).await
    }

    /// The one way an image is reused: the image with the job's build key when there is one,
    /// else a build. First the job's first tag is asked (a no-op build costs that one
    /// request); then, under a lock in `lock_dir`, any image carrying the key, which gets the
    /// job's tags. Concurrent calls for the same key, in this process or another, build once:
    /// the others wait on the lock, then reuse.
    pub async fn reuse_or_build(
        &self,
        job: BuildJob,
        progress: &mut dyn BuildProgress,
        lock_dir: &Path,
    ) -> Result<BuildOutcome, EngineError> {
        if let Some(tag) = job.tags.first()
            && let Some(id) = self.tagged_with_key(tag, &job.build_key).await?
        {
            for extra in &job.tags[1..] {
                self.tag(&id, extra).await?;
            }
            return Ok(BuildOutcome {
                image: BuiltImage { id, tags: job.tags },
                reused: true,
            });
        }
        let _lock = BuildLock::acquire(lock_dir, &job.build_key).await?;
        if let Some(id) = self.find_by_key(&job.build_key).await? {
            for tag in &job.tags {
                self.tag(&id, tag).await?;
            }
            return Ok(BuildOutcome {
                image: BuiltImage { id, tags: job.tags },
                reused: true,
            });
        }
        let image = self.build(job, progress).await?;
        Ok(BuildOutcome {
            image,
            reused: false,
        })
    }

    /// The id of the image `name` when it carries `build_key`.
    async fn tagged_with_key(
        &self,
        name: &str,
        build_key: &str,
    ) -> Result<Option<String>, EngineError> {
        let image = match self.docker.inspect_image(name).await {
            Ok(image) => image,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(error) => {
                return Err(EngineError::request(
                    format!("inspecting image {name}"),
                    error,
                ));
            }
        };
        let key = image
            .config
            .as_ref()
            .and_then(|config| config.labels.as_ref())
            .and_then(|labels| labels.get(BUILD_KEY_LABEL));
        Ok(image
            .id
            .filter(|_| key.map(String::as_str) == Some(build_key)))
    }

    /// Pulls `name` from its registry and returns the id the engine then has for it.
    pub async fn pull(&self, name: &str) -> Result<String, EngineError> {
        let options = CreateImageOptionsBuilder::default()
            .from_image(name)
            .build();
        let mut stream = self.long.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            item.map_err(|error| EngineError::PullFailed {
                image: name.to_string(),
                message: error::engine_message(&error),
            })?;
        }
        self.image_id(name)
            .await?
            .ok_or_else(|| EngineError::PullFailed {
                image: name.to_string(),
                message: "the pull reported no image".to_string(),
            })
    }

    /// The id of the image `name` refers to, or `None` when there is no such image.
    pub async fn image_id(&self, name: &str) -> Result<Option<String>, EngineError> {
        match self.docker.inspect_image(name).await {
            Ok(image) => Ok(image.id),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(error) => Err(EngineError::request(
                format!("inspecting image {name}"),
                error,
            )),
        }
    }

    /// The user image `name` runs as (its config's `User`), `None` when it sets none.
    pub async fn image_user(&self, name: &str) -> Result<Option<String>, EngineError> {
        let config = self.image_config(name).await?;
        Ok(config
            .and_then(|config| config.user)
            .filter(|user| !user.is_empty()))
    }

    /// The labels of image `name`.
    pub async fn image_labels(&self, name: &str) -> Result<HashMap<String, String>, EngineError> {
        let config = self.image_config(name).await?;
        Ok(config.and_then(|config| config.labels).unwrap_or_default())
    }

    /// The config of image `name` as the engine reports it.
    async fn image_config(
        &self,
        name: &str,
    ) -> Result<Option<bollard::models::ImageConfig>, EngineError> {
        let image = self
            .docker
            .inspect_image(name)
            .await
            .map_err(|error| EngineError::request(format!("inspecting image {name}"), error))?;
        Ok(image.config)
    }

    /// Points the tag `name` at `image` (an id or another name).
    pub async fn tag(&self, image: &str, name: &str) -> Result<(), EngineError> {
        builder::tag_image(&self.docker, image, &ImageReference::parse(name)?).await
    }

    /// Removes the image or tag `name` (forcing, as `docker rmi -f` does).
    pub async fn remove_image(&self, name: &str) -> Result<(), EngineError> {
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        self.docker
            .remove_image(name, Some(options), None)
            .await
            .map(drop)
            .map_err(|error| EngineError::request(format!("removing image {name}"), error))
    }

    /// Pushes the local tag `name` to its registry and returns the digest stored there.
    pub async fn push(&self, name: &str, auth: &RegistryAuth) -> Result<PushedImage, EngineError> {
        push::push(&self.long, name, auth).await
    }

    /// Runs a step's container to its end, passing each log line to `on_line`. A non-zero
    /// exit is an `Ok` with that code; errors are the engine's.
    pub async fn run_container(
        &self,
        spec: &ContainerSpec,
        on_line: &mut (dyn FnMut(&LogLine) + Send),
    ) -> Result<ContainerExit, EngineError> {
        let interrupt = Interrupt::never();
        container::run_container(&self.long, spec, on_line, interrupt).await
    }

    /// [`Engine::run_container`], stopped by `interrupt`: the container is then removed
    /// (`keep` or not) and the result is [`EngineError::Interrupted`].
    pub async fn run_container_until(
        &self,
        spec: &ContainerSpec,
        on_line: &mut (dyn FnMut(&LogLine) + Send),
        interrupt: Interrupt,
    ) -> Result<ContainerExit, EngineError> {
        container::run_container(&self.long, spec, on_line, interrupt).await
    }

    /// Takes the tag `name` off its image (the engine removes the image too when no other
    /// name or container holds it).
    pub async fn untag(&self, name: &str) -> Result<(), EngineError> {
        builder::untag(&self.docker, &ImageReference::parse(name)?).await;
        Ok(())
    }
}
