//! The plan: which images a pipeline needs, in build order, each with its generated
//! Dockerfile, requirement files, build context and build key. A plan is plain data you can
//! print (`dockwright plan --json`), and planning is pure: the same inputs give the same
//! plan, byte for byte, with no Docker engine, no clock and no randomness. The plugins have
//! already answered ([`crate::plugins::sources`]); this module only decides.
//!
//! Which images (DESIGN.md §3):
//! - `skip_build` → the parent as is;
//! - no `dockerfile`: nothing to add → the parent as is; else one generated image on it;
//! - a `dockerfile`: an image from it; when something else must be added, a generated image
//!   on top, and the first is tagged `<repo>:<tag>-intermediate-build`.
//!
//! Steps with equal merged settings share an image; each distinct settings gets its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::context::{Context, ContextError, HashCache};
use crate::dockerfile::{self, DockerfileInput};
use crate::plugins::Platform;
use crate::requirements::{GroupLines, RequirementSet};
use crate::settings::{DockerBuildOptions, DockerSettings, Pipeline};

/// The parent image when the settings name none.
pub const DEFAULT_PARENT: &str = "python:3.11-slim";
/// The repository when `target_repository` is not set.
pub const DEFAULT_REPOSITORY: &str = "dockwright";
/// The image label that carries the build key.
pub const BUILD_KEY_LABEL: &str = "dockwright.build-key";

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
    /// `sha256:<hex>` over everything that decides the image's bytes.
    pub build_key: String,
    pub steps: Vec<String>,
    /// What the engine needs to build it; null for a parent.
    pub build: Option<BuildSpec>,
    /// The inputs of the build key, each hashed, for `plan --explain`.
    pub key_inputs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequirementFile {
    pub group: crate::plugins::Group,
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
    /// Path of the Dockerfile inside the context.
    pub dockerfile_path: String,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub pull: Option<bool>,
    pub no_cache: bool,
    /// Other build options as given (`target`, `network_mode`, `platform`, ...).
    pub options: BTreeMap<String, serde_json::Value>,
    /// The Dockerfile uses a BuildKit feature (a cache mount).
    pub buildkit: bool,
    /// `prevent_build_reuse`: build even when an image with this key exists.
    pub reuse: bool,
}

impl BuildSpec {
    /// The build context, with the generated files in place.
    pub fn context(&self) -> Result<Context, ContextError> {
        let mut context = match &self.context_root {
            Some(root) => Context::scan(root, self.dockerignore.as_deref())?,
            None => Context::empty(),
        };
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
    #[error(
        "requirements conflict (run without --strict to build anyway):\n  {}",
        conflicts.join("\n  ")
    )]
    Conflicts { conflicts: Vec<String> },
}

/// Plans every image of `pipeline`, given each distinct settings' requirements.
pub fn plan(
    pipeline: &Pipeline,
    inputs: &[ImageInputs<'_>],
    cache: &mut HashCache,
) -> Result<Plan, PlanError> {
    let mut warnings: Vec<String> = pipeline.warnings.iter().map(ToString::to_string).collect();
    let mut images = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        let tag = tag_for(pipeline, inputs, index)?;
        images.extend(plan_image(pipeline, input, &tag, cache, &mut warnings)?);
    }
    for input in inputs {
        for conflict in &input.requirements.conflicts {
            let warning = format!("requirements conflict: {conflict}");
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
    }
    Ok(Plan {
        pipeline: pipeline.name.clone(),
        images,
        warnings,
    })
}

/// `image_tag`, or the sanitised `<pipeline>` for the pipeline's own settings and
/// `<pipeline>-<first step>` for a step whose settings differ.
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
    sanitize_tag(&raw).map_err(|reason| PlanError::Tag {
        file: file(pipeline),
        tag: raw,
        reason,
    })
}

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

fn file(pipeline: &Pipeline) -> String {
    pipeline.file.display().to_string()
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
    cache: &mut HashCache,
    warnings: &mut Vec<String>,
) -> Result<Vec<ImagePlan>, PlanError> {
    let docker = input.docker;
    let target = format!("{}:{tag}", repository(docker));
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
                let intermediate =
                    sanitize_tag(&format!("{tag}-intermediate-build")).map_err(|reason| {
                        PlanError::Tag {
                            file: file(pipeline),
                            tag: tag.into(),
                            reason,
                        }
                    })?;
                format!("{}:{intermediate}", repository(docker))
            } else {
                target.clone()
            };
            let image = user_dockerfile_image(pipeline, input, path, name, cache)?;
            let (name, key) = (image.name.clone(), image.build_key.clone());
            images.push(image);
            if !needs_build {
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
                for field in docker.dropped_without_build() {
                    push_unique(
                        warnings,
                        format!(
                            "{}: `settings.docker.{field}` is ignored: nothing is built on the parent image `{parent}`",
                            file(pipeline)
                        ),
                    );
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
    images.push(generated_image(pipeline, input, parent, target, cache)?);
    Ok(images)
}

/// What a generated image is built on: its name, and what identifies its content (the
/// reference of an existing image, or the build key of an image built first).
struct Parent {
    name: String,
    key: String,
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
        steps: input.steps.clone(),
        build: None,
        key_inputs,
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
    let text = std::fs::read_to_string(&full).map_err(|source| PlanError::Dockerfile {
        file: file(pipeline),
        path: full.display().to_string(),
        source,
    })?;
    let config = docker.parent_image_build_config.clone().unwrap_or_default();
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
    let key = finish(pipeline, &mut build, &mut key_inputs, cache)?;
    Ok(ImagePlan {
        name,
        kind: ImageKind::Dockerfile,
        parent: None,
        dockerfile: Some(text),
        requirements: Vec::new(),
        apt_packages: Vec::new(),
        build_key: key,
        steps: input.steps.clone(),
        build: Some(build),
        key_inputs,
    })
}

fn generated_image(
    pipeline: &Pipeline,
    input: &ImageInputs<'_>,
    parent: Parent,
    name: String,
    cache: &mut HashCache,
) -> Result<ImagePlan, PlanError> {
    let docker = input.docker;
    let requirements: Vec<RequirementFile> = input
        .requirements
        .groups
        .iter()
        .map(requirement_file)
        .collect();
    let mut apt = docker.apt_packages.clone();
    for p in &input.requirements.apt_packages {
        if !apt.contains(p) {
            apt.push(p.clone());
        }
    }
    let files = requirements.iter().map(|r| r.file.clone()).collect();
    let rendered = dockerfile::render(&DockerfileInput::from_settings(
        &parent.name,
        docker,
        files,
        apt.clone(),
    ))
    .map_err(|source| PlanError::Generated {
        file: file(pipeline),
        source,
    })?;
    let config = docker.main_build_config();
    let options = config.build_options.clone().unwrap_or_default();
    let root = docker.includes_files().then_some(".");
    let mut build = build_spec(
        pipeline,
        root,
        config.dockerignore.as_deref(),
        &options,
        docker.prevent_build_reuse,
    );
    build.build_args.extend(rendered.build_args.clone());
    build.buildkit = docker.python_package_installer_cache_mount.is_some();
    build
        .extra_files
        .insert(GENERATED_DOCKERFILE.into(), rendered.text.clone());
    let mut key_inputs = BTreeMap::new();
    for r in &requirements {
        let text = r.lines.join("\n") + "\n";
        key_inputs.insert(format!("requirements {}", r.file), hash(&text));
        build.extra_files.insert(r.file.clone(), text);
    }
    build.dockerfile_path = GENERATED_DOCKERFILE.into();
    key_inputs.insert("parent".into(), parent.key.clone());
    key_inputs.insert("generated dockerfile".into(), hash(&rendered.text));
    for (i, digest) in input.plugin_digests.iter().enumerate() {
        key_inputs.insert(format!("plugin {i}"), digest.clone());
    }
    let key = finish(pipeline, &mut build, &mut key_inputs, cache)?;
    Ok(ImagePlan {
        name,
        kind: ImageKind::Generated,
        parent: Some(parent.name),
        dockerfile: Some(rendered.text),
        requirements,
        apt_packages: apt,
        build_key: key,
        steps: input.steps.clone(),
        build: Some(build),
        key_inputs,
    })
}

/// Where the generated Dockerfile sits in the context: out of the way of a user's own
/// `Dockerfile` among the project files.
pub const GENERATED_DOCKERFILE: &str = ".dockwright/Dockerfile";

fn requirement_file(group: &GroupLines) -> RequirementFile {
    RequirementFile {
        group: group.group,
        file: group.file.to_string(),
        lines: group.lines.iter().map(|l| l.text.clone()).collect(),
        origins: group
            .lines
            .iter()
            .map(|l| format!("{} ({})", l.origin, l.plugin))
            .collect(),
    }
}

fn build_spec(
    pipeline: &Pipeline,
    root: Option<&str>,
    dockerignore: Option<&str>,
    options: &DockerBuildOptions,
    prevent_reuse: bool,
) -> BuildSpec {
    let resolve = |p: &str| normalize(&pipeline.base_dir.join(p));
    let mut extra_options = BTreeMap::new();
    for (key, value) in &options.extra {
        extra_options.insert(key.clone(), value.clone());
    }
    BuildSpec {
        context_root: root.map(resolve),
        dockerignore: dockerignore.map(resolve),
        extra_files: BTreeMap::new(),
        dockerfile_path: "Dockerfile".into(),
        build_args: options.build_args.clone().unwrap_or_default(),
        labels: options.labels.clone().unwrap_or_default(),
        pull: options.pull,
        no_cache: options.no_cache.unwrap_or(false),
        options: extra_options,
        buildkit: false,
        reuse: !prevent_reuse,
    }
}

/// Adds the context and the build options to the key inputs, labels the build with the
/// key, and returns the key.
fn finish(
    pipeline: &Pipeline,
    build: &mut BuildSpec,
    key_inputs: &mut BTreeMap<String, String>,
    cache: &mut HashCache,
) -> Result<String, PlanError> {
    let context = build.context().map_err(|source| PlanError::Context {
        file: file(pipeline),
        source,
    })?;
    let digest = context.digest(cache).map_err(|source| PlanError::Context {
        file: file(pipeline),
        source,
    })?;
    key_inputs.insert("context".into(), digest.digest);
    let options = serde_json::json!({
        "build_args": build.build_args, "labels": build.labels, "pull": build.pull,
        "no_cache": build.no_cache, "options": build.options, "dockerfile": build.dockerfile_path,
    });
    key_inputs.insert("build options".into(), hash(&options.to_string()));
    let key = key_of(key_inputs);
    build.labels.insert(BUILD_KEY_LABEL.into(), key.clone());
    Ok(key)
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
    let python_version = parent
        .rsplit('/')
        .next()
        .and_then(|last| last.strip_prefix("python:"))
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
