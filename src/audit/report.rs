//! An answer's lines as JSON lines, CSV and text for people.

use super::judge::Line;
use super::Domain;
use crate::authorize::Decision;
use serde_json::Value as Json;
use std::fmt::Write;

/// One line in JSON, its keys in this order whatever serde_json's map.
#[derive(serde::Serialize)]
struct LineJson<'a> {
    principal: &'a str,
    action: &'a str,
    resource: &'a str,
    context: Json,
    decision: Decision,
    kind: Option<crate::authorize::DenyKind>,
    determining: &'a [smol_str::SmolStr],
    errors: &'a [crate::authorize::PolicyError],
}

/// One line as a JSON object: `principal`, `action`, `resource` as
/// `Type::"id"`, `context` as an object, then the response's fields.
pub fn line_json(domain: &Domain, line: &Line) -> String {
    let r = &line.response;
    let out = LineJson {
        principal: domain.name(line.ids.principal),
        action: domain.name(line.ids.action),
        resource: domain.name(line.ids.resource),
        context: domain.contexts[line.ids.context as usize].to_json(),
        decision: r.decision,
        kind: r.kind,
        determining: &r.determining,
        errors: &r.errors,
    };
    serde_json::to_string(&out).unwrap_or_default()
}

/// Every line as a JSON line.
pub fn json_lines(domain: &Domain, lines: &[Line]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&line_json(domain, line));
        out.push('\n');
    }
    out
}

/// The CSV of a matrix: `principal,action,resource,context,determining`,
/// the context as its canonical JSON, the determining policies joined by
/// `;`; a line that is not an allow adds its decision after a `deny:`.
pub fn csv(domain: &Domain, lines: &[Line]) -> String {
    let mut out = String::from("principal,action,resource,context,determining\n");
    for line in lines {
        let mut determining = line.response.determining.join(";");
        if line.response.decision == Decision::Deny {
            determining = format!("deny:{determining}");
        }
        let fields = [
            domain.name(line.ids.principal),
            domain.name(line.ids.action),
            domain.name(line.ids.resource),
            &domain.context_json[line.ids.context as usize],
            &determining,
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// RFC 4180 quoting: a field with a comma, a quote or a line break is
/// quoted, its quotes doubled. A field that a spreadsheet would run as a
/// formula (one starting with `=`, `+`, `-`, `@`, a tab or a carriage
/// return: a policy id is the author's text) is neutralised with a
/// leading `'` and quoted, as OWASP's CSV-injection advice says.
fn csv_field(field: &str) -> String {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("\"'{}\"", field.replace('"', "\"\""))
    } else if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Text for people: a block per principal, a line per request with what
/// decided it, and any errors under it.
pub fn text(domain: &Domain, lines: &[Line]) -> String {
    let mut out = String::new();
    let mut principal = None;
    for line in lines {
        if principal != Some(line.ids.principal) {
            if principal.is_some() {
                out.push('\n');
            }
            principal = Some(line.ids.principal);
            let _ = writeln!(out, "{}", domain.name(line.ids.principal));
        }
        let context = match &domain.contexts[line.ids.context as usize] {
            crate::value::Value::Record(r) if r.is_empty() => String::new(),
            other => format!(" with context {other}"),
        };
        let r = &line.response;
        let verdict = match (r.decision, r.kind) {
            (Decision::Allow, _) => format!("allowed by {}", r.determining.join(", ")),
            (Decision::Deny, Some(crate::authorize::DenyKind::Forbidden)) => {
                format!("DENIED: forbidden by {}", r.determining.join(", "))
            }
            (Decision::Deny, _) => "DENIED: no permit applies".to_string(),
        };
        let _ = writeln!(
            out,
            "  {} on {}{context}: {verdict}",
            domain.name(line.ids.action),
            domain.name(line.ids.resource)
        );
        for e in &r.errors {
            let _ = writeln!(
                out,
                "    error in {} at {}:{}:{}: {}",
                e.policy, e.file, e.line, e.column, e.message
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_neutralised() {
        for (field, cell) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1", "\"'+1\""),
            ("-2", "\"'-2\""),
            ("@SUM(A1)", "\"'@SUM(A1)\""),
            ("rule-03", "rule-03"),
            ("a,b", "\"a,b\""),
        ] {
            assert_eq!(super::csv_field(field), cell);
        }
    }
}
