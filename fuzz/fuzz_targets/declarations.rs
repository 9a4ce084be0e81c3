//! Fuzz target `declarations`: see `mspl_fuzz::harness::declarations`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mspl_fuzz::harness::declarations(data));
