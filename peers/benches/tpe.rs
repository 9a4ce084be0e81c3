//! mspl's residuals beside Cedar's type-aware partial evaluation
//! (docs/performance.md, "Data filtering"): Cedar's example apps and
//! generated well-typed apps, every request planned with its resource
//! unknown by both engines; the answers must agree (as in the agreement
//! test), and the report gives residual sizes and median planning times.
//!
//! ```sh
//! cargo bench -p mspl-peers --bench tpe -- [--generated N] [--repeat R]
//! ```

#[path = "../../tests/support/shared_data.rs"]
mod shared_data;

#[path = "../../tests/support/skip.rs"]
mod skip;

#[path = "../support/tpe.rs"]
mod tpe;

use clap::Parser;
use std::path::Path;

/// Residual sizes and planning times, mspl beside Cedar's TPE.
#[derive(Parser, Debug)]
#[command(name = "tpe")]
struct Args {
    /// Generated apps besides Cedar's examples.
    #[arg(long, default_value_t = 40)]
    generated: u64,
    /// Times each request is planned (for the medians).
    #[arg(long, default_value_t = 20)]
    repeat: usize,
    /// Passed by `cargo bench`.
    #[arg(long)]
    bench: bool,
}

fn show(what: &str, mut tally: tpe::Tally) {
    assert!(
        tally.disagreements.is_empty(),
        "{what}: {} disagreements; the first:\n{}",
        tally.disagreements.len(),
        tally.disagreements[0]
    );
    let cedar = tpe::median(&mut tally.cedar_times);
    let mspl = tpe::median(&mut tally.mspl_times);
    println!(
        "{what}: {} apps, {} plans, {} resources judged four ways, 0 disagreements",
        tally.apps, tally.plans, tally.resources
    );
    println!("  {:<28} {:>12} {:>12}", "", "Cedar TPE", "mspl");
    println!(
        "  {:<28} {:>12} {:>12}",
        "plans decided outright", tally.cedar_decided, tally.mspl_decided
    );
    println!(
        "  {:<28} {:>12} {:>12}",
        "residual policies left", tally.cedar_left, tally.mspl_left
    );
    println!(
        "  {:<28} {:>12} {:>12}",
        "their text, bytes", tally.cedar_bytes, tally.mspl_bytes
    );
    println!(
        "  {:<28} {:>9.1} µs {:>9.1} µs   (Cedar / mspl = {:.1}×)",
        "planning, median",
        cedar.as_secs_f64() * 1e6,
        mspl.as_secs_f64() * 1e6,
        cedar.as_secs_f64() / mspl.as_secs_f64().max(1e-12)
    );
}

fn main() {
    let args = Args::parse();
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Some(suite) = shared_data::cedar_suite(&checkout, "the TPE benchmark's example apps") {
        let mut tally = tpe::Tally::default();
        for app in tpe::example_apps(&suite) {
            let loaded = tpe::load(&app).unwrap_or_else(|e| panic!("{}: {e}", app.name));
            tpe::compare(&app, &loaded, args.repeat, &mut tally);
        }
        show("Cedar's example apps", tally);
    }
    let mut tally = tpe::Tally::default();
    for seed in 0..args.generated {
        let app = tpe::generated_app(seed);
        let loaded = tpe::load(&app).unwrap_or_else(|e| panic!("{}: {e}", app.name));
        tpe::compare(&app, &loaded, args.repeat, &mut tally);
    }
    show("generated apps", tally);
}
