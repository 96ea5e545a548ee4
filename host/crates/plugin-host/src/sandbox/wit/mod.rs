//! The plugin API as the host sees it: one bindings module per released WIT folder
//! (`wit/v1.0`, `wit/v1.1`, …), each with the oldest version it serves. A plugin is linked
//! with the bindings of the version it was built against, so its exports are called exactly
//! as they were declared; the older modules reuse the newest's types, so one host
//! implementation and one set of conversions serve them all.

mod since_v1_0;
mod since_v1_1;
mod since_v1_2;

use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

pub use since_v1_2::dockwright::plugin::host as host_api;
pub use since_v1_2::dockwright::plugin::types as api;

/// The interface every line-1 plugin exports, without the version.
pub const SOURCE_EXPORT: &str = "dockwright:plugin/source";

/// Adds the host's side of the newest API to `linker`. Plugins built against an older 1.x
/// import an older version of the same interface, which the linker serves by semver.
pub(crate) fn add_to_linker<T: api::Host + host_api::Host + Send + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    since_v1_2::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
}

/// A plugin pre-linked with the bindings of the API version it was built against.
pub(crate) enum PluginPre<T: 'static> {
    V1_0(since_v1_0::PluginPre<T>),
    V1_1(since_v1_1::PluginPre<T>),
    V1_2(since_v1_2::PluginPre<T>),
}

impl<T: Send + 'static> PluginPre<T> {
    /// Picks the bindings for a plugin whose `source` export has version `built_for`.
    pub fn new(built_for: &semver::Version, pre: InstancePre<T>) -> wasmtime::Result<Self> {
        Ok(if *built_for >= since_v1_2::MIN_VERSION {
            PluginPre::V1_2(since_v1_2::PluginPre::new(pre)?)
        } else if *built_for >= since_v1_1::MIN_VERSION {
            PluginPre::V1_1(since_v1_1::PluginPre::new(pre)?)
        } else {
            debug_assert!(*built_for >= since_v1_0::MIN_VERSION);
            PluginPre::V1_0(since_v1_0::PluginPre::new(pre)?)
        })
    }

    /// Instantiates the plugin and calls its `source.contribute`.
    pub async fn contribute(
        &self,
        store: &mut Store<T>,
        request: &api::Request,
    ) -> wasmtime::Result<Result<api::Contribution, api::PluginError>> {
        match self {
            PluginPre::V1_0(pre) => {
                pre.instantiate_async(&mut *store)
                    .await?
                    .dockwright_plugin_source()
                    .call_contribute(&mut *store, request)
                    .await
            }
            PluginPre::V1_1(pre) => {
                pre.instantiate_async(&mut *store)
                    .await?
                    .dockwright_plugin_source()
                    .call_contribute(&mut *store, request)
                    .await
            }
            PluginPre::V1_2(pre) => {
                pre.instantiate_async(&mut *store)
                    .await?
                    .dockwright_plugin_source()
                    .call_contribute(&mut *store, request)
                    .await
            }
        }
    }

    /// Instantiates the plugin and calls its `catalogue.integrations`.
    pub async fn integrations(
        &self,
        store: &mut Store<T>,
        platform: &api::Platform,
    ) -> wasmtime::Result<Vec<api::Integration>> {
        match self {
            PluginPre::V1_0(pre) => {
                pre.instantiate_async(&mut *store)
                    .await?
                    .dockwright_plugin_catalogue()
                    .call_integrations(&mut *store, platform)
                    .await
            }
            PluginPre::V1_1(pre) => {
                pre.instantiate_async(&mut *store)
                    .await?
                    .dockwright_plugin_catalogue()
                    .call_integrations(&mut *store, platform)
                    .await
            }
            PluginPre::V1_2(pre) => {
                pre.instantiate_async(&mut *store)
                    .await?
                    .dockwright_plugin_catalogue()
                    .call_integrations(&mut *store, platform)
                    .await
            }
        }
    }
}
