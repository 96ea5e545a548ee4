//! The sandbox: a fresh wasmtime store per call with nothing granted by default, limits on
//! everything a plugin can consume, and checks on everything it returns. Owns the manifest
//! (read before anything is compiled), one bindings module per released API version, and the
//! on-disk cache of compiled components, the remembered answers of earlier calls (with the
//! stamps of what each looked at), and the host functions beyond WASI (running a granted
//! program, reading an environment's metadata in one call).

pub mod builtin;
mod cache;
mod error;
mod exec;
mod files;
mod limiter;
pub mod manifest;
mod memo;
mod metadata;
mod runtime;
mod types;
mod wit;

pub use error::{ErrorKind, PluginError};
pub use exec::kill_running as kill_granted_programs;
pub use manifest::{Capability, Header, Manifest};
pub use runtime::{Limits, LogLine, Origin, Outcome, Plugin, Runtime};
pub(crate) use runtime::{check_contribution, check_pip_options};
pub use types::{Grants, GuestError, Integration, Request};
pub use wit::SOURCE_EXPORT;
