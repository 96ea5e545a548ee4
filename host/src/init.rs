//! `dockwright init [DIR]`: a first `dockwright.yaml` for an existing Python project.
//!
//! Owns the detection (requirements files, `pyproject.toml` and its tool, the Python version,
//! an existing Dockerfile, obvious entry points) and the text it writes, with the reason for
//! every choice. The file starts with a `# yaml-language-server: $schema=…` line pointing at
//! the schema written beside it, so editors complete and check the keys. Nothing is
//! overwritten without `force`, and the text is loaded through the settings reader before it
//! is written, so `init` never leaves a file `plan` would refuse.

use std::path::{Path, PathBuf};

use crate::settings::{self, DEFAULT_FILE};

/// Where `init` puts the JSON Schema, relative to the pipeline file.
pub const SCHEMA_FILE: &str = ".dockwright/schema.json";

/// The Python used when the project names none.
const DEFAULT_PYTHON: &str = "3.12";

/// Entry points at the top of a project that are worth a step each.
const TOP_LEVEL_ENTRY_POINTS: &[&str] = &["main.py", "pipeline.py", "run.py", "train.py"];

/// What `init` chose and why.
#[derive(Debug, serde::Serialize)]
pub struct Proposal {
    /// The pipeline file to write.
    pub file: PathBuf,
    /// Its text.
    pub text: String,
    /// One line per choice: what was chosen, and why.
    pub reasons: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} already exists; pass --force to overwrite it", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: cannot read `{field}`: {message}", path.display())]
    Pyproject {
        path: PathBuf,
        line: usize,
        column: usize,
        field: String,
        message: String,
    },
    #[error("the proposed pipeline does not load (a bug in `init`): {0}")]
    Invalid(#[from] settings::SettingsError),
}

/// Looks at the project in `dir` and proposes a pipeline file (nothing is written).
pub fn propose(dir: &Path) -> Result<Proposal, InitError> {
    let project = Project::detect(dir)?;
    let mut reasons = Vec::new();
    let text = project.render(&mut reasons);
    let file = dir.join(DEFAULT_FILE);
    // The reader is the judge: what init writes must load.
    settings::parse(&text, &file)?;
    Ok(Proposal {
        file,
        text,
        reasons,
    })
}

/// Writes the proposal and the schema beside it; an existing pipeline file only with `force`.
pub fn write(proposal: &Proposal, force: bool) -> Result<(), InitError> {
    write_pipeline(&proposal.file, &proposal.text, force)
}

/// Writes a pipeline file and, beside it, the schema its first line points editors at.
pub(crate) fn write_pipeline(file: &Path, text: &str, force: bool) -> Result<(), InitError> {
    if file.exists() && !force {
        return Err(InitError::Exists(file.to_owned()));
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    let schema = dir.join(SCHEMA_FILE);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| InitError::Io { path, source }
    };
    std::fs::create_dir_all(schema.parent().expect("schema path has a folder"))
        .map_err(io(&schema))?;
    let schema_text = serde_json::to_string_pretty(&settings::json_schema()).expect("json");
    std::fs::write(&schema, schema_text + "\n").map_err(io(&schema))?;
    std::fs::write(file, text).map_err(io(file))
}

/// The first line of a pipeline file Dockwright writes.
pub(crate) fn schema_line() -> String {
    format!("# yaml-language-server: $schema={SCHEMA_FILE}\n")
}

/// What the project's files say.
#[derive(Debug, Default)]
struct Project {
    name: String,
    name_from: String,
    requirements: Option<String>,
    other_requirements: Vec<String>,
    pyproject: Option<Pyproject>,
    python: Option<(String, String)>,
    dockerfile: Option<String>,
    entry_points: Vec<(String, Vec<String>, String)>,
}

#[derive(Debug, Default)]
struct Pyproject {
    name: Option<String>,
    has_dependencies: bool,
    requires_python: Option<String>,
    tool: Option<(&'static str, String)>,
}

impl Project {
    fn detect(dir: &Path) -> Result<Project, InitError> {
        let listing = list(dir)?;
        let has = |name: &str| listing.iter().any(|f| f == name);
        let mut project = Project::default();

        let mut requirement_files: Vec<&String> = listing
            .iter()
            .filter(|f| f.starts_with("requirements") && f.ends_with(".txt"))
            .collect();
        requirement_files.sort_by_key(|f| (f.as_str() != "requirements.txt", f.as_str()));
        if let Some((first, rest)) = requirement_files.split_first() {
            project.requirements = Some((*first).clone());
            project.other_requirements = rest.iter().map(|f| (*f).clone()).collect();
        }

        if has("pyproject.toml") {
            project.pyproject = Some(read_pyproject(&dir.join("pyproject.toml"), &listing)?);
        }
        project.python = python_version(dir, has(".python-version"), project.pyproject.as_ref());
        project.dockerfile = has("Dockerfile").then(|| "Dockerfile".to_owned());
        project.entry_points = entry_points(dir, &listing)?;

        let folder = std::path::absolute(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "pipeline".into());
        (project.name, project.name_from) =
            match project.pyproject.as_ref().and_then(|p| p.name.clone()) {
                Some(name) => (name, "the project name in pyproject.toml".into()),
                None => (folder, "the folder's name".into()),
            };
        project.name = pipeline_name(&project.name);
        Ok(project)
    }

    fn render(&self, reasons: &mut Vec<String>) -> String {
        let mut docker = Vec::new();
        reasons.push(format!("name: {} ({})", self.name, self.name_from));
        match (&self.dockerfile, &self.python) {
            (Some(dockerfile), _) => {
                docker.push(format!("dockerfile: {dockerfile}"));
                docker.push("build_context_root: .".into());
                reasons.push(format!(
                    "dockerfile: {dockerfile} (it exists; built first with this folder as context, so no parent_image)"
                ));
            }
            (None, Some((version, from))) => {
                docker.push(format!("parent_image: python:{version}-slim"));
                reasons.push(format!(
                    "parent_image: python:{version}-slim (Python {version} from {from})"
                ));
            }
            (None, None) => {
                docker.push(format!("parent_image: python:{DEFAULT_PYTHON}-slim"));
                reasons.push(format!(
                    "parent_image: python:{DEFAULT_PYTHON}-slim (no .python-version or requires-python found)"
                ));
            }
        }
        self.render_requirements(&mut docker, reasons);
        let mut text = format!(
            "{}# Written by `dockwright init`; see `dockwright plan --explain`.\nname: {}\nsettings:\n  docker:\n",
            schema_line(),
            self.name
        );
        for line in &docker {
            text.push_str(&format!("    {line}\n"));
        }
        text.push_str(&self.render_steps(reasons));
        text
    }

    fn render_requirements(&self, docker: &mut Vec<String>, reasons: &mut Vec<String>) {
        if let Some(file) = &self.requirements {
            docker.push(format!("requirements: {file}"));
            let others = if self.other_requirements.is_empty() {
                String::new()
            } else {
                format!("; not used: {}", self.other_requirements.join(", "))
            };
            reasons.push(format!("requirements: {file} (found{others})"));
        }
        let Some(pyproject) = &self.pyproject else {
            if self.requirements.is_none() {
                reasons.push(
                    "requirements: none (no requirements*.txt or pyproject.toml found)".into(),
                );
            }
            return;
        };
        if !pyproject.has_dependencies {
            reasons.push("pyproject.toml: not used (it lists no dependencies)".into());
            return;
        }
        if self.requirements.is_some() {
            reasons.push(
                "pyproject.toml: not used (a requirements file is given; add pyproject_path to install both)"
                    .into(),
            );
            return;
        }
        docker.push("pyproject_path: pyproject.toml".into());
        match &pyproject.tool {
            Some(("uv", why)) => {
                docker.push("pyproject_export_command: [uv, export, --format=requirements-txt, \"--directory={directory}\", --no-hashes, --no-emit-project]".into());
                reasons.push(format!("pyproject_path: pyproject.toml, exported with uv ({why})"));
            }
            Some(("poetry", why)) => {
                docker.push("pyproject_export_command: [poetry, export, --format=requirements.txt, \"--directory={directory}\", --without-hashes]".into());
                docker.push("python_package_installer: pip".into());
                reasons.push(format!(
                    "pyproject_path: pyproject.toml, exported with poetry ({why}); installed with pip"
                ));
            }
            _ => reasons.push(
                "pyproject_path: pyproject.toml (no uv or poetry marks: uv export, then poetry export, are tried)"
                    .into(),
            ),
        }
    }

    fn render_steps(&self, reasons: &mut Vec<String>) -> String {
        if self.entry_points.is_empty() {
            reasons.push("steps: none (no main.py, pipeline.py, run.py, train.py or steps/*.py found); add them under `steps:`".into());
            return "steps: []\n# steps:\n#   - name: train\n#     command: [python3, train.py]\n"
                .into();
        }
        let mut text = String::from("steps:\n");
        for (name, command, why) in &self.entry_points {
            let words: Vec<String> = command.iter().map(|w| yaml_word(w)).collect();
            text.push_str(&format!(
                "  - name: {name}\n    command: [{}]\n",
                words.join(", ")
            ));
            reasons.push(format!("step {name}: {} ({why})", command.join(" ")));
        }
        text
    }
}

/// The file names in `dir`.
fn list(dir: &Path) -> Result<Vec<String>, InitError> {
    let entries = std::fs::read_dir(dir).map_err(|source| InitError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

fn read_pyproject(path: &Path, listing: &[String]) -> Result<Pyproject, InitError> {
    let text = std::fs::read_to_string(path).map_err(|source| InitError::Io {
        path: path.to_owned(),
        source,
    })?;
    let doc: toml::Table = toml::from_str(&text).map_err(|err| {
        let (line, column) = err
            .span()
            .map(|span| line_column(&text, span.start))
            .unwrap_or((1, 1));
        InitError::Pyproject {
            path: path.to_owned(),
            line,
            column,
            field: "pyproject.toml".into(),
            message: err.message().to_owned(),
        }
    })?;
    let project = doc.get("project").and_then(|p| p.as_table());
    let tool = doc.get("tool").and_then(|t| t.as_table());
    let poetry = tool
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.as_table());
    let string = |table: Option<&toml::Table>, key: &str| {
        table
            .and_then(|t| t.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let has = |name: &str| listing.iter().any(|f| f == name);
    let tool = if has("uv.lock") {
        Some(("uv", "uv.lock exists".to_owned()))
    } else if has("poetry.lock") {
        Some(("poetry", "poetry.lock exists".to_owned()))
    } else if tool.is_some_and(|t| t.contains_key("uv")) {
        Some(("uv", "pyproject.toml has [tool.uv]".to_owned()))
    } else if poetry.is_some() {
        Some(("poetry", "pyproject.toml has [tool.poetry]".to_owned()))
    } else {
        None
    };
    let dependencies = project
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_array())
        .is_some_and(|d| !d.is_empty())
        || poetry
            .and_then(|p| p.get("dependencies"))
            .and_then(|d| d.as_table())
            .is_some_and(|d| d.keys().any(|k| k != "python"));
    let poetry_python = poetry
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_table())
        .and_then(|d| d.get("python"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    Ok(Pyproject {
        name: string(project, "name").or_else(|| string(poetry, "name")),
        has_dependencies: dependencies,
        requires_python: string(project, "requires-python").or(poetry_python),
        tool,
    })
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// `major.minor` and where it came from: `.python-version` first (what the project's tools
/// use), then the lowest version `requires-python` allows.
fn python_version(
    dir: &Path,
    has_file: bool,
    pyproject: Option<&Pyproject>,
) -> Option<(String, String)> {
    if has_file {
        let text = std::fs::read_to_string(dir.join(".python-version")).unwrap_or_default();
        if let Some(version) = text.lines().find_map(major_minor) {
            return Some((version, ".python-version".into()));
        }
    }
    let spec = pyproject?.requires_python.as_deref()?;
    let version = major_minor(spec)?;
    Some((
        version,
        format!("requires-python `{spec}` (its lowest version)"),
    ))
}

/// The first `3.N` in the text (`3.11.4`, `>=3.10,<4`, `^3.9`, `cpython-3.12`).
fn major_minor(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find_map(|i| {
        let rest = &text[i..];
        let preceded_by_digit = i > 0 && bytes[i - 1].is_ascii_digit();
        let minor: String = rest
            .strip_prefix("3.")?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (!preceded_by_digit && !minor.is_empty()).then(|| format!("3.{minor}"))
    })
}

/// Steps from obvious entry points: `steps/*.py` (one step each, in name order; their order
/// of execution is the user's to state with `after`), else `main.py`, `pipeline.py`, `run.py`,
/// `train.py` at the top.
fn entry_points(
    dir: &Path,
    listing: &[String],
) -> Result<Vec<(String, Vec<String>, String)>, InitError> {
    let steps_dir = dir.join("steps");
    if steps_dir.is_dir() {
        let scripts: Vec<String> = list(&steps_dir)?
            .into_iter()
            .filter(|f| f.ends_with(".py") && !f.starts_with('_'))
            .collect();
        if !scripts.is_empty() {
            return Ok(scripts
                .iter()
                .map(|script| {
                    let name = step_name(script.trim_end_matches(".py"));
                    let command = vec!["python3".into(), format!("steps/{script}")];
                    (
                        name,
                        command,
                        "a script in steps/; add `after:` to order the steps".into(),
                    )
                })
                .collect());
        }
    }
    Ok(TOP_LEVEL_ENTRY_POINTS
        .iter()
        .filter(|f| listing.iter().any(|l| l == *f))
        .map(|script| {
            let name = step_name(script.trim_end_matches(".py"));
            let command = vec!["python3".into(), (*script).to_owned()];
            (name, command, format!("{script} is an entry point"))
        })
        .collect())
}

/// A name made of what image tags and step names allow.
pub(crate) fn pipeline_name(raw: &str) -> String {
    let name: String = raw
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if name.is_empty() {
        "pipeline".into()
    } else {
        name.to_owned()
    }
}

fn step_name(raw: &str) -> String {
    pipeline_name(raw)
}

/// A word as a YAML flow scalar, quoted when plain text would be read otherwise.
fn yaml_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
        && word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '_');
    if plain {
        word.to_owned()
    } else {
        serde_json::to_string(word).expect("json string")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_versions_are_read_from_specifiers() {
        assert_eq!(major_minor("3.11.4\n").as_deref(), Some("3.11"));
        assert_eq!(major_minor(">=3.10,<4").as_deref(), Some("3.10"));
        assert_eq!(major_minor("^3.9").as_deref(), Some("3.9"));
        assert_eq!(major_minor("cpython-3.12").as_deref(), Some("3.12"));
        assert_eq!(major_minor("13.1"), None);
        assert_eq!(major_minor("4"), None);
    }

    #[test]
    fn names_keep_to_what_tags_allow() {
        assert_eq!(pipeline_name("My Project!"), "my-project");
        assert_eq!(pipeline_name("***"), "pipeline");
        assert_eq!(yaml_word("steps/train.py"), "steps/train.py");
        assert_eq!(yaml_word("--flag: x"), "\"--flag: x\"");
    }
}
