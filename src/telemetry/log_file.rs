//! An append-only JSON-lines file with size-bounded rotation to `.1` … `.N`.
//!
//! The file is opened lazily and reopened after any failure, so a logs directory that
//! becomes writable again is picked up without a restart, and when the path no longer names
//! the open file (moved or deleted by a log rotator), so lines never go to an unlinked file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub struct LogFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: Option<File>,
    /// Device and inode of the open file.
    identity: (u64, u64),
    size: u64,
}

impl LogFile {
    pub fn new(path: PathBuf, max_bytes: u64, keep: usize) -> LogFile {
        LogFile {
            path,
            max_bytes,
            keep,
            file: None,
            identity: (0, 0),
            size: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `bytes` (whole lines) in one write, rotating first when they would take the
    /// file past its bound. A batch larger than the bound goes into a fresh file whole.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let result = self.try_append(bytes);
        if result.is_err() {
            // Reopen next time: the directory may have been fixed, or the file replaced.
            self.file = None;
        }
        result
    }

    fn try_append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.open_file_size() {
            Some(size) => self.size = size,
            None => self.open()?,
        }
        if self.size > 0 && self.size + bytes.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let file = match self.file.as_mut() {
            Some(f) => f,
            None => return Err(std::io::Error::other("log file not open")),
        };
        file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// What the open file holds, if the path still names it: one `stat` a batch, which also
    /// sees lines another daemon sharing the file wrote, and a rotator's truncation.
    fn open_file_size(&self) -> Option<u64> {
        self.file.as_ref()?;
        let meta = self.path.metadata().ok()?;
        ((meta.dev(), meta.ino()) == self.identity).then_some(meta.len())
    }

    fn open(&mut self) -> std::io::Result<()> {
        self.file = None;
        // Commands and tool names are the user's business: a directory and files this
        // creates are the user's only, whatever the umask.
        if let Some(dir) = self.path.parent()
            && !dir.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
            // The umask filters `mode`; one without owner bits would make it unusable.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        let meta = file.metadata()?;
        self.size = meta.len();
        self.identity = (meta.dev(), meta.ino());
        // A last line cut short (a crash, or a full disk, mid-write) is ended here, so the
        // next line starts on its own and stays readable.
        if self.size > 0 && self.ends_mid_line() {
            file.write_all(b"\n")?;
            self.size += 1;
        }
        self.file = Some(file);
        Ok(())
    }

    /// Read through a descriptor of its own: a file we may append to but not read (a
    /// rotator's `create 0220`) is still written, its last byte taken as a line end.
    fn ends_mid_line(&self) -> bool {
        let mut last = [0u8];
        File::open(&self.path)
            .and_then(|f| f.read_exact_at(&mut last, self.size - 1))
            .is_ok_and(|()| last != *b"\n")
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// `file.N-1` → `file.N`, …, `file` → `file.1`; the oldest falls off. Writers sharing
    /// the file take turns under an exclusive `flock` of it, so none renames over a file
    /// another just made; one that finds the file already rotated moves to the new one.
    fn rotate(&mut self) -> std::io::Result<()> {
        let Some(file) = self.file.as_ref() else {
            return self.open();
        };
        // No fsync: the lines are in the page cache like any others, and syncing a whole
        // file here stalled the writer until the workers dropped batches.
        // Never waited for: another holder (a writer mid-rotation, a log shipper) means this
        // batch still goes to the current file and the next one tries again. A filesystem
        // without `flock` rotates without it.
        // SAFETY: flock on a descriptor we own; closing it (in `open`) releases the lock.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(());
            }
            log::debug!("rotating {} without a lock: {e}", self.path.display());
        }
        if self.open_file_size().is_none() {
            return self.open();
        }
        let _ = std::fs::remove_file(self.rotated(self.keep));
        for n in (1..self.keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                std::fs::rename(&from, self.rotated(n + 1))?;
            }
        }
        std::fs::rename(&self.path, self.rotated(1))?;
        self.open()
    }

    /// Pushes what was written to the disk (shutdown).
    pub fn sync(&mut self) -> std::io::Result<()> {
        match self.file.as_ref() {
            Some(f) => f.sync_all(),
            None => Ok(()),
        }
    }
}

/// Whether spans could be written under `dir` (it, or the ancestor that would hold it).
pub fn dir_writable(dir: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let existing = dir.ancestors().find(|p| p.exists());
    let Some(path) = existing else { return false };
    if !path.is_dir() {
        return false;
    }
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access reads a NUL-terminated path we own.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_the_bound_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        let mut log = LogFile::new(path.clone(), 25, 2);
        for i in 0..10 {
            log.append(format!("line-{i:04}\n").as_bytes()).unwrap();
        }
        // 10 bytes a line, 25 bytes a file: two lines per file, newest in the base file.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "line-0008\nline-0009\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("spans.jsonl.1")).unwrap(),
            "line-0006\nline-0007\n"
        );
        assert!(dir.path().join("spans.jsonl.2").exists());
        assert!(!dir.path().join("spans.jsonl.3").exists());
    }

    #[test]
    fn what_it_creates_only_its_user_can_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("spans.jsonl");
        let mut log = LogFile::new(path.clone(), 25, 2);
        for i in 0..4 {
            log.append(format!("line-{i:04}\n").as_bytes()).unwrap();
        }
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            mode(&path.with_extension("jsonl.1")),
            0o600,
            "a rotated file too"
        );
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }

    #[test]
    fn a_torn_last_line_is_ended_before_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\"").unwrap();
        let mut log = LogFile::new(path.clone(), 1000, 2);
        log.append(b"{\"c\":3}\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\"\n{\"c\":3}\n"
        );
    }

    #[test]
    fn a_file_it_may_append_to_but_not_read_is_still_written() {
        // SAFETY: geteuid has no preconditions. Root reads anything: nothing to show there.
        if unsafe { libc::geteuid() } == 0 {
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        std::fs::write(&path, "a\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o200)).unwrap();
        let mut log = LogFile::new(path.clone(), 1000, 2);
        log.append(b"b\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
    }

    #[test]
    fn a_file_moved_or_deleted_under_it_is_reopened_at_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        let mut log = LogFile::new(path.clone(), 1000, 2);
        log.append(b"one\n").unwrap();
        std::fs::rename(&path, dir.path().join("rotated")).unwrap();
        log.append(b"two\n").unwrap();
        std::fs::remove_file(&path).unwrap();
        log.append(b"three\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("rotated")).unwrap(),
            "one\n"
        );
    }

    /// Every line in the file and its rotations, in no particular order.
    fn all_lines(dir: &Path) -> Vec<String> {
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            lines.extend(text.lines().map(str::to_string));
        }
        lines
    }

    /// Two daemons started from one directory share its `logs`: their rotations take turns,
    /// so neither renames a file over one the other just made (36 rotations here, all kept).
    #[test]
    fn two_writers_on_one_file_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut log = LogFile::new(path, 2000, 100);
                    for i in 0..3000 {
                        log.append(format!("w{w}-{i:05}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        // A reader may see a line being written as torn and end it: a blank line, harmless.
        let mut lines: Vec<_> = all_lines(dir.path())
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), 6000, "lines lost, torn or doubled");
        lines.sort();
        lines.dedup();
        assert_eq!(lines.len(), 6000, "lines doubled");
    }

    /// Each writer sharing a file counts the other's lines when it decides to rotate.
    #[test]
    fn writers_taking_turns_keep_the_bound_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        let mut logs = [
            LogFile::new(path.clone(), 25, 10),
            LogFile::new(path, 25, 10),
        ];
        for i in 0..20 {
            logs[i % 2]
                .append(format!("line-{i:04}\n").as_bytes())
                .unwrap();
        }
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let len = entry.unwrap().metadata().unwrap().len();
            assert!(len <= 25, "a file of {len} bytes past the 25-byte bound");
        }
        assert_eq!(all_lines(dir.path()).len(), 20);
    }

    /// A rotator's `copytruncate` empties the file under it: the bound counts what the file
    /// holds, not what this writer once wrote.
    #[test]
    fn a_file_truncated_under_it_fills_to_the_bound_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        let mut log = LogFile::new(path.clone(), 25, 2);
        log.append(b"line-0000\nline-0001\n").unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        log.append(b"line-0002\n").unwrap();
        log.append(b"line-0003\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "line-0002\nline-0003\n"
        );
        assert!(!dir.path().join("spans.jsonl.1").exists(), "rotated early");
    }

    #[test]
    fn an_unwritable_directory_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let mut log = LogFile::new(blocker.join("logs/spans.jsonl"), 100, 2);
        assert!(log.append(b"a\n").is_err());
        assert!(log.append(b"a\n").is_err());
    }
}
