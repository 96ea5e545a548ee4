//! Built-in plugin `requirements`: the `requirements` setting, either a list of requirement
//! lines or the path of a requirements file. A file is read through the read-only grant of
//! its directory; `-r` includes are followed inside that grant, comments and blank lines are
//! dropped, and pip option lines (`--index-url`, `--find-links`, ...) are kept.

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod parse;

#[cfg(target_arch = "wasm32")]
mod plugin {
    use dockwright_plugin_sdk::*;

    manifest! {
        group: "requirements",
        capabilities: ["read"],
        description: "The `requirements` attribute: a list of lines, or a requirements file with its -r includes.",
    }

    struct Requirements;

    impl RequirementSource for Requirements {
        fn contribute(request: Request) -> Result<Contribution, PluginError> {
            let settings: crate::parse::Settings = request.settings()?;
            let grants: Vec<&str> = request.readable_dirs().collect();
            let lines = crate::parse::collect(&settings, &request.base_dir, &grants, &|p| {
                std::fs::read_to_string(p)
            })
            .map_err(|e| match e {
                crate::parse::Error::Unavailable(m) => PluginError::Unavailable(m),
                crate::parse::Error::Invalid(m) => PluginError::InvalidInput(m),
            })?;
            let mut out = Contribution::empty();
            out.requirements = lines
                .into_iter()
                .map(|(line, origin)| requirement(line, origin))
                .collect();
            Ok(out)
        }
    }

    export_plugin!(Requirements);
}
