//! Where Dockwright keeps its files: compiled plugin components, remembered plugin calls,
//! installed plugins, the context hash cache, the records of finished builds, what earlier builds
//! installed, and the build logs.

use std::path::{Path, PathBuf};

/// Where Dockwright keeps its files; overridable for tests and CI.
#[derive(Clone, Debug)]
pub struct Dirs {
    /// Compiled components (`$XDG_CACHE_HOME/dockwright/components`).
    pub cache: PathBuf,
    /// Installed plugins (`$XDG_DATA_HOME/dockwright/plugins`).
    pub plugins: PathBuf,
    /// The per-file hash cache of build contexts: one file per context root.
    pub context_hashes: PathBuf,
    /// Remembered plugin calls, with the stamps of what each looked at
    /// (`$XDG_CACHE_HOME/dockwright/calls`).
    pub calls: PathBuf,
    /// Records of finished builds, and build locks (`$XDG_CACHE_HOME/dockwright/builds`).
    pub builds: PathBuf,
    /// What earlier builds installed, by install prefix (`$XDG_CACHE_HOME/dockwright/installs`):
    /// a group that only gained lines is installed on top of it.
    pub installs: PathBuf,
    /// The full output of recent builds, one folder per pipeline
    /// (`$XDG_DATA_HOME/dockwright/logs`).
    pub logs: PathBuf,
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
            context_hashes: cache.join("context-hashes"),
            calls: cache.join("calls"),
            builds: cache.join("builds"),
            installs: cache.join("installs"),
            logs: data.join("logs"),
        }
    }
}
