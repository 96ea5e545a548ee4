//! Lists the files of a context root after the ignore rules, the way moby's
//! `archive.TarWithOptions` walks: each path is matched once using its parent's results,
//! and an excluded directory is not even listed unless an exception pattern starts with
//! its path. Excluded entries are never stat-ed or opened: their type comes from the
//! directory listing itself. Subdirectories are walked in parallel (the cost of a large
//! context is one `stat` per file, and the kernel does those on every core at once); the
//! entries and stats do not depend on the threads, and the error reported is the first in
//! a fixed order (a directory's own entries, then its subdirectories by name).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rayon::prelude::*;

use super::dockerignore::{IgnoreRules, ParentMatches};
use super::{ContextError, DiskFile, Entry, EntryKind, FileIdentity};

/// The root-level ignore file, which is read but never shipped: a builder that re-applies
/// it (BuildKit does) could otherwise drop files we generated (ZenML #5030).
const ROOT_IGNORE_FILE: &str = ".dockerignore";

/// What the walk touched, so callers and tests can see that ignored trees cost nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// Directories listed (`read_dir` calls), the root included.
    pub dirs_listed: usize,
    /// Directory entries seen in those listings, excluded ones included.
    pub entries_seen: usize,
    /// Entries whose metadata was read (only included ones).
    pub entries_stated: usize,
}

/// The outcome of a walk: included entries (unsorted), special files left out, stats.
#[derive(Default)]
pub(super) struct WalkOutcome {
    pub entries: Vec<Entry>,
    pub skipped_special: Vec<String>,
    pub stats: WalkStats,
}

pub(super) fn walk(root: &Path, rules: &IgnoreRules) -> Result<WalkOutcome, ContextError> {
    let root = Pending {
        path: root.to_path_buf(),
        rel: String::new(),
        matches: ParentMatches::default(),
    };
    walk_dir(rules, &root, 0)
}

/// Like [`walk`], but only `targets` (paths below the root) and what lies below them: the
/// rest of the root is not listed. Entries may repeat when targets nest.
pub(super) fn walk_targets(
    root: &Path,
    rules: &IgnoreRules,
    targets: &[String],
) -> Result<WalkOutcome, ContextError> {
    let mut outcome = WalkOutcome::default();
    for target in targets {
        let mut walker = Walker::new(rules);
        if let Some(dir) = walker.walk_target(root, target)? {
            walker.outcome.append(walk_dir(rules, &dir, 0)?);
        }
        outcome.append(walker.outcome);
    }
    Ok(outcome)
}

/// Below this depth, subdirectories are walked in parallel; deeper, in the thread that listed
/// them (plenty of directories to share by then, and no deep recursion on pool threads).
const PARALLEL_DEPTH: usize = 8;

/// Lists `dir`, then walks its subdirectories, in parallel when there are several.
fn walk_dir(rules: &IgnoreRules, dir: &Pending, depth: usize) -> Result<WalkOutcome, ContextError> {
    let mut walker = Walker::new(rules);
    let subdirs = walker.list(dir)?;
    if subdirs.len() > 1 && depth < PARALLEL_DEPTH {
        let below: Vec<_> = pool().install(|| {
            subdirs
                .par_iter()
                .map(|subdir| walk_dir(rules, subdir, depth + 1))
                .collect()
        });
        for outcome in below {
            walker.outcome.append(outcome?);
        }
    } else {
        for subdir in &subdirs {
            walker.outcome.append(walk_dir(rules, subdir, depth + 1)?);
        }
    }
    Ok(walker.outcome)
}

/// The walk's threads, one per core, started by the first walk that has two directories to
/// share; their stacks are as large as a main thread's, for deep trees.
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("context-walk-{i}"))
            .stack_size(8 << 20)
            .build()
            .expect("starting the context walk's threads")
    })
}

/// A directory to list: where it is, its path below the root, and its rule results.
struct Pending {
    path: PathBuf,
    rel: String,
    matches: ParentMatches,
}

impl WalkOutcome {
    fn append(&mut self, mut other: WalkOutcome) {
        self.entries.append(&mut other.entries);
        self.skipped_special.append(&mut other.skipped_special);
        self.stats.dirs_listed += other.stats.dirs_listed;
        self.stats.entries_seen += other.stats.entries_seen;
        self.stats.entries_stated += other.stats.entries_stated;
    }
}

struct Walker<'a> {
    rules: &'a IgnoreRules,
    outcome: WalkOutcome,
}

impl<'a> Walker<'a> {
    fn new(rules: &'a IgnoreRules) -> Self {
        Walker {
            rules,
            outcome: WalkOutcome::default(),
        }
    }

    /// Lists `dir` and takes in its entries; returns the subdirectories to walk next.
    fn list(&mut self, dir: &Pending) -> Result<Vec<Pending>, ContextError> {
        self.outcome.stats.dirs_listed += 1;
        let listing = fs::read_dir(&dir.path).map_err(|source| io_error(&dir.path, source))?;
        let mut children = Vec::new();
        for child in listing {
            let child = child.map_err(|source| io_error(&dir.path, source))?;
            // On Linux the type comes from the listing (d_type), not from a stat.
            let file_type = child
                .file_type()
                .map_err(|source| io_error(&child.path(), source))?;
            children.push((child.file_name(), file_type, child));
        }
        // A stable order makes errors (the first bad file) reproducible.
        children.sort_by(|a, b| a.0.cmp(&b.0));
        let mut subdirs = Vec::new();
        for (name, file_type, child) in children {
            subdirs.extend(self.visit(dir, &name, file_type, &child)?);
        }
        Ok(subdirs)
    }

    /// One entry of a listed directory: matched against the rules with its parent's
    /// results, then included or left out; a directory to walk is returned.
    fn visit(
        &mut self,
        dir: &Pending,
        name: &std::ffi::OsStr,
        file_type: fs::FileType,
        child: &fs::DirEntry,
    ) -> Result<Option<Pending>, ContextError> {
        self.outcome.stats.entries_seen += 1;
        let name_text = name.to_string_lossy();
        let rel = if dir.rel.is_empty() {
            name_text.to_string()
        } else {
            format!("{}/{name_text}", dir.rel)
        };
        let (excluded, matches) = self.rules.matches_using_parent_results(&rel, &dir.matches);
        if excluded {
            let reentered = file_type.is_dir() && self.rules.exception_may_reach_inside(&rel);
            return Ok(reentered.then(|| Pending {
                path: dir.path.join(name),
                rel,
                matches,
            }));
        }
        if rel == ROOT_IGNORE_FILE {
            return Ok(None);
        }
        if name.to_str().is_none() {
            return Err(ContextError::NonUtf8Name {
                path: dir.path.join(name),
            });
        }
        self.include(&dir.path, child, rel, file_type, matches)
    }

    /// Walks only `target` (a `/`-separated path below the root): its ancestors are matched
    /// against the rules on the way down, as the full walk would, but only the one entry on
    /// the path is looked at in each. Returns the target when it is a directory to walk.
    fn walk_target(&mut self, root: &Path, target: &str) -> Result<Option<Pending>, ContextError> {
        let mut dir = Pending {
            path: root.to_path_buf(),
            rel: String::new(),
            matches: ParentMatches::default(),
        };
        let parts: Vec<&str> = target.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            self.outcome.stats.dirs_listed += 1;
            let listing = fs::read_dir(&dir.path).map_err(|source| io_error(&dir.path, source))?;
            let Some(child) = listing
                .flatten()
                .find(|entry| entry.file_name().to_str() == Some(*part))
            else {
                return Ok(None);
            };
            let file_type = child
                .file_type()
                .map_err(|source| io_error(&child.path(), source))?;
            if i + 1 == parts.len() {
                return self.visit(&dir, &child.file_name(), file_type, &child);
            }
            self.outcome.stats.entries_seen += 1;
            let rel = if dir.rel.is_empty() {
                part.to_string()
            } else {
                format!("{}/{part}", dir.rel)
            };
            let (excluded, matches) = self.rules.matches_using_parent_results(&rel, &dir.matches);
            let reachable = !excluded || self.rules.exception_may_reach_inside(&rel);
            if !file_type.is_dir() || !reachable {
                return Ok(None);
            }
            dir = Pending {
                path: dir.path.join(part),
                rel,
                matches,
            };
        }
        Ok(None)
    }

    /// Takes in an entry the rules include. Its absolute path is made only where needed (a
    /// directory to list, a link to read, an error): a walk of 100,000 files then allocates
    /// one string per file, its path below the root.
    fn include(
        &mut self,
        dir: &Path,
        child: &fs::DirEntry,
        rel: String,
        file_type: fs::FileType,
        matches: ParentMatches,
    ) -> Result<Option<Pending>, ContextError> {
        let path = || dir.join(child.file_name());
        if file_type.is_dir() {
            self.outcome.entries.push(Entry {
                path: rel.clone(),
                kind: EntryKind::Directory,
            });
            return Ok(Some(Pending {
                path: path(),
                rel,
                matches,
            }));
        }
        if file_type.is_symlink() {
            let target = fs::read_link(path()).map_err(|source| io_error(&path(), source))?;
            let Some(target) = target.to_str() else {
                return Err(ContextError::NonUtf8Name { path: path() });
            };
            self.outcome.entries.push(Entry {
                path: rel,
                kind: EntryKind::Symlink {
                    target: target.to_string(),
                },
            });
            return Ok(None);
        }
        if !file_type.is_file() {
            // FIFOs, sockets and devices: never opened (a FIFO would block), left out.
            self.outcome.skipped_special.push(rel);
            return Ok(None);
        }
        self.outcome.stats.entries_stated += 1;
        // Relative to the open directory (`fstatat`), not a walk of the whole path again.
        let metadata = child
            .metadata()
            .map_err(|source| io_error(&path(), source))?;
        self.outcome.entries.push(Entry {
            path: rel,
            kind: EntryKind::File(DiskFile {
                executable: metadata.permissions().mode() & 0o111 != 0,
                identity: FileIdentity::of(&metadata),
            }),
        });
        Ok(None)
    }
}

impl FileIdentity {
    pub(super) fn of(metadata: &fs::Metadata) -> FileIdentity {
        FileIdentity {
            size: metadata.size(),
            mtime_ns: metadata.mtime() * 1_000_000_000 + metadata.mtime_nsec(),
            inode: metadata.ino(),
        }
    }
}

fn io_error(path: &Path, source: std::io::Error) -> ContextError {
    ContextError::Io {
        path: path.to_path_buf(),
        source,
    }
}
