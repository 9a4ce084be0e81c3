//! Expressions to text, on one line, with exactly the parentheses needed for
//! the text to parse back to the same tree.

use crate::syntax::ast::*;
use crate::value::{is_identifier, write_string_literal};

/// Binding strength, loosest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    /// `if` and quantifiers: their last operand extends as far as it can, so
    /// anywhere but the end of an expression they need parentheses.
    Open,
    Or,
    And,
    Relation,
    Sum,
    Product,
    Unary,
    Member,
    Primary,
}

fn prec(e: &Expr) -> Prec {
    match &e.kind {
        ExprKind::If(..) | ExprKind::Quantified { .. } => Prec::Open,
        ExprKind::Or(_) => Prec::Or,
        ExprKind::And(_) => Prec::And,
        ExprKind::Binary(op, ..) => match op {
            BinOp::Add | BinOp::Sub => Prec::Sum,
            BinOp::Mul => Prec::Product,
            _ => Prec::Relation,
        },
        ExprKind::Has(..) | ExprKind::Like(..) | ExprKind::Is(..) => Prec::Relation,
        ExprKind::Not(_) | ExprKind::Neg(_) => Prec::Unary,
        ExprKind::Lit(Literal::Long(n)) if *n < 0 => Prec::Unary,
        ExprKind::GetAttr(..) | ExprKind::Method(..) => Prec::Member,
        _ => Prec::Primary,
    }
}

/// `e` on one line.
pub fn expr(e: &Expr) -> String {
    let mut out = String::new();
    write(&mut out, e);
    out
}

/// `e` where an operand of strength `min` is needed: parenthesised when looser.
fn operand(out: &mut String, e: &Expr, min: Prec) {
    if prec(e) < min {
        out.push('(');
        write(out, e);
        out.push(')');
    } else {
        write(out, e);
    }
}

fn write(out: &mut String, e: &Expr) {
    crate::limits::with_stack(|| write_inner(out, e))
}

fn write_inner(out: &mut String, e: &Expr) {
    match &e.kind {
        // INVARIANT: only a file that parsed is printed; an error node
        // prints as nothing that parses, so a bug cannot pass unseen.
        ExprKind::Error => out.push_str("<error>"),
        ExprKind::Lit(Literal::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Lit(Literal::Long(n)) => out.push_str(&n.to_string()),
        ExprKind::Lit(Literal::String(s)) => string(out, s),
        ExprKind::Entity(uid) => entity(out, uid),
        ExprKind::Var(v) => out.push_str(v.name()),
        ExprKind::Local(_, name) => out.push_str(name),
        ExprKind::If(c, a, b) => {
            out.push_str("if ");
            write(out, c);
            out.push_str(" then ");
            write(out, a);
            out.push_str(" else ");
            write(out, b);
        }
        ExprKind::Quantified {
            quantifier,
            var,
            set,
            body,
            ..
        } => {
            out.push_str(match quantifier {
                Quantifier::Any => "any ",
                Quantifier::All => "all ",
            });
            out.push_str(var);
            out.push_str(" in ");
            operand(out, set, Prec::Sum);
            out.push_str(": ");
            write(out, body);
        }
        ExprKind::Or(items) | ExprKind::And(items) => {
            let (sep, level) = match &e.kind {
                ExprKind::Or(_) => (" || ", Prec::Or),
                _ => (" && ", Prec::And),
            };
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                // A nested chain of the same kind is a node of its own.
                operand_strict(out, item, level);
            }
        }
        ExprKind::Binary(op, a, b) => {
            let level = prec(e);
            match level {
                Prec::Relation => {
                    operand(out, a, Prec::Sum);
                    out.push(' ');
                    out.push_str(op.symbol());
                    out.push(' ');
                    operand(out, b, Prec::Sum);
                }
                _ => {
                    // Left-associative: the right operand binds tighter.
                    operand(out, a, level);
                    out.push(' ');
                    out.push_str(op.symbol());
                    out.push(' ');
                    operand_strict(out, b, level);
                }
            }
        }
        ExprKind::Has(a, path) => {
            operand(out, a, Prec::Sum);
            out.push_str(" has ");
            for (i, name) in path.iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                attr_name(out, name);
            }
        }
        ExprKind::Like(a, pattern) => {
            operand(out, a, Prec::Sum);
            out.push_str(" like \"");
            for elem in pattern {
                match elem {
                    PatternElem::Wildcard => out.push('*'),
                    PatternElem::Char('*') => out.push_str("\\*"),
                    PatternElem::Char(c) => {
                        let mut one = String::new();
                        let _ = write_string_literal(&mut one, &c.to_string());
                        out.push_str(&one[1..one.len() - 1]);
                    }
                }
            }
            out.push('"');
        }
        ExprKind::Is(a, ty, within) => {
            operand(out, a, Prec::Sum);
            out.push_str(" is ");
            out.push_str(ty);
            if let Some(w) = within {
                out.push_str(" in ");
                operand(out, w, Prec::Sum);
            }
        }
        ExprKind::Not(a) | ExprKind::Neg(a) => {
            out.push(if matches!(e.kind, ExprKind::Not(_)) {
                '!'
            } else {
                '-'
            });
            // `-5` would read back as a literal, and more than four unary
            // operators in a row do not parse: parenthesise those operands.
            let needs_parens = matches!(a.kind, ExprKind::Lit(Literal::Long(_)))
                && matches!(e.kind, ExprKind::Neg(_))
                || unary_run(a) >= 4;
            if needs_parens {
                out.push('(');
                write(out, a);
                out.push(')');
            } else {
                operand(out, a, Prec::Unary);
            }
        }
        ExprKind::GetAttr(a, name) => {
            operand_strict_member(out, a);
            if is_identifier(name) {
                out.push('.');
                out.push_str(name);
            } else {
                out.push('[');
                string(out, name);
                out.push(']');
            }
        }
        ExprKind::Method(a, name, args) => {
            operand_strict_member(out, a);
            out.push('.');
            out.push_str(name);
            list(out, "(", args, ")");
        }
        ExprKind::Call { name, args, .. } => {
            out.push_str(name);
            list(out, "(", args, ")");
        }
        ExprKind::Set(items) => list(out, "[", items, "]"),
        ExprKind::Record(entries) => {
            if entries.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                attr_name(out, k);
                out.push_str(": ");
                write(out, v);
            }
            out.push_str(" }");
        }
    }
}

/// How many unary operators start `e`.
fn unary_run(e: &Expr) -> usize {
    match &e.kind {
        ExprKind::Not(a) | ExprKind::Neg(a) => 1 + unary_run(a),
        _ => 0,
    }
}

/// An operand that must bind strictly tighter than `level`.
fn operand_strict(out: &mut String, e: &Expr, level: Prec) {
    if prec(e) <= level {
        out.push('(');
        write(out, e);
        out.push(')');
    } else {
        write(out, e);
    }
}

/// The receiver of `.attr` or `.method()`.
fn operand_strict_member(out: &mut String, e: &Expr) {
    operand(out, e, Prec::Member);
}

fn list(out: &mut String, open: &str, items: &[Expr], close: &str) {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write(out, item);
    }
    out.push_str(close);
}

/// A string literal with Cedar's escapes.
pub fn string(out: &mut String, s: &str) {
    let _ = write_string_literal(out, s);
}

/// `Type::"id"`.
pub fn entity(out: &mut String, uid: &EntityUid) {
    out.push_str(&uid.ty);
    out.push_str("::");
    string(out, &uid.id);
}

/// An attribute or record key: bare when it is a name, quoted otherwise.
pub fn attr_name(out: &mut String, name: &str) {
    if is_identifier(name) {
        out.push_str(name);
    } else {
        string(out, name);
    }
}
