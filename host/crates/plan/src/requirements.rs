//! Requirements: merging what the requirement-source plugins contributed into the three
//! groups of DESIGN.md §4, checking every line with a real PEP 508/440 implementation, and
//! finding pins from different origins that cannot both hold — before any build starts.
//!
//! Group 1 (local environment) and group 2 (`requirements`) keep their order; group 3
//! (integrations, stack, custom providers) is the union, deduplicated and sorted. apt
//! packages from all sources are merged in order of first appearance, without duplicates.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{
    MarkerEnvironment, MarkerEnvironmentBuilder, PackageName, Requirement, VersionOrUrl,
};
use serde::Serialize;
use version_ranges::Ranges;

use crate::contribution::{Group, Platform, Sourced};

/// One requirement line and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    pub text: String,
    pub origin: String,
    pub plugin: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupLines {
    pub group: Group,
    pub file: &'static str,
    pub lines: Vec<Line>,
}

/// Two requirement lines that no version satisfies together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub package: String,
    pub first: Line,
    pub second: Line,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` from {} ({}) and `{}` from {} ({}) cannot both hold for {}",
            self.first.text,
            self.first.origin,
            self.first.plugin,
            self.second.text,
            self.second.origin,
            self.second.plugin,
            self.package
        )
    }
}

/// Something a requirement source wants the user to know, shown with the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Note {
    pub text: String,
    /// `name version` of the plugin that wrote it.
    pub plugin: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (plugin {})", self.text, self.plugin)
    }
}

/// The merged requirements of one image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RequirementSet {
    /// Non-empty groups, in install order.
    pub groups: Vec<GroupLines>,
    pub apt_packages: Vec<String>,
    pub notes: Vec<Note>,
    pub conflicts: Vec<Conflict>,
    /// Conflicting lines past [`MAX_CONFLICTS_PER_PACKAGE`] in a package, not shown.
    pub conflicts_omitted: usize,
}

impl RequirementSet {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.apt_packages.is_empty()
    }
}

/// A line that is neither a PEP 508 requirement nor a pip option line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid requirement `{text}` from {origin} (plugin {plugin}): {reason}")]
pub struct InvalidLine {
    pub text: String,
    pub origin: String,
    pub plugin: String,
    pub reason: String,
}

/// Merges contributions into groups and checks them. Fails on the first line that does not
/// parse, so no partial requirement set is ever returned.
pub fn merge(sources: &[Sourced], platform: &Platform) -> Result<RequirementSet, InvalidLine> {
    let mut set = RequirementSet::default();
    // Each parsed line with where it sits: (group index in `set.groups`, line index).
    let mut parsed: Vec<(Requirement, usize, usize)> = Vec::new();
    for group in Group::ALL {
        let mut lines: Vec<Line> = sources
            .iter()
            .filter(|s| s.group == group)
            .flat_map(|s| {
                s.contribution.requirements.iter().map(|r| Line {
                    text: r.line.trim().to_string(),
                    origin: r.origin.clone(),
                    plugin: s.plugin.clone(),
                })
            })
            .collect();
        if group == Group::Integrations {
            lines.sort_by(|a, b| a.text.cmp(&b.text).then_with(|| a.origin.cmp(&b.origin)));
            lines.dedup_by(|a, b| a.text == b.text);
        }
        for (i, line) in lines.iter().enumerate() {
            if let Some(requirement) = parse_line(line)? {
                parsed.push((requirement, set.groups.len(), i));
            }
        }
        if !lines.is_empty() {
            set.groups.push(GroupLines {
                group,
                file: group.file(),
                lines,
            });
        }
    }
    let mut seen = HashSet::new();
    for s in sources {
        for p in &s.contribution.apt_packages {
            if seen.insert(p.clone()) {
                set.apt_packages.push(p.clone());
            }
        }
        set.notes
            .extend(s.contribution.notes.iter().map(|text| Note {
                text: text.clone(),
                plugin: s.plugin.clone(),
            }));
    }
    let lines: Vec<(&Requirement, &Line)> = parsed
        .iter()
        .map(|(r, g, i)| (r, &set.groups[*g].lines[*i]))
        .collect();
    (set.conflicts, set.conflicts_omitted) = conflicts(&lines, platform);
    Ok(set)
}

/// `None` for a line pip takes that is not a PEP 508 requirement: an option line
/// (`--index-url …`, `-e …`), a comment (pip freeze writes one above an editable install),
/// or a local path, archive or URL (`./libs/x`, `dist/x.whl`, `git+https://…`, as
/// `uv export` prints them). Else the parsed requirement, without its per-requirement
/// options (`--hash=sha256:…`, `--config-settings …`), which pip reads apart from it.
fn parse_line(line: &Line) -> Result<Option<Requirement>, InvalidLine> {
    check_line_text(&line.text).map_err(|reason| InvalidLine {
        text: escape_text(&line.text),
        origin: line.origin.clone(),
        plugin: line.plugin.clone(),
        reason,
    })?;
    if line.text.starts_with('-') || line.text.starts_with('#') {
        return Ok(None);
    }
    let requirement = without_options(&line.text);
    if is_path_or_url(&requirement) {
        return Ok(None);
    }
    if let Some(reason) = bad_name(&requirement).or_else(|| non_ascii_marker(&requirement)) {
        return Err(InvalidLine {
            text: line.text.clone(),
            origin: line.origin.clone(),
            plugin: line.plugin.clone(),
            reason,
        });
    }
    Requirement::from_str(&requirement)
        .map(Some)
        .map_err(|e| InvalidLine {
            text: line.text.clone(),
            origin: line.origin.clone(),
            plugin: line.plugin.clone(),
            reason: e.message.to_string(),
        })
}

/// A package or extra name that ends in `.`, `-` or `_` before what follows it
/// (`numpy.>=1`, `numpy[cuda_]`): PEP 508 refuses it, but pep508_rs 0.9 panics on it instead
/// of returning an error (found by `fuzz/`), so it is refused here first.
fn bad_name(requirement: &str) -> Option<String> {
    fn run(text: &str) -> &str {
        let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        &text[..text.find(|c| !is_name_char(c)).unwrap_or(text.len())]
    }
    let text = requirement.trim_start();
    let name = run(text);
    let mut names = vec![("package name", name)];
    if name.len() < text.len()
        && let Some(extras) = text[name.len()..].trim_start().strip_prefix('[')
    {
        let extras = extras.split(']').next().unwrap_or_default();
        names.extend(extras.split(',').map(|e| ("extra", run(e.trim()))));
    } else if name.len() == text.len() {
        // A name alone: the parser's own error says it.
        return None;
    }
    names.into_iter().find_map(|(what, name)| {
        let last = name
            .chars()
            .last()
            .filter(|c| matches!(c, '.' | '-' | '_'))?;
        Some(format!(
            "the {what} `{name}` ends in `{last}`; a name must end with a letter or a digit"
        ))
    })
}

/// pep508_rs 0.9 also panics (slicing inside a character) on some markers holding non-ASCII
/// text (found by `fuzz/`); marker names and the values they compare with are ASCII, so such
/// a marker is refused here first.
fn non_ascii_marker(requirement: &str) -> Option<String> {
    let (_, marker) = requirement.split_once(';')?;
    (!marker.is_ascii()).then(|| {
        format!(
            "the environment marker `{}` holds a non-ASCII character",
            marker.trim()
        )
    })
}

/// The requirement part of a line: pip splits a line into words and reads every word from
/// the first that starts with `-` as an option of the requirement. Most lines have none and
/// are taken as they are.
fn without_options(text: &str) -> Cow<'_, str> {
    if !text.split_whitespace().any(|word| word.starts_with('-')) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split_whitespace()
            .take_while(|word| !word.starts_with('-'))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// pip's test for a requirement that is not a name: a path (`.`, `./x`, `../x`, `/x`,
/// `~/x`, or an archive file name) or a URL (`scheme:` before any `/`), before any marker.
fn is_path_or_url(requirement: &str) -> bool {
    let target = requirement.split("; ").next().unwrap_or(requirement).trim();
    let archive = [".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar"]
        .iter()
        .any(|ext| target.ends_with(ext));
    let url = target
        .split_once(':')
        .is_some_and(|(scheme, _)| !scheme.is_empty() && !scheme.contains(['/', ' ', '@']));
    target.starts_with(['.', '/', '~']) || archive || url && !target.contains(" @ ")
}

/// A line that pip and uv read as exactly one line, as Dockwright shows it: no character
/// they take for a line break (Python's `str.splitlines` breaks at VT, FF, FS, GS, RS, NEL,
/// U+2028 and U+2029 as well as at `\n` and `\r`), no trailing `\` (pip joins the next line
/// to it), and nothing that hides or reorders text on screen (zero-width and bidi controls).
pub fn check_line_text(text: &str) -> Result<(), String> {
    // Printable ASCII, as nearly every line is, holds none of them.
    let printable = text.bytes().all(|b| (b' '..=b'~').contains(&b));
    if let Some(c) = text.chars().find(|&c| !printable && hidden_or_breaking(c)) {
        return Err(format!(
            "contains U+{:04X}, a control character or one that pip or uv may read as a line \
             break or that hides text on screen",
            c as u32
        ));
    }
    if text.trim_end().ends_with('\\') {
        return Err("ends in `\\`, which makes pip join the next line to it".into());
    }
    Ok(())
}

/// Control characters, Unicode line and paragraph separators, and format characters
/// (Unicode category Cf: zero-width, bidi, invisible operators, tags).
pub fn hidden_or_breaking(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}

/// `text` with every [`hidden_or_breaking`] character shown as `\u{…}`, for messages: text
/// from a plugin must not forge lines or send escapes to the terminal.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if hidden_or_breaking(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The options pip reads from a line of its own in a requirements file (long names, as
/// `--name`), and `url` for a direct URL reference: what a `pip_options` grant can name.
pub const PIP_OPTIONS: &[&str] = &[
    "index-url",
    "extra-index-url",
    "no-index",
    "constraint",
    "requirement",
    "editable",
    "find-links",
    "no-binary",
    "only-binary",
    "prefer-binary",
    "require-hashes",
    "pre",
    "trusted-host",
    "use-feature",
    "url",
];

/// The marker environment of the target, when the Python version is known.
fn marker_environment(platform: &Platform) -> Option<MarkerEnvironment> {
    let python = platform.python_version.as_str();
    if python.is_empty() {
        return None;
    }
    let machine = match platform.arch.as_str() {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    };
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: python,
        os_name: "posix",
        platform_machine: machine,
        platform_python_implementation: "CPython",
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version: python,
        python_version: python,
        sys_platform: platform.os.as_str(),
    })
    .ok()
}

/// Conflicts reported per package at most; the rest are counted in
/// [`RequirementSet::conflicts_omitted`].
pub const MAX_CONFLICTS_PER_PACKAGE: usize = 10;

/// Pairs of lines from different origins whose version ranges do not intersect. Lines whose
/// markers do not apply to the target (or cannot be evaluated, when the target's Python is
/// unknown) and URL requirements are left out, so compatible inputs never raise an alarm.
/// Returns the conflicts shown and how many more lines conflict.
///
/// Lines are grouped by package name first: a package pinned by one line cannot conflict,
/// so only packages named more than once are turned into version ranges and compared, in
/// name order.
fn conflicts(parsed: &[(&Requirement, &Line)], platform: &Platform) -> (Vec<Conflict>, usize) {
    let env = marker_environment(platform);
    let mut by_package: HashMap<&PackageName, Vec<(&VersionSpecifiers, &Line)>> = HashMap::new();
    for (requirement, line) in parsed {
        let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url else {
            continue;
        };
        let applies = requirement.marker.is_true()
            || env
                .as_ref()
                .is_some_and(|env| requirement.marker.evaluate(env, &[]));
        if applies {
            by_package
                .entry(&requirement.name)
                .or_default()
                .push((specifiers, line));
        }
    }
    let mut several: Vec<_> = by_package
        .into_iter()
        .filter(|(_, lines)| lines.len() > 1)
        .collect();
    several.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut found = Vec::new();
    let mut omitted = 0;
    for (package, lines) in several {
        omitted += package_conflicts(package.as_ref(), &distinct(&lines), &mut found);
    }
    (found, omitted)
}

/// The range of the first line of each distinct (specifiers, origin): a hundred origins
/// pinning the same version are one entry per origin, not a hundred pairs to compare.
fn distinct<'a>(lines: &[(&VersionSpecifiers, &'a Line)]) -> Vec<(Ranges<Version>, &'a Line)> {
    let mut seen = HashSet::new();
    lines
        .iter()
        .filter(|(specifiers, line)| seen.insert((*specifiers, line.origin.as_str())))
        .map(|(specifiers, line)| (Ranges::from((*specifiers).clone()), *line))
        .collect()
}

/// The conflicts of one package's lines, in linear time for the usual cases: the lines so far
/// are intersected as they come, and only a line that empties the intersection is compared
/// with the earlier lines to name the one it cannot hold with. After
/// [`MAX_CONFLICTS_PER_PACKAGE`] conflicts, further conflicting lines are only counted
/// (returned), without looking for their partner.
fn package_conflicts(
    package: &str,
    ranges: &[(Ranges<Version>, &Line)],
    found: &mut Vec<Conflict>,
) -> usize {
    let mut all = Ranges::full();
    let mut shown = 0;
    let mut omitted = 0;
    for (i, (range, line)) in ranges.iter().enumerate() {
        let together = all.intersection(range);
        if !together.is_empty() {
            all = together;
            continue;
        }
        if shown == MAX_CONFLICTS_PER_PACKAGE {
            omitted += 1;
            continue;
        }
        let partner = ranges[..i].iter().find(|(earlier, other)| {
            other.origin != line.origin && earlier.intersection(range).is_empty()
        });
        if let Some((_, first)) = partner {
            found.push(Conflict {
                package: package.to_string(),
                first: (*first).clone(),
                second: (*line).clone(),
            });
            shown += 1;
        }
    }
    omitted
}

/// The normalized name (PEP 503) of the package a requirement line asks for; `None` for an
/// option line, a comment or a line that does not parse. Used by `dockwright why`.
pub fn package_name(line: &str) -> Option<String> {
    let line = line.trim();
    if line.starts_with('-')
        || line.starts_with('#')
        || bad_name(line).or_else(|| non_ascii_marker(line)).is_some()
    {
        return None;
    }
    Requirement::<pep508_rs::VerbatimUrl>::from_str(line)
        .ok()
        .map(|requirement| requirement.name.to_string())
}

/// A package name as the user typed it, normalized (PEP 503: case and runs of `-_.`), so
/// `Scikit_Learn` finds `scikit-learn`.
pub fn normalize_package_name(name: &str) -> Option<String> {
    pep508_rs::PackageName::from_str(name.trim())
        .ok()
        .map(|name| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contribution::{Contribution, Requirement as Req};

    fn source(plugin: &str, group: Group, lines: &[(&str, &str)], apt: &[&str]) -> Sourced {
        Sourced {
            plugin: plugin.into(),
            digest: format!("sha256:{plugin}"),
            group,
            contribution: Contribution {
                requirements: lines
                    .iter()
                    .map(|(l, o)| Req {
                        line: l.to_string(),
                        origin: o.to_string(),
                    })
                    .collect(),
                apt_packages: apt.iter().map(|s| s.to_string()).collect(),
                notes: vec![],
            },
        }
    }

    fn py311() -> Platform {
        Platform {
            python_version: "3.11".into(),
            ..Platform::default()
        }
    }

    fn texts(set: &RequirementSet, group: Group) -> Vec<&str> {
        set.groups
            .iter()
            .find(|g| g.group == group)
            .map(|g| g.lines.iter().map(|l| l.text.as_str()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn groups_keep_their_order_and_integrations_are_sorted_and_deduplicated() {
        let sources = [
            source(
                "integrations 1.0.0",
                Group::Integrations,
                &[
                    ("scikit-learn", "integration sklearn"),
                    ("pandas>=2.0.0", "integration mlflow"),
                ],
                &["git", "libgomp1"],
            ),
            source(
                "requirements 1.0.0",
                Group::Requirements,
                &[("pyarrow", "r[0]"), ("pandas>=2.0", "r[1]")],
                &[],
            ),
            source(
                "local-env 1.0.0",
                Group::Local,
                &[("zeta==1.0", "venv"), ("alpha==2.0", "venv")],
                &[],
            ),
            source(
                "stack 1.0.0",
                Group::Integrations,
                &[("scikit-learn", "stack"), ("boto3", "stack")],
                &["git"],
            ),
        ];
        let set = merge(&sources, &py311()).unwrap();
        let order: Vec<_> = set.groups.iter().map(|g| g.group).collect();
        assert_eq!(
            order,
            [Group::Local, Group::Requirements, Group::Integrations]
        );
        assert_eq!(texts(&set, Group::Local), ["zeta==1.0", "alpha==2.0"]);
        assert_eq!(texts(&set, Group::Requirements), ["pyarrow", "pandas>=2.0"]);
        assert_eq!(
            texts(&set, Group::Integrations),
            ["boto3", "pandas>=2.0.0", "scikit-learn"]
        );
        assert_eq!(set.apt_packages, ["git", "libgomp1"]);
        assert_eq!(
            set.groups[2].file,
            ".dockwright/requirements/3-integrations.txt"
        );
        assert!(set.conflicts.is_empty(), "{:?}", set.conflicts);
    }

    #[test]
    fn a_line_that_does_not_parse_names_its_origin() {
        let sources = [source(
            "requirements 1.0.0",
            Group::Requirements,
            &[("numpy>=>1", "requirements.txt:3")],
            &[],
        )];
        let err = merge(&sources, &py311()).unwrap_err();
        assert_eq!(err.origin, "requirements.txt:3");
        assert!(err.to_string().starts_with("invalid requirement `numpy>=>1` from requirements.txt:3 (plugin requirements 1.0.0)"), "{err}");
    }

    #[test]
    fn pip_option_lines_pass() {
        let sources = [source(
            "r",
            Group::Requirements,
            &[
                ("--index-url https://example.org/simple", "f:1"),
                ("-e ./lib", "f:2"),
            ],
            &[],
        )];
        assert_eq!(
            texts(&merge(&sources, &py311()).unwrap(), Group::Requirements).len(),
            2
        );
    }

    /// N lines pinning N versions of one package under N origins are N² conflicting pairs;
    /// a few are shown (each line with an earlier one it cannot hold with), the rest counted.
    #[test]
    fn many_conflicting_lines_are_found_in_linear_time_and_capped() {
        let lines: Vec<(String, String)> = (0..5000)
            .map(|i| {
                (
                    format!("numpy==1.{}.{}", i / 100, i % 100),
                    format!("origin {i}"),
                )
            })
            .collect();
        let lines: Vec<(&str, &str)> = lines
            .iter()
            .map(|(l, o)| (l.as_str(), o.as_str()))
            .collect();
        let sources = [source("acme 1.0.0", Group::Requirements, &lines, &[])];
        let started = std::time::Instant::now();
        let set = merge(&sources, &py311()).unwrap();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(set.conflicts.len(), MAX_CONFLICTS_PER_PACKAGE);
        assert_eq!(set.conflicts_omitted, 5000 - 1 - MAX_CONFLICTS_PER_PACKAGE);
        let c = &set.conflicts[0];
        assert_eq!(
            (c.first.text.as_str(), c.second.text.as_str()),
            ("numpy==1.0.0", "numpy==1.0.1")
        );
    }

    #[test]
    fn each_conflicting_line_is_reported_once_with_the_first_line_it_cannot_hold_with() {
        let sources = [source(
            "acme 1.0.0",
            Group::Requirements,
            &[
                ("numpy>=1", "a"),
                ("numpy<1", "b"),
                ("numpy>=1.5", "c"),
                ("numpy<2", "d"),
            ],
            &[],
        )];
        let set = merge(&sources, &py311()).unwrap();
        let pairs: Vec<(&str, &str)> = set
            .conflicts
            .iter()
            .map(|c| (c.first.origin.as_str(), c.second.origin.as_str()))
            .collect();
        assert_eq!(pairs, [("a", "b")]);
        assert_eq!(set.conflicts_omitted, 0);
    }

    /// Each of these makes pip or uv read something other than the one line Dockwright
    /// shows: a hidden option or requirement after a line break only Python sees, a line
    /// joined to the next, text hidden or reordered on screen.
    #[test]
    fn lines_that_pip_would_read_differently_are_refused_naming_the_origin() {
        for text in [
            "numpy\u{2028}--index-url https://evil.example/simple",
            "numpy\u{2029}evilpkg==6.6.6",
            "numpy\u{85}evilpkg==6.6.6",
            "numpy\u{b}evilpkg==6.6.6",
            "numpy\u{c}evilpkg==6.6.6",
            "numpy\u{1e}evilpkg==6.6.6",
            "pandas \\",
            "nu\u{200b}mpy",
            "numpy\u{202e}6.6.6==",
            "numpy\u{2066}",
            "\u{feff}numpy",
        ] {
            let sources = [source(
                "acme 1.0.0",
                Group::Integrations,
                &[(text, "acme")],
                &[],
            )];
            let err = merge(&sources, &py311()).unwrap_err();
            assert_eq!(
                (err.origin.as_str(), err.plugin.as_str()),
                ("acme", "acme 1.0.0")
            );
            assert!(
                !err.to_string().chars().any(hidden_or_breaking),
                "the message shows the text escaped: {err}"
            );
        }
        for text in [
            "numpy==1.26.4 ; python_version >= '3.9'",
            "# naïve, café",
            "-c c.txt",
        ] {
            let sources = [source(
                "acme 1.0.0",
                Group::Integrations,
                &[(text, "acme")],
                &[],
            )];
            assert!(merge(&sources, &py311()).is_ok(), "{text}");
        }
    }

    #[test]
    fn lines_pip_accepts_pass_and_their_pins_are_still_checked() {
        let accepted = [
            "certifi==2024.2.2     --hash=sha256:0dc4     --hash=sha256:dc03",
            "numpy==1.26.4 --config-settings editable_mode=compat",
            "six @ https://example.org/six-1.16.0-py2.py3-none-any.whl",
            "./libs/x",
            "../common/pkg",
            "/opt/wheels/foo-1.0-py3-none-any.whl",
            "dist/bar-2.0.tar.gz",
            "git+https://example.org/repo.git@v1#egg=repo",
            "file:///opt/src/baz",
            "-e .",
            "-e ./libs/x",
            "tomli>=1.1 ; python_version < \"3.11\"",
            "./libs/y ; sys_platform == \"linux\"",
        ];
        let lines: Vec<(&str, &str)> = accepted.iter().map(|l| (*l, "r.txt")).collect();
        let sources = [
            source("r", Group::Requirements, &lines, &[]),
            source(
                "i",
                Group::Integrations,
                &[("numpy>=2", "integration x")],
                &[],
            ),
        ];
        let set = merge(&sources, &py311()).unwrap();
        assert_eq!(
            texts(&set, Group::Requirements),
            accepted,
            "kept as written"
        );
        assert_eq!(
            set.conflicts.len(),
            1,
            "numpy==1.26.4 with options vs numpy>=2"
        );
        let bad = [source(
            "r",
            Group::Requirements,
            &[("numpy>=>1 --hash=sha256:00", "r.txt:1")],
            &[],
        )];
        assert!(merge(&bad, &py311()).is_err());
    }

    #[test]
    fn incompatible_pins_from_different_origins_are_reported_with_both() {
        let sources = [
            source(
                "local-env 1.0.0",
                Group::Local,
                &[("numpy==1.26.4", "local environment")],
                &[],
            ),
            source(
                "integrations 1.0.0",
                Group::Integrations,
                &[("numpy>=2", "integration tensorflow")],
                &[],
            ),
        ];
        let set = merge(&sources, &py311()).unwrap();
        assert_eq!(set.conflicts.len(), 1);
        let c = &set.conflicts[0];
        assert_eq!(
            (
                c.package.as_str(),
                c.first.origin.as_str(),
                c.second.origin.as_str()
            ),
            ("numpy", "local environment", "integration tensorflow")
        );
        assert!(
            c.to_string()
                .contains("`numpy==1.26.4` from local environment"),
            "{c}"
        );
    }

    #[test]
    fn no_false_alarms() {
        let cases: &[(&str, &str)] = &[
            ("pandas>=2.0", "pandas<2.2"),
            ("pandas[excel]>=2.0", "pandas<3"),
            ("numpy==1.26.4", "numpy>=2; python_version < '3.9'"),
            ("torch~=2.3.0", "torch>=2.3.1"),
            ("numpy!=1.0", "numpy==1.0.1"),
            ("s3fs>2022.3.0,!=2025.3.1", "s3fs==2024.6.0"),
            ("foo==1.0.*", "foo>=1.0.5"),
            ("requests", "requests==2.32.3"),
        ];
        for (a, b) in cases {
            let sources = [
                source("x", Group::Requirements, &[(a, "one")], &[]),
                source("y", Group::Integrations, &[(b, "two")], &[]),
            ];
            let set = merge(&sources, &py311()).unwrap();
            assert!(set.conflicts.is_empty(), "{a} vs {b}: {:?}", set.conflicts);
        }
        let real: &[(&str, &str)] = &[
            ("pandas>=2.2", "pandas<2.2"),
            ("foo==1.0.*", "foo>=1.1"),
            ("s3fs>2022.3.0,!=2025.3.1", "s3fs==2025.3.1"),
            ("bar>1.0", "bar==1.0.post1"),
        ];
        for (a, b) in real {
            let sources = [
                source("x", Group::Requirements, &[(a, "one")], &[]),
                source("y", Group::Integrations, &[(b, "two")], &[]),
            ];
            assert_eq!(
                merge(&sources, &py311()).unwrap().conflicts.len(),
                1,
                "{a} vs {b}"
            );
        }
    }

    #[test]
    fn markers_are_only_trusted_when_the_target_python_is_known() {
        let sources = [
            source("x", Group::Requirements, &[("numpy==1.26.4", "one")], &[]),
            source(
                "y",
                Group::Integrations,
                &[("numpy>=2; python_version >= '3.10'", "two")],
                &[],
            ),
        ];
        assert_eq!(merge(&sources, &py311()).unwrap().conflicts.len(), 1);
        assert!(
            merge(&sources, &Platform::default())
                .unwrap()
                .conflicts
                .is_empty()
        );
    }

    /// Found by `fuzz/` (fuzz/regressions/requirement_lines, fuzz/regressions/boundary):
    /// pep508_rs panicked on these instead of refusing them.
    #[test]
    fn a_name_ending_in_punctuation_is_an_invalid_line_not_a_panic() {
        for (line, reason) in [
            ("numpy.>=1.26", "the package name `numpy.` ends in `.`"),
            ("t_ >=1", "the package name `t_` ends in `_`"),
            (
                "scikit-learn- ==1.5",
                "the package name `scikit-learn-` ends in `-`",
            ),
            ("requests[socks_]", "the extra `socks_` ends in `_`"),
            (
                "requests[security, socks.] >=2",
                "the extra `socks.` ends in `.`",
            ),
        ] {
            let sources = [source("p", Group::Requirements, &[(line, "f:1")], &[])];
            let error = merge(&sources, &py311()).unwrap_err();
            assert!(error.reason.starts_with(reason), "{line}: {}", error.reason);
            assert_eq!(error.origin, "f:1");
            assert_eq!(package_name(line), None);
        }
        // A marker with non-ASCII text (pep508_rs sliced inside a character).
        let line = "scipy==1.11.4; python_version < \"3.8\"x\u{1cf}";
        let sources = [source("p", Group::Requirements, &[(line, "f:1")], &[])];
        let error = merge(&sources, &py311()).unwrap_err();
        assert!(error.reason.contains("non-ASCII"), "{}", error.reason);
        assert_eq!(package_name(line), None);
        // Names that end well still parse.
        assert_eq!(
            package_name("numpy.core-x_y >=1"),
            Some("numpy-core-x-y".into())
        );
        assert_eq!(package_name("requests[socks]"), Some("requests".into()));
    }
}
