//! bootproof: will your Node.js services come back after a reboot, and did they?

mod exit;
mod facts;
mod invariants;
mod report;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
