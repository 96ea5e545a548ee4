//! Built-in plugin `requirements`: group 2 of DESIGN.md §4.
//!
//! - `requirements`: a list of requirement lines, or the path of a requirements file read
//!   through the read-only grant of its directory. `-r` includes are followed inside that
//!   grant, comments and blank lines are dropped, pip option lines (`--index-url`,
//!   `--find-links`, ...) are kept.
//! - `-c` constraints files are read inside the grant too; their lines come back as
//!   *constraint lines*, marked by the origin `constraint <name> (<file>:<line>)`. The host
//!   writes them to `.dockwright/requirements/constraints/<name>`, copies that file into the
//!   image next to the requirements file, and puts `-c constraints/<name>` in the
//!   requirements file in their place: pip and uv then honour them as constraints, installing
//!   nothing for them ([`parse`] has the details).
//! - `pyproject_path`: the project's dependencies exported by `pyproject_export_command`, or
//!   by ZenML's default commands (`uv export`, then `poetry export`), run on the host through
//!   `host.exec` ([`export`]). The manifest declares the programs it may run; the host grants
//!   exactly the command's program, and only when `pyproject_path` is set.
//!
//! The file and command logic takes its reads and runs as functions, so it is unit-tested
//! natively; the component only wires it to WASI and the host.

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod export;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod parse;

#[cfg(target_arch = "wasm32")]
mod plugin {
    use crate::export::{self, Output};
    use crate::parse::{self, Error};
    use dockwright_plugin_sdk::*;

    manifest! {
        group: "requirements",
        // Keep in step with `export::PROGRAMS`.
        capabilities: [
            "read", "exec:uv", "exec:poetry", "exec:pdm", "exec:hatch", "exec:pipenv",
            "exec:python3", "exec:python",
        ],
        description: "The `requirements` attribute (a list, or a requirements file with its -r includes and -c constraints) and the export of `pyproject_path`.",
    }

    struct Requirements;

    impl RequirementSource for Requirements {
        fn contribute(request: Request) -> Result<Contribution, PluginError> {
            let settings: parse::Settings = request.settings()?;
            let grants: Vec<&str> = request.readable_dirs().collect();
            let read = |p: &std::path::Path| parse::read_text(p);
            let mut lines =
                parse::collect(&settings, &request.base_dir, &grants, &read).map_err(to_wit)?;
            if let Some(path) = &settings.pyproject_path {
                let exec = |program: &str, args: &[String]| {
                    host::exec(program, args).map(|o| Output {
                        status: o.status,
                        stdout: o.stdout,
                        stderr: o.stderr,
                    })
                };
                lines.extend(
                    export::export(
                        path,
                        settings.pyproject_export_command.as_deref(),
                        &request.base_dir,
                        &grants,
                        &read,
                        &exec,
                    )
                    .map_err(to_wit)?,
                );
            }
            let mut out = Contribution::empty();
            out.requirements = lines
                .into_iter()
                .map(|(line, origin)| requirement(line, origin))
                .collect();
            Ok(out)
        }
    }

    fn to_wit(e: Error) -> PluginError {
        match e {
            Error::Unavailable(m) => PluginError::Unavailable(m),
            Error::Invalid(m) => PluginError::InvalidInput(m),
        }
    }

    export_plugin!(Requirements);
}
