//! Plugins distributed apart from the host (DESIGN.md §6): a plugin is one `.wasm` file or
//! an OCI artifact. Installing checks it fully before an atomic write; the pipeline pins
//! plugins by name and semver range and `dockwright.lock` records exactly what was used.

pub mod lock;
pub mod oci;
pub mod scaffold;
pub mod store;
