//! The systemd manager over D-Bus (zbus, async): plain method calls, no proxies.
//!
//! Everything here reads; nothing starts, stops or reloads a unit (`LoadUnit`
//! only brings a unit file into the manager's memory, as `systemctl status` does).
//! Unit properties are fetched with `GetAll` per interface and decoded by explicit
//! D-Bus names into [`UnitReply`] and [`ServiceReply`], so a renamed or retyped
//! property is an error with its name, not a silent default. State words are typed
//! here (see `super::states`), once.

use std::collections::HashMap;

use zbus::Connection;
use zbus::wire::{OwnedObjectPath, OwnedVariant, Variant};

use super::states::{ActiveState, LoadState, RestartPolicy, SubState, SystemState, UnitFileState};

/// The manager's bus name.
const DESTINATION: &str = "org.freedesktop.systemd1";
/// The manager's object.
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
/// The manager's interface.
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// Properties every unit has.
const UNIT: &str = "org.freedesktop.systemd1.Unit";
/// Properties of service units.
const SERVICE: &str = "org.freedesktop.systemd1.Service";
/// The standard properties interface.
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// A property dictionary as `GetAll` returns it.
pub(crate) type Props = HashMap<String, OwnedVariant>;

/// Why a systemd read failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SystemdError {
    /// The D-Bus call itself failed (no such unit, access denied, bus gone).
    #[error("{method} on {path} failed: {source}")]
    Call {
        /// `Interface.Method` called.
        method: String,
        /// The object called.
        path: String,
        /// What the bus said.
        #[source]
        source: zbus::Error,
    },
    /// A property was missing or had an unexpected type.
    #[error("property {name}: {problem}")]
    Property {
        /// The D-Bus property name.
        name: &'static str,
        /// What was wrong with it.
        problem: String,
    },
}

/// One unit as `ListUnitsByPatterns` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListedUnit {
    /// `my-app@3000.service`.
    pub(crate) name: String,
    /// `loaded`, `not-found`, `bad-setting`, …
    pub(crate) load_state: LoadState,
    /// The unit's object, as the manager names it.
    pub(crate) path: OwnedObjectPath,
}

/// One `ExecStart=` entry as systemd parsed it (`a(sasbttttuii)`, first fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExecLine {
    /// The binary executed.
    pub(crate) path: String,
    /// Its argv, `argv[0]` included.
    pub(crate) argv: Vec<String>,
    /// Written with `-`: a failure is ignored.
    pub(crate) ignore_failure: bool,
}

/// The `org.freedesktop.systemd1.Unit` properties bootproof uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UnitReply {
    /// `LoadState`.
    pub(crate) load_state: LoadState,
    /// `LoadError` message, when there is one.
    pub(crate) load_error: Option<String>,
    /// `FragmentPath`, when set.
    pub(crate) fragment_path: Option<String>,
    /// `DropInPaths`.
    pub(crate) drop_in_paths: Vec<String>,
    /// `NeedDaemonReload`.
    pub(crate) need_daemon_reload: bool,
    /// `UnitFileState`.
    pub(crate) unit_file_state: UnitFileState,
    /// `WantedBy`.
    pub(crate) wanted_by: Vec<String>,
    /// `RequiredBy`.
    pub(crate) required_by: Vec<String>,
    /// What pulls the unit in: `WantedBy`, `RequiredBy`, `UpheldBy`, `BoundBy` (see
    /// [`Systemd::pulled_in_from`]), so the boot chain's first step needs no call of its own.
    pub(crate) pulled_in_from: Vec<String>,
    /// `ActiveState`.
    pub(crate) active_state: ActiveState,
    /// `SubState`.
    pub(crate) sub_state: SubState,
    /// `ActiveEnterTimestamp`, µs since the epoch; 0 when never active.
    pub(crate) active_enter_usec: u64,
    /// `StartLimitBurst`.
    pub(crate) start_limit_burst: u32,
    /// `StartLimitIntervalUSec`.
    pub(crate) start_limit_interval_usec: u64,
    /// `Conditions` then `Asserts`.
    pub(crate) conditions: Vec<ConditionLine>,
}

/// One entry of `Conditions`/`Asserts` (`a(sbbsi)`: type, trigger, negate, parameter, state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConditionLine {
    /// `ConditionPathExists`, `AssertPathIsDirectory`, …
    pub(crate) kind: String,
    /// Written with `|`.
    pub(crate) trigger: bool,
    /// Written with `!`.
    pub(crate) negate: bool,
    /// The value.
    pub(crate) parameter: String,
}

/// The `org.freedesktop.systemd1.Service` properties bootproof uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServiceReply {
    /// `User`.
    pub(crate) user: String,
    /// `Group`.
    pub(crate) group: String,
    /// `DynamicUser`.
    pub(crate) dynamic_user: bool,
    /// `ExecStart`.
    pub(crate) exec_start: Vec<ExecLine>,
    /// `ExecStartPre`.
    pub(crate) exec_start_pre: Vec<ExecLine>,
    /// `Environment`.
    pub(crate) environment: Vec<String>,
    /// `EnvironmentFiles`: path and whether it is optional (`-`).
    pub(crate) environment_files: Vec<(String, bool)>,
    /// `WorkingDirectory`.
    pub(crate) working_directory: String,
    /// `Restart`.
    pub(crate) restart: RestartPolicy,
    /// `RestartUSec`.
    pub(crate) restart_usec: u64,
    /// `MemoryMax`; `None` when unlimited.
    pub(crate) memory_max: Option<u64>,
    /// `MemoryHigh`; `None` when unlimited.
    pub(crate) memory_high: Option<u64>,
    /// `MainPID`.
    pub(crate) main_pid: u32,
    /// `NRestarts`.
    pub(crate) n_restarts: u32,
    /// `ControlGroup`.
    pub(crate) control_group: String,
    /// `StandardOutput`.
    pub(crate) standard_output: String,
    /// `StandardError`.
    pub(crate) standard_error: String,
    /// `ExecStop`.
    pub(crate) exec_stop: Vec<ExecLine>,
    /// `KillMode`: `control-group`, `mixed`, `process`, `none`.
    pub(crate) kill_mode: String,
}

/// A connection to the systemd manager on the system bus.
#[derive(Clone, Debug)]
pub(crate) struct Systemd {
    /// The one connection every call shares; zbus multiplexes concurrent calls on it.
    conn: Connection,
}

impl Systemd {
    /// Connects to the system bus (`DBUS_SYSTEM_BUS_ADDRESS` honoured by zbus).
    pub(crate) async fn connect() -> zbus::Result<Systemd> {
        let _span = crate::timings::span("dbus: connect");
        Ok(Systemd { conn: Connection::system().await? })
    }

    /// Calls a method of the manager service and decodes the reply body.
    async fn call<B, R>(&self, path: &str, interface: &str, method: &str, body: &B) -> Result<R, SystemdError>
    where
        B: serde::Serialize + zbus::wire::DynamicType,
        R: for<'d> serde::Deserialize<'d> + zbus::wire::Type,
    {
        let failed =
            |source| SystemdError::Call { method: format!("{interface}.{method}"), path: path.to_owned(), source };
        let counted = crate::timings::dbus_call();
        let reply =
            self.conn.call_method(Some(DESTINATION), path, Some(interface), method, body).await.map_err(failed)?;
        counted.replied(reply.data().len());
        reply.body().deserialize::<R>().map_err(failed)
    }

    /// Reads one property of an object.
    pub(crate) async fn property(&self, path: &str, interface: &str, name: &str) -> Result<OwnedVariant, SystemdError> {
        self.call(path, PROPERTIES, "Get", &(interface, name)).await
    }

    /// Reads all properties of one interface of an object.
    pub(crate) async fn all_properties(&self, path: &str, interface: &str) -> Result<Props, SystemdError> {
        self.call(path, PROPERTIES, "GetAll", &(interface,)).await
    }

    /// Reads a manager property and decodes it with `decode`.
    async fn manager_property<T>(
        &self,
        name: &'static str,
        decode: fn(&'static str, &Variant<'_>) -> Result<T, SystemdError>,
    ) -> Result<T, SystemdError> {
        let value = self.property(MANAGER_PATH, MANAGER, name).await?;
        decode(name, &value)
    }

    /// `SystemState`: `running`, `degraded`, `starting`, …
    pub(crate) async fn system_state(&self) -> Result<SystemState, SystemdError> {
        self.manager_property("SystemState", as_string).await.map(|state| SystemState::parse(&state))
    }

    /// `UserspaceTimestamp`: when systemd started on this boot, µs since the epoch.
    pub(crate) async fn userspace_timestamp(&self) -> Result<u64, SystemdError> {
        self.manager_property("UserspaceTimestamp", as_u64).await
    }

    /// `UnitPath`: the directories systemd loads unit files from, highest priority first.
    pub(crate) async fn unit_path(&self) -> Result<Vec<String>, SystemdError> {
        self.manager_property("UnitPath", as_strings).await
    }

    /// `GetUnitFileState`: the enablement state of one unit file (`enabled`, `indirect`, …).
    pub(crate) async fn unit_file_state(&self, name: &str) -> Result<UnitFileState, SystemdError> {
        let state: String = self.call(MANAGER_PATH, MANAGER, "GetUnitFileState", &(name,)).await?;
        Ok(UnitFileState::parse(&state))
    }

    /// `GetDefaultTarget`: what `default.target` points at.
    pub(crate) async fn default_target(&self) -> Result<String, SystemdError> {
        self.call(MANAGER_PATH, MANAGER, "GetDefaultTarget", &()).await
    }

    /// The names of units in the `failed` state.
    pub(crate) async fn failed_units(&self) -> Result<Vec<String>, SystemdError> {
        let units: Vec<ListUnitsRow> =
            self.call(MANAGER_PATH, MANAGER, "ListUnitsFiltered", &(vec!["failed"],)).await?;
        Ok(units.into_iter().map(|row| row.0).collect())
    }

    /// Units in the manager's memory matching `patterns`, in any state (empty state
    /// filter: inactive and failed units too).
    pub(crate) async fn list_units(&self, patterns: &[&str]) -> Result<Vec<ListedUnit>, SystemdError> {
        let no_states: Vec<&str> = Vec::new();
        let units: Vec<ListUnitsRow> =
            self.call(MANAGER_PATH, MANAGER, "ListUnitsByPatterns", &(no_states, patterns)).await?;
        Ok(units
            .into_iter()
            .map(|row| ListedUnit { name: row.0, load_state: LoadState::parse(&row.2), path: row.6 })
            .collect())
    }

    /// Loads a unit (from disk if not in memory yet) and returns its object path.
    pub(crate) async fn load_unit(&self, name: &str) -> Result<OwnedObjectPath, SystemdError> {
        self.call(MANAGER_PATH, MANAGER, "LoadUnit", &(name,)).await
    }

    /// A service's `ExecStart` alone: cheap enough to ask of every service on the host.
    pub(crate) async fn exec_start(&self, path: &str) -> Result<Vec<ExecLine>, SystemdError> {
        let value = self.property(path, SERVICE, "ExecStart").await?;
        as_exec_lines("ExecStart", &value)
    }

    /// What a unit pulls in: `Wants` and `Requires`, fetched concurrently.
    pub(crate) async fn pulled_in_by(&self, name: &str) -> Result<Vec<String>, SystemdError> {
        let path = self.load_unit(name).await?;
        let (wants, requires) =
            futures_util::future::join(self.property(&path, UNIT, "Wants"), self.property(&path, UNIT, "Requires"))
                .await;
        let mut names = as_strings("Wants", &*wants?)?;
        names.extend(as_strings("Requires", &*requires?)?);
        Ok(names)
    }

    /// The units that pull `name` in: its `WantedBy`, `RequiredBy`, `UpheldBy` and
    /// `BoundBy`. The last two are read when this systemd has them (`UpheldBy` is 249+).
    pub(crate) async fn pulled_in_from(&self, name: &str) -> Result<Vec<String>, SystemdError> {
        let path = self.load_unit(name).await?;
        let props = self.all_properties(&path, UNIT).await?;
        pulled_in_from(&props)
    }

    /// Both property sets of a service unit, fetched concurrently.
    pub(crate) async fn service_unit(
        &self,
        path: &str,
    ) -> (Result<UnitReply, SystemdError>, Result<ServiceReply, SystemdError>) {
        let (unit, service) =
            futures_util::future::join(self.all_properties(path, UNIT), self.all_properties(path, SERVICE)).await;
        (unit.and_then(|props| UnitReply::decode(&props)), service.and_then(|props| ServiceReply::decode(&props)))
    }
}

/// A row of `ListUnits*`: name, description, load state, active state, sub state,
/// followed unit, object path, job id, job type, job path.
type ListUnitsRow = (String, String, String, String, String, String, OwnedObjectPath, u32, String, OwnedObjectPath);

/// `WantedBy`, `RequiredBy`, and `UpheldBy` and `BoundBy` when this systemd has them
/// (`UpheldBy` is 249+), from a `GetAll` of the Unit interface.
fn pulled_in_from(props: &Props) -> Result<Vec<String>, SystemdError> {
    let mut names = as_strings("WantedBy", get(props, "WantedBy")?)?;
    names.extend(as_strings("RequiredBy", get(props, "RequiredBy")?)?);
    for optional in ["UpheldBy", "BoundBy"] {
        if let Ok(value) = get(props, optional) {
            names.extend(as_strings(optional, value)?);
        }
    }
    Ok(names)
}

/// A property problem.
fn bad(name: &'static str, problem: impl Into<String>) -> SystemdError {
    SystemdError::Property { name, problem: problem.into() }
}

/// The value inside any variant wrapping.
fn unwrap_variant<'v, 'a>(value: &'v Variant<'a>) -> &'v Variant<'a> {
    match value {
        Variant::Variant(inner) => unwrap_variant(inner),
        other => other,
    }
}

/// Names the type of a value for an error message.
fn type_of(value: &Variant<'_>) -> String {
    value.value_signature().to_string()
}

/// Looks a property up in a `GetAll` dictionary.
fn get<'p>(props: &'p Props, name: &'static str) -> Result<&'p Variant<'static>, SystemdError> {
    props.get(name).map(|value| unwrap_variant(value)).ok_or_else(|| bad(name, "missing"))
}

/// Decodes a string (or object path) property.
fn as_string(name: &'static str, value: &Variant<'_>) -> Result<String, SystemdError> {
    match unwrap_variant(value) {
        Variant::Str(text) => Ok(text.as_str().to_owned()),
        Variant::ObjectPath(path) => Ok(path.as_str().to_owned()),
        other => Err(bad(name, format!("expected a string, got {}", type_of(other)))),
    }
}

/// Decodes a boolean property.
fn as_bool(name: &'static str, value: &Variant<'_>) -> Result<bool, SystemdError> {
    match unwrap_variant(value) {
        Variant::Bool(flag) => Ok(*flag),
        other => Err(bad(name, format!("expected a boolean, got {}", type_of(other)))),
    }
}

/// Decodes an unsigned 32-bit property.
fn as_u32(name: &'static str, value: &Variant<'_>) -> Result<u32, SystemdError> {
    match unwrap_variant(value) {
        Variant::U32(number) => Ok(*number),
        other => Err(bad(name, format!("expected u32, got {}", type_of(other)))),
    }
}

/// Decodes an unsigned 64-bit property.
fn as_u64(name: &'static str, value: &Variant<'_>) -> Result<u64, SystemdError> {
    match unwrap_variant(value) {
        Variant::U64(number) => Ok(*number),
        other => Err(bad(name, format!("expected u64, got {}", type_of(other)))),
    }
}

/// Decodes a byte limit where `u64::MAX` means unlimited (`MemoryMax=infinity`).
fn as_limit(name: &'static str, value: &Variant<'_>) -> Result<Option<u64>, SystemdError> {
    as_u64(name, value).map(|limit| (limit != u64::MAX).then_some(limit))
}

/// Decodes an array of strings (`as`).
fn as_strings(name: &'static str, value: &Variant<'_>) -> Result<Vec<String>, SystemdError> {
    match unwrap_variant(value) {
        Variant::Array(array) => array.inner().iter().map(|item| as_string(name, item)).collect(),
        other => Err(bad(name, format!("expected an array of strings, got {}", type_of(other)))),
    }
}

/// The fields of one structure element of an array property.
fn struct_fields<'v, 'a>(name: &'static str, value: &'v Variant<'a>) -> Result<&'v [Variant<'a>], SystemdError> {
    match unwrap_variant(value) {
        Variant::Structure(structure) => Ok(structure.fields()),
        other => Err(bad(name, format!("expected a structure, got {}", type_of(other)))),
    }
}

/// Field `index` of a structure, or a property error naming what is missing.
fn field<'v, 'a>(name: &'static str, fields: &'v [Variant<'a>], index: usize) -> Result<&'v Variant<'a>, SystemdError> {
    fields.get(index).ok_or_else(|| bad(name, format!("structure has no field {index}")))
}

/// The elements of an array property.
fn array_items<'v, 'a>(name: &'static str, value: &'v Variant<'a>) -> Result<&'v [Variant<'a>], SystemdError> {
    match unwrap_variant(value) {
        Variant::Array(array) => Ok(array.inner()),
        other => Err(bad(name, format!("expected an array, got {}", type_of(other)))),
    }
}

/// Decodes `ExecStart`-like properties (`a(sasbttttuii)`): path, argv, ignore flag.
fn as_exec_lines(name: &'static str, value: &Variant<'_>) -> Result<Vec<ExecLine>, SystemdError> {
    array_items(name, value)?
        .iter()
        .map(|item| {
            let fields = struct_fields(name, item)?;
            Ok(ExecLine {
                path: as_string(name, field(name, fields, 0)?)?,
                argv: as_strings(name, field(name, fields, 1)?)?,
                ignore_failure: as_bool(name, field(name, fields, 2)?)?,
            })
        })
        .collect()
}

/// Decodes `Conditions`/`Asserts` (`a(sbbsi)`); the last evaluation's state is not kept:
/// it describes the last start, not the next boot.
fn as_conditions(name: &'static str, value: &Variant<'_>) -> Result<Vec<ConditionLine>, SystemdError> {
    array_items(name, value)?
        .iter()
        .map(|item| {
            let fields = struct_fields(name, item)?;
            Ok(ConditionLine {
                kind: as_string(name, field(name, fields, 0)?)?,
                trigger: as_bool(name, field(name, fields, 1)?)?,
                negate: as_bool(name, field(name, fields, 2)?)?,
                parameter: as_string(name, field(name, fields, 3)?)?,
            })
        })
        .collect()
}

/// Decodes `EnvironmentFiles` (`a(sb)`): path and whether it is optional.
fn as_environment_files(name: &'static str, value: &Variant<'_>) -> Result<Vec<(String, bool)>, SystemdError> {
    array_items(name, value)?
        .iter()
        .map(|item| {
            let fields = struct_fields(name, item)?;
            Ok((as_string(name, field(name, fields, 0)?)?, as_bool(name, field(name, fields, 1)?)?))
        })
        .collect()
}

/// Decodes `LoadError` (`(ss)`: error name, message); `None` when the name is empty.
fn as_load_error(name: &'static str, value: &Variant<'_>) -> Result<Option<String>, SystemdError> {
    let fields = struct_fields(name, value)?;
    let error_name = as_string(name, field(name, fields, 0)?)?;
    let message = as_string(name, field(name, fields, 1)?)?;
    if error_name.is_empty() {
        return Ok(None);
    }
    Ok(Some(if message.is_empty() { error_name } else { message }))
}

/// A string property that is absent when empty.
fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

impl UnitReply {
    /// Decodes a `GetAll` of `org.freedesktop.systemd1.Unit`.
    pub(crate) fn decode(props: &Props) -> Result<UnitReply, SystemdError> {
        Ok(UnitReply {
            load_state: LoadState::parse(&as_string("LoadState", get(props, "LoadState")?)?),
            load_error: as_load_error("LoadError", get(props, "LoadError")?)?,
            fragment_path: non_empty(as_string("FragmentPath", get(props, "FragmentPath")?)?),
            drop_in_paths: as_strings("DropInPaths", get(props, "DropInPaths")?)?,
            need_daemon_reload: as_bool("NeedDaemonReload", get(props, "NeedDaemonReload")?)?,
            unit_file_state: UnitFileState::parse(&as_string("UnitFileState", get(props, "UnitFileState")?)?),
            wanted_by: as_strings("WantedBy", get(props, "WantedBy")?)?,
            required_by: as_strings("RequiredBy", get(props, "RequiredBy")?)?,
            pulled_in_from: pulled_in_from(props)?,
            active_state: ActiveState::parse(&as_string("ActiveState", get(props, "ActiveState")?)?),
            sub_state: SubState::parse(&as_string("SubState", get(props, "SubState")?)?),
            active_enter_usec: as_u64("ActiveEnterTimestamp", get(props, "ActiveEnterTimestamp")?)?,
            start_limit_burst: as_u32("StartLimitBurst", get(props, "StartLimitBurst")?)?,
            start_limit_interval_usec: as_u64("StartLimitIntervalUSec", get(props, "StartLimitIntervalUSec")?)?,
            conditions: {
                let mut all = as_conditions("Conditions", get(props, "Conditions")?)?;
                all.extend(as_conditions("Asserts", get(props, "Asserts")?)?);
                all
            },
        })
    }
}

impl ServiceReply {
    /// Decodes a `GetAll` of `org.freedesktop.systemd1.Service`.
    pub(crate) fn decode(props: &Props) -> Result<ServiceReply, SystemdError> {
        Ok(ServiceReply {
            user: as_string("User", get(props, "User")?)?,
            group: as_string("Group", get(props, "Group")?)?,
            dynamic_user: as_bool("DynamicUser", get(props, "DynamicUser")?)?,
            exec_start: as_exec_lines("ExecStart", get(props, "ExecStart")?)?,
            exec_start_pre: as_exec_lines("ExecStartPre", get(props, "ExecStartPre")?)?,
            environment: as_strings("Environment", get(props, "Environment")?)?,
            environment_files: as_environment_files("EnvironmentFiles", get(props, "EnvironmentFiles")?)?,
            working_directory: as_string("WorkingDirectory", get(props, "WorkingDirectory")?)?,
            restart: RestartPolicy::parse(&as_string("Restart", get(props, "Restart")?)?),
            restart_usec: as_u64("RestartUSec", get(props, "RestartUSec")?)?,
            memory_max: as_limit("MemoryMax", get(props, "MemoryMax")?)?,
            memory_high: as_limit("MemoryHigh", get(props, "MemoryHigh")?)?,
            main_pid: as_u32("MainPID", get(props, "MainPID")?)?,
            n_restarts: as_u32("NRestarts", get(props, "NRestarts")?)?,
            control_group: as_string("ControlGroup", get(props, "ControlGroup")?)?,
            standard_output: as_string("StandardOutput", get(props, "StandardOutput")?)?,
            standard_error: as_string("StandardError", get(props, "StandardError")?)?,
            exec_stop: as_exec_lines("ExecStop", get(props, "ExecStop")?)?,
            kill_mode: as_string("KillMode", get(props, "KillMode")?)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(value: Variant<'static>) -> OwnedVariant {
        match value.try_into_owned() {
            Ok(owned) => owned,
            Err(err) => panic!("test value does not convert: {err}"),
        }
    }

    fn unit_props() -> Props {
        let mut props = Props::new();
        let mut put = |name: &str, value: Variant<'static>| {
            props.insert(name.to_owned(), owned(value));
        };
        put("LoadState", Variant::from("loaded"));
        put("LoadError", Variant::from((String::new(), String::new())));
        put("FragmentPath", Variant::from("/etc/systemd/system/my-app@.service"));
        put("DropInPaths", Variant::from(Vec::<String>::new()));
        put("NeedDaemonReload", Variant::from(false));
        put("UnitFileState", Variant::from("enabled"));
        put("WantedBy", Variant::from(vec!["multi-user.target".to_owned()]));
        put("RequiredBy", Variant::from(Vec::<String>::new()));
        put("ActiveState", Variant::from("active"));
        put("SubState", Variant::from("running"));
        put("ActiveEnterTimestamp", Variant::from(1_700_000_000_000_000u64));
        put("StartLimitBurst", Variant::from(3u32));
        put("StartLimitIntervalUSec", Variant::from(60_000_000u64));
        put(
            "Conditions",
            Variant::from(vec![(
                "ConditionPathExists".to_owned(),
                false,
                true,
                "/etc/my-app/disabled".to_owned(),
                0i32,
            )]),
        );
        put("Asserts", Variant::from(Vec::<(String, bool, bool, String, i32)>::new()));
        props
    }

    #[test]
    fn unit_properties_decode() {
        let unit = UnitReply::decode(&unit_props());
        let unit = match unit {
            Ok(unit) => unit,
            Err(err) => panic!("{err}"),
        };
        assert_eq!(unit.load_error, None);
        assert_eq!(unit.fragment_path.as_deref(), Some("/etc/systemd/system/my-app@.service"));
        assert_eq!(unit.wanted_by, vec!["multi-user.target"]);
        assert_eq!(unit.start_limit_burst, 3);
        assert_eq!(
            unit.conditions,
            vec![ConditionLine {
                kind: "ConditionPathExists".into(),
                trigger: false,
                negate: true,
                parameter: "/etc/my-app/disabled".into(),
            }]
        );
    }

    #[test]
    fn missing_and_mistyped_properties_name_themselves() {
        let mut props = unit_props();
        props.remove("SubState");
        let err = UnitReply::decode(&props).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("property SubState: missing"));
        let mut props = unit_props();
        props.insert("StartLimitBurst".into(), owned(Variant::from(3u64)));
        let err = UnitReply::decode(&props).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("property StartLimitBurst: expected u32, got t"));
    }

    #[test]
    fn load_error_prefers_the_message() {
        let value =
            Variant::from(("org.freedesktop.systemd1.NoSuchUnit".to_owned(), "Unit x.service not found.".to_owned()));
        assert_eq!(as_load_error("LoadError", &value).ok().flatten().as_deref(), Some("Unit x.service not found."));
    }

    #[test]
    fn exec_start_decodes() {
        let line = (
            "/usr/bin/node".to_owned(),
            vec!["/usr/bin/node".to_owned(), "/opt/my-app/server.js".to_owned()],
            false,
            0u64,
            0u64,
            0u64,
            0u64,
            0u32,
            0i32,
            0i32,
        );
        let value = Variant::from(vec![line]);
        let lines = as_exec_lines("ExecStart", &value).unwrap_or_default();
        assert_eq!(
            lines,
            vec![ExecLine {
                path: "/usr/bin/node".into(),
                argv: vec!["/usr/bin/node".into(), "/opt/my-app/server.js".into()],
                ignore_failure: false,
            }]
        );
    }

    #[test]
    fn environment_files_and_limits() {
        let value =
            Variant::from(vec![("/etc/my-app/3000.env".to_owned(), false), ("/etc/default/x".to_owned(), true)]);
        assert_eq!(
            as_environment_files("EnvironmentFiles", &value).unwrap_or_default(),
            vec![("/etc/my-app/3000.env".to_owned(), false), ("/etc/default/x".to_owned(), true)]
        );
        assert_eq!(as_limit("MemoryMax", &Variant::from(u64::MAX)).ok(), Some(None));
        assert_eq!(as_limit("MemoryMax", &Variant::from(1u64 << 30)).ok(), Some(Some(1 << 30)));
    }

    #[test]
    fn nested_variants_unwrap() {
        let value = Variant::new(Variant::from("running"));
        assert_eq!(as_string("SystemState", &value).ok().as_deref(), Some("running"));
    }
}
