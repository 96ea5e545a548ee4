//! The build context: which files of a context root are sent to the engine, and how.
//!
//! What this module owns (DESIGN.md §5):
//! - [`dockerignore`]: Docker's own `.dockerignore` rules (moby's pattern matcher);
//! - scanning a root into a sorted list of entries without ever reading, listing or
//!   stat-ing what the rules exclude ([`Context::scan`]);
//! - in-memory extra files (the generated Dockerfile, requirement files) that take the
//!   place of disk files at the same path ([`Context::add_extra`]);
//! - a content digest over a canonical form of every member, with a per-file hash cache
//!   on disk so an unchanged context is not read again ([`Context::digest`], [`HashCache`]);
//! - a deterministic, streamed tar of the same members ([`Context::write_tar`]).
//!
//! The digest and the tar are two views of one member list ([`Context::members`]), so the
//! digest changes exactly when the archive's meaningful bytes do.
//!
//! Decisions worth knowing:
//! - The tar holds a directory entry for every included directory and for every parent
//!   of an included path that has none (an excluded directory re-entered through a `!`
//!   exception, or the parents of extra files). Docker's daemon creates missing parents
//!   with mode 0755 anyway, so this gives the same image and a self-contained archive;
//!   empty included directories are shipped, as `docker build` ships them.
//! - Modes are normalised: directories and files with any execute bit 0755, other
//!   files 0644, symlinks 0777. mtime 0, uid/gid 0, empty user/group names.
//! - Symlinks are stored as symlinks, never followed. Hard links become regular files.
//!   FIFOs, sockets and devices are left out (reported by [`Context::skipped_special`]).
//! - The root `.dockerignore` is never shipped (its rules are already applied, and a
//!   builder that re-applies it could drop generated files); an explicit ignore file with
//!   another name inside the context is shipped like any file, as ZenML does.
//! - File names must be valid UTF-8 unless they are excluded.

mod archive;
pub mod dockerignore;
mod hash_cache;
mod walk;

use std::fs;
use std::path::{Path, PathBuf};

pub use archive::{TarSummary, write_tar};
pub use hash_cache::{ContextDigest, HashCache};
pub use walk::WalkStats;

use dockerignore::IgnoreRules;

/// The default ignore file, looked up at the context root.
pub(crate) const DOCKERIGNORE: &str = ".dockerignore";

/// Why a context could not be scanned, hashed or written. Every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("build context root {} is not a directory", path.display())]
    RootNotDirectory { path: PathBuf },
    #[error("dockerignore file {} does not exist", path.display())]
    IgnoreFileMissing { path: PathBuf },
    #[error(transparent)]
    IgnorePattern(#[from] dockerignore::IgnoreFileError),
    #[error(
        "{}: the name is not valid UTF-8; rename it or exclude it in .dockerignore",
        path.display()
    )]
    NonUtf8Name { path: PathBuf },
    #[error("extra file path `{path}` is not usable in the build context: {reason}")]
    InvalidExtraPath { path: String, reason: String },
    #[error("{} changed while the build context was being read; run the build again", path.display())]
    ChangedDuringRead { path: PathBuf },
    #[error("cannot write the build context archive: {source}")]
    Write { source: std::io::Error },
    #[error("cannot write the hash cache {}: {source}", path.display())]
    CacheWrite {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a disk file looked like when it was scanned; the hash cache key (with its path)
/// and the check that it did not change before it was hashed or archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileIdentity {
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
}

/// A regular file on disk that belongs to the context, at the entry's path below the root
/// (not kept per file: at 100,000 files the absolute paths alone were 8 MB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFile {
    pub executable: bool,
    pub identity: FileIdentity,
}

/// One entry of a scanned context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive: relative, `/`-separated, no trailing slash.
    pub path: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    File(DiskFile),
    Symlink { target: String },
}

/// An in-memory file placed in the archive; it replaces a disk file at the same path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraFile {
    pub path: String,
    pub contents: Vec<u8>,
    pub executable: bool,
}

/// One member of the archive, in archive order: the single view the digest and the
/// tar are both computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Member<'a> {
    Directory(&'a str),
    File { path: &'a str, file: &'a DiskFile },
    Symlink { path: &'a str, target: &'a str },
    Extra(&'a ExtraFile),
}

impl<'a> Member<'a> {
    pub fn path(&self) -> &'a str {
        match self {
            Member::Directory(path) => path,
            Member::File { path, .. } | Member::Symlink { path, .. } => path,
            Member::Extra(extra) => &extra.path,
        }
    }

    /// The normalised mode written to the archive.
    pub fn mode(&self) -> u32 {
        match self {
            Member::Directory(_) => 0o755,
            Member::Symlink { .. } => 0o777,
            Member::File { file, .. } if file.executable => 0o755,
            Member::Extra(extra) if extra.executable => 0o755,
            Member::File { .. } | Member::Extra(_) => 0o644,
        }
    }
}

/// A scanned build context plus its extra files.
#[derive(Debug, Clone)]
pub struct Context {
    root: PathBuf,
    ignore_file: Option<PathBuf>,
    entries: Vec<Entry>,
    extras: Vec<ExtraFile>,
    skipped_special: Vec<String>,
    stats: WalkStats,
}

impl Context {
    /// Leaves out the files at these archive paths.
    pub fn exclude(&mut self, paths: &[String]) {
        self.entries.retain(|entry| !paths.contains(&entry.path));
    }

    /// Scans `root` after its ignore rules. The rules come from `dockerignore` when given
    /// (a relative path is taken relative to `root`; it must exist), else from
    /// `<root>/.dockerignore` when that exists, else nothing is excluded.
    pub fn scan(root: &Path, dockerignore: Option<&Path>) -> Result<Context, ContextError> {
        Self::scan_targets(root, dockerignore, None)
    }

    /// Like [`Self::scan`], but only the given paths below the root (`/`-separated, `.` for
    /// the whole root) and what lies below them, after the same rules: the rest of the root
    /// is not even listed. Used for the local paths a requirements file names when the
    /// project's files are not copied.
    pub fn scan_only(
        root: &Path,
        dockerignore: Option<&Path>,
        targets: &[String],
    ) -> Result<Context, ContextError> {
        if targets.iter().any(|t| t == ".") {
            return Self::scan(root, dockerignore);
        }
        Self::scan_targets(root, dockerignore, Some(targets))
    }

    fn scan_targets(
        root: &Path,
        dockerignore: Option<&Path>,
        targets: Option<&[String]>,
    ) -> Result<Context, ContextError> {
        // Absolute (not canonical: symlinks in the root's own path are the user's choice),
        // so that hash-cache keys never collide between two projects.
        let root = &std::path::absolute(root).map_err(|source| ContextError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let is_dir = fs::metadata(root)
            .map_err(|source| ContextError::Io {
                path: root.to_path_buf(),
                source,
            })?
            .is_dir();
        if !is_dir {
            return Err(ContextError::RootNotDirectory {
                path: root.to_path_buf(),
            });
        }
        let (ignore_file, rules) = load_rules(root, dockerignore)?;
        let outcome = match targets {
            None => walk::walk(root, &rules)?,
            Some(targets) => walk::walk_targets(root, &rules, targets)?,
        };
        let mut entries = outcome.entries;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|a, b| a.path == b.path);
        Ok(Context {
            root: root.to_path_buf(),
            ignore_file,
            entries,
            extras: Vec::new(),
            skipped_special: outcome.skipped_special,
            stats: outcome.stats,
        })
    }

    /// A context with no root: only extra files (a build whose Dockerfile needs no files).
    pub fn empty() -> Context {
        Context {
            root: PathBuf::new(),
            ignore_file: None,
            entries: Vec::new(),
            extras: Vec::new(),
            skipped_special: Vec::new(),
            stats: WalkStats::default(),
        }
    }

    /// The context root, made absolute.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ignore file whose rules were applied, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    /// The entries found on disk (directories, files, symlinks), sorted by path.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Paths of the regular files found on disk, sorted.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|entry| matches!(entry.kind, EntryKind::File(_)))
            .map(|entry| entry.path.as_str())
    }

    /// Whether `path` (`/`-separated, `.` for the root) is in the context: an entry of its
    /// own, or entries below it (a directory the rules exclude but some of whose files
    /// they let in).
    pub fn contains(&self, path: &str) -> bool {
        path == "." || self.entry(path).is_some() || self.has_descendant(path)
    }

    /// The extra files, sorted by path.
    pub fn extras(&self) -> &[ExtraFile] {
        &self.extras
    }

    /// FIFOs, sockets and devices that were included by the rules but left out.
    pub fn skipped_special(&self) -> &[String] {
        &self.skipped_special
    }

    /// Bytes of file content the archive will carry (disk files not replaced by an extra
    /// file, plus the extra files), e.g. to warn about a large context.
    pub fn content_size(&self) -> u64 {
        self.members()
            .iter()
            .map(|member| match member {
                Member::File { file, .. } => file.identity.size,
                Member::Extra(extra) => extra.contents.len() as u64,
                Member::Directory(_) | Member::Symlink { .. } => 0,
            })
            .sum()
    }

    /// What the scan touched on disk.
    pub fn walk_stats(&self) -> WalkStats {
        self.stats
    }

    /// Places an in-memory file (mode 0644) at `path`, replacing a disk file or an earlier
    /// extra file there. `path` is relative and `/`-separated.
    pub(crate) fn add_extra(
        &mut self,
        path: &str,
        contents: impl Into<Vec<u8>>,
    ) -> Result<(), ContextError> {
        self.add_extra_file(ExtraFile {
            path: path.to_string(),
            contents: contents.into(),
            executable: false,
        })
    }

    /// Builder form of [`Self::add_extra`].
    pub fn with_extra(
        mut self,
        path: &str,
        contents: impl Into<Vec<u8>>,
    ) -> Result<Context, ContextError> {
        self.add_extra(path, contents)?;
        Ok(self)
    }

    /// Places an extra file with its mode chosen by `executable`.
    pub(crate) fn add_extra_file(&mut self, extra: ExtraFile) -> Result<(), ContextError> {
        validate_extra_path(&extra.path)?;
        self.check_extra_fits(&extra.path)?;
        match self
            .extras
            .binary_search_by(|known| known.path.as_str().cmp(&extra.path))
        {
            Ok(index) => self.extras[index] = extra,
            Err(index) => self.extras.insert(index, extra),
        }
        Ok(())
    }

    /// An extra file may replace a file or symlink, but not a directory, and may not sit
    /// below a file.
    fn check_extra_fits(&self, path: &str) -> Result<(), ContextError> {
        let conflict = |reason: String| ContextError::InvalidExtraPath {
            path: path.to_string(),
            reason,
        };
        if let Some(entry) = self.entry(path)
            && entry.kind == EntryKind::Directory
        {
            return Err(conflict("a directory of the context has that path".into()));
        }
        if self.has_descendant(path) {
            return Err(conflict("other context files lie below that path".into()));
        }
        for ancestor in ancestors(path) {
            let is_file_on_disk = self
                .entry(ancestor)
                .is_some_and(|entry| entry.kind != EntryKind::Directory);
            let is_extra = self.extras.iter().any(|extra| extra.path == ancestor);
            if is_file_on_disk || is_extra {
                return Err(conflict(format!("`{ancestor}` is a file, not a directory")));
            }
        }
        Ok(())
    }

    fn entry(&self, path: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|entry| entry.path.as_str().cmp(path))
            .ok()
            .map(|index| &self.entries[index])
    }

    fn has_descendant(&self, path: &str) -> bool {
        let prefix = format!("{path}/");
        let on_disk = {
            let start = self.entries.partition_point(|entry| entry.path < prefix);
            self.entries
                .get(start)
                .is_some_and(|entry| entry.path.starts_with(&prefix))
        };
        on_disk
            || self
                .extras
                .iter()
                .any(|extra| extra.path.starts_with(&prefix))
    }

    /// Every archive member in archive order (byte order of the path): disk entries not
    /// replaced by an extra file, the extra files, and a directory for each parent that
    /// has no entry of its own.
    pub(crate) fn members(&self) -> Vec<Member<'_>> {
        members(&self.entries, &self.extras)
    }

    /// The content digest of the context; see [`HashCache`].
    pub fn digest(&self, cache: &mut HashCache) -> Result<ContextDigest, ContextError> {
        hash_cache::digest(&self.root, &self.members(), cache)
    }

    /// Writes the deterministic tar of [`Self::members`] to `writer`, streaming file
    /// contents from disk.
    pub fn write_tar<W: std::io::Write>(&self, writer: W) -> Result<TarSummary, ContextError> {
        write_tar(&self.root, &self.entries, &self.extras, writer)
    }
}

/// The merged, sorted member list of disk entries and extra files (see
/// [`Context::members`]). `entries` and `extras` need not be sorted.
///
/// A sort of one vector rather than a map keyed by path: at 100,000 files the map cost
/// milliseconds and megabytes a warm plan does not have to spend.
pub(crate) fn members<'a>(entries: &'a [Entry], extras: &'a [ExtraFile]) -> Vec<Member<'a>> {
    let mut out: Vec<Member<'a>> = Vec::with_capacity(entries.len() + extras.len());
    out.extend(entries.iter().map(|entry| match &entry.kind {
        EntryKind::Directory => Member::Directory(&entry.path),
        EntryKind::File(file) => Member::File {
            path: &entry.path,
            file,
        },
        EntryKind::Symlink { target } => Member::Symlink {
            path: &entry.path,
            target,
        },
    }));
    out.extend(extras.iter().map(Member::Extra));
    // Stable: at an equal path the extra file comes after the disk entry, and replaces it.
    out.sort_by(|a, b| a.path().cmp(b.path()));
    out.dedup_by(|later, earlier| {
        let same = later.path() == earlier.path();
        if same {
            *earlier = *later;
        }
        same
    });
    let missing = missing_parents(&out);
    if !missing.is_empty() {
        out.extend(missing.into_iter().map(Member::Directory));
        out.sort_by(|a, b| a.path().cmp(b.path()));
    }
    out
}

/// The parent directories of `members` (sorted by path) that have no member of their own.
/// A parent sorts before its children, so when a member is reached every directory already
/// in `known` has had its own parents seen to, and the deepest known parent ends the search.
fn missing_parents<'a>(members: &[Member<'a>]) -> Vec<&'a str> {
    let mut known: std::collections::HashSet<&'a str> = std::collections::HashSet::new();
    let mut missing = Vec::new();
    for member in members {
        let path = member.path();
        for (slash, _) in path.rmatch_indices('/') {
            let parent = &path[..slash];
            if !known.insert(parent) {
                break;
            }
            missing.push(parent);
        }
        if let Member::Directory(dir) = member {
            known.insert(dir);
        }
    }
    missing
}

/// `a/b/c` → `a`, `a/b`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(slash, _)| &path[..slash])
}

fn validate_extra_path(path: &str) -> Result<(), ContextError> {
    let invalid = |reason: &str| ContextError::InvalidExtraPath {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    if path.is_empty() {
        return Err(invalid("it is empty"));
    }
    if path.starts_with('/') {
        return Err(invalid("it must be relative to the context root"));
    }
    if path.contains('\0') {
        return Err(invalid("it contains a NUL byte"));
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(invalid(
            "it must be normalised (no empty, `.` or `..` components, no trailing slash)",
        ));
    }
    Ok(())
}

fn load_rules(
    root: &Path,
    explicit: Option<&Path>,
) -> Result<(Option<PathBuf>, IgnoreRules), ContextError> {
    let (path, required) = match explicit {
        Some(path) => (root.join(path), true),
        None => (root.join(DOCKERIGNORE), false),
    };
    let bytes = match crate::user_file::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok((None, IgnoreRules::default()));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(ContextError::IgnoreFileMissing { path });
        }
        Err(source) => return Err(ContextError::Io { path, source }),
    };
    let rules = IgnoreRules::parse(&String::from_utf8_lossy(&bytes), &path)?;
    Ok((Some(path), rules))
}

#[cfg(test)]
mod tests;
