//! The integration catalogue as plain data, shared by the built-in `integrations` and `stack`
//! plugins (each compiles it in; neither copies it). It owns the facts — every integration's
//! requirement lines and apt packages, per platform where ZenML makes them OS-conditional, and
//! which integration provides each stack component flavor — and the lookups over them. The
//! facts themselves live in [`zenml`], generated from ZenML's own registries by
//! `gen/zenml_catalogue.py`.
//!
//! Names match exactly, as in ZenML (`required_integrations: [Sklearn]` is a `KeyError`
//! there): callers suggest the close names when a lookup misses.

pub mod zenml;

pub use zenml::{COMPONENT_TYPES, FLAVORS, INTEGRATIONS, ZENML_VERSION};

/// One integration: what installing it into an image means.
#[derive(Debug)]
pub struct Integration {
    pub name: &'static str,
    pub description: &'static str,
    /// Requirement lines on every platform no entry of `variants` matches.
    pub requirements: &'static [&'static str],
    /// Platform-specific requirement lists that replace `requirements`; the first match wins.
    pub variants: &'static [Variant],
    /// Debian packages the integration needs in the image.
    pub apt_packages: &'static [&'static str],
}

/// The requirement lines of an integration on one OS (and, when `arch` is not empty, only on
/// those architectures).
#[derive(Debug)]
pub struct Variant {
    /// Lower case, as in the plugin API's platform: "linux", "darwin".
    pub os: &'static str,
    /// Docker's spelling ("amd64", "arm64"); empty for every architecture.
    pub arch: &'static [&'static str],
    pub requirements: &'static [&'static str],
}

/// A stack component flavor and the integration that provides it.
#[derive(Debug)]
pub struct Flavor {
    /// The stack component type, as ZenML spells it ("artifact_store", "orchestrator").
    pub component: &'static str,
    pub name: &'static str,
    /// `None` for flavors built into ZenML itself, which need nothing installed.
    pub integration: Option<&'static str>,
}

impl Integration {
    /// The requirement lines for an image of this OS and architecture.
    pub fn requirements_for(&self, os: &str, arch: &str) -> &'static [&'static str] {
        let os = os.to_ascii_lowercase();
        let arch = docker_arch(arch);
        self.variants
            .iter()
            .find(|v| v.os == os && (v.arch.is_empty() || v.arch.contains(&arch.as_str())))
            .map_or(self.requirements, |v| v.requirements)
    }
}

/// The integration named exactly `name`.
pub fn integration(name: &str) -> Option<&'static Integration> {
    INTEGRATIONS.iter().find(|i| i.name == name)
}

/// Every integration name, in catalogue (alphabetical) order.
pub fn integration_names() -> impl Iterator<Item = &'static str> {
    INTEGRATIONS.iter().map(|i| i.name)
}

/// The flavor `name` of the stack component type `component`, both matched exactly.
pub fn flavor(component: &str, name: &str) -> Option<&'static Flavor> {
    FLAVORS
        .iter()
        .find(|f| f.component == component && f.name == name)
}

/// The flavor names known for one stack component type.
pub fn flavor_names(component: &str) -> impl Iterator<Item = &'static str> {
    FLAVORS
        .iter()
        .filter(move |f| f.component == component)
        .map(|f| f.name)
}

/// Whether ZenML has this stack component type.
pub fn is_component_type(name: &str) -> bool {
    COMPONENT_TYPES.contains(&name)
}

/// What a set of integrations adds to an image, in the order they were added: requirement
/// lines with their origin, apt packages, and notes for the user. Merging, de-duplication and
/// sorting are the host's job.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Additions {
    /// `(line, origin)` pairs.
    pub requirements: Vec<(String, String)>,
    pub apt_packages: Vec<String>,
    pub notes: Vec<String>,
}

impl Additions {
    /// Adds what `integration` needs on `os`/`arch`, each line attributed to `origin`.
    pub fn add(&mut self, integration: &Integration, os: &str, arch: &str, origin: &str) {
        let lines = integration.requirements_for(os, arch);
        if lines.is_empty() {
            // Said out loud because a user asking for an integration expects it to add
            // something (ZenML lists no packages for e.g. `airflow` or `kaniko`).
            self.notes.push(format!(
                "{origin}: ZenML {ZENML_VERSION} lists no Python requirements for integration \
                 `{}` on {os}/{arch}",
                integration.name
            ));
        }
        self.requirements.extend(
            lines
                .iter()
                .map(|line| (line.to_string(), origin.to_string())),
        );
        self.apt_packages
            .extend(integration.apt_packages.iter().map(|p| p.to_string()));
    }
}

/// Docker's spelling of an architecture name, which the variants use: the kernel's names
/// (`uname -m`, Python's `platform.machine()`) are accepted too.
fn docker_arch(arch: &str) -> String {
    match arch.to_ascii_lowercase().as_str() {
        "x86_64" | "x86-64" | "x64" => "amd64".to_string(),
        "aarch64" | "arm64v8" => "arm64".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
