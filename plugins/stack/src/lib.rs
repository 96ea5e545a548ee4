//! Built-in plugin `stack`: the requirements of the pipeline's stack. Each stack component's
//! flavor is mapped, through the shared catalogue (`catalogue-data`), to the integration that
//! provides it in ZenML, and that integration's requirement lines (for the image's platform)
//! and apt packages are contributed, with origins like `stack artifact_store s3 → integration
//! s3`. `install_stack_requirements: false` contributes nothing.

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod components;

#[cfg(target_arch = "wasm32")]
mod plugin {
    use crate::components::{self, Error};
    use dockwright_plugin_sdk::*;

    manifest! {
        group: "integrations",
        description: "The stack's requirements: each component flavor's ZenML integration.",
    }

    struct Stack;

    impl RequirementSource for Stack {
        fn contribute(request: Request) -> Result<Contribution, PluginError> {
            let settings: components::Settings = request.settings()?;
            let platform = &request.platform;
            let added = components::select(&settings, &platform.os, &platform.arch).map_err(
                |e| match e {
                    Error::Invalid(message) => PluginError::InvalidInput(message),
                    Error::UnknownFlavor { name, suggestions } => {
                        PluginError::UnknownName(UnknownName { name, suggestions })
                    }
                },
            )?;
            Ok(Contribution {
                requirements: added
                    .requirements
                    .into_iter()
                    .map(|(line, origin)| requirement(line, origin))
                    .collect(),
                apt_packages: added.apt_packages,
                notes: added.notes,
            })
        }
    }

    export_plugin!(Stack);
}
