//! libFuzzer entry for the `check_file` target (see bootproof's src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bootproof_fuzz::check_file(data));
