//! A residual policy set (`crate::residual`) as one PostgreSQL query whose
//! rows are exactly the resources `authorize` allows (`mspl plan --format
//! sql --mapping FILE`).
//!
//! Every expression becomes a nullable SQL expression where `NULL` stands
//! for an evaluation error (a missing attribute, a type error, an
//! overflow), so that a policy is satisfied where its conditions are
//! `TRUE`, and raises an error where the first one that is not satisfied is
//! `NULL`; the decision combines them as `authorize` does, in the chosen
//! error mode. `&&`, `||` and `if` are `CASE`s that evaluate in Cedar's
//! order; `in` walks the parents tables with a recursive query; rules are
//! inlined. Values only ever travel as `$n` parameters with a cast;
//! identifiers come only from the mapping, quoted. A construct with no
//! exact translation is refused, named with its location.

pub mod mapping;

use crate::authorize::ErrorMode;
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::eval::Evaluator;
use crate::limits::Limits;
use crate::policy_set::PolicySet;
use crate::residual::{mentions, rules_reading_resource, Residual};
use crate::syntax::ast::{
    BinOp, CallTarget, ConditionKind, Effect, EntityUid, Expr, ExprKind, PatternElem,
    ScopeConstraint,
};
use crate::syntax::Span;
use crate::value::Value;
use mapping::{ident, AttrKind, Mapping};
use serde_json::Value as Json;

/// The query, its parameters, and the pieces of it for an application's
/// own query.
#[derive(Debug)]
pub struct Planned {
    /// `SELECT id FROM table r WHERE …`.
    pub query: String,
    /// The condition on the row `r` of the resource type's table.
    pub condition: String,
    /// `$1`, `$2`, … in order.
    pub params: Vec<Json>,
}

/// Why there is no exact query: the construct and where it stands.
#[derive(Debug)]
pub struct Refused {
    /// What cannot be translated.
    pub what: String,
    /// Where, in the original policies.
    pub span: Span,
}

/// An expression's SQL: each string a nullable SQL expression, `NULL` an
/// error.
#[derive(Clone, Debug)]
enum Val {
    Bool(String),
    Long(String),
    Str(String),
    Entity {
        ty: String,
        id: String,
    },
    /// A set attribute: the rows of `ty.attr`'s table owned by `owner`.
    Rows {
        ty: String,
        attr: String,
        owner: String,
    },
    /// A set literal.
    Set(Vec<Val>),
    /// An error wherever it is evaluated.
    Error,
}

/// Translates `residual` (reduced for resources of `resource_type`) into a
/// query over `mapping`, deciding in `errors` mode.
#[allow(clippy::too_many_arguments)]
pub fn plan_sql(
    residual: &Residual,
    set: &PolicySet,
    entities: &Entities,
    request: &Request,
    mapping: &Mapping,
    resource_type: &str,
    errors: ErrorMode,
    limits: &Limits,
) -> Result<Planned, Refused> {
    let Some(table) = mapping.types.get(resource_type) else {
        return Err(Refused {
            what: format!("the mapping has no entity type `{resource_type}`"),
            span: Span::default(),
        });
    };
    let mut t = Translator {
        mapping,
        set,
        eval: Evaluator::new(set, entities, request, limits),
        reads_resource: rules_reading_resource(set),
        resource_type: resource_type.to_string(),
        resource_id: format!("r.{}", ident(&table.id)),
        params: Vec::new(),
        locals: Vec::new(),
        calls: Vec::new(),
    };
    let (mut permits, mut forbids, mut failing) = (Vec::new(), Vec::new(), Vec::new());
    for p in &residual.policies {
        if p.decided == Some(false) {
            continue;
        }
        let (satisfied, error) = t.policy(&p.policy)?;
        match p.policy.effect {
            Effect::Permit => permits.push(satisfied),
            Effect::Forbid => {
                forbids.push(satisfied);
                failing.push(error);
            }
        }
    }
    let any = |items: &[String]| {
        if items.is_empty() {
            "FALSE".to_string()
        } else {
            items.join(" OR ")
        }
    };
    let mut condition = format!("({}) AND NOT ({})", any(&permits), any(&forbids));
    if errors == ErrorMode::FailClosed {
        condition.push_str(&format!(" AND NOT ({})", any(&failing)));
    }
    let (condition, params) = renumber(&condition, &t.params);
    let query = format!(
        "SELECT r.{} FROM {} r WHERE {condition}",
        ident(&table.id),
        ident(&table.table)
    );
    Ok(Planned {
        query,
        condition,
        params,
    })
}

/// `text` with its placeholders numbered again in order of first use, and
/// only the parameters it uses (PostgreSQL refuses a parameter it is never
/// told the type of). Quoted identifiers are copied as they are.
fn renumber(text: &str, params: &[Json]) -> (String, Vec<Json>) {
    let mut out = String::with_capacity(text.len());
    let mut used: Vec<usize> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '"' => {
                out.push(c);
                // To the closing quote (a doubled quote stays inside).
                while let Some((_, q)) = chars.next() {
                    out.push(q);
                    if q == '"' {
                        if chars.peek().map(|(_, n)| *n) == Some('"') {
                            if let Some((_, n)) = chars.next() {
                                out.push(n);
                            }
                        } else {
                            break;
                        }
                    }
                }
            }
            '$' => {
                let mut digits = String::new();
                while let Some((_, d)) = chars.peek().copied() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    digits.push(d);
                    chars.next();
                }
                match digits.parse::<usize>() {
                    Ok(n) if n >= 1 && n <= params.len() => {
                        let index = match used.iter().position(|&u| u == n) {
                            Some(i) => i,
                            None => {
                                used.push(n);
                                used.len() - 1
                            }
                        };
                        out.push_str(&format!("${}", index + 1));
                    }
                    _ => {
                        out.push('$');
                        out.push_str(&digits);
                    }
                }
            }
            c => out.push(c),
        }
    }
    let kept = used
        .iter()
        .filter_map(|&n| params.get(n - 1).cloned())
        .collect();
    (out, kept)
}

struct Translator<'a> {
    mapping: &'a Mapping,
    set: &'a PolicySet,
    eval: Evaluator<'a>,
    reads_resource: Vec<bool>,
    resource_type: String,
    resource_id: String,
    params: Vec<Json>,
    /// The locals of the rule being inlined.
    locals: Vec<Val>,
    /// The rules being inlined, innermost last.
    calls: Vec<u32>,
}

fn refuse(what: impl Into<String>, span: Span) -> Refused {
    Refused {
        what: what.into(),
        span,
    }
}

/// `TRUE` where `b` is, `NULL` where it is `NULL`: a boolean's error
/// kept, its value tested.
fn is_true(b: &str) -> String {
    format!("(({b}) IS TRUE)")
}

impl Translator<'_> {
    /// The policy's `(satisfied, raises an error)` conditions on `r`.
    fn policy(&mut self, policy: &crate::syntax::ast::Policy) -> Result<(String, String), Refused> {
        let scope = match &policy.resource {
            ScopeConstraint::Any => "TRUE".to_string(),
            ScopeConstraint::Eq(uid, _) if uid.ty == self.resource_type => {
                let id = self.param(Json::from(uid.id.as_str()), "text", policy.head)?;
                format!("({} = {id})", self.resource_id)
            }
            ScopeConstraint::Eq(..) => "FALSE".to_string(),
            ScopeConstraint::In(uid, _) => {
                let resource = self.resource();
                let target = self.entity_val(uid, policy.head)?;
                match self.in_entity(&resource, &target, policy.head)? {
                    Val::Bool(b) => is_true(&b),
                    _ => "FALSE".to_string(),
                }
            }
            other => {
                return Err(refuse(
                    format!("the resource scope `{other:?}`"),
                    policy.head,
                ))
            }
        };
        let mut satisfied = vec![scope.clone()];
        let mut errs = Vec::new();
        for c in &policy.conditions {
            let value = match self.expr(&c.body)? {
                Val::Bool(b) => b,
                // Not a boolean: the condition raises a type error.
                _ => "NULL::boolean".to_string(),
            };
            errs.push(format!(
                "({} AND ({value}) IS NULL)",
                satisfied.join(" AND ")
            ));
            satisfied.push(match c.kind {
                ConditionKind::When => format!("(({value}) IS TRUE)"),
                ConditionKind::Unless => format!("(({value}) IS FALSE)"),
            });
        }
        let error = if errs.is_empty() {
            "FALSE".to_string()
        } else {
            format!("({})", errs.join(" OR "))
        };
        Ok((format!("({})", satisfied.join(" AND ")), error))
    }

    fn param(&mut self, value: Json, cast: &str, span: Span) -> Result<String, Refused> {
        if value.as_str().is_some_and(|s| s.contains('\0')) {
            return Err(refuse(
                "a string holding U+0000, which PostgreSQL cannot hold",
                span,
            ));
        }
        self.params.push(value);
        Ok(format!("${}::{cast}", self.params.len()))
    }

    fn resource(&self) -> Val {
        Val::Entity {
            ty: self.resource_type.clone(),
            id: self.resource_id.clone(),
        }
    }

    fn entity_val(&mut self, uid: &EntityUid, span: Span) -> Result<Val, Refused> {
        Ok(Val::Entity {
            ty: uid.ty.to_string(),
            id: self.param(Json::from(uid.id.as_str()), "text", span)?,
        })
    }

    fn value(&mut self, v: &Value, span: Span) -> Result<Val, Refused> {
        Ok(match v {
            Value::Bool(b) => Val::Bool(self.param(Json::from(*b), "boolean", span)?),
            Value::Long(n) => Val::Long(self.param(Json::from(*n), "bigint", span)?),
            Value::String(s) => Val::Str(self.param(Json::from(s.as_str()), "text", span)?),
            Value::Entity(uid) => self.entity_val(uid, span)?,
            Value::Set(items) => Val::Set(
                items
                    .iter()
                    .map(|x| self.value(x, span))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Record(_) => return Err(refuse("a record value", span)),
            Value::Ext(e) => {
                return Err(refuse(
                    format!("a value of the extension type `{}`", e.type_name()),
                    span,
                ))
            }
        })
    }

    fn expr(&mut self, e: &Expr) -> Result<Val, Refused> {
        let span = e.span;
        // What does not read the resource (or a local being inlined) is
        // evaluated: its value, or the error it raises.
        if !mentions(e, &self.reads_resource, &mut Vec::new(), false) {
            self.eval.reset();
            return match self.eval.eval(e) {
                Ok(v) => self.value(&v, span),
                Err(_) => Ok(Val::Error),
            };
        }
        match &e.kind {
            ExprKind::Var(crate::syntax::ast::Var::Resource) => Ok(self.resource()),
            ExprKind::Local(i, name) => self
                .locals
                .get(*i as usize)
                .cloned()
                .ok_or_else(|| refuse(format!("the name `{name}`"), span)),
            ExprKind::And(items) | ExprKind::Or(items) => {
                let and = matches!(e.kind, ExprKind::And(_));
                // Right to left: each step `CASE` on the next operand.
                let mut out: Option<String> = None;
                for item in items.iter().rev() {
                    let this = match self.expr(item)? {
                        Val::Bool(b) => b,
                        _ => "NULL::boolean".to_string(),
                    };
                    // `CASE x WHEN …`: an error (NULL) matches no branch.
                    out = Some(match out {
                        None => this,
                        Some(rest) if and => format!(
                            "(CASE ({this}) WHEN FALSE THEN FALSE WHEN TRUE THEN {rest} END)"
                        ),
                        Some(rest) => format!(
                            "(CASE ({this}) WHEN TRUE THEN TRUE WHEN FALSE THEN {rest} END)"
                        ),
                    });
                }
                Ok(Val::Bool(
                    out.unwrap_or_else(|| and.to_string().to_uppercase()),
                ))
            }
            ExprKind::Not(a) => Ok(match self.expr(a)? {
                Val::Bool(b) => Val::Bool(format!("(NOT ({b}))")),
                _ => Val::Error,
            }),
            ExprKind::If(c, a, b) => {
                let Val::Bool(c) = self.expr(c)? else {
                    return Ok(Val::Error);
                };
                match (self.expr(a)?, self.expr(b)?) {
                    (Val::Bool(a), Val::Bool(b)) => Ok(Val::Bool(format!(
                        "(CASE ({c}) WHEN TRUE THEN {a} WHEN FALSE THEN {b} END)"
                    ))),
                    _ => Err(refuse("an `if` whose branches are not both booleans", span)),
                }
            }
            ExprKind::GetAttr(x, attr) => {
                let x = self.expr(x)?;
                self.get_attr(x, attr, span)
            }
            ExprKind::Has(x, path) => {
                let [attr] = path.as_slice() else {
                    return Err(refuse("`has` with a path of several attributes", span));
                };
                let x = self.expr(x)?;
                self.has(x, attr, span)
            }
            ExprKind::Like(x, pattern) => Ok(match self.expr(x)? {
                Val::Str(s) => {
                    let p = like_pattern(pattern);
                    let p = self.param(Json::from(p), "text", span)?;
                    Val::Bool(format!("(({s}) LIKE {p})"))
                }
                _ => Val::Error,
            }),
            ExprKind::Is(x, ty, target) => {
                let x = self.expr(x)?;
                let Val::Entity { ty: xty, id } = &x else {
                    return Ok(Val::Error);
                };
                let is = if xty == ty.as_str() { "TRUE" } else { "FALSE" };
                let is = format!("(CASE WHEN ({id}) IS NULL THEN NULL ELSE {is} END)");
                match target {
                    None => Ok(Val::Bool(is)),
                    Some(t) => {
                        let t = self.expr(t)?;
                        let Val::Bool(inside) = self.in_any(&x, &t, span)? else {
                            return Ok(Val::Error);
                        };
                        Ok(Val::Bool(format!(
                            "(CASE ({is}) WHEN FALSE THEN FALSE WHEN TRUE THEN {inside} END)"
                        )))
                    }
                }
            }
            ExprKind::Binary(op, a, b) => {
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                self.binary(*op, a, b, span)
            }
            ExprKind::Method(x, name, args) if name == "contains" && args.len() == 1 => {
                let x = self.expr(x)?;
                let arg = self.expr(&args[0])?;
                self.contains(x, arg, span)
            }
            ExprKind::Call {
                target: CallTarget::Rule(r),
                args,
                name,
            } => self.call(*r, name, args, span),
            ExprKind::Method(_, name, _) => Err(refuse(
                format!("the method `{name}` over the resource (no SQL translation)"),
                span,
            )),
            other => Err(refuse(
                format!(
                    "`{}` over the resource (no SQL translation)",
                    crate::fmt::expr::expr(&Expr::new(other.clone(), span))
                ),
                span,
            )),
        }
    }

    fn call(&mut self, rule: u32, name: &str, args: &[Expr], span: Span) -> Result<Val, Refused> {
        if self.calls.contains(&rule) {
            return Err(refuse(
                format!("the rule `{name}`, recursive over the resource"),
                span,
            ));
        }
        let set = self.set;
        let Some(def) = set.rules.get(rule as usize) else {
            return Err(refuse(format!("the rule `{name}`"), span));
        };
        let values = args
            .iter()
            .map(|a| self.expr(a))
            .collect::<Result<Vec<_>, _>>()?;
        // An argument that raises an error makes the call raise it.
        if values.iter().any(|v| matches!(v, Val::Error)) {
            return Ok(Val::Error);
        }
        let saved = std::mem::replace(&mut self.locals, values);
        self.calls.push(rule);
        let mut clauses = Vec::new();
        for clause in &def.clauses {
            match self.expr(&clause.body) {
                Ok(Val::Bool(b)) => clauses.push(b),
                Ok(_) => clauses.push("NULL::boolean".into()),
                Err(e) => {
                    self.calls.pop();
                    self.locals = saved;
                    return Err(e);
                }
            }
        }
        self.calls.pop();
        self.locals = saved;
        // True where a clause holds; else an error where one raised one.
        Ok(Val::Bool(any_of(&clauses)))
    }

    /// The attribute's mapping, or a refusal naming it.
    fn attr_map(
        &self,
        ty: &str,
        attr: &str,
        span: Span,
    ) -> Result<(&mapping::TypeMap, &mapping::AttrMap), Refused> {
        let map =
            self.mapping.types.get(ty).ok_or_else(|| {
                refuse(format!("the entity type `{ty}` (not in the mapping)"), span)
            })?;
        let a = map.attributes.get(attr).ok_or_else(|| {
            refuse(
                format!("the attribute `{attr}` of `{ty}` (not in the mapping)"),
                span,
            )
        })?;
        Ok((map, a))
    }

    fn get_attr(&mut self, x: Val, attr: &str, span: Span) -> Result<Val, Refused> {
        let Val::Entity { ty, id } = x else {
            return match x {
                Val::Error => Ok(Val::Error),
                _ => Err(refuse(
                    format!("`.{attr}` of a value that is no entity"),
                    span,
                )),
            };
        };
        let (map, a) = self.attr_map(&ty, attr, span)?;
        if a.set.is_some() {
            return Ok(Val::Rows {
                ty: ty.clone(),
                attr: attr.to_string(),
                owner: id,
            });
        }
        let column = ident(a.column.as_deref().unwrap_or_default());
        let sql = if id == self.resource_id && ty == self.resource_type {
            format!("r.{column}")
        } else {
            format!(
                "(SELECT t.{column} FROM {} t WHERE t.{} = ({id}))",
                ident(&map.table),
                ident(&map.id)
            )
        };
        Ok(match a.kind {
            AttrKind::String => Val::Str(sql),
            AttrKind::Long => Val::Long(sql),
            AttrKind::Bool => Val::Bool(sql),
            AttrKind::Entity => Val::Entity {
                ty: a.entity_type.clone().unwrap_or_default(),
                id: sql,
            },
        })
    }

    fn has(&mut self, x: Val, attr: &str, span: Span) -> Result<Val, Refused> {
        let Val::Entity { ty, id } = x else {
            return Ok(Val::Error);
        };
        let (map, a) = self.attr_map(&ty, attr, span)?;
        let row = format!(
            "FROM {} t WHERE t.{} = ({id})",
            ident(&map.table),
            ident(&map.id)
        );
        let present = match &a.column {
            Some(c) if id == self.resource_id && ty == self.resource_type => {
                format!("(r.{} IS NOT NULL)", ident(c))
            }
            Some(c) => format!("EXISTS (SELECT 1 {row} AND t.{} IS NOT NULL)", ident(c)),
            None => format!("EXISTS (SELECT 1 {row})"),
        };
        Ok(Val::Bool(format!(
            "(CASE WHEN ({id}) IS NULL THEN NULL ELSE {present} END)"
        )))
    }

    fn binary(&mut self, op: BinOp, a: Val, b: Val, span: Span) -> Result<Val, Refused> {
        if matches!(a, Val::Error) || matches!(b, Val::Error) {
            return Ok(Val::Error);
        }
        let both_long = |a: &Val, b: &Val| match (a, b) {
            (Val::Long(x), Val::Long(y)) => Some((x.clone(), y.clone())),
            _ => None,
        };
        Ok(match op {
            BinOp::Eq | BinOp::Ne => {
                let eq = self.equal(&a, &b, span)?;
                if op == BinOp::Eq {
                    Val::Bool(eq)
                } else {
                    Val::Bool(format!("(NOT {eq})"))
                }
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => match both_long(&a, &b) {
                Some((x, y)) => {
                    let sql = match op {
                        BinOp::Lt => "<",
                        BinOp::Le => "<=",
                        BinOp::Gt => ">",
                        _ => ">=",
                    };
                    Val::Bool(format!("(({x}) {sql} ({y}))"))
                }
                None => Val::Error,
            },
            BinOp::Add | BinOp::Sub | BinOp::Mul => match both_long(&a, &b) {
                Some((x, y)) => {
                    let sql = match op {
                        BinOp::Add => "+",
                        BinOp::Sub => "-",
                        _ => "*",
                    };
                    // Computed exactly, then an overflow is an error.
                    let wide = format!("(({x})::numeric {sql} ({y})::numeric)");
                    Val::Long(format!(
                        "(CASE WHEN {wide} BETWEEN -9223372036854775808 AND 9223372036854775807 THEN {wide}::bigint ELSE NULL END)"
                    ))
                }
                None => Val::Error,
            },
            BinOp::In => self.in_any(&a, &b, span)?,
        })
    }

    /// `a == b` as a nullable boolean.
    fn equal(&mut self, a: &Val, b: &Val, span: Span) -> Result<String, Refused> {
        let nulls = |x: &str, y: &str, then: &str| {
            format!("(CASE WHEN ({x}) IS NULL OR ({y}) IS NULL THEN NULL ELSE {then} END)")
        };
        Ok(match (a, b) {
            (Val::Bool(x), Val::Bool(y))
            | (Val::Long(x), Val::Long(y))
            | (Val::Str(x), Val::Str(y)) => format!("(({x}) = ({y}))"),
            (Val::Entity { ty: t1, id: x }, Val::Entity { ty: t2, id: y }) => {
                if t1 == t2 {
                    format!("(({x}) = ({y}))")
                } else {
                    nulls(x, y, "FALSE")
                }
            }
            (Val::Set(_) | Val::Rows { .. }, _) | (_, Val::Set(_) | Val::Rows { .. }) => {
                return Err(refuse("equality of sets over the resource", span))
            }
            // Values of different types are unequal.
            (x, y) => nulls(&scalar(x), &scalar(y), "FALSE"),
        })
    }

    /// `a in b`: `b` an entity or a set of them.
    fn in_any(&mut self, a: &Val, b: &Val, span: Span) -> Result<Val, Refused> {
        match b {
            Val::Entity { .. } => self.in_entity(a, b, span),
            Val::Set(items) => {
                let mut parts = Vec::new();
                for item in items {
                    match self.in_entity(a, item, span)? {
                        Val::Bool(s) => parts.push(s),
                        _ => return Ok(Val::Error),
                    }
                }
                if parts.is_empty() {
                    return Ok(match a {
                        Val::Entity { id, .. } => Val::Bool(format!(
                            "(CASE WHEN ({id}) IS NULL THEN NULL ELSE FALSE END)"
                        )),
                        _ => Val::Error,
                    });
                }
                // Only `a` can fail (the elements are values), and then
                // every part does.
                Ok(Val::Bool(any_of(&parts)))
            }
            Val::Rows { .. } => Err(refuse("`in` a set attribute over the resource", span)),
            _ => Ok(Val::Error),
        }
    }

    /// `a in b` for one entity `b`: equal, or `b` among `a`'s ancestors.
    /// `a`'s type must be in the mapping (without `parents`, it has none).
    fn in_entity(&mut self, a: &Val, b: &Val, span: Span) -> Result<Val, Refused> {
        let (Val::Entity { ty: at, id: aid }, Val::Entity { ty: bt, id: bid }) = (a, b) else {
            return Ok(Val::Error);
        };
        if !self.mapping.types.contains_key(at.as_str()) {
            return Err(refuse(
                format!(
                    "`in` on an entity of type `{at}`, whose parents the mapping does not hold"
                ),
                span,
            ));
        }
        let same = if at == bt {
            format!("(({aid}) = ({bid}))")
        } else {
            "FALSE".to_string()
        };
        // The resource in a given entity: everything below that entity,
        // found once (the subquery does not depend on the row), rather than
        // every row's ancestors. Each step of the walks is `LATERAL` behind
        // `OFFSET 0` (which the planner does not flatten), so it looks up
        // the rows below (or above) the ones found, by index, rather than
        // sorting every edge to merge them.
        if let Some(closure) = self.mapping.types[at.as_str()].ancestors.as_ref() {
            // The application keeps every ancestor: one lookup, by index.
            let (table, child, ancestor_type, ancestor_id) = (
                ident(&closure.table),
                ident(&closure.child),
                ident(&closure.ancestor_type),
                ident(&closure.ancestor_id),
            );
            let bt = self.param(Json::from(bt.as_str()), "text", span)?;
            return Ok(Val::Bool(
                if *aid == self.resource_id && *at == self.resource_type && is_placeholder(bid) {
                    // Found once, not per row.
                    format!(
                        "({same} OR ({aid}) IN (SELECT c.{child} FROM {table} c WHERE c.{ancestor_type} = {bt} AND c.{ancestor_id} = {bid} AND c.{child} IS NOT NULL))"
                    )
                } else {
                    format!(
                        "(CASE WHEN ({aid}) IS NULL OR ({bid}) IS NULL THEN NULL ELSE ({same} OR EXISTS (SELECT 1 FROM {table} c WHERE c.{child} = ({aid}) AND c.{ancestor_type} = {bt} AND c.{ancestor_id} = ({bid}))) END)"
                    )
                },
            ));
        }
        if *aid == self.resource_id && *at == self.resource_type && is_placeholder(bid) {
            let Some(edges) = self.edges() else {
                return Ok(Val::Bool(same));
            };
            let (bt, at) = (
                self.param(Json::from(bt.as_str()), "text", span)?,
                self.param(Json::from(at.as_str()), "text", span)?,
            );
            return Ok(Val::Bool(format!(
                "({same} OR ({aid}) IN (SELECT down.i FROM (WITH RECURSIVE down(t, i) AS (SELECT e.ct, e.ci FROM ({edges}) e WHERE e.pt = {bt} AND e.pi = {bid} UNION SELECT e.ct, e.ci FROM down, LATERAL (SELECT * FROM ({edges}) e WHERE e.pt = down.t AND e.pi = down.i OFFSET 0) e) SELECT t, i FROM down) down WHERE down.t = {at} AND down.i IS NOT NULL))"
            )));
        }
        let ancestors = self.ancestors_of(at, aid);
        let bt = self.param(Json::from(bt.as_str()), "text", span)?;
        let above = match ancestors {
            Some(anc) => {
                format!("EXISTS ({anc} SELECT 1 FROM anc WHERE anc.t = {bt} AND anc.i = ({bid}))")
            }
            None => "FALSE".to_string(),
        };
        Ok(Val::Bool(format!(
            "(CASE WHEN ({aid}) IS NULL OR ({bid}) IS NULL THEN NULL ELSE ({same} OR {above}) END)"
        )))
    }

    /// `WITH RECURSIVE anc(t, i) AS (…)`: the ancestors of the entity of
    /// type `ty` with id `id`, over every parents table of the mapping;
    /// `None` when the mapping has none.
    fn ancestors_of(&mut self, ty: &str, id: &str) -> Option<String> {
        let edges = self.edges()?;
        let ty = self.param(Json::from(ty), "text", Span::default()).ok()?;
        Some(format!(
            "WITH RECURSIVE anc(t, i) AS (SELECT e.pt, e.pi FROM ({edges}) e WHERE e.ct = {ty} AND e.ci = ({id}) UNION SELECT e.pt, e.pi FROM anc, LATERAL (SELECT * FROM ({edges}) e WHERE e.ct = anc.t AND e.ci = anc.i OFFSET 0) e)"
        ))
    }

    /// Every (child type, child id, parent type, parent id) edge of the
    /// mapping's parents tables, as one `SELECT`; `None` when it has none.
    fn edges(&mut self) -> Option<String> {
        let types: Vec<(String, String, String, String, String)> = self
            .mapping
            .types
            .iter()
            .filter_map(|(name, m)| {
                m.parents.as_ref().map(|p| {
                    (
                        name.clone(),
                        p.table.clone(),
                        p.child.clone(),
                        p.parent_type.clone(),
                        p.parent_id.clone(),
                    )
                })
            })
            .collect();
        let mut tables = Vec::new();
        for (name, table, child, parent_type, parent_id) in types {
            let name = self.param(Json::from(name), "text", Span::default()).ok()?;
            tables.push(format!(
                "SELECT {name} AS ct, {} AS ci, {} AS pt, {} AS pi FROM {}",
                ident(&child),
                ident(&parent_type),
                ident(&parent_id),
                ident(&table)
            ));
        }
        (!tables.is_empty()).then(|| tables.join(" UNION ALL "))
    }

    fn contains(&mut self, x: Val, arg: Val, span: Span) -> Result<Val, Refused> {
        if matches!(arg, Val::Error) {
            return Ok(Val::Error);
        }
        let Val::Rows { ty, attr, owner } = x else {
            return match x {
                Val::Error => Ok(Val::Error),
                Val::Set(_) => Err(refuse(
                    "`contains` on a set literal over the resource",
                    span,
                )),
                _ => Ok(Val::Error),
            };
        };
        let (_, a) = self.attr_map(&ty, &attr, span)?;
        let Some(set) = &a.set else {
            return Ok(Val::Error);
        };
        let value = match (&arg, a.kind) {
            (Val::Str(s), AttrKind::String)
            | (Val::Long(s), AttrKind::Long)
            | (Val::Bool(s), AttrKind::Bool) => s.clone(),
            (Val::Entity { ty, id }, AttrKind::Entity)
                if a.entity_type.as_deref() == Some(ty.as_str()) =>
            {
                id.clone()
            }
            // An element of another type is in no set of these.
            (other, _) => {
                let s = scalar(other);
                return Ok(Val::Bool(format!(
                    "(CASE WHEN ({owner}) IS NULL OR ({s}) IS NULL THEN NULL ELSE FALSE END)"
                )));
            }
        };
        Ok(Val::Bool(format!(
            "(CASE WHEN ({owner}) IS NULL OR ({value}) IS NULL THEN NULL ELSE EXISTS (SELECT 1 FROM {} s WHERE s.{} = ({owner}) AND s.{} = ({value})) END)",
            ident(&set.table),
            ident(&set.owner),
            ident(&set.value)
        )))
    }
}

/// Whether `sql` is one parameter placeholder (`$3::text`): a constant.
fn is_placeholder(sql: &str) -> bool {
    sql.strip_prefix('$')
        .and_then(|rest| rest.strip_suffix("::text"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `TRUE` where one of `items` is, else `NULL` where one is, else
/// `FALSE` (a rule's clauses; `in` a set), each evaluated once.
fn any_of(items: &[String]) -> String {
    if let [one] = items {
        return one.clone();
    }
    let rows: Vec<String> = items.iter().map(|i| format!("(({i}))")).collect();
    format!(
        "(SELECT CASE WHEN bool_or(v) THEN TRUE WHEN bool_or(v IS NULL) THEN NULL ELSE FALSE END FROM (VALUES {}) AS x(v))",
        rows.join(", ")
    )
}

/// A scalar's SQL (its error `NULL`); a set's, `TRUE` (never an error).
fn scalar(v: &Val) -> String {
    match v {
        Val::Bool(s) | Val::Long(s) | Val::Str(s) => s.clone(),
        Val::Entity { id, .. } => id.clone(),
        Val::Rows { owner, .. } => owner.clone(),
        Val::Set(_) => "TRUE".into(),
        Val::Error => "NULL".into(),
    }
}

/// A `like` pattern for SQL's `LIKE`: `*` as `%`, and `%`, `_` and `\`
/// escaped with `\` (PostgreSQL's default escape).
fn like_pattern(pattern: &[PatternElem]) -> String {
    let mut out = String::new();
    for elem in pattern {
        match elem {
            PatternElem::Wildcard => out.push('%'),
            PatternElem::Char(c) => {
                if matches!(c, '%' | '_' | '\\') {
                    out.push('\\');
                }
                out.push(*c);
            }
        }
    }
    out
}
