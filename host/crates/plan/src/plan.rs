//! The plan: which images a pipeline needs, in build order, each with its generated
//! Dockerfile, requirement files, build context and build key. A plan is plain data you can
//! print (`dockwright plan --json`), and planning is pure: the same inputs give the same
//! plan, byte for byte, with no Docker engine, no clock and no randomness. The inputs are the
//! pipeline, the sources' answers (the plugins have already answered), the context files
//! (through their hash cache) and what earlier builds installed
//! ([`crate::install_history`]); this module only decides.
//!
//! Which images (DESIGN.md §3):
//! - `skip_build` → the parent as is;
//! - no `dockerfile`: nothing to add → the parent as is; else one generated image on it;
//! - a `dockerfile`: an image from it; when something else must be added, a generated image
//!   on top, and the first is tagged `<repo>:<tag>-intermediate-build`.
//!
//! Steps with equal merged settings share an image; each distinct settings gets its own.
//!
//! Constraint lines: a requirement line whose origin is `constraint <name> (...)` is a
//! constraint, not a requirement (the built-in `requirements` plugin returns the lines of a
//! `-c` file this way). The planner writes the lines of each name to
//! [`CONSTRAINTS_DIR`]`/<name>`, puts `-c constraints/<name>` in the group's file where the
//! first of them was (pip and uv resolve it next to that file), and the generated Dockerfile
//! copies the constraints file just before the group's file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::context::{Context, ContextError, HashCache};
use crate::contribution::{Group, Platform};
use crate::dockerfile::{self, DockerfileInput};
use crate::install_history::{InstallHistory, Installed};
use crate::local_paths::{self, LocalPath};
use crate::parents;
use crate::requirements::{GroupLines, Line, Note, RequirementSet};
use crate::settings::{
    BuilderVersion, ContainerLimits, DockerBuildOptions, DockerSettings, Pipeline, Position,
    Warning,
};

/// The parent image when the settings name none.
pub(crate) const DEFAULT_PARENT: &str = "python:3.11-slim";
/// The repository when `target_repository` is not set.
pub(crate) const DEFAULT_REPOSITORY: &str = "dockwright";
/// The one label Dockwright puts on the images it builds: its value is a [`BuildLabel`].
/// One label, because the classic builder commits every label of a build request as a step
/// of its own, which costs seconds after a large layer.
pub const BUILD_KEY_LABEL: &str = "dockwright.build-key";

/// What an image was built from, as its [`BUILD_KEY_LABEL`] records it (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BuildLabel {
    /// The key the image is found by on the engine ([`reuse_key`]).
    pub key: String,
    /// The plan's build key alone: what another machine computes without the parents at
    /// hand (registry reuse compares it).
    pub content_key: String,
    /// The identity of every image it was built from (`{"name": "sha256:…"}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parents: BTreeMap<String, String>,
}

impl BuildLabel {
    pub fn new(build_key: &str, parents: &BTreeMap<String, String>) -> BuildLabel {
        BuildLabel {
            key: reuse_key(build_key, parents),
            content_key: build_key.to_string(),
            parents: parents.clone(),
        }
    }

    /// The label's value: the same JSON for the same build, so that the engine can be asked
    /// for it exactly.
    pub fn value(&self) -> String {
        serde_json::to_string(self).expect("strings serialise")
    }

    /// A label value written by [`Self::value`]; `None` for anything else.
    pub fn parse(value: &str) -> Option<BuildLabel> {
        serde_json::from_str(value).ok()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub pipeline: String,
    /// In build order: an intermediate image comes before the image built on it.
    pub images: Vec<ImagePlan>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// An existing image, used as is.
    Parent,
    /// Built from the user's Dockerfile.
    Dockerfile,
    /// Built from a Dockerfile Dockwright generated.
    Generated,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImagePlan {
    pub name: String,
    pub kind: ImageKind,
    /// The image this one is built on (`FROM`); null for a parent used as is and for a
    /// user Dockerfile (whose own `FROM` decides).
    pub parent: Option<String>,
    /// The Dockerfile text that will be built (generated, or the user's); null for a parent.
    pub dockerfile: Option<String>,
    pub requirements: Vec<RequirementFile>,
    pub apt_packages: Vec<String>,
    /// What the requirement sources want the user to know about this image.
    pub notes: Vec<Note>,
    /// Why this image is built: which settings or contributions need it (empty for a
    /// parent used as is).
    pub why_built: Vec<String>,
    /// `sha256:<hex>` over everything that decides the image's bytes.
    pub build_key: String,
    pub steps: Vec<String>,
    /// What the engine needs to build it; null for a parent.
    pub build: Option<BuildSpec>,
    /// The inputs of the build key, each hashed, for `plan --explain`.
    pub key_inputs: BTreeMap<String, String>,
    /// The images the build starts from (the generated image's parent, every `FROM` of a
    /// user Dockerfile): `build` resolves each to the image the engine has under that name
    /// and reuses an image only when they are the same as when it was built.
    pub from: Vec<String>,
}

impl ImagePlan {
    /// The requirements groups installed on an earlier build's install (see
    /// [`crate::install_history`]): each group's file, how many lines were added since, and
    /// how many that build installed.
    pub fn installs_on_earlier_sets(&self) -> Vec<(&str, usize, usize)> {
        let installs = self.build.iter().flat_map(|build| &build.installs);
        self.requirements
            .iter()
            .zip(installs)
            .filter(|(group, first)| group.lines.len() > first.lines.len())
            .map(|(group, first)| {
                let added = group.lines.len() - first.lines.len();
                (group.file.as_str(), added, first.lines.len())
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequirementFile {
    pub group: Group,
    pub file: String,
    pub lines: Vec<String>,
    /// Where each line came from, parallel to `lines`.
    pub origins: Vec<String>,
}

/// How to build one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BuildSpec {
    /// The context root; null for a context made only of generated files.
    pub context_root: Option<PathBuf>,
    pub dockerignore: Option<PathBuf>,
    /// Files placed into the context (path → content): the Dockerfile, requirement files.
    pub extra_files: BTreeMap<String, String>,
    /// Files of the context root left out: the pipeline file and `dockwright.lock`, which
    /// describe the run, not the image (editing a step's command rebuilds nothing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
    /// When not empty, only these paths of the context root are sent (`/`-separated, `.`
    /// for all): the local paths requirement lines name, when the project's files are not
    /// copied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// What the engine's build request carries.
    #[serde(flatten)]
    pub options: BuildOptions,
    /// Built with BuildKit: the build options ask for it (`version: 2`) or the Dockerfile
    /// needs it (a cache mount).
    pub buildkit: bool,
    /// `prevent_build_reuse`: build even when an image with this key exists.
    pub reuse: bool,
    /// Path in the context of the Dockerfile to send instead when the parent runs as root
    /// (generated images: [`crate::dockerfile::Dockerfile::for_root_parent`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_for_root_parent: Option<String>,
    /// What each requirements group installs first, on which install prefix: `build`
    /// remembers them once the image is built (see [`crate::install_history`]).
    #[serde(skip)]
    pub installs: Vec<Installed>,
}

/// The options of one build request, as the planner decided them and the engine sends them
/// (every field of the engine's build request a user may set). The build key label is not
/// among the labels: the engine adds it from the key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BuildOptions {
    /// Path of the Dockerfile inside the context.
    #[serde(rename = "dockerfile_path")]
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub pull: Option<bool>,
    pub no_cache: bool,
    /// Multi-stage target.
    pub target: Option<String>,
    /// Network for `RUN` instructions (`bridge`, `host`, `none`, ...).
    pub network_mode: Option<String>,
    /// `os[/arch[/variant]]`.
    pub platform: Option<String>,
    /// Remove intermediate containers after a successful build.
    pub rm: bool,
    /// Remove intermediate containers after a failed build too.
    pub force_rm: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
    /// `/dev/shm` of `RUN` containers, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<i32>,
    /// `host:ip` entries for `/etc/hosts` of `RUN` containers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "is_unlimited")]
    pub container_limits: ContainerLimits,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub squash: Option<bool>,
}

fn is_unlimited(limits: &ContainerLimits) -> bool {
    *limits == ContainerLimits::default()
}

impl BuildSpec {
    /// The build context, with the generated files in place.
    pub fn context(&self) -> Result<Context, ContextError> {
        let mut context = match &self.context_root {
            Some(root) if self.only.is_empty() => {
                Context::scan(root, self.dockerignore.as_deref())?
            }
            Some(root) => Context::scan_only(root, self.dockerignore.as_deref(), &self.only)?,
            None => Context::empty(),
        };
        context.exclude(&self.excluded);
        for (path, content) in &self.extra_files {
            context.add_extra(path, content.as_bytes().to_vec())?;
        }
        Ok(context)
    }
}

/// The requirement sources' answer for one distinct settings: what the planner is given.
pub struct ImageInputs<'a> {
    pub docker: &'a DockerSettings,
    pub requirements: &'a RequirementSet,
    /// Digests of the plugins that contributed.
    pub plugin_digests: Vec<String>,
    pub steps: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{file}: `settings.docker`: no `parent_image` and no `dockerfile`, and nothing to install or copy: there is no image to run"
    )]
    NothingToRun { file: String },
    #[error("{file}: `settings.docker.dockerfile`: cannot read {path}: {source}")]
    Dockerfile {
        file: String,
        path: String,
        source: std::io::Error,
    },
    #[error("{file}: the tag `{tag}` is not a valid Docker tag: {reason}")]
    Tag {
        file: String,
        tag: String,
        reason: String,
    },
    #[error("{file}: {source}")]
    Generated {
        file: String,
        source: dockerfile::DockerfileError,
    },
    #[error("{file}: build context: {source}")]
    Context { file: String, source: ContextError },
    #[error("{file}: {origin}: `{line}`: {reason}")]
    LocalPath {
        file: String,
        origin: String,
        line: String,
        reason: String,
    },
    #[error(
        "{file}: the constraint line `{line}` from plugin {plugin} has the origin `{origin}`: \
         after `constraint ` a constraint line's origin must name a file (letters, digits and `._-`)"
    )]
    ConstraintName {
        file: String,
        plugin: String,
        line: String,
        origin: String,
    },
    #[error(
        "requirements conflict (run without --strict to build anyway):\n  {}",
        conflicts.join("\n  ")
    )]
    Conflicts { conflicts: Vec<String> },
    #[error(
        "{file}: step(s) {first} and step(s) {second} need different images, but both would be named `{name}` \
         (their settings give the same `image_tag`): give the steps whose settings differ an `image_tag` of their own"
    )]
    SameName {
        file: String,
        name: String,
        first: String,
        second: String,
    },
}

/// Plans every image of `pipeline`, given each distinct settings' requirements, the hash
/// cache of its build contexts and what earlier builds installed.
pub fn plan(
    pipeline: &Pipeline,
    inputs: &[ImageInputs<'_>],
    cache: &mut HashCache,
    history: &InstallHistory,
) -> Result<Plan, PlanError> {
    let mut warnings: Vec<String> = pipeline.warnings.iter().map(ToString::to_string).collect();
    let mut images = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        let tag = tag_for(pipeline, inputs, index)?;
        images.extend(plan_image(
            pipeline,
            input,
            &tag,
            (cache, history),
            &mut warnings,
        )?);
    }
    distinct_names(pipeline, &images)?;
    // Images often share requirements: each conflict is warned about once (a set, as the
    // conflicts grow with plugin output).
    let mut warned = std::collections::HashSet::new();
    for input in inputs {
        for conflict in apt_conflicts(&apt_packages(input)) {
            push_unique(
                &mut warnings,
                warning_at(pipeline, input.docker, "apt_packages", conflict),
            );
        }
        for conflict in &input.requirements.conflicts {
            let warning = format!("requirements conflict: {conflict}");
            if warned.insert(warning.clone()) {
                warnings.push(warning);
            }
        }
        let omitted = input.requirements.conflicts_omitted;
        let warning = format!("requirements conflict: {omitted} more conflicting lines not shown");
        if omitted > 0 && warned.insert(warning.clone()) {
            warnings.push(warning);
        }
    }
    Ok(Plan {
        pipeline: pipeline.name.clone(),
        images,
        warnings,
    })
}

/// The name of the image the steps of `inputs[index]` run in (and its requirements are
/// installed in), without planning it: the parent when nothing is built on it, else the
/// image built for these settings.
pub fn image_name(
    pipeline: &Pipeline,
    inputs: &[ImageInputs<'_>],
    index: usize,
) -> Result<String, PlanError> {
    let input = &inputs[index];
    let docker = input.docker;
    let needs_build = docker.asks_for_build() || !input.requirements.is_empty();
    if docker.skip_build || (docker.dockerfile.is_none() && !needs_build) {
        return Ok(docker.parent_image.clone().unwrap_or_default());
    }
    let tag = tag_for(pipeline, inputs, index)?;
    Ok(format!(
        "{}{}:{tag}",
        registry_prefix(pipeline),
        repository(docker)
    ))
}

/// Two images with different build keys never share a name: the second build would take
/// the name from the first, and a step would run in the wrong image.
fn distinct_names(pipeline: &Pipeline, images: &[ImagePlan]) -> Result<(), PlanError> {
    for (i, image) in images.iter().enumerate() {
        if let Some(other) = images[..i]
            .iter()
            .find(|o| o.name == image.name && o.build_key != image.build_key)
        {
            let steps = |image: &ImagePlan| {
                image
                    .steps
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(PlanError::SameName {
                file: file(pipeline),
                name: image.name.clone(),
                first: steps(other),
                second: steps(image),
            });
        }
    }
    Ok(())
}

/// `image_tag`, or the [`derived_tag`] of `<pipeline>` for the pipeline's own settings and
/// of `<pipeline>-<first step>` for a step whose settings differ.
fn tag_for(
    pipeline: &Pipeline,
    inputs: &[ImageInputs<'_>],
    index: usize,
) -> Result<String, PlanError> {
    let input = &inputs[index];
    if let Some(tag) = &input.docker.image_tag {
        return Ok(tag.clone());
    }
    let own = inputs.len() == 1 || *input.docker == pipeline.docker;
    let raw = match (own, input.steps.first()) {
        (false, Some(step)) => format!("{}-{step}", pipeline.name),
        _ => pipeline.name.clone(),
    };
    derived_tag(&raw).map_err(|reason| PlanError::Tag {
        file: file(pipeline),
        tag: raw,
        reason,
    })
}

/// The tag made from a pipeline (and step) name, which may hold anything, e.g.
/// `My Training Pipeline` → `my-training-pipeline`: lower-case (the engine refuses capitals in
/// an image name), every run of other characters (spaces, `/`, `#`, non-ASCII) one `-`, no
/// `-`, `.` or `_` at either end, at most [`MAX_TAG`] characters. ZenML's [`sanitize_tag`]
/// would delete the spaces and keep the capitals (`MyTrainingPipeline`).
pub fn derived_tag(raw: &str) -> Result<String, String> {
    let mut tag = String::with_capacity(raw.len());
    for c in raw.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            tag.push(c);
        } else if !tag.ends_with('-') {
            tag.push('-');
        }
    }
    let edges: &[char] = &['-', '.', '_'];
    let mut tag = tag.trim_matches(edges).to_string();
    tag.truncate(MAX_TAG);
    let tag = tag.trim_end_matches(edges).to_string();
    if tag.is_empty() {
        return Err("it holds no letter or digit to make a tag of; set `image_tag`".into());
    }
    Ok(tag)
}

/// The longest tag Docker accepts.
const MAX_TAG: usize = 128;

/// Docker's tag rules, as ZenML applies them: only `[A-Za-z0-9_.-]`, no leading `.` or
/// `-` (replaced by `_`), at most 128 characters.
pub fn sanitize_tag(raw: &str) -> Result<String, String> {
    let mut tag: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        .collect();
    if tag.is_empty() {
        return Err("nothing is left after removing the characters a tag cannot hold".into());
    }
    if tag.starts_with(['.', '-']) {
        tag.replace_range(..1, "_");
    }
    tag.truncate(128);
    Ok(tag)
}

/// The tag of the intermediate image: `<tag>-intermediate-build`, sanitised as a whole as
/// ZenML does, except that a long tag is cut so that the suffix always survives (ZenML's
/// cut at 128 characters would give the intermediate the final image's own name).
fn intermediate_tag(tag: &str) -> Result<String, String> {
    const SUFFIX: &str = "-intermediate-build";
    let mut head = sanitize_tag(&format!("{tag}{SUFFIX}"))?;
    if !head.ends_with(SUFFIX) {
        head = sanitize_tag(tag)?;
        head.truncate(128 - SUFFIX.len());
        head.push_str(SUFFIX);
    }
    Ok(head)
}

fn file(pipeline: &Pipeline) -> String {
    pipeline.file.display().to_string()
}

/// The stack's container registry (its `uri`, without a trailing `/`), which final images
/// are named for and pushed to.
pub fn container_registry(pipeline: &Pipeline) -> Option<&str> {
    pipeline
        .stack
        .as_ref()?
        .components
        .get("container_registry")?
        .uri
        .as_deref()
        .map(|uri| uri.trim_end_matches('/'))
        .filter(|uri| !uri.is_empty())
}

/// `<registry uri>/` when the stack has a container registry (ZenML names final images so;
/// intermediate images are never pushed and stay local names).
fn registry_prefix(pipeline: &Pipeline) -> String {
    container_registry(pipeline)
        .map(|uri| format!("{uri}/"))
        .unwrap_or_default()
}

fn repository(docker: &DockerSettings) -> &str {
    docker
        .target_repository
        .as_deref()
        .unwrap_or(DEFAULT_REPOSITORY)
}

/// The images for one distinct settings: zero builds (parent), one, or two.
fn plan_image(
    pipeline: &Pipeline,
    input: &ImageInputs<'_>,
    tag: &str,
    (cache, history): (&mut HashCache, &InstallHistory),
    warnings: &mut Vec<String>,
) -> Result<Vec<ImagePlan>, PlanError> {
    let docker = input.docker;
    let target = format!("{}{}:{tag}", registry_prefix(pipeline), repository(docker));
    if docker.skip_build {
        let parent = docker.parent_image.clone().unwrap_or_default();
        return Ok(vec![parent_image(parent, input)]);
    }
    let needs_build = docker.asks_for_build() || !input.requirements.is_empty();
    let mut images = Vec::new();
    let parent = match &docker.dockerfile {
        Some(path) => {
            if docker.parent_image.is_some() {
                push_unique(
                    warnings,
                    format!(
                        "{}: `settings.docker`: both `dockerfile` and `parent_image` are set; the parent image is ignored",
                        file(pipeline)
                    ),
                );
            }
            let name = if needs_build {
                let intermediate = intermediate_tag(tag).map_err(|reason| PlanError::Tag {
                    file: file(pipeline),
                    tag: tag.into(),
                    reason,
                })?;
                format!("{}:{intermediate}", repository(docker))
            } else {
                target.clone()
            };
            let mut image = user_dockerfile_image(pipeline, input, path, name, cache)?;
            if needs_build {
                // Shown once, with the image built on top.
                image.notes.clear();
            }
            let (name, key) = (image.name.clone(), image.build_key.clone());
            images.push(image);
            if !needs_build {
                for field in dropped_fields(docker, true) {
                    let message = if field == "runtime_environment" {
                        format!(
                            "is not written into the image built from `dockerfile: {path}` (nothing is built on top of it); only `dockwright run` sets it"
                        )
                    } else {
                        format!(
                            "is ignored: nothing is built on the image from `dockerfile: {path}`"
                        )
                    };
                    push_unique(warnings, warning_at(pipeline, docker, field, message));
                }
                return Ok(images);
            }
            Parent { name, key }
        }
        None => {
            let parent = docker.parent_image.clone();
            if !needs_build {
                let Some(parent) = parent else {
                    return Err(PlanError::NothingToRun {
                        file: file(pipeline),
                    });
                };
                for field in dropped_fields(docker, false) {
                    let message =
                        format!("is ignored: nothing is built on the parent image `{parent}`");
                    push_unique(warnings, warning_at(pipeline, docker, field, message));
                }
                return Ok(vec![parent_image(parent, input)]);
            }
            let name = parent.unwrap_or_else(|| DEFAULT_PARENT.to_string());
            Parent {
                key: name.clone(),
                name,
            }
        }
    };
    images.push(generated_image(
        pipeline,
        input,
        parent,
        target,
        (cache, history),
    )?);
    Ok(images)
}

/// What a generated image is built on: its name, and what identifies its content (the
/// reference of an existing image, or the build key of an image built first).
struct Parent {
    name: String,
    key: String,
}

/// The settings only a generated build applies that are set, when none is made: on the
/// parent as is, `runtime_environment` still applies when `dockwright run` runs the steps
/// (not dropped); on a user Dockerfile's image, the deprecated `build_options` configure
/// that build (not dropped), and `runtime_environment` is not in the image.
fn dropped_fields(docker: &DockerSettings, on_dockerfile: bool) -> Vec<&'static str> {
    docker
        .dropped_without_build()
        .into_iter()
        .filter(|field| on_dockerfile || *field != "runtime_environment")
        .filter(|field| !on_dockerfile || *field != "build_config" || docker.build_config.is_some())
        .map(|field| match field {
            "build_config" if docker.build_config.is_none() => "build_options",
            other => other,
        })
        .collect()
}

/// A warning about `field` of `docker`, at the line where the user wrote it.
fn warning_at(
    pipeline: &Pipeline,
    docker: &DockerSettings,
    field: &str,
    message: String,
) -> String {
    let path = pipeline.setting_path(docker, field);
    let at = pipeline.position(&path).unwrap_or(Position::new(1, 1));
    Warning::new(&pipeline.file, at, path, message).to_string()
}

fn push_unique(warnings: &mut Vec<String>, warning: String) {
    if !warnings.contains(&warning) {
        warnings.push(warning);
    }
}

fn parent_image(name: String, input: &ImageInputs<'_>) -> ImagePlan {
    let mut key_inputs = BTreeMap::new();
    key_inputs.insert("parent".to_string(), name.clone());
    ImagePlan {
        build_key: key_of(&key_inputs),
        name,
        kind: ImageKind::Parent,
        parent: None,
        dockerfile: None,
        requirements: Vec::new(),
        apt_packages: Vec::new(),
        notes: input.requirements.notes.clone(),
        why_built: Vec::new(),
        steps: input.steps.clone(),
        build: None,
        key_inputs,
        from: Vec::new(),
    }
}

fn user_dockerfile_image(
    pipeline: &Pipeline,
    input: &ImageInputs<'_>,
    path: &str,
    name: String,
    cache: &mut HashCache,
) -> Result<ImagePlan, PlanError> {
    let docker = input.docker;
    let full = pipeline.base_dir.join(path);
    let text = crate::user_file::read_text(&full).map_err(|source| PlanError::Dockerfile {
        file: file(pipeline),
        path: full.display().to_string(),
        source,
    })?;
    let config = docker.dockerfile_build_config();
    let options = config.build_options.clone().unwrap_or_default();
    let mut build = build_spec(
        pipeline,
        docker.build_context_root.as_deref(),
        config.dockerignore.as_deref(),
        &options,
        docker.prevent_build_reuse,
    );
    build.extra_files.insert("Dockerfile".into(), text.clone());
    let mut key_inputs = BTreeMap::new();
    key_inputs.insert("user dockerfile".into(), hash(&text));
    let key = finish(pipeline, &mut build, &mut key_inputs, cache, &[])?;
    let from = parents::from_images(&text, &build.options.build_args);
    Ok(ImagePlan {
        from,
        name,
        kind: ImageKind::Dockerfile,
        parent: None,
        dockerfile: Some(text),
        requirements: Vec::new(),
        apt_packages: Vec::new(),
        notes: input.requirements.notes.clone(),
        why_built: vec![format!("the image is built from `dockerfile: {path}`")],
        build_key: key,
        steps: input.steps.clone(),
        build: Some(build),
        key_inputs,
    })
}

/// Why a generated image is needed: the requirement groups and plugin apt packages that
/// must be installed, then the settings that ask for a build.
fn generated_reasons(input: &ImageInputs<'_>) -> Vec<String> {
    let mut reasons: Vec<String> = input
        .requirements
        .groups
        .iter()
        .map(|g| {
            format!(
                "requirements are installed: {} line(s) in group `{}` ({})",
                g.lines.len(),
                g.group.name(),
                group_setting(g.group)
            )
        })
        .collect();
    let own = &input.docker.apt_packages;
    let contributed: Vec<&str> = input
        .requirements
        .apt_packages
        .iter()
        .filter(|p| !own.contains(p))
        .map(String::as_str)
        .collect();
    if !contributed.is_empty() {
        reasons.push(format!(
            "apt packages are installed: [{}] from the requirement sources",
            contributed.join(", ")
        ));
    }
    reasons.extend(input.docker.build_reasons());
    reasons
}

/// The setting that fills a requirement group, as the user wrote it.
fn group_setting(group: Group) -> &'static str {
    match group {
        Group::Local => "`replicate_local_python_environment`",
        Group::Requirements => "`requirements` / `pyproject_path`",
        Group::Integrations => "`required_integrations` and the stack",
    }
}

fn generated_image(
    pipeline: &Pipeline,
    input: &ImageInputs<'_>,
    parent: Parent,
    name: String,
    (cache, history): (&mut HashCache, &InstallHistory),
) -> Result<ImagePlan, PlanError> {
    let docker = input.docker;
    let mut local = LocalCopies::default();
    let groups = input
        .requirements
        .groups
        .iter()
        .map(|group| local.rewrite(pipeline, docker, group))
        .collect::<Result<Vec<_>, _>>()?;
    let mut constraints = Constraints::default();
    let requirements = groups
        .iter()
        .map(|group| requirement_file(group, &mut constraints))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|line| PlanError::ConstraintName {
            file: file(pipeline),
            plugin: line.plugin.clone(),
            line: line.text.clone(),
            origin: line.origin.clone(),
        })?;
    let apt = apt_packages(input);
    let files = requirements.iter().map(|r| r.file.clone()).collect();
    let mut dockerfile_input =
        DockerfileInput::from_settings(&parent.name, docker, files, apt.clone());
    dockerfile_input.constraint_files = constraints.named_by.clone();
    dockerfile_input.local_paths = local.by_file.clone();
    let generated = |source| PlanError::Generated {
        file: file(pipeline),
        source,
    };
    let rendered = dockerfile::render(&dockerfile_input).map_err(generated)?;
    let config = docker.main_build_config();
    let options = config.build_options.clone().unwrap_or_default();
    let root = (docker.includes_files() || !local.copies.is_empty()).then_some(".");
    let mut build = build_spec(
        pipeline,
        root,
        config.dockerignore.as_deref(),
        &options,
        docker.prevent_build_reuse,
    );
    if !docker.includes_files() {
        build.only = local.copies.iter().map(|c| c.0.clone()).collect();
    }
    build.options.build_args.extend(rendered.build_args.clone());
    build.buildkit |= docker.python_package_installer_cache_mount.is_some();
    put_dockerfiles(&mut build, &rendered);
    let mut key_inputs = BTreeMap::new();
    for r in &requirements {
        let text = r.lines.join("\n") + "\n";
        key_inputs.insert(format!("requirements {}", r.file), hash(&text));
        build.extra_files.insert(r.file.clone(), text);
    }
    for (path, lines) in &constraints.files {
        let text = lines.join("\n") + "\n";
        key_inputs.insert(format!("constraints {path}"), hash(&text));
        build.extra_files.insert(path.clone(), text);
    }
    key_inputs.insert("parent".into(), parent.key.clone());
    key_inputs.insert("generated dockerfile".into(), hash(&rendered.text));
    for (i, digest) in input.plugin_digests.iter().enumerate() {
        key_inputs.insert(format!("plugin {i}"), digest.clone());
    }
    let key = finish(pipeline, &mut build, &mut key_inputs, cache, &local.copies)?;
    // After the key: installing on an earlier set gives the same image (the module doc of
    // `install_history`), so it is reused under the same key whichever way it was built.
    let mut rendered = rendered;
    if build.reuse && !build.options.no_cache {
        build.installs =
            install_on_earlier_sets(&mut dockerfile_input, &requirements, &mut build, history)
                .map_err(generated)?;
        if !dockerfile_input.added_files.is_empty() {
            rendered = dockerfile::render(&dockerfile_input).map_err(generated)?;
            put_dockerfiles(&mut build, &rendered);
        }
    }
    Ok(ImagePlan {
        from: vec![parent.name.clone()],
        name,
        kind: ImageKind::Generated,
        parent: Some(parent.name),
        dockerfile: Some(rendered.text),
        requirements,
        apt_packages: apt,
        notes: input.requirements.notes.clone(),
        why_built: generated_reasons(input),
        build_key: key,
        steps: input.steps.clone(),
        build: Some(build),
        key_inputs,
    })
}

/// Puts both generated Dockerfiles into the build context, the general one as the one to
/// build (`build` picks the root-parent variant when the parent runs as root).
fn put_dockerfiles(build: &mut BuildSpec, rendered: &dockerfile::Dockerfile) {
    let files = [
        (GENERATED_DOCKERFILE, &rendered.text),
        (GENERATED_DOCKERFILE_ROOT_PARENT, &rendered.for_root_parent),
    ];
    for (path, text) in files {
        build.extra_files.insert(path.into(), text.clone());
    }
    build.options.dockerfile = GENERATED_DOCKERFILE.into();
    build.dockerfile_for_root_parent = Some(GENERATED_DOCKERFILE_ROOT_PARENT.into());
}

/// Decides, group by group in install order, what each installs first: the largest set an
/// earlier build installed on the same install prefix that the group's lines still include
/// (its file is sent as it was, and the added lines in a file beside it, installed with it),
/// or the whole group. Stops at the first group that copies constraints files or local
/// paths before its install: their content is not in the prefix. Returns what each group
/// installs first, for `build` to remember.
fn install_on_earlier_sets(
    input: &mut DockerfileInput,
    requirements: &[RequirementFile],
    build: &mut BuildSpec,
    history: &InstallHistory,
) -> Result<Vec<Installed>, dockerfile::DockerfileError> {
    let mut installs = Vec::new();
    // What the lines before each install copy: the files of the groups before it, as sent.
    let mut copied = Sha256::new();
    for group in requirements {
        if input.constraint_files.contains_key(&group.file)
            || input.local_paths.contains_key(&group.file)
        {
            break;
        }
        let text = dockerfile::render(input)?.text;
        let Some(prefix) = install_prefix(&text, &group.file, &copied, build) else {
            break;
        };
        let first = history
            .earlier_set(&prefix, &group.lines)
            .unwrap_or_else(|| group.lines.clone());
        let added: Vec<String> = group
            .lines
            .iter()
            .filter(|line| !first.contains(line))
            .cloned()
            .collect();
        for (file, lines) in [
            (group.file.clone(), &first),
            (added_file(&group.file), &added),
        ] {
            if lines.is_empty() {
                continue;
            }
            let text = lines.join("\n") + "\n";
            copied.update(format!("{file}\0{}\0{text}\0", text.len()));
            if file != group.file {
                input.added_files.insert(group.file.clone(), file.clone());
            }
            build.extra_files.insert(file, text);
        }
        installs.push(Installed {
            prefix,
            lines: first,
        });
    }
    Ok(installs)
}

/// The install prefix of `file` in the Dockerfile `text`: a digest of the lines up to and
/// including its install, of the files `copied` before it, and of the build arguments and
/// builder (both decide whether the engine's cached layers match).
fn install_prefix(text: &str, file: &str, copied: &Sha256, build: &BuildSpec) -> Option<String> {
    let install = format!(" -r {file}\n");
    let end = text.find(&install)? + install.len();
    let mut hasher = copied.clone();
    hasher.update(&text[..end]);
    let args = serde_json::to_string(&build.options.build_args).expect("plain data");
    hasher.update(format!("{args}\0buildkit={}", build.buildkit));
    Some(format!("{:x}", hasher.finalize()))
}

/// Where the lines added to a group since an earlier build go: beside its file.
fn added_file(file: &str) -> String {
    match file.strip_suffix(".txt") {
        Some(stem) => format!("{stem}.added.txt"),
        None => format!("{file}.added"),
    }
}

/// The apt packages of an image: the settings' then the sources', each once, in order of
/// first appearance (what the Dockerfile installs and `plan --json` shows).
fn apt_packages(input: &ImageInputs<'_>) -> Vec<String> {
    let mut apt: Vec<String> = Vec::new();
    for package in input
        .docker
        .apt_packages
        .iter()
        .chain(&input.requirements.apt_packages)
    {
        if !apt.contains(package) {
            apt.push(package.clone());
        }
    }
    apt
}

/// Packages named twice with different versions or releases (`git=1:2.39` and `git`, or
/// `git/bookworm`): apt installs one version of a package, so one of them is not honoured.
fn apt_conflicts(packages: &[String]) -> Vec<String> {
    let name = |package: &str| {
        package
            .split(['=', '/'])
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let mut found = Vec::new();
    for (i, first) in packages.iter().enumerate() {
        for second in &packages[i + 1..] {
            if name(first) == name(second) {
                found.push(format!(
                    "apt packages `{first}` and `{second}` both name `{}`: apt installs one version of a package; keep one of them",
                    name(first)
                ));
            }
        }
    }
    found
}

/// The local paths the requirement lines of an image name (see [`local_paths`]).
#[derive(Default)]
struct LocalCopies {
    /// Requirements file → the context paths copied just before its install, in order.
    by_file: BTreeMap<String, Vec<String>>,
    /// Every path copied, once, with the (first) line that names it, as written.
    copies: Vec<(String, Line)>,
}

impl LocalCopies {
    /// `group` with each local path line rewritten to name the path in the image, the
    /// path recorded for the group's file.
    fn rewrite(
        &mut self,
        pipeline: &Pipeline,
        docker: &DockerSettings,
        group: &GroupLines,
    ) -> Result<GroupLines, PlanError> {
        let resolver = local_paths::Resolver {
            root: normalize(&pipeline.base_dir),
            pyproject: docker.pyproject_path.as_deref(),
        };
        let mut out = group.clone();
        for line in &mut out.lines {
            if line.origin.starts_with(CONSTRAINT_ORIGIN) {
                continue;
            }
            let found = resolver
                .resolve(line)
                .map_err(|reason| PlanError::LocalPath {
                    file: file(pipeline),
                    origin: line.origin.clone(),
                    line: line.text.clone(),
                    reason,
                })?;
            let Some(LocalPath {
                context_path,
                line: rewritten,
            }) = found
            else {
                continue;
            };
            let paths = self.by_file.entry(group.file.to_string()).or_default();
            if !paths.contains(&context_path) {
                paths.push(context_path.clone());
            }
            if !self.copies.iter().any(|(p, _)| *p == context_path) {
                self.copies.push((context_path, line.clone()));
            }
            line.text = rewritten;
        }
        Ok(out)
    }
}

/// Where the generated Dockerfile sits in the context: out of the way of a user's own
/// `Dockerfile` among the project files.
pub(crate) const GENERATED_DOCKERFILE: &str = ".dockwright/Dockerfile";
/// Where the variant for a parent that runs as root goes.
pub(crate) const GENERATED_DOCKERFILE_ROOT_PARENT: &str = ".dockwright/Dockerfile.root-parent";

/// Where constraints files go in the context: next to the requirement files, so that
/// `-c constraints/<name>` in one of them points here.
pub(crate) const CONSTRAINTS_DIR: &str = ".dockwright/requirements/constraints";

/// The constraints files of one image (see the module doc).
#[derive(Default)]
struct Constraints {
    /// Context path → lines. Lines of one name form one file, whichever group gave them.
    files: BTreeMap<String, Vec<String>>,
    /// Requirements file → the constraints files it names, in order.
    named_by: BTreeMap<String, Vec<String>>,
}

/// A group's file, with its constraint lines moved to `constraints`; `Err` is a constraint
/// line whose origin names no usable file.
fn requirement_file<'g>(
    group: &'g GroupLines,
    constraints: &mut Constraints,
) -> Result<RequirementFile, &'g Line> {
    let mut out = RequirementFile {
        group: group.group,
        file: group.file.to_string(),
        lines: Vec::new(),
        origins: Vec::new(),
    };
    for line in &group.lines {
        let origin = format!("{} ({})", line.origin, line.plugin);
        let Some(name) = line.origin.strip_prefix(CONSTRAINT_ORIGIN) else {
            out.lines.push(line.text.clone());
            out.origins.push(origin);
            continue;
        };
        let name = name.split(' ').next().unwrap_or_default();
        if !is_file_name(name) {
            return Err(line);
        }
        // Namespaced by plugin: another plugin's constraint lines never land in the user's
        // own constraints files (those the built-in `requirements` plugin returns).
        let name = match line.plugin.split(' ').next() {
            Some("requirements") | None => name.to_string(),
            Some(plugin) => format!("{plugin}/{name}"),
        };
        let path = format!("{CONSTRAINTS_DIR}/{name}");
        constraints
            .files
            .entry(path.clone())
            .or_default()
            .push(line.text.clone());
        let named = constraints.named_by.entry(out.file.clone()).or_default();
        if !named.contains(&path) {
            named.push(path);
            out.lines.push(format!("-c constraints/{name}"));
            out.origins.push(origin);
        }
    }
    Ok(out)
}

/// The origin prefix of a constraint line.
pub(crate) const CONSTRAINT_ORIGIN: &str = "constraint ";

/// One path component that `COPY` and pip take as is.
fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn build_spec(
    pipeline: &Pipeline,
    root: Option<&str>,
    dockerignore: Option<&str>,
    options: &DockerBuildOptions,
    prevent_reuse: bool,
) -> BuildSpec {
    let resolve = |p: &str| normalize(&pipeline.base_dir.join(p));
    let context_root = root.map(resolve);
    BuildSpec {
        excluded: context_root
            .as_deref()
            .map(|root| run_files(pipeline, root))
            .unwrap_or_default(),
        context_root,
        only: Vec::new(),
        dockerignore: dockerignore.map(resolve),
        extra_files: BTreeMap::new(),
        options: BuildOptions {
            dockerfile: "Dockerfile".into(),
            build_args: options.build_args.clone().unwrap_or_default(),
            labels: options.labels.clone().unwrap_or_default(),
            pull: options.pull,
            no_cache: options.no_cache.unwrap_or(false),
            target: options.target.clone(),
            network_mode: options.network_mode.clone(),
            platform: options.platform.clone(),
            // No stopped containers are left behind unless asked for.
            rm: options.rm.unwrap_or(true),
            force_rm: options.force_rm.unwrap_or(true),
            cache_from: options.cache_from.clone().unwrap_or_default(),
            shm_size: options.shm_size,
            extra_hosts: options.extra_hosts.clone().unwrap_or_default(),
            container_limits: options.container_limits.clone().unwrap_or_default(),
            squash: options.squash,
        },
        buildkit: options.version == Some(BuilderVersion::BuildKit),
        reuse: !prevent_reuse,
        dockerfile_for_root_parent: None,
        installs: Vec::new(),
    }
}

/// The lock file next to the pipeline file (the plugin host writes it).
const LOCK_FILE: &str = "dockwright.lock";

/// The pipeline file and its lock, as paths inside the context `root` when they are in it.
fn run_files(pipeline: &Pipeline, root: &Path) -> Vec<String> {
    let name = pipeline.file.file_name().unwrap_or_default();
    [
        pipeline.base_dir.join(name),
        pipeline.base_dir.join(LOCK_FILE),
    ]
    .iter()
    .filter_map(|file| {
        let inside = normalize(file);
        let relative = inside.strip_prefix(root).ok()?;
        let parts: Vec<&str> = relative.iter().filter_map(|p| p.to_str()).collect();
        Some(parts.join("/"))
    })
    .collect()
}

/// Adds the context and the build options to the key inputs, and returns the key.
/// `copies` are the local paths the Dockerfile copies, with the line that names each: each
/// must be in the context (not left out by the dockerignore rules).
fn finish(
    pipeline: &Pipeline,
    build: &mut BuildSpec,
    key_inputs: &mut BTreeMap<String, String>,
    cache: &mut HashCache,
    copies: &[(String, Line)],
) -> Result<String, PlanError> {
    let context = build.context().map_err(|source| PlanError::Context {
        file: file(pipeline),
        source,
    })?;
    if let Some((path, line)) = copies.iter().find(|(path, _)| !context.contains(path)) {
        return Err(PlanError::LocalPath {
            file: file(pipeline),
            origin: line.origin.clone(),
            line: line.text.clone(),
            reason: format!(
                "`{path}` is left out of the build context by the dockerignore rules, so it cannot be copied into the image for the install; let it in (e.g. `!{path}`)"
            ),
        });
    }
    let digest = context.digest(cache).map_err(|source| PlanError::Context {
        file: file(pipeline),
        source,
    })?;
    key_inputs.insert("context".into(), digest.digest);
    let options = serde_json::to_string(&build.options).expect("plain data");
    key_inputs.insert("build options".into(), hash(&options));
    // The builder decides the image's layers and history: BuildKit's image is another image.
    if build.buildkit {
        key_inputs.insert("builder".into(), "buildkit".into());
    }
    Ok(key_of(key_inputs))
}

/// The key over the canonical form of its inputs: sorted `name=value` lines.
fn key_of(inputs: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in inputs {
        hasher.update(name.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
        hasher.update(b"\n");
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// The key an image is found by on the engine (its label): the plan's build key and the
/// identity of every image it is built from, which only `build` knows (the plan is pure).
pub fn reuse_key(build_key: &str, parents: &BTreeMap<String, String>) -> String {
    if parents.is_empty() {
        return build_key.to_string();
    }
    let mut hasher = Sha256::new();
    hasher.update(build_key.as_bytes());
    for (name, id) in parents {
        hasher.update(format!("\nfrom {name}={id}").as_bytes());
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

fn hash(text: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The target platform of an image on `parent`: the Python version read from an official
/// `python:X.Y…` tag, else unknown (markers are then not trusted for conflict checks).
pub fn platform_for(docker: &DockerSettings) -> Platform {
    let parent = docker.parent_image.as_deref().unwrap_or(DEFAULT_PARENT);
    let official = ["python:", "library/python:", "docker.io/library/python:"];
    let python_version = official
        .iter()
        .find_map(|prefix| parent.strip_prefix(prefix))
        .map(|tag| {
            tag.split(|c: char| !c.is_ascii_digit() && c != '.')
                .next()
                .unwrap_or("")
        })
        .filter(|v| v.matches('.').count() >= 1)
        .map(|v| v.split('.').take(2).collect::<Vec<_>>().join("."))
        .unwrap_or_default();
    Platform {
        python_version,
        ..Platform::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contribution::{Contribution, Requirement, Sourced};
    use crate::requirements::merge;
    use crate::settings;

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn write(&self, path: &str, text: &str) {
            let path = self.dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn pipeline(&self, yaml: &str) -> Pipeline {
            self.write("dockwright.yaml", yaml);
            settings::load(&self.dir.path().join("dockwright.yaml")).unwrap()
        }
    }

    fn sourced(lines: &[&str], apt: &[&str], digest: &str) -> Vec<Sourced> {
        vec![Sourced {
            plugin: "requirements 1.0.0".into(),
            digest: digest.into(),
            group: Group::Requirements,
            contribution: Contribution {
                requirements: lines
                    .iter()
                    .map(|l| Requirement {
                        line: l.to_string(),
                        origin: "test".into(),
                    })
                    .collect(),
                apt_packages: apt.iter().map(|s| s.to_string()).collect(),
                notes: vec![],
            },
        }]
    }

    /// Plans `pipeline` with the same requirement lines for every distinct settings.
    fn plan_with(pipeline: &Pipeline, lines: &[&str]) -> Result<Plan, PlanError> {
        plan_with_digest(pipeline, lines, "sha256:plugin")
    }

    fn plan_with_digest(
        pipeline: &Pipeline,
        lines: &[&str],
        digest: &str,
    ) -> Result<Plan, PlanError> {
        plan_remembering(pipeline, lines, digest, &InstallHistory::none())
    }

    fn plan_remembering(
        pipeline: &Pipeline,
        lines: &[&str],
        digest: &str,
        history: &InstallHistory,
    ) -> Result<Plan, PlanError> {
        let mut distinct: Vec<(DockerSettings, Vec<String>)> = Vec::new();
        if pipeline.steps.is_empty() {
            distinct.push((pipeline.docker.clone(), vec![]));
        }
        for step in &pipeline.steps {
            match distinct.iter_mut().find(|(d, _)| *d == step.docker) {
                Some((_, steps)) => steps.push(step.name.clone()),
                None => distinct.push((step.docker.clone(), vec![step.name.clone()])),
            }
        }
        let sets: Vec<RequirementSet> = distinct
            .iter()
            .map(|(d, _)| {
                let lines = if d.requirements.is_some() {
                    lines
                } else {
                    &[][..]
                };
                merge(&sourced(lines, &[], digest), &Platform::default()).unwrap()
            })
            .collect();
        let inputs: Vec<ImageInputs<'_>> = distinct
            .iter()
            .zip(&sets)
            .map(|((docker, steps), requirements)| ImageInputs {
                docker,
                requirements,
                plugin_digests: vec![digest.to_string()],
                steps: steps.clone(),
            })
            .collect();
        plan(pipeline, &inputs, &mut HashCache::in_memory(), history)
    }

    fn kinds(plan: &Plan) -> Vec<(ImageKind, &str, Option<&str>)> {
        plan.images
            .iter()
            .map(|i| (i.kind, i.name.as_str(), i.parent.as_deref()))
            .collect()
    }

    const PARENT: &str = "example/python:3.11";

    #[test]
    fn a_group_that_gained_lines_installs_on_the_earlier_set_under_the_same_key() {
        const FILE: &str = ".dockwright/requirements/2-requirements.txt";
        const ADDED: &str = ".dockwright/requirements/2-requirements.added.txt";
        let f = Fixture::new();
        let yaml = "name: p\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    requirements: [numpy]\n    allow_including_files_in_images: false\n";
        let p = f.pipeline(yaml);
        let dir = tempfile::tempdir().unwrap();
        let history = InstallHistory::in_dir(dir.path());
        let plan_of = |lines: &[&str], history: &InstallHistory| {
            let plan = plan_remembering(&p, lines, "sha256:d", history).unwrap();
            plan.images.into_iter().next().unwrap()
        };
        let spec = |image: &ImagePlan| image.build.clone().unwrap();

        // Nothing remembered: the group is installed whole, and that is what `build` remembers.
        let earlier = plan_of(&["numpy", "pandas", "scipy"], &history);
        assert!(!spec(&earlier).extra_files.contains_key(ADDED));
        let installed = &spec(&earlier).installs;
        assert_eq!(installed.len(), 1);
        assert_eq!(installed[0].lines, ["numpy", "pandas", "scipy"]);
        history.remember(installed).unwrap();

        let lines = ["numpy", "tabulate", "pandas", "scipy"];
        let fresh = plan_of(&lines, &InstallHistory::none());
        let now = plan_of(&lines, &history);
        // The same image under the same key; the plan shows the whole group.
        assert_eq!(now.build_key, fresh.build_key);
        assert_eq!(now.key_inputs, fresh.key_inputs);
        assert_eq!(now.requirements, fresh.requirements);
        let files = spec(&now).extra_files;
        assert_eq!(
            files[FILE], "numpy\npandas\nscipy\n",
            "the earlier file as it was"
        );
        assert_eq!(files[ADDED], "tabulate\n");
        let dockerfile = now.dockerfile.clone().unwrap();
        assert_eq!(files[GENERATED_DOCKERFILE], dockerfile);
        assert!(dockerfile.contains(&format!(" -r {FILE}\nCOPY {ADDED} {ADDED}\n")));
        assert!(dockerfile.contains(&format!(" -r {FILE} -r {ADDED}\n")));
        assert!(
            files[GENERATED_DOCKERFILE_ROOT_PARENT].contains(&format!(" -r {FILE} -r {ADDED}\n"))
        );
        assert_eq!(now.installs_on_earlier_sets(), [(FILE, 1, 3)]);
        assert_eq!(fresh.installs_on_earlier_sets(), []);
        // What stays remembered is the earlier set: its layer is the one the engine has.
        assert_eq!(spec(&now).installs, *installed);

        // A line of the earlier set removed: installed whole.
        let removed = plan_of(&["numpy", "tabulate", "scipy"], &history);
        assert_eq!(spec(&removed).extra_files[FILE], "numpy\ntabulate\nscipy\n");
        assert!(!spec(&removed).extra_files.contains_key(ADDED));
        // Another parent: installed whole. `prevent_build_reuse` builds without the engine's
        // cache: installed whole, and nothing to remember.
        let other = f.pipeline(&yaml.replace("python:3.11", "python:3.12"));
        let plan = plan_remembering(&other, &lines, "sha256:d", &history).unwrap();
        assert!(!spec(&plan.images[0]).extra_files.contains_key(ADDED));
        assert_eq!(spec(&plan.images[0]).installs.len(), 1);
        let prevent = yaml.replace(
            "requirements:",
            "prevent_build_reuse: true\n    requirements:",
        );
        let plan = plan_remembering(&f.pipeline(&prevent), &lines, "sha256:d", &history).unwrap();
        assert!(!spec(&plan.images[0]).extra_files.contains_key(ADDED));
        assert!(spec(&plan.images[0]).installs.is_empty());
    }

    #[test]
    fn skip_build_uses_the_parent_as_is() {
        let f = Fixture::new();
        let p = f.pipeline("name: p\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    skip_build: true\n    requirements: [numpy]\n");
        let plan = plan_with(&p, &["numpy"]).unwrap();
        assert_eq!(kinds(&plan), [(ImageKind::Parent, PARENT, None)]);
    }

    #[test]
    fn nothing_to_add_uses_the_parent_and_warns_about_dropped_settings() {
        let f = Fixture::new();
        let p = f.pipeline("name: p\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    runtime_environment: {A: b}\n    user: app\n    allow_including_files_in_images: false\n");
        let plan = plan_with(&p, &[]).unwrap();
        assert_eq!(kinds(&plan), [(ImageKind::Parent, PARENT, None)]);
        // `runtime_environment` still applies: `dockwright run` sets it.
        assert_eq!(
            plan.warnings,
            [format!(
                "{}:6:11: `settings.docker.user`: is ignored: nothing is built on the parent image `example/python:3.11`",
                p.file.display()
            )]
        );
    }

    #[test]
    fn nothing_to_add_and_no_parent_is_an_error() {
        let f = Fixture::new();
        let p =
            f.pipeline("name: p\nsettings: {docker: {allow_including_files_in_images: false}}\n");
        let err = plan_with(&p, &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("no `parent_image` and no `dockerfile`"),
            "{err}"
        );
    }

    #[test]
    fn requirements_build_one_image_on_the_parent_or_the_default() {
        let f = Fixture::new();
        let p = f.pipeline("name: p\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    requirements: [numpy]\n");
        let plan = plan_with(&p, &["numpy"]).unwrap();
        assert_eq!(
            kinds(&plan),
            [(ImageKind::Generated, "dockwright:p", Some(PARENT))]
        );
        let dockerfile = plan.images[0].dockerfile.as_deref().unwrap();
        assert!(
            dockerfile.starts_with("FROM example/python:3.11\n"),
            "{dockerfile}"
        );
        assert_eq!(plan.images[0].requirements[0].lines, ["numpy"]);

        let p = f.pipeline("name: p\nsettings:\n  docker:\n    requirements: [numpy]\n");
        let plan = plan_with(&p, &["numpy"]).unwrap();
        assert_eq!(
            kinds(&plan),
            [(ImageKind::Generated, "dockwright:p", Some(DEFAULT_PARENT))]
        );
    }

    #[test]
    fn a_user_dockerfile_alone_is_the_image() {
        let f = Fixture::new();
        f.write("docker/Dockerfile", "FROM example/python:3.11\n");
        let p = f.pipeline("name: p\nsettings:\n  docker:\n    dockerfile: docker/Dockerfile\n    build_context_root: docker\n    parent_image: ignored/parent:1\n    allow_including_files_in_images: false\n");
        let plan = plan_with(&p, &[]).unwrap();
        assert_eq!(
            kinds(&plan),
            [(ImageKind::Dockerfile, "dockwright:p", None)]
        );
        assert_eq!(
            plan.images[0].dockerfile.as_deref(),
            Some("FROM example/python:3.11\n")
        );
        let build = plan.images[0].build.as_ref().unwrap();
        assert_eq!(
            build.context_root.as_deref(),
            Some(f.dir.path().join("docker").as_path())
        );
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("parent image is ignored")),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn a_container_registry_in_the_stack_prefixes_final_images_only() {
        let f = Fixture::new();
        f.write("Dockerfile", "FROM example/python:3.11\n");
        let p = f.pipeline("name: p\nstack:\n  container_registry: {flavor: default, uri: 127.0.0.1:5000/team/}\nsettings:\n  docker:\n    dockerfile: Dockerfile\n    target_repository: ml\n    image_tag: v1\n    apt_packages: [git]\n");
        assert_eq!(container_registry(&p), Some("127.0.0.1:5000/team"));
        let plan = plan_with(&p, &[]).unwrap();
        assert_eq!(
            kinds(&plan),
            [
                (ImageKind::Dockerfile, "ml:v1-intermediate-build", None),
                (
                    ImageKind::Generated,
                    "127.0.0.1:5000/team/ml:v1",
                    Some("ml:v1-intermediate-build")
                ),
            ]
        );
    }

    #[test]
    fn a_user_dockerfile_with_more_gets_a_generated_image_on_top() {
        let f = Fixture::new();
        f.write("Dockerfile", "FROM example/python:3.11\n");
        let p = f.pipeline("name: p\nsettings:\n  docker:\n    dockerfile: Dockerfile\n    target_repository: team/ml\n    image_tag: v1\n    apt_packages: [git]\n");
        let plan = plan_with(&p, &[]).unwrap();
        assert_eq!(
            kinds(&plan),
            [
                (ImageKind::Dockerfile, "team/ml:v1-intermediate-build", None),
                (
                    ImageKind::Generated,
                    "team/ml:v1",
                    Some("team/ml:v1-intermediate-build")
                ),
            ]
        );
        // The generated image's key follows the intermediate image's key.
        assert_eq!(
            plan.images[1].key_inputs["parent"],
            plan.images[0].build_key
        );
    }

    #[test]
    fn steps_with_equal_settings_share_an_image_and_others_get_their_own() {
        let f = Fixture::new();
        let p = f.pipeline(concat!(
            "name: train\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    requirements: [numpy]\n",
            "steps:\n  - {name: load, command: [a]}\n  - {name: fit, command: [b], after: [load]}\n",
            "  - name: gpu\n    command: [c]\n    settings: {docker: {apt_packages: [libgomp1]}}\n",
        ));
        let plan = plan_with(&p, &["numpy"]).unwrap();
        let names: Vec<(&str, Vec<&str>)> = plan
            .images
            .iter()
            .map(|i| {
                (
                    i.name.as_str(),
                    i.steps.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("dockwright:train", vec!["load", "fit"]),
                ("dockwright:train-gpu", vec!["gpu"])
            ]
        );
        assert_eq!(plan.images[1].apt_packages, ["libgomp1"]);
    }

    #[test]
    fn tags_derived_from_names_are_lower_case_dashed_and_bounded() {
        assert_eq!(
            derived_tag("My Training Pipeline").unwrap(),
            "my-training-pipeline"
        );
        assert_eq!(
            derived_tag("  Nightly / ETL #2 -- Étape  ").unwrap(),
            "nightly-etl-2-tape"
        );
        assert_eq!(derived_tag("-.team_ml.-").unwrap(), "team_ml");
        let long = derived_tag(&format!("{} tail", "Ab".repeat(100))).unwrap();
        assert_eq!(long.len(), MAX_TAG);
        assert!(long.chars().all(|c| c.is_ascii_lowercase()));
        // Cut just after a separator: the dash does not stay at the end.
        let cut = derived_tag(&format!("{} b", "a".repeat(MAX_TAG - 1))).unwrap();
        assert_eq!(cut, "a".repeat(MAX_TAG - 1));
        assert_eq!(
            derived_tag("My Training Pipeline"),
            derived_tag("My Training Pipeline")
        );
        assert!(derived_tag("!!! ---").is_err());
    }

    #[test]
    fn a_pipeline_named_with_capitals_and_spaces_names_valid_images() {
        let f = Fixture::new();
        let p = f.pipeline(concat!(
            "name: My Training Pipeline\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    requirements: [numpy]\n",
            "steps:\n  - {name: Load_Data, command: [a]}\n",
            "  - name: Train_Model\n    command: [b]\n    settings: {docker: {apt_packages: [libgomp1]}}\n",
        ));
        let plan = plan_with(&p, &["numpy"]).unwrap();
        let names: Vec<&str> = plan.images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "dockwright:my-training-pipeline",
                "dockwright:my-training-pipeline-train_model"
            ]
        );
        assert_eq!(
            plan.pipeline, "My Training Pipeline",
            "the name itself is kept"
        );
    }

    #[test]
    fn tags_follow_dockers_rules() {
        assert_eq!(
            sanitize_tag("My Pipeline/step#1").unwrap(),
            "MyPipelinestep1"
        );
        assert_eq!(sanitize_tag("-leading-dash").unwrap(), "_leading-dash");
        assert_eq!(sanitize_tag(".leading.dot").unwrap(), "_leading.dot");
        assert_eq!(sanitize_tag(&"x".repeat(300)).unwrap().len(), 128);
        assert!(sanitize_tag("!!!").is_err());
    }

    #[test]
    fn planning_is_pure_and_the_key_is_stable() {
        let f = Fixture::new();
        f.write("steps/a.py", "print(1)\n");
        let yaml = "name: p\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    requirements: [numpy]\n    allow_including_files_in_images: true\n";
        let p = f.pipeline(yaml);
        let first = serde_json::to_string(&plan_with(&p, &["numpy"]).unwrap()).unwrap();
        // A new mtime alone changes nothing.
        f.write("steps/a.py", "print(1)\n");
        let second = serde_json::to_string(&plan_with(&p, &["numpy"]).unwrap()).unwrap();
        assert_eq!(first, second);
        let key = plan_with(&p, &["numpy"]).unwrap().images[0]
            .build_key
            .clone();
        assert!(key.starts_with("sha256:") && key.len() == 71, "{key}");
    }

    /// Each build asks for BuildKit on its own: the user Dockerfile's through
    /// `parent_image_build_config`, the generated one's through `build_config` or a cache mount.
    #[test]
    fn the_builder_is_buildkit_where_asked_or_needed_and_classic_otherwise() {
        let f = Fixture::new();
        f.write("docker/Dockerfile", "FROM example/python:3.11\n");
        let buildkit = |yaml: &str| -> Vec<bool> {
            let plan = plan_with(&f.pipeline(yaml), &["numpy"]).unwrap();
            let images = plan.images.iter();
            images.map(|i| i.build.as_ref().unwrap().buildkit).collect()
        };
        let dockerfile = "name: p\nsettings:\n  docker:\n    dockerfile: docker/Dockerfile\n    requirements: [numpy]\n";
        assert_eq!(buildkit(dockerfile), [false, false]);
        assert_eq!(
            buildkit(&format!(
                "{dockerfile}    parent_image_build_config: {{build_options: {{version: 2}}}}\n"
            )),
            [true, false],
            "the user Dockerfile's build alone"
        );
        assert_eq!(
            buildkit(&format!(
                "{dockerfile}    build_config: {{build_options: {{version: 2}}}}\n"
            )),
            [false, true],
            "the generated image's build alone"
        );
        assert_eq!(
            buildkit(&format!(
                "{dockerfile}    python_package_installer_cache_mount: type=cache,target=/root/.cache/uv\n"
            )),
            [false, true],
            "a cache mount needs BuildKit"
        );
    }

    /// Every input of the key changes it, and names which input changed.
    #[test]
    fn each_input_changes_the_key() {
        let f = Fixture::new();
        f.write("steps/a.py", "print(1)\n");
        f.write("Dockerfile", "FROM example/python:3.11\n");
        let base = "name: p\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    requirements: [numpy]\n    allow_including_files_in_images: true\n";
        let key = |p: &Pipeline, lines: &[&str], digest: &str| {
            let plan = plan_with_digest(p, lines, digest).unwrap();
            let last = plan.images.last().unwrap();
            (last.build_key.clone(), last.key_inputs.clone())
        };
        let p = f.pipeline(base);
        let (k0, inputs0) = key(&p, &["numpy"], "sha256:a");
        let changed = |(k, inputs): (String, BTreeMap<String, String>), what: &str| {
            assert_ne!(k, k0, "{what} did not change the key");
            let diff: Vec<&String> = inputs
                .iter()
                .filter(|(n, v)| inputs0.get(*n) != Some(v))
                .map(|(n, _)| n)
                .collect();
            assert!(
                diff.iter().any(|n| n.contains(what)),
                "{what}: changed inputs {diff:?}"
            );
        };
        changed(
            key(
                &f.pipeline(&base.replace("example/python:3.11", "example/python:3.12")),
                &["numpy"],
                "sha256:a",
            ),
            "parent",
        );
        changed(key(&p, &["numpy==2.0"], "sha256:a"), "requirements");
        changed(key(&p, &["numpy"], "sha256:b"), "plugin");
        changed(
            key(
                &f.pipeline(&format!("{base}    environment: {{A: b}}\n")),
                &["numpy"],
                "sha256:a",
            ),
            "generated dockerfile",
        );
        changed(
            key(
                &f.pipeline(&format!(
                    "{base}    build_config: {{build_options: {{build_args: {{X: y}}}}}}\n"
                )),
                &["numpy"],
                "sha256:a",
            ),
            "build options",
        );
        changed(
            key(
                &f.pipeline(&format!(
                    "{base}    build_config: {{build_options: {{version: 2}}}}\n"
                )),
                &["numpy"],
                "sha256:a",
            ),
            "builder",
        );
        f.write("steps/a.py", "print(2)\n");
        changed(key(&p, &["numpy"], "sha256:a"), "context");
        f.write("steps/a.py", "print(1)\n");
        // The pipeline file is part of the context too: put it back as well.
        let p = f.pipeline(base);
        assert_eq!(
            key(&p, &["numpy"], "sha256:a").0,
            k0,
            "restoring the files restores the key"
        );

        let with_dockerfile = f.pipeline("name: p\nsettings:\n  docker:\n    dockerfile: Dockerfile\n    allow_including_files_in_images: false\n");
        let (d0, _) = key(&with_dockerfile, &[], "sha256:a");
        f.write("Dockerfile", "FROM example/python:3.11\nRUN true\n");
        let (d1, inputs) = key(&with_dockerfile, &[], "sha256:a");
        assert_ne!(d0, d1);
        assert!(inputs.contains_key("user dockerfile"));
    }

    /// Local paths requirement lines name: copied alone before their group's install, in
    /// the key by content, refused outside the root or when the dockerignore rules leave
    /// them out.
    #[test]
    fn local_paths_are_sent_alone_and_their_content_is_in_the_key() {
        let f = Fixture::new();
        f.write("libs/mylib/pyproject.toml", "[project]\nname = \"mylib\"\n");
        f.write(
            "libs/editable/pyproject.toml",
            "[project]\nname = \"editable\"\n",
        );
        f.write("steps/a.py", "print(1)\n");
        let yaml = "name: p\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    requirements: [x]\n    allow_including_files_in_images: false\n";
        let p = f.pipeline(yaml);
        let lines = ["six", "./libs/mylib", "-e ./libs/editable"];
        let image = |p: &Pipeline| plan_with(p, &lines).unwrap().images.pop().unwrap();
        let first = image(&p);
        assert_eq!(
            first.requirements[0].lines,
            ["six", "/app/libs/mylib", "-e /app/libs/editable"]
        );
        let build = first.build.as_ref().unwrap();
        assert_eq!(build.only, ["libs/mylib", "libs/editable"]);
        let context = build.context().unwrap();
        let sent: Vec<&str> = context.files().collect();
        assert_eq!(
            sent,
            ["libs/editable/pyproject.toml", "libs/mylib/pyproject.toml"],
            "only the named paths, not steps/ or the pipeline file"
        );
        let dockerfile = first.dockerfile.as_deref().unwrap();
        assert!(
            dockerfile.contains("COPY --chown=${DOCKWRIGHT_PARENT_USER} libs/mylib libs/mylib\nCOPY --chown=${DOCKWRIGHT_PARENT_USER} libs/editable libs/editable\nCOPY .dockwright/requirements/2-requirements.txt"),
            "{dockerfile}"
        );

        f.write("steps/a.py", "print(2)\n");
        assert_eq!(image(&p).build_key, first.build_key, "a file not sent");
        f.write("libs/mylib/src/mylib/__init__.py", "X = 1\n");
        let changed = image(&p);
        assert_ne!(
            changed.build_key, first.build_key,
            "a file under a local path"
        );
        assert_ne!(changed.key_inputs["context"], first.key_inputs["context"]);

        f.write(".dockerignore", "libs/editable\n");
        let error = plan_with(&p, &lines).unwrap_err().to_string();
        assert!(
            error.contains("`-e ./libs/editable`") && error.contains("dockerignore"),
            "{error}"
        );
        std::fs::remove_file(f.dir.path().join(".dockerignore")).unwrap();

        let error = plan_with(&p, &["../outside"]).unwrap_err().to_string();
        assert!(
            error.contains("dockwright.yaml: test: `../outside`: the local path"),
            "{error}"
        );
        assert!(error.contains("outside the build context root"), "{error}");

        // With the files copied anyway, the context is the whole root.
        let p = f.pipeline(&yaml.replace("false", "true"));
        let build = image(&p).build.unwrap();
        assert!(build.only.is_empty());
        assert!(build.context().unwrap().files().any(|f| f == "steps/a.py"));
    }

    #[test]
    fn the_target_python_comes_from_an_official_tag() {
        let p = |parent: &str| {
            platform_for(&DockerSettings {
                parent_image: Some(parent.into()),
                ..DockerSettings::default()
            })
        };
        assert_eq!(p("python:3.11-slim").python_version, "3.11");
        assert_eq!(
            p("docker.io/library/python:3.12.4-bookworm").python_version,
            "3.12"
        );
        assert_eq!(p("example/python:3.11").python_version, "");
        assert_eq!(p("python:latest").python_version, "");
    }
}

#[cfg(test)]
mod constraint_tests {
    use super::*;

    fn line(text: &str, origin: &str) -> Line {
        Line {
            text: text.into(),
            origin: origin.into(),
            plugin: "requirements 1.0.0".into(),
        }
    }

    fn group(lines: Vec<Line>) -> GroupLines {
        GroupLines {
            group: Group::Requirements,
            file: ".dockwright/requirements/2-requirements.txt",
            lines,
        }
    }

    #[test]
    fn another_plugins_constraint_lines_cannot_write_into_the_users_constraints_file() {
        let mut constraints = Constraints::default();
        let mut evil = line("numpy==0.0.1", "constraint 1-c.txt (acme)");
        evil.plugin = "acme 1.0.0".into();
        let g = group(vec![
            line("six==1.16.0", "constraint 1-c.txt (c.txt:1)"),
            evil,
        ]);
        let file = requirement_file(&g, &mut constraints).unwrap();
        assert_eq!(
            file.lines,
            ["-c constraints/1-c.txt", "-c constraints/acme/1-c.txt"]
        );
        assert_eq!(
            constraints.files[".dockwright/requirements/constraints/1-c.txt"],
            ["six==1.16.0"]
        );
        assert_eq!(
            constraints.files[".dockwright/requirements/constraints/acme/1-c.txt"],
            ["numpy==0.0.1"]
        );
    }

    #[test]
    fn constraint_lines_move_to_their_file_and_leave_one_include_in_place() {
        let mut constraints = Constraints::default();
        let g = group(vec![
            line("six", "requirements.txt:1"),
            line("six==1.16.0", "constraint 1-c.txt (c.txt:1)"),
            line("numpy", "requirements.txt:3"),
            line("numpy<2", "constraint 1-c.txt (c.txt:2)"),
            line("tqdm<5", "constraint 2-d.txt (d.txt:1)"),
        ]);
        let file = requirement_file(&g, &mut constraints).unwrap();
        assert_eq!(
            file.lines,
            [
                "six",
                "-c constraints/1-c.txt",
                "numpy",
                "-c constraints/2-d.txt"
            ]
        );
        assert_eq!(
            file.origins[1],
            "constraint 1-c.txt (c.txt:1) (requirements 1.0.0)"
        );
        assert_eq!(
            constraints.files,
            BTreeMap::from([
                (
                    ".dockwright/requirements/constraints/1-c.txt".to_string(),
                    vec!["six==1.16.0".to_string(), "numpy<2".to_string()]
                ),
                (
                    ".dockwright/requirements/constraints/2-d.txt".to_string(),
                    vec!["tqdm<5".to_string()]
                ),
            ])
        );
        assert_eq!(
            constraints.named_by[".dockwright/requirements/2-requirements.txt"],
            [
                ".dockwright/requirements/constraints/1-c.txt",
                ".dockwright/requirements/constraints/2-d.txt"
            ]
        );
    }

    #[test]
    fn a_constraint_origin_naming_no_file_is_refused() {
        for origin in [
            "constraint ../Dockerfile (x)",
            "constraint  (x)",
            "constraint .hidden",
        ] {
            let g = group(vec![line("six<2", origin)]);
            let err = requirement_file(&g, &mut Constraints::default()).unwrap_err();
            assert_eq!(err.origin, origin);
        }
    }
}
