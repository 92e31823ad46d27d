//! Path confinement: a client-supplied name resolves to a file inside its configured
//! directory, or to nothing. No `..`, no absolute paths, no separators, no hidden files, and
//! no symlink that leads outside the directory.

use std::path::{Path, PathBuf};

/// Why a name was refused; the message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// Checks the spelling of a name: one path component, no leading dot.
pub fn check_name(name: &str) -> Result<(), Refused> {
    // Control characters (a newline, say) would break the URI and the index's markdown.
    let bad = name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\'])
        || name.contains(char::is_control)
        || name.len() > 255;
    if bad {
        return Err(Refused(format!(
            "{name:?} is not a snippet name: use a file name from the kb directory, without \
             path separators, control characters or a leading dot"
        )));
    }
    Ok(())
}

/// The file name a snippet name stands for: `name` with `ext`, unless it already ends in it.
pub fn file_name(name: &str, ext: &str) -> String {
    if name.ends_with(ext) {
        name.to_string()
    } else {
        format!("{name}{ext}")
    }
}

/// The file `<dir>/<name><ext>` (the extension may already be on `name`), if it is a regular
/// file whose real path lies inside the real path of `dir`.
pub fn resolve(dir: &Path, name: &str, ext: &str) -> Result<PathBuf, Refused> {
    check_name(name)?;
    let file = file_name(name, ext);
    let not_found = || Refused(format!("no snippet named {name:?}"));
    let real_dir = dir.canonicalize().map_err(|_| not_found())?;
    let real = real_dir
        .join(&file)
        .canonicalize()
        .map_err(|_| not_found())?;
    // Said like a missing name: a client learns nothing of what lies outside.
    if !real.starts_with(&real_dir) {
        return Err(not_found());
    }
    match real.metadata() {
        Ok(m) if m.is_file() => Ok(real),
        _ => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inside_the_directory_resolve() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("intro.md"), "# hi").unwrap();
        let want = dir.path().canonicalize().unwrap().join("intro.md");
        assert_eq!(resolve(dir.path(), "intro", ".md"), Ok(want.clone()));
        assert_eq!(resolve(dir.path(), "intro.md", ".md"), Ok(want));
        assert!(resolve(dir.path(), "missing", ".md").is_err());
    }

    #[test]
    fn traversal_absolute_and_hidden_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kb = dir.path().join("kb");
        std::fs::create_dir(&kb).unwrap();
        std::fs::write(dir.path().join("secret.md"), "secret").unwrap();
        std::fs::write(kb.join(".hidden.md"), "hidden").unwrap();
        for name in [
            "../secret",
            "../secret.md",
            "..",
            "/etc/passwd",
            "a/b",
            ".hidden",
            "",
            "x\0y",
        ] {
            assert!(resolve(&kb, name, ".md").is_err(), "{name:?}");
        }
    }

    #[test]
    fn a_symlink_out_of_the_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kb = dir.path().join("kb");
        std::fs::create_dir(&kb).unwrap();
        std::fs::write(dir.path().join("secret.md"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.md"), kb.join("escape.md")).unwrap();
        std::fs::write(kb.join("real.md"), "ok").unwrap();
        std::os::unix::fs::symlink(kb.join("real.md"), kb.join("alias.md")).unwrap();
        let e = resolve(&kb, "escape", ".md").unwrap_err();
        assert_eq!(
            e.0, "no snippet named \"escape\"",
            "said like a missing name"
        );
        assert!(resolve(&kb, "alias", ".md").is_ok());
    }
}
