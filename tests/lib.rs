//! Helpers shared by the end-to-end tests.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// A test fixture plugin built by this package's build script.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("DOCKWRIGHT_FIXTURES")).join(format!("{name}.wasm"))
}

/// The `dockwright` binary of this workspace. Cargo builds it when the host package is under
/// test; when only this package is, it is built here once.
pub fn dockwright_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let mut dir = std::env::current_exe().expect("test binary path");
        dir.pop();
        if dir.ends_with("deps") {
            dir.pop();
        }
        let bin = dir.join("dockwright");
        if !bin.is_file() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-p", "dockwright", "--bin", "dockwright"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build");
            assert!(
                status.success(),
                "cargo build of the dockwright binary failed"
            );
        }
        bin
    })
    .clone()
}

/// A `dockwright` command with its cache and data directories inside `home`.
pub fn dockwright(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(dockwright_bin());
    cmd.env("DOCKWRIGHT_CACHE_DIR", home.join("cache"))
        .env("DOCKWRIGHT_DATA_DIR", home.join("data"));
    cmd
}
