//! The listening socket: a private directory, a lock file that makes start-up race-free,
//! stale-socket replacement, and a 0600 socket file.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// A bound socket; holding it holds the lock, so only one daemon serves this path.
pub struct BoundSocket {
    pub listener: UnixListener,
    pub path: PathBuf,
    _lock: File,
}

impl BoundSocket {
    /// Removes the socket file this daemon created.
    pub fn remove_file(&self) {
        remove_socket_file(&self.path);
    }
}

/// Removes a socket file this daemon created; one already gone is fine.
pub fn remove_socket_file(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        log::warn!("could not remove {}: {e}", path.display());
    }
}

pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Binds `path`, refusing if a live daemon holds it and replacing a stale socket file.
pub fn bind(path: &Path) -> Result<BoundSocket, String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create socket directory {}: {e}", dir.display()))?;
        // `mode` is filtered by the umask; make sure the directory is private.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", dir.display()))?;
    }
    check_directory(dir)?;
    let lock = take_lock(path)?;
    if let Ok(meta) = fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(format!(
                "{} exists and is not a socket; remove it or choose another path with --socket",
                path.display()
            ));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(format!(
                "already running: {} answers (by a daemon that holds no lock); stop it first",
                path.display()
            ));
        }
        log::info!("replacing stale socket {}", path.display());
        fs::remove_file(path)
            .map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))?;
    }
    // Create the socket file without group/other bits, so it is never briefly open to others.
    // SAFETY: umask only swaps the process's file-creation mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let listener = bound.map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot set mode 0600 on {}: {e}", path.display()))?;
    Ok(BoundSocket {
        listener,
        path: path.to_path_buf(),
        _lock: lock,
    })
}

/// Refuses a socket directory another user could use to put their own socket in our place
/// (e.g. `/tmp/ide-agents-UID` created first by someone else): it must be ours, or root's
/// with the sticky bit (like `/tmp`, where no one can remove or rename our files), and
/// writable by no one else unless sticky.
fn check_directory(dir: &Path) -> Result<(), String> {
    let meta = fs::metadata(dir)
        .map_err(|e| format!("cannot inspect socket directory {}: {e}", dir.display()))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let sticky = meta.mode() & 0o1000 != 0;
    if meta.uid() != me && !(meta.uid() == 0 && sticky) {
        return Err(format!(
            "socket directory {} belongs to uid {}, not to this user (uid {me}): another user \
             could replace the socket; remove it or choose another path with --socket",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 && !sticky {
        return Err(format!(
            "socket directory {} is writable by other users (mode {:o}): make it private \
             (chmod 700) or choose another path with --socket",
            dir.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Takes the exclusive lock next to the socket and writes our pid in it.
fn take_lock(socket: &Path) -> Result<File, String> {
    let path = lock_path(socket);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open lock file {}: {e}", path.display()))?;
    // SAFETY: flock on a descriptor we own; the lock lives as long as the file stays open.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        let pid = pid.trim();
        let pid = if pid.is_empty() { "unknown" } else { pid };
        return Err(format!(
            "already running (pid {pid}) on {}; use `ide-agentsd status` to inspect it",
            socket.display()
        ));
    }
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()));
    written.map_err(|e| format!("cannot write lock file {}: {e}", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn binds_privately_and_refuses_a_second_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/mcp.sock");
        let first = bind(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
            0o700
        );
        let err = bind(&path).err().unwrap();
        assert!(
            err.contains(&format!("already running (pid {})", std::process::id())),
            "{err}"
        );
        drop(first);
        // The lock is released with the socket; the file left behind is stale and replaced.
        assert!(path.exists());
        let again = bind(&path).unwrap();
        assert!(UnixStream::connect(&again.path).is_ok());
    }

    #[test]
    fn refuses_a_directory_other_users_could_write_or_own() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let err = bind(&shared.join("mcp.sock")).err().unwrap();
        assert!(err.contains("writable by other users (mode 777)"), "{err}");
        // Sticky, like /tmp: others can neither remove nor rename our files.
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(bind(&shared.join("mcp.sock")).is_ok());

        let theirs = dir.path().join("theirs");
        fs::create_dir(&theirs).unwrap();
        fs::set_permissions(&theirs, fs::Permissions::from_mode(0o700)).unwrap();
        let c = std::ffi::CString::new(theirs.to_str().unwrap()).unwrap();
        // SAFETY: a valid path; only root may give a directory away, which is what we test.
        if unsafe { libc::chown(c.as_ptr(), 65534, 65534) } == 0 {
            let err = bind(&theirs.join("mcp.sock")).err().unwrap();
            assert!(err.contains("belongs to uid 65534"), "{err}");
            assert!(!theirs.join("mcp.sock").exists());
        }
    }

    #[test]
    fn refuses_to_replace_something_that_is_not_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.sock");
        fs::write(&path, "data").unwrap();
        let err = bind(&path).err().unwrap();
        assert!(err.contains("is not a socket"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "data");
    }
}
