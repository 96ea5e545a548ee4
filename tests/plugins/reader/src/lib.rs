//! A test fixture: the integration `house-style` is whatever `house-requirements.txt` in the
//! pipeline's directory lists, so the plugin needs the `read` capability granted for that
//! directory. Without the grant, the read fails inside the sandbox and the plugin says so.
#![cfg(target_arch = "wasm32")]

use dockwright_plugin_sdk::*;

manifest! {
    group: "integrations",
    capabilities: ["read"],
    description: "Reads house-requirements.txt from the pipeline's directory (test fixture)",
}

const FILE: &str = "house-requirements.txt";

struct Reader;

impl RequirementSource for Reader {
    fn contribute(request: Request) -> Result<Contribution, PluginError> {
        let path = format!("{}/{FILE}", request.base_dir);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| PluginError::Unavailable(format!("{path}: {e}")))?;
        let mut out = Contribution::empty();
        for (i, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                out.requirements
                    .push(requirement(line.trim(), format!("{FILE}:{}", i + 1)));
            }
        }
        Ok(out)
    }

    fn integrations(_: Platform) -> Vec<Integration> {
        vec![integration(
            "house-style",
            &[],
            &[],
            "The lines of house-requirements.txt",
        )]
    }
}

export_plugin!(Reader);
