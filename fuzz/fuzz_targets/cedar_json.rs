//! Fuzz target `cedar_json`: see `mspl_fuzz::harness::cedar_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mspl_fuzz::harness::cedar_json(data));
