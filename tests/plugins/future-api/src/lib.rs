//! A test fixture built against API line 2, which this host does not support.
#![cfg(target_arch = "wasm32")]

use dockwright_plugin_sdk::manifest::{Manifest, encode, encoded_len};

wit_bindgen::generate!({ path: "wit", world: "requirement-source" });

const MANIFEST: Manifest = Manifest {
    name: "future-api",
    version: "0.1.0",
    api: "^2.0",
    group: "requirements",
    capabilities: &[],
    description: "Built against plugin API 2.0 (test fixture)",
};
const LEN: usize = encoded_len(&MANIFEST);
#[unsafe(link_section = "dockwright-manifest")]
#[used]
static SECTION: [u8; LEN] = encode::<LEN>(&MANIFEST);

struct Future;

impl exports::dockwright::plugin::source::Guest for Future {
    fn contribute(_: Vec<(String, String)>) -> Result<Vec<String>, String> {
        Ok(vec!["six".into()])
    }
}

export!(Future);
