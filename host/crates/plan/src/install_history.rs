//! What earlier builds installed, so that a requirements group that only gained lines is
//! installed on top of what an earlier build installed instead of from nothing.
//!
//! Each group is one `COPY` + install layer (DESIGN.md §5). Adding one line changes the
//! group's file, the engine's layer cache misses, and the whole group is installed again: 30
//! packages for one. The history remembers, per *install prefix* — a digest of the Dockerfile
//! lines up to a group's install and of the files those lines copy, which is what decides
//! whether the engine still has that install layer — the sets of lines earlier builds
//! installed there. When a group's lines now include such a set (and it is at least half of
//! them), the plan sends that set's file unchanged, so the engine reuses its install layer,
//! then installs the whole group again on top of it, from that file and a second one holding
//! the added lines (see [`crate::dockerfile`]). The installer finds the earlier packages in
//! place and installs only what the added lines need.
//!
//! What ends up installed is what installing the whole group installs where the earlier set
//! already is: the same as a fresh install unless the index has published newer versions
//! since the earlier build (the earlier packages are kept while they still fit, as when the
//! engine reuses the layer of an unchanged requirements file). A line removed from the group
//! means no earlier set fits, and the group is installed from nothing. A layer the engine no
//! longer has costs time, never correctness: the earlier set is installed again, then the rest.
//!
//! The history is a cache: one small JSON file per prefix, written atomically by `build`
//! after the image was built; losing it only makes the next rebuild slower.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How many sets are kept per prefix: a few pipelines or branches sharing a parent and
/// settings each find their own.
const SETS_PER_PREFIX: usize = 8;

/// One group's install as a build sends it: the prefix it is installed on and the lines of the
/// file installed first (the earlier set, or the whole group).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Installed {
    pub prefix: String,
    pub lines: Vec<String>,
}

/// The sets earlier builds installed, by install prefix.
#[derive(Clone, Debug)]
pub struct InstallHistory {
    /// `None`: remembers nothing (tests, and commands that never build).
    dir: Option<PathBuf>,
}

#[derive(Default, Serialize, Deserialize)]
struct Sets {
    /// Most recent first.
    sets: Vec<Vec<String>>,
}

impl InstallHistory {
    /// The history kept in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> InstallHistory {
        InstallHistory {
            dir: Some(dir.into()),
        }
    }

    /// A history that holds nothing: every group is installed from nothing.
    pub fn none() -> InstallHistory {
        InstallHistory { dir: None }
    }

    fn file(&self, prefix: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        // Prefixes are hex digests; anything else is not ours to name a file with.
        let safe = !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_hexdigit());
        safe.then(|| dir.join(format!("{prefix}.json")))
    }

    /// The sets installed on `prefix`, most recent first (an unreadable file holds none).
    fn sets(&self, prefix: &str) -> Vec<Vec<String>> {
        self.file(prefix)
            .and_then(|file| std::fs::read(file).ok())
            .and_then(|bytes| serde_json::from_slice::<Sets>(&bytes).ok())
            .map(|sets| sets.sets)
            .unwrap_or_default()
    }

    /// The largest earlier set on `prefix` whose lines are all among `lines` and that holds
    /// at least half of them (below that, a second install step costs more than the layer
    /// saves); the most recent of equals. Returned in the order it was installed, so its file
    /// is byte for byte the one the engine cached.
    pub fn earlier_set(&self, prefix: &str, lines: &[String]) -> Option<Vec<String>> {
        let now: BTreeSet<&str> = lines.iter().map(String::as_str).collect();
        let mut best: Option<Vec<String>> = None;
        for set in self.sets(prefix) {
            let fits = !set.is_empty()
                && set.len() * 2 >= now.len()
                && set.iter().all(|line| now.contains(line.as_str()));
            if fits && best.as_ref().is_none_or(|b| set.len() > b.len()) {
                best = Some(set);
            }
        }
        best
    }

    /// Remembers what a finished build installed: each set goes first in its prefix's list.
    pub fn remember(&self, installs: &[Installed]) -> std::io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        for install in installs {
            let Some(file) = self.file(&install.prefix) else {
                continue;
            };
            let mut sets = self.sets(&install.prefix);
            sets.retain(|set| *set != install.lines);
            sets.insert(0, install.lines.clone());
            sets.truncate(SETS_PER_PREFIX);
            std::fs::create_dir_all(dir)?;
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            serde_json::to_writer(&mut tmp, &Sets { sets })?;
            tmp.persist(file).map_err(|e| e.error)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|l| l.to_string()).collect()
    }

    fn install(prefix: &str, text: &[&str]) -> Installed {
        Installed {
            prefix: prefix.into(),
            lines: lines(text),
        }
    }

    #[test]
    fn the_largest_earlier_subset_holding_half_the_lines_is_chosen() {
        let dir = tempfile::tempdir().unwrap();
        let history = InstallHistory::in_dir(dir.path());
        history
            .remember(&[install("ab", &["a", "b"]), install("cd", &["x"])])
            .unwrap();
        history
            .remember(&[install("ab", &["b", "a", "c"])])
            .unwrap();
        history.remember(&[install("ab", &["a"])]).unwrap();
        let now = lines(&["c", "a", "b", "d"]);
        // In the order it was installed, not the group's.
        assert_eq!(
            history.earlier_set("ab", &now),
            Some(lines(&["b", "a", "c"]))
        );
        // A removed line: no earlier set fits but the one without it.
        assert_eq!(
            history.earlier_set("ab", &lines(&["a", "b"])),
            Some(lines(&["a", "b"]))
        );
        assert_eq!(history.earlier_set("ab", &lines(&["b", "d"])), None);
        // Under half of the lines: not worth a second install step.
        assert_eq!(
            history.earlier_set("ab", &lines(&["a", "d", "e", "f"])),
            None
        );
        // Another prefix, or none remembered.
        assert_eq!(history.earlier_set("cd", &now), None);
        assert_eq!(history.earlier_set("ef", &now), None);
        assert_eq!(InstallHistory::none().earlier_set("ab", &now), None);
    }

    #[test]
    fn a_prefix_keeps_its_most_recent_sets_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let history = InstallHistory::in_dir(dir.path());
        for i in 0..12 {
            history
                .remember(&[install("ab", &[&format!("p{i}")])])
                .unwrap();
        }
        history.remember(&[install("ab", &["p11"])]).unwrap();
        let sets = history.sets("ab");
        assert_eq!(sets.len(), SETS_PER_PREFIX);
        assert_eq!(sets[0], lines(&["p11"]));
        assert_eq!(sets[1], lines(&["p10"]));
        assert_eq!(sets[SETS_PER_PREFIX - 1], lines(&["p4"]));
    }

    #[test]
    fn odd_prefixes_and_unreadable_files_hold_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let history = InstallHistory::in_dir(dir.path());
        history
            .remember(&[install("../etc", &["a"]), install("", &["a"])])
            .unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        std::fs::write(dir.path().join("ab.json"), "not json").unwrap();
        assert_eq!(history.earlier_set("ab", &lines(&["a"])), None);
        // Written over, not appended to.
        history.remember(&[install("ab", &["a"])]).unwrap();
        assert_eq!(
            history.earlier_set("ab", &lines(&["a"])),
            Some(lines(&["a"]))
        );
    }
}
