//! Entry points for the fuzz targets in `fuzz/` (and their seed-corpus smoke tests in
//! `tests/fuzz_seeds.rs`): each takes the fuzzer's bytes, feeds them to one parser of
//! untrusted input, and panics only when a parser does or an invariant the rest of the host
//! relies on breaks. Not part of the API.

use std::path::Path;

use crate::context::dockerignore::{IgnoreRules, ParentMatches, go_clean, go_dir};
use crate::contribution::{Contribution, Group, Platform, Requirement, Sourced};
use crate::requirements;

/// Where the fuzzed pipeline file "lives": a folder that does not exist, so a relative
/// `stack:` file is never found.
const PIPELINE: &str = "/nonexistent-dockwright-fuzz/dockwright.yaml";

/// `dockwright.yaml`: the whole settings reader, and the rendering of its error (the snippet
/// with the caret under the column).
pub fn settings(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::settings::parse(text, Path::new(PIPELINE)) {
        Ok(pipeline) => {
            let order = pipeline.execution_order();
            assert_eq!(order.len(), pipeline.steps.len(), "every step runs once");
            for w in &pipeline.warnings {
                let _ = w.to_string();
            }
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.is_empty());
        }
    }
}

/// Requirement lines as sources return them: each input line is one requirement, spread
/// over the three groups (so lines from different origins meet in conflict detection), then
/// merged and checked with the PEP 508/440 parsers. What the merge accepts must be
/// writable into a requirements file as one line.
pub fn requirement_lines(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sources: Vec<Sourced> = Group::ALL.iter().map(|&g| sourced(g)).collect();
    for (i, line) in text.split('\n').take(256).enumerate() {
        let _ = requirements::package_name(line);
        let _ = requirements::normalize_package_name(line);
        let _ = requirements::escape_text(line);
        sources[i % 3].contribution.requirements.push(Requirement {
            line: line.to_string(),
            origin: format!("line {}", i + 1),
        });
    }
    let platform = Platform {
        python_version: "3.11".into(),
        ..Platform::default()
    };
    match requirements::merge(&sources, &platform) {
        Ok(set) => {
            for line in set.groups.iter().flat_map(|g| &g.lines) {
                assert_eq!(requirements::check_line_text(&line.text), Ok(()));
            }
            for conflict in &set.conflicts {
                let _ = conflict.to_string();
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

fn sourced(group: Group) -> Sourced {
    Sourced {
        plugin: format!("{} 1.0.0", group.name()),
        digest: "sha256:00".into(),
        group,
        contribution: Contribution::default(),
    }
}

/// `.dockerignore`: the text up to the first NUL is the ignore file, the lines after it are
/// paths to match, as a whole and as the walker does (each directory's results handed to its
/// children). The two may differ, as in moby (`**/no*` then `!src` keeps `src/x/no` out of
/// the walk, not out of `MatchesOrParentMatches`): Dockwright follows the walk, as Docker
/// does. Without parent results, the walker's matching must equal the whole-path one.
pub fn dockerignore(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (patterns, paths) = text.split_once('\0').unwrap_or((text, "a/b/c"));
    let rules = match IgnoreRules::parse(patterns, Path::new(".dockerignore")) {
        Ok(rules) => rules,
        Err(e) => {
            assert!(e.to_string().contains(".dockerignore:"));
            return;
        }
    };
    for path in paths.split('\n').take(16) {
        let path = go_clean(path);
        if path == "." || path.starts_with("..") || path.starts_with('/') {
            continue;
        }
        let whole = rules.matches_or_parent_matches(&path);
        let alone = rules.matches_using_parent_results(&path, &ParentMatches::default());
        assert_eq!(
            alone.0, whole,
            "matching without parent results differs for {path:?}"
        );
        let _ = walking(&rules, &path);
        let _ = rules.exception_may_reach_inside(&path);
    }
}

/// Matches `path` as the context walker does: each parent directory first.
fn walking(rules: &IgnoreRules, path: &str) -> bool {
    let parent = go_dir(path);
    let mut info = ParentMatches::default();
    if parent != "." {
        let dirs: Vec<&str> = parent.split('/').collect();
        for depth in 1..=dirs.len() {
            info = rules
                .matches_using_parent_results(&dirs[..depth].join("/"), &info)
                .1;
        }
    }
    rules.matches_using_parent_results(path, &info).0
}
