//! The plugins this host can call: the built-in ones compiled into it, then those installed
//! in the user's plugin directory, each checked when listed, and compiled (or loaded from the
//! compiled cache) and linked only when a call needs it, once per process.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::sandbox::{ErrorKind, Limits, Origin, Plugin, PluginError, Runtime, builtin};

/// The plugins available to this host: built-in first, then installed, each loaded once.
pub struct Registry {
    pub runtime: Runtime,
    pub plugins: Vec<Plugin>,
}

impl Registry {
    /// Describes every built-in and installed plugin (manifest, API line, digest; nothing is
    /// compiled until a call). An installed plugin with a broken manifest is an error naming
    /// its file, not a silently shorter list.
    /// Compiled components are cached in `components`; `installed` holds the installed
    /// plugins (`*.wasm`).
    pub fn load(components: &Path, installed: &Path, limits: Limits) -> anyhow::Result<Registry> {
        let runtime = Runtime::new(components.to_path_buf(), limits)?;
        let mut plugins = Vec::new();
        for (name, wasm) in builtin::PLUGINS {
            let digest = builtin::digest(name).expect("every built-in has a build-time digest");
            plugins.push(runtime.describe_hashed(
                Cow::Borrowed(*wasm),
                digest,
                Origin::Builtin,
                name,
            )?);
        }
        for path in installed_files(installed)? {
            let plugin = describe_file(&runtime, &path)?;
            // Installs keep one file per name; two means someone copied files in by hand.
            if let Some(other) = plugins
                .iter()
                .find(|p: &&Plugin| p.manifest.name == plugin.manifest.name)
            {
                anyhow::bail!(
                    "two plugins named `{}`: {} and {}; remove one (`dockwright plugin remove`, or delete the file)",
                    plugin.manifest.name,
                    describe(other),
                    path.display()
                );
            }
            plugins.push(plugin);
        }
        Ok(Registry { runtime, plugins })
    }

    pub fn get(&self, name: &str) -> Option<&Plugin> {
        self.plugins.iter().find(|p| p.manifest.name == name)
    }
}

fn describe(plugin: &Plugin) -> String {
    match &plugin.origin {
        Origin::Builtin => "the built-in one".into(),
        Origin::Installed(path) => path.display().to_string(),
    }
}

/// Loads a plugin from a `.wasm` file (compiled and linked at once).
pub fn load_file(runtime: &Runtime, path: &Path) -> Result<Plugin, PluginError> {
    let label = path.display().to_string();
    let wasm = std::fs::read(path)
        .map_err(|e| PluginError::new(&label, ErrorKind::Unreadable(e.to_string())))?;
    runtime.load(&wasm, Origin::Installed(path.to_path_buf()), &label)
}

/// Describes a plugin from a `.wasm` file; it is compiled and linked on its first call.
fn describe_file(runtime: &Runtime, path: &Path) -> Result<Plugin, PluginError> {
    let label = path.display().to_string();
    let wasm = std::fs::read(path)
        .map_err(|e| PluginError::new(&label, ErrorKind::Unreadable(e.to_string())))?;
    runtime.describe(
        Cow::Owned(wasm),
        Origin::Installed(path.to_path_buf()),
        &label,
    )
}

pub(crate) fn installed_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}
