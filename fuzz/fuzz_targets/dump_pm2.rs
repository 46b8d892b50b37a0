//! libFuzzer entry for the `dump_pm2` target (see bootproof's src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bootproof_fuzz::dump_pm2(data));
