//! Fuzz target `parse`: see `mspl_fuzz::harness::parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mspl_fuzz::harness::parse(data));
