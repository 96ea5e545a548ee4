//! Remembered calls: a plugin's successful contribution kept on disk together with everything
//! it looked at in its read grants (each path's type, size, inode, mtime and ctime, or the error
//! looking it up gave), so that a later call with the same plugin, request and grants, whose
//! paths are all unchanged, is answered without starting wasm at all. A warm `plan` then costs
//! a few `stat` calls per source instead of loading, linking and instantiating components.
//!
//! Only calls the host saw whole are remembered. The host sees every path a plugin reaches
//! through WASI's `open-at`, `stat-at`, `readlink-at` and `metadata-hash-at` (the wrappers are
//! in `files`), and a directory's listing through the directory's own stamp (its mtime changes
//! when an entry is added, removed or renamed). A call that ran a program, read an
//! environment's metadata through the host, used a `..` or absolute path, or looked at more
//! than [`MAX_SEEN`] paths is never remembered, nor is one that saw a path changed in the last
//! two seconds (a write in the same timestamp tick could go unnoticed), nor a failed call.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::cache::write_private;
use super::runtime::{Limits, LogLine, Outcome, Plugin};
use super::types::{Contribution, Grants, Request};

/// Bump when what is stored, or how a call is keyed, changes.
const FORMAT: u32 = 1;

/// Paths a remembered call may have looked at; a plugin that looks at more is run every time.
pub(crate) const MAX_SEEN: usize = 10_000;

/// Longer paths are not kept (Linux's `PATH_MAX`): the call is run every time instead.
const MAX_PATH: usize = 4096;

/// A path changed this recently may change again within the same timestamp tick.
const RACY: Duration = Duration::from_secs(2);

/// What one call looked at, recorded by the WASI wrappers as it runs.
#[derive(Default)]
pub(crate) struct Reads {
    /// The host path of each directory descriptor the plugin holds (by resource rep).
    dirs: HashMap<u32, PathBuf>,
    /// Every path looked up, and whether its last component was followed if a symlink.
    seen: Vec<(PathBuf, bool)>,
    /// Something happened that the host cannot re-check: the call is not remembered.
    untracked: bool,
}

impl Reads {
    /// A preopened grant handed to the plugin (its guest path is its host path).
    pub fn preopened(&mut self, rep: u32, path: &str) {
        let path = PathBuf::from(path);
        self.dirs.insert(rep, path.clone());
        self.see(path, true);
    }

    /// A lookup of `path` relative to the descriptor `dir`: the host path it names, recorded,
    /// or `None` (and the call untracked) when the host cannot tell which path that is.
    /// Once untracked, nothing more is kept: what a call records is bounded by [`MAX_SEEN`]
    /// paths of at most [`MAX_PATH`] bytes, however many lookups the plugin makes.
    pub fn at(&mut self, dir: u32, path: &str, follow: bool) -> Option<PathBuf> {
        if self.untracked {
            return None;
        }
        if path.len() > MAX_PATH {
            self.untracked = true;
            return None;
        }
        let Some(base) = self.dirs.get(&dir) else {
            self.untracked = true;
            return None;
        };
        let relative = Path::new(path);
        let plain = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !plain {
            self.untracked = true;
            return None;
        }
        let target = base.join(relative);
        self.see(target.clone(), follow);
        Some(target)
    }

    /// `open-at` gave the plugin a descriptor for `path`.
    pub fn opened(&mut self, rep: u32, path: PathBuf) {
        if !self.untracked {
            self.dirs.insert(rep, path);
        }
    }

    /// The plugin did something whose effect the host cannot re-check later.
    pub fn untrack(&mut self) {
        self.untracked = true;
    }

    fn see(&mut self, path: PathBuf, follow: bool) {
        if self.seen.len() >= MAX_SEEN {
            self.untracked = true;
            return;
        }
        self.seen.push((path, follow));
    }
}

/// What a path looked like: its stamp, or the kind of error looking it up gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Look {
    Found {
        mode: u32,
        size: u64,
        dev: u64,
        ino: u64,
        mtime: (i64, i64),
        ctime: (i64, i64),
    },
    Failed(String),
}

impl Look {
    fn of(path: &Path, follow: bool) -> Look {
        let meta = if follow {
            std::fs::metadata(path)
        } else {
            std::fs::symlink_metadata(path)
        };
        match meta {
            Ok(m) => Look::Found {
                mode: m.mode(),
                size: m.size(),
                dev: m.dev(),
                ino: m.ino(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
            },
            Err(e) => Look::Failed(format!("{:?}", e.kind())),
        }
    }

    /// Changed at or after `since`.
    fn changed_since(&self, since: SystemTime) -> bool {
        let Look::Found { mtime, ctime, .. } = self else {
            return false;
        };
        let since = since.duration_since(UNIX_EPOCH).unwrap_or_default();
        let at =
            |(s, ns): (i64, i64)| Duration::new(s.max(0) as u64, ns.clamp(0, 999_999_999) as u32);
        at(*mtime) >= since || at(*ctime) >= since
    }
}

#[derive(Serialize, Deserialize)]
struct Remembered {
    seen: Vec<(PathBuf, bool, Look)>,
    contribution: Contribution,
    logs: Vec<(String, String)>,
}

/// The directory of remembered calls.
pub(crate) struct CallMemo {
    dir: PathBuf,
}

impl CallMemo {
    pub fn new(dir: PathBuf) -> CallMemo {
        CallMemo { dir }
    }

    /// Names a call: the host and plugin, the request, the grants it runs with, the limits.
    pub fn key(plugin: &Plugin, request: &Request, grants: &Grants, limits: &Limits) -> String {
        let keyed = serde_json::json!({
            "format": FORMAT,
            "host": env!("CARGO_PKG_VERSION"),
            "plugin": plugin.digest,
            "platform": request.platform,
            "settings": request.settings,
            "base_dir": request.base_dir,
            "read": grants.read,
            "exec": grants.exec,
            "pip_options": grants.pip_options,
            "env": grants.env,
            "limits": format!("{limits:?}"),
        });
        hex::encode(Sha256::digest(keyed.to_string().as_bytes()))
    }

    /// The remembered answer, if every path it looked at is as it was.
    pub fn recall(&self, key: &str) -> Option<Outcome<Contribution>> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let remembered: Remembered = serde_json::from_slice(&bytes).ok()?;
        let unchanged = remembered
            .seen
            .iter()
            .all(|(path, follow, look)| Look::of(path, *follow) == *look);
        if !unchanged {
            return None;
        }
        let logs = remembered
            .logs
            .into_iter()
            .map(|(level, message)| LogLine {
                level: known_level(&level),
                message,
            })
            .collect();
        Some(Outcome {
            value: remembered.contribution,
            logs,
        })
    }

    /// Keeps a successful answer, unless the call cannot be re-checked. Stamps are taken now,
    /// after the call: a path changed while the plugin read it is newer than `started`.
    pub fn remember(
        &self,
        key: &str,
        reads: &Reads,
        started: SystemTime,
        outcome: &Outcome<Contribution>,
    ) {
        if reads.untracked {
            return;
        }
        let since = started.checked_sub(RACY).unwrap_or(UNIX_EPOCH);
        let mut paths = reads.seen.clone();
        paths.sort();
        paths.dedup();
        let mut seen = Vec::with_capacity(paths.len());
        for (path, follow) in paths {
            let look = Look::of(&path, follow);
            if look.changed_since(since) {
                return;
            }
            seen.push((path, follow, look));
        }
        let remembered = Remembered {
            seen,
            contribution: outcome.value.clone(),
            logs: outcome
                .logs
                .iter()
                .map(|l| (l.level.to_string(), l.message.clone()))
                .collect(),
        };
        // A cache that cannot be written costs speed, not correctness.
        if let Ok(bytes) = serde_json::to_vec(&remembered) {
            let _ = write_private(&self.dir, &self.path(key), &bytes);
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }
}

fn known_level(level: &str) -> &'static str {
    match level {
        "debug" => "debug",
        "info" => "info",
        "warn" => "warn",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_with_dot_dot_or_from_an_unknown_descriptor_untracks_the_call() {
        let mut reads = Reads::default();
        reads.preopened(1, "/grant");
        assert_eq!(
            reads.at(1, "a/./b.txt", true),
            Some(PathBuf::from("/grant/a/b.txt"))
        );
        assert!(!reads.untracked);
        assert_eq!(reads.at(1, "a/../b.txt", true), None);
        assert!(reads.untracked);
        let mut reads = Reads::default();
        assert_eq!(reads.at(7, "x", true), None);
        assert!(reads.untracked);
        let mut reads = Reads::default();
        reads.preopened(1, "/grant");
        assert_eq!(reads.at(1, "/etc/passwd", true), None);
        assert!(reads.untracked);
    }

    #[test]
    fn too_many_or_too_long_paths_untrack_the_call_and_nothing_more_is_kept() {
        let mut reads = Reads::default();
        reads.preopened(1, "/grant");
        for i in 0..MAX_SEEN * 3 {
            if let Some(path) = reads.at(1, &format!("f{i}"), true) {
                reads.opened(i as u32 + 2, path);
            }
        }
        assert!(reads.untracked);
        assert_eq!(reads.seen.len(), MAX_SEEN);
        assert!(reads.dirs.len() <= MAX_SEEN);

        let mut reads = Reads::default();
        reads.preopened(1, "/grant");
        assert_eq!(reads.at(1, &"a".repeat(MAX_PATH + 1), true), None);
        assert!(reads.untracked);
        assert_eq!(reads.seen.len(), 1, "only the grant itself");
    }

    #[test]
    fn a_stamp_changes_with_content_and_with_absence() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("requirements.txt");
        let missing = Look::of(&file, true);
        assert!(matches!(missing, Look::Failed(_)));
        std::fs::write(&file, "numpy\n").unwrap();
        let first = Look::of(&file, true);
        assert_ne!(first, missing);
        assert!(first.changed_since(SystemTime::now() - RACY));
        std::fs::write(&file, "pandas\n").unwrap();
        // Same size, and possibly the same mtime tick: the ctime or mtime still moves on
        // every filesystem with sub-second stamps; the racy window covers the others.
        let second = Look::of(&file, true);
        assert!(second != first || second.changed_since(SystemTime::now() - RACY));
    }
}
