//! Lists the files of a context root after the ignore rules, the way moby's
//! `archive.TarWithOptions` walks: each path is matched once using its parent's results,
//! and an excluded directory is not even listed unless an exception pattern starts with
//! its path. Excluded entries are never stat-ed or opened: their type comes from the
//! directory listing itself.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

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
pub(super) struct WalkOutcome {
    pub entries: Vec<Entry>,
    pub skipped_special: Vec<String>,
    pub stats: WalkStats,
}

pub(super) fn walk(root: &Path, rules: &IgnoreRules) -> Result<WalkOutcome, ContextError> {
    let mut walker = Walker {
        rules,
        outcome: WalkOutcome {
            entries: Vec::new(),
            skipped_special: Vec::new(),
            stats: WalkStats::default(),
        },
    };
    walker.walk_dir(root, "", &ParentMatches::default())?;
    Ok(walker.outcome)
}

/// Like [`walk`], but only `targets` (paths below the root) and what lies below them: the
/// rest of the root is not listed. Entries may repeat when targets nest.
pub(super) fn walk_targets(
    root: &Path,
    rules: &IgnoreRules,
    targets: &[String],
) -> Result<WalkOutcome, ContextError> {
    let mut walker = Walker {
        rules,
        outcome: WalkOutcome {
            entries: Vec::new(),
            skipped_special: Vec::new(),
            stats: WalkStats::default(),
        },
    };
    for target in targets {
        walker.walk_target(root, target)?;
    }
    Ok(walker.outcome)
}

struct Walker<'a> {
    rules: &'a IgnoreRules,
    outcome: WalkOutcome,
}

impl Walker<'_> {
    fn walk_dir(
        &mut self,
        dir: &Path,
        rel_dir: &str,
        parent: &ParentMatches,
    ) -> Result<(), ContextError> {
        self.outcome.stats.dirs_listed += 1;
        let listing = fs::read_dir(dir).map_err(|source| io_error(dir, source))?;
        let mut children = Vec::new();
        for child in listing {
            let child = child.map_err(|source| io_error(dir, source))?;
            // On Linux the type comes from the listing (d_type), not from a stat.
            let file_type = child
                .file_type()
                .map_err(|source| io_error(&child.path(), source))?;
            children.push((child.file_name(), file_type, child));
        }
        // A stable order makes errors (the first bad file) reproducible.
        children.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, file_type, child) in children {
            self.visit(dir, rel_dir, parent, &name, file_type, &child)?;
        }
        Ok(())
    }

    /// One entry of a listed directory: matched against the rules with its parent's
    /// results, then included (a directory with everything below it) or left out.
    fn visit(
        &mut self,
        dir: &Path,
        rel_dir: &str,
        parent: &ParentMatches,
        name: &std::ffi::OsStr,
        file_type: fs::FileType,
        child: &fs::DirEntry,
    ) -> Result<(), ContextError> {
        self.outcome.stats.entries_seen += 1;
        let path = dir.join(name);
        let name_text = name.to_string_lossy();
        let rel = if rel_dir.is_empty() {
            name_text.to_string()
        } else {
            format!("{rel_dir}/{name_text}")
        };
        let (excluded, matches) = self.rules.matches_using_parent_results(&rel, parent);
        if excluded {
            if file_type.is_dir() && self.rules.exception_may_reach_inside(&rel) {
                self.walk_dir(&path, &rel, &matches)?;
            }
            return Ok(());
        }
        if rel == ROOT_IGNORE_FILE {
            return Ok(());
        }
        if name.to_str().is_none() {
            return Err(ContextError::NonUtf8Name { path });
        }
        self.include(child, path, rel, file_type, &matches)
    }

    /// Walks only `target` (a `/`-separated path below the root) and what lies below it:
    /// its ancestors are matched against the rules on the way down, as the full walk would,
    /// but only the one entry on the path is looked at in each.
    fn walk_target(&mut self, root: &Path, target: &str) -> Result<(), ContextError> {
        let mut dir = root.to_path_buf();
        let mut rel_dir = String::new();
        let mut parent = ParentMatches::default();
        let parts: Vec<&str> = target.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            self.outcome.stats.dirs_listed += 1;
            let listing = fs::read_dir(&dir).map_err(|source| io_error(&dir, source))?;
            let Some(child) = listing
                .flatten()
                .find(|entry| entry.file_name().to_str() == Some(*part))
            else {
                return Ok(());
            };
            let file_type = child
                .file_type()
                .map_err(|source| io_error(&child.path(), source))?;
            if i + 1 == parts.len() {
                return self.visit(
                    &dir,
                    &rel_dir,
                    &parent,
                    &child.file_name(),
                    file_type,
                    &child,
                );
            }
            self.outcome.stats.entries_seen += 1;
            let rel = if rel_dir.is_empty() {
                part.to_string()
            } else {
                format!("{rel_dir}/{part}")
            };
            let (excluded, matches) = self.rules.matches_using_parent_results(&rel, &parent);
            let reachable = !excluded || self.rules.exception_may_reach_inside(&rel);
            if !file_type.is_dir() || !reachable {
                return Ok(());
            }
            dir = dir.join(part);
            rel_dir = rel;
            parent = matches;
        }
        Ok(())
    }

    fn include(
        &mut self,
        child: &fs::DirEntry,
        path: PathBuf,
        rel: String,
        file_type: fs::FileType,
        matches: &ParentMatches,
    ) -> Result<(), ContextError> {
        if file_type.is_dir() {
            self.outcome.entries.push(Entry {
                path: rel.clone(),
                kind: EntryKind::Directory,
            });
            return self.walk_dir(&path, &rel, matches);
        }
        if file_type.is_symlink() {
            let target = fs::read_link(&path).map_err(|source| io_error(&path, source))?;
            let Some(target) = target.to_str() else {
                return Err(ContextError::NonUtf8Name { path });
            };
            self.outcome.entries.push(Entry {
                path: rel,
                kind: EntryKind::Symlink {
                    target: target.to_string(),
                },
            });
            return Ok(());
        }
        if !file_type.is_file() {
            // FIFOs, sockets and devices: never opened (a FIFO would block), left out.
            self.outcome.skipped_special.push(rel);
            return Ok(());
        }
        self.outcome.stats.entries_stated += 1;
        // Relative to the open directory (`fstatat`), not a walk of the whole path again.
        let metadata = child.metadata().map_err(|source| io_error(&path, source))?;
        self.outcome.entries.push(Entry {
            path: rel,
            kind: EntryKind::File(DiskFile {
                executable: metadata.permissions().mode() & 0o111 != 0,
                identity: FileIdentity::of(&metadata),
                source: path,
            }),
        });
        Ok(())
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
