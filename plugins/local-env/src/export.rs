//! `poetry_export` and custom command lists: a program run on the host through `host.exec`
//! (never a shell), whose output lines become the requirements.

use crate::settings::Method;
use crate::{Error, Output};

/// The programs this plugin may be granted (`exec:<program>` in its manifest). A command
/// list naming another program is refused here, with this list in the message.
pub const RUNNABLE: &[&str] = &[
    "poetry", "uv", "pip", "pip3", "python", "python3", "pdm", "pipenv",
];

/// What a finished program left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a program: `Err` when it could not be started or was refused.
pub type Exec<'a> = dyn FnMut(&str, &[String]) -> Result<ExecOutput, String> + 'a;

/// The program and arguments a method runs (`None` for the file-reading methods).
pub fn command(method: &Method) -> Option<(String, Vec<String>)> {
    match method {
        Method::PoetryExport => Some((
            "poetry".into(),
            vec!["export".into(), "--format=requirements.txt".into()],
        )),
        Method::Command(words) => Some((words[0].clone(), words[1..].to_vec())),
        Method::PipFreeze | Method::UvFreeze => None,
    }
}

/// Runs `program args` and turns its output into requirement lines.
pub fn run(program: &str, args: &[String], exec: &mut Exec) -> Result<Output, Error> {
    let shown = std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    if !RUNNABLE.contains(&program) {
        return Err(Error::Invalid(format!(
            "replicate_local_python_environment: `{shown}`: the built-in local-env plugin runs only \
             {}; `{program}` is not one of them (a plugin of your own can declare `exec:{program}`)",
            RUNNABLE.join(", ")
        )));
    }
    let output = exec(program, args).map_err(|e| {
        Error::Unavailable(format!(
            "replicate_local_python_environment: cannot run `{shown}`: {e}"
        ))
    })?;
    if output.status != 0 {
        return Err(Error::Unavailable(format!(
            "replicate_local_python_environment: `{shown}` failed with exit status {}:\n{}",
            output.status,
            output.stderr.trim_end()
        )));
    }
    let mut out = Output::default();
    for (number, line) in logical_lines(&output.stdout) {
        out.lines
            .push((line, format!("`{shown}` output line {number}")));
    }
    Ok(out)
}

/// Non-blank lines with their 1-based line numbers; a line ending in `\` continues on the
/// next one (as in a requirements file, e.g. `poetry export`'s `--hash` lines) and is
/// joined to it with one space.
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let (continues, body) = match line.trim_end().strip_suffix('\\') {
            Some(body) if !line.trim_start().starts_with('#') => (true, body.trim_end()),
            _ => (false, line),
        };
        let joined = match pending.take() {
            Some((n, head)) => (n, format!("{head} {}", body.trim_start())),
            None => (i + 1, body.to_string()),
        };
        if continues {
            pending = Some(joined);
        } else if !joined.1.trim().is_empty() {
            out.push((joined.0, joined.1.trim_end().to_string()));
        }
    }
    out.extend(pending.filter(|(_, l)| !l.trim().is_empty()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(program: &str, args: &[String]) -> Result<ExecOutput, String> {
        let o = std::process::Command::new(program)
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        Ok(ExecOutput {
            status: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        })
    }

    #[test]
    fn continuation_lines_are_joined_and_blank_lines_dropped() {
        let text = "a==1 ; python_version >= \"3.8\" \\\n    --hash=sha256:ff\r\n\n# note\nb==2\n";
        assert_eq!(
            logical_lines(text),
            [
                (
                    1,
                    "a==1 ; python_version >= \"3.8\" --hash=sha256:ff".to_string()
                ),
                (4, "# note".to_string()),
                (5, "b==2".to_string()),
            ]
        );
    }

    #[test]
    fn a_real_program_gives_lines_and_its_failure_gives_stderr() {
        let args: Vec<String> = ["-c", "print('six==1.16.0'); print(); print('attrs==23.1')"]
            .map(String::from)
            .into();
        let out = run("python3", &args, &mut system).unwrap();
        let lines: Vec<_> = out.lines.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(lines, ["six==1.16.0", "attrs==23.1"]);
        assert!(out.lines[1].1.contains("line 3"));

        let args: Vec<String> = ["-c", "import sys; sys.exit('no lock file here')"]
            .map(String::from)
            .into();
        let err = run("python3", &args, &mut system).unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("no lock file here") && m.contains("exit status 1")),
            "{err:?}"
        );
    }

    #[test]
    fn programs_outside_the_manifest_are_refused_before_running() {
        let mut never =
            |_: &str, _: &[String]| -> Result<ExecOutput, String> { panic!("must not run") };
        let err = run("bash", &["-c".into(), "true".into()], &mut never).unwrap_err();
        assert!(
            matches!(err, Error::Invalid(m) if m.contains("`bash -c true`") && m.contains("poetry"))
        );
    }
}
