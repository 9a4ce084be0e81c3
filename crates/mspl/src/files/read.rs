//! Bounded reading. Every input goes through [`read_text`] or
//! [`read_stream`]: at most the limit is read (a FIFO, `/dev/zero` or a
//! pipe that never ends stops at the limit), invalid UTF-8 is reported at
//! its line, column and byte offset as soon as it is read, and in data
//! (JSON) a raw control character, which JSON never allows, stops the read
//! at once.

use std::io::Read;
use std::path::Path;

/// What a text is, for the limit that bounds it and the checks made while
/// reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// Policies and declarations (`--max-policy-file-bytes`).
    Policy,
    /// JSON data: entities, requests, contexts, test files
    /// (`--max-data-file-bytes`).
    Data,
}

impl TextKind {
    fn flag(self) -> &'static str {
        match self {
            TextKind::Policy => "--max-policy-file-bytes",
            TextKind::Data => "--max-data-file-bytes",
        }
    }
}

/// Why a text could not be read: a message, and where in the text when the
/// problem is in its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    /// What is wrong, lowercase.
    pub message: String,
    /// 1-based line and column of the offending byte, if any.
    pub at: Option<(usize, usize)>,
    /// How to fix it.
    pub help: Option<String>,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some((line, column)) = self.at {
            write!(f, " (line {line}, column {column})")?;
        }
        Ok(())
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> ReadError {
        ReadError {
            message: io_message(&e),
            at: None,
            help: None,
        }
    }
}

/// An I/O error in our message style: lowercase, without the OS error number.
pub fn io_message(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    // A message of our own (not the system's) says more than its kind.
    if e.raw_os_error().is_none() {
        if let Some(inner) = e.get_ref() {
            return inner.to_string();
        }
    }
    let text = match e.kind() {
        K::NotFound => "no such file or directory".to_string(),
        K::PermissionDenied => "permission denied".to_string(),
        K::IsADirectory => "it is a directory".to_string(),
        _ => {
            let s = e.to_string();
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            let mut c = s.chars();
            match c.next() {
                Some(first) => first.to_lowercase().chain(c).collect(),
                None => s,
            }
        }
    };
    text
}

/// Drops one byte-order mark at the very start of `text` (editors on some
/// systems write one); a mark anywhere else stays and is an error there.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Reads the file at `path` (a regular file, a FIFO or a device alike) as
/// text of `kind`, at most `limit` bytes.
pub fn read_text(path: &Path, limit: usize, kind: TextKind) -> Result<String, ReadError> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata().ok();
    if meta.as_ref().is_some_and(|m| m.is_dir()) {
        return Err(ReadError {
            message: "it is a directory".into(),
            at: None,
            help: None,
        });
    }
    read_sized(file, meta.map_or(0, |m| m.len()), limit, kind)
}

/// [`read_text`] for the inputs of a long-running server: only a regular
/// file. It is opened without blocking, so a FIFO (or a device, or a
/// socket) put in a watched file's place is refused at once with a
/// message, never waited on, and a later change still loads.
pub fn read_regular(path: &Path, limit: usize, kind: TextKind) -> Result<String, ReadError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError {
            message: if meta.is_dir() {
                "it is a directory".into()
            } else {
                "it is not a regular file (a FIFO, a device or a socket)".into()
            },
            at: None,
            help: Some("the server reads only regular files".into()),
        });
    }
    read_sized(file, meta.len(), limit, kind)
}

/// A byte-order mark in UTF-8.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// The size of one read: small enough that a stream that breaks a rule
/// early is stopped early.
const CHUNK: usize = 64 << 10;

/// Reads `reader` to its end as text of `kind`, at most `limit` bytes; a
/// leading byte-order mark is dropped.
pub fn read_stream(reader: impl Read, limit: usize, kind: TextKind) -> Result<String, ReadError> {
    read_sized(reader, 0, limit, kind)
}

/// [`read_stream`] where the input's size is known (`size`, a file's
/// length; 0 where unknown): its room is made once, and each read goes
/// straight into it.
fn read_sized(
    mut reader: impl Read,
    size: u64,
    limit: usize,
    kind: TextKind,
) -> Result<String, ReadError> {
    let expected = usize::try_from(size).unwrap_or(usize::MAX).min(limit);
    let mut bytes: Vec<u8> = Vec::with_capacity(expected.saturating_add(CHUNK));
    // Bytes before `checked` are valid UTF-8 (and, for data, free of raw
    // control characters).
    let mut checked = 0usize;
    let mut bom_seen = false;
    loop {
        let len = bytes.len();
        // Into the room beyond the text, unzeroed (an interrupted read is
        // retried by `read_to_end`).
        let n = (&mut reader).take(CHUNK as u64).read_to_end(&mut bytes)?;
        if n == 0 {
            break;
        }
        if len + n > limit {
            return Err(ReadError {
                message: format!("the input is larger than the limit of {limit} bytes"),
                at: None,
                help: Some(format!("raise the limit with `{}`", kind.flag())),
            });
        }
        // The mark goes before anything is checked, so that every line,
        // column and offset reported is one of the text the parser sees.
        if !bom_seen && bytes.len() >= BOM.len() {
            if bytes.starts_with(BOM) {
                bytes.drain(..BOM.len());
            }
            bom_seen = true;
        }
        checked = check(&bytes, checked, kind, false)?;
    }
    check(&bytes, checked, kind, true)?;
    // The mark, if any, went in the loop: exactly one, only at the start.
    String::from_utf8(bytes).map_err(|e| invalid_utf8(e.as_bytes(), e.utf8_error().valid_up_to()))
}

/// Checks `bytes[from..]`; returns how far the bytes are known good. At the
/// end (`last`), a sequence cut short is an error too.
fn check(bytes: &[u8], from: usize, kind: TextKind, last: bool) -> Result<usize, ReadError> {
    let (good, bad_utf8) = match std::str::from_utf8(&bytes[from..]) {
        Ok(_) => (bytes.len(), None),
        Err(e) => {
            let at = from + e.valid_up_to();
            let bad = (e.error_len().is_some() || last).then_some(at);
            (at, bad)
        }
    };
    if kind == TextKind::Data {
        if let Some(i) = first_control(&bytes[from..good]) {
            let at = from + i;
            return Err(ReadError {
                message: format!(
                    "control character U+{:04X} is not allowed in JSON",
                    bytes[at]
                ),
                at: Some(line_column(bytes, at)),
                help: Some(format!(
                    "inside a string write it as `\\u{:04x}`",
                    bytes[at]
                )),
            });
        }
    }
    // The first problem is reported: a control character before the
    // invalid byte wins.
    if let Some(at) = bad_utf8 {
        return Err(invalid_utf8(bytes, at));
    }
    Ok(good)
}

/// Where the first control character JSON does not allow raw stands (one
/// below U+0020 other than tab, line feed and carriage return). The bytes
/// are looked at a block at a time, without branches, so that the check
/// runs at the speed of memory; only a block that has one is searched.
fn first_control(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 64;
    let is_control = |b: u8| (b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r');
    let blocks = bytes.chunks_exact(BLOCK);
    let rest = blocks.remainder();
    for (i, block) in blocks.enumerate() {
        if block.iter().fold(false, |seen, &b| seen | is_control(b)) {
            return block.iter().position(|&b| is_control(b)).map(|j| i * BLOCK + j);
        }
    }
    let at = bytes.len() - rest.len();
    rest.iter().position(|&b| is_control(b)).map(|j| at + j)
}

fn invalid_utf8(bytes: &[u8], at: usize) -> ReadError {
    ReadError {
        message: format!("the input is not valid UTF-8 at byte offset {at}"),
        at: Some(line_column(bytes, at)),
        help: Some("save the file as UTF-8".into()),
    }
}

/// 1-based line and column (in characters) of byte `at`, where the bytes
/// before it are valid UTF-8.
fn line_column(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = std::str::from_utf8(&before[line_start..])
        .map_or(at - line_start, |s| s.chars().count())
        + 1;
    (line, column)
}

impl crate::diag::Diagnostic {
    /// An input file that could not be read: its name, and the line and
    /// column of the offending byte where there is one.
    pub fn unreadable(name: &str, e: &ReadError) -> crate::diag::Diagnostic {
        let mut d = crate::diag::Diagnostic::plain(format!("cannot read `{name}`: {}", e.message));
        d.help = e.help.clone();
        if let Some((line, column)) = e.at {
            d.file = Some(name.to_string());
            d.line = Some(line);
            d.column = Some(column);
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], limit: usize, kind: TextKind) -> Result<String, ReadError> {
        read_stream(bytes, limit, kind)
    }

    #[test]
    fn a_leading_bom_is_dropped_and_only_that_one() {
        assert_eq!(
            read("\u{feff}[]".as_bytes(), 100, TextKind::Data).unwrap(),
            "[]"
        );
        assert_eq!(
            read("\u{feff}a\u{feff}".as_bytes(), 100, TextKind::Policy).unwrap(),
            "a\u{feff}"
        );
        assert_eq!(
            read("\u{feff}\u{feff}a".as_bytes(), 100, TextKind::Policy).unwrap(),
            "\u{feff}a"
        );
    }

    #[test]
    fn positions_after_a_bom_are_those_of_the_text_without_it() {
        let e = read(b"\xef\xbb\xbf[\n \x01]", 100, TextKind::Data).unwrap_err();
        assert_eq!(e.at, Some((2, 2)));
        let e = read(b"\xef\xbb\xbfab\xff", 100, TextKind::Policy).unwrap_err();
        assert_eq!(e.at, Some((1, 3)));
        assert!(e.message.contains("byte offset 2"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_located() {
        let e = read(b"ab\ncd\xffe", 100, TextKind::Policy).unwrap_err();
        assert_eq!(e.at, Some((2, 3)));
        assert!(e.message.contains("byte offset 5"), "{e}");
        // A sequence cut short at the end.
        let e = read(
            "é".as_bytes().split_last().unwrap().1,
            100,
            TextKind::Policy,
        )
        .unwrap_err();
        assert_eq!(e.at, Some((1, 1)));
    }

    #[test]
    fn an_endless_stream_stops_at_the_limit() {
        let e = read_stream(std::io::repeat(b' '), 1 << 20, TextKind::Data).unwrap_err();
        assert!(
            e.message.contains("larger than the limit of 1048576"),
            "{e}"
        );
        assert_eq!(
            e.help.as_deref(),
            Some("raise the limit with `--max-data-file-bytes`")
        );
    }

    #[test]
    fn the_first_control_character_is_found_wherever_it_stands() {
        let naive = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        };
        for len in [0, 1, 63, 64, 65, 200] {
            let mut text = b"{\"a\":\t\"b\"}\r\n".repeat(20)[..len].to_vec();
            assert_eq!(first_control(&text), None);
            assert_eq!(first_control(&text), naive(&text));
            for at in [0, 1, 62, 63, 64, 127, 128, 190, 199] {
                if at < len {
                    let saved = text[at];
                    for c in [0u8, 0x1f, 0x0b] {
                        text[at] = c;
                        assert_eq!(first_control(&text), Some(at), "{len} {at} {c}");
                    }
                    text[at] = saved;
                }
            }
        }
    }

    #[test]
    fn a_stream_of_nul_bytes_stops_at_once_in_data() {
        let e = read_stream(std::io::repeat(0), usize::MAX, TextKind::Data).unwrap_err();
        assert_eq!(e.message, "control character U+0000 is not allowed in JSON");
        assert_eq!(e.at, Some((1, 1)));
        // Policies may hold any character in a string; the limit still holds.
        assert!(read_stream(std::io::repeat(0), 1000, TextKind::Policy).is_err());
    }
}
