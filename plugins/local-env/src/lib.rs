//! Built-in plugin `local-env`: the `replicate_local_python_environment` setting, the first
//! requirement group (DESIGN.md §4).
//!
//! - `pip_freeze` / `true` and `uv_freeze`: what `pip freeze` (or `uv pip freeze`) would print
//!   for the local environment, reproduced from its files alone: the host locates the
//!   environment's site-packages directories, passes them as `site_packages` and preopens
//!   them read-only; nothing is executed ([`freeze`], [`scan`]).
//! - `poetry_export` and a command list: the program runs on the host through `host.exec`,
//!   granted per program by the setting that asks for it; its output lines are the
//!   requirements ([`export`]). The manifest declares `exec:` for [`export::RUNNABLE`].
//!
//! The logic is plain Rust, tested natively; only the glue at the bottom is wasm-only.

pub mod direct_url;
pub mod export;
pub mod freeze;
pub mod names;
pub mod scan;
pub mod settings;

use settings::{Method, Settings};

/// Requirement lines with their origin, and notes for the user.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub lines: Vec<(String, String)>,
    pub notes: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// A directory or a program is missing or refused.
    Unavailable(String),
    /// The settings or the environment's files are malformed.
    Invalid(String),
}

/// The contribution for `settings`; `exec` runs a host program (only called for
/// `poetry_export` and command lists).
pub fn contribute(settings: &Settings, exec: &mut export::Exec) -> Result<Output, Error> {
    let Some(method) = settings::method(&settings.replicate_local_python_environment)? else {
        return Ok(Output::default());
    };
    if let Some((program, args)) = export::command(&method) {
        return export::run(&program, &args, exec);
    }
    let sites = scan_all(&settings.site_packages)?;
    match method {
        Method::UvFreeze => freeze::uv_freeze(&sites),
        _ => Ok(freeze::pip_freeze(
            &sites,
            settings::python_version(settings)?,
        )),
    }
}

/// Scans every directory, in order. A missing one is an error naming it: the host located
/// it, so its absence means the environment changed or was not granted.
fn scan_all(dirs: &[String]) -> Result<Vec<scan::Site>, Error> {
    if dirs.is_empty() {
        return Err(Error::Invalid(
            "replicate_local_python_environment: no site-packages directory was given \
             (`site_packages` is empty): the host found no local Python environment"
                .into(),
        ));
    }
    dirs.iter()
        .map(|dir| {
            scan::scan(dir).map_err(|e| {
                Error::Unavailable(format!(
                    "replicate_local_python_environment: cannot read the environment directory {dir}: {e}"
                ))
            })
        })
        .collect()
}

#[cfg(target_arch = "wasm32")]
mod plugin {
    use dockwright_plugin_sdk::*;

    manifest! {
        group: "local",
        capabilities: [
            "read", "exec:poetry", "exec:uv", "exec:pip", "exec:pip3",
            "exec:python", "exec:python3", "exec:pdm", "exec:pipenv",
        ],
        description: "replicate_local_python_environment: pip/uv freeze read from site-packages, or an export command's output.",
    }

    struct LocalEnv;

    impl RequirementSource for LocalEnv {
        fn contribute(request: Request) -> Result<Contribution, PluginError> {
            let settings: crate::Settings = request.settings()?;
            let mut exec = |program: &str, args: &[String]| {
                host::exec(program, args).map(|o| crate::export::ExecOutput {
                    status: o.status,
                    stdout: o.stdout,
                    stderr: o.stderr,
                })
            };
            let output = crate::contribute(&settings, &mut exec).map_err(|e| match e {
                crate::Error::Unavailable(m) => PluginError::Unavailable(m),
                crate::Error::Invalid(m) => PluginError::InvalidInput(m),
            })?;
            let mut out = Contribution::empty();
            out.requirements = output
                .lines
                .into_iter()
                .map(|(line, origin)| requirement(line, origin))
                .collect();
            out.notes = output.notes;
            Ok(out)
        }
    }

    export_plugin!(LocalEnv);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_setting_contributes_nothing_and_runs_nothing() {
        let mut never = |_: &str, _: &[String]| -> Result<export::ExecOutput, String> {
            panic!("must not run")
        };
        let out = contribute(&Settings::default(), &mut never).unwrap();
        assert_eq!(out, Output::default());
    }

    #[test]
    fn missing_environment_is_an_error_naming_the_directory() {
        let settings = Settings {
            replicate_local_python_environment: serde_json::json!("pip_freeze"),
            site_packages: vec!["/nonexistent/lib/python3.11/site-packages".into()],
            python_version: None,
        };
        let mut never = |_: &str, _: &[String]| -> Result<export::ExecOutput, String> {
            panic!("must not run")
        };
        let err = contribute(&settings, &mut never).unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("/nonexistent/lib/python3.11/site-packages")),
            "{err:?}"
        );
        let empty = Settings {
            site_packages: Vec::new(),
            ..settings
        };
        assert!(matches!(
            contribute(&empty, &mut never),
            Err(Error::Invalid(_))
        ));
    }
}
