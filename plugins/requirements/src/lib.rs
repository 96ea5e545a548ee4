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

/// Fuzz entry (`fuzz/fuzz_targets/requirements_file.rs`), native only: the input is a
/// project's requirements files, split at 0xFF bytes into `requirements.txt`, `a.txt`,
/// `sub/b.txt` and `../outside.txt` (outside the grant: never read), read through the same
/// parser the component runs; the first file's lines are also read as a `requirements:` list. Not API.
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub fn fuzz_requirements_file(data: &[u8]) {
    use std::path::Path;
    const FILES: [&str; 4] = [
        "/p/requirements.txt",
        "/p/a.txt",
        "/p/sub/b.txt",
        "/outside.txt",
    ];
    let parts: Vec<&[u8]> = data.splitn(FILES.len(), |&b| b == 0xff).collect();
    let read = |path: &Path| {
        // The grant is the only thing between a pipeline's includes and the host's files.
        assert!(
            path.starts_with("/p"),
            "read outside the grant: {}",
            path.display()
        );
        let at = FILES.iter().position(|f| Path::new(f) == path);
        let bytes = at
            .and_then(|i| parts.get(i))
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))?;
        parse::text_of(bytes.to_vec())
    };
    let settings = parse::Settings {
        requirements: Some(parse::Requirements::File("requirements.txt".into())),
        ..Default::default()
    };
    lines_hold(parse::collect(&settings, "/p", &["/p"], &read));
    if let Ok(text) = read(Path::new(FILES[0])) {
        let list = text.lines().map(str::to_string).collect();
        let settings = parse::Settings {
            requirements: Some(parse::Requirements::Lines(list)),
            ..Default::default()
        };
        lines_hold(parse::collect(&settings, "/p", &["/p"], &read));
    }
}

/// What the host relies on in the plugin's answer: trimmed, non-empty lines with no include
/// left in them, and an error that says something.
#[cfg(not(target_arch = "wasm32"))]
fn lines_hold(result: Result<parse::Lines, parse::Error>) {
    match result {
        Ok(lines) => {
            for (line, origin) in lines {
                assert!(!line.is_empty() && line == line.trim(), "line `{line}`");
                assert!(!parse::is_include(&line), "include left in `{line}`");
                assert!(!origin.is_empty());
            }
        }
        Err(parse::Error::Invalid(m) | parse::Error::Unavailable(m)) => assert!(!m.is_empty()),
    }
}

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
