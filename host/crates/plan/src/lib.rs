//! Dockwright's planning, pure and without Docker: the first and the last pure steps of the
//! data flow (DESIGN.md §1).
//!
//! ```text
//! settings ─► (plugins: dockwright-plugin-host) ─► requirements ─► plan
//!                                                                   ├─ dockerfile
//!                                                                   └─ context
//! ```
//!
//! [`settings`] reads `dockwright.yaml`; the plugin host asks the requirement sources and
//! hands back [`contribution::Sourced`] answers; [`requirements`] merges them into the install
//! groups; [`plan`] decides the images, with [`dockerfile`] writing the generated Dockerfile
//! and [`context`] the build context; [`install_history`] remembers what earlier builds
//! installed, so that a group that only gained lines is installed on top of it.
//! [`docker_syntax`] and [`suggest`] are leaves every other module may use.

pub mod context;
pub mod contribution;
pub mod docker_syntax;
pub mod dockerfile;
#[doc(hidden)]
pub mod fuzz;
pub mod install_history;
mod local_paths;
pub mod parents;
pub mod plan;
pub mod requirements;
pub mod settings;
pub mod suggest;
pub mod user_file;
