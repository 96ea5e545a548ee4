//! Dockwright: builds the Docker images ML pipelines run in, and runs the pipelines' steps in
//! them. Data flows one way (DESIGN.md §1):
//!
//! ```text
//! settings → plugins → requirements → plan → engine → run
//! ```
//!
//! The `dockwright` binary is a thin CLI ([`cli`]) over these modules.

pub mod base_image;
pub mod cli;
pub mod context;
pub mod dockerfile;
pub mod engine;
pub mod local_env;
pub mod plan;
pub mod plugins;
pub mod records;
pub mod requirements;
pub mod run;
pub mod settings;
pub mod workflow;
