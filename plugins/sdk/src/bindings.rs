//! Guest bindings of the newest release of API line 1 (`wit/v1.2`).

wit_bindgen::generate!({
    path: "../../wit/v1.2",
    world: "plugin",
    default_bindings_module: "dockwright_plugin_sdk::bindings",
    pub_export_macro: true,
    export_macro_name: "__export_plugin",
});
