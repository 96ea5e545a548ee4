//! Pinning plugins: the pipeline's `plugins:` section (name and semver range of each plugin
//! it needs) and `dockwright.lock` beside the pipeline file, which records the exact version
//! and sha256 of every plugin a plan used, built-ins included.
//!
//! A pipeline that uses only built-in plugins depends on nothing but the dockwright binary,
//! so it gets no lock file unless asked (`--update-lock`); one that pins plugins or uses an
//! installed plugin gets one on its first plan. Once the file exists it is always checked.
//!
//! Lock rules (as Cargo's, but strict about changes): a plugin the lock does not list yet is
//! added, and one the plan no longer uses is dropped, without asking; a plugin the lock lists
//! with another version or digest than the one the plan used is an error, unless the user
//! passes `--update-lock`. So a build never silently runs with a plugin that changed since
//! the lock was written (an upgrade, a rebuild under the same version, another machine's
//! copy).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Registry;
use crate::sandbox::{Origin, Plugin};
use dockwright_plan::settings::Pipeline;

/// The lock file's name, beside the pipeline file.
pub const FILE: &str = "dockwright.lock";
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{file}: plugin `{name}` ({range}) is not installed{}; install it with \
         `dockwright plugin install <file.wasm | oci://…>`",
        available(installed)
    )]
    PinNotInstalled {
        file: String,
        name: String,
        range: String,
        installed: Vec<String>,
    },
    #[error(
        "{file}: plugin `{name}` must match {range}, but version {version} is installed; \
         install a matching version"
    )]
    PinVersion {
        file: String,
        name: String,
        range: String,
        version: String,
    },
    #[error(
        "{file} does not match the plugins this plan used:\n{}\n\
         run again with --update-lock to accept the plugins now in use",
        .changes.join("\n")
    )]
    Mismatch { file: String, changes: Vec<String> },
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
}

fn available(installed: &[String]) -> String {
    if installed.is_empty() {
        String::new()
    } else {
        format!(" (available: {})", installed.join(", "))
    }
}

/// One plugin as the lock records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locked {
    pub name: String,
    pub version: String,
    /// The sha256 of the plugin's wasm, hex.
    pub sha256: String,
    /// "built-in" or "installed".
    pub source: String,
}

impl Locked {
    pub fn of(plugin: &Plugin) -> Locked {
        Locked {
            name: plugin.manifest.name.clone(),
            version: plugin.manifest.version.to_string(),
            sha256: plugin
                .digest
                .strip_prefix("sha256:")
                .unwrap_or(&plugin.digest)
                .to_string(),
            source: match plugin.origin {
                Origin::Builtin => "built-in",
                Origin::Installed(_) => "installed",
            }
            .into(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LockFile {
    version: u32,
    #[serde(default, rename = "plugin")]
    plugins: Vec<Locked>,
}

/// What checking (and maybe writing) the lock did.
#[derive(Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// The lock already said exactly this.
    Unchanged,
    /// No lock exists and none is needed (only built-in plugins, none pinned).
    NotNeeded,
    /// The lock was written (created, entries added or dropped, or updated on request).
    Written { path: PathBuf, changes: Vec<String> },
}

/// The lock file of a pipeline.
pub fn path_for(pipeline: &Pipeline) -> PathBuf {
    pipeline.base_dir.join(FILE)
}

/// Every pinned plugin must be loaded, at a version its range allows.
pub fn check_pins(pipeline: &Pipeline, registry: &Registry) -> Result<(), LockError> {
    let file = pipeline.file.display().to_string();
    for pin in &pipeline.plugins {
        let Some(plugin) = registry.get(&pin.name) else {
            return Err(LockError::PinNotInstalled {
                file,
                name: pin.name.clone(),
                range: pin.version.to_string(),
                installed: registry
                    .plugins
                    .iter()
                    .filter(|p| p.origin != Origin::Builtin)
                    .map(Plugin::label)
                    .collect(),
            });
        };
        if !pin.version.matches(&plugin.manifest.version) {
            return Err(LockError::PinVersion {
                file,
                name: pin.name.clone(),
                range: pin.version.to_string(),
                version: plugin.manifest.version.to_string(),
            });
        }
    }
    Ok(())
}

/// Compares the plugins a plan used with the lock at `path` and writes the lock when it
/// gains or loses entries (or, with `update`, when entries changed). A missing lock is
/// created only when `needed` or `update`.
pub fn check_and_write(
    path: &Path,
    used: &[Locked],
    needed: bool,
    update: bool,
) -> Result<LockOutcome, LockError> {
    let file = path.display().to_string();
    let old = read(path)?;
    if old.is_none() && !needed && !update {
        return Ok(LockOutcome::NotNeeded);
    }
    let mut used_by_name: BTreeMap<&str, &Locked> = BTreeMap::new();
    for entry in used {
        used_by_name.insert(&entry.name, entry);
    }
    let old_by_name: BTreeMap<&str, &Locked> = old
        .iter()
        .flat_map(|l| &l.plugins)
        .map(|e| (e.name.as_str(), e))
        .collect();

    let mut mismatches = Vec::new();
    let mut changes = Vec::new();
    for (name, now) in &used_by_name {
        match old_by_name.get(name) {
            None => changes.push(format!(
                "  added {name} {} (sha256:{})",
                now.version, now.sha256
            )),
            Some(was) if was.version != now.version || was.sha256 != now.sha256 => {
                mismatches.push(format!(
                    "  {name}: locked {} (sha256:{}), in use {} (sha256:{})",
                    was.version, was.sha256, now.version, now.sha256
                ));
            }
            Some(_) => {}
        }
    }
    for name in old_by_name.keys() {
        if !used_by_name.contains_key(name) {
            changes.push(format!("  dropped {name} (no longer used)"));
        }
    }
    if !mismatches.is_empty() && !update {
        return Err(LockError::Mismatch {
            file,
            changes: mismatches,
        });
    }
    if old.is_some() && mismatches.is_empty() && changes.is_empty() {
        return Ok(LockOutcome::Unchanged);
    }
    changes.extend(mismatches.into_iter().map(|m| format!("{m} -> updated")));
    let lock = LockFile {
        version: FORMAT,
        plugins: used_by_name.values().map(|e| (*e).clone()).collect(),
    };
    write(path, &lock).map_err(|message| LockError::Unreadable { file, message })?;
    Ok(LockOutcome::Written {
        path: path.to_path_buf(),
        changes,
    })
}

fn read(path: &Path) -> Result<Option<LockFile>, LockError> {
    let unreadable = |message: String| LockError::Unreadable {
        file: path.display().to_string(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    let lock: LockFile = toml::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    if lock.version != FORMAT {
        return Err(unreadable(format!(
            "lock format {} is not one this dockwright reads ({FORMAT})",
            lock.version
        )));
    }
    Ok(Some(lock))
}

fn write(path: &Path, lock: &LockFile) -> Result<(), String> {
    let body = toml::to_string(lock).map_err(|e| e.to_string())?;
    let text = format!(
        "# dockwright.lock: the exact plugins the plan of dockwright.yaml used. Written by\n\
         # dockwright; commit it. Change it with `dockwright plan --update-lock`.\n{body}"
    );
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| e.to_string())?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| e.to_string())?;
    tmp.persist(path).map_err(|e| e.error.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, version: &str, digest: &str) -> Locked {
        Locked {
            name: name.into(),
            version: version.into(),
            sha256: digest.to_string(),
            source: "installed".into(),
        }
    }

    #[test]
    fn a_new_lock_is_written_then_unchanged_then_strict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let used = [entry("b", "1.0.0", "bb"), entry("a", "2.0.0", "aa")];
        let outcome = check_and_write(&path, &used, true, false).unwrap();
        assert!(
            matches!(outcome, LockOutcome::Written { .. }),
            "{outcome:?}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        // Sorted by name, so the file does not churn with plan order.
        assert!(text.find("name = \"a\"").unwrap() < text.find("name = \"b\"").unwrap());
        assert_eq!(
            check_and_write(&path, &used, true, false).unwrap(),
            LockOutcome::Unchanged
        );

        let changed = [entry("b", "1.0.1", "cc"), entry("a", "2.0.0", "aa")];
        let err = check_and_write(&path, &changed, true, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b: locked 1.0.0 (sha256:bb), in use 1.0.1 (sha256:cc)")
                && err.contains("--update-lock"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "untouched");
        check_and_write(&path, &changed, true, true).unwrap();
        assert_eq!(
            check_and_write(&path, &changed, true, false).unwrap(),
            LockOutcome::Unchanged
        );
    }

    #[test]
    fn only_built_ins_need_no_lock_until_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let used = [entry("requirements", "1.0.0", "rr")];
        assert_eq!(
            check_and_write(&path, &used, false, false).unwrap(),
            LockOutcome::NotNeeded
        );
        assert!(!path.exists());
        check_and_write(&path, &used, false, true).unwrap();
        assert!(path.exists());
        // Once there, it is kept up to date and checked like any other.
        let changed = [entry("requirements", "1.0.1", "r2")];
        assert!(check_and_write(&path, &changed, false, false).is_err());
    }

    #[test]
    fn additions_and_removals_need_no_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        check_and_write(&path, &[entry("a", "1.0.0", "aa")], true, false).unwrap();
        let LockOutcome::Written { changes, .. } =
            check_and_write(&path, &[entry("c", "1.0.0", "cc")], false, false).unwrap()
        else {
            panic!("expected a write");
        };
        assert_eq!(
            changes,
            [
                "  added c 1.0.0 (sha256:cc)",
                "  dropped a (no longer used)"
            ]
        );
    }

    #[test]
    fn a_broken_lock_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, "version = 7\n").unwrap();
        let err = check_and_write(&path, &[], false, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains(FILE) && err.contains("lock format 7"), "{err}");
    }
}
