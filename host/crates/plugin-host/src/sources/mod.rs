//! Calling the requirement sources for one image's settings: which plugin serves which
//! setting, what it is granted, and routing `required_integrations` to the providers whose
//! catalogue holds each name (or, when several claim a name, the one the pipeline's
//! `integration_providers` names). A third-party provider's catalogue is asked only when the
//! pipeline names that provider or needs an integration no built-in provider offers. The
//! setting that asks for the work is the grant for the built-in plugins (DESIGN.md §6);
//! third-party plugins get only what `grants:` gives them.
//!
//! The built-in `requirements` plugin may read anywhere inside the project root (the nearest
//! folder above the pipeline file that holds `.git`, else the pipeline file's folder), so
//! `-r ../common/base.txt` and symlinked files inside the project work; what `grants:
//! {requirements: {read: [...]}}` names is added. A built-in source's refusal of the user's
//! input (a file that cannot be read, a line it cannot take) is reported at the setting the
//! user wrote, not as the plugin's failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

pub mod local_env;

use crate::Registry;
use crate::sandbox::{ErrorKind, Grants, GuestError, Origin, Plugin, PluginError, Request};
use dockwright_plan::contribution::{Group, Platform, Sourced};
use dockwright_plan::settings::{DockerSettings, Pipeline, Requirements, SettingsError};

/// Why the requirement sources could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A problem with what the user wrote, at the setting that names it.
    #[error(transparent)]
    Setting(#[from] SettingsError),
    #[error("replicate_local_python_environment: {0}")]
    LocalEnvironment(#[from] local_env::LocateError),
    #[error("the built-in plugin `{0}` is missing from this build")]
    MissingBuiltin(&'static str),
    #[error(
        "integration `{name}` is provided by more than one plugin: {}; say which one wins in \
         {file}, e.g. {}",
        .providers.join(" and "),
        .examples
            .iter()
            .map(|p| format!("`integration_providers: {{{name}: {p}}}`"))
            .collect::<Vec<_>>()
            .join(" or ")
    )]
    AmbiguousIntegration {
        name: String,
        file: String,
        /// Labels (`name version`) of the claimants.
        providers: Vec<String>,
        /// The claimants' plugin names, built-in ones first: a third-party plugin claiming a
        /// built-in name is more likely a mistake (or an attempt) than the user's intent.
        examples: Vec<String>,
    },
    #[error(
        "integration_providers in {file}: `{name}` is to come from `{chosen}`, {}",
        match providers.as_slice() {
            [] => format!("but no integration provider provides `{name}`"),
            all => format!("but only {} provide(s) it", all.join(", ")),
        }
    )]
    ChosenProviderLacks {
        name: String,
        chosen: String,
        file: String,
        providers: Vec<String>,
    },
    #[error(
        "integration_providers in {file}: `{chosen}` (for `{name}`) is not an installed \
         integration provider (providers: {})",
        .providers.join(", ")
    )]
    UnknownProvider {
        name: String,
        chosen: String,
        file: String,
        providers: Vec<String>,
    },
}

fn suggest(suggestions: &[String]) -> String {
    dockwright_plan::suggest::then_did_you_mean(suggestions)
}

/// The project root: the nearest folder at or above `base_dir` that holds `.git`, else
/// `base_dir` itself.
pub fn project_root(base_dir: &Path) -> PathBuf {
    base_dir
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(base_dir)
        .to_path_buf()
}

/// What the sources answered for one image's settings.
#[derive(Debug, Default)]
pub struct Answers {
    /// What each source contributed, in group order.
    pub sourced: Vec<Sourced>,
    /// The warnings and errors the plugins logged on the way, for the user.
    pub logs: Vec<PluginLog>,
}

/// A warning or error a plugin logged during a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginLog {
    /// `name version` of the plugin.
    pub plugin: String,
    /// `warn` or `error`.
    pub level: &'static str,
    pub message: String,
}

impl std::fmt::Display for PluginLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: plugin {}: {}",
            self.level, self.plugin, self.message
        )
    }
}

/// Asks every source the settings need, in group order, and returns what each contributed.
/// Any failure fails the whole set: no partial requirement set is returned.
pub fn gather(
    registry: &Registry,
    pipeline: &Pipeline,
    docker: &DockerSettings,
    platform: &Platform,
) -> Result<Answers, SourceError> {
    let mut out = Answers::default();
    let base_dir = pipeline.base_dir.as_path();
    if let Some(export) = &docker.replicate_local_python_environment {
        let setting = serde_json::to_value(export).expect("plain data");
        let request =
            local_env::request(&setting, base_dir, platform.clone(), None).map_err(|e| {
                let field = pipeline.setting_path(docker, "replicate_local_python_environment");
                SourceError::from(pipeline.error_at(&field, e.to_string(), None))
            })?;
        call(
            registry,
            builtin(registry, "local-env")?,
            &request,
            &mut out,
        )?;
    }
    if docker.requirements.is_some() || docker.pyproject_path.is_some() {
        check_requirements_file(pipeline, docker)?;
        let request = requirements_request(pipeline, docker, platform);
        call(
            registry,
            builtin(registry, "requirements")?,
            &request,
            &mut out,
        )
        .map_err(|e| at_setting(e, pipeline, docker))?;
    }
    integrations(registry, pipeline, docker, platform, &mut out)?;
    if let Some(stack) = &pipeline.stack
        && docker.install_stack_requirements
        && !stack.components.is_empty()
    {
        let request = Request {
            platform: platform.clone(),
            settings: json!({"stack": stack, "install_stack_requirements": true}),
            base_dir: base_dir.to_path_buf(),
            grants: Grants::default(),
        };
        call(registry, builtin(registry, "stack")?, &request, &mut out)?;
    }
    Ok(out)
}

/// A requirements file that is not there is the user's slip: said at the setting, with the
/// path looked for, before any plugin runs.
fn check_requirements_file(
    pipeline: &Pipeline,
    docker: &DockerSettings,
) -> Result<(), SourceError> {
    let Some(Requirements::File(path)) = &docker.requirements else {
        return Ok(());
    };
    let full = normalize_dir(&pipeline.base_dir.join(path));
    if full.exists() {
        return Ok(());
    }
    let field = pipeline.setting_path(docker, "requirements");
    Err(pipeline
        .error_at(
            &field,
            format!(
                "the requirements file `{path}` does not exist (looked for {})",
                full.display()
            ),
            None,
        )
        .into())
}

/// A built-in source's refusal of the user's input names the file and line it read: it is
/// reported at the setting that named the file, the plugin said last, once.
fn at_setting(error: SourceError, pipeline: &Pipeline, docker: &DockerSettings) -> SourceError {
    let SourceError::Plugin(plugin_error) = &error else {
        return error;
    };
    let ErrorKind::Guest(GuestError::InvalidInput(message) | GuestError::Unavailable(message)) =
        &plugin_error.kind
    else {
        return error;
    };
    let field = if docker.requirements.is_none() || message.contains("pyproject") {
        "pyproject_path"
    } else {
        "requirements"
    };
    let field = pipeline.setting_path(docker, field);
    let message = format!("{message} (read by plugin {})", plugin_error.plugin);
    let hint = plugin_error.hint.as_deref().map(String::from);
    pipeline.error_at(&field, message, hint).into()
}

fn requirements_request(
    pipeline: &Pipeline,
    docker: &DockerSettings,
    platform: &Platform,
) -> Request {
    let base_dir = pipeline.base_dir.as_path();
    let root = project_root(base_dir);
    let mut grants = Grants::default();
    grants.read.push(root.clone());
    // The user's own file is the grant, even outside the project.
    let mut grant_folder_of = |path: &str| {
        let dir = parent_dir(&normalize_dir(&base_dir.join(path)));
        if !grants.read.iter().any(|granted| dir.starts_with(granted)) {
            grants.read.push(dir);
        }
    };
    if let Some(Requirements::File(path)) = &docker.requirements {
        grant_folder_of(path);
    }
    if let Some(path) = &docker.pyproject_path {
        grant_folder_of(path);
    }
    if docker.pyproject_path.is_some() {
        grants.exec = export_programs(docker.pyproject_export_command.as_deref());
    }
    if let Some(granted) = pipeline.grants.get("requirements") {
        grants
            .read
            .extend(granted.read.iter().map(|dir| normalize_dir(dir)));
    }
    Request {
        platform: platform.clone(),
        settings: json!({
            "requirements": docker.requirements,
            "pyproject_path": docker.pyproject_path,
            "pyproject_export_command": docker.pyproject_export_command,
        }),
        base_dir: base_dir.to_path_buf(),
        grants,
    }
}

/// The programs ZenML's default pyproject export commands run, in the order it tries them.
pub(crate) const DEFAULT_EXPORT_PROGRAMS: [&str; 2] = ["uv", "poetry"];

/// What exporting `pyproject_path` may run: the command's program, else the defaults'.
fn export_programs(command: Option<&[String]>) -> Vec<String> {
    match command {
        Some(words) => words.first().cloned().into_iter().collect(),
        None => DEFAULT_EXPORT_PROGRAMS.map(String::from).to_vec(),
    }
}

/// The folder of a file named in the settings, in the lexical form the plugin compares
/// (`requirements: ../team/r.txt` grants `/p/team`, not `/p/training/../team`).
fn parent_dir(path: &Path) -> PathBuf {
    normalize_dir(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Routes each required integration to the one provider that knows it, then asks each
/// provider for its share, in the order the names were given.
fn integrations(
    registry: &Registry,
    pipeline: &Pipeline,
    docker: &DockerSettings,
    platform: &Platform,
    out: &mut Answers,
) -> Result<(), SourceError> {
    if docker.required_integrations.is_empty() {
        return Ok(());
    }
    let providers: Vec<&Plugin> = registry
        .plugins
        .iter()
        .filter(|p| p.manifest.group == Group::Integrations && p.manifest.name != "stack")
        .collect();
    let file = pipeline.file.display().to_string();
    // Integration name → every provider whose catalogue lists it, in registry order (built-in
    // providers first).
    let mut claimants: BTreeMap<String, Vec<&Plugin>> = BTreeMap::new();
    let mut known = Vec::new();
    let (builtins, third_party): (Vec<&Plugin>, Vec<&Plugin>) = providers
        .iter()
        .copied()
        .partition(|p| p.origin == Origin::Builtin);
    for provider in builtins {
        ask_catalogue(registry, provider, platform, &mut claimants, &mut known)?;
    }
    let beyond_builtins = docker
        .required_integrations
        .iter()
        .any(|name| !claimants.contains_key(name));
    for provider in third_party {
        if beyond_builtins || names_provider(pipeline, provider) {
            ask_catalogue(registry, provider, platform, &mut claimants, &mut known)?;
        }
    }
    for (name, chosen) in &pipeline.integration_providers {
        if !providers.iter().any(|p| &p.manifest.name == chosen) {
            return Err(SourceError::UnknownProvider {
                name: name.clone(),
                chosen: chosen.clone(),
                file,
                providers: providers.iter().map(|p| p.manifest.name.clone()).collect(),
            });
        }
    }
    let mut catalogue: BTreeMap<String, &Plugin> = BTreeMap::new();
    for name in &docker.required_integrations {
        let Some(claim) = claimants.get(name) else {
            continue; // reported as unknown below, with suggestions
        };
        let provider = match pipeline.integration_providers.get(name) {
            Some(chosen) => *claim
                .iter()
                .find(|p| &p.manifest.name == chosen)
                .ok_or_else(|| SourceError::ChosenProviderLacks {
                    name: name.clone(),
                    chosen: chosen.clone(),
                    file: file.clone(),
                    providers: claim.iter().map(|p| p.label()).collect(),
                })?,
            None => match claim.as_slice() {
                [only] => *only,
                many => {
                    return Err(SourceError::AmbiguousIntegration {
                        name: name.clone(),
                        file,
                        providers: many.iter().map(|p| p.label()).collect(),
                        examples: many
                            .iter()
                            .filter(|p| p.origin == Origin::Builtin)
                            .chain(many.iter().filter(|p| p.origin != Origin::Builtin))
                            .map(|p| p.manifest.name.clone())
                            .collect(),
                    });
                }
            },
        };
        catalogue.insert(name.clone(), provider);
    }
    unknown_integrations(pipeline, docker, &catalogue, &known)?;
    let mut per_provider: Vec<(&Plugin, Vec<String>)> = Vec::new();
    for name in &docker.required_integrations {
        let Some(provider) = catalogue.get(name) else {
            continue; // refused by `unknown_integrations`
        };
        match per_provider
            .iter_mut()
            .find(|(p, _)| p.digest == provider.digest)
        {
            Some((_, names)) => names.push(name.clone()),
            None => per_provider.push((provider, vec![name.clone()])),
        }
    }
    for (provider, names) in per_provider {
        let request = Request {
            platform: platform.clone(),
            settings: json!({"required_integrations": names}),
            base_dir: pipeline.base_dir.clone(),
            grants: third_party_grants(pipeline, provider),
        };
        call(registry, provider, &request, out)?;
    }
    Ok(())
}

/// Adds a provider's catalogue to the claims. Its failure is that plugin's, by name.
fn ask_catalogue<'r>(
    registry: &Registry,
    provider: &'r Plugin,
    platform: &Platform,
    claimants: &mut BTreeMap<String, Vec<&'r Plugin>>,
    known: &mut Vec<String>,
) -> Result<(), SourceError> {
    for integration in registry.runtime.catalogue(provider, platform)?.value {
        let claim = claimants.entry(integration.name.clone()).or_default();
        if claim.is_empty() {
            known.push(integration.name);
        }
        if !claim.iter().any(|p| p.digest == provider.digest) {
            claim.push(provider);
        }
    }
    Ok(())
}

/// Whether the pipeline names a third-party provider (pins it in `plugins`, or picks it in
/// `integration_providers`): then its catalogue is asked even when the built-in ones know
/// every required name, so that a claim on a built-in name is seen, not silently lost. A
/// provider the pipeline does not name is asked only for names no built-in provider knows,
/// so a broken or slow one cannot fail pipelines that do not use it.
fn names_provider(pipeline: &Pipeline, provider: &Plugin) -> bool {
    let name = &provider.manifest.name;
    pipeline.plugins.iter().any(|pin| &pin.name == name)
        || pipeline.integration_providers.values().any(|p| p == name)
}

/// Every name in `required_integrations` that no provider knows, each with its
/// suggestions, at the first of them in the pipeline file.
fn unknown_integrations(
    pipeline: &Pipeline,
    docker: &DockerSettings,
    catalogue: &BTreeMap<String, &Plugin>,
    known: &[String],
) -> Result<(), SourceError> {
    let unknown: Vec<(usize, &String)> = docker
        .required_integrations
        .iter()
        .enumerate()
        .filter(|(_, name)| !catalogue.contains_key(*name))
        .collect();
    let Some((first, _)) = unknown.first() else {
        return Ok(());
    };
    let described: Vec<String> = unknown
        .iter()
        .map(|(_, name)| {
            let suggestions = closest(name, known);
            match suggest(&suggestions).strip_prefix("; ") {
                Some(hint) => format!("`{name}` ({hint})"),
                None => format!("`{name}`"),
            }
        })
        .collect();
    let list = pipeline.setting_path(docker, "required_integrations");
    let at = format!("{list}[{first}]");
    let field = if pipeline.position(&at).is_some() {
        at
    } else {
        list
    };
    let message = format!(
        "unknown integration{}: {}",
        if unknown.len() > 1 { "s" } else { "" },
        described.join(", ")
    );
    let help =
        "`dockwright integrations list` shows every integration the installed providers offer";
    Err(pipeline.error_at(&field, message, Some(help.into())).into())
}

/// For suggestions only: names match exactly, as in ZenML 0.98 (`Sklearn` is unknown), but
/// a slip in case or `-`/`_` still finds its name.
fn closest(name: &str, known: &[String]) -> Vec<String> {
    dockwright_plan::suggest::closest_few(name, known)
}

/// What `grants:` in the pipeline gives a plugin that is not built in.
fn third_party_grants(pipeline: &Pipeline, plugin: &Plugin) -> Grants {
    if plugin.origin == Origin::Builtin {
        return Grants::default();
    }
    pipeline
        .grants
        .get(&plugin.manifest.name)
        .map(|g| Grants {
            read: g.read.iter().map(|dir| normalize_dir(dir)).collect(),
            exec: g.exec.clone(),
            pip_options: g.pip_options.clone(),
            env: g.env.clone(),
        })
        .unwrap_or_default()
}

/// `/p/./data/..` → `/p`: the plugin sees a granted directory at its host path, and opens
/// files by the paths it is given (`base_dir/...`), which never contain `.` or `..`.
fn normalize_dir(dir: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in dir.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn builtin<'r>(registry: &'r Registry, name: &'static str) -> Result<&'r Plugin, SourceError> {
    registry
        .plugins
        .iter()
        .find(|p| p.origin == Origin::Builtin && p.manifest.name == name)
        .ok_or(SourceError::MissingBuiltin(name))
}

fn call(
    registry: &Registry,
    plugin: &Plugin,
    request: &Request,
    out: &mut Answers,
) -> Result<(), SourceError> {
    let outcome = registry.runtime.contribute(plugin, request)?;
    out.logs.extend(
        outcome
            .logs
            .into_iter()
            .filter(|log| matches!(log.level, "warn" | "error"))
            .map(|log| PluginLog {
                plugin: plugin.label(),
                level: log.level,
                message: log.message,
            }),
    );
    out.sourced.push(Sourced {
        plugin: plugin.label(),
        digest: plugin.digest.clone(),
        group: plugin.manifest.group,
        contribution: outcome.value,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(docker: &DockerSettings) -> Grants {
        let pipeline = dockwright_plan::settings::parse(
            "name: p\n",
            Path::new("/nonexistent-project/p/dockwright.yaml"),
        )
        .unwrap();
        requirements_request(&pipeline, docker, &Platform::default()).grants
    }

    #[test]
    fn pyproject_export_is_granted_exactly_its_program_and_only_with_a_pyproject() {
        let mut docker = DockerSettings {
            pyproject_export_command: Some(vec!["python3".into(), "export.py".into()]),
            requirements: Some(Requirements::File("deps/requirements.txt".into())),
            ..DockerSettings::default()
        };
        // A command alone runs nothing: ZenML ignores it without `pyproject_path`.
        // No `.git` above: the project root is the pipeline file's folder.
        assert_eq!(
            grants(&docker),
            Grants {
                read: vec![PathBuf::from("/nonexistent-project/p")],
                exec: vec![],
                pip_options: Vec::new(),
                env: Vec::new(),
            }
        );
        docker.pyproject_path = Some("../proj/pyproject.toml".into());
        assert_eq!(grants(&docker).exec, ["python3"]);
        assert_eq!(
            grants(&docker).read,
            [
                PathBuf::from("/nonexistent-project/p"),
                PathBuf::from("/nonexistent-project/proj")
            ]
        );
        docker.pyproject_export_command = None;
        assert_eq!(grants(&docker).exec, ["uv", "poetry"]);
    }

    #[test]
    fn a_requirements_file_outside_the_pipeline_folder_grants_its_normalised_folder() {
        let docker = DockerSettings {
            requirements: Some(Requirements::File("../team/requirements.txt".into())),
            ..DockerSettings::default()
        };
        let pipeline = dockwright_plan::settings::parse(
            "name: p\n",
            Path::new("/nonexistent-project/p/./training/dockwright.yaml"),
        )
        .unwrap();
        let request = requirements_request(&pipeline, &docker, &Platform::default());
        assert_eq!(
            request.grants.read,
            [
                PathBuf::from("/nonexistent-project/p/training"),
                PathBuf::from("/nonexistent-project/p/team")
            ]
        );
    }

    #[test]
    fn granted_directories_lose_dot_segments() {
        assert_eq!(
            normalize_dir(Path::new("/p/./data/../common/.")),
            PathBuf::from("/p/common")
        );
    }
}
