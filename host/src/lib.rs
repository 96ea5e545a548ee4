//! Dockwright: builds the Docker images ML pipelines run in, and runs the pipelines' steps in
//! them. Data flows one way (DESIGN.md §1):
//!
//! ```text
//! settings → plugins → requirements → plan → engine → run
//! ```
//!
//! The pure steps live in [`dockwright_plan`] (settings, requirements, plan), the plugins in
//! [`dockwright_plugin_host`], Docker in [`dockwright_engine`]. This crate joins them:
//! [`commands`] has one entry point per CLI command, returning data; [`images`] builds a
//! plan's images; [`run`] runs the steps; the binary is a thin CLI ([`cli`]) that parses and
//! prints.

mod base_image;
pub mod build_log;
pub mod clean;
pub mod cli;
pub mod commands;
mod images;
pub mod import_zenml;
pub mod init;
mod kubernetes;
mod layout;
mod records;
mod run;
pub mod why;

pub use dockwright_engine as engine;
pub use dockwright_plan::{
    context, contribution, dockerfile, install_history, plan, requirements, settings,
};
pub use dockwright_plugin_host as plugins;
pub use images::{ImageResult, ImagesError, RegistryLookup};
pub use kubernetes::Kubernetes;
pub use layout::Dirs;
pub use run::RunError;
