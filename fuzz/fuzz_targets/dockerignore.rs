//! Fuzz target `dockerignore`: see `dockwright_plan::fuzz::dockerignore`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockwright_plan::fuzz::dockerignore(data));
