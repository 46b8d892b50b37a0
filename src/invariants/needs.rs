//! Which facts the invariants a run judges read, so that gathering asks for nothing else:
//! `check --only host.state` asks systemd for its state and reads no unit, PM2 home or
//! process; a check without `health.http` probes no endpoint.
//!
//! Coarse on purpose: the units, PM2 homes and processes are judged together (a PM2 home
//! is judged through its unit, a process outside units only once the units and homes
//! that account for processes are known, and the "comes back" prediction reads all of
//! them), so any invariant about them gathers all of them.

use crate::facts::gather::Needs;
use crate::verdict::CheckId;

/// What gathering must ask for so that every invariant in `judged` has its facts.
pub(crate) fn needs(judged: &[CheckId]) -> Needs {
    Needs { services: judged.iter().any(|id| reads_services(*id)), probes: judged.contains(&CheckId::HealthHttp) }
}

/// Whether an invariant reads units, PM2 homes or processes. Exhaustive: a new
/// invariant must say what it reads.
fn reads_services(id: CheckId) -> bool {
    match id {
        CheckId::HostState | CheckId::HealthHttp => false,
        CheckId::SupervisorRegistered
        | CheckId::SupervisorEnabled
        | CheckId::SupervisorActive
        | CheckId::UnitUser
        | CheckId::UnitExec
        | CheckId::UnitRestartPolicy
        | CheckId::UnitStartLimit
        | CheckId::UnitMemoryLimit
        | CheckId::UnitEnvFiles
        | CheckId::UnitInstances
        | CheckId::Pm2Dump
        | CheckId::Pm2DumpFresh
        | CheckId::Pm2Resurrected
        | CheckId::Pm2CrashLoop
        | CheckId::Pm2LogRotation
        | CheckId::Pm2DumpSecrets
        | CheckId::ProcessNotRoot
        | CheckId::ProcessNodeRuntime
        | CheckId::ProcessSupervised
        | CheckId::ProcessDevSupervisor => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_state_alone_reads_no_service_and_probes_nothing() {
        assert_eq!(needs(&[CheckId::HostState]), Needs { services: false, probes: false });
        assert_eq!(needs(&[CheckId::HostState, CheckId::HealthHttp]), Needs { services: false, probes: true });
    }

    #[test]
    fn every_other_invariant_reads_the_services() {
        assert_eq!(needs(CheckId::ALL), Needs::ALL);
        for id in CheckId::ALL.iter().copied().filter(|id| !matches!(id, CheckId::HostState | CheckId::HealthHttp)) {
            assert!(needs(&[CheckId::HostState, id]).services, "{id}");
            assert!(!needs(&[id]).probes, "{id}");
        }
    }
}
