//! Cedar's string escapes: `\n \r \t \\ \0 \' \"`, `\x7F` (ASCII only),
//! `\u{…}` (1 to 6 hex digits, a Unicode scalar value), and in `like`
//! patterns `\*` for a literal star. A bare carriage return is refused,
//! as Cedar refuses it.

use super::ast::PatternElem;

/// Where an invalid escape stands in the string's body: byte offset, length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadEscape {
    /// Offset of the backslash in the body.
    pub start: usize,
    /// Length of the escape sequence.
    pub len: usize,
}

/// Unescapes the body of a string literal (without its quotes).
pub fn unescape(body: &str) -> Result<String, BadEscape> {
    let mut out = String::with_capacity(body.len());
    for piece in pieces(body, false) {
        match piece? {
            Piece::Char(c) => out.push(c),
            Piece::Star => out.push('*'),
        }
    }
    Ok(out)
}

/// Unescapes a `like` pattern: an unescaped `*` is a wildcard.
pub fn unescape_pattern(body: &str) -> Result<Vec<PatternElem>, BadEscape> {
    pieces(body, true)
        .map(|p| {
            p.map(|piece| match piece {
                Piece::Char(c) => PatternElem::Char(c),
                Piece::Star => PatternElem::Wildcard,
            })
        })
        .collect()
}

enum Piece {
    Char(char),
    Star,
}

fn pieces(body: &str, pattern: bool) -> impl Iterator<Item = Result<Piece, BadEscape>> + '_ {
    let mut chars = body.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, c) = chars.next()?;
        if c == '*' && pattern {
            return Some(Ok(Piece::Star));
        }
        if c == '\r' {
            // As Cedar (and Rust): a bare carriage return is refused, so
            // that a string never depends on how a file's lines end.
            return Some(Err(BadEscape { start, len: 1 }));
        }
        if c != '\\' {
            return Some(Ok(Piece::Char(c)));
        }
        let bad = |end: usize| BadEscape {
            start,
            len: end - start,
        };
        let Some((i, e)) = chars.next() else {
            return Some(Err(bad(start + 1)));
        };
        let after = i + e.len_utf8();
        Some(match e {
            'n' => Ok(Piece::Char('\n')),
            'r' => Ok(Piece::Char('\r')),
            't' => Ok(Piece::Char('\t')),
            '\\' => Ok(Piece::Char('\\')),
            '0' => Ok(Piece::Char('\0')),
            '\'' => Ok(Piece::Char('\'')),
            '"' => Ok(Piece::Char('"')),
            '*' if pattern => Ok(Piece::Char('*')),
            'x' => {
                let mut value = 0u32;
                let mut end = after;
                for _ in 0..2 {
                    match chars.peek() {
                        Some(&(j, h)) if h.is_ascii_hexdigit() => {
                            value = value * 16 + h.to_digit(16).unwrap_or(0);
                            end = j + 1;
                            chars.next();
                        }
                        _ => return Some(Err(bad(end))),
                    }
                }
                // `\x` escapes only ASCII.
                match u8::try_from(value) {
                    Ok(byte) if byte.is_ascii() => Ok(Piece::Char(char::from(byte))),
                    _ => Err(bad(end)),
                }
            }
            'u' => {
                let mut end = after;
                if !matches!(chars.peek(), Some(&(_, '{'))) {
                    return Some(Err(bad(end)));
                }
                chars.next();
                end += 1;
                let mut value = 0u32;
                let mut digits = 0;
                loop {
                    match chars.next() {
                        Some((j, '}')) => {
                            end = j + 1;
                            break;
                        }
                        Some((j, h)) if h.is_ascii_hexdigit() && digits < 6 => {
                            value = value * 16 + h.to_digit(16).unwrap_or(0);
                            digits += 1;
                            end = j + 1;
                        }
                        Some((j, h)) => return Some(Err(bad(j + h.len_utf8()))),
                        None => return Some(Err(bad(end))),
                    }
                }
                match char::from_u32(value) {
                    Some(c) if digits > 0 => Ok(Piece::Char(c)),
                    _ => Err(bad(end)),
                }
            }
            _ => Err(bad(after)),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            unescape(r#"a\n\t\"\\\x41\u{1F600}"#).unwrap(),
            "a\n\t\"\\A\u{1F600}"
        );
        assert_eq!(unescape(r"\q"), Err(BadEscape { start: 0, len: 2 }));
        assert!(unescape(r"\x80").is_err());
        assert!(unescape(r"\u{D800}").is_err());
        assert!(unescape(r"\*").is_err());
        assert_eq!(
            unescape_pattern(r"a*\*").unwrap(),
            vec![
                PatternElem::Char('a'),
                PatternElem::Wildcard,
                PatternElem::Char('*')
            ]
        );
    }
}
