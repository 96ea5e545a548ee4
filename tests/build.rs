//! Builds the test fixture plugins and tells the tests where they are (`DOCKWRIGHT_FIXTURES`):
//! the Rust ones (`tests/plugins/*`) for wasm32-wasip2, and the hand-written ones
//! (`tests/plugins/wat/*.wat`, WebAssembly text for what no compiler emits: 16 memories, a
//! table grown without end) wrapped as components of the plugin world. Nothing built here is
//! checked in.

#[path = "../host/crates/plugin-host/build/wasm_plugins.rs"]
mod wasm_plugins;

use std::path::{Path, PathBuf};

const FIXTURES: &[&str] = &["hostile", "future-api", "api-1-0", "reader"];

/// The API line the WAT fixtures export (their export names say `@1.1.0`).
const WAT_API: &str = "wit/v1.1";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = wasm_plugins::workspace_root(&manifest_dir);
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("fixtures");
    std::fs::create_dir_all(&out_dir).unwrap();
    for (name, wasm) in FIXTURES
        .iter()
        .zip(wasm_plugins::build(&workspace, FIXTURES))
    {
        wasm_plugins::copy_if_changed(&wasm, &out_dir.join(format!("{name}.wasm")));
    }
    build_wat_fixtures(
        &manifest_dir.join("plugins/wat"),
        &workspace.join(WAT_API),
        &out_dir,
    );
    println!("cargo:rustc-env=DOCKWRIGHT_FIXTURES={}", out_dir.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../host/crates/plugin-host/build/wasm_plugins.rs");
}

/// Each `<name>.wat` (but the shared `prelude.wat`, pasted where a fixture writes
/// `;; @prelude`) becomes `<name>.wasm`, a component of the plugin world.
fn build_wat_fixtures(dir: &Path, wit: &Path, out_dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rerun-if-changed={}", wit.display());
    let prelude = std::fs::read_to_string(dir.join("prelude.wat")).unwrap();
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(wit).unwrap();
    let world = resolve.select_world(&[package], Some("plugin")).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "wat") || name == "prelude" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replace(";; @prelude", &prelude);
        let mut module =
            wat::parse_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        wit_component::embed_component_metadata(
            &mut module,
            &resolve,
            world,
            wit_component::StringEncoding::UTF8,
        )
        .unwrap();
        let component = wit_component::ComponentEncoder::default()
            .validate(true)
            .module(&module)
            .and_then(|mut encoder| encoder.encode())
            .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        let to = out_dir.join(format!("{name}.wasm"));
        if std::fs::read(&to).ok().as_deref() != Some(&component[..]) {
            std::fs::write(&to, &component).unwrap();
        }
    }
}
