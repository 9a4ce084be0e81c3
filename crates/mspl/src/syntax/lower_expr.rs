//! Lowering of expression pairs into [`Expr`] nodes.

use super::*;

impl Lower {
    /// A tree of a shape the grammar should never give: recorded as an
    /// internal error (so that the set does not load), an error node.
    fn missing(&mut self, span: Span, what: &str) -> Expr {
        self.errors.push(ParseError::Internal {
            span,
            what: what.to_string(),
        });
        error_expr(span)
    }

    /// Lowers an `expr` (or any expression-level) pair.
    ///
    /// `self.depth` counts the tree levels above the result; no node is built
    /// deeper than [`Limits::max_expr_depth`], so that every later walk of
    /// the tree (linking, evaluation, `Drop`, printing) stays shallow.
    pub(super) fn expr(&mut self, pair: Pair<Rule>) -> Expr {
        if self.depth >= self.max_depth {
            let span = self.span(&pair);
            return self.refuse_depth(span);
        }
        crate::limits::with_stack(|| self.expr_inner(pair))
    }

    /// Lowers `pair` as a node `extra` levels below the current one.
    fn sub(&mut self, pair: Pair<Rule>, extra: usize) -> Expr {
        self.depth += extra;
        let e = self.expr(pair);
        self.depth -= extra;
        e
    }

    /// Whether a chain adding `levels` tree levels fits under the limit.
    fn fits(&self, levels: usize) -> bool {
        self.depth.saturating_add(levels) < self.max_depth
    }

    /// Reports (once per item) an expression too deep to build.
    fn refuse_depth(&mut self, span: Span) -> Expr {
        if !self.too_deep {
            self.too_deep = true;
            self.errors.push(ParseError::ExprTooDeep {
                span,
                limit: self.max_depth,
            });
        }
        error_expr(span)
    }

    fn expr_inner(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr | Rule::paren => match pair.into_inner().next() {
                Some(inner) => self.expr(inner),
                None => self.missing(span, "an empty expression"),
            },
            Rule::or_expr => self.fold_logic(pair, true),
            Rule::and_expr => self.fold_logic(pair, false),
            Rule::relation => self.relation(pair),
            Rule::add_expr | Rule::mul_expr => self.fold_arith(pair),
            Rule::unary => self.unary(pair),
            Rule::member => self.member(pair),
            Rule::if_expr => {
                let mut parts = pair.into_inner().filter(|p| !is_keyword(p));
                let c = parts.next().map(|p| self.sub(p, 1));
                let c = c.unwrap_or_else(|| self.missing(span, "an `if` without its condition"));
                let t = parts.next().map(|p| self.sub(p, 1));
                let t = t.unwrap_or_else(|| self.missing(span, "an `if` without `then`"));
                let e = parts.next().map(|p| self.sub(p, 1));
                let e = e.unwrap_or_else(|| self.missing(span, "an `if` without `else`"));
                Expr::new(ExprKind::If(Box::new(c), Box::new(t), Box::new(e)), span)
            }
            Rule::quantifier => self.quantifier(pair, span),
            Rule::kw_true => Expr::new(ExprKind::Lit(Literal::Bool(true)), span),
            Rule::kw_false => Expr::new(ExprKind::Lit(Literal::Bool(false)), span),
            Rule::integer => match pair.as_str().parse::<i64>() {
                Ok(n) => Expr::new(ExprKind::Lit(Literal::Long(n)), span),
                Err(_) => {
                    self.errors.push(ParseError::IntegerOverflow {
                        span,
                        text: pair.as_str().into(),
                    });
                    error_expr(span)
                }
            },
            Rule::string => {
                let s = self.string(&pair);
                Expr::new(ExprKind::Lit(Literal::String(s)), span)
            }
            Rule::entity_ref => Expr::new(ExprKind::Entity(self.entity_ref(pair)), span),
            Rule::call => {
                let mut inner = pair.into_inner();
                let name = inner.next().map(|p| path_name(&p)).unwrap_or_default();
                let args = inner
                    .next()
                    .map(|p| self.expr_list(p, 1))
                    .unwrap_or_default();
                Expr::new(
                    ExprKind::Call {
                        name,
                        args,
                        target: CallTarget::Unresolved,
                    },
                    span,
                )
            }
            Rule::var => self.var(pair.as_str(), span),
            Rule::slot => {
                self.errors.push(ParseError::TemplateSlot {
                    span,
                    slot: pair.as_str().into(),
                    place: "a condition".into(),
                });
                Expr::new(ExprKind::Error, span)
            }
            Rule::set_lit => {
                let items = pair
                    .into_inner()
                    .next()
                    .map(|p| self.expr_list(p, 1))
                    .unwrap_or_default();
                Expr::new(ExprKind::Set(items), span)
            }
            Rule::record_lit => {
                let mut entries: Vec<(SmolStr, Expr)> = Vec::new();
                // A set beside the list: a literal may have a million keys.
                let mut keys = std::collections::HashSet::new();
                for entry in pair.into_inner() {
                    let mut inner = entry.into_inner();
                    let (Some(k), Some(v)) = (inner.next(), inner.next()) else {
                        continue;
                    };
                    let kspan = self.span(&k);
                    let key = self.attr_name(&k);
                    let value = self.sub(v, 1);
                    if !keys.insert(key.clone()) {
                        self.errors.push(ParseError::DuplicateKey {
                            span: kspan,
                            key: key.to_string(),
                        });
                        continue;
                    }
                    entries.push((key, value));
                }
                Expr::new(ExprKind::Record(entries), span)
            }
            other => self.missing(span, &format!("`{other:?}` where an expression stands")),
        }
    }

    /// The expressions of a list, each `extra` levels below the current one.
    fn expr_list(&mut self, pair: Pair<Rule>, extra: usize) -> Vec<Expr> {
        pair.into_inner().map(|p| self.sub(p, extra)).collect()
    }

    /// An identifier or string naming an attribute.
    pub(super) fn attr_name(&mut self, pair: &Pair<Rule>) -> SmolStr {
        if pair.as_rule() == Rule::string {
            self.string(pair)
        } else {
            pair.as_str().into()
        }
    }

    fn var(&mut self, name: &str, span: Span) -> Expr {
        if let Some(local) = self.scope.iter().rposition(|n| n == name) {
            #[expect(clippy::cast_possible_truncation, reason = "a scope is at most `max_nesting` (at most 1,000) binders deep")]
            return Expr::new(ExprKind::Local(local as u32, name.into()), span);
        }
        let var = match name {
            "principal" => Var::Principal,
            "action" => Var::Action,
            "resource" => Var::Resource,
            "context" => Var::Context,
            _ => {
                let mut known: Vec<&str> = super::super::tokens::VARIABLES.to_vec();
                known.extend(self.scope.iter().map(|s| s.as_str()));
                self.errors.push(ParseError::UnknownVariable {
                    span,
                    name: name.into(),
                    suggestion: crate::suggest::closest(name, known.iter().copied()),
                });
                return error_expr(span);
            }
        };
        Expr::new(ExprKind::Var(var), span)
    }

    fn quantifier(&mut self, pair: Pair<Rule>, span: Span) -> Expr {
        let mut quantifier = Quantifier::Any;
        let mut var = SmolStr::default();
        let mut set = None;
        let mut body = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::kw_all => quantifier = Quantifier::All,
                Rule::kw_any | Rule::kw_in => {}
                Rule::ident => {
                    var = p.as_str().into();
                    if super::super::tokens::VARIABLES.contains(&var.as_str()) {
                        self.errors.push(ParseError::ReboundVariable {
                            span: self.span(&p),
                            name: var.to_string(),
                        });
                    }
                }
                _ if set.is_none() => set = Some(self.sub(p, 1)),
                _ => {
                    self.scope.push(var.clone());
                    body = Some(self.sub(p, 1));
                    self.scope.pop();
                }
            }
        }
        #[expect(clippy::cast_possible_truncation, reason = "a scope is at most `max_nesting` (at most 1,000) binders deep")]
        let local = self.scope.len() as u32;
        let set = set.unwrap_or_else(|| self.missing(span, "a quantifier without its set"));
        let body = body.unwrap_or_else(|| self.missing(span, "a quantifier without its body"));
        Expr::new(
            ExprKind::Quantified {
                quantifier,
                var,
                local,
                set: Box::new(set),
                body: Box::new(body),
            },
            span,
        )
    }

    fn fold_logic(&mut self, pair: Pair<Rule>, is_or: bool) -> Expr {
        let span = self.span(&pair);
        let pairs: Vec<Pair<Rule>> = pair
            .into_inner()
            .filter(|p| !matches!(p.as_rule(), Rule::or_op | Rule::and_op))
            .collect();
        // A chain is one flat node; a lone operand is no node at all.
        let extra = usize::from(pairs.len() > 1);
        let mut operands: Vec<Expr> = pairs.into_iter().map(|p| self.sub(p, extra)).collect();
        if operands.len() == 1 {
            return operands
                .pop()
                .unwrap_or_else(|| self.missing(span, "a chain without operands"));
        }
        let kind = if is_or {
            ExprKind::Or(operands)
        } else {
            ExprKind::And(operands)
        };
        Expr::new(kind, span)
    }

    fn fold_arith(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let parts: Vec<Pair<Rule>> = pair.into_inner().collect();
        // `a + b + c` is `(a + b) + c`: n operands build n - 1 levels, and
        // the first two operands sit below all of them.
        let n = parts
            .iter()
            .filter(|p| !matches!(p.as_rule(), Rule::add_op | Rule::mul_op))
            .count();
        let levels = n.saturating_sub(1);
        if !self.fits(levels) {
            return self.refuse_depth(span);
        }
        let mut acc: Option<Expr> = None;
        let mut op = BinOp::Add;
        let mut index = 0usize;
        for p in parts {
            match p.as_rule() {
                Rule::add_op | Rule::mul_op => {
                    op = match p.as_str() {
                        "+" => BinOp::Add,
                        "-" => BinOp::Sub,
                        _ => BinOp::Mul,
                    };
                }
                _ => {
                    let below = levels - index.saturating_sub(1).min(levels);
                    index += 1;
                    let rhs = self.sub(p, below);
                    acc = Some(match acc {
                        None => rhs,
                        Some(lhs) => {
                            let span = lhs.span.to(rhs.span);
                            Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span)
                        }
                    });
                }
            }
        }
        acc.unwrap_or_else(|| self.missing(Span::default(), "a product without operands"))
    }

    fn relation(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let Some(first) = inner.next() else {
            return self.missing(span, "an empty relation");
        };
        let Some(tail) = inner.next() else {
            return self.expr(first);
        };
        let lhs = Box::new(self.sub(first, 1));
        match tail.as_rule() {
            Rule::has_tail => {
                let path = tail
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::attr_path)
                    .map(|p| p.into_inner().map(|a| self.attr_name(&a)).collect())
                    .unwrap_or_default();
                Expr::new(ExprKind::Has(lhs, path), span)
            }
            Rule::like_tail => {
                let pattern = tail
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::string)
                    .map(|p| self.pattern(&p))
                    .unwrap_or_default();
                Expr::new(ExprKind::Like(lhs, pattern), span)
            }
            Rule::is_tail => {
                let mut parts = tail.into_inner().filter(|p| !is_keyword(p));
                let ty = parts.next().map(|p| path_name(&p)).unwrap_or_default();
                let within = parts.next().map(|p| Box::new(self.sub(p, 1)));
                Expr::new(ExprKind::Is(lhs, ty, within), span)
            }
            Rule::cmp_tail => {
                let mut parts = tail.into_inner();
                let op = match parts.next().map(|p| p.as_str().to_string()).as_deref() {
                    Some("==") => BinOp::Eq,
                    Some("!=") => BinOp::Ne,
                    Some("<") => BinOp::Lt,
                    Some("<=") => BinOp::Le,
                    Some(">") => BinOp::Gt,
                    Some(">=") => BinOp::Ge,
                    _ => BinOp::In,
                };
                let rhs = parts.next().map(|p| self.sub(p, 1));
                let rhs = rhs.unwrap_or_else(|| self.missing(span, "an operator without its right side"));
                Expr::new(ExprKind::Binary(op, lhs, Box::new(rhs)), span)
            }
            _ => *lhs,
        }
    }

    fn pattern(&mut self, pair: &Pair<Rule>) -> Vec<PatternElem> {
        let raw = pair.as_str();
        let body = &raw[1..raw.len() - 1];
        match unescape_pattern(body) {
            Ok(p) => p,
            Err(e) => {
                let start = self.offset + pair.as_span().start() + 1 + e.start;
                self.errors.push(ParseError::bad_escape(
                    Span::new(self.file, start, start + e.len),
                    &body[e.start..e.start + e.len],
                ));
                Vec::new()
            }
        }
    }

    fn unary(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let mut ops: Vec<Pair<Rule>> = Vec::new();
        let mut operand = None;
        for p in pair.into_inner() {
            if p.as_rule() == Rule::unary_op {
                ops.push(p);
            } else {
                operand = Some(p);
            }
        }
        if ops.len() > 4 {
            let first = self.span(&ops[0]);
            let last = self.span(&ops[ops.len() - 1]);
            self.errors.push(ParseError::TooManyUnary {
                span: first.to(last),
            });
            return error_expr(span);
        }
        let Some(operand) = operand else {
            return self.missing(span, "a unary operator without its operand");
        };
        // `-` directly before an integer literal is a negative literal, as in
        // Cedar, so that `-9223372036854775808` is the smallest Long.
        let mut expr = match (ops.last(), integer_operand(&operand)) {
            (Some(op), Some(text)) if op.as_str() == "-" => {
                let op_span = self.span(op);
                ops.pop();
                let lit_span = op_span.to(self.span(&operand));
                match format!("-{text}").parse::<i64>() {
                    Ok(n) => Expr::new(ExprKind::Lit(Literal::Long(n)), lit_span),
                    Err(_) => {
                        self.errors.push(ParseError::IntegerOverflow {
                            span: lit_span,
                            text: format!("-{text}"),
                        });
                        error_expr(lit_span)
                    }
                }
            }
            _ => self.sub(operand, ops.len()),
        };
        for op in ops.iter().rev() {
            let espan = self.span(op).to(expr.span);
            expr = if op.as_str() == "!" {
                Expr::new(ExprKind::Not(Box::new(expr)), espan)
            } else {
                Expr::new(ExprKind::Neg(Box::new(expr)), espan)
            };
        }
        expr
    }

    fn member(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let Some(first) = inner.next() else {
            return self.missing(span, "an empty relation");
        };
        // `a.b.c` is `(a.b).c`: one level per access, the primary below all.
        let accesses: Vec<Pair<Rule>> = inner.collect();
        let levels = accesses.len();
        if !self.fits(levels) {
            return self.refuse_depth(span);
        }
        let mut expr = self.sub(first, levels);
        for (j, access) in accesses.into_iter().enumerate() {
            let aspan = self.span(&access);
            let span = expr.span.to(aspan);
            match access.as_rule() {
                Rule::field => {
                    let name: SmolStr = access
                        .into_inner()
                        .next()
                        .map(|p| p.as_str().into())
                        .unwrap_or_default();
                    expr = Expr::new(ExprKind::GetAttr(Box::new(expr), name), span);
                }
                Rule::index => {
                    let name = access
                        .into_inner()
                        .next()
                        .map(|p| self.string(&p))
                        .unwrap_or_default();
                    expr = Expr::new(ExprKind::GetAttr(Box::new(expr), name), span);
                }
                Rule::method_call => {
                    let mut parts = access.into_inner();
                    let name: SmolStr = parts.next().map(|p| p.as_str().into()).unwrap_or_default();
                    // The call node sits `levels - 1 - j` levels below the
                    // chain's top; its arguments one further.
                    let args = parts
                        .next()
                        .map(|p| self.expr_list(p, levels - j))
                        .unwrap_or_default();
                    expr = Expr::new(ExprKind::Method(Box::new(expr), name, args), span);
                }
                _ => {}
            }
        }
        expr
    }
}

/// The digits of `member` when it is a bare integer literal.
fn integer_operand<'a>(member: &Pair<'a, Rule>) -> Option<&'a str> {
    let mut inner = member.clone().into_inner();
    let first = inner.next()?;
    (first.as_rule() == Rule::integer && inner.next().is_none()).then(|| first.as_str())
}

/// The stand-in for an expression that could not be lowered, its error
/// recorded by the caller: an error node, which evaluates to an error
/// (never to a value that `!` could turn into a permit).
fn error_expr(span: Span) -> Expr {
    Expr::new(ExprKind::Error, span)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree the lowering does not expect where an expression stands (here
    /// an annotation) is an internal error, never a silent error node that
    /// would let the set load and fail only when judged.
    #[test]
    fn an_unexpected_tree_is_an_internal_error() {
        let mut pairs = Grammar::parse(Rule::annotation, "@id(\"x\")").expect("an annotation");
        let pair = pairs.next().expect("one pair");
        let mut lower = Lower::new(0, 0, &Limits::default());
        let expr = lower.expr(pair);
        assert_eq!(expr.kind, ExprKind::Error);
        assert!(
            matches!(&lower.errors[..], [ParseError::Internal { what, .. }] if what.contains("annotation")),
            "{:?}",
            lower.errors
        );
    }
}
