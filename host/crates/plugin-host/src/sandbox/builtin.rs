//! The built-in plugins, compiled from `plugins/*` for wasm32-wasip2 by the host's build
//! script and embedded in the binary (no `.wasm` is checked in).

/// `(crate name, component bytes)` of every built-in plugin.
pub const PLUGINS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
