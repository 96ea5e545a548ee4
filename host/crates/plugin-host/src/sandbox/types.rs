//! The sandbox's side of a call, independent of any API line: what a call is given (the
//! request and its grants) and what a plugin can answer besides a contribution (its
//! catalogue, its own errors). The contribution itself is [`dockwright_plan::contribution`].

pub use dockwright_plan::contribution::{Contribution, Platform, Requirement};

use std::path::PathBuf;

use serde::Serialize;

/// What the host lets one call do, after intersecting the pipeline's grants with what the
/// plugin's manifest asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Directories the plugin may read (read-only, at the same absolute path).
    pub read: Vec<PathBuf>,
    /// Programs the plugin may run through `host.exec`.
    pub exec: Vec<String>,
    /// pip options (`extra-index-url`, …, or `url` for direct references) a third-party
    /// plugin's lines may carry; the host checks them, the plugin is not told.
    pub pip_options: Vec<String>,
    /// Host environment variables passed to the programs it runs, besides PATH, HOME, LANG.
    pub env: Vec<String>,
}

/// One call's input.
#[derive(Clone, Debug)]
pub struct Request {
    pub platform: Platform,
    /// The settings this source serves (a JSON object keyed by DockerSettings field names).
    pub settings: serde_json::Value,
    /// Directory of the pipeline file; relative paths in settings start here.
    pub base_dir: PathBuf,
    pub grants: Grants,
}

/// A catalogue entry of an integration provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Integration {
    pub name: String,
    pub requirements: Vec<String>,
    pub apt_packages: Vec<String>,
    pub description: String,
}

/// An error the plugin itself returned (as opposed to one the host detected).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(
        "unknown name `{name}`{}",
        dockwright_plan::suggest::then_did_you_mean(suggestions)
    )]
    UnknownName {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}
