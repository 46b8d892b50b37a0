//! Files and accounts on the host: `stat`, a script's `#!` line, a program on a
//! PATH, and user accounts through NSS.
//!
//! Accounts go through `getpwnam_r`/`getpwuid_r` rather than `/etc/passwd` so that
//! LDAP or sssd users resolve the way systemd resolves them when it starts the
//! service.

use std::ffi::{CStr, CString};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::model::{Account, Fact, FileFacts, FileStat};
use super::states::FileKind;

/// Linux reads at most this many bytes of a script to find its `#!` line
/// (`BINPRM_BUF_SIZE`); a longer line is truncated by the kernel too.
const SHEBANG_MAX: usize = 256;

/// systemd's PATH for system services when the unit sets none.
pub(crate) const SYSTEMD_DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin";

/// Whether an I/O error means "nothing there" rather than "cannot look".
fn is_absent(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ENOTDIR)
}

/// `stat`s a path (following links) into [`FileFacts`]: `Ok(None)` when nothing
/// is there, an error fact with the reason when it cannot be looked at.
pub(crate) fn stat_file(path: &str) -> FileFacts {
    let stat = match std::fs::metadata(path) {
        Ok(meta) => Fact::Ok(Some(FileStat {
            kind: if meta.is_file() {
                FileKind::File
            } else if meta.is_dir() {
                FileKind::Directory
            } else {
                FileKind::Special
            },
            mode: meta.permissions().mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: meta.size(),
            mtime: meta.mtime(),
        })),
        Err(err) if is_absent(&err) => Fact::Ok(None),
        Err(err) => Fact::Error(format!("cannot stat {path}: {}", os_message(&err))),
    };
    FileFacts { path: path.to_owned(), stat }
}

/// An I/O error's message without the `(os error N)` suffix std appends. A permission
/// denied to a run that is not root names the privilege it lacks: that is what the
/// operator can do about it.
pub(crate) fn os_message(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    };
    match err.kind() {
        io::ErrorKind::PermissionDenied => format!("{text}{}", privilege_hint()),
        _ => text,
    }
}

/// `" (needs root: bootproof runs as uid N)"` when this process is not root, else nothing
/// (root denied is not a matter of privilege bootproof could be given).
pub(crate) fn privilege_hint() -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 { String::new() } else { format!(" (needs root: bootproof runs as uid {uid})") }
}

/// The `#!` line at the start of a file's first bytes, without `\n`; `None` when
/// the bytes do not start with `#!`.
pub(crate) fn shebang_line(head: &[u8]) -> Option<String> {
    if !head.starts_with(b"#!") {
        return None;
    }
    let end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    let line = String::from_utf8_lossy(&head[..end]);
    Some(line.trim_end_matches('\r').to_owned())
}

/// Reads a script's `#!` line (bounded read). `Ok(None)` when the file is missing
/// or does not start with `#!` (a binary, say).
pub(crate) fn read_shebang(path: &str) -> io::Result<Option<String>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if is_absent(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut head = Vec::with_capacity(SHEBANG_MAX);
    // `take` bounds the read: a huge or endless file (a FIFO, /dev/zero) costs 256 bytes.
    file.take(SHEBANG_MAX as u64).read_to_end(&mut head)?;
    Ok(shebang_line(&head))
}

/// Reads at most `max` bytes of a text file (invalid UTF-8 replaced).
pub(crate) fn read_text_bounded(path: &str, max: u64) -> io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads a unit file's text, bounded so a misplaced huge file cannot stall a run.
pub(crate) fn read_unit_text(path: &str) -> io::Result<String> {
    const UNIT_TEXT_MAX: u64 = 1 << 20;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(UNIT_TEXT_MAX).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A unit file found in systemd's unit path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UnitFile {
    /// Unit name: `my-app@.service`.
    pub(crate) name: String,
    /// Where it is: `/etc/systemd/system/my-app@.service`.
    pub(crate) path: String,
}

/// The unit files ending in `suffix` in systemd's unit path (`UnitPath`, highest
/// priority first), the way systemd would pick them: the first directory holding a
/// name wins. Aliases (a link to a unit of another name) and masks (a link to
/// /dev/null) are left out: they are not units of their own. Unreadable directories
/// are skipped, as systemd skips them.
///
/// This scan replaces `ListUnitFilesByPatterns`, which makes systemd compute the
/// enablement state of every file — about 280 ms for 118 files in the lab, during
/// which the single-threaded manager answers no other call.
/// The entries of one unit directory whose names end in `suffix`, sorted by name, as
/// `(name, path)`; an unreadable directory has none (systemd skips it too).
fn dir_entries(dir: &str, suffix: &str) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.ends_with(suffix))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            (name, path)
        })
        .collect()
}

pub(crate) fn unit_files(unit_path: &[String], suffix: &str) -> Vec<UnitFile> {
    let mut seen = std::collections::HashSet::new();
    let mut found = Vec::new();
    for dir in unit_path {
        for (name, path) in dir_entries(dir, suffix) {
            // A higher-priority directory's file hides this one, even an alias or a mask.
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Ok(target) = std::fs::read_link(&path) {
                let target = target.to_string_lossy();
                let target_name = target.rsplit('/').next().unwrap_or_default();
                if target == "/dev/null" || target_name != name {
                    continue;
                }
            }
            found.push(UnitFile { name, path });
        }
    }
    found
}

/// The unit files ending in `suffix` that a mask (a link to /dev/null, higher in the
/// unit path) hides: the file systemd would load if the mask went away. A masked unit
/// is still the operator's service; what it runs can only be read from this file.
pub(crate) fn masked_unit_files(unit_path: &[String], suffix: &str) -> Vec<UnitFile> {
    let mut masked = std::collections::HashSet::new();
    let mut seen = std::collections::HashSet::new();
    let mut found = Vec::new();
    for dir in unit_path {
        for (name, path) in dir_entries(dir, suffix) {
            let is_mask = std::fs::read_link(&path).is_ok_and(|target| target == Path::new("/dev/null"));
            if !seen.insert(name.clone()) {
                // Below the first entry of this name: the file a mask hides, if it is one.
                if masked.remove(&name) && !is_mask {
                    found.push(UnitFile { name, path });
                }
                continue;
            }
            if is_mask {
                masked.insert(name);
            }
        }
    }
    found
}

/// Whether a path is a regular file with an execute bit set: what `env`'s PATH
/// search (execvp) would run.
pub(crate) fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Finds `program` on a PATH string the way execvp does: the first directory
/// holding an executable file of that name. `is_executable` is the probe, so tests
/// can run without touching the disk. Empty PATH entries mean the working
/// directory to execvp; a service's working directory is not ours, so they are skipped.
pub(crate) fn find_on_path(program: &str, search_path: &str, is_executable: impl Fn(&Path) -> bool) -> Option<String> {
    search_path
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| format!("{}/{program}", dir.trim_end_matches('/')))
        .find(|candidate| is_executable(Path::new(candidate)))
}

/// Which account lookup to make for a `User=` value.
#[derive(Debug, PartialEq, Eq)]
enum UserSpec<'a> {
    /// A login name.
    Name(&'a str),
    /// A numeric uid (`User=1001`).
    Uid(u32),
}

/// Reads a `User=` value: empty means root; all digits is a uid.
fn user_spec(user: &str) -> UserSpec<'_> {
    if user.is_empty() {
        return UserSpec::Name("root");
    }
    if user.bytes().all(|b| b.is_ascii_digit())
        && let Ok(uid) = user.parse::<u32>()
    {
        return UserSpec::Uid(uid);
    }
    UserSpec::Name(user)
}

/// Resolves a `User=` value (empty → root, numeric → uid) to its account;
/// `Ok(None)` when no such account exists.
pub(crate) fn lookup_user(user: &str) -> io::Result<Option<Account>> {
    match user_spec(user) {
        UserSpec::Name(name) => getpw_by_name(name),
        UserSpec::Uid(uid) => getpw_by_uid(uid),
    }
}

/// The login name of a uid, when it resolves.
pub(crate) fn user_name(uid: u32) -> Option<String> {
    getpw_by_uid(uid).ok().flatten().map(|account| account.name)
}

/// Looks an account up by name through NSS.
fn getpw_by_name(name: &str) -> io::Result<Option<Account>> {
    let Ok(cname) = CString::new(name) else {
        // A name with a NUL byte cannot exist in any user database.
        return Ok(None);
    };
    getpw_with(|pwd, buf, len, result| {
        // SAFETY: every pointer is valid for the call; `buf` has `len` bytes.
        unsafe { libc::getpwnam_r(cname.as_ptr(), pwd, buf, len, result) }
    })
}

/// Looks an account up by uid through NSS.
fn getpw_by_uid(uid: u32) -> io::Result<Option<Account>> {
    getpw_with(|pwd, buf, len, result| {
        // SAFETY: every pointer is valid for the call; `buf` has `len` bytes.
        unsafe { libc::getpwuid_r(uid, pwd, buf, len, result) }
    })
}

/// Runs a `getpw*_r` call with a buffer that grows on `ERANGE`.
fn getpw_with(
    call: impl Fn(*mut libc::passwd, *mut libc::c_char, libc::size_t, *mut *mut libc::passwd) -> libc::c_int,
) -> io::Result<Option<Account>> {
    // Large groups of NSS data (LDAP) can exceed the suggested size; stop at 1 MiB.
    const BUF_MAX: usize = 1 << 20;
    let mut len = 1024usize;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; len];
        // SAFETY: passwd is plain old data; all-zero is a valid (empty) value.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = call(&mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc == libc::ERANGE && len < BUF_MAX {
            len *= 4;
            continue;
        }
        if rc != 0 {
            // getpwnam_r(3): these codes mean "not found" on some NSS backends.
            if [libc::ENOENT, libc::ESRCH, libc::EBADF, libc::EPERM].contains(&rc) {
                return Ok(None);
            }
            return Err(io::Error::from_raw_os_error(rc));
        }
        if result.is_null() {
            return Ok(None);
        }
        // SAFETY: on success the strings point into `buf`, which is still alive,
        // and are NUL-terminated (or null, which `c_string` handles).
        let account = unsafe {
            Account { name: c_string(pwd.pw_name), uid: pwd.pw_uid, gid: pwd.pw_gid, home: c_string(pwd.pw_dir) }
        };
        return Ok(Some(account));
    }
}

/// Copies a C string filled in by `getpw*_r`.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string that is alive for the call.
unsafe fn c_string(ptr: *const libc::c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_parsing() {
        assert_eq!(shebang_line(b"#!/usr/bin/env node\nconsole.log(1)\n"), Some("#!/usr/bin/env node".into()));
        assert_eq!(shebang_line(b"#!/usr/bin/node\r\n"), Some("#!/usr/bin/node".into()));
        assert_eq!(shebang_line(b"#!/usr/bin/node"), Some("#!/usr/bin/node".into()));
        assert_eq!(shebang_line(b"\x7fELF\x02\x01"), None);
        assert_eq!(shebang_line(b""), None);
    }

    #[test]
    fn path_search_takes_first_match() {
        let present = ["/usr/bin/node", "/usr/local/bin/node"];
        let probe = |p: &Path| present.iter().any(|x| Path::new(x) == p);
        assert_eq!(find_on_path("node", SYSTEMD_DEFAULT_PATH, probe), Some("/usr/local/bin/node".into()));
        assert_eq!(find_on_path("node", "/usr/bin/::/usr/local/bin", probe), Some("/usr/bin/node".into()));
        assert_eq!(find_on_path("bun", SYSTEMD_DEFAULT_PATH, probe), None);
        assert_eq!(find_on_path("node", "", probe), None);
    }

    #[test]
    fn user_specs() {
        assert_eq!(user_spec(""), UserSpec::Name("root"));
        assert_eq!(user_spec("1001"), UserSpec::Uid(1001));
        assert_eq!(user_spec("nodeuser"), UserSpec::Name("nodeuser"));
        assert_eq!(user_spec("99999999999"), UserSpec::Name("99999999999"));
    }

    #[test]
    fn root_resolves_and_nonsense_does_not() {
        let root = lookup_user("").ok().flatten();
        assert_eq!(root.map(|a| a.uid), Some(0));
        assert_eq!(lookup_user("undefined-bootproof-test").ok().flatten(), None);
        assert_eq!(lookup_user("nul\0byte").ok().flatten(), None);
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }

    #[test]
    fn stat_missing_and_present() {
        assert_eq!(stat_file("/nonexistent/bootproof").stat, Fact::Ok(None));
        assert_eq!(stat_file("/etc/passwd/child").stat, Fact::Ok(None));
        let root = stat_file("/");
        assert!(matches!(root.stat, Fact::Ok(Some(FileStat { ref kind, .. })) if *kind == FileKind::Directory));
    }

    #[test]
    fn unit_files_pick_the_first_directory_and_skip_aliases_and_masks() -> io::Result<()> {
        let base = std::env::temp_dir().join(format!("bootproof-unit-files-{}", std::process::id()));
        let (etc, lib) = (base.join("etc"), base.join("lib"));
        std::fs::create_dir_all(&etc)?;
        std::fs::create_dir_all(&lib)?;
        std::fs::write(lib.join("a.service"), "[Service]\n")?;
        std::fs::write(etc.join("a.service"), "[Service]\n")?;
        std::fs::write(lib.join("b@.service"), "[Service]\n")?;
        std::fs::write(lib.join("c.timer"), "[Timer]\n")?;
        std::os::unix::fs::symlink("/dev/null", etc.join("masked.service"))?;
        std::os::unix::fs::symlink(lib.join("b@.service"), etc.join("alias@.service"))?;
        let dirs = [etc.to_string_lossy().into_owned(), lib.to_string_lossy().into_owned(), "/nonexistent".into()];
        let found = unit_files(&dirs, ".service");
        std::fs::remove_dir_all(&base)?;
        let names: Vec<(&str, bool)> = found.iter().map(|f| (f.name.as_str(), f.path.starts_with(&dirs[0]))).collect();
        assert_eq!(names, vec![("a.service", true), ("b@.service", false)]);
        Ok(())
    }

    #[test]
    fn os_message_strips_code() {
        let err = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(os_message(&err), "No such file or directory");
    }
}
