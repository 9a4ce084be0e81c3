//! `like` pattern matching: `*` matches any run of characters.

use crate::syntax::ast::PatternElem;

/// Whether `text` matches `pattern`. Linear in practice: backtracks only to
/// the last wildcard seen.
pub fn matches(pattern: &[PatternElem], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(PatternElem::Wildcard) => {
                star = Some((p, t));
                p += 1;
            }
            Some(PatternElem::Char(c)) if text.get(t) == Some(c) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|e| *e == PatternElem::Wildcard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::unescape::unescape_pattern;

    fn m(p: &str, t: &str) -> bool {
        matches(&unescape_pattern(p).unwrap(), t)
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbd"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(m(r"a\*", "a*"));
        assert!(!m(r"a\*", "ab"));
        assert!(m("", ""));
        assert!(!m("", "a"));
    }
}
