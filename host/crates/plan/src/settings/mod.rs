//! The pipeline file (`dockwright.yaml`, DESIGN.md §2): parsing, validation, and merging
//! each step's Docker settings over the pipeline's.
//!
//! Owns: the typed [`Pipeline`] the rest of the host plans from; the errors that point into
//! the file (file, line, column, field path, and for unknown keys the nearest valid key);
//! the warnings (deprecated or ineffective fields), collected as data.
//!
//! Relative paths in the file (`requirements`, `dockerfile`, `build_context_root`,
//! `pyproject_path`, dockerignore files) are kept as written and are relative to
//! [`Pipeline::base_dir`]; `stack` files and `grants` read paths are resolved here.

mod build_options;
mod docker;
mod error;
mod orchestrator;
mod reader;
mod schema;
mod spec;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use build_options::{BuilderVersion, ContainerLimits, DockerBuildOptions};
pub use docker::{
    DockerBuildConfig, DockerSettings, EnvVars, InstallerArg, InstallerArgs,
    LocalEnvironmentExport, PythonPackageInstaller, Requirements,
};
pub use error::{Diagnostic, SettingsError, Warning};
pub use orchestrator::RawSettings;
pub use schema::json_schema;
pub use yaml::Position;

use reader::{Ctx, Result, index, join};
use yaml::{Node, Value};

/// The default pipeline file name.
pub const DEFAULT_FILE: &str = "dockwright.yaml";

// The keys each mapping accepts come from the description the JSON Schema is made from.
const TOP_LEVEL: &[&str] = &spec::names(&spec::TOP);
const SETTINGS_KEYS: &[&str] = &spec::names(&spec::SETTINGS);
const STEP_KEYS: &[&str] = &spec::names(&spec::STEP);
const PLUGIN_KEYS: &[&str] = &spec::names(&spec::PLUGIN);
const GRANT_KEYS: &[&str] = &spec::names(&spec::GRANT);
const COMPONENT_KEYS: &[&str] = &spec::names(&spec::COMPONENT);

/// Every key `settings.docker` accepts: ZenML's `DockerSettings` field names.
pub fn docker_fields() -> &'static [&'static str] {
    docker::FIELDS
}

/// ZenML's stack component types, from the same generated catalogue the `stack` plugin
/// compiles in, so the host and the plugin agree on them.
pub use catalogue_data::COMPONENT_TYPES;

/// A loaded, validated pipeline file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    pub name: String,
    /// The pipeline file, absolute.
    pub file: PathBuf,
    /// Its directory: relative paths in the settings start here.
    pub base_dir: PathBuf,
    pub stack: Option<Stack>,
    /// The pipeline-level Docker settings.
    pub docker: DockerSettings,
    /// The pipeline-level `settings.orchestrator`, as written.
    pub orchestrator: Option<RawSettings>,
    pub plugins: Vec<PluginPin>,
    /// Plugin name → what the user grants it.
    pub grants: BTreeMap<String, GrantSpec>,
    /// Integration name → the plugin that provides it, for names more than one installed
    /// integration provider claims.
    pub integration_providers: BTreeMap<String, String>,
    /// In file order; see [`Pipeline::execution_order`].
    pub steps: Vec<Step>,
    pub warnings: Vec<Warning>,
    /// Where each field is, for errors found later (e.g. an unknown integration).
    positions: BTreeMap<String, Position>,
    source: String,
}

/// One step of the pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// The container's command, as a word list.
    pub command: Vec<String>,
    /// Names of the steps that must finish first.
    pub after: Vec<String>,
    /// Environment of the step's container at run time (not baked into the image).
    pub environment: BTreeMap<String, String>,
    /// The step's settings merged over the pipeline's (equal to the pipeline's when the
    /// step sets none), so equal settings mean a shared image.
    pub docker: DockerSettings,
    /// The step's own `settings.orchestrator`, as written (not merged: how is the
    /// orchestrator's business).
    pub orchestrator: Option<RawSettings>,
}

/// The stack: component type → component.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stack {
    /// The stack file, when the stack was given as a path.
    #[serde(skip)]
    pub file: Option<PathBuf>,
    #[serde(flatten)]
    pub components: BTreeMap<String, StackComponent>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StackComponent {
    pub flavor: String,
    /// Where the component lives; for a `container_registry`, the registry images are
    /// named for and pushed to (`localhost:5000`, `registry.example.com/team`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The component's `config`, as written (for an `orchestrator`: its settings).
    #[serde(skip)]
    pub config: Option<RawSettings>,
}

/// A plugin the pipeline needs, by name and semver range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginPin {
    pub name: String,
    pub version: semver::VersionReq,
}

/// What the user grants one plugin.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantSpec {
    /// Directories the plugin may read (absolute: relative ones are resolved against the
    /// pipeline file's directory).
    pub read: Vec<PathBuf>,
    /// Programs the plugin may run.
    pub exec: Vec<String>,
    /// pip options its requirement lines may carry (`extra-index-url`, `index-url`,
    /// `trusted-host`, `find-links`, `editable`, `requirement`, `constraint`, `pre`, …), and
    /// `url` for direct URL references.
    pub pip_options: Vec<String>,
    /// Host environment variables passed to the programs it runs (`exec`), besides PATH,
    /// HOME and LANG; no other reaches them.
    pub env: Vec<String>,
}

impl Pipeline {
    /// The steps in an order that respects `after`, ties kept in file order.
    pub fn execution_order(&self) -> Vec<&Step> {
        topological_order(&self.steps)
            .expect("cycles are rejected at load")
            .into_iter()
            .map(|i| &self.steps[i])
            .collect()
    }

    /// The position of a field by its path (`settings.docker.required_integrations[0]`,
    /// `steps[1].settings.docker.apt_packages`), if the file sets it.
    pub fn position(&self, field: &str) -> Option<Position> {
        self.positions.get(field).copied()
    }

    /// Where the user wrote `field` of the merged settings `docker`: in the first step whose
    /// settings these are and that sets the field itself, else in the pipeline's settings
    /// (e.g. `steps[1].settings.docker.requirements`, `settings.docker.requirements`).
    pub fn setting_path(&self, docker: &DockerSettings, field: &str) -> String {
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, step)| step.docker == *docker)
            .map(|(i, _)| format!("steps[{i}].settings.docker.{field}"))
            .find(|path| self.positions.contains_key(path))
            .unwrap_or_else(|| format!("settings.docker.{field}"))
    }

    /// An error about a field found after loading (e.g. by the planner), pointing at the
    /// field's place in the file when it is there, else at the start of the file.
    pub fn error_at(
        &self,
        field: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) -> SettingsError {
        let at = self.position(field).unwrap_or(Position::new(1, 1));
        Diagnostic::new(&self.file, &self.source, at, field, message)
            .with_help(help)
            .into_error()
    }
}

/// Reads and validates a pipeline file.
pub fn load(path: &Path) -> std::result::Result<Pipeline, SettingsError> {
    let source = crate::user_file::read_text(path).map_err(|source| SettingsError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&source, path)
}

/// The pipeline file as an absolute path without `.` or `..`, made once here so that every
/// path derived from it (grants, context roots, the paths handed to plugins) has one form.
/// A `..` is resolved on disk where the folder exists (after a symlink, `..` is the link
/// target's parent, as the kernel reads it), else lexically.
fn normalised(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    if !absolute.components().any(|c| c == Component::ParentDir) {
        return absolute;
    }
    let on_disk = absolute
        .parent()
        .and_then(|dir| dir.canonicalize().ok())
        .zip(absolute.file_name())
        .map(|(dir, name)| dir.join(name));
    on_disk.unwrap_or_else(|| {
        let mut out = PathBuf::new();
        for part in absolute.components() {
            match part {
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    })
}

/// Top-level keys starting with `x-` are a place to define YAML anchors (as in Compose
/// files): ignored, and not unknown.
fn without_extension_keys(mut root: yaml::Node) -> yaml::Node {
    if let yaml::Value::Map(entries) = &mut root.value {
        entries
            .retain(|(key, _)| !matches!(&key.value, yaml::Value::Str(k) if k.starts_with("x-")));
    }
    root
}

/// Validates the text of a pipeline file that lives at `path` (a `stack` file it names is
/// read from disk).
pub fn parse(source: &str, path: &Path) -> std::result::Result<Pipeline, SettingsError> {
    let file = normalised(path);
    let base_dir = file.parent().map(Path::to_owned).unwrap_or_default();
    let mut ctx = Ctx::new(path, source);
    let root = without_extension_keys(parse_yaml(&ctx, source)?);
    let top = ctx.fields(&root, "", TOP_LEVEL)?;

    let name = match top.get("name") {
        Some(node) => ctx.non_empty_string(node, "name")?,
        None => return Err(ctx.error(root.at, "name", "missing the pipeline's `name`")),
    };
    let (stack, unknown_flavor) = match top.get("stack") {
        Some(node) => {
            let (stack, unknown) = stack(&ctx, node, &base_dir)?;
            (Some(stack), unknown)
        }
        None => (None, None),
    };

    let docker_node = settings_docker(&mut ctx, top.get("settings"), "settings")?;
    let orchestrator = settings_orchestrator(&ctx, top.get("settings"), "settings")?;
    let (docker, positions) = docker::parse(&mut ctx, &docker_node, "settings.docker")?;
    docker::validate(
        &mut ctx,
        &docker,
        &positions,
        docker_node.at,
        "settings.docker",
    )?;

    let plugins = top
        .get("plugins")
        .map(|n| plugins(&ctx, n))
        .transpose()?
        .unwrap_or_default();
    let grants = top
        .get("grants")
        .map(|n| grants(&ctx, n, &base_dir))
        .transpose()?
        .unwrap_or_default();
    let integration_providers = top
        .get("integration_providers")
        .map(|n| integration_providers(&ctx, n))
        .transpose()?
        .unwrap_or_default();
    let steps = match top.get("steps") {
        Some(node) => steps(&mut ctx, node, &docker_node, &docker)?,
        None => Vec::new(),
    };
    // A flavor matters only where the stack's requirements are installed.
    let installs_stack = docker.install_stack_requirements
        || steps.iter().any(|s| s.docker.install_stack_requirements);
    if let Some(unknown) = unknown_flavor.filter(|_| installs_stack) {
        return Err(unknown);
    }

    let mut positions = BTreeMap::new();
    record_positions(&root, "", &mut positions);
    Ok(Pipeline {
        name,
        file,
        base_dir,
        stack,
        docker,
        orchestrator,
        plugins,
        grants,
        integration_providers,
        steps,
        warnings: dedup(ctx.warnings),
        positions,
        source: source.to_owned(),
    })
}

fn parse_yaml(ctx: &Ctx, source: &str) -> Result<Node> {
    yaml::parse(source).map_err(|err| {
        let at = err
            .location()
            .map(|l| Position::new(l.line(), l.column()))
            .unwrap_or(Position::new(1, 1));
        ctx.error(at, "", format!("invalid YAML: {}", err.without_snippet()))
    })
}

/// The `orchestrator` mapping of a `settings` node, as written (its keys depend on the
/// orchestrator, which the host knows).
fn settings_orchestrator(
    ctx: &Ctx,
    settings: Option<&Node>,
    path: &str,
) -> Result<Option<RawSettings>> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    let fields = ctx.fields(settings, path, SETTINGS_KEYS)?;
    fields
        .get("orchestrator")
        .map(|node| {
            let at = key_at(settings, "orchestrator").unwrap_or(node.at);
            RawSettings::read(ctx, node, at, &fields.path("orchestrator"))
        })
        .transpose()
}

/// Where `key` of the mapping `node` is written.
fn key_at(node: &Node, key: &str) -> Option<Position> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(k, _)| k.at),
        _ => None,
    }
}

/// The `docker` mapping of a `settings` node (with the `source_files` migration applied),
/// or an empty mapping.
fn settings_docker(ctx: &mut Ctx, settings: Option<&Node>, path: &str) -> Result<Node> {
    let empty = Node::new(
        Value::Map(Vec::new()),
        settings.map(|n| n.at).unwrap_or_default(),
    );
    let Some(settings) = settings else {
        return Ok(empty);
    };
    let fields = ctx.fields(settings, path, SETTINGS_KEYS)?;
    match fields.get("docker") {
        Some(docker) => {
            let docker_path = fields.path("docker");
            // A type error is reported by docker::parse; only mappings are migrated.
            docker::migrate_source_files(ctx, docker, &docker_path)
        }
        None => Ok(empty),
    }
}

/// The stack, and the error for its first flavor ZenML does not know (said at the flavor in
/// the stack file or the pipeline file, when the stack's requirements are installed).
fn stack(ctx: &Ctx, node: &Node, base_dir: &Path) -> Result<(Stack, Option<SettingsError>)> {
    match &node.value {
        Value::Str(_) => {
            let written = ctx.non_empty_string(node, "stack")?;
            let path = base_dir.join(&written);
            let source = crate::user_file::read_text(&path).map_err(|err| {
                ctx.error(
                    node.at,
                    "stack",
                    format!("cannot read the stack file {}: {err}", path.display()),
                )
            })?;
            let stack_ctx = Ctx::new(&path, &source);
            let root = parse_yaml(&stack_ctx, &source)?;
            let (mut stack, unknown) = stack_components(&stack_ctx, &root, "")?;
            stack.file = Some(path);
            Ok((stack, unknown))
        }
        _ => stack_components(ctx, node, "stack"),
    }
}

fn stack_components(ctx: &Ctx, node: &Node, path: &str) -> Result<(Stack, Option<SettingsError>)> {
    let fields = ctx.fields(node, path, COMPONENT_TYPES)?;
    let mut components = BTreeMap::new();
    let mut unknown = None;
    for (kind, value) in fields.entries() {
        let component_path = join(path, kind);
        let (flavor, uri, config) = match &value.value {
            Value::Map(_) => {
                let component = ctx.fields(value, &component_path, COMPONENT_KEYS)?;
                let flavor = match component.get("flavor") {
                    Some(flavor) => ctx.non_empty_string(flavor, &component.path("flavor"))?,
                    None => return Err(ctx.error(value.at, &component_path, "missing `flavor`")),
                };
                let uri = match component.get("uri") {
                    Some(uri) => Some(ctx.non_empty_string(uri, &component.path("uri"))?),
                    None => None,
                };
                let config = match component.get("config") {
                    Some(config) => Some(RawSettings::read(
                        ctx,
                        config,
                        key_at(value, "config").unwrap_or(config.at),
                        &component.path("config"),
                    )?),
                    None => None,
                };
                (flavor, uri, config)
            }
            _ => (ctx.non_empty_string(value, &component_path)?, None, None),
        };
        if unknown.is_none() {
            unknown = unknown_flavor(ctx, value, &component_path, kind, &flavor);
        }
        components.insert(
            (*kind).to_owned(),
            StackComponent {
                flavor,
                uri,
                config,
            },
        );
    }
    let stack = Stack {
        file: None,
        components,
    };
    Ok((stack, unknown))
}

/// An error at `node` when ZenML has no `flavor` for the component type `kind`.
fn unknown_flavor(
    ctx: &Ctx,
    node: &Node,
    path: &str,
    kind: &str,
    flavor: &str,
) -> Option<SettingsError> {
    if catalogue_data::flavor(kind, flavor).is_some() {
        return None;
    }
    let flavor_at = match &node.value {
        Value::Map(_) => ctx
            .fields(node, path, COMPONENT_KEYS)
            .ok()
            .and_then(|f| f.get("flavor").map(|n| n.at)),
        _ => None,
    };
    let (at, path) = match flavor_at {
        Some(at) => (at, join(path, "flavor")),
        None => (node.at, path.to_owned()),
    };
    let known: Vec<&str> = catalogue_data::flavor_names(kind).collect();
    let help = match crate::suggest::closest(flavor, known.iter().copied()) {
        Some(name) => format!("did you mean `{name}`?"),
        None => format!("the {kind} flavors are: {}", known.join(", ")),
    };
    let message = format!("unknown {kind} flavor `{flavor}`");
    Some(ctx.error_with_help(at, &path, message, help))
}

fn plugins(ctx: &Ctx, node: &Node) -> Result<Vec<PluginPin>> {
    let Value::Seq(items) = &node.value else {
        return Err(ctx.error(
            node.at,
            "plugins",
            format!(
                "expected a list of {{name, version}}, found {}",
                node.kind()
            ),
        ));
    };
    let mut pins: Vec<PluginPin> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = index("plugins", i);
        let fields = ctx.fields(item, &path, PLUGIN_KEYS)?;
        let name = match fields.get("name") {
            Some(n) => ctx.non_empty_string(n, &fields.path("name"))?,
            None => return Err(ctx.error(item.at, &path, "missing the plugin's `name`")),
        };
        if pins.iter().any(|pin| pin.name == name) {
            return Err(ctx.error(item.at, &path, format!("plugin `{name}` is listed twice")));
        }
        let Some(version_node) = fields.get("version") else {
            return Err(ctx.error_with_help(
                item.at,
                &path,
                format!("missing the `version` range of plugin `{name}`"),
                "pin a semver range, e.g. version: \"^1.2\"",
            ));
        };
        let written = ctx.non_empty_string(version_node, &fields.path("version"))?;
        let version = semver::VersionReq::parse(&written).map_err(|err| {
            ctx.error(
                version_node.at,
                &fields.path("version"),
                format!("`{written}` is not a semver range: {err}"),
            )
        })?;
        pins.push(PluginPin { name, version });
    }
    Ok(pins)
}

fn grants(ctx: &Ctx, node: &Node, base_dir: &Path) -> Result<BTreeMap<String, GrantSpec>> {
    let mut grants = BTreeMap::new();
    for (plugin, value) in ctx.string_keyed(node, "grants")? {
        let path = join("grants", plugin);
        let fields = ctx.fields(value, &path, GRANT_KEYS)?;
        let read = match fields.get("read") {
            Some(n) => ctx.string_list(n, &fields.path("read"))?,
            None => Vec::new(),
        };
        let exec = match fields.get("exec") {
            Some(n) => ctx.string_list(n, &fields.path("exec"))?,
            None => Vec::new(),
        };
        let pip_options = match fields.get("pip_options") {
            Some(n) => checked_list(ctx, n, &fields.path("pip_options"), pip_option_name)?,
            None => Vec::new(),
        };
        let env = match fields.get("env") {
            Some(n) => checked_list(ctx, n, &fields.path("env"), env_name)?,
            None => Vec::new(),
        };
        let spec = GrantSpec {
            read: read.iter().map(|dir| base_dir.join(dir)).collect(),
            exec,
            pip_options,
            env,
        };
        grants.insert(plugin.to_owned(), spec);
    }
    Ok(grants)
}

/// A list of strings, each checked by `check` (an error message and its help), the error at
/// the item's own line.
fn checked_list(
    ctx: &Ctx,
    node: &Node,
    path: &str,
    check: fn(&str) -> std::result::Result<(), (String, String)>,
) -> Result<Vec<String>> {
    let items = ctx.string_list(node, path)?;
    for (i, item) in items.iter().enumerate() {
        if let Err((message, help)) = check(item) {
            let at = match &node.value {
                Value::Seq(nodes) => nodes[i].at,
                _ => node.at,
            };
            return Err(ctx.error_with_help(at, &index(path, i), message, help));
        }
    }
    Ok(items)
}

/// A `pip_options` grant names an option pip reads in a requirements file (or `url`): a
/// misspelt one would grant nothing and leave the user wondering why lines are refused.
fn pip_option_name(name: &str) -> std::result::Result<(), (String, String)> {
    let known = crate::requirements::PIP_OPTIONS;
    if known.contains(&name) {
        return Ok(());
    }
    let help = match crate::suggest::closest(name.trim_start_matches('-'), known.iter().copied()) {
        Some(nearest) => crate::suggest::did_you_mean(&[nearest]),
        None => format!("the pip options are: {}", known.join(", ")),
    };
    Err((format!("unknown pip option `{name}`"), help))
}

/// An `env` grant names an environment variable: letters, digits and `_`, not starting with
/// a digit (what a shell can pass on).
fn env_name(name: &str) -> std::result::Result<(), (String, String)> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        return Ok(());
    }
    Err((
        format!("`{name}` is not an environment variable name"),
        "use letters, digits and `_`, not starting with a digit, e.g. POETRY_HOME".into(),
    ))
}

/// `integration_providers: {feast: acme-integrations}`: which plugin wins an integration name
/// that several providers claim. Whether that plugin exists and provides the name is checked
/// when the integrations are routed (the settings do not know the installed plugins).
fn integration_providers(ctx: &Ctx, node: &Node) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (integration, value) in ctx.string_keyed(node, "integration_providers")? {
        let path = join("integration_providers", integration);
        let plugin = ctx.non_empty_string(value, &path)?;
        let valid = plugin
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(ctx.error_with_help(
                value.at,
                &path,
                format!("`{plugin}` is not a plugin name"),
                "name the plugin that provides the integration, e.g. acme-integrations",
            ));
        }
        out.insert(integration.to_owned(), plugin);
    }
    Ok(out)
}

fn steps(
    ctx: &mut Ctx,
    node: &Node,
    pipeline_docker: &Node,
    pipeline: &DockerSettings,
) -> Result<Vec<Step>> {
    let Value::Seq(items) = &node.value else {
        return Err(ctx.error(
            node.at,
            "steps",
            format!("expected a list of steps, found {}", node.kind()),
        ));
    };
    let mut steps: Vec<Step> = Vec::new();
    let mut after_nodes = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (step, after_node) = step(ctx, item, &index("steps", i), pipeline_docker, pipeline)?;
        if steps.iter().any(|s| s.name == step.name) {
            return Err(ctx.error(
                item.at,
                &index("steps", i),
                format!("step `{}` is defined twice", step.name),
            ));
        }
        steps.push(step);
        after_nodes.push(after_node);
    }
    check_dependencies(ctx, &steps, &after_nodes)?;
    Ok(steps)
}

fn step(
    ctx: &mut Ctx,
    item: &Node,
    path: &str,
    pipeline_docker: &Node,
    pipeline: &DockerSettings,
) -> Result<(Step, Option<Node>)> {
    let fields = ctx.fields(item, path, STEP_KEYS)?;
    let name = match fields.get("name") {
        Some(n) => step_name(ctx, n, &fields.path("name"))?,
        None => return Err(ctx.error(item.at, path, "missing the step's `name`")),
    };
    let command = match fields.get("command") {
        Some(n) => ctx.string_list(n, &fields.path("command"))?,
        None => Vec::new(),
    };
    if command.is_empty() {
        let at = fields.get("command").map(|n| n.at).unwrap_or(item.at);
        return Err(ctx.error_with_help(
            at,
            &fields.path("command"),
            format!("step `{name}` has no command"),
            "give the command as a list of words, e.g. [\"python\", \"steps/train.py\"]",
        ));
    }
    let after = match fields.get("after") {
        Some(n) => ctx.string_list(n, &fields.path("after"))?,
        None => Vec::new(),
    };
    let environment = match fields.get("environment") {
        Some(n) => docker::check_environment(ctx, n, &fields.path("environment"))?
            .into_iter()
            .collect(),
        None => BTreeMap::new(),
    };
    let docker = step_docker(
        ctx,
        fields.get("settings"),
        &fields.path("settings"),
        pipeline_docker,
        pipeline,
    )?;
    let orchestrator =
        settings_orchestrator(ctx, fields.get("settings"), &fields.path("settings"))?;
    let step = Step {
        name,
        command,
        after,
        environment,
        docker,
        orchestrator,
    };
    Ok((step, fields.get("after").cloned()))
}

/// A step's settings: checked on their own (so errors name the step's field), then merged
/// over the pipeline's at the YAML level (so defaults apply once, to the merged result,
/// and ZenML's "only what is set overrides" holds) and validated again as a whole.
fn step_docker(
    ctx: &mut Ctx,
    settings: Option<&Node>,
    path: &str,
    pipeline_docker: &Node,
    pipeline: &DockerSettings,
) -> Result<DockerSettings> {
    let own = settings_docker(ctx, settings, path)?;
    let own_path = join(path, "docker");
    docker::parse(ctx, &own, &own_path)?;
    if matches!(&own.value, Value::Map(entries) if entries.is_empty()) {
        return Ok(pipeline.clone());
    }
    let merged_node = yaml::merge(pipeline_docker, &own);
    // Every field was checked above; warnings of this second pass would repeat them.
    let mut quiet = Ctx::new(ctx.file, ctx.source);
    let (merged, positions) = docker::parse(&mut quiet, &merged_node, &own_path)?;
    if merged != *pipeline {
        docker::validate(ctx, &merged, &positions, own.at, &own_path)?;
    }
    Ok(merged)
}

fn step_name(ctx: &Ctx, node: &Node, path: &str) -> Result<String> {
    let name = ctx.non_empty_string(node, path)?;
    let valid = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(ctx.error_with_help(
            node.at,
            path,
            format!("`{name}` is not a valid step name"),
            "use letters, digits, `_`, `.` and `-`, starting with a letter, digit or `_` (it appears in image tags and container names)",
        ));
    }
    Ok(name)
}

fn check_dependencies(ctx: &Ctx, steps: &[Step], after_nodes: &[Option<Node>]) -> Result<()> {
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    for (i, step) in steps.iter().enumerate() {
        for (j, dependency) in step.after.iter().enumerate() {
            let at = match after_nodes[i].as_ref().map(|n| &n.value) {
                Some(Value::Seq(items)) => items[j].at,
                _ => Position::new(1, 1),
            };
            let path = index(&format!("steps[{i}].after"), j);
            if !names.contains(&dependency.as_str()) {
                let help = crate::suggest::closest(dependency, names.iter().copied())
                    .map(|n| crate::suggest::did_you_mean(&[n]))
                    .unwrap_or_else(|| format!("the steps are: {}", names.join(", ")));
                return Err(ctx.error_with_help(
                    at,
                    &path,
                    format!(
                        "step `{}` runs after `{dependency}`, which is not a step of this pipeline",
                        step.name
                    ),
                    help,
                ));
            }
        }
    }
    if let Err(cycle) = topological_order(steps) {
        let first = steps.iter().position(|s| s.name == cycle[0]).unwrap_or(0);
        let at = after_nodes[first]
            .as_ref()
            .map(|n| n.at)
            .unwrap_or(Position::new(1, 1));
        return Err(ctx.error(
            at,
            &format!("steps[{first}].after"),
            format!(
                "the steps depend on each other in a cycle: {}",
                cycle.join(" → ")
            ),
        ));
    }
    Ok(())
}

/// Kahn's algorithm, always taking the earliest ready step in file order. On a cycle,
/// returns the names along one cycle (first name repeated at the end).
fn topological_order(steps: &[Step]) -> std::result::Result<Vec<usize>, Vec<String>> {
    let position = |name: &str| steps.iter().position(|s| s.name == name);
    let mut done = vec![false; steps.len()];
    let mut order = Vec::with_capacity(steps.len());
    while order.len() < steps.len() {
        let ready = (0..steps.len()).find(|&i| {
            !done[i]
                && steps[i]
                    .after
                    .iter()
                    .all(|d| position(d).is_none_or(|j| done[j]))
        });
        match ready {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => return Err(find_cycle(steps, &done)),
        }
    }
    Ok(order)
}

/// Follows unfinished dependencies from the first unfinished step until a step repeats.
fn find_cycle(steps: &[Step], done: &[bool]) -> Vec<String> {
    let position = |name: &str| steps.iter().position(|s| s.name == name);
    let mut current = (0..steps.len()).find(|&i| !done[i]).unwrap_or(0);
    let mut path: Vec<usize> = Vec::new();
    loop {
        if let Some(start) = path.iter().position(|&i| i == current) {
            let mut cycle: Vec<String> = path[start..]
                .iter()
                .map(|&i| steps[i].name.clone())
                .collect();
            cycle.push(steps[current].name.clone());
            return cycle;
        }
        path.push(current);
        let next = steps[current]
            .after
            .iter()
            .filter_map(|d| position(d))
            .find(|&j| !done[j]);
        match next {
            Some(j) => current = j,
            None => return path.iter().map(|&i| steps[i].name.clone()).collect(),
        }
    }
}

/// Every node's path → position, for [`Pipeline::position`].
fn record_positions(node: &Node, path: &str, out: &mut BTreeMap<String, Position>) {
    if !path.is_empty() {
        out.insert(path.to_owned(), node.at);
    }
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                record_positions(item, &index(path, i), out);
            }
        }
        Value::Map(entries) => {
            for (key, value) in entries {
                if let Value::Str(k) = &key.value {
                    record_positions(value, &join(path, k), out);
                }
            }
        }
        _ => {}
    }
}

fn dedup(warnings: Vec<Warning>) -> Vec<Warning> {
    let mut seen = BTreeSet::new();
    warnings
        .into_iter()
        .filter(|w| seen.insert((w.line, w.column, w.field.clone(), w.message.clone())))
        .collect()
}
