//! Host bindings of `dockwright:plugin@1.2.0` (`wit/v1.2`), the newest release: the host
//! implementation ([`super::super::runtime`]) is written against these, and the bindings of
//! older releases reuse its types. Also the conversions between its types and the host's own
//! ([`super::super::types`]).

wasmtime::component::bindgen!({
    path: "../../../wit/v1.2",
    world: "plugin",
    // Async so that the call's deadline also covers time spent in host code; trappable so
    // that a host-side limit stops the call with the plugin named.
    imports: { default: async | trappable },
    exports: { default: async },
});

use super::super::types;
use dockwright::plugin::types as wit;

/// The oldest plugin API version these bindings serve.
pub(crate) const MIN_VERSION: semver::Version = semver::Version::new(1, 2, 0);

impl From<&types::Platform> for wit::Platform {
    fn from(p: &types::Platform) -> Self {
        wit::Platform {
            os: p.os.clone(),
            arch: p.arch.clone(),
            python_version: p.python_version.clone(),
        }
    }
}

impl From<&types::Request> for wit::Request {
    fn from(r: &types::Request) -> Self {
        let mut grants: Vec<wit::Grant> = r
            .grants
            .read
            .iter()
            .map(|d| wit::Grant::Read(d.display().to_string()))
            .collect();
        grants.extend(r.grants.exec.iter().map(|p| wit::Grant::Exec(p.clone())));
        wit::Request {
            platform: (&r.platform).into(),
            settings: r.settings.to_string(),
            base_dir: r.base_dir.display().to_string(),
            grants,
        }
    }
}

impl From<wit::Contribution> for types::Contribution {
    fn from(c: wit::Contribution) -> Self {
        types::Contribution {
            requirements: c
                .requirements
                .into_iter()
                .map(|r| types::Requirement {
                    line: r.line,
                    origin: r.origin,
                })
                .collect(),
            apt_packages: c.apt_packages,
            notes: c.notes,
        }
    }
}

/// Bytes of an error text from a plugin that are kept, and suggestions shown.
const ERROR_TEXT: usize = 4096;
const SUGGESTIONS: usize = 32;

/// A copy of at most `max` bytes of `text`: the plugin's allocation is not kept.
fn bounded(text: String, max: usize) -> String {
    text[..text.floor_char_boundary(max)].to_owned()
}

impl From<wit::PluginError> for types::GuestError {
    fn from(e: wit::PluginError) -> Self {
        let text = |m| bounded(m, ERROR_TEXT);
        match e {
            wit::PluginError::InvalidInput(m) => types::GuestError::InvalidInput(text(m)),
            wit::PluginError::UnknownName(u) => types::GuestError::UnknownName {
                name: bounded(u.name, 256),
                suggestions: u
                    .suggestions
                    .into_iter()
                    .take(SUGGESTIONS)
                    .map(|s| bounded(s, 256))
                    .collect(),
            },
            wit::PluginError::Unavailable(m) => types::GuestError::Unavailable(text(m)),
            wit::PluginError::Internal(m) => types::GuestError::Internal(text(m)),
        }
    }
}

impl From<wit::Integration> for types::Integration {
    fn from(i: wit::Integration) -> Self {
        types::Integration {
            name: i.name,
            requirements: i.requirements,
            apt_packages: i.apt_packages,
            description: i.description,
        }
    }
}
