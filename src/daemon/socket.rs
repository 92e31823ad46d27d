//! The listening socket: a private directory, a lock file that makes start-up race-free,
//! stale-socket replacement, and a 0600 socket file.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Longest socket path the kernel takes (`sun_path` holds 108 bytes with its NUL).
const MAX_SOCKET_PATH_BYTES: usize = 107;

/// A bound socket; holding it holds the lock, so only one daemon serves this path.
pub struct BoundSocket {
    pub listener: UnixListener,
    pub path: PathBuf,
    pub file: SocketFile,
    _lock: File,
}

impl BoundSocket {
    /// Removes the socket file this daemon created.
    pub fn remove_file(&self) {
        self.file.remove();
    }
}

/// The socket file a daemon created: its path, and the device and inode it got.
#[derive(Clone, Debug)]
pub struct SocketFile {
    pub path: PathBuf,
    identity: (u64, u64),
}

impl SocketFile {
    /// Removes the file if the path still names it: something else put there since (systemd's
    /// socket unit, which unlinks a path in use and binds its own) is left alone.
    pub fn remove(&self) {
        match fs::symlink_metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) == self.identity => {
                if let Err(e) = fs::remove_file(&self.path) {
                    log::warn!("could not remove {}: {e}", self.path.display());
                }
            }
            Ok(_) => log::info!(
                "{} is no longer this daemon's socket; left in place",
                self.path.display()
            ),
            Err(_) => {}
        }
    }
}

pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Binds `path`, refusing if a live daemon holds it and replacing a stale socket file.
pub fn bind(path: &Path) -> Result<BoundSocket, String> {
    // Checked before anything is created for it.
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH_BYTES {
        return Err(format!(
            "the socket path {} is {len} bytes; a Unix socket path can be at most \
             {MAX_SOCKET_PATH_BYTES}: choose a shorter one with --socket or IDE_AGENTS_SOCKET",
            path.display()
        ));
    }
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
    let meta = fs::symlink_metadata(path)
        .map_err(|e| format!("cannot inspect {}: {e}", path.display()))?;
    Ok(BoundSocket {
        listener,
        path: path.to_path_buf(),
        file: SocketFile {
            path: path.to_path_buf(),
            identity: (meta.dev(), meta.ino()),
        },
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
    // Not through a symlink: in a shared directory someone could point it at a file of ours,
    // which writing the pid would overwrite.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| format!("cannot open lock file {}: {e}", path.display()))?;
    // One made by another user (in a sticky directory like /tmp) would let them hold it and
    // name any pid: refuse it rather than report a daemon that is not ours.
    let owner = file
        .metadata()
        .map_err(|e| format!("cannot inspect lock file {}: {e}", path.display()))?
        .uid();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if owner != me {
        return Err(format!(
            "lock file {} belongs to uid {owner}, not to this user (uid {me}): another user \
             may be holding this path; choose another with --socket",
            path.display()
        ));
    }
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
    fn a_path_too_long_is_refused_before_anything_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("x".repeat(100));
        let err = bind(&sub.join("mcp.sock")).err().unwrap();
        assert!(err.contains("can be at most 107"), "{err}");
        assert!(err.contains("--socket"), "{err}");
        assert!(!sub.exists(), "a directory was created for it");
    }

    /// systemd's socket unit unlinks a path in use and binds its own socket there: the
    /// daemon that stops later leaves that one alone.
    #[test]
    fn only_the_socket_file_it_created_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.sock");
        let ours = bind(&path).unwrap();
        fs::remove_file(&path).unwrap();
        let _theirs = UnixListener::bind(&path).unwrap();
        ours.remove_file();
        assert!(
            UnixStream::connect(&path).is_ok(),
            "the new socket was removed"
        );

        let again = dir.path().join("again.sock");
        let ours = bind(&again).unwrap();
        ours.remove_file();
        assert!(!again.exists());
    }

    #[test]
    fn a_lock_file_it_does_not_own_or_that_is_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me").unwrap();
        let linked = dir.path().join("linked.sock");
        std::os::unix::fs::symlink(&victim, lock_path(&linked)).unwrap();
        let err = bind(&linked).err().unwrap();
        assert!(err.contains("cannot open lock file"), "{err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");

        let theirs = dir.path().join("theirs.sock");
        fs::write(lock_path(&theirs), "4242").unwrap();
        let c = std::ffi::CString::new(lock_path(&theirs).to_str().unwrap()).unwrap();
        // SAFETY: a valid path; only root may give a file away, which is what we test.
        if unsafe { libc::chown(c.as_ptr(), 65534, 65534) } == 0 {
            let err = bind(&theirs).err().unwrap();
            assert!(err.contains("belongs to uid 65534"), "{err}");
            assert!(!err.contains("4242"), "{err}");
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
