//! `mspl authorize`: decide one request or a batch (contract, "Commands").

use super::common::{Format, Outcome};
use super::input::RequestArgs;
use crate::exit::Exit;
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
    /// Judge a batch on N threads [default: every core]; the output is the
    /// same, in input order, whatever N.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print the time the decisions took on standard error (Cedar CLI's
    /// `-t`); standard output stays the same from run to run.
    #[arg(short = 't', long)]
    pub timing: bool,
}

/// Runs `mspl authorize`: 0 allow (a batch: every line judged), 1 bad input, 2 deny.
pub fn run(args: &AuthorizeArgs) -> Outcome {
    let mut out = Outcome::default();
    let Some(mut loaded) = args.input.load(&mut out) else {
        return out.exit(Exit::Failure);
    };
    if args.validate {
        let inline = loaded.requests.first().cloned();
        // The data's sources join the set's, for the diagnostics.
        let refused = loaded
            .prepared
            .update(|set| super::validate::refuse(set, &args.input, inline.as_ref(), &mut out));
        if let Some(code) = refused {
            return out.exit(code);
        }
    } else {
        loaded.warn_undeclared(&mut out);
    }
    let (prepared, entities) = (&loaded.prepared, &loaded.entities);
    let (set, options) = (prepared.set(), prepared.options());
    let format = args.input.format;
    let color = format == Format::Text && std::io::stdout().is_terminal();
    // One request's output (a JSON line, or a text block without the blank
    // line between blocks) and its decision.
    let judge = |i: usize| {
        let request = &loaded.requests[i];
        let response = prepared.authorize(entities, request);
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
        let text = match format {
            Format::Json => {
                Outcome::json_text(&response, explanation.as_ref().filter(|_| args.explain))
            }
            Format::Text => {
                let block = render::response(set, &response, explanation.as_ref(), color);
                super::input::name_request(&block, loaded.lines.get(i).copied(), request)
            }
        };
        (text, response.decision)
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(cores).max(1);
    let started = std::time::Instant::now();
    let results = judge_all(loaded.requests.len(), threads, &judge);
    if args.timing {
        out.stderr.push_str(&format!(
            "authorization time: {} µs for {} request(s)\n",
            started.elapsed().as_micros(),
            loaded.requests.len()
        ));
    }
    let mut last = None;
    for (i, (text, decision)) in results.into_iter().enumerate() {
        match format {
            Format::Json => {
                out.stdout.push_str(&text);
                out.stdout.push('\n');
            }
            Format::Text => out.text_block(i, &text),
        }
        last = Some(decision);
    }
    // The store and the requests are not freed one by one: the process
    // ends with this command, and a large batch's teardown is measurable.
    std::mem::forget(loaded);
    out.exit(super::input::decision_code(
        args.input.requests.is_some(),
        last,
    ))
}

/// Judges requests `0..count` with `judge`, on every core for a large
/// batch, and returns the results in input order. Each decision is
/// independent (the store and the set are only read; scratch buffers are
/// per thread), so the order of judging changes nothing but time.
fn judge_all<R: Send>(count: usize, threads: usize, judge: &(dyn Fn(usize) -> R + Sync)) -> Vec<R> {
    /// Below this, threads cost more than they save.
    const PARALLEL_FROM: usize = 256;
    if count < PARALLEL_FROM || threads < 2 {
        return (0..count).map(judge).collect();
    }
    let chunk = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|from| {
                let to = (from + chunk).min(count);
                scope.spawn(move || (from..to).map(judge).collect::<Vec<R>>())
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(results) => results,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}
