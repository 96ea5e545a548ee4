//! Requirement lists and files, as pip reads them, without the network or a shell.

use std::path::{Component, Path, PathBuf};

#[derive(serde::Deserialize, Default)]
pub struct Settings {
    #[serde(default)]
    pub requirements: Option<Requirements>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
pub enum Requirements {
    Lines(Vec<String>),
    File(String),
}

#[derive(Debug, PartialEq)]
pub enum Error {
    /// A file is missing or outside what was granted.
    Unavailable(String),
    /// The input is malformed.
    Invalid(String),
}

/// (line, origin) pairs.
pub type Lines = Vec<(String, String)>;

/// Reads the requirements the settings name. `grants` are the directories the host
/// granted read access to; a file outside them is refused before it is opened.
pub fn collect(
    settings: &Settings,
    base_dir: &str,
    grants: &[&str],
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Lines, Error> {
    match &settings.requirements {
        None => Ok(Vec::new()),
        Some(Requirements::Lines(lines)) => {
            let mut out = Vec::new();
            for (i, raw) in lines.iter().enumerate() {
                if let Some(line) = clean(raw) {
                    if line.starts_with("-r") || line.starts_with("--requirement") {
                        return Err(Error::Invalid(format!(
                            "requirements[{i}]: `{line}`: includes are only allowed in a requirements file"
                        )));
                    }
                    out.push((line, format!("requirements[{i}]")));
                }
            }
            Ok(out)
        }
        Some(Requirements::File(path)) => {
            let path = normalize(&Path::new(base_dir).join(path));
            let mut out = Vec::new();
            let mut stack = Vec::new();
            read_file(&path, base_dir, grants, read, &mut stack, &mut out)?;
            Ok(out)
        }
    }
}

fn read_file(
    path: &Path,
    base_dir: &str,
    grants: &[&str],
    read: &dyn Fn(&Path) -> std::io::Result<String>,
    stack: &mut Vec<PathBuf>,
    out: &mut Lines,
) -> Result<(), Error> {
    let shown = display(path, base_dir);
    if !grants.iter().any(|g| path.starts_with(g)) {
        return Err(Error::Unavailable(format!(
            "{shown}: outside the directories this plugin may read ({})",
            grants.join(", ")
        )));
    }
    if stack.iter().any(|p| p == path) {
        return Err(Error::Invalid(format!("{shown}: includes itself")));
    }
    let text = read(path).map_err(|e| Error::Unavailable(format!("{shown}: {e}")))?;
    stack.push(path.to_path_buf());
    for (number, raw) in logical_lines(&text) {
        let Some(line) = clean(&raw) else { continue };
        let origin = format!("{shown}:{number}");
        if let Some(include) = include_target(&line) {
            let dir = path.parent().unwrap_or(Path::new("/"));
            let target = normalize(&dir.join(include));
            read_file(&target, base_dir, grants, read, stack, out)
                .map_err(|e| with_context(e, &origin))?;
        } else if line.starts_with("-c") || line.starts_with("--constraint") {
            return Err(Error::Invalid(format!(
                "{origin}: constraints files (`{line}`) are not supported yet"
            )));
        } else {
            out.push((line, origin));
        }
    }
    stack.pop();
    Ok(())
}

fn with_context(e: Error, origin: &str) -> Error {
    match e {
        Error::Unavailable(m) => Error::Unavailable(format!("{m} (included from {origin})")),
        Error::Invalid(m) => Error::Invalid(format!("{m} (included from {origin})")),
    }
}

/// The file named by `-r FILE`, `-rFILE`, `--requirement FILE` or `--requirement=FILE`.
fn include_target(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("--requirement")
        .or_else(|| line.strip_prefix("-r"))?;
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    (!rest.is_empty()).then_some(rest)
}

/// Joins backslash-continued lines; yields each logical line with its first line number.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let (start, mut acc) = current.take().unwrap_or((i + 1, String::new()));
        if let Some(head) = line.strip_suffix('\\') {
            acc.push_str(head);
            current = Some((start, acc));
        } else {
            acc.push_str(line);
            out.push((start, acc));
        }
    }
    out.extend(current);
    out
}

/// Drops comments (a `#` at the start or after whitespace) and surrounding whitespace.
fn clean(raw: &str) -> Option<String> {
    let mut cut = raw.len();
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            cut = i;
            break;
        }
    }
    let line = raw[..cut].trim();
    (!line.is_empty()).then(|| line.to_string())
}

/// Resolves `.` and `..` without touching the filesystem, so an include cannot climb out
/// of a grant through `..`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn display(path: &Path, base_dir: &str) -> String {
    path.strip_prefix(base_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn files(list: &[(&str, &str)]) -> HashMap<PathBuf, String> {
        list.iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect()
    }

    fn run(
        fs: &HashMap<PathBuf, String>,
        req: Requirements,
        grants: &[&str],
    ) -> Result<Lines, Error> {
        let settings = Settings {
            requirements: Some(req),
        };
        collect(&settings, "/p", grants, &|p| {
            fs.get(p)
                .cloned()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        })
    }

    #[test]
    fn file_with_include_comments_and_options() {
        let fs = files(&[
            (
                "/p/requirements.txt",
                "# pinned\ntorch==2.3.1\n-r extra.txt\n\nscipy>=1.11  # sci\n--index-url https://example.org/simple\n",
            ),
            ("/p/extra.txt", "tqdm\n"),
        ]);
        let lines = run(&fs, Requirements::File("requirements.txt".into()), &["/p"]).unwrap();
        let text: Vec<_> = lines.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            text,
            [
                "torch==2.3.1",
                "tqdm",
                "scipy>=1.11",
                "--index-url https://example.org/simple"
            ]
        );
        assert_eq!(lines[1].1, "extra.txt:1");
        assert_eq!(lines[2].1, "requirements.txt:5");
    }

    #[test]
    fn include_escaping_the_grant_is_refused() {
        let fs = files(&[
            ("/p/r.txt", "-r ../../etc/x.txt\n"),
            ("/etc/x.txt", "evil\n"),
        ]);
        let err = run(&fs, Requirements::File("r.txt".into()), &["/p"]).unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("/etc/x.txt") && m.contains("r.txt:1")),
            "{err:?}"
        );
    }

    #[test]
    fn missing_file_names_it() {
        let err = run(&files(&[]), Requirements::File("nope.txt".into()), &["/p"]).unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.starts_with("nope.txt")),
            "{err:?}"
        );
    }

    #[test]
    fn list_keeps_order_and_drops_blanks() {
        let lines = run(
            &files(&[]),
            Requirements::Lines(vec!["b".into(), " ".into(), "a>=1 # x".into()]),
            &[],
        )
        .unwrap();
        assert_eq!(
            lines,
            vec![
                ("b".to_string(), "requirements[0]".to_string()),
                ("a>=1".to_string(), "requirements[2]".to_string())
            ]
        );
    }

    #[test]
    fn continuation_and_self_include() {
        let fs = files(&[("/p/r.txt", "numpy \\\n  >=1.0\n-r r.txt\n")]);
        let err = run(&fs, Requirements::File("r.txt".into()), &["/p"]).unwrap_err();
        assert!(
            matches!(&err, Error::Invalid(m) if m.contains("includes itself")),
            "{err:?}"
        );
        let fs = files(&[("/p/r.txt", "numpy \\\n  >=1.0\n")]);
        let lines = run(&fs, Requirements::File("r.txt".into()), &["/p"]).unwrap();
        assert_eq!(lines[0].0, "numpy   >=1.0");
    }
}
