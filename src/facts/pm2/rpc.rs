//! A native client for the PM2 daemon's `rpc.sock`: one `getMonitorData` call, the
//! same question `pm2 jlist` asks, without node and without the pm2 CLI (which would
//! spawn an empty daemon when none runs, hiding the very failure bootproof looks for).
//!
//! The transport is axon req/rep over amp framing (see [`super::amp`]): the request
//! is `[j:{"type":"call","method":"getMonitorData","args":[{}]}, s:"<pid>:<n>"]`, the
//! reply `[j:{"args":[<list>]} or j:{"error":…}, s:"<same id>"]`. `getMonitorData`
//! only reads the daemon's process table, so asking never changes the daemon.
//! Every step is bounded: one deadline for connect, write and read, and a cap on the
//! reply's size.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::super::files::os_message;
use super::super::model::{Fact, LiveApp, RpcAnswer};
use super::super::states::Pm2Status;
use super::amp::{self, Arg, Decoder};
use super::dump;

/// How long one call may take, connect to reply. A healthy daemon answers in
/// milliseconds; a daemon busy for longer than this is itself worth reporting.
pub(crate) const RPC_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest reply read. Each process costs a few KiB (its whole environment is in
/// the reply); 32 MiB is thousands of processes.
pub(crate) const REPLY_MAX: usize = 32 << 20;

/// Asks the daemon listening on `socket` for its process list.
pub(crate) async fn monitor_data(socket: &Path, timeout: Duration) -> Fact<RpcAnswer> {
    // A missing socket file is the common "no daemon" case: say so without connecting.
    match std::fs::symlink_metadata(socket) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Fact::Ok(RpcAnswer::NotRunning { reason: "no socket file".to_owned() });
        }
        Err(err) => {
            return Fact::Error(format!("cannot look at {}: {}", socket.display(), os_message(&err)));
        }
        Ok(_) => {}
    }
    let started = Instant::now();
    match tokio::time::timeout(timeout, exchange(socket)).await {
        Ok(Ok(apps)) => Fact::Ok(RpcAnswer::Apps { apps }),
        Ok(Err(RpcError::Connect(err))) => match err.kind() {
            io::ErrorKind::ConnectionRefused => {
                Fact::Ok(RpcAnswer::NotRunning { reason: "connection refused".to_owned() })
            }
            io::ErrorKind::NotFound => Fact::Ok(RpcAnswer::NotRunning { reason: "no socket file".to_owned() }),
            // A full listen backlog: something listens but does not accept.
            io::ErrorKind::WouldBlock => Fact::Ok(RpcAnswer::NoAnswer { waited_ms: millis(started.elapsed()) }),
            _ => Fact::Error(format!("cannot connect to {}: {}", socket.display(), os_message(&err))),
        },
        Ok(Err(err)) => Fact::Error(format!("{}: {err}", socket.display())),
        Err(_) => Fact::Ok(RpcAnswer::NoAnswer { waited_ms: millis(started.elapsed()) }),
    }
}

/// Milliseconds, saturating.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// What went wrong talking to the socket (a timeout is handled by the caller).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RpcError {
    /// `connect(2)` failed.
    #[error("cannot connect: {}", os_message(.0))]
    Connect(#[source] io::Error),
    /// Writing the request or reading the reply failed.
    #[error("the connection failed: {}", os_message(.0))]
    Io(#[source] io::Error),
    /// The peer closed the connection before answering.
    #[error("the daemon closed the connection without answering")]
    Closed,
    /// The bytes are not an amp message we can read (the reason is kept: "larger than
    /// 32 MiB" and "not amp at all" call for different actions).
    #[error("the reply is not readable: {0}")]
    Frame(#[from] amp::AmpError),
    /// The daemon answered with an error.
    #[error("the daemon answered with an error: {0}")]
    Daemon(String),
    /// The reply is amp but not the shape getMonitorData returns.
    #[error("unexpected reply: {0}")]
    Shape(String),
}

/// Connects, sends one request and reads until the reply with its id arrives.
async fn exchange(socket: &Path) -> Result<Vec<LiveApp>, RpcError> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    let id = format!("{}:{}", std::process::id(), NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let mut stream = UnixStream::connect(socket).await.map_err(RpcError::Connect)?;
    let request = amp::encode(&[
        Arg::Json(json!({"type": "call", "method": "getMonitorData", "args": [{}]})),
        Arg::Str(id.clone()),
    ])?;
    stream.write_all(&request).await.map_err(RpcError::Io)?;
    let mut decoder = Decoder::new(REPLY_MAX);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let read = stream.read(&mut chunk).await.map_err(RpcError::Io)?;
        if read == 0 {
            return Err(RpcError::Closed);
        }
        decoder.push(&chunk[..read]);
        while let Some(message) = decoder.next_message()? {
            // axon puts the request id last; a reply to someone else's id is not ours.
            if message.last() == Some(&Arg::Str(id.clone())) {
                return apps_of_reply(&message);
            }
        }
    }
}

/// The process list out of a reply message.
pub(crate) fn apps_of_reply(message: &[Arg]) -> Result<Vec<LiveApp>, RpcError> {
    let Some(Arg::Json(Value::Object(body))) = message.first() else {
        return Err(RpcError::Shape("the first argument is not a JSON object".into()));
    };
    if let Some(error) = body.get("error") {
        let text = error.as_str().map_or_else(|| error.to_string(), str::to_owned);
        return Err(RpcError::Daemon(text));
    }
    let Some(Value::Array(list)) = body.get("args").and_then(Value::as_array).and_then(|args| args.first()) else {
        return Err(RpcError::Shape("no process list in \"args\"".into()));
    };
    list.iter()
        .enumerate()
        .map(|(index, item)| {
            live_app(item).map_err(|problem| RpcError::Shape(format!("process {} ({problem})", index + 1)))
        })
        .collect()
}

/// One `pm2 jlist` entry as a [`LiveApp`] (the process facts are attached later).
/// Name and pm_id are required; everything else is taken when present and of a
/// usable type, since a live daemon's fields vary by version too.
pub(crate) fn live_app(item: &Value) -> Result<LiveApp, String> {
    let Value::Object(_) = item else {
        return Err("not an object".into());
    };
    let env = item.get("pm2_env").filter(|env| env.is_object());
    let env_field = |name: &str| env.and_then(|env| env.get(name)).filter(|v| !v.is_null());
    let env_str = |name: &str| env_field(name).and_then(Value::as_str).map(str::to_owned);
    let env_u64 = |name: &str| env_field(name).and_then(Value::as_u64);
    let name =
        item.get("name").or_else(|| env_field("name")).and_then(Value::as_str).ok_or("no string \"name\"")?.to_owned();
    let pm_id = item
        .get("pm_id")
        .or_else(|| env_field("pm_id"))
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("{name:?} has no numeric \"pm_id\""))?;
    Ok(LiveApp {
        pm_id,
        pid: item.get("pid").and_then(Value::as_u64).and_then(|pid| u32::try_from(pid).ok()).unwrap_or(0),
        // A process without a status is shown as PM2 sent it: no status word at all.
        status: Pm2Status::parse(&env_str("status").unwrap_or_default()),
        restart_time: env_u64("restart_time").unwrap_or(0),
        unstable_restarts: env_u64("unstable_restarts").unwrap_or(0),
        started_at_ms: env_u64("pm_uptime"),
        exec_mode: env_str("exec_mode"),
        script: env_str("pm_exec_path"),
        max_memory_restart: env_field("max_memory_restart")
            .and_then(|value| dump::memory_bytes("max_memory_restart", value).ok()),
        node_version: env_str("node_version"),
        is_module: env_field("pmx_module").and_then(|value| dump::is_module("pmx_module", value).ok()).unwrap_or(false),
        memory: item.get("monit").and_then(|monit| monit.get("memory")).and_then(Value::as_u64),
        process: None,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jlist_entry_maps() -> Result<(), String> {
        let item = json!({
            "pid": 4242, "name": "api", "pm_id": 3,
            "monit": {"memory": 52551680, "cpu": 0.5},
            "pm2_env": {
                "status": "online", "restart_time": 7, "unstable_restarts": 2,
                "pm_uptime": 1700000000000u64, "created_at": 1699999999000u64,
                "exec_mode": "cluster_mode", "instances": 2, "pm_exec_path": "/srv/api/server.js",
                "max_memory_restart": 209715200, "username": "deploy", "node_version": "20.11.0",
                "SECRET_TOKEN": "must-not-appear"
            }
        });
        let app = live_app(&item)?;
        assert_eq!((app.name.as_str(), app.pm_id, app.pid), ("api", 3, 4242));
        assert_eq!(app.status, Pm2Status::Online);
        assert_eq!((app.restart_time, app.unstable_restarts), (7, 2));
        assert_eq!(app.started_at_ms, Some(1_700_000_000_000));
        assert_eq!(app.max_memory_restart, Some(200 << 20));
        assert_eq!(app.memory, Some(52_551_680));
        assert!(!serde_json::to_string(&app).unwrap_or_default().contains("must-not-appear"));
        Ok(())
    }

    #[test]
    fn error_and_odd_replies() {
        let error = [Arg::Json(json!({"error": "method \"x\" does not exist"})), Arg::Str("1:0".into())];
        assert!(matches!(apps_of_reply(&error), Err(RpcError::Daemon(text)) if text.contains("does not exist")));
        let empty = [Arg::Json(json!({"args": [[]]})), Arg::Str("1:0".into())];
        assert!(matches!(apps_of_reply(&empty), Ok(apps) if apps.is_empty()));
        let odd = [Arg::Str("hello".into())];
        assert!(matches!(apps_of_reply(&odd), Err(RpcError::Shape(_))));
        let nameless = [Arg::Json(json!({"args": [[{"pm_id": 1}]]}))];
        assert!(matches!(apps_of_reply(&nameless), Err(RpcError::Shape(text)) if text.contains("process 1")));
    }

    fn socket_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("bootproof-rpc-{}-{tag}.sock", std::process::id()))
    }

    fn runtime() -> io::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    }

    #[test]
    fn no_socket_file_is_not_running() -> io::Result<()> {
        let answer = runtime()?.block_on(monitor_data(&socket_path("missing"), RPC_TIMEOUT));
        assert!(
            matches!(answer, Fact::Ok(RpcAnswer::NotRunning { ref reason }) if reason == "no socket file"),
            "{answer:?}"
        );
        Ok(())
    }

    #[test]
    fn socket_without_listener_is_not_running() -> io::Result<()> {
        let path = socket_path("stale");
        let _ = std::fs::remove_file(&path);
        // Binding and dropping leaves the file with nobody listening: a dead daemon's socket.
        drop(std::os::unix::net::UnixListener::bind(&path)?);
        let answer = runtime()?.block_on(monitor_data(&path, RPC_TIMEOUT));
        std::fs::remove_file(&path)?;
        assert!(
            matches!(answer, Fact::Ok(RpcAnswer::NotRunning { ref reason }) if reason == "connection refused"),
            "{answer:?}"
        );
        Ok(())
    }

    #[test]
    fn silent_listener_is_no_answer_in_bounded_time() -> io::Result<()> {
        let path = socket_path("silent");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path)?;
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        // The listener is never accepted from: the kernel completes the connection and
        // holds the request, and nothing ever answers.
        let answer = runtime()?.block_on(monitor_data(&path, timeout));
        let waited = started.elapsed();
        drop(listener);
        std::fs::remove_file(&path)?;
        assert!(matches!(answer, Fact::Ok(RpcAnswer::NoAnswer { waited_ms }) if waited_ms >= 300), "{answer:?}");
        assert!(waited < timeout + Duration::from_millis(500), "{waited:?}");
        Ok(())
    }
}
