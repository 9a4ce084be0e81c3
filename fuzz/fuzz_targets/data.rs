//! Fuzz target `data`: see `mspl_fuzz::harness::data`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mspl_fuzz::harness::data(data));
