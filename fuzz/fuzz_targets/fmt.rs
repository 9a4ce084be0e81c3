//! Fuzz target `fmt`: see `mspl_fuzz::harness::fmt`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mspl_fuzz::harness::fmt(data));
