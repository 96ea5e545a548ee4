//! Dockwright's plugin host: every requirement source is a WebAssembly component behind the
//! versioned WIT API in `wit/` (DESIGN.md §6). Three jobs, one module each:
//!
//! - [`sandbox`]: the wasmtime runtime plugins run in — manifests, the bindings of each
//!   released API version, the compiled-component cache, the limits and the checks at the
//!   boundary;
//! - [`distribution`]: plugins shipped apart from the host — installing files, OCI
//!   artifacts, scaffolding a new plugin, and the pipeline's `dockwright.lock`;
//! - [`sources`]: routing a pipeline's settings to the sources that serve them, with the
//!   grants each setting implies, into [`dockwright_plan::contribution::Sourced`] answers.
//!
//! [`Registry`] is what the rest of the host holds: the loaded plugins, built-in and
//! installed.

pub mod distribution;
#[doc(hidden)]
pub mod fuzz;
mod registry;
pub mod sandbox;
pub mod sources;

pub use dockwright_plan::contribution::{Contribution, Group, Platform, Requirement};
pub use registry::{Registry, load_file};
pub use sandbox::builtin;
pub use sandbox::{
    Capability, ErrorKind, Grants, GuestError, Integration, Limits, Manifest, Origin, Outcome,
    Plugin, PluginError, Request, Runtime, kill_granted_programs,
};
