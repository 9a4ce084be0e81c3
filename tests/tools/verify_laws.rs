//! The encoding against the interpreter, value by value. For generated
//! values `X`, `Y` (the edges of 64-bit time and money, IPv4 and IPv6
//! ranges with host bits, records with and without an optional field),
//! each law is a `@property` rule over a context that holds symbolic
//! values:
//!
//! - where the interpreter computes `X.m(Y)`, the law
//!   `!(c.x == X && c.y == Y) || c.x.m(c.y) == X.m(Y)` must be proved (the
//!   right side is folded by the interpreter's own implementation, the
//!   left is the solver's encoding);
//! - where it raises an error, `… || c.x.m(c.y) == c.x.m(c.y)` must get a
//!   counterexample (certified by `authorize` and `evaluate` before it is
//!   reported), so the encoding raises the error exactly there.
//!
//! Mutants this catches (each tried by hand): `bvsrem` for `bvsmod` in
//! `toDate`/`toTime`, the bounds of `isInRange` swapped, a record's
//! optional field compared without its presence, the overflow check of
//! `offset` dropped.

use crate::diff_cli::mspl_in;
use crate::verify::{both, verify_json};
use mspl::__internal::value::ext::{self, Datetime, Decimal, Duration, ExtArg, ExtValue, IpAddr};
use std::collections::BTreeMap;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A 64-bit number, often an edge.
    fn long(&mut self) -> i64 {
        const DAY: i64 = 86_400_000;
        let edges = [
            0,
            1,
            -1,
            i64::MAX,
            i64::MIN,
            i64::MAX - 1,
            i64::MIN + 1,
            DAY,
            -DAY,
            DAY - 1,
            -DAY + 1,
            1_700_000_000_000,
            -62_135_596_800_000,
        ];
        match self.below(3) {
            0 => edges[self.below(edges.len())],
            1 => (self.next() as i64) % 10_000_000_000_000,
            _ => self.next() as i64,
        }
    }

    fn ip(&mut self) -> IpAddr {
        if self.below(2) == 0 {
            let addr = match self.below(4) {
                0 => 0x7f00_0001,
                1 => 0xe000_0000 | (self.next() as u32 & 0x0fff_ffff),
                2 => 0x0a00_0000 | (self.next() as u32 & 0x00ff_ffff),
                _ => self.next() as u32,
            };
            IpAddr::V4 {
                addr,
                prefix: [0, 4, 8, 16, 24, 31, 32][self.below(7)],
            }
        } else {
            let addr = match self.below(3) {
                0 => 1,
                1 => (0xffu128 << 120) | u128::from(self.next()),
                _ => (u128::from(self.next()) << 64) | u128::from(self.next()),
            };
            IpAddr::V6 {
                addr,
                prefix: [0, 8, 64, 127, 128][self.below(5)],
            }
        }
    }
}

/// The value as an expression the parser reads back, checked.
fn literal(v: &ExtValue) -> Option<String> {
    let text = v.to_string();
    let back = match v {
        ExtValue::Decimal(d) => Decimal::parse(&d.to_string()).ok().map(ExtValue::Decimal),
        ExtValue::Duration(d) => Duration::parse(&d.to_string()).ok().map(ExtValue::Duration),
        ExtValue::Ip(ip) => IpAddr::parse(&ip.to_string()).ok().map(ExtValue::Ip),
        ExtValue::Datetime(d) => match d.to_iso_string() {
            Some(s) => Datetime::parse(&s).ok().map(ExtValue::Datetime),
            None => Duration::parse(&format!("{}ms", d.epoch_ms()))
                .ok()
                .map(|_| v.clone()),
        },
    };
    (back.as_ref() == Some(v)).then_some(text)
}

/// One law: its rule text and whether it must be proved.
struct Law {
    rule: String,
    proved: bool,
}

/// The law of `c.x.m(c.y…)` at the values given.
fn method_law(name: &str, fields: &[&str], values: &[ExtValue]) -> Option<Law> {
    let lits: Vec<String> = values.iter().map(literal).collect::<Option<_>>()?;
    let args: Vec<ExtArg> = values[1..].iter().map(ExtArg::Ext).collect();
    let ok = ext::call_method(name, ExtArg::Ext(&values[0]), &args).is_ok();
    let guard: Vec<String> = fields
        .iter()
        .zip(&lits)
        .map(|(f, l)| format!("c.{f} == {l}"))
        .collect();
    let call = |recv: &str, rest: &[String]| format!("{recv}.{name}({})", rest.join(", "));
    let symbolic = call(
        &format!("c.{}", fields[0]),
        &fields[1..]
            .iter()
            .map(|f| format!("c.{f}"))
            .collect::<Vec<_>>(),
    );
    let other = if ok {
        call(&lits[0], &lits[1..])
    } else {
        symbolic.clone()
    };
    Some(Law {
        rule: format!("!({}) || {symbolic} == {other}", guard.join(" && ")),
        proved: ok,
    })
}

/// The law of `c.x OP c.y` (datetimes or durations).
fn compare_law(op: &str, fields: [&str; 2], values: [ExtValue; 2]) -> Option<Law> {
    let (x, y) = (literal(&values[0])?, literal(&values[1])?);
    let [f, g] = fields;
    Some(Law {
        rule: format!("!(c.{f} == {x} && c.{g} == {y}) || (c.{f} {op} c.{g}) == ({x} {op} {y})"),
        proved: true,
    })
}

/// A record of the context's type `{ a: Long, b?: Long }`: `a`, and `b`
/// if present.
type Rec = (usize, Option<usize>);

fn record(rng: &mut Rng) -> Rec {
    let a = rng.below(2);
    (a, (rng.below(3) > 0).then(|| rng.below(2)))
}

/// The condition that the field `f` holds the record `r`.
fn holds(f: &str, (a, b): Rec) -> String {
    match b {
        None => format!("c.{f}.a == {a} && !(c.{f} has b)"),
        Some(b) => format!("c.{f}.a == {a} && c.{f} has b && c.{f}.b == {b}"),
    }
}

fn laws(rng: &mut Rng) -> Vec<Law> {
    let mut out = Vec::new();
    let dec = |rng: &mut Rng| ExtValue::Decimal(Decimal::from_raw(rng.long()));
    let dt = |rng: &mut Rng| ExtValue::Datetime(Datetime::from_epoch_ms(rng.long()));
    let dur = |rng: &mut Rng| ExtValue::Duration(Duration::from_millis(rng.long()));
    let ip = |rng: &mut Rng| ExtValue::Ip(rng.ip());
    let mut push = |law: Option<Law>| out.extend(law);
    for name in [
        "lessThan",
        "lessThanOrEqual",
        "greaterThan",
        "greaterThanOrEqual",
    ] {
        for _ in 0..4 {
            let (x, y) = (dec(rng), dec(rng));
            push(method_law(name, &["d1", "d2"], &[x, y]));
        }
    }
    // The edges where the arithmetic overflows, then generated values.
    let at = |ms: i64| ExtValue::Datetime(Datetime::from_epoch_ms(ms));
    let by = |ms: i64| ExtValue::Duration(Duration::from_millis(ms));
    for (t, u) in [
        (i64::MAX, 1),
        (i64::MIN, -1),
        (i64::MAX - 5, 5),
        (-1, i64::MIN),
    ] {
        push(method_law("offset", &["t1", "u1"], &[at(t), by(u)]));
    }
    for (t, s) in [(i64::MAX, -1), (i64::MIN, 1), (0, i64::MIN), (-1, i64::MAX)] {
        push(method_law("durationSince", &["t1", "t2"], &[at(t), at(s)]));
    }
    push(method_law("toDate", &["t1"], &[at(i64::MIN)]));
    push(method_law("toDate", &["t1"], &[at(i64::MIN + 86_400_000)]));
    for _ in 0..8 {
        let (t, u) = (dt(rng), dur(rng));
        push(method_law("offset", &["t1", "u1"], &[t, u]));
        let (t, s) = (dt(rng), dt(rng));
        push(method_law("durationSince", &["t1", "t2"], &[t, s]));
    }
    for name in ["toDate", "toTime"] {
        for _ in 0..7 {
            let t = dt(rng);
            push(method_law(name, &["t1"], &[t]));
        }
    }
    for name in [
        "toMilliseconds",
        "toSeconds",
        "toMinutes",
        "toHours",
        "toDays",
    ] {
        for _ in 0..4 {
            let u = dur(rng);
            push(method_law(name, &["u1"], &[u]));
        }
    }
    for op in ["<", "<=", ">", ">="] {
        let (t, s) = (dt(rng), dt(rng));
        push(compare_law(op, ["t1", "t2"], [t, s]));
        let (u, v) = (dur(rng), dur(rng));
        push(compare_law(op, ["u1", "u2"], [u, v]));
    }
    for name in ["isIpv4", "isIpv6", "isLoopback", "isMulticast"] {
        for _ in 0..6 {
            let i = ip(rng);
            push(method_law(name, &["i1"], &[i]));
        }
    }
    for _ in 0..16 {
        let i = ip(rng);
        // Often related: the same address under another prefix.
        let j = match (&i, rng.below(2)) {
            (ExtValue::Ip(IpAddr::V4 { addr, .. }), 0) => ExtValue::Ip(IpAddr::V4 {
                addr: *addr,
                prefix: [0, 8, 16, 24, 32][rng.below(5)],
            }),
            (ExtValue::Ip(IpAddr::V6 { addr, .. }), 0) => ExtValue::Ip(IpAddr::V6 {
                addr: *addr,
                prefix: [0, 8, 64, 128][rng.below(4)],
            }),
            _ => ip(rng),
        };
        push(method_law("isInRange", &["i1", "i2"], &[i, j]));
    }
    for _ in 0..10 {
        let (r, s) = (record(rng), record(rng));
        out.push(Law {
            rule: format!(
                "!({} && {}) || (c.r1 == c.r2) == {}",
                holds("r1", r),
                holds("r2", s),
                r == s
            ),
            proved: true,
        });
    }
    out
}

const SCHEMA: &str = "\
entity User;
entity Doc;
action read appliesTo {
  principal: [User],
  resource: [Doc],
  context: {
    d1: decimal, d2: decimal, t1: datetime, t2: datetime, u1: duration, u2: duration,
    i1: ipaddr, i2: ipaddr, r1: { a: Long, b?: Long }, r2: { a: Long, b?: Long }
  }
};

@id(\"all\")
permit(principal, action, resource);
";

#[test]
fn the_encoding_computes_what_the_interpreter_computes() {
    let Some((z3, cvc5)) = both("the encoding's laws") else {
        return;
    };
    let laws = laws(&mut Rng(0x5eed_1a35_0000_0001));
    assert!(laws.len() >= 100, "{} laws", laws.len());
    assert!(laws.iter().any(|l| !l.proved), "some law is an error");
    let mut text = SCHEMA.to_string();
    for (n, law) in laws.iter().enumerate() {
        text.push_str(&format!(
            "\n@property\nrule law_{n}(p, a, r, c) {{ {} }}\n",
            law.rule
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("laws.mspl"), &text).unwrap();
    let (code, out, err) = mspl_in(dir.path(), &["validate", "-p", "laws.mspl"]);
    assert_eq!(code, 0, "the laws validate: {out}{err}");
    let mut unknown: BTreeMap<&str, usize> = BTreeMap::new();
    for (solver, name) in [(&z3, "z3"), (&cvc5, "cvc5")] {
        let (_, slices, err) = verify_json(dir.path(), &["property", "-p", "laws.mspl"], solver);
        assert_eq!(slices.len(), laws.len(), "{name}: one slice a law: {err}");
        for s in &slices {
            let property = s["property"].as_str().unwrap();
            let n: usize = property.rsplit('_').next().unwrap().parse().unwrap();
            let verdict = s["verdict"].as_str().unwrap();
            let want = if laws[n].proved {
                "proved"
            } else {
                "counterexample"
            };
            if verdict == "unknown" && name == "cvc5" {
                *unknown.entry(name).or_default() += 1;
                continue;
            }
            assert_eq!(verdict, want, "{name}: law_{n}: {}\n{s}", laws[n].rule);
        }
    }
    eprintln!(
        "{} laws, {} of them errors, each answered by z3 and cvc5 (cvc5 unknown on {})",
        laws.len(),
        laws.iter().filter(|l| !l.proved).count(),
        unknown.get("cvc5").copied().unwrap_or(0)
    );
}
