//! Where generated values come from: the literals of the policies and a
//! seeded random source.

use crate::policy_set::PolicySet;
use crate::syntax::ast::{ExprKind, Literal, PatternElem};
use smol_str::SmolStr;
use std::collections::{BTreeMap, BTreeSet};

/// The literals of a policy set, to draw values from.
#[derive(Clone, Debug, Default)]
pub struct Pools {
    /// Strings (compared, matched by `like` with the wildcards dropped,
    /// held in sets), and one no policy names.
    pub strings: Vec<SmolStr>,
    /// Numbers, with 0 and 1.
    pub longs: Vec<i64>,
    /// The arguments of extension constructors, by constructor.
    pub extensions: BTreeMap<SmolStr, Vec<SmolStr>>,
}

impl Pools {
    /// The literals of `sets`' policies and rules.
    pub fn of(sets: &[&PolicySet]) -> Pools {
        let mut strings = BTreeSet::new();
        let mut longs = BTreeSet::from([0, 1]);
        let mut extensions: BTreeMap<SmolStr, BTreeSet<SmolStr>> = BTreeMap::new();
        let mut note = |e: &crate::syntax::ast::Expr| match &e.kind {
            ExprKind::Lit(Literal::String(s)) => {
                strings.insert(s.clone());
            }
            ExprKind::Lit(Literal::Long(n)) => {
                longs.insert(*n);
            }
            ExprKind::Like(_, pattern) => {
                let s: String = pattern
                    .iter()
                    .filter_map(|p| match p {
                        PatternElem::Char(c) => Some(*c),
                        PatternElem::Wildcard => None,
                    })
                    .collect();
                strings.insert(s.into());
            }
            ExprKind::Call { name, args, .. } => {
                if let [arg] = &args[..] {
                    if let ExprKind::Lit(Literal::String(s)) = &arg.kind {
                        extensions
                            .entry(name.as_str().into())
                            .or_default()
                            .insert(s.clone());
                    }
                }
            }
            _ => {}
        };
        for set in sets {
            for p in &set.policies {
                for c in &p.policy.conditions {
                    crate::syntax::ast::visit(&c.body, &mut note);
                }
            }
            for r in &set.rules {
                for c in &r.clauses {
                    crate::syntax::ast::visit(&c.body, &mut note);
                }
            }
        }
        strings.insert("mspl-generated".into());
        Pools {
            strings: strings.into_iter().collect(),
            longs: longs.into_iter().collect(),
            extensions: extensions
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
        }
    }
}

/// A small deterministic random source (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The source for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "the remainder is below `n`, a usize"
            )]
            let below = (self.bits() % n as u64) as usize;
            below
        }
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// An extension type's constructor and a few arguments it takes.
pub(super) fn extension_defaults(name: &str) -> (&'static str, &'static [&'static str]) {
    match name {
        "ipaddr" => ("ip", &["10.0.0.1", "192.168.0.0/16", "::1"]),
        "decimal" => ("decimal", &["0.0", "1.5", "-2.25"]),
        "datetime" => ("datetime", &["2024-01-01", "2024-06-30T12:00:00Z"]),
        _ => ("duration", &["1h", "-30m", "1d2h"]),
    }
}
