//! What `authorize` and `explain` share: the policy, entity and request
//! arguments, and reading them into a policy set, a store and requests.

use super::common::{load_policies_with, Format, Outcome};
use crate::authorize::{ErrorMode, Options, PreparedSet};
use crate::diag::{Diagnostic, Sources};
use crate::entities::build::build_entities_for;
use crate::entities::json::{self, Origin, Request};
use crate::entities::Entities;
use crate::exit::Exit;
use crate::files::{read_text, TextKind};
use crate::limits::Limits;
use crate::policy_set::{IdScheme, PolicySet};
use std::path::PathBuf;

/// The inputs of a decision: policies, entities, requests, format, mode.
#[derive(clap::Args, Debug)]
pub struct RequestArgs {
    /// Policy files or directories.
    #[arg(short = 'p', long, alias = "policy", num_args = 1.., required = true)]
    pub policies: Vec<PathBuf>,
    /// Extra declaration files.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Template links (`-k`, as Cedar's CLI).
    #[command(flatten)]
    pub inputs: super::policy_args::PolicyInputs,
    /// The entity file (Cedar's entity JSON), or a database
    /// (`postgres://…`); none: an empty store.
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// A file holding the database URL to read the entities from (as
    /// `--entities postgres://…`, without showing a password to `ps`).
    #[arg(long, value_name = "FILE", conflicts_with = "entities")]
    pub entities_url_file: Option<PathBuf>,
    /// One request as a JSON file (Cedar CLI's `--request-json`).
    #[arg(long, alias = "request-json", conflicts_with_all = ["requests", "principal"])]
    pub request: Option<PathBuf>,
    /// A batch of requests, one JSON object per line.
    #[arg(long, conflicts_with = "principal")]
    pub requests: Option<PathBuf>,
    /// The request on the command line.
    #[command(flatten)]
    pub vars: RequestVars,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Cedar's semantics: erroring policies are skipped, ids are `policyN`.
    #[arg(long)]
    pub cedar: bool,
    /// Accepted for Cedar CLI scripts: mspl always names the determining
    /// policies.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// A request written on the command line, with Cedar CLI's short flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RequestVars {
    /// The principal, as `Type::"id"` (`-l`, as Cedar's CLI).
    #[arg(short = 'l', long)]
    pub principal: Option<String>,
    /// The action, as `Action::"id"`, or its bare id (`page.edit`).
    #[arg(short = 'a', long)]
    pub action: Option<String>,
    /// The resource, as `Type::"id"`.
    #[arg(short = 'r', long)]
    pub resource: Option<String>,
    /// The context: inline JSON when it begins with `{`, a file path otherwise.
    #[arg(short = 'c', long)]
    pub context: Option<String>,
}

/// Everything a decision needs, loaded.
pub struct Loaded {
    /// The policy set, indexed, with how to judge requests.
    pub prepared: PreparedSet,
    /// The entity store.
    pub entities: Entities,
    /// The requests, in order.
    pub requests: Vec<Request>,
    /// For a batch (`--requests`), the line of each request in its file.
    pub lines: Vec<usize>,
}

impl RequestArgs {
    /// Loads policies, entities and requests, reporting problems into `out`.
    /// `None` when anything could not be read.
    pub fn load(&self, out: &mut Outcome) -> Option<Loaded> {
        let ids = IdScheme::cedar(self.cedar);
        let limits = self.limits.limits();
        let set = load_policies_with(
            &self.policies,
            &self.schema,
            &self.inputs,
            ids,
            &limits,
            self.format,
            out,
        )?;
        let options = Options {
            errors: ErrorMode::cedar(self.cedar),
            limits,
            plain: false,
            deadline: None,
        };
        let path = match crate::entity_source::resolve(
            self.entities.as_deref(),
            self.entities_url_file.as_deref(),
        ) {
            Ok(p) => p,
            Err(m) => {
                out.diagnostics(&Sources::new(), &[Diagnostic::plain(m)], self.format);
                return None;
            }
        };
        // The requests need only the declarations: they are read while
        // the store loads.
        let (entities, requests) = std::thread::scope(|scope| {
            let requests = scope.spawn(|| read_requests(self, &set));
            let entities = load_store(path.as_deref(), &set, &options);
            let requests = requests
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (entities, requests)
        });
        let entities = match entities {
            Ok(e) => e,
            Err(d) => {
                out.diagnostics(&Sources::new(), &d, self.format);
                return None;
            }
        };
        let (requests, lines) = match requests {
            Ok(r) => r,
            Err(ds) => {
                out.diagnostics(&Sources::new(), &ds, self.format);
                return None;
            }
        };
        Some(Loaded {
            prepared: PreparedSet::new(set, options),
            entities,
            requests,
            lines,
        })
    }
}

/// Reads the entity file (none: an empty store) into a store with the
/// declared actions, as `options` require (a cycle refused under Cedar's
/// semantics).
pub fn load_store(
    entities: Option<&std::path::Path>,
    set: &PolicySet,
    options: &Options,
) -> Result<Entities, Vec<Diagnostic>> {
    let (name, text) = match entities {
        Some(path) => crate::entity_source::read(path, options.limits.max_data_file_bytes)
            .map_err(|e| {
                vec![Diagnostic::unreadable(
                    &crate::entity_source::shown(path),
                    &e,
                )]
            })?,
        None => ("<none>".to_string(), "[]".to_string()),
    };
    build_entities_for(
        &set.schema,
        [(name.as_str(), text.as_str())],
        &options.limits,
        options.cycles(),
    )
    .map_err(|e| vec![Diagnostic::from(&e)])
}

/// Reads a data file (a FIFO or a device too), bounded by the data limit.
pub fn read_data(path: &std::path::Path, limits: &Limits) -> Result<String, Vec<Diagnostic>> {
    read_text(path, limits.max_data_file_bytes, TextKind::Data)
        .map_err(|e| vec![Diagnostic::unreadable(&path.display().to_string(), &e)])
}

/// The requests, and for a batch the line of each in its file.
type Requests = (Vec<Request>, Vec<usize>);

fn read_requests(args: &RequestArgs, set: &PolicySet) -> Result<Requests, Vec<Diagnostic>> {
    let limits = args.limits.limits();
    let read = |path: &PathBuf| read_data(path, &limits);
    if let Some(path) = &args.request {
        let text = read(path)?;
        let name = path.display().to_string();
        let origin = Origin {
            file: &name,
            text: &text,
            offset: 0,
        };
        return json::request_from_text_with(&origin, &text, &set.schema, &limits)
            .map(|r| (vec![r], Vec::new()))
            .map_err(|e| vec![Diagnostic::from(&e)]);
    }
    if let Some(path) = &args.requests {
        let text = read(path)?;
        let name = path.display().to_string();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        return read_batch(&name, &text, &set.schema, &limits, threads);
    }
    let vars = &args.vars;
    let missing: Vec<&str> = [
        ("--principal", &vars.principal),
        ("--action", &vars.action),
        ("--resource", &vars.resource),
    ]
    .into_iter()
    .filter_map(|(flag, v)| v.is_none().then_some(flag))
    .collect();
    if !missing.is_empty() && missing.len() < 3 {
        return Err(vec![Diagnostic::plain(format!(
            "the request needs {} too",
            missing.join(" and ")
        ))
        .with_help(Some(
            "give --principal, --action and --resource, or --request FILE".into(),
        ))]);
    }
    let (Some(p), Some(a), Some(r)) = (&vars.principal, &vars.action, &vars.resource) else {
        return Err(vec![Diagnostic::plain(
            "no request given: use --request FILE, --requests FILE.jsonl, or --principal, --action and --resource",
        )]);
    };
    let uid = |flag: &str, text: &str| {
        json::parse_uid(text).map_err(|m| vec![Diagnostic::plain(format!("in --{flag}: {m}"))])
    };
    let principal = uid("principal", p)?;
    // `-a page.edit` is `Action::"page.edit"`, as in `mspl audit`.
    let action = crate::syntax::uid::parse_action(a)
        .map_err(|m| vec![Diagnostic::plain(format!("in --action: {m}"))])?;
    let resource = uid("resource", r)?;
    let context = match &vars.context {
        None => crate::value::Value::empty_record(),
        Some(c) => {
            let (name, parsed) = read_context(c, &limits)?;
            json::context_from_json(&parsed, &action, &set.schema).map_err(|m| {
                let mut d = Diagnostic::plain(format!("in --context: {m}"));
                if name != "--context" {
                    d.file = Some(name.clone());
                    d.line = Some(1);
                    d.column = Some(1);
                }
                vec![d]
            })?
        }
    };
    Ok((
        vec![Request {
            principal,
            action,
            resource,
            context,
        }],
        Vec::new(),
    ))
}

/// Reads `--context`: inline JSON when it begins with `{`, else a file;
/// returns the name to locate errors in and the parsed JSON.
pub fn read_context(
    c: &str,
    limits: &Limits,
) -> Result<(String, serde_json::Value), Vec<Diagnostic>> {
    let (name, text) = if c.trim_start().starts_with('{') {
        ("--context".to_string(), c.to_string())
    } else {
        (c.to_string(), read_data(&PathBuf::from(c), limits)?)
    };
    let origin = Origin {
        file: &name,
        text: &text,
        offset: 0,
    };
    let parsed = json::parse_json(&origin, &text, limits).map_err(|e| {
        let mut d = Diagnostic::from(&e);
        d.message = format!("in --context: {}", d.message);
        vec![d]
    })?;
    Ok((name, parsed))
}

/// `--context` as fixed attributes of every action (the audit's and the
/// diff's): [`read_context`], which must give a JSON object; `None` when
/// not given.
pub fn read_fixed_context(
    c: Option<&str>,
    limits: &Limits,
) -> Result<Option<serde_json::Value>, Vec<Diagnostic>> {
    let Some(c) = c else {
        return Ok(None);
    };
    match read_context(c, limits)? {
        (_, json) if json.is_object() => Ok(Some(json)),
        _ => Err(vec![Diagnostic::plain(
            "in --context: a context is a JSON object",
        )]),
    }
}

impl Loaded {
    /// Warns (on standard error) of each request naming an entity type or
    /// an action that the declarations do not know: no policy can be
    /// written for it, so its deny says nothing about the policies. At most
    /// 20 are named; the rest are counted.
    pub fn warn_undeclared(&self, out: &mut Outcome) {
        const SHOWN: usize = 20;
        let mut found = 0usize;
        for (i, request) in self.requests.iter().enumerate() {
            let names =
                crate::validate::data::undeclared_in_request(&self.prepared.set().schema, request);
            if names.is_empty() {
                continue;
            }
            found += 1;
            if found > SHOWN {
                continue;
            }
            let which = match self.lines.get(i) {
                Some(line) => format!("request at line {line}"),
                None => "the request".to_string(),
            };
            for (field, e) in names {
                let help = e.help().map(|h| format!("; {h}")).unwrap_or_default();
                out.stderr.push_str(&format!(
                    "warning: {which}: `{field}`: {}{}\n",
                    crate::diag::printable(&e.to_string()),
                    crate::diag::printable(&help)
                ));
            }
        }
        if found > SHOWN {
            out.stderr.push_str(&format!(
                "warning: {} more requests name undeclared types or actions\n",
                found - SHOWN
            ));
        }
    }
}

/// A text block of a batch with its second line naming the request: its
/// line in the batch file, principal, action and resource (the first line
/// stays `ALLOW` or `DENY`, as the contract says).
pub fn name_request(block: &str, line: Option<usize>, request: &Request) -> String {
    let Some(line) = line else {
        return block.to_string();
    };
    let (first, rest) = block.split_once('\n').unwrap_or((block, ""));
    format!(
        "{first}\n  request at line {line}: {}, {}, {}\n{rest}",
        crate::diag::printable(&request.principal.to_string()),
        crate::diag::printable(&request.action.to_string()),
        crate::diag::printable(&request.resource.to_string()),
    )
}

/// The exit code of `authorize` and `explain`: a batch that was judged
/// exits 0; one request exits 0 on allow, 2 on deny.
pub fn decision_code(batch: bool, last: Option<crate::authorize::Decision>) -> Exit {
    match (batch, last) {
        (true, _) | (false, Some(crate::authorize::Decision::Allow)) => Exit::Success,
        (false, _) => Exit::Flagged,
    }
}

/// The log's requests: each line a request, or an object with the request
/// under `"request"` (a decision log).
pub fn read_log(
    path: &std::path::Path,
    schema: &crate::schema::Schema,
    limits: &Limits,
) -> Result<Vec<Request>, Vec<Diagnostic>> {
    let text = read_data(path, limits)?;
    let name = path.display().to_string();
    let mut contexts = BatchContexts::default();
    let (requests, _) = json_lines(&name, &text, |origin, body, number| {
        request_line(origin, body, number, schema, limits, &mut contexts)
    })?;
    Ok(requests)
}

/// The contexts of a decision log's batches, by batch id, from their
/// header lines (`{"batch_id", "context"}`), for the item lines that say
/// `"context_ref": batch_id` instead of their context.
#[derive(Default)]
struct BatchContexts(std::collections::HashMap<String, serde_json::Value>);

/// One line of a batch (line `number`): a request; a line of `mspl
/// serve`'s decision log (the request under `"request"`, its context
/// perhaps a `context_ref` to its batch's header line); or such a header
/// line, which is remembered and is no request (`None`).
fn request_line(
    origin: &Origin,
    body: &str,
    number: usize,
    schema: &crate::schema::Schema,
    limits: &Limits,
    contexts: &mut BatchContexts,
) -> Result<Option<Request>, Box<Diagnostic>> {
    let at_line = |m: String| {
        let mut d = Diagnostic::plain(format!("line {number}: {m}"));
        d.file = Some(origin.file.to_string());
        d.line = Some(number);
        d.column = Some(1);
        Box::new(d)
    };
    match logged(origin, body, limits) {
        Logged::Header { batch_id, context } => {
            contexts.0.insert(batch_id, context);
            Ok(None)
        }
        Logged::Request(mut inner) => {
            if let Some(reference) = inner.remove("context_ref") {
                let context = reference
                    .as_str()
                    .and_then(|batch| contexts.0.get(batch))
                    .ok_or_else(|| {
                        at_line(format!(
                            "`context_ref` names batch {reference}, whose header line (`{{\"batch_id\", \"context\"}}`) is not before it"
                        ))
                    })?;
                inner.insert("context".into(), context.clone());
            }
            json::request_from_json(&serde_json::Value::Object(inner), schema)
                .map(Some)
                .map_err(|m| at_line(format!("in `request`: {m}")))
        }
        Logged::No => json::request_from_text_with(origin, body, schema, limits)
            .map(Some)
            .map_err(|e| Box::new(Diagnostic::from(&e))),
    }
}

/// What a line of a decision log holds.
enum Logged {
    /// A decision: its request.
    Request(serde_json::Map<String, serde_json::Value>),
    /// A batch's header: the context its items refer to.
    Header {
        batch_id: String,
        context: serde_json::Value,
    },
    /// Not a log line: read as a request.
    No,
}

/// Reads a decision-log line (an object with an object under `"request"`,
/// or a header `{"batch_id", "context"}` and nothing else).
fn logged(origin: &Origin, body: &str, limits: &Limits) -> Logged {
    if !body.contains("\"request\"") && !body.contains("\"batch_id\"") {
        return Logged::No;
    }
    let Ok(serde_json::Value::Object(mut json)) = json::parse_json(origin, body, limits) else {
        return Logged::No;
    };
    if let Some(serde_json::Value::Object(inner)) = json.remove("request") {
        return Logged::Request(inner);
    }
    match (json.remove("batch_id"), json.remove("context")) {
        (Some(serde_json::Value::String(batch_id)), Some(context)) if json.is_empty() => {
            Logged::Header { batch_id, context }
        }
        _ => Logged::No,
    }
}

/// A batch file's requests and the line of each: lines of the common
/// shape read straight into requests on `threads` threads (the entities'
/// fast reader); the others (decision log lines, batch headers, anything
/// the fast reader leaves) by the plain path, in order, which names every
/// problem. The same requests as the plain path alone
/// (`a_batch_reads_the_same_with_and_without_the_fast_reader`).
fn read_batch(
    name: &str,
    text: &str,
    schema: &crate::schema::Schema,
    limits: &Limits,
    threads: usize,
) -> Result<Requests, Vec<Diagnostic>> {
    /// Below this, threads cost more than they save.
    const PARALLEL_FROM: usize = 1024;
    let mut bodies: Vec<(usize, usize, &str)> = Vec::new();
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        if !body.trim().is_empty() {
            bodies.push((number + 1, offset, body));
        }
        offset += line.len();
    }
    let fast = |b: &[(usize, usize, &str)]| -> Vec<Option<Request>> {
        b.iter()
            .map(|(_, _, body)| json::fast::request(body, schema, limits))
            .collect()
    };
    let read: Vec<Option<Request>> = if threads < 2 || bodies.len() < PARALLEL_FROM {
        fast(&bodies)
    } else {
        let chunk = bodies.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = bodies
                .chunks(chunk)
                .map(|c| scope.spawn(move || fast(c)))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    let mut requests = Vec::with_capacity(bodies.len());
    let mut lines = Vec::with_capacity(bodies.len());
    let mut errors = Vec::new();
    let mut contexts = BatchContexts::default();
    for ((number, offset, body), got) in bodies.into_iter().zip(read) {
        let got = match got {
            Some(r) => Ok(Some(r)),
            None => {
                let origin = Origin {
                    file: name,
                    text,
                    offset,
                };
                request_line(&origin, body, number, schema, limits, &mut contexts)
            }
        };
        match got {
            Ok(Some(r)) => {
                requests.push(r);
                lines.push(number);
            }
            Ok(None) => {}
            Err(d) => errors.push(*d),
        }
    }
    if errors.is_empty() {
        Ok((requests, lines))
    } else {
        Err(errors)
    }
}

/// Each non-blank line of `text` (the file `name`) read by `each` (given
/// where the line stands, its text and its 1-based number): the values
/// with their line numbers, or every line's problem.
fn json_lines<T>(
    name: &str,
    text: &str,
    mut each: impl FnMut(&Origin, &str, usize) -> Result<Option<T>, Box<Diagnostic>>,
) -> Result<(Vec<T>, Vec<usize>), Vec<Diagnostic>> {
    let mut values = Vec::new();
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        if !body.trim().is_empty() {
            let origin = Origin {
                file: name,
                text,
                offset,
            };
            match each(&origin, body, number + 1) {
                Ok(Some(v)) => {
                    values.push(v);
                    lines.push(number + 1);
                }
                Ok(None) => {}
                Err(d) => errors.push(*d),
            }
        }
        offset += line.len();
    }
    if errors.is_empty() {
        Ok((values, lines))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain path alone, line by line, as before the fast reader.
    fn plain(
        text: &str,
        schema: &crate::schema::Schema,
        limits: &Limits,
    ) -> Result<Requests, Vec<Diagnostic>> {
        let mut contexts = BatchContexts::default();
        json_lines("b.jsonl", text, |origin, body, number| {
            request_line(origin, body, number, schema, limits, &mut contexts)
        })
    }

    #[test]
    fn a_batch_reads_the_same_with_and_without_the_fast_reader() {
        let mut loader = crate::policy_set::Loader::new(Limits::default());
        loader.add_source(
            "s.cedarschema".into(),
            "entity User; entity Doc;\naction view appliesTo { principal: User, resource: Doc, context: { n?: Long, who?: User } };\n".into(),
        );
        let schema = loader
            .finish(crate::policy_set::IdScheme::Annotated)
            .0
            .schema;
        let limits = Limits::default();
        let shapes = [
            r#"{"principal": {"type": "User", "id": "a"}, "action": {"type": "Action", "id": "view"}, "resource": {"type": "Doc", "id": "d"}}"#,
            r#"{"principal": {"type": "User", "id": "a"}, "action": {"type": "Action", "id": "view"}, "resource": {"type": "Doc", "id": "d"}, "context": {"n": 3, "who": {"type": "User", "id": "b"}}}"#,
            r#"{"principal": "User::\"a\"", "action": "Action::\"view\"", "resource": "Doc::\"d\""}"#,
            r#"{"principal": {"__entity": {"type": "User", "id": "a"}}, "action": {"type": "Action", "id": "view"}, "resource": {"type": "Doc", "id": "d"}}"#,
            r#"{"batch_id": "b1", "context": {"n": 7}}"#,
            r#"{"decision": "allow", "request": {"principal": {"type": "User", "id": "c"}, "action": {"type": "Action", "id": "view"}, "resource": {"type": "Doc", "id": "d"}, "context_ref": "b1"}}"#,
            r#"{"principal": {"type": "User", "id": "a", "id": "b"}, "action": {"type": "Action", "id": "view"}, "resource": {"type": "Doc", "id": "d"}}"#,
            r#"{"principal": {"type": "User", "id": "a"}, "action": {"type": "Action", "id": "view"}, "resource": {"type": "Doc", "id": "d"}, "context": {"n": "three"}}"#,
            r#"{"principal": {"type": "User", "id": "a"}, "action": {"type": "Action", "id": "view"}, "resource": {"type": "Doc", "id": "d"}, "extra": 1}"#,
            "",
            "not json",
        ];
        let mut good = String::new();
        let mut all = String::new();
        for i in 0..3000 {
            let line = shapes[i % shapes.len()];
            all.push_str(line);
            all.push('\n');
            // The lines every path accepts: the first six shapes.
            if i % shapes.len() < 6 || i % shapes.len() == 9 {
                good.push_str(line);
                good.push('\n');
            }
        }
        let render = |r: Result<Requests, Vec<Diagnostic>>| match r {
            Ok((requests, lines)) => format!("{requests:?} {lines:?}"),
            Err(ds) => ds
                .iter()
                .map(|d| format!("{d:?}"))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        for text in [&good, &all] {
            let want = render(plain(text, &schema, &limits));
            for threads in [1, 2, 3] {
                let got = render(read_batch("b.jsonl", text, &schema, &limits, threads));
                assert_eq!(got, want, "{threads} threads");
            }
        }
        assert!(plain(&good, &schema, &limits).is_ok_and(|(r, _)| r.len() > 1300));
        assert!(plain(&all, &schema, &limits).is_err());
    }
}
