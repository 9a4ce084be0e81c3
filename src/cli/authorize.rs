//! `mspl authorize`: decide one request or a batch (contract, "Commands").

use super::common::{load_policies, Format, Outcome};
use crate::authorize::{authorize, Decision, DenyKind, ErrorMode, Options, Response};
use crate::diag::{Diagnostic, Sources};
use crate::engine::build_entities;
use crate::entities::json::{self, Origin, Request};
use crate::entities::Entities;
use crate::policy_set::{IdScheme, PolicySet};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `mspl authorize`.
#[derive(clap::Args, Debug)]
pub struct AuthorizeArgs {
    /// Policy files or directories.
    #[arg(long, num_args = 1.., required = true)]
    pub policies: Vec<PathBuf>,
    /// Extra declaration files.
    #[arg(long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// The entity file (Cedar's entity JSON); none: an empty store.
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// One request as a JSON file.
    #[arg(long, conflicts_with_all = ["requests", "principal"])]
    pub request: Option<PathBuf>,
    /// A batch of requests, one JSON object per line.
    #[arg(long, conflicts_with = "principal")]
    pub requests: Option<PathBuf>,
    /// The principal, as `Type::"id"`.
    #[arg(long, requires_all = ["action", "resource"])]
    pub principal: Option<String>,
    /// The action, as `Action::"id"`.
    #[arg(long)]
    pub action: Option<String>,
    /// The resource, as `Type::"id"`.
    #[arg(long)]
    pub resource: Option<String>,
    /// The context: inline JSON when it begins with `{`, a file path otherwise.
    #[arg(long)]
    pub context: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Cedar's semantics: erroring policies are skipped, ids are `policyN`.
    #[arg(long)]
    pub cedar: bool,
}

/// Runs `mspl authorize`.
pub fn run(args: &AuthorizeArgs) -> Outcome {
    let mut out = Outcome::default();
    let ids = if args.cedar {
        IdScheme::Cedar
    } else {
        IdScheme::Annotated
    };
    let Some(set) = load_policies(&args.policies, &args.schema, ids, args.format, &mut out) else {
        return out.exit(1);
    };
    let options = Options {
        errors: if args.cedar {
            ErrorMode::Cedar
        } else {
            ErrorMode::FailClosed
        },
        ..Options::default()
    };
    let entities = match load_entities(args, &set) {
        Ok(e) => e,
        Err(d) => {
            out.diagnostics(&Sources::new(), &[d], args.format);
            return out.exit(1);
        }
    };
    let requests = match read_requests(args, &set) {
        Ok(r) => r,
        Err(ds) => {
            out.diagnostics(&Sources::new(), &ds, args.format);
            return out.exit(1);
        }
    };
    let batch = args.requests.is_some();
    let mut last = None;
    for (i, request) in requests.iter().enumerate() {
        let response = authorize(&set, &entities, request, &options);
        match args.format {
            Format::Json => {
                out.stdout
                    .push_str(&serde_json::to_string(&response).unwrap_or_default());
                out.stdout.push('\n');
            }
            Format::Text => {
                if i > 0 {
                    out.stdout.push('\n');
                }
                out.stdout.push_str(&render_text(&set, &response));
            }
        }
        last = Some(response.decision);
    }
    let code = match (batch, last) {
        (true, _) => 0,
        (false, Some(Decision::Allow)) => 0,
        (false, _) => 2,
    };
    out.exit(code)
}

fn load_entities(args: &AuthorizeArgs, set: &PolicySet) -> Result<Entities, Diagnostic> {
    let (name, text) = match &args.entities {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => (path.display().to_string(), t),
            Err(e) => {
                return Err(Diagnostic::plain(format!(
                    "cannot read `{}`: {e}",
                    path.display()
                )))
            }
        },
        None => ("<none>".to_string(), "[]".to_string()),
    };
    build_entities(&set.schema, [(name.as_str(), text.as_str())]).map_err(|e| Diagnostic::from(&e))
}

fn read_requests(args: &AuthorizeArgs, set: &PolicySet) -> Result<Vec<Request>, Vec<Diagnostic>> {
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic::plain(format!(
                "cannot read `{}`: {e}",
                path.display()
            ))]
        })
    };
    if let Some(path) = &args.request {
        let text = read(path)?;
        let name = path.display().to_string();
        let origin = Origin {
            file: &name,
            text: &text,
            offset: 0,
        };
        return json::request_from_text(&origin, &text, &set.schema)
            .map(|r| vec![r])
            .map_err(|e| vec![Diagnostic::from(&e)]);
    }
    if let Some(path) = &args.requests {
        let text = read(path)?;
        let name = path.display().to_string();
        let mut requests = Vec::new();
        let mut errors = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches(['\n', '\r']);
            if !body.trim().is_empty() {
                let origin = Origin {
                    file: &name,
                    text: &text,
                    offset,
                };
                match json::request_from_text(&origin, body, &set.schema) {
                    Ok(r) => requests.push(r),
                    Err(e) => errors.push(Diagnostic::from(&e)),
                }
            }
            offset += line.len();
        }
        return if errors.is_empty() {
            Ok(requests)
        } else {
            Err(errors)
        };
    }
    let (Some(p), Some(a), Some(r)) = (&args.principal, &args.action, &args.resource) else {
        return Err(vec![Diagnostic::plain(
            "no request given: use --request FILE, --requests FILE.jsonl, or --principal, --action and --resource",
        )]);
    };
    let uid = |flag: &str, text: &str| {
        json::parse_uid(text).map_err(|m| vec![Diagnostic::plain(format!("in --{flag}: {m}"))])
    };
    let principal = uid("principal", p)?;
    let action = uid("action", a)?;
    let resource = uid("resource", r)?;
    let context = match &args.context {
        None => crate::eval::Value::empty_record(),
        Some(c) => {
            let text = if c.trim_start().starts_with('{') {
                c.clone()
            } else {
                read(&PathBuf::from(c))?
            };
            let parsed: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                vec![Diagnostic::plain(format!(
                    "in --context: invalid JSON: {e}"
                ))]
            })?;
            json::context_from_json(&parsed, &action, &set.schema)
                .map_err(|m| vec![Diagnostic::plain(format!("in --context: {m}"))])?
        }
    };
    Ok(vec![Request {
        principal,
        action,
        resource,
        context,
    }])
}

/// The text form of a response: `ALLOW`/`DENY` on its own line, then the
/// determining policies, the errors and, for a deny, why.
pub fn render_text(set: &PolicySet, response: &Response) -> String {
    let mut out = String::new();
    let at = |id: &str| -> String {
        match crate::authorize::policy_head(set, id) {
            Some(span) => {
                let (line, column) = set.sources.line_column(span);
                format!("{}:{line}:{column}", set.sources.name(span.file))
            }
            None => String::new(),
        }
    };
    match response.decision {
        Decision::Allow => {
            out.push_str("ALLOW\n");
            for id in &response.determining {
                out.push_str(&format!("  permitted by `{id}` ({})\n", at(id)));
            }
        }
        Decision::Deny => {
            out.push_str("DENY\n");
            match response.kind {
                Some(DenyKind::Forbidden) => {
                    for id in &response.determining {
                        out.push_str(&format!("  forbidden by `{id}` ({})\n", at(id)));
                    }
                }
                _ => out.push_str("  no permit applies to this request\n"),
            }
        }
    }
    if !response.errors.is_empty() {
        let diagnostics: Vec<Diagnostic> = response
            .errors
            .iter()
            .map(|e| {
                Diagnostic::error(
                    format!("policy `{}` raised an error: {}", e.policy, e.message),
                    e.error.span,
                    "raised here",
                )
                .with_help(e.error.kind.help())
            })
            .collect();
        out.push_str(
            &set.sources
                .render(&diagnostics, std::io::stdout().is_terminal()),
        );
    }
    // One block per request; the caller separates blocks by one blank line.
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}
