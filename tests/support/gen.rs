//! A byte-driven generator of mspl cases: policies, rules, entities and a
//! request, as text. Every byte string decodes to a case (bytes past the end
//! read as zero), so the fuzz targets, their regression corpus and the
//! property tests all drive the same generator from raw bytes.
//!
//! The vocabulary is small on purpose: few types, ids and attributes, so
//! that generated policies and entities refer to one another, hierarchies
//! have cycles, rules recurse, and errors and limits are reached often.

use std::fmt::Write;

/// Reads choices from bytes; past the end every choice is 0.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data, pos: 0 }
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A choice in `0..n` (`n > 0`).
    pub fn pick(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    /// One of `items`.
    pub fn one<'b>(&mut self, items: &[&'b str]) -> &'b str {
        items[self.pick(items.len())]
    }

    /// Whether the input is used up.
    pub fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }
}

const TYPES: &[&str] = &["User", "Group", "Doc"];
const IDS: &[&str] = &["a", "b", "c", "d"];
const ACTIONS: &[&str] = &["read", "write", "all"];
const ATTRS: &[&str] = &["n", "s", "owner", "tags", "rec", "flag"];
const LONGS: &[&str] = &[
    "0",
    "1",
    "-1",
    "7",
    "9223372036854775807",
    "-9223372036854775808",
    "4611686018427387904",
];
const STRINGS: &[&str] = &["\"\"", "\"a\"", "\"ab*\"", "\"\\u{1F600}\"", "\"\\n\""];
const PATTERNS: &[&str] = &["\"*\"", "\"a*\"", "\"*b*\"", "\"\"", "\"\\*\""];

/// A generated case, as text.
#[derive(Clone, Debug, Default)]
pub struct Case {
    /// Policies and rules, one item per entry, each with an `@id`.
    pub items: Vec<String>,
    /// Which entries of `items` are permits, and which forbids.
    pub permits: Vec<usize>,
    /// The entries that are forbids.
    pub forbids: Vec<usize>,
    /// One extra forbid (id `extra`), for the monotonicity checks.
    pub extra_forbid: String,
    /// The entity file.
    pub entities: String,
    /// The request, as JSON.
    pub request: String,
}

impl Case {
    /// All items and the extra forbid as one policy file.
    pub fn policy_text(&self, with_extra: bool) -> String {
        let mut out = self.items.join("\n");
        if with_extra {
            out.push('\n');
            out.push_str(&self.extra_forbid);
        }
        out
    }
}

/// Decodes a case from `data`.
pub fn case(data: &[u8]) -> Case {
    let mut b = Bytes::new(data);
    let mut case = Case::default();
    let rules = b.pick(3);
    for r in 0..rules {
        let clauses = 1 + b.pick(2);
        for _ in 0..clauses {
            let mut g = Gen::new(&mut b, rules, vec!["x".into()]);
            let body = g.expr(3);
            case.items.push(format!("rule r{r}(x) {{ {body} }}"));
        }
    }
    let policies = 1 + b.pick(5);
    for p in 0..policies {
        let forbid = b.pick(3) == 0;
        let text = policy(&mut b, rules, &format!("p{p}"), forbid);
        if forbid {
            case.forbids.push(case.items.len());
        } else {
            case.permits.push(case.items.len());
        }
        case.items.push(text);
    }
    case.extra_forbid = policy(&mut b, rules, "extra", true);
    case.entities = entities(&mut b);
    case.request = request(&mut b);
    case
}

fn uid(b: &mut Bytes) -> String {
    format!("{}::\"{}\"", b.one(TYPES), b.one(IDS))
}

fn action_uid(b: &mut Bytes) -> String {
    format!("Action::\"{}\"", b.one(ACTIONS))
}

fn policy(b: &mut Bytes, rules: usize, id: &str, forbid: bool) -> String {
    let effect = if forbid { "forbid" } else { "permit" };
    let principal = match b.pick(4) {
        0 => format!("principal == {}", uid(b)),
        1 => format!("principal in {}", uid(b)),
        2 => format!("principal is {}", b.one(TYPES)),
        _ => "principal".into(),
    };
    let action = match b.pick(3) {
        0 => format!("action == {}", action_uid(b)),
        1 => format!("action in [{}, {}]", action_uid(b), action_uid(b)),
        _ => "action".into(),
    };
    let resource = match b.pick(3) {
        0 => format!("resource in {}", uid(b)),
        1 => format!("resource is {} in {}", b.one(TYPES), uid(b)),
        _ => "resource".into(),
    };
    let mut text = format!("@id(\"{id}\")\n{effect}({principal}, {action}, {resource})");
    for _ in 0..b.pick(3) {
        let kw = if b.pick(3) == 0 { "unless" } else { "when" };
        let mut g = Gen::new(b, rules, Vec::new());
        let body = g.expr(4);
        let _ = write!(text, "\n  {kw} {{ {body} }}");
    }
    text.push(';');
    text
}

/// Expression generator: `locals` are the names in scope.
struct Gen<'a, 'b> {
    b: &'a mut Bytes<'b>,
    rules: usize,
    locals: Vec<String>,
}

impl<'a, 'b> Gen<'a, 'b> {
    fn new(b: &'a mut Bytes<'b>, rules: usize, locals: Vec<String>) -> Self {
        Gen { b, rules, locals }
    }

    fn atom(&mut self) -> String {
        let b = &mut *self.b;
        match b.pick(9) {
            0 => b.one(&["true", "false"]).into(),
            1 => b.one(LONGS).into(),
            2 => b.one(STRINGS).into(),
            3 => uid(b),
            4 => b
                .one(&["principal", "resource", "action", "context"])
                .into(),
            5 if !self.locals.is_empty() => {
                let i = b.pick(self.locals.len());
                self.locals[i].clone()
            }
            6 => format!("context.{}", b.one(ATTRS)),
            7 => b
                .one(&[
                    "decimal(\"1.5\")",
                    "ip(\"10.0.0.1\")",
                    "ip(\"10.0.0.0/8\")",
                    "datetime(\"2024-01-01\")",
                    "duration(\"1h\")",
                    "decimal(\"x\")",
                ])
                .into(),
            _ => format!("principal.{}", b.one(ATTRS)),
        }
    }

    fn expr(&mut self, depth: usize) -> String {
        if depth == 0 || self.b.exhausted() {
            return self.atom();
        }
        let d = depth - 1;
        match self.b.pick(24) {
            0 => format!("{} && {}", self.expr(d), self.expr(d)),
            1 => format!("{} || {}", self.expr(d), self.expr(d)),
            2 => format!("!{}", self.paren(d)),
            3 => format!("-{}", self.paren(d)),
            4 => {
                let op = self.b.one(&["==", "!=", "<", "<=", ">", ">="]);
                format!("{} {op} {}", self.paren(d), self.paren(d))
            }
            5 => {
                let op = self.b.one(&["+", "-", "*"]);
                format!("{} {op} {}", self.paren(d), self.paren(d))
            }
            6 => format!("{} in {}", self.paren(d), self.paren(d)),
            7 => format!("{} has {}", self.paren(d), self.b.one(ATTRS)),
            8 => format!("{}.{}", self.paren(d), self.b.one(ATTRS)),
            9 => format!("{} like {}", self.paren(d), self.b.one(PATTERNS)),
            10 => format!("{} is {}", self.paren(d), self.b.one(TYPES)),
            11 => format!(
                "if {} then {} else {}",
                self.expr(d),
                self.expr(d),
                self.expr(d)
            ),
            12 => {
                let n = self.b.pick(4);
                let items: Vec<String> = (0..n).map(|_| self.expr(d)).collect();
                format!("[{}]", items.join(", "))
            }
            13 => {
                let n = self.b.pick(3);
                let items: Vec<String> = (0..n)
                    .map(|i| format!("{}: {}", ATTRS[i], self.expr(d)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            14 => {
                let m = self.b.one(&["contains", "containsAll", "containsAny"]);
                format!("{}.{m}({})", self.paren(d), self.expr(d))
            }
            15 => format!("{}.isEmpty()", self.paren(d)),
            16 => {
                let m = self.b.one(&["hasTag", "getTag"]);
                format!("{}.{m}({})", self.paren(d), self.expr(d))
            }
            17 if self.rules > 0 => {
                let r = self.b.pick(self.rules);
                format!("r{r}({})", self.expr(d))
            }
            18 => {
                let q = self.b.one(&["any", "all"]);
                let name = format!("v{}", self.locals.len());
                let set = self.paren(d);
                self.locals.push(name.clone());
                let body = self.expr(d);
                self.locals.pop();
                format!("({q} {name} in {set}: {body})")
            }
            19 => {
                let m = self.b.one(&[
                    "lessThan",
                    "greaterThanOrEqual",
                    "isInRange",
                    "isLoopback",
                    "toDays",
                    "offset",
                ]);
                format!("{}.{m}({})", self.paren(d), self.expr(d))
            }
            20 => format!(
                "{} is {} in {}",
                self.paren(d),
                self.b.one(TYPES),
                self.paren(d)
            ),
            _ => self.atom(),
        }
    }

    fn paren(&mut self, depth: usize) -> String {
        format!("({})", self.expr(depth))
    }
}

fn json_value(b: &mut Bytes, depth: usize) -> String {
    let choice = if depth == 0 { b.pick(5) } else { b.pick(9) };
    match choice {
        0 => b.one(&["true", "false"]).into(),
        1 => b.one(&["0", "1", "-5", "9223372036854775807"]).into(),
        2 => b.one(&["\"\"", "\"a\"", "\"abc\"", "\"\\u00e9\""]).into(),
        3 => format!(
            "{{\"__entity\": {{\"type\": \"{}\", \"id\": \"{}\"}}}}",
            b.one(TYPES),
            b.one(IDS)
        ),
        4 => b
            .one(&[
                "{\"__extn\": {\"fn\": \"decimal\", \"arg\": \"2.5\"}}",
                "{\"__extn\": {\"fn\": \"ip\", \"arg\": \"10.1.2.3\"}}",
            ])
            .into(),
        5 | 6 => {
            let n = b.pick(4);
            let items: Vec<String> = (0..n).map(|_| json_value(b, depth - 1)).collect();
            format!("[{}]", items.join(", "))
        }
        _ => {
            let n = b.pick(4);
            let items: Vec<String> = (0..n)
                .map(|_| format!("\"{}\": {}", b.one(ATTRS), json_value(b, depth - 1)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

fn json_uid(b: &mut Bytes) -> String {
    if b.pick(2) == 0 {
        format!(
            "{{\"type\": \"{}\", \"id\": \"{}\"}}",
            b.one(TYPES),
            b.one(IDS)
        )
    } else {
        format!("\"{}::\\\"{}\\\"\"", b.one(TYPES), b.one(IDS))
    }
}

fn entities(b: &mut Bytes) -> String {
    let mut seen = std::collections::BTreeSet::new();
    // Two actions in a group, so that `action in` walks a hierarchy.
    let mut out = vec![
        "{\"uid\": {\"type\": \"Action\", \"id\": \"read\"}, \"attrs\": {}, \"parents\": [{\"type\": \"Action\", \"id\": \"all\"}]}".to_string(),
        "{\"uid\": {\"type\": \"Action\", \"id\": \"write\"}, \"attrs\": {}, \"parents\": [{\"type\": \"Action\", \"id\": \"all\"}]}".to_string(),
    ];
    for _ in 0..b.pick(8) {
        let (ty, id) = (b.one(TYPES), b.one(IDS));
        if !seen.insert((ty, id)) {
            continue;
        }
        let attrs: Vec<String> = (0..b.pick(4))
            .map(|i| format!("\"{}\": {}", ATTRS[i], json_value(b, 2)))
            .collect();
        let parents: Vec<String> = (0..b.pick(3)).map(|_| json_uid(b)).collect();
        let tags: Vec<String> = (0..b.pick(2))
            .map(|i| format!("\"{}\": {}", IDS[i], json_value(b, 1)))
            .collect();
        out.push(format!(
            "{{\"uid\": {{\"type\": \"{ty}\", \"id\": \"{id}\"}}, \"attrs\": {{{}}}, \"parents\": [{}], \"tags\": {{{}}}}}",
            attrs.join(", "),
            parents.join(", "),
            tags.join(", ")
        ));
    }
    format!("[{}]", out.join(",\n"))
}

fn request(b: &mut Bytes) -> String {
    let context: Vec<String> = (0..b.pick(4))
        .map(|i| format!("\"{}\": {}", ATTRS[i], json_value(b, 2)))
        .collect();
    format!(
        "{{\"principal\": {}, \"action\": {{\"type\": \"Action\", \"id\": \"{}\"}}, \"resource\": {}, \"context\": {{{}}}}}",
        json_uid(b),
        b.one(ACTIONS),
        json_uid(b),
        context.join(", ")
    )
}
