//! Fuzz target `manifest`: see `dockwright_plugin_host::fuzz::manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockwright_plugin_host::fuzz::manifest(data));
