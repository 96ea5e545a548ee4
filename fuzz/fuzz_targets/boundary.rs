//! Fuzz target `boundary`: see `dockwright_plugin_host::fuzz::boundary`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockwright_plugin_host::fuzz::boundary(data));
