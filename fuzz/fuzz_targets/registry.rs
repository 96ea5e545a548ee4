//! Fuzz target `registry`: see `dockwright_registry::fuzz_image`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockwright_registry::fuzz_image(data));
