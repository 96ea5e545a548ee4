//! Builds the test fixture plugins (`tests/plugins/*`) for wasm32-wasip2 and tells the tests
//! where they are (`DOCKWRIGHT_FIXTURES`). Nothing built here is checked in.

#[path = "../host/crates/plugin-host/build/wasm_plugins.rs"]
mod wasm_plugins;

use std::path::PathBuf;

const FIXTURES: &[&str] = &["hostile", "future-api", "api-1-0", "reader"];

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
    println!("cargo:rustc-env=DOCKWRIGHT_FIXTURES={}", out_dir.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../host/crates/plugin-host/build/wasm_plugins.rs");
}
