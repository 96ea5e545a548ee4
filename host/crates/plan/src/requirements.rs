//! Requirements: merging what the requirement-source plugins contributed into the three
//! groups of DESIGN.md §4, checking every line with a real PEP 508/440 implementation, and
//! finding pins from different origins that cannot both hold — before any build starts.
//!
//! Group 1 (local environment) and group 2 (`requirements`) keep their order; group 3
//! (integrations, stack, custom providers) is the union, deduplicated and sorted. apt
//! packages from all sources are merged in order of first appearance, without duplicates.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder, Requirement, VersionOrUrl};
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
    let mut parsed = Vec::new();
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
        for line in &lines {
            if let Some(requirement) = parse_line(line)? {
                parsed.push((requirement, line.clone()));
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
    set.conflicts = conflicts(&parsed, platform);
    Ok(set)
}

/// `None` for a pip option line (`--index-url …`, `-e …`) or a comment (pip freeze writes
/// one above an editable install), else the parsed requirement.
fn parse_line(line: &Line) -> Result<Option<Requirement>, InvalidLine> {
    if line.text.starts_with('-') || line.text.starts_with('#') {
        return Ok(None);
    }
    Requirement::from_str(&line.text)
        .map(Some)
        .map_err(|e| InvalidLine {
            text: line.text.clone(),
            origin: line.origin.clone(),
            plugin: line.plugin.clone(),
            reason: e.message.to_string(),
        })
}

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

/// Pairs of lines from different origins whose version ranges do not intersect. Lines whose
/// markers do not apply to the target (or cannot be evaluated, when the target's Python is
/// unknown) and URL requirements are left out, so compatible inputs never raise an alarm.
fn conflicts(parsed: &[(Requirement, Line)], platform: &Platform) -> Vec<Conflict> {
    let env = marker_environment(platform);
    let mut by_package: BTreeMap<String, Vec<(Ranges<Version>, &Line)>> = BTreeMap::new();
    for (requirement, line) in parsed {
        let applies = if requirement.marker.is_true() {
            true
        } else {
            env.as_ref()
                .is_some_and(|env| requirement.marker.evaluate(env, &[]))
        };
        let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url else {
            continue;
        };
        if applies {
            let range = Ranges::from(specifiers.clone());
            by_package
                .entry(requirement.name.to_string())
                .or_default()
                .push((range, line));
        }
    }
    let mut found = Vec::new();
    for (package, ranges) in &by_package {
        for (i, (a, line_a)) in ranges.iter().enumerate() {
            for (b, line_b) in &ranges[i + 1..] {
                if line_a.origin != line_b.origin && a.intersection(b).is_empty() {
                    found.push(Conflict {
                        package: package.clone(),
                        first: (*line_a).clone(),
                        second: (*line_b).clone(),
                    });
                }
            }
        }
    }
    found
}

/// The normalized name (PEP 503) of the package a requirement line asks for; `None` for an
/// option line, a comment or a line that does not parse. Used by `dockwright why`.
pub fn package_name(line: &str) -> Option<String> {
    let line = line.trim();
    if line.starts_with('-') || line.starts_with('#') {
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
}
