//! libFuzzer entry for the `amp_reply` target (see bootproof's src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bootproof_fuzz::amp_reply(data));
