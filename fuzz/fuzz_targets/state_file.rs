//! libFuzzer entry for the `state_file` target (see bootproof's src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bootproof_fuzz::state_file(data));
