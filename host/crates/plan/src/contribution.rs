//! What crosses the plugin boundary, in the host's own terms and independent of any API
//! line: the platform a source is asked about, the requirement group it serves, and the
//! contribution it returns. The plugin host produces [`Sourced`] answers; [`crate::requirements`]
//! merges them.

use serde::{Deserialize, Serialize};

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

/// The requirement group a source serves, in install order (DESIGN.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Local,
    Requirements,
    Integrations,
}

impl Group {
    /// Every group, in install order.
    pub(crate) const ALL: [Group; 3] = [Group::Local, Group::Requirements, Group::Integrations];

    /// The requirements file this group is written to, in the build context and in `/app`.
    pub const fn file(self) -> &'static str {
        match self {
            Group::Local => ".dockwright/requirements/1-local.txt",
            Group::Requirements => ".dockwright/requirements/2-requirements.txt",
            Group::Integrations => ".dockwright/requirements/3-integrations.txt",
        }
    }

    /// The name manifests and `--json` output use (`local`, `requirements`, `integrations`).
    pub const fn name(self) -> &'static str {
        match self {
            Group::Local => "local",
            Group::Requirements => "requirements",
            Group::Integrations => "integrations",
        }
    }
}

/// One requirement line a source returned, and where it says it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub line: String,
    pub origin: String,
}

/// What a requirement source returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    pub requirements: Vec<Requirement>,
    pub apt_packages: Vec<String>,
    /// Shown to the user with the plan.
    pub notes: Vec<String>,
}

/// What one plugin contributed, with who it was.
#[derive(Clone, Debug)]
pub struct Sourced {
    /// `name version` of the plugin.
    pub plugin: String,
    /// `sha256:<hex>` of the plugin's wasm: part of the build key.
    pub digest: String,
    pub group: Group,
    pub contribution: Contribution,
}
