//! One integration test binary: the harness, command-line behaviour on this host, and
//! the reboot-lab scenarios that run bootproof against real systemd and reboot it.

mod harness;

mod app_container;
mod cli;
mod fleet;
mod health;
mod lab_ansible;
mod lab_checks;
mod lab_html;
mod lab_pm2;
mod lab_pm2_units;
mod lab_processes;
mod lab_reload;
mod lab_units;
mod lab_unseen;
mod pm2_native;
mod wrong_verdicts;
