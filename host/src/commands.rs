//! One entry point per command, returning data: the CLI parses its arguments, calls one of
//! these and prints what comes back. Each follows the data flow of DESIGN.md §1 as far as its
//! command goes:
//!
//! ```text
//! requirements: settings → plugins → requirements
//! plan:         … → plan (with dockwright.lock checked)
//! build:        … → engine (images)
//! run:          … → engine → run (steps)
//! run on Kubernetes: … → registry → engine (only what the registry lacks) → Jobs
//! ```

use std::path::{Path, PathBuf};

use crate::Dirs;
use crate::context::HashCache;
use crate::contribution::Platform;
use crate::engine::{BuildProgress, Engine, EngineError, Interrupt, LogLine, RegistryAuth};
pub use crate::images::RegistryLookup;
use crate::images::{self, ImageResult, ImagesError, ImagesOptions};
use crate::install_history::InstallHistory;
use crate::kubernetes::{self, Kubernetes};
use crate::plan::{self, ImageInputs, ImagePlan, Plan, PlanError};
use crate::plugins::distribution::lock::{self, LockError, LockOutcome, Locked};
use crate::plugins::sources::{self, PluginLog, SourceError};
use crate::plugins::{Integration, Limits, Registry};
use crate::records::{self, Records};
use crate::requirements::{self, InvalidLine, RequirementSet};
use crate::run::{self, RunError, RunOptions};
use crate::settings::{self, DockerSettings, Pipeline, SettingsError};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Plugins(anyhow::Error),
    #[error(transparent)]
    Sources(#[from] SourceError),
    #[error(transparent)]
    Requirements(#[from] InvalidLine),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Images(#[from] ImagesError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    KubeClient(#[from] dockwright_kube::ClientError),
    #[error(transparent)]
    Manifests(#[from] dockwright_kube::ManifestError),
    #[error("{0}")]
    NotPushed(String),
    // Boxed: a run's failure is large, and every other result would carry its size.
    #[error(transparent)]
    Kubernetes(Box<dockwright_kube::KubeRunError>),
}

impl From<dockwright_kube::KubeRunError> for Error {
    fn from(error: dockwright_kube::KubeRunError) -> Self {
        Error::Kubernetes(Box::new(error))
    }
}

/// What every command runs with: where Dockwright keeps its files, and the plugin limits.
#[derive(Clone, Debug)]
pub struct Host {
    pub dirs: Dirs,
    pub limits: Limits,
}

impl Host {
    /// The built-in and installed plugins.
    pub fn registry(&self) -> Result<Registry, Error> {
        let mut registry =
            Registry::load(&self.dirs.cache, &self.dirs.plugins, self.limits.clone())
                .map_err(Error::Plugins)?;
        registry.runtime.remember_calls_in(self.dirs.calls.clone());
        Ok(registry)
    }

    fn records(&self) -> Records {
        Records::new(records::dir_for(&self.dirs.builds))
    }

    fn install_history(&self) -> InstallHistory {
        InstallHistory::in_dir(&self.dirs.installs)
    }
}

/// The pipeline a command works on, and how strictly.
#[derive(Clone, Debug)]
pub struct PipelineArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// A requirements conflict is an error.
    pub strict: bool,
    /// Accept and record plugins whose version or digest differs from `dockwright.lock`.
    pub update_lock: bool,
}

/// One distinct docker settings of the pipeline, the steps that use it and its merged
/// requirements.
pub struct SettingsGroup {
    pub docker: DockerSettings,
    pub steps: Vec<String>,
    pub platform: Platform,
    pub requirements: RequirementSet,
    pub plugin_digests: Vec<String>,
    /// The image these steps run in, which their requirements are installed in.
    pub image: String,
}

/// A loaded pipeline with its requirements gathered.
pub struct Gathered {
    pub pipeline: Pipeline,
    pub groups: Vec<SettingsGroup>,
    /// The warnings and errors the plugins logged.
    pub logs: Vec<PluginLog>,
}

/// A pipeline planned: what `plan` shows, and what `build` and `run` go on from.
pub struct Planned {
    pub gathered: Gathered,
    pub plan: Plan,
    /// What happened to `dockwright.lock`.
    pub lock: LockOutcome,
}

impl Planned {
    /// Everything the user should be warned about, each once: the plan's warnings, then what
    /// the plugins logged.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .plan
            .warnings
            .iter()
            .map(|w| format!("warning: {w}"))
            .collect();
        for log in &self.gathered.logs {
            let line = log.to_string();
            if !out.contains(&line) {
                out.push(line);
            }
        }
        out
    }

    /// Whether the final images are pushed: asked for, or the stack has a registry.
    pub fn pushes(&self, asked: bool) -> bool {
        asked || plan::container_registry(&self.gathered.pipeline).is_some()
    }
}

/// `dockwright requirements`: the pipeline's requirement groups, each line with its origin.
pub fn requirements(host: &Host, file: &Path) -> Result<Gathered, Error> {
    let registry = host.registry()?;
    let gathered = gather(file, &registry);
    keep_until_exit(registry);
    gathered
}

/// Leaves the loaded plugins to the process's exit instead of dropping them: unmapping
/// wasmtime's code and tearing down its engine one piece at a time cost about a tenth of a
/// `plan` of a small pipeline, and a command loads them once.
fn keep_until_exit(registry: Registry) {
    std::mem::forget(registry);
}

/// `dockwright plan`: the images the pipeline needs, without Docker.
pub fn plan(host: &Host, args: &PipelineArgs) -> Result<Planned, Error> {
    let registry = host.registry()?;
    let gathered = gather(&args.file, &registry)?;
    let lock = check_lock(&gathered, &registry, args.update_lock)?;
    let mut cache = HashCache::open(&host.dirs.context_hashes);
    let plan = plan_gathered(&gathered, &mut cache, &host.install_history(), args.strict)?;
    // Only a cache: failing to save it costs speed next time, not correctness.
    let _ = cache.save();
    keep_until_exit(registry);
    Ok(Planned {
        gathered,
        plan,
        lock,
    })
}

/// `dockwright plan --explain`: per image, why it will be built or reused, against the
/// records of earlier builds and, when an engine answers, what the images they were built
/// from are now (the plan itself stays pure: this only reads). An image the stack's registry
/// has (`registry`, see [`look_in_registry`]) is "found in registry" unless this machine's
/// last build of it is unchanged.
pub async fn explain(host: &Host, plan: &Plan, registry: &RegistryLookup) -> Vec<Vec<String>> {
    let records = host.records();
    let last: Vec<_> = plan.images.iter().map(|i| records.last(&i.name)).collect();
    let now = parents_now(last.iter().flatten()).await;
    let mut out: Vec<Vec<String>> = Vec::new();
    for (image, last) in plan.images.iter().zip(&last) {
        let mut why = match image.kind {
            plan::ImageKind::Parent => vec!["used as is: nothing to add to it".to_string()],
            _ => match registry.found.get(&image.name) {
                Some(remote) if last.as_ref().is_none_or(|r| r.build_key != image.build_key) => {
                    vec![format!(
                        "found in registry ({}): it will be reused without building",
                        remote.digest
                    )]
                }
                _ => match registry.stale.get(&image.name) {
                    Some(parent) => vec![
                        "changed since the build in the registry: it will be built".to_string(),
                        format!("parent changed: {parent} is another image in the registry now"),
                    ],
                    None => records::explain(image, last.as_ref(), &now),
                },
            },
        };
        // An image built on one that is rebuilt first is rebuilt too.
        let rebuilt_parent = image.from.iter().find(|from| {
            plan.images
                .iter()
                .zip(&out)
                .any(|(p, why)| &p.name == *from && why.iter().any(|l| l.ends_with("be built")))
        });
        if let (Some(from), Some(first)) = (rebuilt_parent, why.first())
            && first.starts_with("unchanged")
        {
            why = vec![
                "changed since the last build: it will be built".to_string(),
                format!("parent changed: {from} is built first"),
            ];
        }
        out.push(why);
    }
    out
}

/// The image IDs the engine has now under the names the records' builds started from;
/// empty when no engine answers (then nothing is said about parents).
async fn parents_now<'r>(
    records: impl Iterator<Item = &'r records::Record>,
) -> std::collections::BTreeMap<String, String> {
    let mut now = std::collections::BTreeMap::new();
    let names: std::collections::BTreeSet<&String> =
        records.flat_map(|r| r.parents.keys()).collect();
    if names.is_empty() {
        return now;
    }
    let Ok(engine) = Engine::connect().await else {
        return now;
    };
    for name in names {
        if let Ok(Some(id)) = engine.image_id(name).await {
            now.insert(name.clone(), id);
        }
    }
    now
}

/// `dockwright build`: builds (or reuses) every planned image, pushing the final ones when
/// `push`. `progress` gives each image's build a progress display; `interrupt` (Ctrl-C)
/// abandons the build or push under way.
pub async fn build(
    host: &Host,
    planned: &Planned,
    push: bool,
    registry: RegistryLookup,
    progress: &mut dyn FnMut(&ImagePlan) -> Box<dyn BuildProgress>,
    interrupt: Interrupt,
) -> Result<Vec<ImageResult>, Error> {
    let engine = Engine::connect().await?;
    let mut options = images_options(host, planned, push, registry, false);
    options.interrupt = interrupt;
    Ok(images::build_images(&engine, &planned.plan, &options, progress).await?)
}

/// How `dockwright run` runs the steps.
#[derive(Clone, Debug)]
pub struct RunArgs {
    /// Steps run at the same time, at most.
    pub jobs: usize,
    /// Keep the steps' containers.
    pub keep: bool,
    /// Push the final images.
    pub push: bool,
    /// What the stack's registry has (see [`look_in_registry`]).
    pub registry: RegistryLookup,
    /// Ctrl-C: stops the build, push or steps under way (step containers are removed).
    pub interrupt: Interrupt,
}

/// Where the steps run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orchestrator {
    /// As containers on the Docker engine.
    Local,
    /// As Kubernetes Jobs.
    Kubernetes,
}

/// The orchestrator asked for, else the stack's (`orchestrator` flavor `kubernetes`), else
/// local.
pub fn orchestrator(planned: &Planned, asked: Option<Orchestrator>) -> Orchestrator {
    asked.unwrap_or(if kubernetes::is_default(&planned.gathered.pipeline) {
        Orchestrator::Kubernetes
    } else {
        Orchestrator::Local
    })
}

/// The pipeline's Kubernetes settings, checked (errors point into the stack or pipeline
/// file): called before anything is built.
pub fn kubernetes_settings(planned: &Planned) -> Result<Kubernetes, Error> {
    Ok(kubernetes::settings(&planned.gathered.pipeline)?)
}

/// Asks the stack's registry for the images before building (nothing, and no lookup, when
/// `reuse` is off, nothing is pushed, or the stack has no registry).
pub async fn look_in_registry(planned: &Planned, push: bool, reuse: bool) -> RegistryLookup {
    match plan::container_registry(&planned.gathered.pipeline) {
        Some(registry) if reuse && planned.pushes(push) => {
            images::look_in_registry(&planned.plan, registry, &RegistryAuth::FromDockerConfig).await
        }
        _ => RegistryLookup::default(),
    }
}

/// What a Kubernetes run did.
pub enum KubernetesRun {
    /// `--dry-run`: the Jobs as YAML, one document per Job in run order.
    Manifests {
        images: Vec<ImageResult>,
        yaml: String,
    },
    /// Every step's Job succeeded.
    Ran {
        images: Vec<ImageResult>,
        summary: dockwright_kube::RunSummary,
    },
}

/// `dockwright run --orchestrator kubernetes`: the images built (or found in the registry)
/// and pushed, then one Job per step on them by digest, created on the cluster of the
/// kubeconfig (or, with `dry_run`, written as YAML), at most `jobs` unfinished at once.
/// Ctrl-C (`cancel`) deletes the run's Jobs.
#[allow(clippy::too_many_arguments)] // one per thing the run needs; a struct would only wrap them
pub async fn run_kubernetes(
    host: &Host,
    planned: &Planned,
    kubernetes: &Kubernetes,
    registry: RegistryLookup,
    dry_run: bool,
    jobs: usize,
    progress: &mut dyn FnMut(&ImagePlan) -> Box<dyn BuildProgress>,
    on_line: impl Fn(dockwright_kube::LogLine),
    cancel: impl std::future::Future<Output = ()>,
) -> Result<KubernetesRun, Error> {
    let pipeline = &planned.gathered.pipeline;
    let options = images_options(host, planned, true, registry, false);
    // Everything in the registry already: nothing to build, no engine needed.
    let images = if options.registry.has_all(&planned.plan) {
        images::record_found(&planned.plan, &options)?
    } else {
        let engine = Engine::connect().await?;
        images::build_images(&engine, &planned.plan, &options, progress).await?
    };
    let steps = kubernetes::step_jobs(pipeline, &planned.plan, &images, kubernetes)
        .map_err(Error::NotPushed)?;
    let identity = dockwright_kube::RunIdentity {
        pipeline: pipeline.name.clone(),
        run_id: kubernetes::new_run_id(),
    };
    if dry_run {
        let jobs = dockwright_kube::job_manifests(&identity, &steps, &kubernetes.settings)?;
        let yaml = dockwright_kube::manifests_yaml(&jobs);
        return Ok(KubernetesRun::Manifests { images, yaml });
    }
    let plans = dockwright_kube::plan_jobs(&identity, &steps, &kubernetes.settings)?;
    let client = dockwright_kube::client(kubernetes.settings.context.as_deref()).await?;
    let namespace = if kubernetes.namespace_given {
        kubernetes.settings.namespace.clone()
    } else {
        client.default_namespace().to_string()
    };
    let run_options = dockwright_kube::RunOptions {
        max_parallel: jobs.max(1),
        ..dockwright_kube::RunOptions::from_settings(&kubernetes.settings)
    };
    let summary =
        dockwright_kube::run_jobs(client, &namespace, plans, &run_options, on_line, cancel).await?;
    Ok(KubernetesRun::Ran { images, summary })
}

/// `dockwright run`: builds (or reuses) the images, then runs the steps in dependency order.
pub async fn run(
    host: &Host,
    planned: &Planned,
    args: &RunArgs,
    progress: &mut dyn FnMut(&ImagePlan) -> Box<dyn BuildProgress>,
    on_line: impl Fn(&LogLine) + Send + Sync + Clone + 'static,
) -> Result<Vec<ImageResult>, Error> {
    let engine = Engine::connect().await?;
    let mut options = images_options(host, planned, args.push, args.registry.clone(), true);
    options.interrupt = args.interrupt.clone();
    let images = images::build_images(&engine, &planned.plan, &options, progress).await?;
    let pipeline = &planned.gathered.pipeline;
    let options = RunOptions {
        jobs: args.jobs,
        keep: args.keep,
        volume: run::artifacts_volume(pipeline),
        interrupt: args.interrupt.clone(),
    };
    run::run_steps(&engine, pipeline, &planned.plan, &images, &options, on_line).await?;
    Ok(images)
}

/// One integration and the provider that offers it.
pub struct Offered {
    /// `name version` of the provider.
    pub provider: String,
    pub integration: Integration,
}

/// `dockwright integrations list`: every installed provider's catalogue.
pub fn integrations(host: &Host) -> Result<Vec<Offered>, Error> {
    let registry = host.registry()?;
    let platform = Platform::default();
    let mut out = Vec::new();
    for plugin in registry
        .plugins
        .iter()
        .filter(|p| p.manifest.group == crate::contribution::Group::Integrations)
    {
        let catalogue = registry
            .runtime
            .catalogue(plugin, &platform)
            .map_err(SourceError::from)?;
        out.extend(catalogue.value.into_iter().map(|integration| Offered {
            provider: plugin.label(),
            integration,
        }));
    }
    Ok(out)
}

fn images_options(
    host: &Host,
    planned: &Planned,
    push: bool,
    registry: RegistryLookup,
    pull_found: bool,
) -> ImagesOptions {
    ImagesOptions {
        push: planned.pushes(push),
        auth: RegistryAuth::FromDockerConfig,
        lock_dir: host.dirs.builds.join("locks"),
        records: host.records(),
        installs: host.install_history(),
        registry,
        pull_found,
        interrupt: Interrupt::never(),
    }
}

/// Loads the pipeline file and asks the requirement sources, once per distinct settings.
/// The plugins the pipeline pins must be installed at a matching version first.
fn gather(path: &Path, registry: &Registry) -> Result<Gathered, Error> {
    let pipeline = settings::load(path)?;
    lock::check_pins(&pipeline, registry)?;
    let mut groups: Vec<SettingsGroup> = Vec::new();
    let mut logs = Vec::new();
    for (docker, steps) in distinct_settings(&pipeline) {
        let platform = plan::platform_for(&docker);
        let answers = if docker.skip_build {
            sources::Answers::default()
        } else {
            sources::gather(registry, &pipeline, &docker, &platform)?
        };
        let requirements = requirements::merge(&answers.sourced, &platform)?;
        let plugin_digests = answers.sourced.iter().map(|s| s.digest.clone()).collect();
        logs.extend(answers.logs);
        groups.push(SettingsGroup {
            docker,
            steps,
            platform,
            requirements,
            plugin_digests,
            image: String::new(),
        });
    }
    let names = image_names(&pipeline, &groups)?;
    for (group, name) in groups.iter_mut().zip(names) {
        group.image = name;
    }
    Ok(Gathered {
        pipeline,
        groups,
        logs,
    })
}

/// The image each settings group's steps run in, named as the planner names it.
fn image_names(pipeline: &Pipeline, groups: &[SettingsGroup]) -> Result<Vec<String>, Error> {
    let inputs = image_inputs(groups);
    (0..inputs.len())
        .map(|i| plan::image_name(pipeline, &inputs, i).map_err(Error::from))
        .collect()
}

fn image_inputs(groups: &[SettingsGroup]) -> Vec<ImageInputs<'_>> {
    groups
        .iter()
        .map(|g| ImageInputs {
            docker: &g.docker,
            requirements: &g.requirements,
            plugin_digests: g.plugin_digests.clone(),
            steps: g.steps.clone(),
        })
        .collect()
}

/// Each distinct docker settings with the steps that use it, in step order; the pipeline's
/// own settings when it has no steps.
fn distinct_settings(pipeline: &Pipeline) -> Vec<(DockerSettings, Vec<String>)> {
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
    distinct
}

/// The plugins this gathering used, as `dockwright.lock` records them: every plugin that
/// contributed to some image, and every plugin the pipeline pins.
fn used_plugins(gathered: &Gathered, registry: &Registry) -> Vec<Locked> {
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
fn check_lock(
    gathered: &Gathered,
    registry: &Registry,
    update: bool,
) -> Result<LockOutcome, Error> {
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
fn plan_gathered(
    gathered: &Gathered,
    cache: &mut HashCache,
    history: &InstallHistory,
    strict: bool,
) -> Result<Plan, Error> {
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
    let inputs = image_inputs(&gathered.groups);
    Ok(plan::plan(&gathered.pipeline, &inputs, cache, history)?)
}
