//! Entity references written as text, `Type::"id"`: the one reader for
//! entity files, requests, command-line uids and template links.

use super::ast::EntityUid;

/// Whether `ty` is a valid entity type name: identifiers (not reserved
/// words) joined by `::`, as Cedar's normalized names are.
pub fn is_type_name(ty: &str) -> bool {
    // Most names have no namespace: no `::` searcher to build for them.
    if !ty.as_bytes().contains(&b':') {
        return is_identifier_segment(ty);
    }
    ty.split("::").all(is_identifier_segment)
}

fn is_identifier_segment(seg: &str) -> bool {
    // ASCII only: a byte of a multi-byte character is no letter either.
    let mut bytes = seg.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !matches!(
            seg,
            "true" | "false" | "if" | "then" | "else" | "in" | "is" | "like" | "has"
        )
}

/// Parses `T::"id"` as written in policies.
pub fn parse_uid(text: &str) -> Result<EntityUid, String> {
    if let Some(uid) = simple_uid(text) {
        return Ok(uid);
    }
    let expr = super::parse_expr(text, 0, &[], &crate::limits::Limits::default())
        .map_err(|_| format!("`{text}` is not an entity reference like `Type::\"id\"`"))?;
    match expr.kind {
        super::ast::ExprKind::Entity(uid) => Ok(uid),
        _ => Err(format!(
            "`{text}` is not an entity reference like `Type::\"id\"`"
        )),
    }
}

/// An action as a command line takes it: `Action::"page.edit"` in full,
/// or its bare id, `page.edit` (what has no `::` and no quote), for
/// `Action::"page.edit"`: one convention for every command.
pub fn parse_action(text: &str) -> Result<EntityUid, String> {
    if text.contains("::") || text.contains('"') {
        parse_uid(text)
    } else {
        Ok(EntityUid::new("Action", text))
    }
}

/// The common form `Ns::Type::"id"` without spaces, comments or escapes,
/// read without the parser (entity files hold millions of these). Anything
/// else is `None`, and the parser decides.
fn simple_uid(text: &str) -> Option<EntityUid> {
    let quote = text.find('"')?;
    let ty = text[..quote].strip_suffix("::")?;
    let id = text[quote + 1..].strip_suffix('"')?;
    if id.contains(['"', '\\']) {
        return None;
    }
    is_type_name(ty).then(|| EntityUid::new(ty, id))
}
