//! Fuzz target `requirements_file`: see `requirements::fuzz_requirements_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| requirements::fuzz_requirements_file(data));
