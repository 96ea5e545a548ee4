//! Building one image: the job description, the request to the engine (classic builder by
//! default, BuildKit when asked), following its output, and what a failure reports.
//!
//! The build key goes into the build's labels. Both builders apply those labels to the final
//! image only (the classic builder appends a `LABEL` after the last instruction; BuildKit sets
//! them on export), so a build that fails leaves no image carrying the key; the tag is applied
//! by the engine only on success.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{BuildInfo, BuildInfoAux, ImageId};
use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use futures_util::StreamExt;
use tokio::time::MissedTickBehavior;

use dockwright_plan::plan::BuildOptions;
use dockwright_plan::settings::ContainerLimits;

use super::context_body::{ContextBody, ContextStream, ContextWriter, stream_context};
use super::error::{EngineError, engine_message};
use super::progress::{BuildProgress, BuildStep, BuildTracker};
use super::reference::ImageReference;

/// The label that carries an image's build key (DESIGN.md §5).
pub use dockwright_plan::plan::BUILD_KEY_LABEL;

/// Which of the engine's builders runs the build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Builder {
    /// The classic builder: needs nothing from the client; no `RUN --mount`.
    #[default]
    Classic,
    /// BuildKit, for Dockerfiles that need it (e.g. `RUN --mount=type=cache`).
    BuildKit,
}

/// Everything one build needs.
pub struct BuildJob {
    /// The value of the [`BUILD_KEY_LABEL`] label, which the image is found by: the build
    /// key, or what the caller records with it (a JSON `BuildLabel` for Dockwright's own
    /// builds).
    pub build_key: String,
    /// Names to tag the image with; the first is applied by the build itself.
    pub tags: Vec<String>,
    /// Writes the build context (a tar archive); called only when the image is built.
    pub context: ContextWriter,
    /// The request's options as planned (the build key label is added to its labels).
    pub options: BuildOptions,
    pub builder: Builder,
}

impl BuildJob {
    /// A job with the engine's defaults: `Dockerfile` at the context root, classic builder.
    pub fn new(build_key: impl Into<String>, context: ContextWriter) -> BuildJob {
        BuildJob {
            build_key: build_key.into(),
            tags: Vec::new(),
            context,
            options: BuildOptions {
                dockerfile: "Dockerfile".to_string(),
                // Failed builds leave no stopped containers behind either.
                rm: true,
                force_rm: true,
                ..BuildOptions::default()
            },
            builder: Builder::Classic,
        }
    }
}

impl std::fmt::Debug for BuildJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildJob")
            .field("build_key", &self.build_key)
            .field("tags", &self.tags)
            .field("dockerfile", &self.options.dockerfile)
            .field("labels", &self.options.labels)
            .field(
                "build_args",
                &self.options.build_args.keys().collect::<Vec<_>>(),
            )
            .field("target", &self.options.target)
            .field("builder", &self.builder)
            .finish_non_exhaustive()
    }
}

/// A finished build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltImage {
    /// `sha256:...`
    pub id: String,
    /// The tags now pointing at it.
    pub tags: Vec<String>,
}

/// Runs `job` on the engine `docker` (a client with a long timeout).
pub(crate) async fn build(
    docker: &Docker,
    job: BuildJob,
    progress: &mut dyn BuildProgress,
) -> Result<BuiltImage, EngineError> {
    let built = build_and_tag(docker, job, progress).await;
    progress.finished(built.is_ok());
    built
}

async fn build_and_tag(
    docker: &Docker,
    job: BuildJob,
    progress: &mut dyn BuildProgress,
) -> Result<BuiltImage, EngineError> {
    let tags = checked_tags(&job.tags)?;
    let options = build_options(&job, tags.first());
    let ContextStream { body, writer, sent } = stream_context(job.context);
    let followed = follow_build(docker, options, body, &sent, progress).await;
    // A failing context writer explains a broken build better than the engine's view of it.
    match writer.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(EngineError::Context(error)),
        Err(join_error) => {
            return Err(EngineError::Context(std::io::Error::other(
                join_error.to_string(),
            )));
        }
    }
    let id = followed?;
    apply_extra_tags(docker, &id, &tags).await?;
    Ok(BuiltImage {
        id,
        tags: tags.iter().map(ToString::to_string).collect(),
    })
}

fn checked_tags(tags: &[String]) -> Result<Vec<ImageReference>, EngineError> {
    tags.iter().map(|tag| ImageReference::parse(tag)).collect()
}

fn build_options(
    job: &BuildJob,
    first_tag: Option<&ImageReference>,
) -> bollard::query_parameters::BuildImageOptions {
    let planned = &job.options;
    let mut labels: HashMap<String, String> = planned.labels.clone().into_iter().collect();
    labels.insert(BUILD_KEY_LABEL.to_string(), job.build_key.clone());
    let build_args: HashMap<String, String> = planned.build_args.clone().into_iter().collect();
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(&planned.dockerfile)
        .labels(&labels)
        .buildargs(&build_args)
        .nocache(planned.no_cache)
        .rm(planned.rm)
        .forcerm(planned.force_rm);
    if !planned.cache_from.is_empty() {
        options = options.cachefrom(&planned.cache_from);
    }
    if let Some(size) = planned.shm_size {
        options = options.shmsize(size);
    }
    // The request carries one value; the planner refuses more than one host.
    if let Some(host) = planned.extra_hosts.first() {
        options = options.extrahosts(host);
    }
    if let Some(squash) = planned.squash {
        options = options.squash(squash);
    }
    options = container_limits(options, &planned.container_limits);
    if let Some(tag) = first_tag {
        options = options.t(&tag.to_string());
    }
    if let Some(target) = &planned.target {
        options = options.target(target);
    }
    if let Some(network) = &planned.network_mode {
        options = options.networkmode(network);
    }
    if planned.pull == Some(true) {
        // The API takes a string here, not a bool.
        options = options.pull("true");
    }
    if let Some(platform) = &planned.platform {
        options = options.platform(platform);
    }
    options = match job.builder {
        Builder::Classic => options.version(BuilderVersion::BuilderV1),
        Builder::BuildKit => options
            .version(BuilderVersion::BuilderBuildKit)
            .session(&session_id(&job.build_key)),
    };
    options.build()
}

fn container_limits(
    mut options: BuildImageOptionsBuilder,
    limits: &ContainerLimits,
) -> BuildImageOptionsBuilder {
    if let Some(memory) = limits.memory {
        options = options.memory(memory);
    }
    if let Some(memswap) = limits.memswap {
        options = options.memswap(memswap);
    }
    if let Some(shares) = limits.cpushares {
        options = options.cpushares(shares);
    }
    if let Some(cpus) = &limits.cpusetcpus {
        options = options.cpusetcpus(cpus);
    }
    if let Some(period) = limits.cpuperiod {
        options = options.cpuperiod(period);
    }
    if let Some(quota) = limits.cpuquota {
        options = options.cpuquota(quota);
    }
    options
}

/// BuildKit needs a session id unique to this build.
fn session_id(build_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seed = format!("{build_key}/{}/{nanos}", std::process::id());
    format!(
        "dockwright-{}",
        &hex::encode(Sha256::digest(seed.as_bytes()))[..32]
    )
}

/// How often the bytes of context sent are reported while the engine is not yet answering.
const CONTEXT_REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// Reads the build's output to the end; returns the image id or the failure. Until the engine
/// answers (it reads the whole context first), the bytes of context sent are reported on a
/// timer.
async fn follow_build(
    docker: &Docker,
    options: bollard::query_parameters::BuildImageOptions,
    body: ContextBody,
    sent: &AtomicU64,
    progress: &mut dyn BuildProgress,
) -> Result<String, EngineError> {
    let mut tracker = BuildTracker::new(progress);
    let mut buildkit = BuildKitView::default();
    let mut image_id = None;
    let mut stream = docker.build_image(options, None, Some(bollard::body_try_stream(body)));
    let mut ticks = tokio::time::interval(CONTEXT_REPORT_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            _ = ticks.tick() => {
                tracker.context_sent(sent.load(Ordering::Relaxed));
                continue;
            }
        };
        let Some(message) = message else { break };
        tracker.context_sent(sent.load(Ordering::Relaxed));
        match message {
            Ok(info) => {
                if let Some(id) = read_message(info, &mut tracker, &mut buildkit) {
                    image_id = Some(id);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                tracker.finish();
                return Err(build_failure(&mut tracker, &buildkit, error));
            }
            Err(error) => return Err(EngineError::request("building the image", error)),
        }
    }
    tracker.finish();
    image_id.ok_or_else(|| EngineError::Request {
        action: "building the image".to_string(),
        message: "the engine ended the build without naming an image".to_string(),
    })
}

/// Handles one message of the build stream; returns the image id when it carries one.
fn read_message(
    info: BuildInfo,
    tracker: &mut BuildTracker,
    buildkit: &mut BuildKitView,
) -> Option<String> {
    if let Some(text) = info.stream {
        tracker.chunk(&text);
    }
    if let Some(status) = info.status.filter(|s| !s.is_empty()) {
        // Pull progress of the parent image (only with `pull` or a missing parent).
        let line = match info.id {
            Some(id) => format!("{id}: {status}\n"),
            None => format!("{status}\n"),
        };
        tracker.chunk(&line);
    }
    match info.aux {
        Some(BuildInfoAux::Default(ImageId { id })) => id,
        Some(BuildInfoAux::BuildKit(status)) => {
            buildkit.update(status, tracker);
            None
        }
        None => None,
    }
}

fn build_failure(
    tracker: &mut BuildTracker,
    buildkit: &BuildKitView,
    message: String,
) -> EngineError {
    let step = tracker.current.clone();
    let mut message = message.trim().to_string();
    if let Some(vertex_error) = &buildkit.failed_vertex_error
        && !message.contains(vertex_error.as_str())
    {
        message = format!("{message} ({vertex_error})");
    }
    EngineError::BuildFailed {
        step,
        message,
        output_tail: tracker.take_tail(),
    }
}

/// What the BuildKit status messages have said so far: which vertices were announced (each is
/// shown once), and the error of the vertex that failed.
#[derive(Default)]
struct BuildKitView {
    announced: HashSet<String>,
    names: HashMap<String, String>,
    failed_vertex_error: Option<String>,
}

impl BuildKitView {
    fn update(
        &mut self,
        status: bollard::moby::buildkit::v1::StatusResponse,
        tracker: &mut BuildTracker,
    ) {
        for vertex in status.vertexes {
            self.names
                .insert(vertex.digest.clone(), vertex.name.clone());
            if vertex.started.is_some() && self.announced.insert(vertex.digest.clone()) {
                match parse_buildkit_step(&vertex.name) {
                    // BuildKit names steps `[stage-0 2/4] RUN ...`; announce them like the
                    // classic builder's `Step 2/4 : RUN ...`.
                    Some(step) => tracker.chunk(&format!(
                        "Step {}/{} : {}\n",
                        step.index, step.total, step.instruction
                    )),
                    None => tracker.chunk(&format!("{}\n", vertex.name)),
                }
            }
            if vertex.cached && vertex.completed.is_some() {
                tracker.chunk(" ---> Using cache\n");
            }
            if !vertex.error.is_empty() {
                self.failed_vertex_error = Some(vertex.error.clone());
            }
        }
        for log in status.logs {
            tracker.chunk(&String::from_utf8_lossy(&log.msg));
        }
    }
}

/// Parses a BuildKit vertex name such as `[stage-0 2/4] RUN pip install x` or `[2/4] RUN ...`.
fn parse_buildkit_step(name: &str) -> Option<BuildStep> {
    let rest = name.strip_prefix('[')?;
    let (position, instruction) = rest.split_once("] ")?;
    let position = position.rsplit(' ').next()?;
    let (index, total) = position.split_once('/')?;
    Some(BuildStep {
        index: index.parse().ok()?,
        total: total.parse().ok()?,
        instruction: instruction.to_string(),
    })
}

/// bollard tags once per build; the others are applied here. If one fails, the tags already
/// applied are taken off again so that a failed build leaves no tag.
async fn apply_extra_tags(
    docker: &Docker,
    id: &str,
    tags: &[ImageReference],
) -> Result<(), EngineError> {
    for (position, tag) in tags.iter().enumerate().skip(1) {
        if let Err(error) = tag_image(docker, id, tag).await {
            for applied in &tags[..position] {
                untag(docker, applied).await;
            }
            return Err(error);
        }
    }
    Ok(())
}

/// Points `tag` at the image `id`.
pub(crate) async fn tag_image(
    docker: &Docker,
    id: &str,
    tag: &ImageReference,
) -> Result<(), EngineError> {
    let options = bollard::query_parameters::TagImageOptionsBuilder::default()
        .repo(&tag.repository)
        .tag(&tag.tag)
        .build();
    docker
        .tag_image(id, Some(options))
        .await
        .map_err(|error| EngineError::Request {
            action: format!("tagging {id} as {tag}"),
            message: engine_message(&error),
        })
}

/// Removes a tag (not the image, while other tags or containers hold it).
pub(crate) async fn untag(docker: &Docker, tag: &ImageReference) {
    let options = bollard::query_parameters::RemoveImageOptionsBuilder::default()
        .noprune(true)
        .build();
    // Best effort while already reporting another error.
    let _ = docker
        .remove_image(&tag.to_string(), Some(options), None)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buildkit_vertex_names() {
        let step = parse_buildkit_step("[stage-0 2/4] RUN pip install x").unwrap();
        assert_eq!(
            (step.index, step.total, step.instruction.as_str()),
            (2, 4, "RUN pip install x")
        );
        assert_eq!(
            parse_buildkit_step("[3/3] COPY a b").map(|s| s.index),
            Some(3)
        );
        assert_eq!(
            parse_buildkit_step("[internal] load remote build context"),
            None
        );
    }

    #[test]
    fn the_build_key_is_always_among_the_labels() {
        let mut job = BuildJob::new("abc123", Box::new(|_| Ok(())));
        job.options.labels.insert("team".into(), "ml".into());
        job.options
            .labels
            .insert(BUILD_KEY_LABEL.into(), "forged".into());
        let options = build_options(&job, None);
        let labels = options.labels.unwrap();
        assert_eq!(
            labels.get(BUILD_KEY_LABEL).map(String::as_str),
            Some("abc123")
        );
        assert_eq!(labels.get("team").map(String::as_str), Some("ml"));
    }

    #[test]
    fn every_planned_option_reaches_the_request() {
        let mut job = BuildJob::new("k", Box::new(|_| Ok(())));
        let planned = &mut job.options;
        planned.build_args.insert("MODE".into(), "prod".into());
        planned.cache_from = vec!["cache:latest".into()];
        planned.no_cache = true;
        planned.network_mode = Some("host".into());
        planned.shm_size = Some(64 << 20);
        planned.pull = Some(true);
        planned.rm = false;
        planned.force_rm = false;
        planned.target = Some("runtime".into());
        planned.platform = Some("linux/amd64".into());
        planned.extra_hosts = vec!["db:10.0.0.2".into()];
        planned.squash = Some(true);
        planned.container_limits = ContainerLimits {
            memory: Some(512 << 20),
            memswap: Some(-1),
            cpushares: Some(512),
            cpusetcpus: Some("0-1".into()),
            cpuperiod: Some(100_000),
            cpuquota: Some(50_000),
        };
        let o = build_options(&job, None);
        assert_eq!(o.buildargs.unwrap()["MODE"], "prod");
        assert_eq!(o.cachefrom, Some(vec!["cache:latest".to_string()]));
        assert!(o.nocache);
        assert_eq!(o.networkmode.as_deref(), Some("host"));
        assert_eq!(o.shmsize, Some(64 << 20));
        assert_eq!(o.pull.as_deref(), Some("true"));
        assert!(!o.rm && !o.forcerm);
        assert_eq!(
            (o.target.as_str(), o.platform.as_str()),
            ("runtime", "linux/amd64")
        );
        assert_eq!(o.extrahosts.as_deref(), Some("db:10.0.0.2"));
        assert_eq!(o.squash, Some(true));
        assert_eq!((o.memory, o.memswap), (Some(512 << 20), Some(-1)));
        assert_eq!(
            (o.cpushares, o.cpusetcpus.as_deref()),
            (Some(512), Some("0-1"))
        );
        assert_eq!((o.cpuperiod, o.cpuquota), (Some(100_000), Some(50_000)));
        let defaults = build_options(&BuildJob::new("k", Box::new(|_| Ok(()))), None);
        assert!(
            defaults.rm && defaults.forcerm,
            "no containers left behind by default"
        );
    }

    #[test]
    fn buildkit_builds_get_a_fresh_session() {
        let mut job = BuildJob::new("k", Box::new(|_| Ok(())));
        job.builder = Builder::BuildKit;
        let options = build_options(&job, None);
        assert_eq!(options.version, BuilderVersion::BuilderBuildKit);
        assert!(options.session.unwrap().starts_with("dockwright-"));
        assert_eq!(
            build_options(&BuildJob::new("k", Box::new(|_| Ok(()))), None).session,
            None
        );
    }
}
