//! Which TCP ports processes listen on: `/proc/net/tcp{,6}` rows in the LISTEN state,
//! matched to processes through the socket inodes in `/proc/PID/fd` — what `ss -tlp`
//! does, read-only and without a subprocess. [`attribute`] runs once per run, inside the
//! /proc scan (`procfs::ProcessTable`); [`service_ports`] reads the result back out of
//! the facts for `init`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::files::os_message;
pub(crate) use super::model::Listening;
use super::model::{Fact, Facts, ProcessFacts, RpcAnswer, UnattributedSockets};

/// The ports each service listens on: per unit name, or per `pm2:<home>/<app>` (see
/// [`pm2_app_key`]).
pub(crate) type ServicePorts = BTreeMap<String, Vec<Listening>>;

/// The key [`ServicePorts`] uses for a PM2 app.
pub(crate) fn pm2_app_key(home: &str, app: &str) -> String {
    format!("pm2:{home}/{app}")
}

/// The sockets of some processes, sorted, without duplicates.
fn ports_of<'a>(processes: impl Iterator<Item = &'a ProcessFacts>) -> Vec<Listening> {
    let found: BTreeSet<Listening> = processes.flat_map(|p| p.listening.iter().cloned()).collect();
    found.into_iter().collect()
}

/// The ports every unit and PM2 app in `facts` listened on when they were gathered.
pub(crate) fn service_ports(facts: &Facts) -> ServicePorts {
    let mut ports = ServicePorts::new();
    for unit in &facts.units {
        if let Some(processes) = unit.service.ok().and_then(|s| s.processes.ok()) {
            ports.insert(unit.name.clone(), ports_of(processes.iter()));
        }
    }
    for home in &facts.pm2 {
        if let Fact::Ok(RpcAnswer::Apps { apps }) = &home.daemon.rpc {
            let mut by_app: BTreeMap<&str, Vec<&ProcessFacts>> = BTreeMap::new();
            for app in apps {
                if let Some(process) = &app.process {
                    by_app.entry(app.name.as_str()).or_default().push(process);
                }
            }
            for (name, processes) in by_app {
                ports.insert(pm2_app_key(&home.home, name), ports_of(processes.into_iter()));
            }
        }
    }
    ports
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

/// Every listening TCP socket of this network namespace, by inode.
pub(crate) fn listening_sockets() -> Result<HashMap<u64, Listening>, String> {
    let mut table = HashMap::new();
    for (path, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        match std::fs::read_to_string(path) {
            Ok(text) => table.extend(parse_table(&text, v6)),
            // A kernel without IPv6 has no tcp6.
            Err(err) if v6 && err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(format!("cannot read {path}: {}", os_message(&err))),
        }
    }
    Ok(table)
}

/// Which of `pids` hold which of `sockets`: the `socket:[N]` links in `/proc/PID/fd`.
/// Nothing is read when nothing listens, and the walk stops once every socket has a
/// process (the forked workers of a server share its sockets; the first holder is the
/// one reported). PID 1 is never reported as a holder — systemd holds the sockets of its
/// socket units, which the service it starts holds too — but its sockets are looked up
/// first, so that those nobody else holds do not keep the walk going to the end. Sockets
/// left without a process while some fd directory could not be read are returned with
/// the reason.
pub(crate) fn attribute(
    sockets: &HashMap<u64, Listening>,
    pids: impl Iterator<Item = u32>,
) -> (HashMap<u32, Vec<Listening>>, Option<UnattributedSockets>) {
    let mut held: HashMap<u32, Vec<Listening>> = HashMap::new();
    let mut left: BTreeSet<u64> = sockets.keys().copied().collect();
    // PID 1's: attributed to another holder if the walk meets one before it stops.
    let mut pid1_held: BTreeSet<u64> = BTreeSet::new();
    let mut unreadable: Option<String> = None;
    if !left.is_empty() {
        // PID 1 is never reported: its own fd table being closed to us hides nobody.
        for inode in fd_sockets(1, &mut None) {
            if left.remove(&inode) {
                pid1_held.insert(inode);
            }
        }
    }
    for pid in pids.filter(|pid| *pid != 1) {
        if left.is_empty() {
            break;
        }
        for inode in fd_sockets(pid, &mut unreadable) {
            let first = left.remove(&inode) || pid1_held.remove(&inode);
            if first && let Some(socket) = sockets.get(&inode) {
                held.entry(pid).or_default().push(socket.clone());
            }
        }
    }
    for list in held.values_mut() {
        list.sort();
        list.dedup();
    }
    let unattributed = unreadable.filter(|_| !left.is_empty()).map(|reason| {
        let mut sockets: Vec<Listening> = left.iter().filter_map(|inode| sockets.get(inode).cloned()).collect();
        sockets.sort();
        sockets.dedup();
        UnattributedSockets { sockets, reason }
    });
    (held, unattributed)
}

/// The socket inodes in a process's fd table; the first directory that cannot be read
/// (another user's process, for an unprivileged bootproof) is noted in `unreadable`.
fn fd_sockets(pid: u32, unreadable: &mut Option<String>) -> Vec<u64> {
    let entries = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => {
            unreadable.get_or_insert_with(|| format!("cannot read /proc/{pid}/fd: {}", os_message(&err)));
            return Vec::new();
        }
    };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| socket_inode(&target.to_string_lossy()))
        .collect()
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
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
        let sockets = listening_sockets().expect("/proc/net/tcp is readable");
        let (held, _) = attribute(&sockets, [std::process::id()].into_iter());
        let found = held.get(&std::process::id()).cloned().unwrap_or_default();
        assert!(found.iter().any(|l| l.port == port && l.address == "127.0.0.1"), "{found:?}");
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[4242]"), None);
    }
}
