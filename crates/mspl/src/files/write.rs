//! Replacing a file safely, for `mspl fmt` and `mspl test --update`.
//!
//! - A file the user may not write is refused, judged as the system judges
//!   it (`access(2)`: root may write a 0444 file; its mode stays 0444).
//! - A symbolic link is written through (its target is replaced, the link
//!   stays a link), each hop only when this user owns the link (stricter
//!   than the kernel's `protected_symlinks` rule, which also trusts the
//!   folder's owner); a dangling link is refused, never used to create a
//!   file elsewhere.
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
    write_bytes(path, text.as_bytes())
}

/// [`write_file`] for bytes that need not be text (a bundle's tar.gz).
pub fn write_bytes(path: &Path, text: &[u8]) -> std::io::Result<()> {
    let target = follow_links(path)?;
    let meta = match std::fs::symlink_metadata(&target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && target == path => {
            return replace(path, text, None);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "refusing to create a file through a dangling link",
            ))
        }
        Err(e) => return Err(e),
    };
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

/// The file `path` names, through its links, each hop followed only when
/// this user owns the link, so a link planted in someone else's tree never
/// redirects a write.
fn follow_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut at = path.to_path_buf();
    for _ in 0..40 {
        let meta = match std::fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(at),
            Err(e) => return Err(e),
        };
        if !meta.file_type().is_symlink() {
            return Ok(at);
        }
        if meta.uid() != current_uid() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "refusing to write through a link owned by another user",
            ));
        }
        let to = std::fs::read_link(&at)?;
        at = match at.parent() {
            Some(dir) if to.is_relative() => dir.join(to),
            _ => to,
        };
    }
    Err(std::io::Error::other("too many levels of links"))
}

/// Whether this process may write `path`, as `access(2)` judges it.
fn writable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

fn replace(target: &Path, text: &[u8], old: Option<&std::fs::Metadata>) -> std::io::Result<()> {
    if let Some(meta) = old {
        let me = current_uid();
        if meta.nlink() > 1 || (me != 0 && meta.uid() != me) {
            return rewrite_in_place(target, text, meta);
        }
    }
    // A new file gets the usual mode (0666 less the umask); a replaced one
    // is private until it has the old file's mode.
    let mode = if old.is_some() { 0o600 } else { 0o666 };
    let (temp_path, mut temp) = match create_temp(target, mode) {
        Ok(t) => t,
        // A writable file in a folder this user may not write: in place.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => match old {
            Some(meta) => return rewrite_in_place(target, text, meta),
            None => return Err(e),
        },
        Err(e) => return Err(e),
    };
    let result = (|| {
        temp.write_all(text)?;
        if let Some(meta) = old {
            let made = temp.metadata()?;
            if (made.uid(), made.gid()) != (meta.uid(), meta.gid()) {
                std::os::unix::fs::fchown(&temp, Some(meta.uid()), Some(meta.gid()))?;
            }
            temp.set_permissions(meta.permissions())?;
        }
        temp.sync_all()?;
        std::fs::rename(&temp_path, target)
    })();
    match result {
        Ok(()) => {
            sync_parent(target);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp_path);
            match old {
                // The owner or group cannot be given to a new file: keep
                // the inode instead.
                Some(meta) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    rewrite_in_place(target, text, meta)
                }
                _ => Err(e),
            }
        }
    }
}

/// Makes a rename durable: syncs the folder that holds `target`.
fn sync_parent(target: &Path) {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Rewrites the file `meta` describes in place (same inode): opened without
/// following a link and checked to be that very file, its space reserved
/// before a byte is written (so a full disk fails before anything changes),
/// then overwritten and cut to the new length.
fn rewrite_in_place(target: &Path, text: &[u8], meta: &std::fs::Metadata) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(target)?;
    let now = f.metadata()?;
    if (now.dev(), now.ino()) != (meta.dev(), meta.ino()) {
        return Err(std::io::Error::other(
            "the file was replaced while it was being written",
        ));
    }
    let len = text.len() as u64;
    if len > now.len() {
        let Ok(want) = libc::off_t::try_from(len) else {
            return Err(std::io::Error::other(
                "the text is too long for this file system",
            ));
        };
        // SAFETY: `f` is an open, writable file descriptor.
        let r = unsafe { libc::posix_fallocate(std::os::fd::AsRawFd::as_raw_fd(&f), 0, want) };
        if r != 0 && r != libc::EOPNOTSUPP && r != libc::EINVAL {
            return Err(std::io::Error::from_raw_os_error(r));
        }
    }
    f.write_all(text)?;
    f.set_len(len)?;
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

/// Opens `path` to append to (creating it, mode 0666 less the umask) by
/// the rules of this module: a link followed only when this user owns it,
/// only a regular file (opened without blocking, so a FIFO is refused at
/// once rather than waited on). For the files mspl appends to, as the
/// decision log.
pub fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    let not_regular = || std::io::Error::other("not a regular file (a FIFO, a device or a socket)");
    let target = follow_links(path)?;
    if std::fs::symlink_metadata(&target).is_ok_and(|m| !m.is_file()) {
        return Err(not_regular());
    }
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o666)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&target)
        // A FIFO put there since: no reader, no open.
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENXIO) => not_regular(),
            _ => e,
        })?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// Writes `bytes` to standard output and flushes it. A failure is the
/// command's failure (contract, "Writes, gates and logs"): see
/// [`say_stdout_failure`].
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Says on standard error why standard output could not be written; a
/// closed pipe (`| head`) is said nothing of: the reader asked for no more.
pub fn say_stdout_failure(e: &std::io::Error) {
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        eprintln!(
            "error: writing standard output: {}",
            super::read::io_message(e)
        );
    }
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
    fn a_new_file_is_created_and_a_dangling_link_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("new.snap");
        write_file(&fresh, "x").unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "x");
        let link = dir.path().join("link.snap");
        std::os::unix::fs::symlink("target.snap", &link).unwrap();
        assert!(write_file(&link, "y").is_err());
        assert!(!dir.path().join("target.snap").exists());
    }

    #[test]
    fn a_chain_of_own_links_is_written_through_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.mspl");
        std::fs::write(&file, "old").unwrap();
        std::os::unix::fs::symlink("a.mspl", dir.path().join("l2")).unwrap();
        std::os::unix::fs::symlink("l2", dir.path().join("l1")).unwrap();
        write_file(&dir.path().join("l1"), "new").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        assert!(dir.path().join("l1").is_symlink() && dir.path().join("l2").is_symlink());
    }

    #[test]
    fn a_hard_linked_file_is_rewritten_in_place_shorter_and_longer() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "0123456789").unwrap();
        std::fs::hard_link(&a, dir.path().join("b")).unwrap();
        write_file(&a, "short").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b")).unwrap(),
            "short"
        );
        write_file(&a, "a much longer text than before").unwrap();
        let b = std::fs::read_to_string(dir.path().join("b")).unwrap();
        assert_eq!(b, "a much longer text than before");
    }
}
