//! Plugins: every requirement source is a WebAssembly component behind the versioned WIT API
//! in `wit/`, run in a sandbox ([`runtime`]). This module owns loading them — the built-in
//! ones compiled into the host, and those installed in the user's data directory — and
//! finding one by name.

pub mod builtin;
pub mod cache;
pub mod error;
pub mod lock;
pub mod manifest;
pub mod oci;
pub mod runtime;
pub mod scaffold;
pub mod sources;
pub mod store;
pub mod types;
pub mod v1;

use std::path::{Path, PathBuf};

pub use error::{ErrorKind, PluginError};
pub use manifest::{Capability, Group, Manifest};
pub use runtime::{Limits, Origin, Outcome, Plugin, Runtime};
pub use types::{Contribution, Grants, GuestError, Integration, Platform, Request, Requirement};

/// Where Dockwright keeps its files; overridable for tests and CI.
#[derive(Clone, Debug)]
pub struct Dirs {
    /// Compiled components (`$XDG_CACHE_HOME/dockwright/components`).
    pub cache: PathBuf,
    /// Installed plugins (`$XDG_DATA_HOME/dockwright/plugins`).
    pub plugins: PathBuf,
    /// The per-file hash cache of build contexts.
    pub context_hashes: PathBuf,
    /// Records of finished builds, and build locks (`$XDG_CACHE_HOME/dockwright/builds`).
    pub builds: PathBuf,
}

impl Dirs {
    /// The XDG defaults, or `DOCKWRIGHT_CACHE_DIR` / `DOCKWRIGHT_DATA_DIR` when set.
    pub fn from_env() -> Dirs {
        let base = |var: &str, fallback: Option<PathBuf>| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .or_else(|| fallback.map(|d| d.join("dockwright")))
                .unwrap_or_else(|| std::env::temp_dir().join("dockwright"))
        };
        Dirs::at(
            &base("DOCKWRIGHT_CACHE_DIR", dirs::cache_dir()),
            &base("DOCKWRIGHT_DATA_DIR", dirs::data_dir()),
        )
    }

    /// The layout under a cache root and a data root.
    pub fn at(cache: &Path, data: &Path) -> Dirs {
        Dirs {
            cache: cache.join("components"),
            plugins: data.join("plugins"),
            context_hashes: cache.join("context-hashes.json"),
            builds: cache.join("builds"),
        }
    }
}

/// The plugins available to this host: built-in first, then installed, each loaded once.
pub struct Registry {
    pub runtime: Runtime,
    pub plugins: Vec<Plugin>,
}

impl Registry {
    /// Loads every built-in and installed plugin. A broken installed plugin is an error
    /// naming its file, not a silently shorter list.
    pub fn load(dirs: &Dirs, limits: Limits) -> anyhow::Result<Registry> {
        let runtime = Runtime::new(dirs.cache.clone(), limits)?;
        let mut plugins = Vec::new();
        for (name, wasm) in builtin::PLUGINS {
            plugins.push(runtime.load(wasm, Origin::Builtin, name)?);
        }
        for path in installed_files(&dirs.plugins)? {
            let plugin = load_file(&runtime, &path)?;
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

/// Loads a plugin from a `.wasm` file.
pub fn load_file(runtime: &Runtime, path: &Path) -> Result<Plugin, PluginError> {
    let label = path.display().to_string();
    let wasm = std::fs::read(path)
        .map_err(|e| PluginError::new(&label, ErrorKind::Unreadable(e.to_string())))?;
    runtime.load(&wasm, Origin::Installed(path.to_path_buf()), &label)
}

fn installed_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
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
