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
    open_checked(path, libc::O_NONBLOCK)
}

/// Opens `path`, a path [`crate::resources::confine::resolve`] found inside its directory,
/// without following a symlink at its end: one swapped in since the check (pointing out of
/// the directory) fails the open instead of being read.
pub fn open_confined(path: &Path) -> io::Result<File> {
    if !std::fs::symlink_metadata(path)?.is_file() {
        return Err(not_regular());
    }
    open_checked(path, libc::O_NONBLOCK | libc::O_NOFOLLOW)
}

fn open_checked(path: &Path, flags: libc::c_int) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
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

/// Most of a file `read_text` serves: a snippet or a prompt is read whole on a worker
/// thread, beside that worker's other sessions, and kept in the cache.
pub const MAX_TEXT_BYTES: u64 = 1024 * 1024;

/// The file as text, at most [`MAX_TEXT_BYTES`] of it (a longer file is cut at a character
/// boundary, with a line saying so); bytes that are not UTF-8 become U+FFFD, so a listed
/// file is always readable.
pub fn read_text(path: &Path) -> io::Result<String> {
    text_of(open(path)?)
}

/// [`read_text`] of a confined path, opened as [`open_confined`] does.
pub fn read_confined_text(path: &Path) -> io::Result<String> {
    text_of(open_confined(path)?)
}

fn text_of(file: File) -> io::Result<String> {
    let len = file.metadata()?.len();
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_BYTES + 1).read_to_end(&mut bytes)?;
    let cut = bytes.len() as u64 > MAX_TEXT_BYTES;
    bytes.truncate(MAX_TEXT_BYTES as usize);
    let mut text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    if cut {
        // A character split by the cut shows as one U+FFFD: drop it.
        if text.ends_with('\u{fffd}') {
            text.pop();
        }
        text.push_str(&format!(
            "\n\n[cut here: the file is {} bytes, and only its first {} KiB are served]\n",
            len.max(MAX_TEXT_BYTES + 1),
            MAX_TEXT_BYTES / 1024
        ));
    }
    Ok(text)
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
    fn a_symlink_swapped_in_after_the_confinement_check_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let kb = dir.path().join("kb");
        std::fs::create_dir(&kb).unwrap();
        std::fs::write(dir.path().join("secret.md"), "secret").unwrap();
        std::fs::write(kb.join("a.md"), "snippet").unwrap();
        let checked = crate::resources::confine::resolve(&kb, "a", ".md").unwrap();
        assert_eq!(read_confined_text(&checked).unwrap(), "snippet");
        // Between the check and the open, the file becomes a link out of the directory.
        std::fs::remove_file(&checked).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.md"), &checked).unwrap();
        assert!(read_confined_text(&checked).is_err());
        assert!(open_confined(&checked).is_err());
        assert_eq!(
            read_text(&checked).unwrap(),
            "secret",
            "what a plain open does"
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

    #[test]
    fn a_file_past_the_limit_is_cut_at_a_character_with_a_line_saying_so() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.md");
        // "é" is two bytes: the limit falls inside the last one.
        let mut body = "a".repeat(MAX_TEXT_BYTES as usize - 1);
        body.push_str(&"é".repeat(10));
        std::fs::write(&file, &body).unwrap();
        let text = read_text(&file).unwrap();
        let (kept, note) = text.split_once("\n\n[cut here").unwrap();
        assert_eq!(kept, "a".repeat(MAX_TEXT_BYTES as usize - 1));
        assert!(note.contains(&format!("is {} bytes", body.len())), "{note}");
        assert!(note.contains("first 1024 KiB"), "{note}");

        let exact = "b".repeat(MAX_TEXT_BYTES as usize);
        std::fs::write(&file, &exact).unwrap();
        assert_eq!(read_text(&file).unwrap(), exact, "at the limit: whole");
    }
}
