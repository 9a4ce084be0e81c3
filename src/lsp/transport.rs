//! The protocol's frames on stdin and stdout, read within bounds: a
//! header line is at most [`MAX_HEADER_LINE`] bytes and a frame's body at
//! most [`MAX_FRAME`], so `Content-Length: 10000000000` costs nothing but
//! the bytes skipped (streamed away, never held) and a message to the
//! client, and the server goes on with the next frame. A body that is no
//! JSON-RPC message is told likewise.

use lsp_server::{Connection, Message, Notification};
use std::io::{BufRead, Read, Write};

/// The largest frame body read: four times the largest policy file (a
/// document's text escaped in JSON) and a margin.
pub const MAX_FRAME: usize = 4 * (64 << 20) + (1 << 20);

/// The longest header line.
pub const MAX_HEADER_LINE: usize = 8 << 10;

/// What one frame held.
#[derive(Debug)]
pub enum Frame {
    /// A message.
    Message(Message),
    /// Something to tell the client (a frame skipped, a body that is no
    /// message); the stream goes on.
    Problem(String),
    /// The end of the stream.
    End,
}

/// Reads one header line, at most `MAX_HEADER_LINE` bytes; `None` at the
/// end of the stream.
fn header_line(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let read = r
        .by_ref()
        .take(MAX_HEADER_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.len() > MAX_HEADER_LINE {
        return Err(std::io::Error::other(format!(
            "a header line is longer than {MAX_HEADER_LINE} bytes"
        )));
    }
    Ok(Some(String::from_utf8_lossy(&line).trim_end().to_string()))
}

/// Reads one frame from `r`, bounded by `max` bytes of body.
pub fn read_frame(r: &mut impl BufRead, max: usize) -> std::io::Result<Frame> {
    let mut length = None;
    loop {
        let Some(line) = header_line(r)? else {
            return Ok(Frame::End);
        };
        if line.is_empty() {
            if length.is_some() {
                break;
            }
            // Blank lines between frames are tolerated.
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<u64>().map_err(|_| {
                    std::io::Error::other(format!("a bad Content-Length: `{}`", value.trim()))
                })?);
            }
        }
    }
    let length = length.unwrap_or(0);
    if length > max as u64 {
        let skipped = std::io::copy(&mut r.by_ref().take(length), &mut std::io::sink())?;
        if skipped < length {
            return Ok(Frame::End);
        }
        return Ok(Frame::Problem(format!(
            "mspl lsp: a message of {length} bytes is larger than the limit of {max}; it was skipped"
        )));
    }
    let length = usize::try_from(length).map_err(std::io::Error::other)?;
    let mut body = vec![0u8; length];
    r.read_exact(&mut body)?;
    // A JSON-RPC message is an object: an array would pass for a response
    // (serde reads a struct from a sequence too).
    let skipped = |why: String| {
        Ok(Frame::Problem(format!(
            "mspl lsp: a message that is no JSON-RPC message was skipped: {why}"
        )))
    };
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(value @ serde_json::Value::Object(_)) => {
            match serde_json::from_value::<Message>(value) {
                Ok(message) => Ok(Frame::Message(message)),
                Err(e) => skipped(e.to_string()),
            }
        }
        Ok(_) => skipped("it is not a JSON object".into()),
        Err(e) => skipped(e.to_string()),
    }
}

/// The threads that carry frames between stdio and the connection.
pub struct Threads {
    reader: std::thread::JoinHandle<()>,
    writer: std::thread::JoinHandle<()>,
}

impl Threads {
    /// Waits for both to end.
    pub fn join(self) {
        let _ = self.reader.join();
        let _ = self.writer.join();
    }
}

/// A connection over stdin and stdout with bounded frames.
pub fn stdio() -> (Connection, Threads) {
    let (to_client, outgoing) = crossbeam_channel::bounded::<Message>(0);
    let (incoming, from_client) = crossbeam_channel::bounded::<Message>(0);
    let tell = to_client.clone();
    let writer = std::thread::spawn(move || {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for message in outgoing {
            if message.write(&mut out).is_err() || out.flush().is_err() {
                return;
            }
        }
    });
    let reader = std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut input = std::io::BufReader::new(stdin.lock());
        loop {
            match read_frame(&mut input, MAX_FRAME) {
                Ok(Frame::Message(m)) => {
                    let exit = matches!(&m, Message::Notification(n) if n.method == "exit");
                    if incoming.send(m).is_err() || exit {
                        return;
                    }
                }
                Ok(Frame::Problem(message)) => {
                    eprintln!("{message}");
                    let shown = Notification::new(
                        "window/showMessage".into(),
                        serde_json::json!({"type": 1, "message": message}),
                    );
                    if tell.send(Message::Notification(shown)).is_err() {
                        return;
                    }
                }
                Ok(Frame::End) => return,
                Err(e) => {
                    eprintln!("mspl lsp: the input stream broke: {e}");
                    return;
                }
            }
        }
    });
    (
        Connection {
            sender: to_client,
            receiver: from_client,
        },
        Threads { reader, writer },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[test]
    fn a_frame_past_the_limit_is_skipped_and_the_next_one_read() {
        let huge = "x".repeat(100);
        let input = format!(
            "{}{}",
            frame(&huge),
            frame(r#"{"jsonrpc":"2.0","method":"exit"}"#)
        );
        let mut r = std::io::Cursor::new(input.into_bytes());
        match read_frame(&mut r, 50).unwrap() {
            Frame::Problem(m) => assert!(m.contains("100 bytes"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(read_frame(&mut r, 50).unwrap(), Frame::Message(_)));
        assert!(matches!(read_frame(&mut r, 50).unwrap(), Frame::End));
    }

    #[test]
    fn a_huge_declared_length_allocates_nothing() {
        let input = "Content-Length: 10000000000\r\n\r\nshort";
        let mut r = std::io::Cursor::new(input.as_bytes().to_vec());
        // The bytes run out before the declared length: the stream ends.
        assert!(matches!(read_frame(&mut r, MAX_FRAME).unwrap(), Frame::End));
    }

    #[test]
    fn a_body_that_is_no_message_is_told() {
        let input = frame("[1, 2]");
        let mut r = std::io::Cursor::new(input.into_bytes());
        assert!(matches!(
            read_frame(&mut r, MAX_FRAME).unwrap(),
            Frame::Problem(_)
        ));
    }
}
