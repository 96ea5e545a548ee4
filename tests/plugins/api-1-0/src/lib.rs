//! A test fixture frozen at plugin API 1.0.0: its bindings come from `wit/v1.0`, the text of
//! `dockwright:plugin@1.0.0` as released (frozen, like every released minor), and its manifest
//! is written by hand (`^1.0`), so newer SDKs cannot move it. It shows that a host of a later
//! 1.x still loads and runs a plugin built for 1.0.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ path: "../../../wit/v1.0", world: "plugin" });

use dockwright::plugin::host;
use dockwright::plugin::types::{
    Contribution, Integration, Platform, PluginError, Request, Requirement, UnknownName,
};

/// The manifest, written by hand as the 1.0 SDK wrote it: no SDK dependency at all, since
/// linking the SDK would pull its newer bindings (and their imports) into this component.
const MANIFEST: &[u8] = br#"{"name":"api-1-0","version":"0.3.0","api":"^1.0","group":"integrations","description":"Built against plugin API 1.0.0 (test fixture)","capabilities":[]}"#;
#[unsafe(link_section = "dockwright-manifest")]
#[used]
static SECTION: [u8; MANIFEST.len()] = *const_array(MANIFEST);

const fn const_array<const N: usize>(bytes: &[u8]) -> &[u8; N] {
    match bytes.as_array() {
        Some(array) => array,
        None => panic!("manifest length"),
    }
}

const NAME: &str = "legacy-tool";
const LINE: &str = "legacy-tool==1.0.0";

struct Legacy;

impl exports::dockwright::plugin::source::Guest for Legacy {
    fn contribute(request: Request) -> Result<Contribution, PluginError> {
        let settings: serde_json::Value = serde_json::from_str(&request.settings)
            .map_err(|e| PluginError::InvalidInput(e.to_string()))?;
        let mut requirements = Vec::new();
        for name in settings["required_integrations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            if name != NAME {
                return Err(PluginError::UnknownName(UnknownName {
                    name: name.to_string(),
                    suggestions: vec![NAME.to_string()],
                }));
            }
            requirements.push(Requirement {
                line: LINE.to_string(),
                origin: format!("integration {NAME}"),
            });
        }
        host::log(host::LogLevel::Info, "served by a 1.0.0 plugin");
        Ok(Contribution {
            requirements,
            apt_packages: Vec::new(),
            notes: vec!["built against plugin API 1.0.0".to_string()],
        })
    }
}

impl exports::dockwright::plugin::catalogue::Guest for Legacy {
    fn integrations(_: Platform) -> Vec<Integration> {
        vec![Integration {
            name: NAME.to_string(),
            requirements: vec![LINE.to_string()],
            apt_packages: Vec::new(),
            description: "An integration served by a plugin built for API 1.0.0".to_string(),
        }]
    }
}

export!(Legacy);
