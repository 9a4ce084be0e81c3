//! `mspl authorize`: decide one request or a batch (contract, "Commands").

use super::common::{Format, Outcome};
use super::input::RequestArgs;
use crate::authorize::PolicyIndex;
use crate::explain::{explain, render, Include};
use std::io::IsTerminal;

/// Arguments of `mspl authorize`.
#[derive(clap::Args, Debug)]
pub struct AuthorizeArgs {
    /// Policies, entities, requests and output.
    #[command(flatten)]
    pub input: RequestArgs,
    /// Add the explanation to JSON output (text output always explains).
    #[arg(long)]
    pub explain: bool,
    /// Validate policies, entities and request files first; refuse (exit 3) on errors.
    #[arg(long)]
    pub validate: bool,
}

/// Runs `mspl authorize`: 0 allow (a batch: every line judged), 1 bad input, 2 deny.
pub fn run(args: &AuthorizeArgs) -> Outcome {
    let mut out = Outcome::default();
    let Some(mut loaded) = args.input.load(&mut out) else {
        return out.exit(1);
    };
    if args.validate {
        if let Some(code) = super::validate::refuse(&mut loaded.set, &args.input, &mut out) {
            return out.exit(code);
        }
    }
    let (set, entities, options) = (&loaded.set, &loaded.entities, &loaded.options);
    let index = PolicyIndex::new(set);
    let format = args.input.format;
    let mut last = None;
    for (i, request) in loaded.requests.iter().enumerate() {
        let response = index.authorize(set, entities, request, options);
        // Text explains every decision; JSON only when asked.
        let explanation = (format == Format::Text || args.explain).then(|| {
            explain(
                set,
                entities,
                request,
                &response,
                &options.limits,
                Include::Relevant,
            )
        });
        match format {
            Format::Json => {
                out.json_line(&response, explanation.as_ref().filter(|_| args.explain));
            }
            Format::Text => {
                let color = std::io::stdout().is_terminal();
                let block = render::response(set, &response, explanation.as_ref(), color);
                out.text_block(
                    i,
                    &super::input::name_request(&block, loaded.lines.get(i).copied(), request),
                );
            }
        }
        last = Some(response.decision);
    }
    out.exit(super::input::decision_code(
        args.input.requests.is_some(),
        last,
    ))
}
