//! Replacing a file safely, for `mspl fmt` and `mspl test --update`.
//!
//! - A file the user may not write is refused, judged as the system judges
//!   it (`access(2)`: root may write a 0444 file; its mode stays 0444).
//! - A symbolic link is written through: its target is replaced, the link
//!   stays a link.
//! - The new text goes to a temporary file in the target's folder, created
//!   new and exclusive (`O_CREAT | O_EXCL`, so a link planted at that name
//!   is never followed), given the old file's mode and owner on its open
//!   handle, then renamed over the old file: a crash leaves the old file or
//!   the new one, never half of either.
//! - A file with several hard links, or one whose owner cannot be kept, is
//!   rewritten in place (same inode), after the new text is complete, so
//!   the links stay one file and the owner stays.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Replaces the contents of `path` with `text` (creating it if it does not
/// exist), as the module documentation describes.
pub fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    let target = match std::fs::canonicalize(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if path.is_symlink() {
                // A dangling link: write where it points, as `echo > link` would.
                let link = std::fs::read_link(path)?;
                let to = path.parent().unwrap_or(Path::new(".")).join(link);
                return replace(&to, text, None);
            }
            return replace(path, text, None);
        }
        Err(e) => return Err(e),
    };
    let meta = std::fs::metadata(&target)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if !writable(&target) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the file is not writable (check its permissions)",
        ));
    }
    replace(&target, text, Some(&meta))
}

/// Whether this process may write `path`, as `access(2)` judges it.
fn writable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

fn replace(target: &Path, text: &str, old: Option<&std::fs::Metadata>) -> std::io::Result<()> {
    if let Some(meta) = old {
        let keeps_owner = meta.uid() == current_uid() || current_uid() == 0;
        if meta.nlink() > 1 || !keeps_owner {
            return rewrite_in_place(target, text);
        }
    }
    // A new file gets the usual mode (0666 less the umask); a replaced one
    // is private until it has the old file's mode.
    let mode = if old.is_some() { 0o600 } else { 0o666 };
    let (temp_path, mut temp) = create_temp(target, mode)?;
    let result = (|| {
        temp.write_all(text.as_bytes())?;
        if let Some(meta) = old {
            std::os::unix::fs::fchown(&temp, Some(meta.uid()), Some(meta.gid()))?;
            temp.set_permissions(meta.permissions())?;
        }
        temp.sync_all()?;
        std::fs::rename(&temp_path, target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp_path);
    }
    result
}

fn rewrite_in_place(target: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(target)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// A new temporary file beside `target`, created exclusively: a name taken
/// by anything (a planted link included) is passed over, never opened.
fn create_temp(target: &Path, mode: u32) -> std::io::Result<(PathBuf, std::fs::File)> {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for attempt in 0..16u32 {
        let temp = dir.join(format!(
            ".{name}.mspl-tmp.{}.{nanos:x}.{attempt}",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)
        {
            Ok(f) => return Ok((temp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no temporary file name was free")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_planted_at_the_temporary_name_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "do not touch").unwrap();
        let target = dir.path().join("a.mspl");
        std::fs::write(&target, "old").unwrap();
        // Plant links at every name the next attempts could take.
        for attempt in 0..16 {
            let (name, file) = create_temp(&target, 0o600).unwrap();
            drop(file);
            std::fs::remove_file(&name).unwrap();
            std::os::unix::fs::symlink(&secret, &name).unwrap();
            let again = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&name);
            assert_eq!(
                again.unwrap_err().kind(),
                std::io::ErrorKind::AlreadyExists,
                "attempt {attempt}"
            );
        }
        write_file(&target, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "do not touch");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }

    #[test]
    fn a_new_file_is_created_and_a_dangling_link_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("new.snap");
        write_file(&fresh, "x").unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "x");
        let link = dir.path().join("link.snap");
        std::os::unix::fs::symlink("target.snap", &link).unwrap();
        write_file(&link, "y").unwrap();
        assert!(link.is_symlink());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("target.snap")).unwrap(),
            "y"
        );
    }
}
