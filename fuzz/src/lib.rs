//! bootproof's modules, compiled as they are in `../src` (through `#[path]`, so nothing is
//! copied and the binary crate keeps its shape), with the fuzz targets of
//! `../src/fuzzing.rs` made callable from the libFuzzer binaries in `fuzz_targets/`.
//! Most of bootproof is unused here; that is expected, hence the allowances.

#![allow(dead_code, unused_imports, unused_macros, unreachable_pub)]

#[path = "../../src/atomic.rs"]
mod atomic;
#[path = "../../src/config/mod.rs"]
mod config;
#[path = "../../src/facts/mod.rs"]
mod facts;
#[path = "../../src/fuzzing.rs"]
mod fuzzing;
#[path = "../../src/init.rs"]
mod init;
#[path = "../../src/invariants/mod.rs"]
mod invariants;
#[path = "../../src/report/mod.rs"]
mod report;
#[path = "../../src/state.rs"]
mod state;
#[path = "../../src/timings.rs"]
mod timings;
#[path = "../../src/verdict/mod.rs"]
mod verdict;

/// One public entry per target of `fuzzing`.
macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        $(
            /// See the target of the same name in bootproof's `src/fuzzing.rs`.
            pub fn $name(data: &[u8]) {
                fuzzing::$name(data)
            }
        )*
    };
}

targets!(dump_pm2, amp_reply, check_file, state_file, facts_file, proc_lines, unit_file, pm2_log);
