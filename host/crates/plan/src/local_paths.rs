//! Local-path requirement lines: `./libs/x`, `-e .`, `-e ./libs/x`, `dist/x-1.0.whl`,
//! `file:` URLs and `name @ file:///…` (as `uv export`, pip-compile and `pip freeze` print
//! them). This module finds the path in such a line, resolves it where the line was written,
//! confines it to the build context root, and gives the line as the image reads it.
//!
//! Decisions:
//! - **Where a relative path starts**: at the folder of the requirements file that holds the
//!   line (an `-r` include's lines at the included file's folder), at the pyproject's folder
//!   for the lines its export printed (`uv export` writes paths relative to the project), and
//!   at the pipeline file's folder for a `requirements` list and for other sources (whose
//!   paths, like `pip freeze`'s, are usually absolute).
//! - **Only inside the build context root** (the pipeline file's folder, copied to `/app`): a
//!   path outside it is an error naming the line's origin (`requirements.txt:3`), since the
//!   image could not hold it.
//! - **The line names the path in the image, absolutely** (`./libs/x` → `/app/libs/x`,
//!   `file:../x` → `file:///app/x`): pip and uv resolve relative paths against their working
//!   directory, not the file, so an absolute path means the same to both wherever the line
//!   came from. Extras, markers and options after the path are kept as written.

use std::path::{Component, Path, PathBuf};

use crate::requirements::Line;

/// Where the build context root is in the image (the generated Dockerfile's `WORKDIR`).
const IMAGE_ROOT: &str = "/app";

/// A local path found in a requirement line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LocalPath {
    /// The path inside the build context (`/`-separated; `.` for the root).
    pub context_path: String,
    /// The line with the path replaced by its place in the image.
    pub line: String,
}

/// Where the path of a line sits in its text, and how it is written.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    /// Byte range of the path (or `file:` URL) in the line.
    start: usize,
    end: usize,
    /// The path as a filesystem path (a `file:` URL decoded).
    path: String,
    /// Written as a `file:` URL (rewritten as one).
    url: bool,
}

/// Resolves the local paths of requirement lines for one pipeline.
pub(crate) struct Resolver<'a> {
    /// The pipeline file's folder, absolute and normalised: the build context root.
    pub root: PathBuf,
    /// The pyproject file the settings name, relative to `root` or absolute.
    pub pyproject: Option<&'a str>,
}

impl Resolver<'_> {
    /// The local path a line names, or `None` for a line that names none. `Err` says why
    /// the path cannot go into the image.
    pub(crate) fn resolve(&self, line: &Line) -> Result<Option<LocalPath>, String> {
        let Some(found) = find(&line.text) else {
            return Ok(None);
        };
        let written = Path::new(&found.path);
        if found.path.starts_with('~') {
            return Err(format!(
                "the local path `{}` is in a home folder, outside the build context root {}; \
                 move it into the project",
                found.path,
                self.root.display()
            ));
        }
        let full = normalize(&self.base_of(line).join(written));
        let Ok(inside) = full.strip_prefix(&self.root) else {
            return Err(format!(
                "the local path `{}` ({}) is outside the build context root {}: only files \
                 inside it can be copied into the image; move it into the project",
                found.path,
                full.display(),
                self.root.display()
            ));
        };
        if !full.exists() {
            return Err(format!(
                "the local path `{}` ({}) does not exist",
                found.path,
                full.display()
            ));
        }
        let parts: Vec<&str> = inside
            .components()
            .filter_map(|c| c.as_os_str().to_str())
            .collect();
        let context_path = if parts.is_empty() {
            ".".to_string()
        } else {
            parts.join("/")
        };
        let in_image = match context_path.as_str() {
            "." => IMAGE_ROOT.to_string(),
            path => format!("{IMAGE_ROOT}/{path}"),
        };
        let replacement = if found.url {
            format!("file://{in_image}")
        } else {
            in_image
        };
        let mut rewritten = line.text.clone();
        rewritten.replace_range(found.start..found.end, &replacement);
        Ok(Some(LocalPath {
            context_path,
            line: rewritten,
        }))
    }

    /// The folder a relative path in `line` starts at (see the module doc).
    fn base_of(&self, line: &Line) -> PathBuf {
        let builtin = line.plugin.split(' ').next() == Some("requirements");
        if !builtin {
            return self.root.clone();
        }
        if line.origin.starts_with("pyproject export") {
            let pyproject = self.root.join(self.pyproject.unwrap_or("pyproject.toml"));
            return normalize(pyproject.parent().unwrap_or(self.root.as_path()));
        }
        match line.origin.rsplit_once(':') {
            Some((file, number)) if number.chars().all(|c| c.is_ascii_digit()) => {
                let file = normalize(&self.root.join(file));
                file.parent().map(Path::to_path_buf).unwrap_or_default()
            }
            _ => self.root.clone(),
        }
    }
}

/// The local path in a requirement line, if it names one (pip's rules: after `-e`, a word
/// that starts with `.` or `/`, holds a `/`, or names an archive; a `file:` URL, also after
/// `name @`). Names, other URLs and option lines name none.
fn find(text: &str) -> Option<Found> {
    let (start, editable) = editable_target(text);
    if start.is_none() && text.starts_with('-') {
        return None;
    }
    let start = start.unwrap_or(0);
    let rest = &text[start..];
    let word_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let word = &rest[..word_len];
    // `name @ file:///…`: the URL is the word after `@`.
    if !editable && let Some(at) = direct_reference(text) {
        return file_url(text, at);
    }
    if word.starts_with("file:") {
        return file_url(text, start);
    }
    // A path ends before a marker (`;`) and its extras (`[…]`), which stay in the line.
    let path_len = word.find([';', '[']).unwrap_or(word.len());
    let path = &word[..path_len];
    let archive = [
        ".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".tar",
    ]
    .iter()
    .any(|ext| path.ends_with(ext));
    let looks_like_path = path.starts_with(['.', '/', '~']) || path.contains('/') || archive;
    if path.is_empty() || path.contains("://") || !looks_like_path {
        return None;
    }
    Some(Found {
        start,
        end: start + path_len,
        path: path.to_string(),
        url: false,
    })
}

/// Where the target of `-e`/`--editable` starts, and whether the line is editable.
fn editable_target(text: &str) -> (Option<usize>, bool) {
    for option in ["--editable", "-e"] {
        if let Some(rest) = text.strip_prefix(option) {
            let rest_trimmed = rest.trim_start_matches([' ', '\t', '=']);
            if option == "--editable" && rest.len() == rest_trimmed.len() {
                continue; // `--editables…`: not this option
            }
            return (Some(text.len() - rest_trimmed.len()), true);
        }
    }
    (None, false)
}

/// The byte offset of the URL in `name @ URL`, when the line is a direct reference.
fn direct_reference(text: &str) -> Option<usize> {
    let at = text.find('@')?;
    let head = &text[..at];
    let is_name = !head.trim().is_empty()
        && head
            .trim()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-[], ".contains(c));
    if !is_name {
        return None;
    }
    let after = &text[at + 1..];
    Some(at + 1 + (after.len() - after.trim_start().len()))
}

/// A `file:` URL at `start`: `file:///abs`, `file://localhost/abs`, `file:rel` or `file:/abs`,
/// percent-decoded. Other URLs name no local path.
fn file_url(text: &str, start: usize) -> Option<Found> {
    let rest = &text[start..];
    let len = rest
        .find(|c: char| c.is_whitespace() || c == ';' || c == '#')
        .unwrap_or(rest.len());
    let url = &rest[..len];
    let body = url.strip_prefix("file:")?;
    let path = match body.strip_prefix("//") {
        Some(after) if after.starts_with('/') => after.to_string(),
        Some(after) => after.strip_prefix("localhost")?.to_string(),
        None => body.to_string(),
    };
    let path = percent_decode(&path)?;
    if path.is_empty() {
        return None;
    }
    Some(Found {
        start,
        end: start + len,
        path,
        url: true,
    })
}

/// `%XX` escapes decoded; `None` when they do not give UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Resolves `.` and `..` without touching the filesystem.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, origin: &str, plugin: &str) -> Line {
        Line {
            text: text.into(),
            origin: origin.into(),
            plugin: plugin.into(),
        }
    }

    fn path_of(text: &str) -> Option<String> {
        find(text).map(|f| f.path)
    }

    #[test]
    fn finds_paths_as_pip_reads_them() {
        assert_eq!(path_of("./libs/x"), Some("./libs/x".into()));
        assert_eq!(path_of("-e ."), Some(".".into()));
        assert_eq!(path_of("-e ./libs/x"), Some("./libs/x".into()));
        assert_eq!(path_of("-e./libs/x"), Some("./libs/x".into()));
        assert_eq!(path_of("--editable=./libs/x"), Some("./libs/x".into()));
        assert_eq!(path_of("--editable ../y"), Some("../y".into()));
        assert_eq!(
            path_of("libs/x ; python_version >= '3.8'"),
            Some("libs/x".into())
        );
        assert_eq!(path_of("./libs/x[extra]"), Some("./libs/x".into()));
        assert_eq!(
            path_of("dist/pkg-1.0-py3-none-any.whl"),
            Some("dist/pkg-1.0-py3-none-any.whl".into())
        );
        assert_eq!(path_of("pkg-1.0.tar.gz"), Some("pkg-1.0.tar.gz".into()));
        assert_eq!(
            path_of("/opt/src/x --config-settings a=b"),
            Some("/opt/src/x".into())
        );
        assert_eq!(path_of("file:///opt/src/baz"), Some("/opt/src/baz".into()));
        assert_eq!(path_of("file:libs/x"), Some("libs/x".into()));
        assert_eq!(
            path_of("baz @ file:///opt/my%20src/baz"),
            Some("/opt/my src/baz".into())
        );
        assert_eq!(
            path_of("-e file:///opt/src/baz#egg=baz"),
            Some("/opt/src/baz".into())
        );
        for none in [
            "numpy==1.26",
            "numpy>=1.2; python_version < '3.12'",
            "pkg @ https://example.org/pkg-1.0.whl",
            "git+https://github.com/a/b.git",
            "-e git+https://github.com/a/b.git#egg=b",
            "--index-url https://example.org/simple",
            "-c constraints/1-pins.txt",
            "six --hash=sha256:abc",
        ] {
            assert_eq!(path_of(none), None, "{none}");
        }
    }

    fn resolver(root: &Path) -> Resolver<'static> {
        Resolver {
            root: root.to_path_buf(),
            pyproject: Some("sub/pyproject.toml"),
        }
    }

    #[test]
    fn resolves_where_the_line_was_written_and_rewrites_to_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for folder in ["libs/mylib", "reqs/vendored", "sub", "libs/editable"] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        let r = resolver(root);
        let builtin = "requirements 1.0.0";
        let got = |text: &str, origin: &str, plugin: &str| {
            r.resolve(&line(text, origin, plugin)).unwrap().unwrap()
        };
        let found = got("./libs/mylib", "requirements.txt:1", builtin);
        assert_eq!(found.context_path, "libs/mylib");
        assert_eq!(found.line, "/app/libs/mylib");
        let found = got("-e ./libs/editable", "requirements[0]", builtin);
        assert_eq!(
            (found.context_path.as_str(), found.line.as_str()),
            ("libs/editable", "-e /app/libs/editable")
        );
        // Relative to the requirements file that holds the line.
        let found = got(
            "./vendored ; sys_platform == 'linux'",
            "reqs/base.txt:4",
            builtin,
        );
        assert_eq!(found.context_path, "reqs/vendored");
        assert_eq!(found.line, "/app/reqs/vendored ; sys_platform == 'linux'");
        // Relative to the exported pyproject's folder.
        let found = got(
            "-e .",
            "pyproject export (uv export --directory=sub)",
            builtin,
        );
        assert_eq!(
            (found.context_path.as_str(), found.line.as_str()),
            ("sub", "-e /app/sub")
        );
        // The project root itself; another source's absolute `file:` URL.
        let found = got("-e .", "requirements.txt:2", builtin);
        assert_eq!(
            (found.context_path.as_str(), found.line.as_str()),
            (".", "-e /app")
        );
        let url = format!("mylib @ file://{}/libs/mylib", root.display());
        let found = got(&url, "local environment", "local-env 1.0.0");
        assert_eq!(found.line, "mylib @ file:///app/libs/mylib");
        assert_eq!(
            r.resolve(&line("numpy", "requirements.txt:1", builtin)),
            Ok(None)
        );
    }

    #[test]
    fn a_path_outside_the_root_or_missing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        let r = resolver(&root);
        let error = r
            .resolve(&line(
                "../elsewhere",
                "requirements.txt:3",
                "requirements 1.0.0",
            ))
            .unwrap_err();
        assert!(
            error.contains("`../elsewhere`") && error.contains("outside the build context root"),
            "{error}"
        );
        let error = r
            .resolve(&line(
                "-e ./missing",
                "requirements.txt:4",
                "requirements 1.0.0",
            ))
            .unwrap_err();
        assert!(error.contains("does not exist"), "{error}");
        let error = r
            .resolve(&line("~/src/x", "requirements.txt:5", "requirements 1.0.0"))
            .unwrap_err();
        assert!(error.contains("home folder"), "{error}");
    }
}
