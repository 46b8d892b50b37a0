//! Which TCP ports a set of processes listens on: `/proc/net/tcp{,6}` rows in the LISTEN
//! state, matched to the processes through the socket inodes in `/proc/PID/fd`. Used by
//! `init` to suggest health endpoints; read-only and without subprocesses (no `ss`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::model::{Fact, Facts, RpcAnswer};

/// The ports each service listens on: per unit name, or per `pm2:<home>/<app>` (see
/// [`pm2_app_key`]).
pub(crate) type ServicePorts = BTreeMap<String, Vec<Listening>>;

/// The key [`ServicePorts`] uses for a PM2 app.
pub(crate) fn pm2_app_key(home: &str, app: &str) -> String {
    format!("pm2:{home}/{app}")
}

/// The ports every unit and PM2 app in `facts` listens on now.
pub(crate) fn service_ports(facts: &Facts) -> ServicePorts {
    let mut ports = ServicePorts::new();
    for unit in &facts.units {
        if let Some(processes) = unit.service.ok().and_then(|s| s.processes.ok()) {
            let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
            ports.insert(unit.name.clone(), listening(&pids));
        }
    }
    for home in &facts.pm2 {
        if let Fact::Ok(RpcAnswer::Apps { apps }) = &home.daemon.rpc {
            let mut pids: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
            for app in apps.iter().filter(|a| a.pid > 0) {
                pids.entry(app.name.as_str()).or_default().push(app.pid);
            }
            for (name, pids) in pids {
                ports.insert(pm2_app_key(&home.home, name), listening(&pids));
            }
        }
    }
    ports
}

/// A listening TCP socket.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Listening {
    /// The local address as text: `127.0.0.1`, `0.0.0.0`, `::`, `::1`.
    pub(crate) address: String,
    /// The port.
    pub(crate) port: u16,
}

impl Listening {
    /// A URL host that reaches this socket from the host itself.
    pub(crate) fn loopback_host(&self) -> &str {
        match self.address.as_str() {
            "0.0.0.0" => "127.0.0.1",
            "::" => "[::1]",
            "::1" => "[::1]",
            other if other.contains(':') => "[::1]",
            other => other,
        }
    }
}

/// TCP state code of a listening socket in /proc/net/tcp.
const TCP_LISTEN: &str = "0A";

/// Parses one /proc/net/tcp or tcp6 table into `inode → socket` for listening rows.
pub(crate) fn parse_table(text: &str, v6: bool) -> HashMap<u64, Listening> {
    let mut sockets = HashMap::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9)) else { continue };
        if *state != TCP_LISTEN {
            continue;
        }
        let Some((addr_hex, port_hex)) = local.split_once(':') else { continue };
        let (Ok(port), Ok(inode)) = (u16::from_str_radix(port_hex, 16), inode.parse::<u64>()) else { continue };
        let Some(address) = (if v6 { decode_v6(addr_hex) } else { decode_v4(addr_hex) }) else { continue };
        sockets.insert(inode, Listening { address, port });
    }
    sockets
}

/// /proc/net/tcp writes an IPv4 address as one little-endian 32-bit word in hex.
fn decode_v4(hex: &str) -> Option<String> {
    let word = u32::from_str_radix(hex, 16).ok()?;
    Some(std::net::Ipv4Addr::from(word.swap_bytes()).to_string())
}

/// /proc/net/tcp6 writes an IPv6 address as four little-endian 32-bit words in hex.
fn decode_v6(hex: &str) -> Option<String> {
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(4).enumerate() {
        let word = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        chunk.copy_from_slice(&word.swap_bytes().to_be_bytes());
    }
    Some(std::net::Ipv6Addr::from(bytes).to_string())
}

/// The socket inodes a process holds open (`socket:[N]` links in /proc/PID/fd).
fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            let text = target.to_string_lossy().into_owned();
            text.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// Every TCP socket in the LISTEN state held by one of `pids`, sorted, without duplicates.
pub(crate) fn listening(pids: &[u32]) -> Vec<Listening> {
    let mut table = HashMap::new();
    for (path, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        if let Ok(text) = std::fs::read_to_string(path) {
            table.extend(parse_table(&text, v6));
        }
    }
    let found: BTreeSet<Listening> =
        pids.iter().flat_map(|pid| socket_inodes(*pid)).filter_map(|inode| table.get(&inode).cloned()).collect();
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_rows_are_decoded_and_others_ignored() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0BB8 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000   999        0 4444 1 0000000000000000 20 4 30 10 -1
";
        let table = parse_table(v4, false);
        assert_eq!(table.len(), 2);
        assert_eq!(table[&4242], Listening { address: "127.0.0.1".into(), port: 3000 });
        assert_eq!(table[&4343].loopback_host(), "127.0.0.1");
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0
";
        let table = parse_table(v6, true);
        assert_eq!(table[&5151], Listening { address: "::1".into(), port: 8080 });
    }

    #[test]
    fn this_test_process_listening_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let found = listening(&[std::process::id()]);
        assert!(found.iter().any(|l| l.port == port && l.address == "127.0.0.1"), "{found:?}");
    }
}
