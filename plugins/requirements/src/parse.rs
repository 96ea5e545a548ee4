//! Requirement lists and files, as pip reads them, without the network or a shell.
//!
//! A file's `-r`/`--requirement` includes are followed in place. Its `-c`/`--constraint`
//! includes are read too, and their lines come out as *constraint lines*: lines whose origin
//! is `constraint <name> (<where>)`, `<name>` being a stable file name `<n>-<file name>.txt`
//! (`n` counts the distinct constraints files in order of first appearance). The host writes
//! the constraint lines of a name to `.dockwright/requirements/constraints/<name>` instead of
//! the group's file, and puts `-c constraints/<name>` in the group's file where the first of
//! them was (`host/src/plan.rs`), so the image holds every file pip is asked to read. As in
//! pip, a `-r` inside a constraints file adds requirements and a `-c` adds constraints.
//! Every include must stay inside the directories the host granted: one that escapes is
//! refused, naming the file and line, before it is opened.

use std::path::{Component, Path, PathBuf};

#[derive(serde::Deserialize, Default)]
pub struct Settings {
    #[serde(default)]
    pub requirements: Option<Requirements>,
    #[serde(default)]
    pub pyproject_path: Option<String>,
    #[serde(default)]
    pub pyproject_export_command: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
pub enum Requirements {
    Lines(Vec<String>),
    File(String),
}

#[derive(Debug, PartialEq)]
pub enum Error {
    /// A file or a command is missing, fails, or is outside what was granted.
    Unavailable(String),
    /// The input is malformed.
    Invalid(String),
}

/// (line, origin) pairs.
pub type Lines = Vec<(String, String)>;

/// Reads a file the host granted; injected so the logic runs natively in unit tests.
pub type Read<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

/// The origin prefix that marks a constraint line (see the module doc).
pub const CONSTRAINT_ORIGIN: &str = "constraint ";

/// The largest requirements file read: far above any real one (pip-compile output with
/// hashes for hundreds of packages is well under 1 MiB), far below the plugin's memory cap.
pub const MAX_FILE: u64 = 16 << 20;

/// Reads a user's requirements file, bounded: only a regular file (a FIFO or a device
/// could block or never end), at most [`MAX_FILE`] bytes, checked by [`text_of`].
pub fn read_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(invalid(
            "not a regular file (a FIFO, a device or a folder cannot be read as requirements)"
                .into(),
        ));
    }
    let too_big = |size: u64| {
        invalid(format!(
            "{size} bytes, more than the {} MiB a requirements file may have",
            MAX_FILE >> 20
        ))
    };
    if meta.len() > MAX_FILE {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(too_big(bytes.len() as u64));
    }
    text_of(bytes)
}

/// The text of a requirements file: UTF-8 without NUL bytes (pip reads text; a NUL means
/// a binary or UTF-16 file), or an error naming the line.
pub fn text_of(bytes: Vec<u8>) -> std::io::Result<String> {
    let line_at = |bytes: &[u8], at: usize| bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(invalid(format!(
            "line {}: a NUL byte: this is not a text file (a binary file, or UTF-16 text?)",
            line_at(&bytes, at)
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        invalid(format!(
            "line {}: not UTF-8 text (byte {at}); save the file as UTF-8",
            line_at(e.as_bytes(), at)
        ))
    })
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// Reads the requirements the settings name. `grants` are the directories the host
/// granted read access to; a file outside them is refused before it is opened.
pub fn collect(
    settings: &Settings,
    base_dir: &str,
    grants: &[&str],
    read: Read<'_>,
) -> Result<Lines, Error> {
    match &settings.requirements {
        None => Ok(Vec::new()),
        Some(Requirements::Lines(lines)) => list(lines),
        Some(Requirements::File(path)) => {
            let mut reader = Reader {
                base_dir,
                grants,
                read,
                stack: Vec::new(),
                constraints: Vec::new(),
                out: Vec::new(),
            };
            let path = normalize(&Path::new(base_dir).join(path));
            reader.file(&path, &Kind::Requirements)?;
            Ok(reader.out)
        }
    }
}

/// A list is written into a file in the image as is, so a relative include would point
/// nowhere: includes are for requirement files only.
fn list(lines: &[String]) -> Result<Lines, Error> {
    let mut out = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let Some(line) = clean(raw) else { continue };
        if include(&line).is_some() {
            return Err(Error::Invalid(format!(
                "requirements[{i}]: `{line}`: `-r`/`-c` includes are only allowed in a requirements file"
            )));
        }
        out.push((line, format!("requirements[{i}]")));
    }
    Ok(out)
}

/// What the lines of a file are.
enum Kind {
    Requirements,
    /// Constraints, written to the context file of this name.
    Constraints(String),
}

struct Reader<'a> {
    base_dir: &'a str,
    grants: &'a [&'a str],
    read: Read<'a>,
    /// The files being read, outermost first: an include of one of them is a cycle.
    stack: Vec<PathBuf>,
    /// Constraints files already read, with their names.
    constraints: Vec<(PathBuf, String)>,
    out: Lines,
}

impl Reader<'_> {
    fn file(&mut self, path: &Path, kind: &Kind) -> Result<(), Error> {
        let shown = display(path, self.base_dir);
        if !self.grants.iter().any(|g| path.starts_with(g)) {
            let folder = path.parent().unwrap_or(Path::new("/")).display();
            return Err(Error::Unavailable(format!(
                "{shown}: outside the directories this plugin may read ({}); move it into \
                 the project, or grant its folder in the pipeline file: \
                 `grants: {{requirements: {{read: [\"{folder}\"]}}}}`",
                self.grants.join(", ")
            )));
        }
        if self.stack.iter().any(|p| p == path) {
            return Err(Error::Invalid(format!("{shown}: includes itself")));
        }
        let text = (self.read)(path).map_err(|e| Error::Unavailable(format!("{shown}: {e}")))?;
        self.stack.push(path.to_path_buf());
        for (number, raw) in logical_lines(&text) {
            let Some(line) = clean(&raw) else { continue };
            let origin = format!("{shown}:{number}");
            match include(&line) {
                Some(found) => self
                    .include(path, &line, found)
                    .map_err(|e| with_context(e, &origin))?,
                None => self.out.push(match kind {
                    Kind::Requirements => (line, origin),
                    Kind::Constraints(name) => {
                        (line, format!("{CONSTRAINT_ORIGIN}{name} ({origin})"))
                    }
                }),
            }
        }
        self.stack.pop();
        Ok(())
    }

    fn include(&mut self, from: &Path, line: &str, found: Include<'_>) -> Result<(), Error> {
        let (target, constraint) = match found {
            Include::Requirements(t) => (t, false),
            Include::Constraints(t) => (t, true),
        };
        if target.contains("://") {
            return Err(Error::Invalid(format!(
                "`{line}`: includes by URL are not supported (plugins have no network); \
                 save the file next to the requirements file and include it by path"
            )));
        }
        let dir = from.parent().unwrap_or(Path::new("/"));
        let path = normalize(&dir.join(target));
        if !constraint {
            return self.file(&path, &Kind::Requirements);
        }
        if self.constraints.iter().any(|(p, _)| *p == path) {
            // pip reads a constraints file twice to the same effect: its lines are in already.
            return Ok(());
        }
        let name = constraint_name(self.constraints.len() + 1, &path);
        self.constraints.push((path.clone(), name.clone()));
        self.file(&path, &Kind::Constraints(name))
    }
}

/// `<n>-<file name>.txt`, with anything but `[A-Za-z0-9._-]` replaced by `_`: a single
/// path component the host accepts.
fn constraint_name(n: usize, path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !name.ends_with(".txt") {
        name.push_str(".txt");
    }
    format!("{n}-{name}")
}

fn with_context(e: Error, origin: &str) -> Error {
    match e {
        Error::Unavailable(m) => Error::Unavailable(format!("{m} (included from {origin})")),
        Error::Invalid(m) => Error::Invalid(format!("{m} (included from {origin})")),
    }
}

#[derive(Debug, PartialEq)]
enum Include<'a> {
    Requirements(&'a str),
    Constraints(&'a str),
}

/// The file named by `-r FILE`, `-rFILE`, `--requirement FILE`, `--requirement=FILE`, or
/// the same forms of `-c`/`--constraint`.
fn include(line: &str) -> Option<Include<'_>> {
    let target = |rest: &'static str| {
        line.strip_prefix(rest).map(|r| {
            let r = r.strip_prefix('=').unwrap_or(r);
            r.trim()
        })
    };
    // A long option's name must end where its value begins: `--constraints` is not ours.
    let long = |name: &'static str| {
        target(name).filter(|_| {
            let next = line[name.len()..].chars().next();
            next.is_none_or(|c| c == '=' || c.is_whitespace())
        })
    };
    if let Some(t) = long("--requirement").or_else(|| target("-r")) {
        return Some(Include::Requirements(t));
    }
    if let Some(t) = long("--constraint").or_else(|| target("-c")) {
        return Some(Include::Constraints(t));
    }
    None
}

/// Joins backslash-continued lines; yields each logical line with its first line number.
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
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
pub fn clean(raw: &str) -> Option<String> {
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

/// Whether a line is an include (`-r`/`-c` in any spelling).
pub fn is_include(line: &str) -> bool {
    include(line).is_some()
}

/// Resolves `.` and `..` without touching the filesystem, so an include cannot climb out
/// of a grant through `..`.
pub fn normalize(path: &Path) -> PathBuf {
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

pub fn display(path: &Path, base_dir: &str) -> String {
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
            ..Settings::default()
        };
        collect(&settings, "/p", grants, &|p| {
            fs.get(p)
                .cloned()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        })
    }

    fn file(fs: &[(&str, &str)]) -> Result<Lines, Error> {
        run(&files(fs), Requirements::File("r.txt".into()), &["/p"])
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
    fn constraints_come_out_as_constraint_lines_in_place() {
        let lines = file(&[
            ("/p/r.txt", "six\n-c pins/constraints.txt\nnumpy\n"),
            (
                "/p/pins/constraints.txt",
                "# pins\nsix==1.16.0  # old\n\nnumpy<2\n",
            ),
        ])
        .unwrap();
        assert_eq!(
            lines,
            vec![
                ("six".into(), "r.txt:1".into()),
                (
                    "six==1.16.0".into(),
                    "constraint 1-constraints.txt (pins/constraints.txt:2)".into()
                ),
                (
                    "numpy<2".into(),
                    "constraint 1-constraints.txt (pins/constraints.txt:4)".into()
                ),
                ("numpy".into(), "r.txt:3".into()),
            ]
        );
    }

    #[test]
    fn every_spelling_of_the_constraint_option() {
        for spelling in [
            "-c c.txt",
            "-cc.txt",
            "--constraint c.txt",
            "--constraint=c.txt",
        ] {
            let lines = file(&[("/p/r.txt", spelling), ("/p/c.txt", "six<2\n")]).unwrap();
            assert_eq!(
                lines,
                vec![("six<2".into(), "constraint 1-c.txt (c.txt:1)".into())],
                "{spelling}"
            );
        }
        // Not an include: a different long option that starts the same way.
        let lines = file(&[("/p/r.txt", "--constraints-file x\n")]).unwrap();
        assert_eq!(lines[0].0, "--constraints-file x");
    }

    #[test]
    fn constraints_are_named_per_distinct_file_and_read_once() {
        let lines = file(&[
            (
                "/p/r.txt",
                "-c a.txt\n-r more.txt\n-c a.txt\n-c sub/weird name.in\n",
            ),
            ("/p/more.txt", "-c a.txt\ntqdm\n"),
            ("/p/a.txt", "six<2\n-c b.txt\n-r extra.txt\n"),
            ("/p/b.txt", "tqdm<5\n"),
            ("/p/extra.txt", "rich\n"),
            ("/p/sub/weird name.in", "rich<14\n"),
        ])
        .unwrap();
        let origins: Vec<_> = lines.iter().map(|(l, o)| format!("{l} @ {o}")).collect();
        assert_eq!(
            origins,
            [
                "six<2 @ constraint 1-a.txt (a.txt:1)",
                "tqdm<5 @ constraint 2-b.txt (b.txt:1)",
                // pip: a `-r` inside a constraints file adds requirements.
                "rich @ extra.txt:1",
                "tqdm @ more.txt:2",
                "rich<14 @ constraint 3-weird_name.in.txt (sub/weird name.in:1)",
            ]
        );
    }

    #[test]
    fn constraints_file_escaping_the_grant_names_file_and_line() {
        let err = file(&[
            ("/p/r.txt", "six\n-c ../etc/pins.txt\n"),
            ("/etc/pins.txt", "six==1\n"),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            Error::Unavailable(
                "/etc/pins.txt: outside the directories this plugin may read (/p); move it into \
                 the project, or grant its folder in the pipeline file: \
                 `grants: {requirements: {read: [\"/etc\"]}}` (included from r.txt:2)"
                    .into()
            )
        );
    }

    #[test]
    fn missing_constraints_file_and_constraint_cycles() {
        let err = file(&[("/p/r.txt", "-c nope.txt\n")]).unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.starts_with("nope.txt: ") && m.ends_with("(included from r.txt:1)")),
            "{err:?}"
        );
        let err = file(&[("/p/r.txt", "-c c.txt\n"), ("/p/c.txt", "-r r.txt\n")]).unwrap_err();
        assert!(
            matches!(&err, Error::Invalid(m) if m.starts_with("r.txt: includes itself")),
            "{err:?}"
        );
    }

    #[test]
    fn text_must_be_utf8_without_nul_and_errors_name_the_line() {
        assert_eq!(text_of(b"six\nnumpy\n".to_vec()).unwrap(), "six\nnumpy\n");
        let nul = text_of(b"six\nnu\0mpy\n".to_vec()).unwrap_err().to_string();
        assert!(nul.starts_with("line 2: a NUL byte"), "{nul}");
        let latin1 = text_of(b"six\n\n# caf\xe9\n".to_vec())
            .unwrap_err()
            .to_string();
        assert!(latin1.starts_with("line 3: not UTF-8 text"), "{latin1}");
    }

    #[test]
    fn includes_by_url_are_refused() {
        let err = file(&[("/p/r.txt", "-c https://example.org/c.txt\n")]).unwrap_err();
        assert!(
            matches!(&err, Error::Invalid(m) if m.contains("by URL") && m.contains("r.txt:1")),
            "{err:?}"
        );
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
    fn list_refuses_includes_of_both_kinds() {
        for line in ["-r other.txt", "--constraint c.txt"] {
            let err = run(
                &files(&[]),
                Requirements::Lines(vec!["six".into(), line.into()]),
                &[],
            )
            .unwrap_err();
            assert!(
                matches!(&err, Error::Invalid(m) if m.starts_with(&format!("requirements[1]: `{line}`"))),
                "{err:?}"
            );
        }
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
