//! Running a pipeline's steps as containers, once their images are on the engine
//! ([`crate::images`]): in dependency order, several at a time when they are independent,
//! each in the image built for it (by image ID), with the shared artifact volume. The first failed step
//! stops the run.

use std::collections::{BTreeMap, BTreeSet};

use tokio::task::JoinSet;

use crate::engine::{ContainerSpec, Engine, EngineError, Interrupt, LogLine, VolumeMount};
use crate::images::ImageResult;
use crate::plan::Plan;
use crate::settings::Pipeline;

/// Where the shared artifact volume is mounted in every step's container.
pub const ARTIFACTS_PATH: &str = "/artifacts";

/// The label naming the pipeline on each step's container.
pub const PIPELINE_LABEL: &str = "dockwright.pipeline";

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("step `{step}` failed with exit status {code}")]
    StepFailed { step: String, code: i64 },
    #[error("step `{step}` has no image in the plan")]
    NoImage { step: String },
    // The cause is part of the message and deliberately not a `source`: printed as a
    // chain (`{:#}`), it would appear twice.
    #[error("step {step}: {error}")]
    Engine { step: String, error: EngineError },
    #[error("{}", interrupted(.steps))]
    Interrupted { steps: Vec<String> },
}

fn interrupted(steps: &[String]) -> String {
    if steps.is_empty() {
        return "interrupted: no step was running, and none was started after".to_string();
    }
    format!(
        "interrupted: stopped and removed the container(s) of step(s) {}",
        steps.join(", ")
    )
}

/// The named volume the steps of `pipeline` share.
pub fn artifacts_volume(pipeline: &Pipeline) -> String {
    format!(
        "dockwright-{}-artifacts",
        crate::plan::sanitize_tag(&pipeline.name).unwrap_or_default()
    )
}

/// How to run the steps.
pub struct RunOptions {
    /// Steps run at the same time, at most.
    pub jobs: usize,
    /// Keep finished containers.
    pub keep: bool,
    /// The named volume shared by the steps, mounted at [`ARTIFACTS_PATH`].
    pub volume: String,
    /// Ctrl-C: no step starts after it, running ones are stopped and their containers
    /// removed.
    pub interrupt: Interrupt,
}

/// Runs the pipeline's steps in dependency order, each in its image; stops at the first
/// failed step (letting the ones already running finish) and reports it. Interrupted, it
/// stops the running steps, removes their containers and says which.
pub async fn run_steps(
    engine: &Engine,
    pipeline: &Pipeline,
    plan: &Plan,
    images: &[ImageResult],
    options: &RunOptions,
    on_line: impl Fn(&LogLine) + Send + Sync + Clone + 'static,
) -> Result<(), RunError> {
    let mut specs = BTreeMap::new();
    for step in &pipeline.steps {
        // The step's image is the last planned for it, run by the ID it was built (or
        // found) as: a name another build may have taken since is never asked.
        let image = plan
            .images
            .iter()
            .zip(images)
            .rev()
            .find(|(planned, _)| planned.steps.contains(&step.name))
            .map(|(_, built)| built)
            .ok_or_else(|| RunError::NoImage {
                step: step.name.clone(),
            })?;
        let mut env: BTreeMap<String, String> = step
            .docker
            .runtime_environment
            .clone()
            .into_iter()
            .collect();
        env.extend(step.environment.clone());
        env.insert("DOCKWRIGHT_ARTIFACTS".into(), ARTIFACTS_PATH.into());
        env.insert("DOCKWRIGHT_STEP".into(), step.name.clone());
        specs.insert(
            step.name.clone(),
            ContainerSpec {
                step: step.name.clone(),
                image: image.image_id.clone(),
                command: step.command.clone(),
                env,
                volume: Some(VolumeMount {
                    volume: options.volume.clone(),
                    target: ARTIFACTS_PATH.into(),
                }),
                keep: options.keep,
                labels: [(PIPELINE_LABEL.to_string(), pipeline.name.clone())].into(),
                ..ContainerSpec::default()
            },
        );
    }
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut running = JoinSet::new();
    let mut failure: Option<RunError> = None;
    let mut stopped: Vec<String> = Vec::new();
    loop {
        if failure.is_none() && !options.interrupt.is_set() {
            for step in pipeline.execution_order() {
                if running.len() >= options.jobs.max(1) {
                    break;
                }
                let ready = step.after.iter().all(|a| done.contains(a));
                if ready && started.insert(step.name.clone()) {
                    let spec = specs[&step.name].clone();
                    let engine = engine.clone();
                    let on_line = on_line.clone();
                    let interrupt = options.interrupt.clone();
                    running.spawn(async move {
                        let mut sink = |line: &LogLine| on_line(line);
                        let exit = engine
                            .run_container_until(&spec, &mut sink, interrupt)
                            .await;
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
            Err(EngineError::Interrupted) => stopped.push(step),
            Err(source) => {
                failure.get_or_insert(RunError::Engine {
                    step,
                    error: source,
                });
            }
        }
    }
    if options.interrupt.is_set() {
        stopped.sort();
        return Err(RunError::Interrupted { steps: stopped });
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
