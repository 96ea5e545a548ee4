//! `settings.docker`: ZenML 0.98's `DockerSettings` fields, types, defaults and validators
//! (reference/zenml-behaviour.md §2), read from YAML nodes.
//!
//! Where Dockwright differs from ZenML, on purpose:
//! - unknown keys are errors with a suggestion (ZenML ignores them);
//! - fields that only make sense with a ZenML server (`allow_download_from_*`,
//!   `install_deployment_requirements`, `disable_automatic_requirements_detection`) and the
//!   deprecated no-ops (`copy_files`, `copy_global_config`, `required_hub_plugins`) are
//!   accepted with a warning and not kept;
//! - the deprecated `build_options` and `dockerignore` are kept and used as fallbacks for
//!   both builds: `parent_image_build_config` for the user Dockerfile's, `build_config` for
//!   the generated one's (see [`DockerSettings::dockerfile_build_config`]);
//! - environment keys keep their case (ZenML upper-cases them; `http_proxy` must stay
//!   lower-case to work), and scalar values are read as written (`true`, `1.10`);
//! - `python_package_installer_args: {flag: false}` removes the flag (ZenML renders
//!   `--flag=False`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::build_options::{self, BuilderVersion, DockerBuildOptions};
use super::reader::{Ctx, Fields, Result, has_key, index, join};
use super::yaml::{Node, Position, Value};
use crate::docker_syntax;

/// Every key `settings.docker` accepts (from the description the JSON Schema is made from).
pub(crate) const FIELDS: &[&str] = &super::spec::names(&super::spec::DOCKER);

const ALLOW_FIELDS: [&str; 3] = [
    "allow_including_files_in_images",
    "allow_download_from_code_repository",
    "allow_download_from_artifact_store",
];

/// The Docker settings of a pipeline or of one step (after merging over the pipeline's).
/// Equal settings give the same image, so steps with equal settings share one.
/// Serializes to JSON with ZenML's field names (what plugins receive).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct DockerSettings {
    pub parent_image: Option<String>,
    /// Path of a user Dockerfile, relative to the pipeline file's directory.
    pub dockerfile: Option<String>,
    /// Context directory of the user-Dockerfile build, relative to the pipeline file.
    pub build_context_root: Option<String>,
    pub parent_image_build_config: Option<DockerBuildConfig>,
    pub build_config: Option<DockerBuildConfig>,
    pub skip_build: bool,
    /// Never reuse an existing image. Not part of what decides an image's bytes.
    pub prevent_build_reuse: bool,
    pub target_repository: Option<String>,
    pub image_tag: Option<String>,
    pub python_package_installer: PythonPackageInstaller,
    pub python_package_installer_cache_mount: Option<String>,
    pub python_package_installer_args: InstallerArgs,
    pub replicate_local_python_environment: Option<LocalEnvironmentExport>,
    pub pyproject_path: Option<String>,
    pub pyproject_export_command: Option<Vec<String>>,
    pub requirements: Option<Requirements>,
    pub required_integrations: Vec<String>,
    pub install_stack_requirements: bool,
    pub local_project_install_command: Option<String>,
    pub apt_packages: Vec<String>,
    pub environment: EnvVars,
    pub runtime_environment: EnvVars,
    pub user: Option<String>,
    pub allow_including_files_in_images: bool,
    /// Deprecated: fallback for `build_config.build_options`.
    pub build_options: Option<DockerBuildOptions>,
    /// Deprecated: fallback for `build_config.dockerignore`.
    pub dockerignore: Option<String>,
}

impl Default for DockerSettings {
    fn default() -> Self {
        DockerSettings {
            parent_image: None,
            dockerfile: None,
            build_context_root: None,
            parent_image_build_config: None,
            build_config: None,
            skip_build: false,
            prevent_build_reuse: false,
            target_repository: None,
            image_tag: None,
            python_package_installer: PythonPackageInstaller::Uv,
            python_package_installer_cache_mount: None,
            python_package_installer_args: InstallerArgs::default(),
            replicate_local_python_environment: None,
            pyproject_path: None,
            pyproject_export_command: None,
            requirements: None,
            required_integrations: Vec::new(),
            install_stack_requirements: true,
            local_project_install_command: None,
            apt_packages: Vec::new(),
            environment: EnvVars::default(),
            runtime_environment: EnvVars::default(),
            user: None,
            allow_including_files_in_images: true,
            build_options: None,
            dockerignore: None,
        }
    }
}

impl DockerSettings {
    /// The settings as a JSON object keyed by ZenML field names.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("settings are plain data")
    }

    /// Whether the project's files go into the image (`COPY . .`). Dockwright has no
    /// artifact store to download code from, so this is `allow_including_files_in_images`
    /// (a local project install requires it, checked at load).
    pub(crate) fn includes_files(&self) -> bool {
        self.allow_including_files_in_images || self.local_project_install_command.is_some()
    }

    /// Whether the settings themselves ask for a build on top of the parent: apt packages,
    /// environment, included files or a local project install. Requirement settings are
    /// not counted here: whether they add anything is known only once the plugins have
    /// answered (an empty requirements file adds nothing), so the planner ORs this with
    /// "some requirement group or plugin apt package is non-empty".
    pub(crate) fn asks_for_build(&self) -> bool {
        !self.apt_packages.is_empty()
            || !self.environment.is_empty()
            || self.includes_files()
            || self.local_project_install_command.is_some()
    }

    /// Why the settings themselves ask for a generated build, one reason per setting, for
    /// `plan` to say (the same conditions as [`Self::asks_for_build`]).
    pub(crate) fn build_reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if !self.apt_packages.is_empty() {
            reasons.push(format!(
                "apt packages are installed: `apt_packages` is [{}]",
                self.apt_packages.join(", ")
            ));
        }
        if !self.environment.is_empty() {
            let keys: Vec<&str> = self.environment.keys().map(String::as_str).collect();
            reasons.push(format!(
                "environment is set: `environment` has {}",
                keys.join(", ")
            ));
        }
        if self.local_project_install_command.is_some() {
            reasons.push(
                "the project is installed: `local_project_install_command` is set".to_string(),
            );
        } else if self.allow_including_files_in_images {
            reasons.push("files are copied: `allow_including_files_in_images` is true".to_string());
        }
        reasons
    }

    /// The fields that are set but only take effect in a generated build, so they are
    /// dropped (and deserve a warning) when the parent image is used as is.
    pub(crate) fn dropped_without_build(&self) -> Vec<&'static str> {
        let mut dropped = Vec::new();
        if !self.runtime_environment.is_empty() {
            dropped.push("runtime_environment");
        }
        if self.user.is_some() {
            dropped.push("user");
        }
        if !self.python_package_installer_args.is_empty() {
            dropped.push("python_package_installer_args");
        }
        if self.python_package_installer_cache_mount.is_some() {
            dropped.push("python_package_installer_cache_mount");
        }
        if self.build_config.is_some() || self.build_options.is_some() {
            dropped.push("build_config");
        }
        dropped
    }

    /// The build configuration of the generated-Dockerfile build, with the deprecated
    /// top-level `dockerignore` and `build_options` filling what `build_config` leaves unset.
    pub(crate) fn main_build_config(&self) -> DockerBuildConfig {
        self.with_fallback(self.build_config.as_ref())
    }

    /// The build configuration of the user-Dockerfile build: `parent_image_build_config`,
    /// with the deprecated top-level fields filling what it leaves unset (the seed's own
    /// example, `DockerSettings(dockerfile=..., build_options=...)`, means them for this
    /// build).
    pub(crate) fn dockerfile_build_config(&self) -> DockerBuildConfig {
        self.with_fallback(self.parent_image_build_config.as_ref())
    }

    fn with_fallback(&self, config: Option<&DockerBuildConfig>) -> DockerBuildConfig {
        let mut config = config.cloned().unwrap_or_default();
        if config.dockerignore.is_none() {
            config.dockerignore = self.dockerignore.clone();
        }
        if config.build_options.is_none() {
            config.build_options = self.build_options.clone();
        }
        config
    }
}

/// Environment variables in the order they were written, as ZenML writes them (a value
/// may refer to a variable set before it: `B: ${A}/x`). Setting a variable again replaces
/// its value in place.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct EnvVars(Vec<(String, String)>);

impl EnvVars {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn insert(&mut self, key: String, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => *old = value,
            None => self.0.push((key, value)),
        }
    }
}

impl FromIterator<(String, String)> for EnvVars {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut vars = EnvVars::default();
        for (key, value) in iter {
            vars.insert(key, value);
        }
        vars
    }
}

impl IntoIterator for EnvVars {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a EnvVars {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl std::ops::Index<&str> for EnvVars {
    type Output = String;
    fn index(&self, key: &str) -> &String {
        self.get(key)
            .unwrap_or_else(|| panic!("no variable `{key}`"))
    }
}

/// A JSON object in the written order (what plugins receive).
impl Serialize for EnvVars {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `python_package_installer`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PythonPackageInstaller {
    Pip,
    #[default]
    Uv,
}

impl PythonPackageInstaller {
    pub fn as_str(self) -> &'static str {
        match self {
            PythonPackageInstaller::Pip => "pip",
            PythonPackageInstaller::Uv => "uv",
        }
    }
}

/// One value of `python_package_installer_args`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum InstallerArg {
    /// `null` or `true`: a bare `--flag`.
    Flag,
    /// `false`: the option is removed (also a default one such as `no-cache-dir`).
    Off,
    /// `--key=value`.
    Value(String),
    /// A list: `--key=v` once per item (e.g. several `extra-index-url`s).
    Values(Vec<String>),
}

/// `python_package_installer_args`, in the order written. Overlaying keeps an existing
/// key's position and appends new keys, like Python's `dict.update`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct InstallerArgs(pub Vec<(String, InstallerArg)>);

impl InstallerArgs {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&InstallerArg> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `other` over `self`.
    pub(crate) fn overlay(&self, other: &InstallerArgs) -> InstallerArgs {
        let mut merged = self.0.clone();
        for (key, value) in &other.0 {
            match merged.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value.clone(),
                None => merged.push((key.clone(), value.clone())),
            }
        }
        InstallerArgs(merged)
    }
}

impl Serialize for InstallerArgs {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            match value {
                InstallerArg::Flag => map.serialize_entry(key, &())?,
                InstallerArg::Off => map.serialize_entry(key, &false)?,
                InstallerArg::Value(v) => map.serialize_entry(key, v)?,
                InstallerArg::Values(vs) => map.serialize_entry(key, vs)?,
            }
        }
        map.end()
    }
}

/// `replicate_local_python_environment`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LocalEnvironmentExport {
    /// `pip_freeze`, or `true`.
    PipFreeze,
    UvFreeze,
    PoetryExport,
    /// A command whose output is the requirements (words as given).
    Command(Vec<String>),
}

impl LocalEnvironmentExport {
    const NAMES: [&'static str; 3] = ["pip_freeze", "uv_freeze", "poetry_export"];

    /// The command ZenML runs for this method.
    pub fn command(&self) -> Vec<String> {
        let words: &[&str] = match self {
            LocalEnvironmentExport::PipFreeze => &["pip", "freeze"],
            LocalEnvironmentExport::UvFreeze => &["uv", "pip", "freeze"],
            LocalEnvironmentExport::PoetryExport => {
                &["poetry", "export", "--format=requirements.txt"]
            }
            LocalEnvironmentExport::Command(words) => return words.clone(),
        };
        words.iter().map(|w| w.to_string()).collect()
    }
}

impl Serialize for LocalEnvironmentExport {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            LocalEnvironmentExport::PipFreeze => serializer.serialize_str("pip_freeze"),
            LocalEnvironmentExport::UvFreeze => serializer.serialize_str("uv_freeze"),
            LocalEnvironmentExport::PoetryExport => serializer.serialize_str("poetry_export"),
            LocalEnvironmentExport::Command(words) => words.serialize(serializer),
        }
    }
}

/// `requirements`: a path to a requirements file, or requirement lines.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Requirements {
    /// Relative to the pipeline file's directory.
    File(String),
    Lines(Vec<String>),
}

/// `build_config` / `parent_image_build_config`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct DockerBuildConfig {
    pub build_options: Option<DockerBuildOptions>,
    /// Path of a dockerignore file, relative to the pipeline file's directory.
    pub dockerignore: Option<String>,
}

/// Positions of the fields a settings mapping set, for errors found after typing.
pub(crate) type FieldPositions = BTreeMap<&'static str, Position>;

/// Applies the deprecated `source_files` migration to a settings mapping node (ZenML's
/// "before" validator): with none of the `allow_*` keys given, `source_files` becomes
/// `allow_including_files_in_images`; with one given too, it is ignored with a warning.
/// Done on each level (pipeline, step) before merging, as ZenML validates each level.
pub(crate) fn migrate_source_files(ctx: &mut Ctx, node: &Node, path: &str) -> Result<Node> {
    let Value::Map(entries) = &node.value else {
        return Ok(node.clone());
    };
    let Some((key, value)) = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "source_files"))
    else {
        return Ok(node.clone());
    };
    let field = join(path, "source_files");
    if value.is_null() {
        return Ok(without_key(node, "source_files"));
    }
    ctx.warn(
        key.at,
        &field,
        deprecated("source_files", "allow_including_files_in_images"),
    );
    if ALLOW_FIELDS.iter().any(|f| has_key(node, f)) {
        ctx.warn(
            key.at,
            &field,
            format!(
                "both `source_files` and one of {ALLOW_FIELDS:?} are given; ignoring `source_files`"
            ),
        );
        return Ok(without_key(node, "source_files"));
    }
    let mode = ctx.string(value, &field)?;
    let include = match mode.as_str() {
        "include" | "download_or_include" => true,
        "download" | "ignore" => false,
        other => {
            return Err(ctx.error_with_help(
                value.at,
                &field,
                format!("invalid source file mode `{other}`"),
                "valid modes: download, include, download_or_include, ignore",
            ));
        }
    };
    let Value::Map(mut migrated) = without_key(node, "source_files").value else {
        unreachable!("a mapping stays a mapping");
    };
    migrated.push((
        Node::new(Value::Str(ALLOW_FIELDS[0].into()), key.at),
        Node::new(Value::Bool(include), value.at),
    ));
    Ok(Node::new(Value::Map(migrated), node.at))
}

fn without_key(node: &Node, key: &str) -> Node {
    match &node.value {
        Value::Map(entries) => Node::new(
            Value::Map(
                entries
                    .iter()
                    .filter(|(k, _)| !matches!(&k.value, Value::Str(s) if s == key))
                    .cloned()
                    .collect(),
            ),
            node.at,
        ),
        _ => node.clone(),
    }
}

fn deprecated(field: &str, instead: &str) -> String {
    format!("`{field}` is deprecated (as in ZenML) and will be removed; use `{instead}`")
}

/// Reads a `settings.docker` mapping: types, defaults and per-field checks. Cross-field
/// rules are in [`validate`], run on the final (merged) settings.
pub fn parse(ctx: &mut Ctx, node: &Node, path: &str) -> Result<(DockerSettings, FieldPositions)> {
    let f = ctx.fields(node, path, FIELDS)?;
    let mut positions = FieldPositions::new();
    for name in FIELDS {
        if let Some(value) = f.get(name) {
            positions.insert(name, value.at);
        }
    }
    let defaults = DockerSettings::default();
    let settings = DockerSettings {
        parent_image: image_reference(ctx, &f, "parent_image")?,
        dockerfile: ctx.opt_string(&f, "dockerfile")?,
        build_context_root: ctx.opt_string(&f, "build_context_root")?,
        parent_image_build_config: build_config(ctx, &f, "parent_image_build_config")?,
        build_config: build_config(ctx, &f, "build_config")?,
        skip_build: ctx
            .opt_bool(&f, "skip_build")?
            .unwrap_or(defaults.skip_build),
        prevent_build_reuse: ctx.opt_bool(&f, "prevent_build_reuse")?.unwrap_or(false),
        target_repository: target_repository(ctx, &f)?,
        image_tag: image_tag(ctx, &f)?,
        python_package_installer: installer(ctx, &f)?,
        python_package_installer_cache_mount: single_word(
            ctx,
            &f,
            "python_package_installer_cache_mount",
        )?,
        python_package_installer_args: installer_args(ctx, &f)?,
        replicate_local_python_environment: local_export(ctx, &f)?,
        pyproject_path: ctx.opt_string(&f, "pyproject_path")?,
        pyproject_export_command: command_list(ctx, &f, "pyproject_export_command")?,
        requirements: requirements(ctx, &f)?,
        required_integrations: list(ctx, &f, "required_integrations")?,
        install_stack_requirements: ctx
            .opt_bool(&f, "install_stack_requirements")?
            .unwrap_or(defaults.install_stack_requirements),
        local_project_install_command: single_line(ctx, &f, "local_project_install_command")?,
        apt_packages: apt_packages(ctx, &f)?,
        environment: environment(ctx, &f, "environment")?,
        runtime_environment: environment(ctx, &f, "runtime_environment")?,
        user: user(ctx, &f)?,
        allow_including_files_in_images: ctx
            .opt_bool(&f, "allow_including_files_in_images")?
            .unwrap_or(defaults.allow_including_files_in_images),
        build_options: deprecated_build_options(ctx, &f)?,
        dockerignore: deprecated_dockerignore(ctx, &f)?,
    };
    accept_without_effect(ctx, &f)?;
    Ok((settings, positions))
}

/// ZenML's "after" validators, plus the parent-image-with-Dockerfile warning.
pub(crate) fn validate(
    ctx: &mut Ctx,
    settings: &DockerSettings,
    positions: &FieldPositions,
    at: Position,
    path: &str,
) -> Result<()> {
    let position = |field: &str| positions.get(field).copied().unwrap_or(at);
    if settings.skip_build && settings.parent_image.is_none() {
        return Err(ctx.error(
            position("skip_build"),
            &join(path, "skip_build"),
            "settings that specify `skip_build: true` must also give a `parent_image` (the image used as is)",
        ));
    }
    if settings.local_project_install_command.is_some() && !settings.allow_including_files_in_images
    {
        return Err(ctx.error_with_help(
            position("local_project_install_command"),
            &join(path, "local_project_install_command"),
            "files must be included in the image to install a local Python package, but `allow_including_files_in_images` is false",
            "remove `allow_including_files_in_images: false` or the local project install",
        ));
    }
    let classic = settings
        .main_build_config()
        .build_options
        .and_then(|options| options.version)
        == Some(BuilderVersion::Classic);
    if settings.python_package_installer_cache_mount.is_some() && classic {
        // The options came from `build_config` when it has any, else from the deprecated field.
        let own_options = settings.build_config.as_ref();
        let field = if own_options.is_some_and(|c| c.build_options.is_some()) {
            "build_config"
        } else {
            "build_options"
        };
        return Err(ctx.error_with_help(
            position(field),
            &join(path, field),
            "the installer's cache mount (`RUN --mount`) needs BuildKit, but the build options ask for the classic builder (`version: 1`)",
            "remove `version: 1` or `python_package_installer_cache_mount`",
        ));
    }
    if settings.dockerfile.is_some() && settings.parent_image.is_some() && !settings.skip_build {
        ctx.warn(
            position("parent_image"),
            &join(path, "parent_image"),
            "both a `dockerfile` and a `parent_image` are given; the parent image is ignored",
        );
    }
    if settings.build_context_root.is_some() && settings.dockerfile.is_none() {
        ctx.warn(
            position("build_context_root"),
            &join(path, "build_context_root"),
            "`build_context_root` only applies to the build of a user `dockerfile`, and none is given",
        );
    }
    Ok(())
}

fn image_reference(ctx: &Ctx, f: &Fields, key: &str) -> Result<Option<String>> {
    let value = ctx.opt_string(f, key)?;
    if let (Some(image), Some(node)) = (&value, f.get(key))
        && image.chars().any(char::is_whitespace)
    {
        return Err(ctx.error(
            node.at,
            &f.path(key),
            format!("`{image}` is not an image reference: it contains whitespace"),
        ));
    }
    Ok(value)
}

fn target_repository(ctx: &Ctx, f: &Fields) -> Result<Option<String>> {
    let key = "target_repository";
    let value = ctx.opt_string(f, key)?;
    if let (Some(repo), Some(node)) = (&value, f.get(key)) {
        let valid_component = |c: &str| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        };
        if !repo.split('/').all(valid_component) {
            return Err(ctx.error_with_help(
                node.at,
                &f.path(key),
                format!("`{repo}` is not a valid repository name"),
                "use lower-case letters, digits, `.`, `_`, `-` and `/` (no registry host, no tag)",
            ));
        }
    }
    Ok(value)
}

fn image_tag(ctx: &Ctx, f: &Fields) -> Result<Option<String>> {
    let key = "image_tag";
    let value = ctx.opt_string(f, key)?;
    if let (Some(tag), Some(node)) = (&value, f.get(key)) {
        let valid = tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return Err(ctx.error_with_help(
                node.at,
                &f.path(key),
                format!("`{tag}` is not a valid Docker tag"),
                "a tag is up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`",
            ));
        }
    }
    Ok(value)
}

fn installer(ctx: &Ctx, f: &Fields) -> Result<PythonPackageInstaller> {
    let key = "python_package_installer";
    let Some(node) = f.get(key) else {
        return Ok(PythonPackageInstaller::default());
    };
    match ctx.string(node, &f.path(key))?.as_str() {
        "pip" => Ok(PythonPackageInstaller::Pip),
        "uv" => Ok(PythonPackageInstaller::Uv),
        other => Err(ctx.error(
            node.at,
            &f.path(key),
            format!("expected `pip` or `uv`, found `{other}`"),
        )),
    }
}

fn single_word(ctx: &Ctx, f: &Fields, key: &str) -> Result<Option<String>> {
    let value = ctx.opt_string(f, key)?;
    if let (Some(text), Some(node)) = (&value, f.get(key))
        && text.chars().any(char::is_whitespace)
    {
        return Err(ctx.error(node.at, &f.path(key), "must not contain whitespace"));
    }
    Ok(value)
}

fn single_line(ctx: &Ctx, f: &Fields, key: &str) -> Result<Option<String>> {
    let value = ctx.opt_string(f, key)?;
    if let (Some(text), Some(node)) = (&value, f.get(key))
        && text.trim_end().contains(['\n', '\r'])
    {
        return Err(ctx.error_with_help(
            node.at,
            &f.path(key),
            "must be a single line (it becomes one `RUN` instruction)",
            "join the commands with `&&`",
        ));
    }
    Ok(value.map(|text| text.trim_end().to_owned()))
}

fn installer_args(ctx: &Ctx, f: &Fields) -> Result<InstallerArgs> {
    let key = "python_package_installer_args";
    let Some(node) = f.get(key) else {
        return Ok(InstallerArgs::default());
    };
    let path = f.path(key);
    let mut args = Vec::new();
    for (name, value) in ctx.string_keyed(node, &path)? {
        let arg_path = join(&path, name);
        if let Err(message) = docker_syntax::check_installer_option(name) {
            return Err(ctx.error(value.at, &arg_path, message));
        }
        let arg = match &value.value {
            Value::Null | Value::Bool(true) => InstallerArg::Flag,
            Value::Bool(false) => InstallerArg::Off,
            Value::Seq(items) => InstallerArg::Values(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| installer_value(ctx, item, &index(&arg_path, i)))
                    .collect::<Result<_>>()?,
            ),
            _ => InstallerArg::Value(installer_value(ctx, value, &arg_path)?),
        };
        args.push((name.to_owned(), arg));
    }
    Ok(InstallerArgs(args))
}

fn installer_value(ctx: &Ctx, node: &Node, path: &str) -> Result<String> {
    let text = ctx.string(node, path)?;
    if text.contains(['\n', '\r', '\0']) {
        return Err(ctx.error(node.at, path, "must be a single line"));
    }
    Ok(text)
}

fn local_export(ctx: &Ctx, f: &Fields) -> Result<Option<LocalEnvironmentExport>> {
    let key = "replicate_local_python_environment";
    let Some(node) = f.get(key) else {
        return Ok(None);
    };
    let path = f.path(key);
    let expected = "`pip_freeze`, `uv_freeze`, `poetry_export`, true, false or a command list";
    match &node.value {
        Value::Bool(true) => Ok(Some(LocalEnvironmentExport::PipFreeze)),
        Value::Bool(false) => Ok(None),
        Value::Seq(_) => {
            let words = ctx.string_list(node, &path)?;
            if words.is_empty() {
                return Err(ctx.error(node.at, &path, "the command list must not be empty"));
            }
            Ok(Some(LocalEnvironmentExport::Command(words)))
        }
        Value::Str(name) => match name.as_str() {
            "pip_freeze" => Ok(Some(LocalEnvironmentExport::PipFreeze)),
            "uv_freeze" => Ok(Some(LocalEnvironmentExport::UvFreeze)),
            "poetry_export" => Ok(Some(LocalEnvironmentExport::PoetryExport)),
            other => {
                let help = match crate::suggest::closest(other, LocalEnvironmentExport::NAMES) {
                    Some(name) => crate::suggest::did_you_mean(&[name]),
                    None => format!(
                        "a command is written as a list, e.g. {:?}",
                        other.split_whitespace().collect::<Vec<_>>()
                    ),
                };
                Err(ctx.error_with_help(
                    node.at,
                    &path,
                    format!("expected {expected}, found `{other}`"),
                    help,
                ))
            }
        },
        _ => Err(ctx.error(
            node.at,
            &path,
            format!("expected {expected}, found {}", node.kind()),
        )),
    }
}

fn command_list(ctx: &Ctx, f: &Fields, key: &str) -> Result<Option<Vec<String>>> {
    let Some(node) = f.get(key) else {
        return Ok(None);
    };
    let words = ctx.string_list(node, &f.path(key))?;
    if words.is_empty() {
        return Err(ctx.error(node.at, &f.path(key), "the command list must not be empty"));
    }
    Ok(Some(words))
}

fn requirements(ctx: &Ctx, f: &Fields) -> Result<Option<Requirements>> {
    let key = "requirements";
    let Some(node) = f.get(key) else {
        return Ok(None);
    };
    let path = f.path(key);
    match &node.value {
        Value::Seq(_) => {
            let lines = ctx.string_list(node, &path)?;
            Ok((!lines.is_empty()).then_some(Requirements::Lines(lines)))
        }
        Value::Map(_) => Err(ctx.error(
            node.at,
            &path,
            "expected a path to a requirements file or a list of requirements, found a mapping",
        )),
        _ => Ok(Some(Requirements::File(ctx.non_empty_string(node, &path)?))),
    }
}

fn list(ctx: &Ctx, f: &Fields, key: &str) -> Result<Vec<String>> {
    match f.get(key) {
        Some(node) => ctx.string_list(node, &f.path(key)),
        None => Ok(Vec::new()),
    }
}

fn apt_packages(ctx: &Ctx, f: &Fields) -> Result<Vec<String>> {
    let key = "apt_packages";
    let packages = list(ctx, f, key)?;
    if let Some(Value::Seq(items)) = f.get(key).map(|n| &n.value) {
        for (i, (package, item)) in packages.iter().zip(items).enumerate() {
            if let Err(message) = docker_syntax::check_apt_package(package) {
                return Err(ctx.error(item.at, &index(&f.path(key), i), message));
            }
        }
    }
    Ok(packages)
}

fn environment(ctx: &Ctx, f: &Fields, key: &str) -> Result<EnvVars> {
    let Some(node) = f.get(key) else {
        return Ok(EnvVars::default());
    };
    check_environment(ctx, node, &f.path(key))
}

/// A mapping of environment variables: valid names, scalar values (as written).
pub(crate) fn check_environment(ctx: &Ctx, node: &Node, path: &str) -> Result<EnvVars> {
    for (name, value) in ctx.string_keyed(node, path)? {
        let var_path = join(path, name);
        if let Err(message) = docker_syntax::check_env_key(name) {
            return Err(ctx.error(value.at, &var_path, message));
        }
        if value.is_null() {
            return Err(ctx.error_with_help(
                value.at,
                &var_path,
                "has no value",
                format!("write an empty string if that is meant: {name}: \"\""),
            ));
        }
        if let Some(text) = value.scalar_text(ctx.source)
            && let Err(message) = docker_syntax::check_env_value(&text)
        {
            return Err(ctx.error(value.at, &var_path, message));
        }
    }
    Ok(ctx.string_pairs(node, path)?.into_iter().collect())
}

fn user(ctx: &Ctx, f: &Fields) -> Result<Option<String>> {
    let key = "user";
    let value = ctx.opt_string(f, key)?;
    if let (Some(user), Some(node)) = (&value, f.get(key))
        && let Err(message) = docker_syntax::check_user(user)
    {
        return Err(ctx.error(node.at, &f.path(key), message));
    }
    Ok(value)
}

fn build_config(ctx: &mut Ctx, f: &Fields, key: &str) -> Result<Option<DockerBuildConfig>> {
    let Some(node) = f.get(key) else {
        return Ok(None);
    };
    let path = f.path(key);
    const KEYS: &[&str] = &super::spec::names(&super::spec::BUILD_CONFIG);
    let config = ctx.fields(node, &path, KEYS)?;
    Ok(Some(DockerBuildConfig {
        build_options: config
            .get("build_options")
            .map(|options| build_options::parse(ctx, options, &config.path("build_options")))
            .transpose()?,
        dockerignore: ctx.opt_string(&config, "dockerignore")?,
    }))
}

/// What replaces a deprecated top-level `build_options` / `dockerignore`: with a
/// `dockerfile` they apply to its build first (and to an image built on top of it).
fn replacement(f: &Fields, key: &str) -> String {
    if f.get("dockerfile").is_some() {
        format!(
            "`parent_image_build_config.{key}` for the build of `dockerfile` (and `build_config.{key}` for an image built on top of it)"
        )
    } else {
        format!("`build_config.{key}`")
    }
}

fn deprecated_build_options(ctx: &mut Ctx, f: &Fields) -> Result<Option<DockerBuildOptions>> {
    let key = "build_options";
    let Some(node) = f.get(key) else {
        return Ok(None);
    };
    ctx.warn(
        node.at,
        &f.path(key),
        format!(
            "`{key}` is deprecated (as in ZenML) and will be removed; use {}",
            replacement(f, key)
        ),
    );
    build_options::parse(ctx, node, &f.path(key)).map(Some)
}

fn deprecated_dockerignore(ctx: &mut Ctx, f: &Fields) -> Result<Option<String>> {
    let key = "dockerignore";
    let value = ctx.opt_string(f, key)?;
    if let Some(node) = f.get(key) {
        ctx.warn(
            node.at,
            &f.path(key),
            format!(
                "`{key}` is deprecated (as in ZenML) and will be removed; use {}",
                replacement(f, key)
            ),
        );
    }
    Ok(value)
}

/// Fields Dockwright accepts for compatibility with ZenML settings but does not use.
fn accept_without_effect(ctx: &mut Ctx, f: &Fields) -> Result<()> {
    const NO_SERVER: &str = "has no effect in Dockwright: there is no artifact store or code repository to download code from; code goes into the image when `allow_including_files_in_images` is true";
    for key in [
        "allow_download_from_code_repository",
        "allow_download_from_artifact_store",
    ] {
        if let Some(node) = f.get(key)
            && ctx.bool(node, &f.path(key))?
        {
            ctx.warn(node.at, &f.path(key), NO_SERVER);
        }
    }
    if let Some(node) = f.get("install_deployment_requirements") {
        ctx.bool(node, &f.path("install_deployment_requirements"))?;
        ctx.warn(
            node.at,
            &f.path("install_deployment_requirements"),
            "has no effect in Dockwright: there is no deployer",
        );
    }
    if let Some(node) = f.get("disable_automatic_requirements_detection")
        && !ctx.bool(node, &f.path("disable_automatic_requirements_detection"))?
    {
        ctx.warn(
            node.at,
            &f.path("disable_automatic_requirements_detection"),
            "Dockwright never picks up requirements implicitly; name the file in `requirements` or `pyproject_path`",
        );
    }
    for key in ["copy_files", "copy_global_config"] {
        if let Some(node) = f.get(key) {
            ctx.bool(node, &f.path(key))?;
            ctx.warn(
                node.at,
                &f.path(key),
                format!("`{key}` is deprecated (as in ZenML) and has no effect"),
            );
        }
    }
    if let Some(node) = f.get("required_hub_plugins") {
        ctx.string_list(node, &f.path("required_hub_plugins"))?;
        ctx.warn(
            node.at,
            &f.path("required_hub_plugins"),
            "`required_hub_plugins` is deprecated (the ZenML Hub was removed) and has no effect",
        );
    }
    Ok(())
}
