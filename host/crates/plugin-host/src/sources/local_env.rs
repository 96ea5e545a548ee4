//! Finding the user's local Python environment for `replicate_local_python_environment`, and
//! the request (settings and grants) the built-in `local-env` plugin gets for it.
//!
//! [`locate`] returns the environment's site-packages directories in `sys.path` order — the
//! directories `pip freeze` reads:
//!
//! 1. an explicit interpreter (the `python` argument, else `DOCKWRIGHT_PYTHON`) is asked;
//! 2. else, with `VIRTUAL_ENV` set, `$VIRTUAL_ENV/lib/pythonX.Y/site-packages` is found on
//!    disk without running anything (when its `pyvenv.cfg` says
//!    `include-system-site-packages = true`, the venv's own `bin/python` is asked instead,
//!    because the base interpreter's directories then count too);
//! 3. else `python3` is asked.
//!
//! Asking an interpreter is one run of it printing `sysconfig.get_paths()`'s `purelib` and
//! `platlib`, `site.getsitepackages()` and the user site (when enabled), ordered as in its
//! `sys.path`. The plugin is then granted read access to exactly these directories.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::sandbox::{Grants, Request};
use dockwright_plan::contribution::Platform;

/// The interpreter asked when nothing else names one.
pub(crate) const DEFAULT_PYTHON: &str = "python3";

/// Overrides the interpreter that is asked.
pub(crate) const PYTHON_ENV: &str = "DOCKWRIGHT_PYTHON";

/// Why the local environment could not be found.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error(
        "VIRTUAL_ENV is {venv}, but it has no lib/pythonX.Y/site-packages directory; \
         activate a virtual environment that exists, or set {PYTHON_ENV}"
    )]
    NoSitePackages { venv: PathBuf },
    #[error(
        "cannot run the Python interpreter `{python}` to locate the local environment: {source}; set {PYTHON_ENV} to one that exists"
    )]
    Spawn {
        python: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the Python interpreter `{python}` failed ({status}) while locating the local environment:\n{stderr}"
    )]
    Interpreter {
        python: PathBuf,
        status: String,
        stderr: String,
    },
    #[error(
        "the Python interpreter `{python}` printed something unexpected while locating the local environment: {output:?}"
    )]
    Output { python: PathBuf, output: String },
    #[error("the Python interpreter `{python}` reported no existing site-packages directory")]
    Empty { python: PathBuf },
}

/// The environment's site-packages directories, in `sys.path` order (see the module docs).
pub fn locate(python: Option<&Path>) -> Result<Vec<PathBuf>, LocateError> {
    let from_env = std::env::var_os(PYTHON_ENV).map(PathBuf::from);
    let virtual_env = std::env::var_os("VIRTUAL_ENV").map(PathBuf::from);
    locate_with(
        python.or(from_env.as_deref()),
        virtual_env.as_deref().filter(|v| !v.as_os_str().is_empty()),
    )
}

/// [`locate`] with its inputs explicit: `python` an interpreter the user named, and
/// `virtual_env` the active virtual environment.
pub fn locate_with(
    python: Option<&Path>,
    virtual_env: Option<&Path>,
) -> Result<Vec<PathBuf>, LocateError> {
    // A relative `VIRTUAL_ENV` means what it means to Python, relative to the working
    // directory; the read grant made from it must be absolute.
    let absolute = virtual_env.map(|v| std::path::absolute(v).unwrap_or_else(|_| v.to_path_buf()));
    match (python, absolute.as_deref()) {
        (Some(python), _) => ask_interpreter(python),
        (None, Some(venv)) if includes_system_site_packages(venv) => {
            ask_interpreter(&venv.join("bin").join("python"))
        }
        (None, Some(venv)) => venv_site_packages(venv),
        (None, None) => ask_interpreter(Path::new(DEFAULT_PYTHON)),
    }
}

/// `lib/pythonX.Y/site-packages` under a virtual environment; when several Python versions
/// left one behind, the version `pyvenv.cfg` names wins.
fn venv_site_packages(venv: &Path) -> Result<Vec<PathBuf>, LocateError> {
    let lib = venv.join("lib");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    if found.len() > 1
        && let Some(version) = pyvenv_value(venv, &["version", "version_info"])
    {
        let major_minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
        let wanted = lib
            .join(format!("python{major_minor}"))
            .join("site-packages");
        if found.contains(&wanted) {
            found = vec![wanted];
        }
    }
    if found.is_empty() {
        return Err(LocateError::NoSitePackages {
            venv: venv.to_path_buf(),
        });
    }
    Ok(found)
}

fn includes_system_site_packages(venv: &Path) -> bool {
    pyvenv_value(venv, &["include-system-site-packages"])
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A `key = value` line of `pyvenv.cfg` (the first of `keys` present).
fn pyvenv_value(venv: &Path, keys: &[&str]) -> Option<String> {
    let text = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    keys.iter().find_map(|key| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().to_string())
        })
    })
}

/// What the interpreter runs: the site directories pip would read, in `sys.path` order.
const LOCATE_SCRIPT: &str = r#"
import json, os, site, sys, sysconfig
paths = sysconfig.get_paths()
wanted = [paths["purelib"], paths["platlib"]] + list(getattr(site, "getsitepackages", lambda: [])())
if site.ENABLE_USER_SITE:
    wanted.append(site.getusersitepackages())
ordered = [p for p in sys.path if p in wanted] + wanted
seen = []
for p in ordered:
    if p not in seen and os.path.isdir(p):
        seen.append(p)
print(json.dumps(seen))
"#;

fn ask_interpreter(python: &Path) -> Result<Vec<PathBuf>, LocateError> {
    let output = Command::new(python)
        .args(["-c", LOCATE_SCRIPT])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| LocateError::Spawn {
            python: python.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        return Err(LocateError::Interpreter {
            python: python.to_path_buf(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dirs: Vec<PathBuf> =
        serde_json::from_str(stdout.trim()).map_err(|_| LocateError::Output {
            python: python.to_path_buf(),
            output: stdout.trim().to_string(),
        })?;
    let mut unique: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        // `lib64` is often a link to `lib`: one directory, read once.
        let real = dir.canonicalize().unwrap_or(dir);
        if !unique.contains(&real) {
            unique.push(real);
        }
    }
    if unique.is_empty() {
        return Err(LocateError::Empty {
            python: python.to_path_buf(),
        });
    }
    Ok(unique)
}

/// What `replicate_local_python_environment` asks the host for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Nothing (unset or false).
    Nothing,
    /// Read access to the local environment (`pip_freeze`, `uv_freeze`, true).
    Environment,
    /// Running this program (`poetry_export`: `poetry`; a command list: its first word).
    Program(String),
}

/// Reads the setting the way the plugin does (a malformed value is the plugin's to report,
/// so it needs nothing here).
pub fn needs(setting: &Value) -> Needs {
    match setting {
        Value::Bool(true) => Needs::Environment,
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "pip_freeze" | "uv_freeze" | "true" | "1" | "yes" | "on" => Needs::Environment,
            "poetry_export" => Needs::Program("poetry".into()),
            _ => Needs::Nothing,
        },
        Value::Number(n) if n.as_u64() == Some(1) => Needs::Environment,
        Value::Array(words) => match words.first().and_then(Value::as_str) {
            Some(program) => Needs::Program(program.to_string()),
            None => Needs::Nothing,
        },
        _ => Needs::Nothing,
    }
}

/// The request for the `local-env` plugin: the setting, plus `site_packages` and read grants
/// of exactly those directories when it reads the environment, or an exec grant of exactly
/// the program it runs. The setting is the grant (DESIGN.md §6).
pub fn request(
    setting: &Value,
    base_dir: &Path,
    platform: Platform,
    python: Option<&Path>,
) -> Result<Request, LocateError> {
    let mut grants = Grants::default();
    let mut settings = json!({ "replicate_local_python_environment": setting });
    match needs(setting) {
        Needs::Nothing => {}
        Needs::Environment => {
            let dirs = locate(python)?;
            settings["site_packages"] = json!(dirs);
            grants.read = dirs;
        }
        Needs::Program(program) => grants.exec.push(program),
    }
    Ok(Request {
        platform,
        settings,
        base_dir: base_dir.to_path_buf(),
        grants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_env_is_found_on_disk() {
        let venv = tempfile::tempdir().unwrap();
        let sp = venv.path().join("lib/python3.11/site-packages");
        std::fs::create_dir_all(&sp).unwrap();
        std::fs::create_dir_all(venv.path().join("lib/python3.9/site-packages")).unwrap();
        std::fs::write(
            venv.path().join("pyvenv.cfg"),
            "home = /usr/bin\nversion = 3.11.7\n",
        )
        .unwrap();
        assert_eq!(locate_with(None, Some(venv.path())).unwrap(), vec![sp]);
    }

    #[test]
    fn a_relative_virtual_env_gives_absolute_directories() {
        let venv = tempfile::tempdir_in(".").unwrap();
        let sp = venv.path().join("lib/python3.11/site-packages");
        std::fs::create_dir_all(&sp).unwrap();
        let relative = Path::new(".").join(venv.path().file_name().unwrap());
        let found = locate_with(None, Some(&relative)).unwrap();
        assert_eq!(found, vec![std::path::absolute(&sp).unwrap()]);
        assert!(found[0].is_absolute());
    }

    #[test]
    fn a_virtual_env_without_site_packages_is_an_error_naming_it() {
        let venv = tempfile::tempdir().unwrap();
        let err = locate_with(None, Some(venv.path())).unwrap_err();
        assert!(
            err.to_string().contains(&venv.path().display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn the_interpreter_is_asked() {
        let dirs = locate_with(Some(Path::new(DEFAULT_PYTHON)), None).unwrap();
        assert!(dirs.iter().all(|d| d.is_dir()), "{dirs:?}");
        assert!(
            dirs.iter()
                .any(|d| d.ends_with("site-packages") || d.ends_with("dist-packages")),
            "{dirs:?}"
        );
    }

    #[test]
    fn a_missing_interpreter_is_an_error_naming_it() {
        let err = locate_with(Some(Path::new("/nonexistent/python9")), None).unwrap_err();
        assert!(matches!(err, LocateError::Spawn { .. }));
        assert!(err.to_string().contains("/nonexistent/python9"));
    }

    #[test]
    fn the_setting_decides_the_grant() {
        assert_eq!(
            needs(&json!("poetry_export")),
            Needs::Program("poetry".into())
        );
        assert_eq!(needs(&json!(["uv", "export"])), Needs::Program("uv".into()));
        assert_eq!(needs(&json!(true)), Needs::Environment);
        assert_eq!(needs(&json!(false)), Needs::Nothing);
        let r = request(
            &json!(["pdm", "export"]),
            Path::new("/p"),
            Platform::default(),
            None,
        )
        .unwrap();
        assert_eq!(r.grants.exec, ["pdm"]);
        assert!(r.grants.read.is_empty());
    }
}
