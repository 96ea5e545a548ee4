//! Builds workspace plugin crates for wasm32-wasip2 from a build script, with a nested cargo
//! (shared by the host's and the tests' build scripts). The recipe and its traps are in
//! DESIGN.md §6: a target dir of its own (a shared one deadlocks), a scrubbed environment (the
//! outer RUSTFLAGS/clippy wrapper must not reach the wasm build), a dedicated `plugin` profile.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";

/// Builds `packages` (workspace members) and returns each `<crate>.wasm` path, in order.
pub fn build(workspace: &Path, packages: &[&str]) -> Vec<PathBuf> {
    check_target_installed();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target_dir = nested_target_dir(&out_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "--locked",
            "--profile",
            "plugin",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    scrub_env(&mut cmd);
    // Nested stdout must never be read as `cargo:` directives.
    cmd.stdout(std::io::stderr());
    let status = cmd
        .status()
        .expect("run the nested cargo for the wasm plugins");
    if !status.success() {
        panic!("building the wasm plugins {packages:?} failed ({status}); see the output above");
    }

    let artifacts = target_dir.join(TARGET).join("plugin");
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-changed={}", workspace.join("wit").display());
    packages
        .iter()
        .map(|p| {
            let name = p.replace('-', "_");
            rerun_on_dep_info(&artifacts.join(format!("{name}.d")));
            artifacts.join(format!("{name}.wasm"))
        })
        .collect()
}

/// The workspace root: the nearest ancestor of `manifest_dir` whose `Cargo.toml` declares the
/// `[workspace]`.
pub fn workspace_root(manifest_dir: &Path) -> PathBuf {
    manifest_dir
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|toml| toml.lines().any(|line| line.trim() == "[workspace]"))
        })
        .expect("a Cargo workspace above the build script's crate")
        .to_path_buf()
}

/// Copies `from` to `to` only when the bytes differ, so unchanged plugins do not retrigger
/// the outer crate's compilation.
pub fn copy_if_changed(from: &Path, to: &Path) {
    let bytes = std::fs::read(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    if std::fs::read(to).ok().as_deref() != Some(&bytes[..]) {
        std::fs::write(to, &bytes).unwrap_or_else(|e| panic!("write {}: {e}", to.display()));
    }
}

fn check_target_installed() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if !libdir.is_some_and(|d| d.is_dir()) {
        panic!(
            "the Rust target {TARGET} is not installed; the plugins cannot be built. \
             Install it with: rustup target add {TARGET}"
        );
    }
}

/// `<build-dir>/wasm-plugins`: the nearest ancestor of OUT_DIR holding CACHEDIR.TAG.
fn nested_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(|d| d.join("wasm-plugins"))
        .unwrap_or_else(|| out_dir.join("wasm-plugins"))
}

fn scrub_env(cmd: &mut Command) {
    const DROP: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "TARGET",
        "HOST",
        "OUT_DIR",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
    ];
    const KEEP_CARGO: &[&str] = &[
        "CARGO_HOME",
        "CARGO_MAKEFLAGS",
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
    ];
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let cargo_var = key.starts_with("CARGO") && !KEEP_CARGO.iter().any(|k| key.starts_with(k));
        if DROP.contains(&key) || key.starts_with("DEP_") || cargo_var {
            cmd.env_remove(key);
        }
    }
    // Overrides RUSTFLAGS and any config rustflags meant for the host target.
    cmd.env("CARGO_ENCODED_RUSTFLAGS", "");
}

fn rerun_on_dep_info(dep_info: &Path) {
    let Ok(text) = std::fs::read_to_string(dep_info) else {
        return;
    };
    // `target: dep dep ...`; spaces inside paths are escaped as `\ `.
    let Some((_, deps)) = text.split_once(": ") else {
        return;
    };
    let deps = deps.replace("\\ ", "\u{0}");
    for dep in deps.split_whitespace() {
        println!("cargo:rerun-if-changed={}", dep.replace('\u{0}', " "));
    }
}
