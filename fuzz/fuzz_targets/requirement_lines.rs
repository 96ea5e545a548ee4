//! Fuzz target `requirement_lines`: see `dockwright_plan::fuzz::requirement_lines`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dockwright_plan::fuzz::requirement_lines(data));
