//! libFuzzer entry for the `proc_lines` target (see bootproof's src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bootproof_fuzz::proc_lines(data));
