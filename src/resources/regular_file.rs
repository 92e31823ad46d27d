//! Opening the files resources and prompt overrides are read from, refusing anything that is
//! not a regular file. Reads run on a worker thread, beside every other session of that
//! worker: a FIFO (whose open waits for a writer and whose read waits for data) or a device
//! must never be opened for reading there.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` for reading if it is a regular file (following symlinks). Anything else is
/// refused from a `stat`, without an open: opening a FIFO would release a writer waiting
/// for a reader (`make > build.log`), which our close would then break. The open that
/// follows cannot wait (`O_NONBLOCK`) and is checked again, for a file swapped in between.
pub fn open(path: &Path) -> io::Result<File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(not_regular())
    }
}

fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")
}

/// The whole file as text; bytes that are not UTF-8 become U+FFFD, so a listed file is
/// always readable.
pub fn read_text(path: &Path) -> io::Result<String> {
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f.md");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open(&fifo).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(
            open(dir.path()).is_err(),
            "a directory is not a regular file"
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_read_with_replacement_characters() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.md");
        std::fs::write(&file, b"ok \xff\xfe bad").unwrap();
        assert_eq!(read_text(&file).unwrap(), "ok \u{fffd}\u{fffd} bad");
        std::fs::write(&file, "plain é").unwrap();
        assert_eq!(read_text(&file).unwrap(), "plain é");
    }
}
