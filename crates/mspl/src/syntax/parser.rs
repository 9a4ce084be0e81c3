//! Text to AST: runs the pest grammar and lowers its pairs into [`super::ast`].
//!
//! Nothing of pest leaves this module. Parsing never panics: it returns the
//! items it could read and every problem it found.

use super::ast::*;
use super::error::ParseError;
use crate::span::{FileId, Span};
use super::split::split;
use super::unescape::{unescape, unescape_pattern};
use crate::limits::Limits;
use pest::iterators::Pair;
use pest::Parser as _;
use smol_str::SmolStr;

/// What a scope's `==`, `in` or `is … in` names.
enum Target {
    Entity(EntityUid),
    Slot,
}

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/mspl.pest"]
struct Grammar;

/// The result of parsing one file: what could be read, and every problem.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// The items that parsed, in source order.
    pub file: File,
    /// Every problem found, in source order.
    pub errors: Vec<ParseError>,
}

/// Parses a whole file. A statement that fails to parse is reported and
/// skipped; the statements around it are still read.
pub fn parse_file(source: &str, file: FileId, limits: &Limits) -> Parsed {
    if source.len() > limits.max_policy_file_bytes {
        return Parsed {
            file: File::default(),
            errors: vec![ParseError::FileTooLarge {
                span: Span::new(file, 0, 0),
                limit: limits.max_policy_file_bytes,
            }],
        };
    }
    let chunks = split(source, limits.nesting());
    crate::limits::with_parse_stack(|| {
        let mut out = Parsed::default();
        if chunks.iter().all(|c| c.too_deep_at.is_none()) {
            // The fast path: the whole file in one pest run.
            return match Grammar::parse(Rule::file, source) {
                Ok(mut pairs) => {
                    let mut lower = Lower::new(file, 0, limits);
                    if let Some(file_pair) = pairs.next() {
                        for pair in file_pair.into_inner() {
                            lower.item(pair, &mut out.file.items);
                        }
                    }
                    out.errors = lower.errors;
                    out
                }
                Err(_) => with_error_detail(|| {
                    let whole = match Grammar::parse(Rule::file, source) {
                        Err(e) => e,
                        // Unreachable: the detail never changes the outcome.
                        Ok(_) => return out,
                    };
                    let before = out.errors.len();
                    parse_chunks(source, file, &chunks, limits, &mut out);
                    if out.errors.len() == before {
                        // The split disagreed with the grammar; pest's own
                        // error for the whole file is the truth.
                        out.errors
                            .push(syntax_error(&whole, source, file, 0, source.len()));
                    }
                    out
                }),
            };
        }
        with_error_detail(|| parse_chunks(source, file, &chunks, limits, &mut out));
        out
    })
}

fn parse_chunks(
    source: &str,
    file: FileId,
    chunks: &[super::split::Chunk],
    limits: &Limits,
    out: &mut Parsed,
) {
    for chunk in chunks {
        let text = &source[chunk.range.clone()];
        if let Some(at) = &chunk.too_deep_at {
            out.errors.push(ParseError::TooDeep {
                span: Span::new(file, at.start, at.end),
                limit: limits.nesting(),
            });
            continue;
        }
        if text.trim().is_empty() || only_comments(text) {
            continue;
        }
        match Grammar::parse(Rule::item_only, text) {
            Ok(mut pairs) => {
                let mut lower = Lower::new(file, chunk.range.start, limits);
                if let Some(item_pair) = pairs.next() {
                    for pair in item_pair.into_inner() {
                        lower.item(pair, &mut out.file.items);
                    }
                }
                out.errors.extend(lower.errors);
            }
            Err(e) => out.errors.push(syntax_error(
                &e,
                source,
                file,
                chunk.range.start,
                text.len(),
            )),
        }
    }
}

fn only_comments(text: &str) -> bool {
    super::tokens::lex(text)
        .iter()
        .all(|t| t.token == Some(super::tokens::Token::Comment))
}

/// Runs `f`, which parses text that failed to parse, with pest's error
/// detail on: pest then records what it tried, and its errors name the
/// punctuation it expected. The detail costs nearly half of a parse, so
/// parses run without it and only a failed one runs again with it. The
/// switch is process-wide (pest reads it when a parse starts): the lock
/// makes every detailed parse in every thread see it on, so errors are the
/// same whatever runs beside them; a parse without detail that happens to
/// see it on is only slower.
fn with_error_detail<R>(f: impl FnOnce() -> R) -> R {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    pest::set_error_detail(true);
    let result = f();
    pest::set_error_detail(false);
    result
}

/// Parses one expression (the REPL, tests). Rule parameters are not in scope;
/// `locals` names variables the caller binds (slots 0..n).
pub fn parse_expr(
    source: &str,
    file: FileId,
    locals: &[SmolStr],
    limits: &Limits,
) -> Result<Expr, Vec<ParseError>> {
    let chunks = split(source, limits.nesting());
    if let Some(at) = chunks.iter().find_map(|c| c.too_deep_at.clone()) {
        return Err(vec![ParseError::TooDeep {
            span: Span::new(file, at.start, at.end),
            limit: limits.nesting(),
        }]);
    }
    crate::limits::with_parse_stack(|| match Grammar::parse(Rule::expr_only, source) {
        Ok(mut pairs) => {
            let mut lower = Lower::new(file, 0, limits);
            lower.scope = locals.to_vec();
            let expr = pairs
                .next()
                .and_then(|p| p.into_inner().next())
                .map(|p| lower.expr(p));
            match expr {
                Some(e) if lower.errors.is_empty() => Ok(e),
                _ => Err(lower.errors),
            }
        }
        Err(_) => {
            let e = match with_error_detail(|| Grammar::parse(Rule::expr_only, source)) {
                Err(e) => e,
                // Unreachable: the detail never changes the outcome.
                Ok(_) => return Err(Vec::new()),
            };
            let mut error = syntax_error(&e, source, file, 0, source.len());
            // What starts a statement is no help where an expression stands.
            if let ParseError::Syntax { expected, .. } = &mut error {
                if expected.iter().any(|w| w == STATEMENT_START) {
                    *expected = vec!["an expression".into()];
                }
            }
            Err(vec![error])
        }
    })
}

/// The byte ranges of every atomic terminal pest sees in `source` (names,
/// keywords, literals), for the test that logos and the grammar agree.
pub fn terminal_ranges(source: &str) -> Option<Vec<std::ops::Range<usize>>> {
    let pairs = Grammar::parse(Rule::file, source).ok()?;
    let mut out = Vec::new();
    fn walk(pair: Pair<Rule>, out: &mut Vec<std::ops::Range<usize>>) {
        let atomic = matches!(
            pair.as_rule(),
            Rule::ident | Rule::any_ident | Rule::integer | Rule::string | Rule::slot
        ) || is_keyword_rule(pair.as_rule());
        if atomic {
            out.push(pair.as_span().start()..pair.as_span().end());
            return;
        }
        for inner in pair.into_inner() {
            walk(inner, out);
        }
    }
    for p in pairs {
        walk(p, &mut out);
    }
    out.sort_by_key(|r| r.start);
    Some(out)
}

/// What may start a statement, in words.
const STATEMENT_START: &str = "`permit`, `forbid`, `rule`, an annotation or a declaration";

/// Whether `rest` begins with a token that could start a list item of its
/// own (a name, a literal, a set or a record): then a separator is what is
/// missing before it. A misplaced keyword (`action is`) is the error itself.
fn starts_an_operand(rest: &str) -> bool {
    use super::tokens::{keyword_kind, KeywordKind, Token};
    let Some(first) = super::tokens::lex(rest).into_iter().next() else {
        return false;
    };
    match first.token {
        Some(Token::Ident) => {
            let word = &rest[first.range];
            keyword_kind(word) != KeywordKind::Reserved || matches!(word, "true" | "false")
        }
        Some(Token::Integer | Token::String | Token::Slot | Token::LBracket | Token::LBrace) => {
            true
        }
        _ => false,
    }
}

fn syntax_error(
    e: &pest::error::Error<Rule>,
    full: &str,
    file: FileId,
    offset: usize,
    len: usize,
) -> ParseError {
    let text = &full[offset..offset + len];
    let (mut start, mut end) = match e.location {
        pest::error::InputLocation::Pos(p) => (p, p),
        pest::error::InputLocation::Span((s, e)) => (s, e),
    };
    // pest stopped at the end of this statement: point just after its last
    // token, and say what comes next in the file.
    let at_chunk_end = text.get(start..).is_some_and(only_comments);
    if at_chunk_end {
        start = text.trim_end().len();
        end = start;
    }
    let (found, width) = describe_at(&full[offset..], start);
    let mut expected: Vec<String> = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(|r| describe_rule(*r)).collect()
        }
        pest::error::ErrorVariant::CustomError { message } => vec![message.clone()],
    };
    // Literal punctuation is no rule of its own; pest's parse attempts know it.
    if let Some(attempts) = e.parse_attempts() {
        for token in attempts.expected_tokens() {
            // `ParsingToken` is not exported; its Display is the token text.
            if let Some(word) = describe_token(&token.to_string()) {
                expected.push(word);
            }
        }
    }
    // At the very start of a statement, name what may start one.
    let first_token = super::tokens::lex(text)
        .into_iter()
        .find(|t| t.token != Some(super::tokens::Token::Comment))
        .map(|t| t.range.start);
    if first_token == Some(start) {
        expected = vec![STATEMENT_START.into()];
    }
    if expected.iter().any(|w| w == "an expression") {
        expected.retain(|w| !matches!(w.as_str(), "`(`" | "`[`" | "`{`" | "an operator"));
    }
    expected.sort();
    expected.dedup();
    let mut end = if end == start && !at_chunk_end {
        start + width
    } else {
        end
    };
    // A separator missing between two tokens (`Action::"view" resource`,
    // `[a b]`): the caret points at the gap where it belongs, not at the
    // token after it, which is only what was found there.
    if !at_chunk_end && expected.iter().any(|w| w == "`,`") && starts_an_operand(&text[start..]) {
        let prev_end = super::tokens::lex(&text[..start])
            .into_iter()
            .rev()
            .find(|t| t.token != Some(super::tokens::Token::Comment))
            .map(|t| t.range.end);
        if let Some(gap) = prev_end.filter(|&g| g < start) {
            start = gap;
            end = gap;
        }
    }
    if chains_a_comparison(text, start) {
        return ParseError::ChainedComparison {
            span: Span::new(file, offset + start, offset + end),
        };
    }
    ParseError::Syntax {
        span: Span::new(file, offset + start, offset + end),
        found,
        expected,
    }
}

/// Whether the token at `pos` is a comparison that follows another one in
/// the same operand chain (`1 < x < 3`): comparisons do not chain.
fn chains_a_comparison(text: &str, pos: usize) -> bool {
    use super::tokens::Token as T;
    let is_comparison = |t: Option<T>| {
        matches!(
            t,
            Some(T::Lt | T::LtEq | T::Gt | T::GtEq | T::EqEq | T::NotEq)
        )
    };
    let tokens = super::tokens::lex(text);
    let Some(at) = tokens.iter().position(|t| t.range.start == pos) else {
        return false;
    };
    if !is_comparison(tokens[at].token) {
        return false;
    }
    let mut depth = 0i32;
    for t in tokens[..at].iter().rev() {
        match t.token {
            Some(T::RParen | T::RBracket | T::RBrace) => depth += 1,
            Some(T::LParen | T::LBracket | T::LBrace) if depth == 0 => return false,
            Some(T::LParen | T::LBracket | T::LBrace) => depth -= 1,
            Some(T::AndAnd | T::OrOr | T::Comma) if depth == 0 => return false,
            token if depth == 0 && is_comparison(token) => return true,
            _ => {}
        }
    }
    false
}

/// What stands at `pos`, in words, and its width in bytes.
fn describe_at(text: &str, pos: usize) -> (String, usize) {
    let rest = text.get(pos..).unwrap_or("");
    let next = super::tokens::lex(rest)
        .into_iter()
        .find(|t| t.token != Some(super::tokens::Token::Comment));
    match next {
        None => ("end of input".into(), 0),
        Some(t) if t.token == Some(super::tokens::Token::UnterminatedString) => {
            ("unterminated string".into(), 1)
        }
        Some(t) => {
            let word = &rest[t.range.clone()];
            let shown: String = word.chars().take(40).collect();
            // The width runs to the end of the token, so that a span never
            // ends inside a character even when the token starts later.
            (format!("`{shown}`"), t.range.end)
        }
    }
}

/// A literal token pest tried, in words: separators as themselves, operator
/// symbols and anything else (keywords, string pieces) left to
/// the rule descriptions.
fn describe_token(token: &str) -> Option<String> {
    match token {
        "," | ";" | "(" | ")" | "[" | "]" | "{" | "}" | ":" | "::" | "=" => {
            Some(format!("`{token}`"))
        }
        // Operators are described by their rules ("an operator").
        _ => None,
    }
}

fn describe_rule(rule: Rule) -> Option<String> {
    if matches!(rule, Rule::kw_has | Rule::kw_like) {
        return Some("an operator".into());
    }
    let name = format!("{rule:?}");
    if let Some(kw) = name.strip_prefix("kw_") {
        let kw = match kw {
            "applies_to" => "appliesTo",
            "set" => "Set",
            other => other,
        };
        return Some(format!("`{kw}`"));
    }
    let words = match rule {
        Rule::expr
        | Rule::or_expr
        | Rule::and_expr
        | Rule::relation
        | Rule::add_expr
        | Rule::mul_expr
        | Rule::unary
        | Rule::member => "an expression",
        Rule::ident | Rule::any_ident | Rule::path | Rule::var | Rule::attr_path => "a name",
        Rule::string => "a string",
        Rule::integer => "an integer",
        Rule::entity_ref => "an entity reference like `Type::\"id\"`",
        Rule::effect => "a policy",
        Rule::annotation | Rule::annotations => "an annotation",
        Rule::condition => "a `when` or `unless` clause",
        Rule::or_op
        | Rule::and_op
        | Rule::cmp_op
        | Rule::add_op
        | Rule::mul_op
        | Rule::unary_op
        | Rule::has_tail
        | Rule::like_tail
        | Rule::is_tail
        | Rule::cmp_tail
        | Rule::method_call
        | Rule::field
        | Rule::index => "an operator",
        Rule::scope_eq | Rule::action_eq => "`==`",
        Rule::scope_in | Rule::action_in_list | Rule::action_in_one => "`in`",
        Rule::scope_is => "`is`",
        Rule::type_expr | Rule::set_type | Rule::record_type => "a type",
        Rule::attr_decl => "an attribute declaration",
        Rule::applies_entry => "`principal`, `resource` or `context`",
        Rule::action_ref | Rule::action_names => "an action name",
        Rule::record_entry => "a record entry",
        Rule::EOI => "end of input",
        Rule::policy
        | Rule::rule_def
        | Rule::namespace_decl
        | Rule::entity_decl
        | Rule::action_decl
        | Rule::type_decl => "a policy, rule or declaration",
        Rule::optional_mark => "`?`",
        Rule::entity_parents | Rule::action_parents => "`in`",
        Rule::entity_tags => "`tags`",
        Rule::entity_enum | Rule::entity_body => "an entity declaration",
        Rule::applies_to => "`appliesTo`",
        Rule::slot => "a slot",
        _ => return None,
    };
    Some(words.to_string())
}

/// Lowers pairs of one pest run into AST nodes.
struct Lower {
    file: FileId,
    offset: usize,
    /// Names of the locals in scope; a name's position is its index.
    scope: Vec<SmolStr>,
    errors: Vec<ParseError>,
    /// How many AST nodes stand above the expression being lowered.
    depth: usize,
    /// [`Limits::max_expr_depth`].
    max_depth: usize,
    /// Whether the current item has been reported too deep already.
    too_deep: bool,
}

impl Lower {
    fn new(file: FileId, offset: usize, limits: &Limits) -> Lower {
        Lower {
            file,
            offset,
            scope: Vec::new(),
            errors: Vec::new(),
            depth: 0,
            max_depth: limits.expr_depth(),
            too_deep: false,
        }
    }

    /// The pair's span, without the white space and comments pest skipped
    /// after its last token (it skips them before an optional part that then
    /// does not match).
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        let end = s.start() + content_len(pair.as_str());
        Span::new(self.file, self.offset + s.start(), self.offset + end)
    }

    fn item(&mut self, pair: Pair<Rule>, out: &mut Vec<Item>) {
        self.too_deep = false;
        match pair.as_rule() {
            Rule::policy => out.push(Item::Policy(self.policy(pair))),
            Rule::rule_def => {
                if let Some(r) = self.rule_def(pair) {
                    out.push(Item::Rule(r));
                }
            }
            Rule::namespace_decl => out.push(Item::Namespace(self.namespace(pair))),
            Rule::entity_decl | Rule::action_decl | Rule::type_decl => {
                out.push(Item::Decl(self.decl(pair)))
            }
            _ => {}
        }
    }

    fn annotations(&mut self, pair: Pair<Rule>) -> Vec<Annotation> {
        let mut out: Vec<Annotation> = Vec::new();
        let mut keys = std::collections::HashSet::new();
        for a in pair.into_inner() {
            let span = self.span(&a);
            let mut inner = a.into_inner();
            let key: SmolStr = inner.next().map(|k| k.as_str().into()).unwrap_or_default();
            let value = inner.next().map(|v| self.string(&v));
            if !keys.insert(key.clone()) {
                self.errors.push(ParseError::DuplicateAnnotation {
                    span,
                    key: key.to_string(),
                });
                continue;
            }
            out.push(Annotation { key, value, span });
        }
        out
    }

    fn policy(&mut self, pair: Pair<Rule>) -> Policy {
        let span = self.span(&pair);
        let mut policy = Policy {
            annotations: Vec::new(),
            effect: Effect::Permit,
            principal: ScopeConstraint::Any,
            action: ActionConstraint::Any,
            resource: ScopeConstraint::Any,
            conditions: Vec::new(),
            span,
            head: span,
            id: None,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::annotations => policy.annotations = self.annotations(p),
                Rule::effect => {
                    policy.head = self.span(&p);
                    policy.effect = if p.as_str() == "permit" {
                        Effect::Permit
                    } else {
                        Effect::Forbid
                    };
                }
                Rule::scope => {
                    for s in p.into_inner() {
                        match s.as_rule() {
                            Rule::principal_scope => {
                                policy.principal = self.scope_constraint(s, Slot::Principal)
                            }
                            Rule::resource_scope => {
                                policy.resource = self.scope_constraint(s, Slot::Resource)
                            }
                            Rule::action_scope => policy.action = self.action_constraint(s),
                            _ => {}
                        }
                    }
                }
                Rule::condition => {
                    let cspan = self.span(&p);
                    let mut inner = p.into_inner();
                    let kind = match inner.next().map(|k| k.as_rule()) {
                        Some(Rule::kw_unless) => ConditionKind::Unless,
                        _ => ConditionKind::When,
                    };
                    if let Some(e) = inner.next() {
                        let body = self.expr(e);
                        policy.conditions.push(Condition {
                            kind,
                            body,
                            span: cspan,
                        });
                    }
                }
                _ => {}
            }
        }
        policy
    }

    fn scope_constraint(&mut self, pair: Pair<Rule>, own: Slot) -> ScopeConstraint {
        let Some(c) = pair.into_inner().find(|p| !is_keyword(p)) else {
            return ScopeConstraint::Any;
        };
        let span = self.span(&c);
        let rule = c.as_rule();
        let parts: Vec<Pair<Rule>> = c.into_inner().filter(|p| !is_keyword(p)).collect();
        let Some(first) = parts.first() else {
            return ScopeConstraint::Any;
        };
        match rule {
            Rule::scope_eq => match self.scope_target(first, own) {
                Some(Target::Entity(uid)) => ScopeConstraint::Eq(uid, span),
                Some(Target::Slot) => ScopeConstraint::EqSlot(span),
                None => ScopeConstraint::Any,
            },
            Rule::scope_in => match self.scope_target(first, own) {
                Some(Target::Entity(uid)) => ScopeConstraint::In(uid, span),
                Some(Target::Slot) => ScopeConstraint::InSlot(span),
                None => ScopeConstraint::Any,
            },
            Rule::scope_is => {
                let ty = path_name(first);
                match parts.get(1).map(|t| self.scope_target(t, own)) {
                    None | Some(None) => ScopeConstraint::Is(ty, span),
                    Some(Some(Target::Entity(uid))) => ScopeConstraint::IsIn(ty, uid, span),
                    Some(Some(Target::Slot)) => ScopeConstraint::IsInSlot(ty, span),
                }
            }
            _ => ScopeConstraint::Any,
        }
    }

    /// An entity or the scope's own slot; another scope's slot is an error.
    fn scope_target(&mut self, pair: &Pair<Rule>, own: Slot) -> Option<Target> {
        if pair.as_rule() == Rule::slot {
            if pair.as_str() == own.name() {
                return Some(Target::Slot);
            }
            self.errors.push(ParseError::TemplateSlot {
                span: self.span(pair),
                slot: pair.as_str().into(),
                place: format!("the {} scope", &own.name()[1..]),
            });
            return None;
        }
        Some(Target::Entity(self.entity_ref(pair.clone())))
    }

    fn action_constraint(&mut self, pair: Pair<Rule>) -> ActionConstraint {
        let Some(c) = pair.into_inner().find(|p| !is_keyword(p)) else {
            return ActionConstraint::Any;
        };
        let span = self.span(&c);
        let rule = c.as_rule();
        let uids: Vec<EntityUid> = c
            .into_inner()
            .filter(|p| p.as_rule() == Rule::entity_ref)
            .map(|p| self.entity_ref(p))
            .collect();
        match rule {
            Rule::action_eq => match uids.into_iter().next() {
                Some(u) => ActionConstraint::Eq(u, span),
                None => ActionConstraint::Any,
            },
            _ => ActionConstraint::In(uids, span),
        }
    }

    fn entity_ref(&mut self, pair: Pair<Rule>) -> EntityUid {
        let mut inner = pair.into_inner();
        let ty = inner.next().map(|p| path_name(&p)).unwrap_or_default();
        let id = inner.next().map(|p| self.string(&p)).unwrap_or_default();
        EntityUid { ty, id }
    }

    fn string(&mut self, pair: &Pair<Rule>) -> SmolStr {
        let raw = pair.as_str();
        let body = &raw[1..raw.len() - 1];
        match unescape(body) {
            Ok(s) => s.into(),
            Err(e) => {
                let start = self.offset + pair.as_span().start() + 1 + e.start;
                self.errors.push(ParseError::bad_escape(
                    Span::new(self.file, start, start + e.len),
                    &body[e.start..e.start + e.len],
                ));
                SmolStr::default()
            }
        }
    }

    fn rule_def(&mut self, pair: Pair<Rule>) -> Option<RuleClause> {
        let span = self.span(&pair);
        let mut annotations = Vec::new();
        let mut name = SmolStr::default();
        let mut head = span;
        let mut params = Vec::new();
        let mut body = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::annotations => annotations = self.annotations(p),
                Rule::ident => {
                    head = self.span(&p);
                    name = p.as_str().into();
                }
                Rule::params => {
                    let mut seen = std::collections::HashSet::new();
                    for param in p.into_inner() {
                        let pname: SmolStr = param.as_str().into();
                        let pspan = self.span(&param);
                        if super::tokens::VARIABLES.contains(&pname.as_str()) {
                            self.errors.push(ParseError::ReboundVariable {
                                span: pspan,
                                name: pname.to_string(),
                            });
                        } else if !seen.insert(pname.clone()) {
                            self.errors.push(ParseError::DuplicateParameter {
                                span: pspan,
                                name: pname.to_string(),
                            });
                        }
                        params.push(pname);
                    }
                }
                Rule::expr => {
                    self.scope = params.clone();
                    body = Some(self.expr(p));
                    self.scope.clear();
                }
                _ => {}
            }
        }
        Some(RuleClause {
            annotations,
            name,
            params,
            body: body?,
            span,
            head,
        })
    }

    fn namespace(&mut self, pair: Pair<Rule>) -> Namespace {
        let span = self.span(&pair);
        let mut ns = Namespace {
            annotations: Vec::new(),
            name: SmolStr::default(),
            decls: Vec::new(),
            span,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::annotations => ns.annotations = self.annotations(p),
                Rule::path => ns.name = path_name(&p),
                Rule::entity_decl | Rule::action_decl | Rule::type_decl => {
                    ns.decls.push(self.decl(p))
                }
                _ => {}
            }
        }
        ns
    }
}

/// The length of `text` without trailing white space and comments.
fn content_len(text: &str) -> usize {
    let mut end = text.len();
    loop {
        let trimmed = text[..end].trim_end();
        end = trimmed.len();
        let line_start = trimmed.rfind('\n').map_or(0, |i| i + 1);
        let last_line = &trimmed[line_start..];
        if !last_line.contains("//") {
            return end;
        }
        match super::tokens::lex(last_line).last() {
            Some(t) if t.token == Some(super::tokens::Token::Comment) => {
                end = line_start + t.range.start
            }
            _ => return end,
        }
    }
}

/// Whether a pair is a keyword (which lowering skips).
fn is_keyword(pair: &Pair<Rule>) -> bool {
    is_keyword_rule(pair.as_rule())
}

fn is_keyword_rule(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_permit
            | Rule::kw_forbid
            | Rule::kw_when
            | Rule::kw_unless
            | Rule::kw_principal
            | Rule::kw_action
            | Rule::kw_resource
            | Rule::kw_context
            | Rule::kw_true
            | Rule::kw_false
            | Rule::kw_if
            | Rule::kw_then
            | Rule::kw_else
            | Rule::kw_in
            | Rule::kw_is
            | Rule::kw_like
            | Rule::kw_has
            | Rule::kw_any
            | Rule::kw_all
            | Rule::kw_rule
            | Rule::kw_namespace
            | Rule::kw_entity
            | Rule::kw_enum
            | Rule::kw_tags
            | Rule::kw_type
            | Rule::kw_applies_to
            | Rule::kw_set
    )
}

/// The text of a path with whitespace around `::` removed.
fn path_name(pair: &Pair<Rule>) -> Name {
    if pair.as_rule() != Rule::path {
        return pair.as_str().into();
    }
    let parts: Vec<&str> = pair.clone().into_inner().map(|p| p.as_str()).collect();
    parts.join("::").into()
}

#[path = "lower_decl.rs"]
mod lower_decl;
#[path = "lower_expr.rs"]
mod lower_expr;
