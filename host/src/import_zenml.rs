//! `dockwright import-zenml CONFIG.yaml`: a `dockwright.yaml` from a ZenML run configuration
//! file (ZenML's YAML config format: `settings.docker` for the pipeline,
//! `steps.<name>.settings.docker` per step).
//!
//! Owns the conversion and its report. Every `DockerSettings` field is kept as written
//! (Dockwright reads ZenML's field names and types); everything else — other settings such as
//! `resources` or an orchestrator's, step parameters, the schedule, keys ZenML itself would
//! ignore — is listed as having no counterpart, never dropped silently. The result is loaded
//! through the settings reader before it is written.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::init::{InitError, pipeline_name, schema_line, write_pipeline};
use crate::settings;

/// The Docker settings keys Dockwright reads (ZenML's `DockerSettings` fields).
fn is_docker_field(key: &str) -> bool {
    settings::docker_fields().contains(&key)
}

/// The converted pipeline and what did not carry over.
#[derive(Debug, serde::Serialize)]
pub struct Imported {
    pub file: PathBuf,
    pub text: String,
    /// `path: why`, one per part of the ZenML file with no counterpart.
    pub not_converted: Vec<String>,
    /// What the user has to finish (step commands, their order).
    pub todo: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: `{field}`: {message}", path.display())]
    Shape {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error(
        "the converted settings are not valid for Dockwright (the field paths are those of {}): {source}",
        config.display()
    )]
    Invalid {
        config: PathBuf,
        source: settings::SettingsError,
    },
    #[error(transparent)]
    Write(#[from] InitError),
}

/// Converts the ZenML config at `config` into a pipeline file at `output` (nothing written).
pub fn convert(config: &Path, output: &Path, name: Option<&str>) -> Result<Imported, ImportError> {
    let source = std::fs::read_to_string(config).map_err(|e| ImportError::Read {
        path: config.to_owned(),
        message: e.to_string(),
    })?;
    let root: Value = serde_saphyr::from_str(&source).map_err(|e| ImportError::Read {
        path: config.to_owned(),
        message: format!("not a YAML file: {e}"),
    })?;
    let shape = |field: &str, message: &str| ImportError::Shape {
        path: config.to_owned(),
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let Value::Object(top) = root else {
        return Err(shape("", "a ZenML run configuration is a mapping"));
    };
    let mut not_converted = Vec::new();
    let mut todo = Vec::new();
    let name = name.map(str::to_owned).unwrap_or_else(|| {
        let stem = config.file_stem().map(|s| s.to_string_lossy().into_owned());
        pipeline_name(&stem.unwrap_or_default())
    });

    let mut text = schema_line();
    text.push_str(&format!(
        "# Imported by `dockwright import-zenml` from {}.\nname: {}\n",
        config.display(),
        yaml(&Value::String(name))
    ));
    for (key, value) in &top {
        match key.as_str() {
            "settings" => {
                let docker = settings_docker(value, "settings", &mut not_converted, &shape)?;
                text.push_str(&render_settings(&docker, ""));
            }
            "steps" => {}
            other => not_converted.push(top_level_reason(other)),
        }
    }
    if let Some(steps) = top.get("steps") {
        text.push_str(&render_steps(steps, &mut not_converted, &mut todo, &shape)?);
    }
    settings::parse(&text, output).map_err(|source| ImportError::Invalid {
        config: config.to_owned(),
        source,
    })?;
    Ok(Imported {
        file: output.to_owned(),
        text,
        not_converted,
        todo,
    })
}

/// Writes the converted pipeline (an existing file only with `force`).
pub fn write(imported: &Imported, force: bool) -> Result<(), ImportError> {
    Ok(write_pipeline(&imported.file, &imported.text, force)?)
}

/// The `docker` entry of a ZenML `settings` mapping, keeping every DockerSettings field and
/// reporting the other settings and unknown keys.
fn settings_docker(
    settings: &Value,
    path: &str,
    not_converted: &mut Vec<String>,
    shape: &dyn Fn(&str, &str) -> ImportError,
) -> Result<Vec<(String, Value)>, ImportError> {
    let Value::Object(settings) = settings else {
        return Err(shape(path, "expected a mapping of settings"));
    };
    let mut docker = Vec::new();
    for (key, value) in settings {
        let key_path = format!("{path}.{key}");
        if key != "docker" {
            not_converted.push(format!(
                "{key_path}: {} settings have no counterpart in Dockwright (it builds and runs images; it has no {})",
                key,
                settings_kind(key)
            ));
            continue;
        }
        let Value::Object(fields) = value else {
            return Err(shape(&key_path, "expected the DockerSettings mapping"));
        };
        for (field, value) in fields {
            if is_docker_field(field) {
                docker.push((field.clone(), value.clone()));
            } else {
                let hint = dockwright_plan::suggest::suggestion(field, settings::docker_fields());
                not_converted.push(format!(
                    "{key_path}.{field}: not a DockerSettings field (ZenML ignores it); {hint}"
                ));
            }
        }
    }
    Ok(docker)
}

fn settings_kind(key: &str) -> &'static str {
    match key.split('.').next().unwrap_or(key) {
        "resources" => "resource requests",
        "orchestrator" => "orchestrator",
        "step_operator" => "step operator",
        "experiment_tracker" => "experiment tracker",
        "deployer" => "deployer",
        _ => "such stack component",
    }
}

fn top_level_reason(key: &str) -> String {
    let why = match key {
        "parameters" | "extra" => "pipeline parameters are ZenML's; Dockwright runs commands",
        "schedule" => "Dockwright does not schedule runs",
        "model" => "Dockwright has no model control plane",
        "run_name" => "Dockwright names runs itself",
        "enable_cache"
        | "enable_artifact_metadata"
        | "enable_artifact_visualization"
        | "enable_step_logs"
        | "enable_pipeline_logs" => "Dockwright has no artifact store or step cache",
        "build" => "a ZenML build id refers to ZenML's server",
        _ => "not a part of the Docker settings",
    };
    format!("{key}: no counterpart ({why})")
}

fn render_steps(
    steps: &Value,
    not_converted: &mut Vec<String>,
    todo: &mut Vec<String>,
    shape: &dyn Fn(&str, &str) -> ImportError,
) -> Result<String, ImportError> {
    let Value::Object(steps) = steps else {
        return Err(shape(
            "steps",
            "expected a mapping of step name to its configuration",
        ));
    };
    if steps.is_empty() {
        return Ok(String::new());
    }
    let mut text = String::from("steps:\n");
    for (name, config) in steps {
        let path = format!("steps.{name}");
        let Value::Object(config) = config else {
            return Err(shape(&path, "expected the step's configuration mapping"));
        };
        let step = pipeline_name(name);
        let script = format!("steps/{step}.py");
        text.push_str(&format!(
            "  - name: {}\n    command: [python3, {}]  # TODO: the step's command\n",
            yaml(&Value::String(step.clone())),
            yaml(&Value::String(script.clone()))
        ));
        todo.push(format!(
            "step {step}: a ZenML config has no commands; `python3 {script}` was written, change it"
        ));
        for (key, value) in config {
            if key == "settings" {
                let docker =
                    settings_docker(value, &format!("{path}.settings"), not_converted, shape)?;
                text.push_str(&render_settings(&docker, "    "));
            } else {
                not_converted.push(format!(
                    "{path}.{key}: no counterpart (only a step's Docker settings carry over)"
                ));
            }
        }
    }
    todo.push("step order: a ZenML config does not say it; add `after:` to the steps".into());
    Ok(text)
}

fn render_settings(docker: &[(String, Value)], indent: &str) -> String {
    if docker.is_empty() {
        return String::new();
    }
    let mut text = format!("{indent}settings:\n{indent}  docker:\n");
    for (field, value) in docker {
        text.push_str(&format!("{indent}    {field}: {}\n", yaml(value)));
    }
    text
}

/// A value in YAML flow style: JSON is a subset of YAML, so strings stay strings (`"1.10"`
/// is not read back as a number) and every value keeps its type.
fn yaml(value: &Value) -> String {
    match value {
        Value::String(s)
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-:".contains(c))
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
                ) =>
        {
            s.clone()
        }
        _ => serde_json::to_string(value).expect("json"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_type_when_written_back() {
        assert_eq!(
            yaml(&Value::String("python:3.11-slim".into())),
            "python:3.11-slim"
        );
        assert_eq!(yaml(&Value::String("1.10".into())), "\"1.10\"");
        assert_eq!(yaml(&Value::String("yes".into())), "\"yes\"");
        assert_eq!(yaml(&serde_json::json!(["a b", 1])), "[\"a b\",1]");
        assert_eq!(yaml(&serde_json::json!({"K": "v"})), "{\"K\":\"v\"}");
    }
}
