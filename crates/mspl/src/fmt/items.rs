//! Items to text: policies, rules, declarations, with comments placed before
//! (or trailing) the line-level construct they stand in or next to.

use super::comments::Comments;
use super::expr::{attr_name, entity, expr, string};
use super::WIDTH;
use crate::syntax::ast::*;

/// Builds the output line by line.
pub struct Printer<'a> {
    out: String,
    indent: usize,
    comments: Comments<'a>,
}

impl<'a> Printer<'a> {
    /// A printer placing `comments`.
    pub fn new(comments: Comments<'a>) -> Printer<'a> {
        Printer {
            out: String::new(),
            indent: 0,
            comments,
        }
    }

    fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// Puts the comments that start before `pos` on lines of their own.
    fn leading(&mut self, pos: u32) {
        for (c, _) in self.comments.before(pos as usize) {
            self.line(&c);
        }
    }

    /// Like [`Printer::leading`] between top-level items, keeping a blank
    /// line where the source has one (several count as one).
    fn leading_top(&mut self, pos: u32) {
        for (c, blank) in self.comments.before(pos as usize) {
            if blank && !self.out.is_empty() {
                self.out.push('\n');
            }
            self.line(&c);
        }
        if self.comments.blank_before(pos as usize) && !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    /// Appends a comment that trails the source at `end` (and comes before
    /// `limit`) to the last line.
    fn trailing(&mut self, end: u32, limit: u32) {
        if let Some(c) = self.comments.trailing(end as usize, limit as usize) {
            if self.out.ends_with('\n') {
                self.out.pop();
            }
            self.out.push(' ');
            self.out.push_str(&c);
            self.out.push('\n');
        }
    }

    fn fits(&self, text: &str) -> bool {
        self.indent * 2 + text.chars().count() <= WIDTH && !text.contains('\n')
    }

    /// The whole file; `source` decides where blank lines separate items.
    pub fn file(mut self, file: &File, source: Option<&str>) -> String {
        // Without a source, items are separated by one blank line.
        for (i, item) in file.items.iter().enumerate() {
            let span = item_span(item);
            if source.is_some() {
                self.leading_top(span.start);
            } else if i > 0 {
                self.out.push('\n');
            }
            match item {
                Item::Policy(p) => self.policy(p),
                Item::Rule(r) => self.rule(r),
                Item::Decl(d) => self.decl(d),
                Item::Namespace(ns) => self.namespace(ns),
            }
            let limit = file
                .items
                .get(i + 1)
                .map_or(u32::MAX, |next| item_span(next).start);
            self.trailing(span.end, limit);
            self.comments.set_mark(span.end as usize);
        }
        for (c, blank) in self.comments.rest() {
            if blank && !self.out.is_empty() {
                self.out.push('\n');
            }
            self.line(&c);
        }
        self.out
    }

    fn annotations(&mut self, annotations: &[Annotation]) {
        for (i, a) in annotations.iter().enumerate() {
            self.leading(a.span.start);
            self.line(&annotation_text(a));
            let limit = annotations
                .get(i + 1)
                .map_or(a.span.end + 1, |next| next.span.start);
            self.trailing(a.span.end, limit);
        }
    }

    fn policy(&mut self, p: &Policy) {
        self.annotations(&p.annotations);
        let effect = match p.effect {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        };
        let scope = [
            format!("principal{}", scope_text(&p.principal, Slot::Principal)),
            format!("action{}", action_text(&p.action)),
            format!("resource{}", scope_text(&p.resource, Slot::Resource)),
        ];
        // Comments inside the head move above it.
        let head_end = p.conditions.first().map_or(p.span.end, |c| c.span.start);
        self.leading(head_end);
        let end = if p.conditions.is_empty() { ";" } else { "" };
        let one_line = format!("{effect} ({}){end}", scope.join(", "));
        if self.fits(&one_line) {
            self.line(&one_line);
        } else {
            self.line(&format!("{effect} ("));
            self.indent += 1;
            for (i, s) in scope.iter().enumerate() {
                let comma = if i < 2 { "," } else { "" };
                let line = format!("{s}{comma}");
                // A list of actions too long for its line: one a line.
                match &p.action {
                    ActionConstraint::In(us, _) if i == 1 && us.len() > 1 && !self.fits(&line) => {
                        self.line("action in [");
                        self.indent += 1;
                        for (k, u) in us.iter().enumerate() {
                            let mut text = String::new();
                            entity(&mut text, u);
                            if k + 1 < us.len() {
                                text.push(',');
                            }
                            self.line(&text);
                        }
                        self.indent -= 1;
                        self.line(&format!("]{comma}"));
                    }
                    _ => self.line(&line),
                }
            }
            self.indent -= 1;
            self.line(&format!("){end}"));
        }
        for (i, c) in p.conditions.iter().enumerate() {
            let keyword = match c.kind {
                ConditionKind::When => "when",
                ConditionKind::Unless => "unless",
            };
            let last = i + 1 == p.conditions.len();
            self.leading(c.span.start);
            self.block(keyword, &c.body, c.span.end, if last { ";" } else { "" });
            let limit = p
                .conditions
                .get(i + 1)
                .map_or(p.span.end, |next| next.span.start);
            self.trailing(c.span.end, limit);
        }
    }

    /// `keyword { body }` on one line when it fits and holds no comment,
    /// otherwise one conjunct (or disjunct) per line.
    fn block(&mut self, keyword: &str, body: &Expr, end: u32, after: &str) {
        let text = expr(body);
        let one_line = format!("{keyword} {{ {text} }}{after}");
        let has_comments = self.comments.any_before(end as usize);
        let (items, sep): (&[Expr], &str) = match &body.kind {
            ExprKind::And(items) => (items, " &&"),
            ExprKind::Or(items) => (items, " ||"),
            _ => (std::slice::from_ref(body), ""),
        };
        let chain = !sep.is_empty();
        match items {
            _ if has_comments || !self.fits(&one_line) => {
                self.line(&format!("{keyword} {{"));
                self.indent += 1;
                for (i, item) in items.iter().enumerate() {
                    self.leading(item.span.start);
                    // Comments inside a part move above it.
                    self.leading(item.span.end);
                    let mut text = if chain {
                        operand_text(item, &body.kind)
                    } else {
                        expr(item)
                    };
                    if i + 1 < items.len() {
                        text.push_str(sep);
                    }
                    self.line(&text);
                    let limit = items.get(i + 1).map_or(end, |next| next.span.start);
                    self.trailing(item.span.end, limit);
                }
                self.leading(end);
                self.indent -= 1;
                self.line(&format!("}}{after}"));
            }
            _ => {
                self.leading(end);
                self.line(&one_line);
            }
        }
    }

    fn rule(&mut self, r: &RuleClause) {
        self.annotations(&r.annotations);
        // Comments before the name move above the rule; those after it (in
        // the parameters or the body) stay inside the body, so that a
        // second formatting leaves them where the first put them.
        self.leading(r.head.end);
        let head = format!("rule {}({})", r.name, r.params.join(", "));
        self.block(&head, &r.body, r.span.end, "");
    }

    fn namespace(&mut self, ns: &Namespace) {
        self.annotations(&ns.annotations);
        self.line(&format!("namespace {} {{", ns.name));
        self.indent += 1;
        for (i, d) in ns.decls.iter().enumerate() {
            let span = decl_span(d);
            self.leading(span.start);
            self.decl(d);
            let limit = ns
                .decls
                .get(i + 1)
                .map_or(ns.span.end, |next| decl_span(next).start);
            self.trailing(span.end, limit);
        }
        self.leading(ns.span.end);
        self.indent -= 1;
        self.line("}");
    }

    fn decl(&mut self, d: &Decl) {
        match d {
            Decl::Entity(e) => {
                self.annotations(&e.annotations);
                let mut head = format!("entity {}", e.names.join(", "));
                if !e.parents.is_empty() {
                    head.push_str(&format!(" in [{}]", e.parents.join(", ")));
                }
                if let Some(ids) = &e.enum_ids {
                    let quoted: Vec<String> = ids.iter().map(|i| quoted(i)).collect();
                    self.leading(e.span.end);
                    self.line(&format!("{head} enum [{}];", quoted.join(", ")));
                    return;
                }
                let tags = e
                    .tags
                    .as_ref()
                    .map(|t| format!(" tags {}", type_text(t)))
                    .unwrap_or_default();
                if e.attrs.is_empty() {
                    self.leading(e.span.end);
                    self.line(&format!("{head}{tags};"));
                    return;
                }
                let one_line = format!("{head} {}{tags};", record_text(&e.attrs));
                if self.fits(&one_line) && !self.comments.any_before(e.span.end as usize) {
                    self.line(&one_line);
                } else {
                    self.line(&format!("{head} {{"));
                    self.attr_lines(&e.attrs, e.span.end);
                    self.leading(e.span.end);
                    self.line(&format!("}}{tags};"));
                }
            }
            Decl::Action(a) => {
                self.annotations(&a.annotations);
                let names: Vec<String> = a.names.iter().map(|n| quoted(n)).collect();
                let mut head = format!("action {}", names.join(", "));
                if !a.parents.is_empty() {
                    let parents: Vec<String> = a
                        .parents
                        .iter()
                        .map(|(ty, id)| match ty {
                            Some(ty) => {
                                let mut s = String::new();
                                entity(&mut s, &EntityUid::new(ty.clone(), id.clone()));
                                s
                            }
                            None => quoted(id),
                        })
                        .collect();
                    head.push_str(&format!(" in [{}]", parents.join(", ")));
                }
                let mut entries = Vec::new();
                if let Some(p) = &a.principals {
                    entries.push(format!("principal: [{}]", p.join(", ")));
                }
                if let Some(r) = &a.resources {
                    entries.push(format!("resource: [{}]", r.join(", ")));
                }
                if let Some(c) = &a.context {
                    entries.push(format!("context: {}", type_text(c)));
                }
                let has_applies =
                    a.principals.is_some() || a.resources.is_some() || a.context.is_some();
                self.leading(a.span.end);
                if !has_applies {
                    self.line(&format!("{head};"));
                    return;
                }
                let one_line = format!("{head} appliesTo {{ {} }};", entries.join(", "));
                if self.fits(&one_line) {
                    self.line(&one_line);
                } else {
                    self.line(&format!("{head} appliesTo {{"));
                    self.indent += 1;
                    let n = entries.len();
                    for (i, entry) in entries.into_iter().enumerate() {
                        self.line(&format!("{entry}{}", if i + 1 < n { "," } else { "" }));
                    }
                    self.indent -= 1;
                    self.line("};");
                }
            }
            Decl::Type(t) => {
                self.annotations(&t.annotations);
                let one_line = format!("type {} = {};", t.name, type_text(&t.ty));
                match &t.ty {
                    TypeExpr::Record(attrs, _)
                        if !self.fits(&one_line)
                            || self.comments.any_before(t.span.end as usize) =>
                    {
                        self.line(&format!("type {} = {{", t.name));
                        self.attr_lines(attrs, t.span.end);
                        self.leading(t.span.end);
                        self.line("};");
                    }
                    _ => {
                        self.leading(t.span.end);
                        self.line(&one_line);
                    }
                }
            }
        }
    }

    fn attr_lines(&mut self, attrs: &[AttrDecl], end: u32) {
        self.indent += 1;
        for (i, a) in attrs.iter().enumerate() {
            self.leading(a.span.start);
            self.leading(a.span.end);
            self.line(&format!("{},", attr_text(a)));
            let limit = attrs.get(i + 1).map_or(end, |next| next.span.start);
            self.trailing(a.span.end, limit);
        }
        self.indent -= 1;
    }
}

/// A part of a chain, parenthesised when it is itself a chain or an open
/// construct, so that it reads back as the same node.
fn operand_text(item: &Expr, chain: &ExprKind) -> String {
    let text = expr(item);
    let nested = matches!(
        (&item.kind, chain),
        (
            ExprKind::Or(_) | ExprKind::If(..) | ExprKind::Quantified { .. },
            _
        ) | (ExprKind::And(_), ExprKind::And(_))
    );
    if nested {
        format!("({text})")
    } else {
        text
    }
}

fn item_span(item: &Item) -> crate::syntax::Span {
    match item {
        Item::Policy(p) => p.span,
        Item::Rule(r) => r.span,
        Item::Decl(d) => decl_span(d),
        Item::Namespace(n) => n.span,
    }
}

fn decl_span(d: &Decl) -> crate::syntax::Span {
    match d {
        Decl::Entity(e) => e.span,
        Decl::Action(a) => a.span,
        Decl::Type(t) => t.span,
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::new();
    string(&mut out, s);
    out
}

fn annotation_text(a: &Annotation) -> String {
    match &a.value {
        Some(v) => format!("@{}({})", a.key, quoted(v)),
        None => format!("@{}", a.key),
    }
}

fn scope_text(c: &ScopeConstraint, slot: Slot) -> String {
    let uid = |u: &EntityUid| {
        let mut s = String::new();
        entity(&mut s, u);
        s
    };
    match c {
        ScopeConstraint::Any => String::new(),
        ScopeConstraint::Eq(u, _) => format!(" == {}", uid(u)),
        ScopeConstraint::In(u, _) => format!(" in {}", uid(u)),
        ScopeConstraint::Is(t, _) => format!(" is {t}"),
        ScopeConstraint::IsIn(t, u, _) => format!(" is {t} in {}", uid(u)),
        ScopeConstraint::EqSlot(_) => format!(" == {slot}"),
        ScopeConstraint::InSlot(_) => format!(" in {slot}"),
        ScopeConstraint::IsInSlot(t, _) => format!(" is {t} in {slot}"),
    }
}

fn action_text(c: &ActionConstraint) -> String {
    let uid = |u: &EntityUid| {
        let mut s = String::new();
        entity(&mut s, u);
        s
    };
    match c {
        ActionConstraint::Any => String::new(),
        ActionConstraint::Eq(u, _) => format!(" == {}", uid(u)),
        ActionConstraint::In(us, _) if us.len() == 1 => format!(" in {}", uid(&us[0])),
        ActionConstraint::In(us, _) => format!(
            " in [{}]",
            us.iter().map(uid).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn attr_text(a: &AttrDecl) -> String {
    let mut out = String::new();
    for ann in &a.annotations {
        out.push_str(&annotation_text(ann));
        out.push(' ');
    }
    attr_name(&mut out, &a.name);
    if a.optional {
        out.push('?');
    }
    out.push_str(": ");
    out.push_str(&type_text(&a.ty));
    out
}

fn record_text(attrs: &[AttrDecl]) -> String {
    if attrs.is_empty() {
        return "{}".into();
    }
    format!(
        "{{ {} }}",
        attrs.iter().map(attr_text).collect::<Vec<_>>().join(", ")
    )
}

fn type_text(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Named(n, _) => n.to_string(),
        TypeExpr::Set(inner, _) => format!("Set<{}>", type_text(inner)),
        TypeExpr::Record(attrs, _) => record_text(attrs),
    }
}
