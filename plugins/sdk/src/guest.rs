//! The guest side: the traits a plugin implements, the export macros, and helpers.

use std::marker::PhantomData;

pub use crate::bindings::dockwright::plugin::host::{
    self, ExecOutput, LogLevel, MetadataEntry, MetadataListing,
};
pub use crate::bindings::dockwright::plugin::types::{
    Contribution, Grant, Integration, Platform, PluginError, Request, Requirement, UnknownName,
};

/// A requirement source: turns its part of the settings into requirement lines.
pub trait RequirementSource {
    fn contribute(request: Request) -> Result<Contribution, PluginError>;

    /// The integrations this plugin provides; integration providers override this.
    fn integrations(_platform: Platform) -> Vec<Integration> {
        Vec::new()
    }
}

/// Glue between the traits above and the generated export traits.
#[doc(hidden)]
pub struct Adapter<T>(PhantomData<T>);

impl<T: RequirementSource> crate::bindings::exports::dockwright::plugin::source::Guest
    for Adapter<T>
{
    fn contribute(request: Request) -> Result<Contribution, PluginError> {
        T::contribute(request)
    }
}

impl<T: RequirementSource> crate::bindings::exports::dockwright::plugin::catalogue::Guest
    for Adapter<T>
{
    fn integrations(platform: Platform) -> Vec<Integration> {
        T::integrations(platform)
    }
}

/// Exports a [`RequirementSource`] (with its catalogue, if any) as the plugin's component.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        type __DockwrightExport = $crate::Adapter<$plugin>;
        $crate::bindings::__export_plugin!(__DockwrightExport with_types_in $crate::bindings);
    };
}

impl Request {
    /// The settings, deserialized into the plugin's own type.
    pub fn settings<T: serde::de::DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_str(&self.settings)
            .map_err(|e| PluginError::InvalidInput(format!("settings: {e}")))
    }

    /// The directories this call may read.
    pub fn readable_dirs(&self) -> impl Iterator<Item = &str> {
        self.grants.iter().filter_map(|g| match g {
            Grant::Read(dir) => Some(dir.as_str()),
            Grant::Exec(_) => None,
        })
    }
}

impl Contribution {
    pub fn empty() -> Self {
        Contribution {
            requirements: Vec::new(),
            apt_packages: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// One requirement line with its origin.
pub fn requirement(line: impl Into<String>, origin: impl Into<String>) -> Requirement {
    Requirement {
        line: line.into(),
        origin: origin.into(),
    }
}

/// A catalogue entry.
pub fn integration(
    name: &str,
    requirements: &[&str],
    apt: &[&str],
    description: &str,
) -> Integration {
    Integration {
        name: name.to_string(),
        requirements: requirements.iter().map(|s| s.to_string()).collect(),
        apt_packages: apt.iter().map(|s| s.to_string()).collect(),
        description: description.to_string(),
    }
}

/// Logs through the host.
pub fn log(level: LogLevel, message: &str) {
    host::log(level, message);
}

/// The usual `contribute` of an integration provider: look up each name of the settings'
/// `required_integrations` in the catalogue, in order; an unknown name is an
/// [`PluginError::UnknownName`] with the closest known names.
pub fn catalogue_contribution<T: RequirementSource>(
    request: &Request,
) -> Result<Contribution, PluginError> {
    #[derive(serde::Deserialize)]
    struct Wanted {
        #[serde(default)]
        required_integrations: Vec<String>,
    }
    let wanted: Wanted = request.settings()?;
    let catalogue = T::integrations(request.platform.clone());
    let mut out = Contribution::empty();
    for name in &wanted.required_integrations {
        let Some(found) = catalogue.iter().find(|i| i.name.eq_ignore_ascii_case(name)) else {
            let suggestions = crate::closest_names(name, catalogue.iter().map(|i| i.name.as_str()));
            return Err(PluginError::UnknownName(UnknownName {
                name: name.clone(),
                suggestions,
            }));
        };
        let origin = format!("integration {}", found.name);
        out.requirements.extend(
            found
                .requirements
                .iter()
                .map(|line| requirement(line.clone(), origin.clone())),
        );
        out.apt_packages.extend(found.apt_packages.iter().cloned());
    }
    Ok(out)
}
