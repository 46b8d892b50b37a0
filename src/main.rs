//! bootproof: will your Node.js services come back after a reboot, and did they?
//!
//! `main` only parses, runs and maps the outcome to an exit code; see `app` for the wiring.

mod alert;
mod app;
mod atomic;
mod cli;
mod config;
mod exit;
mod facts;
#[cfg(test)]
mod fuzzing;
mod init;
mod invariants;
mod progress;
mod report;
mod state;
mod timer;
mod timings;
mod verdict;
mod wait;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    timings::start();
    let cli = cli::Cli::parse();
    match app::run(cli) {
        Ok(code) => code,
        // A reader that went away (`bootproof check | head`) is not an error.
        Err(app::AppError::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bootproof: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
