//! One integration test binary: the harness, command-line behaviour on this host, and
//! the reboot-lab scenarios that run bootproof against real systemd and reboot it.

mod harness;

mod app_container;
mod cli;
mod faults;
mod fleet;
mod health;
mod hostile;
mod lab_ansible;
mod lab_checks;
mod lab_faults;
mod lab_hostile;
mod lab_html;
mod lab_no_bus;
mod lab_package;
mod lab_pm2;
mod lab_pm2_units;
mod lab_privilege;
mod lab_processes;
mod lab_readonly;
mod lab_reload;
mod lab_unattended;
mod lab_units;
mod lab_unseen;
mod pm2_native;
mod unattended;
mod wrong_verdicts;
