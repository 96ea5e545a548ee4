//! From a plan to running containers: build (or reuse) each planned image in order, tag and
//! optionally push it, record it, then run the pipeline's steps as containers in dependency
//! order, several at a time when they are independent. The first failed step stops the run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use tokio::task::JoinSet;

use crate::base_image;
use crate::engine::{
    BuildJob, BuildProgress, Builder, ContainerSpec, Engine, EngineError, LogLine, RegistryAuth,
    VolumeMount,
};
use crate::plan::{ImageKind, ImagePlan, Plan};
use crate::records::{Record, Records};
use crate::settings::Pipeline;

/// Where the shared artifact volume is mounted in every step's container.
pub const ARTIFACTS_PATH: &str = "/artifacts";

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    // The cause is part of the message and deliberately not a `source`: printed as a
    // chain (`{:#}`), it would appear twice.
    #[error("image {image}: {error}")]
    Engine { image: String, error: EngineError },
    #[error("image {image}: the build context could not be prepared: {message}")]
    Context { image: String, message: String },
    #[error("the parent image {image} is not on this engine and could not be pulled: {message}")]
    MissingParent { image: String, message: String },
    #[error("recording the build of {image}: {error}")]
    Record {
        image: String,
        error: std::io::Error,
    },
    #[error("step `{step}` failed with exit status {code}")]
    StepFailed { step: String, code: i64 },
    #[error("step `{step}` has no image in the plan")]
    NoImage { step: String },
}

/// What happened to one planned image.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImageResult {
    pub name: String,
    pub build_key: String,
    pub image_id: String,
    /// Used as is (a parent image).
    pub existing: bool,
    /// An image with the build key existed: nothing was built, no context sent.
    pub reused: bool,
    pub pushed_digest: Option<String>,
}

pub struct BuildOptions {
    pub push: bool,
    pub auth: RegistryAuth,
    pub lock_dir: PathBuf,
    pub records: Records,
}

/// Builds or reuses every image of the plan, in order. Stops at the first failure; nothing
/// is recorded for an image that was not built.
pub async fn build_images(
    engine: &Engine,
    plan: &Plan,
    options: &BuildOptions,
    progress: &mut dyn FnMut(&ImagePlan) -> Box<dyn BuildProgress>,
) -> Result<Vec<ImageResult>, RunError> {
    let mut results = Vec::new();
    let finals = final_images(plan);
    let planned: BTreeSet<&str> = plan.images.iter().map(|i| i.name.as_str()).collect();
    for image in &plan.images {
        let reused = match image.kind {
            ImageKind::Parent => None,
            _ => already_tagged(engine, image).await?,
        };
        let mut result = match reused {
            Some(result) => result,
            None => {
                let from = match image.kind {
                    ImageKind::Parent => Some(image.name.as_str()),
                    _ => image.parent.as_deref().filter(|p| !planned.contains(p)),
                };
                if let Some(from) = from.filter(|f| base_image::is_bootstrappable(f)) {
                    ensure_base_image(engine, from).await?;
                }
                match image.kind {
                    ImageKind::Parent => use_parent(engine, image).await?,
                    _ => build_image(engine, image, options, progress(image)).await?,
                }
            }
        };
        if result.existing {
            results.push(result);
            continue;
        }
        // Recorded before the push, so a refused push leaves the build on record but
        // nothing recorded as pushed that was not.
        write_record(options, image, &result)?;
        if options.push && finals.contains(&image.name) {
            let pushed = engine
                .push(&image.name, &options.auth)
                .await
                .map_err(|source| RunError::Engine {
                    image: image.name.clone(),
                    error: source,
                })?;
            result.pushed_digest = Some(pushed.digest);
            write_record(options, image, &result)?;
        }
        results.push(result);
    }
    Ok(results)
}

/// The image when its name already points at an image carrying its build key: the no-op
/// build then costs one request (listing images by label and re-tagging, the general path
/// of a reuse, are the slow part of it).
async fn already_tagged(
    engine: &Engine,
    image: &ImagePlan,
) -> Result<Option<ImageResult>, RunError> {
    if !image.build.as_ref().is_some_and(|spec| spec.reuse) {
        return Ok(None);
    }
    let inspected = match engine.docker().inspect_image(&image.name).await {
        Ok(inspected) => inspected,
        Err(crate::engine::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }) => return Ok(None),
        Err(error) => {
            return Err(RunError::Engine {
                image: image.name.clone(),
                error: EngineError::request(format!("inspecting image {}", image.name), error),
            });
        }
    };
    let key = inspected
        .config
        .as_ref()
        .and_then(|config| config.labels.as_ref())
        .and_then(|labels| labels.get(crate::plan::BUILD_KEY_LABEL));
    Ok(inspected
        .id
        .filter(|_| key == Some(&image.build_key))
        .map(|id| ImageResult {
            name: image.name.clone(),
            build_key: image.build_key.clone(),
            image_id: id,
            existing: false,
            reused: true,
            pushed_digest: None,
        }))
}

fn write_record(
    options: &BuildOptions,
    image: &ImagePlan,
    result: &ImageResult,
) -> Result<(), RunError> {
    let record = Record {
        name: image.name.clone(),
        build_key: image.build_key.clone(),
        key_inputs: image.key_inputs.clone(),
        image_id: result.image_id.clone(),
        pushed_digest: result.pushed_digest.clone(),
    };
    options
        .records
        .write(&record)
        .map_err(|source| RunError::Record {
            image: image.name.clone(),
            error: source,
        })
}

/// Makes Dockwright's own base image when the engine lacks it (it cannot be pulled).
async fn ensure_base_image(engine: &Engine, image: &str) -> Result<(), RunError> {
    let present = engine
        .image_id(image)
        .await
        .map_err(|source| RunError::Engine {
            image: image.into(),
            error: source,
        })?;
    if present.is_none() {
        let image = image.to_string();
        tokio::task::spawn_blocking(move || base_image::ensure(&image))
            .await
            .expect("the bootstrap task panicked")
            .map_err(|message| RunError::MissingParent {
                image: "dockwright-base".into(),
                message,
            })?;
    }
    Ok(())
}

/// Images no other image is built on: the ones steps run in, and the ones pushed.
fn final_images(plan: &Plan) -> BTreeSet<String> {
    let parents: BTreeSet<&str> = plan
        .images
        .iter()
        .filter_map(|i| i.parent.as_deref())
        .collect();
    plan.images
        .iter()
        .filter(|i| !parents.contains(i.name.as_str()))
        .map(|i| i.name.clone())
        .collect()
}

async fn use_parent(engine: &Engine, image: &ImagePlan) -> Result<ImageResult, RunError> {
    let fail = |source| RunError::Engine {
        image: image.name.clone(),
        error: source,
    };
    let id = match engine.image_id(&image.name).await.map_err(fail)? {
        Some(id) => id,
        None => pull(engine, &image.name).await?,
    };
    Ok(ImageResult {
        name: image.name.clone(),
        build_key: image.build_key.clone(),
        image_id: id,
        existing: true,
        reused: false,
        pushed_digest: None,
    })
}

/// Pulls a parent image the engine does not have, and returns its id.
async fn pull(engine: &Engine, name: &str) -> Result<String, RunError> {
    use futures_util::StreamExt;
    let options = crate::engine::bollard::query_parameters::CreateImageOptionsBuilder::default()
        .from_image(name)
        .build();
    let mut stream = engine.docker().create_image(Some(options), None, None);
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            return Err(RunError::MissingParent {
                image: name.into(),
                message: e.to_string(),
            });
        }
    }
    match engine.image_id(name).await {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(RunError::MissingParent {
            image: name.into(),
            message: "the pull reported no image".into(),
        }),
        Err(e) => Err(RunError::MissingParent {
            image: name.into(),
            message: e.to_string(),
        }),
    }
}

async fn build_image(
    engine: &Engine,
    image: &ImagePlan,
    options: &BuildOptions,
    mut progress: Box<dyn BuildProgress>,
) -> Result<ImageResult, RunError> {
    let spec = image
        .build
        .as_ref()
        .expect("a built image has a build spec");
    let context = spec.context().map_err(|e| RunError::Context {
        image: image.name.clone(),
        message: e.to_string(),
    })?;
    let mut job = BuildJob::new(
        image.build_key.clone(),
        Box::new(move |w| {
            context
                .write_tar(w)
                .map(drop)
                .map_err(std::io::Error::other)
        }),
    );
    job.tags = vec![image.name.clone()];
    job.dockerfile = spec.dockerfile_path.clone();
    job.labels = spec.labels.clone();
    job.build_args = spec.build_args.clone();
    job.no_cache = spec.no_cache;
    job.pull = spec.pull.unwrap_or(false);
    job.target = option_string(&spec.options, "target");
    job.network_mode = option_string(&spec.options, "network_mode");
    job.platform = option_string(&spec.options, "platform");
    job.builder = if spec.buildkit {
        Builder::BuildKit
    } else {
        Builder::Classic
    };
    let fail = |source| RunError::Engine {
        image: image.name.clone(),
        error: source,
    };
    let (built, reused) = if spec.reuse {
        let outcome = engine
            .build_once(job, progress.as_mut(), &options.lock_dir)
            .await
            .map_err(fail)?;
        (outcome.image, outcome.reused)
    } else {
        (
            engine.build(job, progress.as_mut()).await.map_err(fail)?,
            false,
        )
    };
    Ok(ImageResult {
        name: image.name.clone(),
        build_key: image.build_key.clone(),
        image_id: built.id,
        existing: false,
        reused,
        pushed_digest: None,
    })
}

fn option_string(options: &BTreeMap<String, serde_json::Value>, key: &str) -> Option<String> {
    options.get(key).and_then(|v| v.as_str()).map(String::from)
}

/// How to run the steps.
pub struct RunOptions {
    /// Steps run at the same time, at most.
    pub jobs: usize,
    /// Keep finished containers.
    pub keep: bool,
    /// The named volume shared by the steps, mounted at [`ARTIFACTS_PATH`].
    pub volume: String,
}

/// Runs the pipeline's steps in dependency order, each in its image; stops at the first
/// failed step (letting the ones already running finish) and reports it.
pub async fn run_steps(
    engine: &Engine,
    pipeline: &Pipeline,
    plan: &Plan,
    options: &RunOptions,
    on_line: impl Fn(&LogLine) + Send + Sync + Clone + 'static,
) -> Result<(), RunError> {
    let mut specs = BTreeMap::new();
    for step in &pipeline.steps {
        let image = plan
            .images
            .iter()
            .rev()
            .find(|i| i.steps.contains(&step.name))
            .ok_or_else(|| RunError::NoImage {
                step: step.name.clone(),
            })?;
        let mut env = step.docker.runtime_environment.clone();
        env.extend(step.environment.clone());
        env.insert("DOCKWRIGHT_ARTIFACTS".into(), ARTIFACTS_PATH.into());
        env.insert("DOCKWRIGHT_STEP".into(), step.name.clone());
        specs.insert(
            step.name.clone(),
            ContainerSpec {
                step: step.name.clone(),
                image: image.name.clone(),
                command: step.command.clone(),
                env,
                volume: Some(VolumeMount {
                    volume: options.volume.clone(),
                    target: ARTIFACTS_PATH.into(),
                }),
                keep: options.keep,
                ..ContainerSpec::default()
            },
        );
    }
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut running = JoinSet::new();
    let mut failure: Option<RunError> = None;
    loop {
        if failure.is_none() {
            for step in pipeline.execution_order() {
                if running.len() >= options.jobs.max(1) {
                    break;
                }
                let ready = step.after.iter().all(|a| done.contains(a));
                if ready && started.insert(step.name.clone()) {
                    let spec = specs[&step.name].clone();
                    let engine = engine.clone();
                    let on_line = on_line.clone();
                    running.spawn(async move {
                        let mut sink = |line: &LogLine| on_line(line);
                        let exit = engine.run_container(&spec, &mut sink).await;
                        (spec.step, exit)
                    });
                }
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (step, exit) = joined.expect("a step task panicked");
        match exit {
            Ok(exit) if exit.success() => {
                done.insert(step);
            }
            Ok(exit) => {
                failure.get_or_insert(RunError::StepFailed {
                    step,
                    code: exit.code,
                });
            }
            Err(source) => {
                failure.get_or_insert(RunError::Engine {
                    image: format!("step {step}"),
                    error: source,
                });
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
