//! Positions as the protocol counts them: lines end at `\n`, `\r\n` or a
//! lone `\r`; a column counts UTF-16 code units by default, bytes when the
//! client chose UTF-8 (`positionEncoding`). Byte offsets never leave this
//! module unconverted, and a position past a line's end or between the
//! halves of a character is clamped, never a panic.

use lsp_types::{Position, Range};

/// How columns are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-16 code units (the protocol's default).
    Utf16,
    /// Bytes of UTF-8.
    Utf8,
}

/// The lines of one text, for converting offsets and positions.
#[derive(Clone, Debug)]
pub struct LineIndex {
    /// The byte offset where each line starts.
    starts: Vec<usize>,
    encoding: Encoding,
}

impl LineIndex {
    /// The index of `text`.
    pub fn new(text: &str, encoding: Encoding) -> LineIndex {
        let mut starts = vec![0];
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i + 1),
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    starts.push(i + 2);
                    i += 1;
                }
                b'\r' => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex { starts, encoding }
    }

    /// The position of byte `offset` of `text` (clamped to the text, moved
    /// back to a character boundary).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let before = &text[start..offset];
        let column = match self.encoding {
            Encoding::Utf8 => before.len(),
            Encoding::Utf16 => before.encode_utf16().count(),
        };
        // The protocol's positions are u32; a source is at most u32::MAX bytes.
        Position::new(
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        )
    }

    /// The range of bytes `start..end` of `text`.
    pub fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range::new(
            self.position(text, start),
            self.position(text, end.max(start)),
        )
    }

    /// The byte offset of `position` in `text`: a column past the line's
    /// end is its end (before the line break), a line past the last is the
    /// text's end.
    pub fn offset(&self, text: &str, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return text.len();
        };
        let end = self
            .starts
            .get(position.line as usize + 1)
            .copied()
            .unwrap_or(text.len());
        let line = text[start..end].trim_end_matches(['\n', '\r']);
        let mut units = 0usize;
        for (i, c) in line.char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += match self.encoding {
                Encoding::Utf8 => c.len_utf8(),
                Encoding::Utf16 => c.len_utf16(),
            };
        }
        start + line.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_ending_ends_a_line_and_multibyte_text_never_shifts_a_column() {
        let text = "a\nb\r\nc\rd😀e\r\n";
        for encoding in [Encoding::Utf16, Encoding::Utf8] {
            let index = LineIndex::new(text, encoding);
            for (offset, c) in text.char_indices() {
                // The `\n` of a `\r\n` is inside one line break: no position.
                if c == '\n' && text[..offset].ends_with('\r') {
                    continue;
                }
                let p = index.position(text, offset);
                assert_eq!(index.offset(text, p), offset, "{encoding:?} {offset} {p:?}");
            }
        }
        let utf16 = LineIndex::new(text, Encoding::Utf16);
        let e = text.find('e').expect("an e");
        assert_eq!(utf16.position(text, e), Position::new(3, 3));
        let utf8 = LineIndex::new(text, Encoding::Utf8);
        assert_eq!(utf8.position(text, e), Position::new(3, 5));
        // Past the end, inside a character: clamped.
        assert_eq!(
            utf16.offset(text, Position::new(3, 2)),
            e,
            "inside a character: the next one"
        );
        assert_eq!(utf16.offset(text, Position::new(0, 99)), 1);
        assert_eq!(utf16.offset(text, Position::new(99, 0)), text.len());
        assert_eq!(
            utf16.position(text, text.find('😀').expect("emoji") + 1),
            Position::new(3, 1)
        );
    }
}
