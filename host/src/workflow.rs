//! The whole flow up to a plan, for one pipeline file: settings → plugins → requirements →
//! plan. The CLI's `requirements`, `plan`, `build` and `run` commands all start here.

use std::path::Path;

use crate::context::HashCache;
use crate::plan::{self, ImageInputs, Plan, PlanError};
use crate::plugins::lock::{self, LockError, LockOutcome, Locked};
use crate::plugins::sources::{self, SourceError};
use crate::plugins::{Platform, Registry};
use crate::requirements::{self, InvalidLine, RequirementSet};
use crate::settings::{self, DockerSettings, Pipeline, SettingsError};

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Sources(#[from] SourceError),
    #[error(transparent)]
    Requirements(#[from] InvalidLine),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// One distinct docker settings of the pipeline, the steps that use it and its merged
/// requirements.
pub struct SettingsGroup {
    pub docker: DockerSettings,
    pub steps: Vec<String>,
    pub platform: Platform,
    pub requirements: RequirementSet,
    pub plugin_digests: Vec<String>,
}

/// A loaded pipeline with its requirements gathered.
pub struct Gathered {
    pub pipeline: Pipeline,
    pub groups: Vec<SettingsGroup>,
}

/// Loads the pipeline file and asks the requirement sources, once per distinct settings.
/// The plugins the pipeline pins must be installed at a matching version first.
pub fn gather(path: &Path, registry: &Registry) -> Result<Gathered, FlowError> {
    let pipeline = settings::load(path)?;
    lock::check_pins(&pipeline, registry)?;
    let mut groups: Vec<SettingsGroup> = Vec::new();
    let mut distinct: Vec<(DockerSettings, Vec<String>)> = Vec::new();
    if pipeline.steps.is_empty() {
        distinct.push((pipeline.docker.clone(), Vec::new()));
    }
    for step in &pipeline.steps {
        match distinct
            .iter_mut()
            .find(|(docker, _)| *docker == step.docker)
        {
            Some((_, steps)) => steps.push(step.name.clone()),
            None => distinct.push((step.docker.clone(), vec![step.name.clone()])),
        }
    }
    for (docker, steps) in distinct {
        let platform = plan::platform_for(&docker);
        let sourced = if docker.skip_build {
            Vec::new()
        } else {
            sources::gather(registry, &pipeline, &docker, &platform)?
        };
        let requirements = requirements::merge(&sourced, &platform)?;
        let plugin_digests = sourced.iter().map(|s| s.digest.clone()).collect();
        groups.push(SettingsGroup {
            docker,
            steps,
            platform,
            requirements,
            plugin_digests,
        });
    }
    Ok(Gathered { pipeline, groups })
}

/// The plugins this gathering used, as `dockwright.lock` records them: every plugin that
/// contributed to some image, and every plugin the pipeline pins.
pub fn used_plugins(gathered: &Gathered, registry: &Registry) -> Vec<Locked> {
    let digests: Vec<&String> = gathered
        .groups
        .iter()
        .flat_map(|g| &g.plugin_digests)
        .collect();
    registry
        .plugins
        .iter()
        .filter(|p| {
            digests.contains(&&p.digest)
                || gathered
                    .pipeline
                    .plugins
                    .iter()
                    .any(|pin| pin.name == p.manifest.name)
        })
        .map(Locked::of)
        .collect()
}

/// Checks the pipeline's `dockwright.lock` against the plugins this gathering used, and
/// writes it when it is new or gained or lost entries (or, with `update`, changed). A
/// pipeline that pins no plugin and uses only built-in ones gets no lock unless `update`.
pub fn check_lock(
    gathered: &Gathered,
    registry: &Registry,
    update: bool,
) -> Result<LockOutcome, FlowError> {
    let used = used_plugins(gathered, registry);
    let needed =
        !gathered.pipeline.plugins.is_empty() || used.iter().any(|p| p.source != "built-in");
    Ok(lock::check_and_write(
        &lock::path_for(&gathered.pipeline),
        &used,
        needed,
        update,
    )?)
}

/// Plans the gathered pipeline. With `strict`, a requirements conflict is an error.
pub fn plan(gathered: &Gathered, cache: &mut HashCache, strict: bool) -> Result<Plan, FlowError> {
    if strict {
        let conflicts: Vec<String> = gathered
            .groups
            .iter()
            .flat_map(|g| g.requirements.conflicts.iter().map(ToString::to_string))
            .collect();
        if !conflicts.is_empty() {
            return Err(PlanError::Conflicts { conflicts }.into());
        }
    }
    let inputs: Vec<ImageInputs<'_>> = gathered
        .groups
        .iter()
        .map(|g| ImageInputs {
            docker: &g.docker,
            requirements: &g.requirements,
            plugin_digests: g.plugin_digests.clone(),
            steps: g.steps.clone(),
        })
        .collect();
    Ok(plan::plan(&gathered.pipeline, &inputs, cache)?)
}
