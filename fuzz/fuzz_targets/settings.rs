//! Fuzz target `settings`: see `dockwright_plan::fuzz::settings`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockwright_plan::fuzz::settings(data));
