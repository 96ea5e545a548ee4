//! Host bindings of `dockwright:plugin@1.0.0` (`wit/v1.0`), for plugins built against 1.0.
//! Its types and its host interface are those of the newest release ([`super::since_v1_2`]),
//! which only added to them; what differs is the version of the exports a 1.0 plugin has.

wasmtime::component::bindgen!({
    path: "../../../wit/v1.0",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "dockwright:plugin/types": super::since_v1_2::dockwright::plugin::types,
        "dockwright:plugin/host": super::since_v1_2::dockwright::plugin::host,
    },
});

/// The oldest plugin API version these bindings serve.
pub(crate) const MIN_VERSION: semver::Version = semver::Version::new(1, 0, 0);
