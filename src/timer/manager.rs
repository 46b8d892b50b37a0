//! The systemd manager calls `timer install|remove` make over D-Bus (zbus): the only
//! calls in bootproof that change anything, and only for bootproof's own units.

use zbus::Connection;
use zbus::wire::{OwnedObjectPath, OwnedVariant, Variant};

/// The manager's bus name.
const DESTINATION: &str = "org.freedesktop.systemd1";
/// The manager's object.
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
/// The manager's interface.
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// Properties every unit has.
const UNIT: &str = "org.freedesktop.systemd1.Unit";
/// The standard properties interface.
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// A manager call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{method} failed: {source}")]
pub(crate) struct ManagerError {
    /// `Interface.Method`.
    method: String,
    /// What the bus said.
    #[source]
    source: zbus::Error,
}

/// One change `EnableUnitFiles`/`DisableUnitFiles` made: `symlink` or `unlink`, the link,
/// and where it points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileChange {
    /// `symlink`, `unlink`, …
    pub(crate) kind: String,
    /// The link.
    pub(crate) file: String,
    /// Its target.
    pub(crate) destination: String,
}

/// A change as the bus writes it (`(sss)`).
type ChangeRow = (String, String, String);

impl From<ChangeRow> for FileChange {
    fn from((kind, file, destination): ChangeRow) -> Self {
        FileChange { kind, file, destination }
    }
}

impl std::fmt::Display for FileChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind.as_str() {
            "symlink" => write!(f, "created symlink {} → {}", self.file, self.destination),
            "unlink" => write!(f, "removed symlink {}", self.file),
            other => write!(f, "{other} {} {}", self.file, self.destination),
        }
    }
}

/// The system manager.
pub(crate) struct Manager {
    conn: Connection,
}

impl Manager {
    /// Connects to the system bus (`DBUS_SYSTEM_BUS_ADDRESS` honoured).
    pub(crate) async fn connect() -> zbus::Result<Manager> {
        Ok(Manager { conn: Connection::system().await? })
    }

    async fn call<B, R>(&self, path: &str, interface: &str, method: &str, body: &B) -> Result<R, ManagerError>
    where
        B: serde::Serialize + zbus::wire::DynamicType,
        R: for<'d> serde::Deserialize<'d> + zbus::wire::Type,
    {
        let failed = |source| ManagerError { method: format!("{interface}.{method}"), source };
        let reply =
            self.conn.call_method(Some(DESTINATION), path, Some(interface), method, body).await.map_err(failed)?;
        reply.body().deserialize::<R>().map_err(failed)
    }

    /// `Reload`: what `systemctl daemon-reload` asks.
    pub(crate) async fn reload(&self) -> Result<(), ManagerError> {
        self.call(MANAGER_PATH, MANAGER, "Reload", &()).await
    }

    /// `EnableUnitFiles(files, runtime=false, force=false)`: the links it made.
    pub(crate) async fn enable(&self, files: &[&str]) -> Result<Vec<FileChange>, ManagerError> {
        let (_, changes): (bool, Vec<ChangeRow>) =
            self.call(MANAGER_PATH, MANAGER, "EnableUnitFiles", &(files, false, false)).await?;
        Ok(changes.into_iter().map(FileChange::from).collect())
    }

    /// `DisableUnitFiles(files, runtime=false)`: the links it removed.
    pub(crate) async fn disable(&self, files: &[&str]) -> Result<Vec<FileChange>, ManagerError> {
        let changes: Vec<ChangeRow> = self.call(MANAGER_PATH, MANAGER, "DisableUnitFiles", &(files, false)).await?;
        Ok(changes.into_iter().map(FileChange::from).collect())
    }

    /// `StartUnit(name, "replace")`.
    pub(crate) async fn start(&self, name: &str) -> Result<(), ManagerError> {
        let _job: OwnedObjectPath = self.call(MANAGER_PATH, MANAGER, "StartUnit", &(name, "replace")).await?;
        Ok(())
    }

    /// `StopUnit(name, "replace")`.
    pub(crate) async fn stop(&self, name: &str) -> Result<(), ManagerError> {
        let _job: OwnedObjectPath = self.call(MANAGER_PATH, MANAGER, "StopUnit", &(name, "replace")).await?;
        Ok(())
    }

    /// A unit's `ActiveState` (`active`, `inactive`, …), or `None` when systemd has not
    /// loaded it (`GetUnit` does not load it, unlike `LoadUnit`).
    pub(crate) async fn active_state(&self, name: &str) -> Result<Option<String>, ManagerError> {
        let path: OwnedObjectPath = match self.call(MANAGER_PATH, MANAGER, "GetUnit", &(name,)).await {
            Ok(path) => path,
            Err(ManagerError { source: zbus::Error::MethodError(error, _, _), .. })
                if error.as_str() == "org.freedesktop.systemd1.NoSuchUnit" =>
            {
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let value: OwnedVariant = self.call(path.as_str(), PROPERTIES, "Get", &(UNIT, "ActiveState")).await?;
        Ok(match &*value {
            Variant::Str(state) => Some(state.as_str().to_owned()),
            _ => None,
        })
    }
}
