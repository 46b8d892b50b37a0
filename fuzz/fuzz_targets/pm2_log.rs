//! libFuzzer entry for the `pm2_log` target (see bootproof's src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bootproof_fuzz::pm2_log(data));
