//! Files: every input is read here and every output written here.
//!
//! - [`git`]: policy files as a git revision has them, without a checkout;
//! - [`log`]: an append-only log held by one writer, appended durably;
//! - [`meta`]: what the file system says of a path, folders made;
//! - [`read`]: bounded, streamed reading of a named file or a stream, with
//!   UTF-8 checked at a location and a leading byte-order mark dropped;
//! - [`walk`]: the policy files below a directory, each loaded once, with
//!   cycles of links detected and what is not a regular file skipped;
//! - [`write`]: replacing a file safely (no planted link followed, mode,
//!   owner and hard links kept, nothing written that the user may not write).

pub mod git;
pub mod log;
pub mod meta;
pub mod read;
pub mod walk;
pub mod write;

pub use read::{read_regular, read_stream, read_text, strip_bom, ReadError, TextKind};
pub use walk::{collect_files, Collected};
pub use write::{open_append, say_stdout_failure, write_bytes, write_file, write_stdout};
