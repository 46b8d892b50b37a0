//! Writing bootproof's own files — the state file, a report or facts file named with
//! `-o`, a check file from `init -o` — so that a reader never sees half of one: the bytes
//! go to a temporary file in the same directory, are flushed to the disk, and only then
//! take the file's name (`rename(2)` is atomic within a file system). When the disk is
//! full or the write fails in any other way, the temporary file is removed and the file
//! that was there before is left as it was.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Replaces the file at `path` with `bytes`, atomically.
///
/// A symbolic link is followed: the file it points to is replaced, not the link. What is
/// not a regular file (`-o /dev/stdout`, a named pipe) cannot be replaced and is written
/// in place. A file that is replaced keeps its permission bits; a new one gets `mode`
/// (less the umask).
pub(crate) fn write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_with(path, bytes, mode, false)
}

/// Like [`write`], for a report other programs read as their own users (node_exporter's
/// textfile collector, nginx): a new file is mode 0644 whatever the umask (the timer's
/// service runs with `UMask=0077`, which would leave it 0600, unreadable to them). A file
/// that is replaced keeps its permission bits, as with [`write`].
pub(crate) fn write_for_readers(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, bytes, 0o644, true)
}

fn write_with(path: &Path, bytes: &[u8], mode: u32, exact_mode: bool) -> io::Result<()> {
    let (target, mode) = match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return OpenOptions::new().write(true).open(path)?.write_all(bytes),
        Ok(meta) => (std::fs::canonicalize(path)?, meta.permissions().mode() & 0o7777),
        Err(err) if err.kind() == io::ErrorKind::NotFound => (path.to_owned(), mode),
        Err(err) => return Err(err),
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let (temporary, mut file) = temporary_in(&dir, &target, mode)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            // The mode asked for, not what the umask left of it, when an existing file's
            // bits are kept (a 0600 report stays 0600, a 0644 one stays readable).
            if exact_mode || target.exists() {
                file.set_permissions(std::fs::Permissions::from_mode(mode))
            } else {
                Ok(())
            }
        })
        .and_then(|()| std::fs::rename(&temporary, &target));
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(err);
    }
    // The rename itself is on the disk once the directory is: without this a crash right
    // after could bring back the old file (or, for a new file, none).
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A new file next to `target`, created exclusively (never an existing file or a link
/// someone left there), named `.<name>.bootproof-<pid>-<n>.tmp`.
fn temporary_in(dir: &Path, target: &Path, mode: u32) -> io::Result<(PathBuf, File)> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = target.file_name().map_or_else(|| "file".into(), |name| name.to_string_lossy().into_owned());
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let temporary = dir.join(format!(".{name}.bootproof-{}-{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).mode(mode).open(&temporary) {
            Ok(file) => return Ok((temporary, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bootproof-atomic-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_file_is_written_and_nothing_else_is_left() {
        let dir = temp_dir("new");
        let path = dir.join("report.json");
        write(&path, b"{}\n", 0o644).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"{}\n");
        assert_eq!(entries(&dir), ["report.json"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_replaced_file_keeps_its_mode() {
        let dir = temp_dir("mode");
        let path = dir.join("report.xml");
        std::fs::write(&path, "old").expect("old");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        write(&path, b"new", 0o644).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_report_for_readers_is_mode_0644() {
        // The umask is the process's, shared by every test thread: it is not changed here.
        // The lab proves the point under the service's UMask=0077 (node_exporter, another
        // user, reads the textfile: tests/lab_package.rs).
        let dir = temp_dir("readers");
        let path = dir.join("bootproof.prom");
        write_for_readers(&path, b"bootproof_up 1\n").expect("write");
        assert_eq!(std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777, 0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write_for_readers(&path, b"bootproof_up 0\n").expect("replace");
        assert_eq!(std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777, 0o640, "kept");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_link_is_followed_and_stays_a_link() {
        let dir = temp_dir("link");
        let real = dir.join("real.json");
        let link = dir.join("link.json");
        std::fs::write(&real, "old").expect("old");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        write(&link, b"new", 0o644).expect("write");
        assert!(std::fs::symlink_metadata(&link).expect("lstat").file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).expect("read"), "new");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_device_is_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        write(Path::new("/dev/null"), b"nothing", 0o644).expect("write to /dev/null");
        assert!(std::fs::metadata("/dev/null").expect("stat").file_type().is_char_device(), "/dev/null is replaced");
    }

    #[test]
    fn a_directory_that_cannot_be_written_leaves_the_old_file() {
        // A directory that is not there: the temporary file cannot be made.
        let err = write(Path::new("/nonexistent-bootproof-dir/report.json"), b"x", 0o644).expect_err("fails");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
