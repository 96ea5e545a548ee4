//! The Dockwright plugin SDK: what a plugin author needs so that a requirement source or an
//! integration provider is one short file.
//!
//! A plugin implements `RequirementSource` (overriding `integrations` when it provides a
//! catalogue of integrations), declares its [`manifest!`], and exports itself with
//! `export_plugin!`. The SDK owns the WIT bindings of the API line it
//! targets ([`API_RANGE`]) and writes the manifest custom section the host reads before it
//! compiles anything.
//!
//! ```ignore
//! use dockwright_plugin_sdk::*;
//!
//! manifest! { group: "integrations", description: "Acme's in-house integrations" }
//!
//! struct Acme;
//! impl RequirementSource for Acme {
//!     fn contribute(request: Request) -> Result<Contribution, PluginError> {
//!         catalogue_contribution::<Acme>(&request)
//!     }
//!     fn integrations(_: Platform) -> Vec<Integration> {
//!         vec![integration("feast", &["feast>=0.40"], &["libpq5"], "Feature store")]
//!     }
//! }
//! export_plugin!(Acme);
//! ```

pub mod manifest;
mod suggest;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod bindings;
#[cfg(target_arch = "wasm32")]
mod guest;

#[cfg(target_arch = "wasm32")]
pub use guest::*;
pub use suggest::closest_names;

/// The plugin API range this SDK builds against: written into every manifest. The SDK's
/// bindings are those of `dockwright:plugin@1.2.0`, whose imports (`host-api-version` since
/// 1.1, `read-metadata` since 1.2) an older host lacks, so plugins built with it need a 1.2
/// host.
pub const API_RANGE: &str = "^1.2";

/// The name of the custom section that holds the manifest.
pub const MANIFEST_SECTION: &str = "dockwright-manifest";
