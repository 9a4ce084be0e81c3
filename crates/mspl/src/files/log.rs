//! An append-only log that one writer holds (`mspl serve --entity-changes`):
//! opened as [`super::open_append`] opens a file (a regular file, links
//! followed only when owned), locked with `flock` so that a second writer is
//! refused at once, read from an offset by the tailer, and appended to
//! durably: a line is written and `fsync`ed before anyone is told it is
//! there, and a failed sync takes the line back out.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// A log held for writing, locked against other writers.
#[derive(Debug)]
pub struct HeldLog {
    file: std::fs::File,
}

/// Why an append did not become durable.
#[derive(Debug)]
pub enum AppendError {
    /// The line was not written or not synced, and was taken back out: the
    /// log is as it was; the write can be tried again.
    NotWritten(std::io::Error),
    /// The line could not be taken back out either: the log may end with
    /// a line no one was told of. Nothing more may be appended.
    Damaged(std::io::Error),
}

impl HeldLog {
    /// Opens (creating) the log at `path` and takes its writer's lock;
    /// refused when another process holds it.
    pub fn open(path: &Path) -> std::io::Result<HeldLog> {
        let file = super::open_append(path)?;
        // SAFETY: `flock` on a descriptor this function owns.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked != 0 {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => std::io::Error::other(
                    "another process holds the change log for writing (one writer per log)",
                ),
                _ => e,
            });
        }
        Ok(HeldLog { file })
    }

    /// Appends `line` (which ends in `\n`) and syncs it to disk.
    pub fn append(&mut self, line: &[u8]) -> Result<(), AppendError> {
        let before = self
            .file
            .metadata()
            .map_err(AppendError::NotWritten)?
            .len();
        let written = self
            .file
            .write_all(line)
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => Ok(()),
            Err(e) => match self.file.set_len(before).and_then(|()| self.file.sync_data()) {
                Ok(()) => Err(AppendError::NotWritten(e)),
                Err(again) => Err(AppendError::Damaged(std::io::Error::other(format!(
                    "{e}; taking the line back out failed too: {again}"
                )))),
            },
        }
    }
}

/// What a log holds past `offset`: at most `max` bytes, read through a new
/// handle (the tailer reads while the writer appends). The log's length
/// and identity (device, inode) come with it, so that a log replaced or
/// cut shorter is noticed.
pub fn read_from(path: &Path, offset: u64, max: u64) -> std::io::Result<LogRead> {
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("the change log is not a regular file"));
    }
    let len = meta.len();
    let mut bytes = Vec::new();
    if offset < len {
        file.seek(SeekFrom::Start(offset))?;
        file.take(max.min(len - offset)).read_to_end(&mut bytes)?;
    }
    Ok(LogRead {
        bytes,
        len,
        identity: identity(&meta),
    })
}

/// What [`read_from`] read.
#[derive(Debug)]
pub struct LogRead {
    /// The bytes past the offset.
    pub bytes: Vec<u8>,
    /// The log's length when read.
    pub len: u64,
    /// Its device and inode.
    pub identity: (u64, u64),
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}
