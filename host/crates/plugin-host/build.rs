//! Compiles the built-in plugins (`plugins/*`) for wasm32-wasip2 and leaves them in OUT_DIR,
//! where `plugins::builtin` embeds them: a plain `cargo build` gives a complete host.

#[path = "build/wasm_plugins.rs"]
mod wasm_plugins;

use std::path::{Path, PathBuf};

/// Built-in plugins, in the order the host lists them.
const BUILTINS: &[&str] = &["requirements", "local-env", "integrations", "stack"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = wasm_plugins::workspace_root(&manifest_dir);
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let built = wasm_plugins::build(&workspace, BUILTINS);
    for (name, wasm) in BUILTINS.iter().zip(&built) {
        wasm_plugins::copy_if_changed(wasm, &out_dir.join(format!("{name}.wasm")));
    }
    write_index(&out_dir);
    write_digests(&out_dir);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/wasm_plugins.rs");
}

/// `builtin_digests.rs`: a `&[(&str, &str)]` of every built-in plugin's sha256 (hex), so that
/// a command does not hash the embedded plugins on every start.
fn write_digests(out_dir: &Path) {
    use sha2::{Digest, Sha256};
    let mut src = String::from("&[\n");
    for name in BUILTINS {
        let wasm = std::fs::read(out_dir.join(format!("{name}.wasm"))).unwrap();
        let digest = hex::encode(Sha256::digest(&wasm));
        src.push_str(&format!("    ({name:?}, {digest:?}),\n"));
    }
    src.push(']');
    let path = out_dir.join("builtin_digests.rs");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(src.as_str()) {
        std::fs::write(path, src).unwrap();
    }
}

/// `builtin_plugins.rs`: a `&[(&str, &[u8])]` of every built-in plugin.
fn write_index(out_dir: &Path) {
    let mut src = String::from("&[\n");
    for name in BUILTINS {
        src.push_str(&format!(
            "    ({name:?}, include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.wasm\"))),\n"
        ));
    }
    src.push(']');
    let path = out_dir.join("builtin_plugins.rs");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(src.as_str()) {
        std::fs::write(path, src).unwrap();
    }
}
