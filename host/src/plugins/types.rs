//! The host's own view of what crosses the plugin boundary, independent of any API line.

use std::path::PathBuf;

use serde::Serialize;

/// The platform an image is built for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub python_version: String,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            arch: "amd64".into(),
            python_version: String::new(),
        }
    }
}

/// What the host lets one call do, after intersecting the pipeline's grants with what the
/// plugin's manifest asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Directories the plugin may read (read-only, at the same absolute path).
    pub read: Vec<PathBuf>,
    /// Programs the plugin may run through `host.exec`.
    pub exec: Vec<String>,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Requirement {
    pub line: String,
    pub origin: String,
}

/// What a requirement source returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Contribution {
    pub requirements: Vec<Requirement>,
    pub apt_packages: Vec<String>,
    pub notes: Vec<String>,
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
    #[error("unknown name `{name}`{}", did_you_mean(suggestions))]
    UnknownName {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        many => format!("; did you mean one of: {}?", many.join(", ")),
    }
}
