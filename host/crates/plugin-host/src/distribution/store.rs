//! The user's installed plugins: one `<name>-<version>.wasm` per plugin name in the plugin
//! directory (`Dirs::plugins`). Installing checks the plugin fully (manifest, API range,
//! exports, linking) and compiles it into the component cache before the file is written,
//! atomically; nothing half-checked ever lands in the directory.
//!
//! When a plugin of the same name is installed already:
//! - the same version with the same bytes: nothing to do;
//! - an older version: replaced (an upgrade);
//! - a newer version, or the same version with other bytes: refused unless `force` (a
//!   downgrade, or a rebuild that kept its version number, is something to ask for).
//!
//! A built-in plugin's name cannot be taken: pipelines and the lock file name plugins, and a
//! name must mean one plugin.

use std::path::{Path, PathBuf};

use semver::Version;

use crate::registry::installed_files;
use crate::sandbox::{Origin, Plugin, PluginError, Runtime, builtin};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Invalid(#[from] PluginError),
    #[error("`{0}` is the name of a built-in plugin; rename the plugin (its crate name)")]
    BuiltinName(String),
    #[error(
        "{name} {installed} is installed, which is {relation} {version}; \
         pass --force to replace it"
    )]
    WouldReplace {
        name: String,
        installed: Version,
        version: Version,
        relation: &'static str,
    },
    #[error("no installed plugin named `{name}`{}", known_list(installed))]
    NotInstalled {
        name: String,
        installed: Vec<String>,
    },
    #[error("`{name}` is built in and cannot be removed")]
    RemoveBuiltin { name: String },
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
}

fn known_list(installed: &[String]) -> String {
    if installed.is_empty() {
        " (none are installed)".into()
    } else {
        format!(" (installed: {})", installed.join(", "))
    }
}

/// What an install did.
#[derive(Debug)]
pub struct Installed {
    pub plugin: Plugin,
    pub path: PathBuf,
    /// The version it replaced, if any.
    pub replaced: Option<Version>,
    /// True when the same plugin was installed already and nothing changed.
    pub unchanged: bool,
}

/// The file an installed plugin lives in.
pub fn file_name(name: &str, version: &Version) -> String {
    format!("{name}-{version}.wasm")
}

/// Checks `wasm`, compiles it into the cache and installs it into `dir`.
pub fn install(
    runtime: &Runtime,
    dir: &Path,
    wasm: &[u8],
    label: &str,
    force: bool,
) -> Result<Installed, StoreError> {
    // Checked (and compiled) against a provisional origin; the final path is known only
    // from the manifest.
    let checked = runtime.load(wasm, Origin::Installed(PathBuf::from(label)), label)?;
    let name = checked.manifest.name.clone();
    let version = checked.manifest.version.clone();
    if builtin::PLUGINS.iter().any(|(n, _)| *n == name) {
        return Err(StoreError::BuiltinName(name));
    }
    let existing = find(runtime, dir, &name)?;
    if let Some(old) = &existing {
        let relation = match old.manifest.version.cmp(&version) {
            std::cmp::Ordering::Less => None,
            std::cmp::Ordering::Greater => Some("newer than"),
            std::cmp::Ordering::Equal if old.digest == checked.digest => {
                return Ok(Installed {
                    path: installed_path(old),
                    plugin: checked,
                    replaced: None,
                    unchanged: true,
                });
            }
            std::cmp::Ordering::Equal => Some("the same version, with other bytes, as"),
        };
        if let Some(relation) = relation
            && !force
        {
            return Err(StoreError::WouldReplace {
                name,
                installed: old.manifest.version.clone(),
                version,
                relation,
            });
        }
    }
    let path = dir.join(file_name(&name, &version));
    write_atomically(dir, &path, wasm)?;
    if let Some(old) = &existing {
        let old_path = installed_path(old);
        if old_path != path {
            remove_file(&old_path)?;
        }
    }
    let plugin = runtime.load(wasm, Origin::Installed(path.clone()), label)?;
    Ok(Installed {
        plugin,
        path,
        replaced: existing.map(|p| p.manifest.version),
        unchanged: false,
    })
}

/// Removes the installed plugin `name`; returns its file.
pub fn remove(runtime: &Runtime, dir: &Path, name: &str) -> Result<PathBuf, StoreError> {
    if builtin::PLUGINS.iter().any(|(n, _)| *n == name) {
        return Err(StoreError::RemoveBuiltin {
            name: name.to_string(),
        });
    }
    match find(runtime, dir, name)? {
        Some(plugin) => {
            let path = installed_path(&plugin);
            remove_file(&path)?;
            Ok(path)
        }
        None => Err(StoreError::NotInstalled {
            name: name.to_string(),
            installed: installed(runtime, dir)?
                .iter()
                .map(|p| p.manifest.name.clone())
                .collect(),
        }),
    }
}

/// Every installed plugin, loaded (a broken file is an error naming it).
pub fn installed(runtime: &Runtime, dir: &Path) -> Result<Vec<Plugin>, StoreError> {
    let files = installed_files(dir).map_err(|e| io(dir, e))?;
    files
        .iter()
        .map(|path| crate::load_file(runtime, path).map_err(StoreError::from))
        .collect()
}

fn find(runtime: &Runtime, dir: &Path, name: &str) -> Result<Option<Plugin>, StoreError> {
    Ok(installed(runtime, dir)?
        .into_iter()
        .find(|p| p.manifest.name == name))
}

fn installed_path(plugin: &Plugin) -> PathBuf {
    match &plugin.origin {
        Origin::Installed(path) => path.clone(),
        Origin::Builtin => unreachable!("installed() loads files only"),
    }
}

/// Writes beside the target and renames into place, so the directory never holds a partial
/// plugin.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".installing-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io(dir, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| io(path, e))?;
    tmp.persist(path).map_err(|e| io(path, e.error))?;
    Ok(())
}

fn remove_file(path: &Path) -> Result<(), StoreError> {
    std::fs::remove_file(path).map_err(|e| io(path, e))
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}
