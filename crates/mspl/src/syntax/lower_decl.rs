//! Lowering of declaration pairs (Cedar's schema syntax) into [`Decl`] nodes.

use super::*;

impl Lower {
    pub(super) fn decl(&mut self, pair: Pair<Rule>) -> Decl {
        match pair.as_rule() {
            Rule::entity_decl => Decl::Entity(self.entity_decl(pair)),
            Rule::action_decl => Decl::Action(self.action_decl(pair)),
            _ => Decl::Type(self.type_decl(pair)),
        }
    }

    fn entity_decl(&mut self, pair: Pair<Rule>) -> EntityDecl {
        let mut decl = EntityDecl {
            annotations: Vec::new(),
            names: Vec::new(),
            parents: Vec::new(),
            attrs: Vec::new(),
            tags: None,
            enum_ids: None,
            span: self.span(&pair),
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::annotations => decl.annotations = self.annotations(p),
                Rule::ident_list => {
                    decl.names = p.into_inner().map(|i| i.as_str().into()).collect()
                }
                Rule::entity_enum => {
                    let ids = p
                        .into_inner()
                        .filter(|s| s.as_rule() == Rule::string)
                        .map(|s| self.string(&s))
                        .collect();
                    decl.enum_ids = Some(ids);
                }
                Rule::entity_body => {
                    for b in p.into_inner() {
                        match b.as_rule() {
                            Rule::entity_parents => {
                                if let Some(list) =
                                    b.into_inner().find(|x| x.as_rule() == Rule::type_list)
                                {
                                    decl.parents = type_list(list);
                                }
                            }
                            Rule::record_type => decl.attrs = self.attr_decls(b),
                            Rule::entity_tags => {
                                if let Some(t) =
                                    b.into_inner().find(|x| x.as_rule() == Rule::type_expr)
                                {
                                    decl.tags = Some(self.type_expr(t));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        decl
    }

    fn action_decl(&mut self, pair: Pair<Rule>) -> ActionDecl {
        let mut decl = ActionDecl {
            annotations: Vec::new(),
            names: Vec::new(),
            parents: Vec::new(),
            principals: None,
            resources: None,
            context: None,
            span: self.span(&pair),
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::annotations => decl.annotations = self.annotations(p),
                Rule::action_names => {
                    decl.names = p.into_inner().map(|n| self.attr_name(&n)).collect();
                }
                Rule::action_parents => {
                    for r in p.into_inner().filter(|x| x.as_rule() == Rule::action_ref) {
                        let Some(inner) = r.into_inner().next() else {
                            continue;
                        };
                        if inner.as_rule() == Rule::entity_ref {
                            let uid = self.entity_ref(inner);
                            decl.parents.push((Some(uid.ty), uid.id));
                        } else {
                            decl.parents.push((None, self.attr_name(&inner)));
                        }
                    }
                }
                Rule::applies_to => {
                    for entry in p
                        .into_inner()
                        .filter(|x| x.as_rule() == Rule::applies_entry)
                    {
                        let Some(e) = entry.into_inner().next() else {
                            continue;
                        };
                        let rule = e.as_rule();
                        let Some(value) = e.into_inner().find(|x| !is_keyword(x)) else {
                            continue;
                        };
                        match rule {
                            Rule::applies_principal => decl.principals = Some(type_list(value)),
                            Rule::applies_resource => decl.resources = Some(type_list(value)),
                            _ => {
                                let span = self.span(&value);
                                decl.context = Some(if value.as_rule() == Rule::record_type {
                                    TypeExpr::Record(self.attr_decls(value), span)
                                } else {
                                    TypeExpr::Named(path_name(&value), span)
                                });
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        decl
    }

    fn type_decl(&mut self, pair: Pair<Rule>) -> TypeDecl {
        let span = self.span(&pair);
        let mut decl = TypeDecl {
            annotations: Vec::new(),
            name: SmolStr::default(),
            ty: TypeExpr::Record(Vec::new(), span),
            span,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::annotations => decl.annotations = self.annotations(p),
                Rule::ident => decl.name = p.as_str().into(),
                Rule::type_expr => decl.ty = self.type_expr(p),
                _ => {}
            }
        }
        decl
    }

    fn type_expr(&mut self, pair: Pair<Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let inner = if pair.as_rule() == Rule::type_expr {
            match pair.into_inner().next() {
                Some(i) => i,
                None => return TypeExpr::Record(Vec::new(), span),
            }
        } else {
            pair
        };
        match inner.as_rule() {
            Rule::set_type => match inner.into_inner().find(|x| x.as_rule() == Rule::type_expr) {
                Some(t) => TypeExpr::Set(Box::new(self.type_expr(t)), span),
                None => TypeExpr::Record(Vec::new(), span),
            },
            Rule::record_type => TypeExpr::Record(self.attr_decls(inner), span),
            _ => TypeExpr::Named(path_name(&inner), span),
        }
    }

    fn attr_decls(&mut self, pair: Pair<Rule>) -> Vec<AttrDecl> {
        let mut out: Vec<AttrDecl> = Vec::new();
        for a in pair.into_inner().filter(|x| x.as_rule() == Rule::attr_decl) {
            let span = self.span(&a);
            let mut decl = AttrDecl {
                annotations: Vec::new(),
                name: SmolStr::default(),
                optional: false,
                ty: TypeExpr::Record(Vec::new(), span),
                span,
            };
            for p in a.into_inner() {
                match p.as_rule() {
                    Rule::annotations => decl.annotations = self.annotations(p),
                    Rule::optional_mark => decl.optional = true,
                    Rule::type_expr => decl.ty = self.type_expr(p),
                    Rule::any_ident | Rule::string => decl.name = self.attr_name(&p),
                    _ => {}
                }
            }
            if out.iter().any(|x| x.name == decl.name) {
                self.errors.push(ParseError::DuplicateKey {
                    span,
                    key: decl.name.to_string(),
                });
                continue;
            }
            out.push(decl);
        }
        out
    }
}

/// The paths of a `type_list` (`[A, B]` or a single `A`).
fn type_list(pair: Pair<Rule>) -> Vec<Name> {
    if pair.as_rule() == Rule::path {
        return vec![path_name(&pair)];
    }
    pair.into_inner()
        .filter(|p| p.as_rule() == Rule::path)
        .map(|p| path_name(&p))
        .collect()
}
