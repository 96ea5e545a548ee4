//! `pyproject_path`: the project's dependencies, exported by a host program as a
//! requirements file, as ZenML does it.
//!
//! With `pyproject_export_command`, that command runs; without, ZenML's two defaults are
//! tried in order and the first that succeeds wins: `uv export --format=requirements-txt
//! --directory={directory} --no-hashes --no-emit-project`, then `poetry export
//! --format=requirements.txt --directory={directory} --without-hashes`. `{directory}` is the
//! pyproject file's directory. Unlike ZenML the words run without a shell, each word with
//! the placeholder substituted. The program must be one this plugin's manifest may run
//! ([`PROGRAMS`]) and the host grants it only when `pyproject_path` is set. Output lines are
//! read like a requirements file (comments and blank lines dropped), with the origin
//! `pyproject export (<command>)`.

use std::path::Path;

use crate::parse::{Error, Lines, Read, clean, display, is_include, logical_lines, normalize};

/// The programs the built-in plugin may run: its manifest declares `exec:` for each.
pub const PROGRAMS: &[&str] = &[
    "uv", "poetry", "pdm", "hatch", "pipenv", "python3", "python",
];

/// ZenML's default export commands, tried in order.
pub const DEFAULT_COMMANDS: [&[&str]; 2] = [
    &[
        "uv",
        "export",
        "--format=requirements-txt",
        "--directory={directory}",
        "--no-hashes",
        "--no-emit-project",
    ],
    &[
        "poetry",
        "export",
        "--format=requirements.txt",
        "--directory={directory}",
        "--without-hashes",
    ],
];

/// What a command printed and how it ended; `Err` when the host refused or could not start it.
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a granted program on the host; injected so the logic runs natively in unit tests.
pub type Exec<'a> = &'a dyn Fn(&str, &[String]) -> Result<Output, String>;

/// The exported requirement lines of `pyproject_path`.
pub fn export(
    pyproject_path: &str,
    command: Option<&[String]>,
    base_dir: &str,
    grants: &[&str],
    read: Read<'_>,
    exec: Exec<'_>,
) -> Result<Lines, Error> {
    let path = normalize(&Path::new(base_dir).join(pyproject_path));
    let shown = display(&path, base_dir);
    if !grants.iter().any(|g| path.starts_with(g)) {
        return Err(Error::Unavailable(format!(
            "pyproject_path: {shown}: outside the directories this plugin may read ({})",
            grants.join(", ")
        )));
    }
    read(&path).map_err(|e| {
        Error::Unavailable(format!(
            "pyproject_path: pyproject file {} cannot be read: {e}",
            path.display()
        ))
    })?;
    let directory = path
        .parent()
        .unwrap_or(Path::new("/"))
        .display()
        .to_string();
    match command {
        Some(words) => {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            run(&words, &directory, exec).map_err(|failure| {
                Error::Unavailable(format!(
                    "pyproject_path: failed to export the pyproject dependencies with command `{}`: {failure}",
                    words.join(" ")
                ))
            })
        }
        None => {
            let mut failures = Vec::new();
            for words in DEFAULT_COMMANDS {
                match run(words, &directory, exec) {
                    Ok(lines) => return Ok(lines),
                    Err(failure) => failures.push(format!("`{}`: {failure}", words.join(" "))),
                }
            }
            Err(Error::Unavailable(format!(
                "pyproject_path: failed to export the pyproject dependencies of {shown} with the default commands:\n  {}\n\
                 Set `pyproject_export_command` to the command that exports them.",
                failures.join("\n  ")
            )))
        }
    }
}

/// Runs one command; `Err` carries why it failed (its stderr, or the host's refusal).
fn run(words: &[&str], directory: &str, exec: Exec<'_>) -> Result<Lines, String> {
    let Some((program, args)) = words.split_first() else {
        return Err("the command is empty".into());
    };
    if !PROGRAMS.contains(program) {
        return Err(format!(
            "the built-in `requirements` plugin runs only {}; `{program}` is not one of them",
            PROGRAMS.join(", ")
        ));
    }
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("{directory}", directory))
        .collect();
    let output = exec(program, &args)?;
    if output.status != 0 {
        let stderr = output.stderr.trim();
        return Err(format!("exit status {}: {stderr}", output.status));
    }
    let origin = format!("pyproject export ({})", words.join(" "));
    let mut lines = Vec::new();
    for (number, raw) in logical_lines(&output.stdout) {
        let Some(line) = clean(&raw) else { continue };
        if is_include(&line) {
            return Err(format!(
                "output line {number} `{line}`: includes are not supported in exported requirements"
            ));
        }
        lines.push((line, origin.clone()));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const UV_OUT: &str = "# This file was autogenerated by uv via the following command:\n#    uv export\n./libs/helper\n    # via demo\nsix==1.16.0 \\\n    ; python_version >= '3'\n";

    fn readable(path: &Path) -> std::io::Result<String> {
        if path == Path::new("/p/proj/pyproject.toml") {
            Ok("[project]\n".into())
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        }
    }

    fn ok(stdout: &str) -> Result<Output, String> {
        Ok(Output {
            status: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        })
    }

    fn failed(stderr: &str) -> Result<Output, String> {
        Ok(Output {
            status: 2,
            stdout: String::new(),
            stderr: stderr.into(),
        })
    }

    #[test]
    fn default_command_substitutes_the_directory_and_reads_the_output() {
        let calls = RefCell::new(Vec::new());
        let exec = |program: &str, args: &[String]| {
            calls
                .borrow_mut()
                .push(format!("{program} {}", args.join(" ")));
            ok(UV_OUT)
        };
        let lines = export(
            "proj/pyproject.toml",
            None,
            "/p",
            &["/p/proj"],
            &readable,
            &exec,
        )
        .unwrap();
        assert_eq!(
            calls.into_inner(),
            [
                "uv export --format=requirements-txt --directory=/p/proj --no-hashes --no-emit-project"
            ]
        );
        let origin = "pyproject export (uv export --format=requirements-txt --directory={directory} --no-hashes --no-emit-project)";
        assert_eq!(
            lines,
            vec![
                ("./libs/helper".to_string(), origin.to_string()),
                (
                    "six==1.16.0     ; python_version >= '3'".to_string(),
                    origin.to_string()
                ),
            ]
        );
    }

    #[test]
    fn falls_back_to_poetry_and_lists_every_failure() {
        let exec = |program: &str, _: &[String]| match program {
            "uv" => failed("error: No `pyproject.toml` found"),
            _ => ok("numpy==2.0.0\n"),
        };
        let lines = export(
            "proj/pyproject.toml",
            None,
            "/p",
            &["/p/proj"],
            &readable,
            &exec,
        )
        .unwrap();
        assert_eq!(lines[0].0, "numpy==2.0.0");
        assert!(lines[0].1.starts_with("pyproject export (poetry export"));

        let exec = |program: &str, _: &[String]| match program {
            "uv" => failed("uv broke"),
            _ => Err("running `poetry`: No such file or directory (os error 2)".to_string()),
        };
        let err = export(
            "proj/pyproject.toml",
            None,
            "/p",
            &["/p/proj"],
            &readable,
            &exec,
        )
        .unwrap_err();
        let Error::Unavailable(message) = err else {
            panic!("{err:?}")
        };
        assert!(message.contains("exit status 2: uv broke"), "{message}");
        assert!(
            message.contains("running `poetry`: No such file"),
            "{message}"
        );
        assert!(message.contains("pyproject_export_command"), "{message}");
    }

    #[test]
    fn custom_command_failure_carries_its_stderr() {
        let command = vec!["python3".to_string(), "{directory}/export.py".to_string()];
        let seen = RefCell::new(Vec::new());
        let exec = |_: &str, args: &[String]| {
            seen.borrow_mut().extend(args.iter().cloned());
            failed("Traceback: boom\n")
        };
        let err = export(
            "proj/pyproject.toml",
            Some(&command),
            "/p",
            &["/p/proj"],
            &readable,
            &exec,
        )
        .unwrap_err();
        assert_eq!(seen.into_inner(), ["/p/proj/export.py"]);
        assert_eq!(
            err,
            Error::Unavailable(
                "pyproject_path: failed to export the pyproject dependencies with command \
                 `python3 {directory}/export.py`: exit status 2: Traceback: boom"
                    .into()
            )
        );
    }

    #[test]
    fn a_program_outside_the_manifest_is_not_run() {
        let command = vec!["bash".to_string(), "-c".to_string(), "cat x".to_string()];
        let exec = |_: &str, _: &[String]| -> Result<Output, String> { panic!("must not run") };
        let err = export(
            "proj/pyproject.toml",
            Some(&command),
            "/p",
            &["/p/proj"],
            &readable,
            &exec,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("runs only uv, poetry") && m.contains("`bash` is not one of them")),
            "{err:?}"
        );
    }

    #[test]
    fn missing_or_ungranted_pyproject_file() {
        let exec = |_: &str, _: &[String]| -> Result<Output, String> { panic!("must not run") };
        let err = export(
            "nope/pyproject.toml",
            None,
            "/p",
            &["/p/nope"],
            &readable,
            &exec,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.starts_with("pyproject_path: pyproject file /p/nope/pyproject.toml cannot be read")),
            "{err:?}"
        );
        let err = export(
            "../x/pyproject.toml",
            None,
            "/p",
            &["/p/proj"],
            &readable,
            &exec,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("/x/pyproject.toml: outside")),
            "{err:?}"
        );
    }

    #[test]
    fn includes_in_the_output_are_refused() {
        let exec = |_: &str, _: &[String]| ok("six\n-r other.txt\n");
        let command = vec!["uv".to_string(), "export".to_string()];
        let err = export(
            "proj/pyproject.toml",
            Some(&command),
            "/p",
            &["/p/proj"],
            &readable,
            &exec,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("output line 2 `-r other.txt`")),
            "{err:?}"
        );
    }
}
