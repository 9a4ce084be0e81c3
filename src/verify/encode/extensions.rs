//! The extension types: a `decimal` is its 64-bit count of ten-thousandths,
//! a `datetime` its milliseconds since the epoch, a `duration` its
//! milliseconds; an `ipaddr` is 137 bits: whether it is IPv6, the prefix
//! length (8 bits), the address (128 bits, IPv4 in the low 32). Any bits
//! read from the store or the request pass through `ip_norm`, which maps
//! them onto a valid address, so every model is a valid store. Constants
//! fold through the interpreter's own implementation; a constructor of a
//! string the store or the request decides is refused.

use super::*;
use mspl::__internal::value::ext::{self, ExtArg, ExtValue, IpAddr};

/// The name of the normalizing function of IP addresses.
pub const IP_NORM: &str = "ip_norm";

/// An extension type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtSort {
    /// `decimal`.
    Decimal,
    /// `ipaddr`.
    Ip,
    /// `datetime`.
    Datetime,
    /// `duration`.
    Duration,
}

impl ExtSort {
    /// The sort of the extension type `name`.
    pub fn of(name: &str) -> Option<ExtSort> {
        Some(match name {
            "decimal" => ExtSort::Decimal,
            "ipaddr" => ExtSort::Ip,
            "datetime" => ExtSort::Datetime,
            "duration" => ExtSort::Duration,
            _ => return None,
        })
    }

    /// The SMT sort.
    pub fn smt(self) -> &'static str {
        match self {
            ExtSort::Ip => "(_ BitVec 137)",
            _ => "(_ BitVec 64)",
        }
    }

    /// The value of these bits: 64 for the numeric types (as `i64`), the
    /// packed address for `ipaddr`; `None` where they are not one.
    pub fn value(self, bits: u128, high: u16) -> Option<ExtValue> {
        let n = u64::try_from(bits).map(|b| i64::from_ne_bytes(b.to_ne_bytes()));
        Some(match self {
            ExtSort::Decimal => ExtValue::Decimal(ext::Decimal::from_raw(n.ok()?)),
            ExtSort::Datetime => ExtValue::Datetime(ext::Datetime::from_epoch_ms(n.ok()?)),
            ExtSort::Duration => ExtValue::Duration(ext::Duration::from_millis(n.ok()?)),
            ExtSort::Ip => {
                let (v6, prefix) = (high >> 8 == 1, u8::try_from(high & 0xff).ok()?);
                if v6 && prefix <= 128 {
                    ExtValue::Ip(IpAddr::V6 { addr: bits, prefix })
                } else if !v6 && prefix <= 32 {
                    ExtValue::Ip(IpAddr::V4 {
                        addr: u32::try_from(bits).ok()?,
                        prefix,
                    })
                } else {
                    return None;
                }
            }
        })
    }
}

/// The SMT literal of an extension value.
pub(super) fn smt_ext(x: &ExtValue) -> String {
    match x {
        ExtValue::Decimal(d) => smt_long(d.raw()),
        ExtValue::Datetime(d) => smt_long(d.epoch_ms()),
        ExtValue::Duration(d) => smt_long(d.to_milliseconds()),
        ExtValue::Ip(ip) => {
            let (v6, prefix, addr) = match *ip {
                IpAddr::V4 { addr, prefix } => (0, prefix, u128::from(addr)),
                IpAddr::V6 { addr, prefix } => (1, prefix, addr),
            };
            format!(
                "(concat (_ bv{} 9) (_ bv{addr} 128))",
                (v6 << 8) | u32::from(prefix)
            )
        }
    }
}

/// The definitions of the IP functions.
const IP_DEFINITIONS: &str = "\
(define-fun ip_norm ((r (_ BitVec 137))) (_ BitVec 137) \
 (let ((p ((_ extract 135 128) r)) (a ((_ extract 127 0) r))) \
 (ite (= ((_ extract 136 136) r) #b1) \
 (concat #b1 (ite (bvugt p (_ bv128 8)) (_ bv128 8) p) a) \
 (concat #b0 (ite (bvugt p (_ bv32 8)) (_ bv32 8) p) ((_ zero_extend 96) ((_ extract 31 0) a))))))
(define-fun ip_v6 ((x (_ BitVec 137))) Bool (= ((_ extract 136 136) x) #b1))
(define-fun ip_prefix ((x (_ BitVec 137))) (_ BitVec 8) ((_ extract 135 128) x))
(define-fun ip_addr ((x (_ BitVec 137))) (_ BitVec 128) ((_ extract 127 0) x))
(define-fun ip_host ((x (_ BitVec 137))) (_ BitVec 128) \
 (ite (ip_v6 x) (bvlshr (bvnot (_ bv0 128)) ((_ zero_extend 120) (ip_prefix x))) \
 ((_ zero_extend 96) (bvlshr (bvnot (_ bv0 32)) ((_ zero_extend 24) (ip_prefix x))))))
(define-fun ip_lo ((x (_ BitVec 137))) (_ BitVec 128) (bvand (ip_addr x) (bvnot (ip_host x))))
(define-fun ip_hi ((x (_ BitVec 137))) (_ BitVec 128) (bvor (ip_addr x) (ip_host x)))";

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

impl<'a> Encoder<'a> {
    /// Defines the IP functions, once.
    pub(super) fn define_ip(&mut self) {
        if !self.ip_norm {
            self.ip_norm = true;
            self.prelude
                .extend(IP_DEFINITIONS.lines().map(str::to_string));
        }
    }

    /// `decimal(s)`, `ip(s)`, `datetime(s)`, `duration(s)`.
    pub(super) fn ext_function(
        &mut self,
        name: &str,
        args: Vec<Term>,
        span: Span,
    ) -> Result<Term, Refusal> {
        let result = mspl::__internal::builtins::function(name)
            .and_then(|b| match b.result {
                mspl::__internal::builtins::Param::Ext(t) => ExtSort::of(t),
                _ => None,
            })
            .ok_or_else(|| refuse(format!("the function `{name}`"), span))?;
        let [arg] = args.as_slice() else {
            return Err(refuse(format!("`{name}` with these arguments"), span));
        };
        let Val::Const(v) = &arg.val else {
            return Err(refuse(
                format!("`{name}` of a value the store or the request decides"),
                span,
            ));
        };
        self.fold(Sort::Ext(result), arg.err.clone(), || {
            ext::call_function(name, &[ExtArg::of(v)])
        })
    }

    /// A constant result computed by the interpreter's implementation (an
    /// error there is an error here).
    fn fold(
        &mut self,
        sort: Sort,
        err: Option<String>,
        f: impl FnOnce() -> Result<ext::ExtOutput, ext::ExtError>,
    ) -> Result<Term, Refusal> {
        Ok(match f() {
            Ok(out) => Term {
                err,
                ..Term::constant(out.into_value(), sort)
            },
            Err(_) => {
                let zero = match &sort {
                    Sort::Bool => "false".to_string(),
                    Sort::Ext(ExtSort::Ip) => "(_ bv0 137)".into(),
                    _ => smt_long(0),
                };
                Term::sym(sort, zero, Some("true".into()))
            }
        })
    }

    /// A method of an extension value.
    pub(super) fn ext_method(
        &mut self,
        x: Term,
        name: &str,
        args: Vec<Term>,
        span: Span,
    ) -> Result<Term, Refusal> {
        let Some(b) = mspl::__internal::builtins::method(name) else {
            return Err(refuse(format!("the method `{name}`"), span));
        };
        let sort_of = |p: mspl::__internal::builtins::Param| match p {
            mspl::__internal::builtins::Param::Ext(t) => ExtSort::of(t).map(Sort::Ext),
            mspl::__internal::builtins::Param::Bool => Some(Sort::Bool),
            mspl::__internal::builtins::Param::Long => Some(Sort::Long),
            _ => None,
        };
        let typed = b.params.len() == args.len() + 1
            && std::iter::once(&x)
                .chain(args.iter())
                .zip(b.params)
                .all(|(t, p)| sort_of(*p).as_ref() == Some(&t.sort));
        let result = sort_of(b.result);
        let (true, Some(result)) = (typed, result) else {
            return Err(refuse(format!("`{name}` with these arguments"), span));
        };
        let mut err = x.err.clone();
        for a in &args {
            err = or_err(&err, &a.err);
        }
        let constants: Option<Vec<&Value>> = std::iter::once(&x)
            .chain(args.iter())
            .map(|t| match &t.val {
                Val::Const(v) => Some(v),
                _ => None,
            })
            .collect();
        if let Some(values) = constants {
            let receiver = ExtArg::of(values[0]);
            let rest: Vec<ExtArg> = values[1..].iter().map(|v| ExtArg::of(v)).collect();
            return self.fold(result, err, || ext::call_method(name, receiver, &rest));
        }
        let v = self.smt(&x)?;
        let a: Vec<String> = args.iter().map(|t| self.smt(t)).collect::<Result<_, _>>()?;
        let day = smt_long(DAY_MS);
        let as_long = |s: &str| Term::sym(Sort::Long, s.to_string(), None);
        let val = match (name, a.as_slice()) {
            ("lessThan", [y]) => format!("(bvslt {v} {y})"),
            ("lessThanOrEqual", [y]) => format!("(bvsle {v} {y})"),
            ("greaterThan", [y]) => format!("(bvsgt {v} {y})"),
            ("greaterThanOrEqual", [y]) => format!("(bvsge {v} {y})"),
            ("isIpv4", []) => format!("(not (ip_v6 {v}))"),
            ("isIpv6", []) => format!("(ip_v6 {v})"),
            ("isLoopback", []) => format!(
                "(ite (ip_v6 {v}) (and (= (ip_addr {v}) (_ bv1 128)) (= (ip_prefix {v}) (_ bv128 8))) \
                 (and (= ((_ extract 31 24) (ip_addr {v})) (_ bv127 8)) (bvuge (ip_prefix {v}) (_ bv8 8))))"
            ),
            ("isMulticast", []) => format!(
                "(ite (ip_v6 {v}) (and (= ((_ extract 127 120) (ip_addr {v})) #xff) (bvuge (ip_prefix {v}) (_ bv8 8))) \
                 (and (= ((_ extract 31 28) (ip_addr {v})) #xe) (bvuge (ip_prefix {v}) (_ bv4 8))))"
            ),
            ("isInRange", [y]) => format!(
                "(and (= (ip_v6 {v}) (ip_v6 {y})) (bvule (ip_lo {y}) (ip_lo {v})) (bvule (ip_hi {v}) (ip_hi {y})))"
            ),
            // Checked arithmetic, as on longs.
            ("offset", [y]) => {
                let t = self.binary(BinOp::Add, as_long(&v), as_long(y), span)?;
                return Ok(Term {
                    sort: result,
                    err: or_err(&err, &t.err),
                    ..t
                });
            }
            ("durationSince", [y]) => {
                let t = self.binary(BinOp::Sub, as_long(&v), as_long(y), span)?;
                return Ok(Term {
                    sort: result,
                    err: or_err(&err, &t.err),
                    ..t
                });
            }
            ("toDate", []) => {
                let rem = format!("(bvsmod {v} {day})");
                let t = self.binary(BinOp::Sub, as_long(&v), as_long(&rem), span)?;
                return Ok(Term {
                    sort: result,
                    err: or_err(&err, &t.err),
                    ..t
                });
            }
            ("toTime", []) => format!("(bvsmod {v} {day})"),
            ("toMilliseconds", []) => v.clone(),
            ("toSeconds", []) => format!("(bvsdiv {v} {})", smt_long(1000)),
            ("toMinutes", []) => format!("(bvsdiv (bvsdiv {v} {}) {})", smt_long(1000), smt_long(60)),
            ("toHours", []) => format!(
                "(bvsdiv (bvsdiv (bvsdiv {v} {}) {}) {})",
                smt_long(1000),
                smt_long(60),
                smt_long(60)
            ),
            ("toDays", []) => format!(
                "(bvsdiv (bvsdiv (bvsdiv (bvsdiv {v} {}) {}) {}) {})",
                smt_long(1000),
                smt_long(60),
                smt_long(60),
                smt_long(24)
            ),
            _ => return Err(refuse(format!("`{name}` with these arguments"), span)),
        };
        if x.sort == Sort::Ext(ExtSort::Ip) {
            self.define_ip();
        }
        Ok(Term::sym(result, val, err))
    }
}
