//! Fuzz target `oci`: see `dockwright_plugin_host::fuzz::oci`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockwright_plugin_host::fuzz::oci(data));
