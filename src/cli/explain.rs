//! `mspl explain`: the trace of every policy considered for a request.

use super::common::{Format, Outcome};
use super::input::RequestArgs;
use crate::exit::Exit;
use crate::explain::{explain, render, Include};
use std::io::IsTerminal;

/// Arguments of `mspl explain`.
#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// Policies, entities, requests and output.
    #[command(flatten)]
    pub input: RequestArgs,
}

/// Runs `mspl explain`: 0 allow (a batch: every line judged), 1 bad input, 2 deny.
pub fn run(args: &ExplainArgs) -> Outcome {
    let mut out = Outcome::default();
    let Some(loaded) = args.input.load(&mut out) else {
        return out.exit(Exit::Failure);
    };
    loaded.warn_undeclared(&mut out);
    let (prepared, entities) = (&loaded.prepared, &loaded.entities);
    let (set, options) = (prepared.set(), prepared.options());
    let mut last = None;
    for (i, request) in loaded.requests.iter().enumerate() {
        let response = prepared.authorize(entities, request);
        let explanation = explain(
            set,
            entities,
            request,
            &response,
            &options.limits,
            Include::All,
        );
        match args.input.format {
            Format::Json => {
                out.json_line(&response, Some(&explanation));
            }
            Format::Text => {
                let color = std::io::stdout().is_terminal();
                let block = render::trace(set, &response, &explanation, color);
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
