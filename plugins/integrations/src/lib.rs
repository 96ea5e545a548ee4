//! Built-in plugin `integrations`: the `required_integrations` setting. Each name is looked up
//! in the shared catalogue (`catalogue-data`, ZenML's integrations) exactly as ZenML does, and
//! becomes that integration's requirement lines for the image's platform (origin
//! `integration <name>`) and its apt packages. An unknown name is an error with the closest
//! known names. The catalogue is exported too, for `dockwright integrations list`.

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod select;

#[cfg(target_arch = "wasm32")]
mod plugin {
    use dockwright_plugin_sdk::*;

    manifest! {
        group: "integrations",
        description: "The `required_integrations` setting: ZenML's integration catalogue.",
    }

    struct Integrations;

    impl RequirementSource for Integrations {
        fn contribute(request: Request) -> Result<Contribution, PluginError> {
            let settings: crate::select::Settings = request.settings()?;
            let platform = &request.platform;
            let added = crate::select::select(&settings, &platform.os, &platform.arch).map_err(
                |crate::select::Unknown { name, suggestions }| {
                    PluginError::UnknownName(UnknownName { name, suggestions })
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

        fn integrations(platform: Platform) -> Vec<Integration> {
            catalogue_data::INTEGRATIONS
                .iter()
                .map(|i| {
                    integration(
                        i.name,
                        i.requirements_for(&platform.os, &platform.arch),
                        i.apt_packages,
                        i.description,
                    )
                })
                .collect()
        }
    }

    export_plugin!(Integrations);
}
