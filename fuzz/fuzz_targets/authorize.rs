//! Fuzz target `authorize`: see `mspl_fuzz::harness::authorize_case`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _judged = mspl_fuzz::harness::authorize_case(data);
});
