//! `dockwright plugin new <name>`: a plugin crate that builds as it is with
//! `cargo build --release --target wasm32-wasip2`: a Cargo.toml depending on the guest SDK,
//! and one `src/lib.rs` with the manifest, an integration catalogue and `export_plugin!`.
//!
//! The SDK dependency: `--sdk <dir>` when given; else, when the new crate is made inside a
//! Dockwright checkout, that checkout's `plugins/sdk` by relative path; else the SDK of the
//! checkout this binary was built from, by absolute path, when it still exists. Without any
//! of these the user is told to pass `--sdk` (the SDK is not on a package registry yet).

use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "`{0}` cannot name a plugin: use lowercase letters, digits and `-`, starting with a letter"
    )]
    BadName(String),
    #[error("{0} exists already; choose another name or directory")]
    Exists(PathBuf),
    #[error("no dockwright-plugin-sdk found at {0}; pass --sdk <path to plugins/sdk>")]
    NoSdk(PathBuf),
    #[error(
        "no Dockwright checkout found to take the plugin SDK from; pass --sdk <path to plugins/sdk>"
    )]
    SdkUnknown,
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
}

/// The SDK of the checkout this binary was built from.
fn built_from_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../plugins/sdk")
}

/// Creates the crate `name` in `dir` (a new directory). Returns the files written.
pub fn new_plugin(
    dir: &Path,
    name: &str,
    sdk: Option<&Path>,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    check_name(name)?;
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.to_path_buf()));
    }
    let dir_abs = std::path::absolute(dir).map_err(|e| io(dir, e))?;
    let sdk = sdk_path(&dir_abs, sdk)?;
    let files = [
        (dir.join("Cargo.toml"), cargo_toml(name, &sdk)),
        (dir.join("src/lib.rs"), lib_rs(name)),
        (dir.join(".gitignore"), "/target\n".to_string()),
    ];
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(path, text).map_err(|e| io(path, e))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ScaffoldError::BadName(name.to_string()))
    }
}

/// The path written into the new Cargo.toml for the SDK.
fn sdk_path(new_crate: &Path, given: Option<&Path>) -> Result<String, ScaffoldError> {
    let is_sdk = |p: &Path| {
        std::fs::read_to_string(p.join("Cargo.toml"))
            .is_ok_and(|t| t.contains("name = \"dockwright-plugin-sdk\""))
    };
    if let Some(given) = given {
        let abs = std::path::absolute(given).map_err(|e| io(given, e))?;
        if !is_sdk(&abs) {
            return Err(ScaffoldError::NoSdk(abs));
        }
        return Ok(display(&abs));
    }
    // Inside a checkout: relative, so the crate moves with the repository.
    for ancestor in new_crate.ancestors().skip(1) {
        let candidate = ancestor.join("plugins/sdk");
        if is_sdk(&candidate) {
            let relative = relative_path(new_crate, &candidate);
            return Ok(display(&relative));
        }
    }
    let built = built_from_sdk();
    if is_sdk(&built) {
        let built = built.canonicalize().unwrap_or(built);
        return Ok(display(&built));
    }
    Err(ScaffoldError::SdkUnknown)
}

/// `to` relative to the directory `from` (both absolute).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to[common..] {
        out.push(part);
    }
    out
}

fn display(path: &Path) -> String {
    path.display().to_string().replace('\\', "/")
}

fn cargo_toml(name: &str, sdk: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
description = "A Dockwright integration provider"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
dockwright-plugin-sdk = {{ path = "{sdk}" }}

# Its own workspace, so that it builds on its own even inside another workspace's tree.
[workspace]

# Small plugins; keep the name section (plugin crash reports use it).
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = "debuginfo"
"#
    )
}

fn lib_rs(name: &str) -> String {
    let integration = name.trim_end_matches("-integrations");
    format!(
        r#"//! `{name}`: a Dockwright integration provider. Build it with
//!
//!     cargo build --release --target wasm32-wasip2
//!
//! and install target/wasm32-wasip2/release/{file}.wasm with `dockwright plugin install`.
//! A pipeline then asks for its integrations by name in `required_integrations`.
#![cfg(target_arch = "wasm32")]

use dockwright_plugin_sdk::*;

// Name and version come from Cargo.toml. Capabilities: none (add "read" or "exec:<program>"
// only if the plugin needs them; the pipeline must grant them).
manifest! {{
    group: "integrations",
    description: "Integrations provided by {name}",
}}

struct Provider;

impl RequirementSource for Provider {{
    fn contribute(request: Request) -> Result<Contribution, PluginError> {{
        catalogue_contribution::<Provider>(&request)
    }}

    fn integrations(_platform: Platform) -> Vec<Integration> {{
        vec![integration(
            "{integration}",
            &["requests>=2.31"],
            &[],
            "An example integration: edit its requirements and apt packages",
        )]
    }}
}}

export_plugin!(Provider);
"#,
        file = name.replace('-', "_"),
    )
}

fn io(path: &Path, e: std::io::Error) -> ScaffoldError {
    ScaffoldError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_then_descend() {
        assert_eq!(
            relative_path(Path::new("/r/examples/x"), Path::new("/r/plugins/sdk")),
            PathBuf::from("../../plugins/sdk")
        );
    }

    #[test]
    fn names_are_crate_and_plugin_names() {
        assert!(check_name("acme-integrations").is_ok());
        for bad in ["Acme", "1acme", "acme_x", "acme-", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inside_a_checkout_the_sdk_is_found_by_relative_path() {
        let root = tempfile::tempdir().unwrap();
        let sdk = root.path().join("plugins/sdk");
        std::fs::create_dir_all(&sdk).unwrap();
        std::fs::write(
            sdk.join("Cargo.toml"),
            "[package]\nname = \"dockwright-plugin-sdk\"\n",
        )
        .unwrap();
        let dir = root.path().join("examples/acme");
        let files = new_plugin(&dir, "acme", None).unwrap();
        assert_eq!(files.len(), 3);
        let toml = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(toml.contains(r#"path = "../../plugins/sdk""#), "{toml}");
        assert!(matches!(
            new_plugin(&dir, "acme", None),
            Err(ScaffoldError::Exists(_))
        ));
    }
}
