//! `mspl audit` on a Model Studio world against brute force, in one run
//! (docs/performance.md, "Audit", has the results and the machine).
//!
//! ```sh
//! cargo bench -p mspl-peers --bench audit -- --help
//! ```
//!
//! The world: `--accounts` accounts of `--workspaces` workspaces (the
//! default one included), `--users` RAM users and `--roles` RAM roles each,
//! `--models` models: about 20,000 entities by default. Measured after
//! load: who-can for one (action, resource), what-can for one principal
//! (medians of `--repeat` runs) and the full matrix on every core (once),
//! each against brute force, the prepared set deciding every request of
//! the same query one by one on one core. Brute force for the matrix is
//! timed on a sample of principals (`--sample`) and scaled to all of them
//! and to the cores. The sample's answers are checked equal to the
//! matrix's lines, and who-can and what-can to their brute force.
//!
//! Run by `cargo test` (without `--bench`), it does a small smoke run.

#[path = "../support/model_studio.rs"]
mod model_studio;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use mspl::__internal::authorize::Decision;
use mspl::__internal::Request;
use mspl_cli::audit::findings::{findings, GENERIC};
use mspl_cli::audit::{Auditor, Run};
use mspl_peers::world::{World, WorldArgs};

#[derive(Parser, Debug)]
struct Args {
    /// The world.
    #[command(flatten)]
    world: WorldArgs,
    /// Principals whose requests brute force judges for the matrix.
    #[arg(long, default_value_t = 200)]
    sample: usize,
    /// Runs of who-can and what-can (the median is reported).
    #[arg(long, default_value_t = 11)]
    repeat: usize,
    /// Time who-can only (no what-can, no matrix).
    #[arg(long)]
    who_can_only: bool,
    /// Time who-can and what-can only (no matrix).
    #[arg(long)]
    what_can_only: bool,
    /// Write the HTML matrix of the world and time its first paint in
    /// headless Chromium (`--repeat` loads), nothing else.
    #[arg(long)]
    html_paint: bool,
    /// Time the matrix and the generic findings only.
    #[arg(long)]
    findings_only: bool,
    /// Run who-can `model.call` N times and nothing else (for a profiler).
    #[arg(long, value_name = "N")]
    profile_who_can: Option<usize>,
    /// Threads for the audit [default: every core].
    #[arg(long)]
    threads: Option<usize>,
    /// Set by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The requests of `principal` for action `a` of the domain.
fn requests_of(auditor: &Auditor, principal: u32, a: usize, out: &mut Vec<Request>) {
    let d = &auditor.domain;
    let ad = &d.actions[a];
    for &r in &ad.resources {
        for &c in &ad.contexts {
            out.push(Request {
                principal: auditor.entities.node_uid(principal).clone(),
                action: ad.action.clone(),
                resource: auditor.entities.node_uid(r).clone(),
                context: d.contexts[c as usize].clone(),
            });
        }
    }
}

/// Times `query` (which returns its number of lines) `repeat` times and
/// brute force on the same `requests` once, checks that they agree, and
/// returns the table row.
fn timed_query(
    label: &str,
    repeat: usize,
    requests: &[Request],
    query: impl Fn() -> usize,
    brute: &dyn Fn(&[Request]) -> usize,
) -> String {
    let mut times = Vec::new();
    let mut lines = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        lines = query();
        times.push(started.elapsed());
    }
    let started = Instant::now();
    let allowed = brute(requests);
    let brute_time = started.elapsed();
    assert_eq!(lines, allowed, "{label} differs from brute force");
    let audit = median(times);
    format!(
        "| {label} ({} requests, {lines} allowed) | {} (median of {repeat}) | {} | {:.1}x |",
        requests.len(),
        ms(audit),
        ms(brute_time),
        brute_time.as_secs_f64() / audit.as_secs_f64()
    )
}

/// Times `now` and `before` (each returning its lines) `repeat` times,
/// interleaved, checks that they give the same lines, and returns the row.
fn before_row<L: std::fmt::Debug>(
    label: &str,
    repeat: usize,
    now: impl Fn() -> Vec<L>,
    before: impl Fn() -> Vec<L>,
) -> String {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..repeat {
        let started = Instant::now();
        x = now();
        a.push(started.elapsed());
        let started = Instant::now();
        y = before();
        b.push(started.elapsed());
    }
    assert_eq!(
        format!("{x:?}"),
        format!("{y:?}"),
        "{label}: not the same lines"
    );
    let (a, b) = (median(a), median(b));
    format!(
        "| {label} | {} | {} | {:.1}x |",
        ms(a),
        ms(b),
        b.as_secs_f64() / a.as_secs_f64()
    )
}

/// The generic findings (`audit --policy-set --finding …`) once on every
/// core: their row, beside the matrix's time.
fn findings_row(auditor: &Auditor, run: Run, matrix_time: Duration) -> String {
    let only: Vec<String> = GENERIC.iter().map(|s| (*s).to_string()).collect();
    let started = Instant::now();
    let found = findings(auditor, run.threads, &only, true).expect("the generic findings");
    let findings_time = started.elapsed();
    let mut by_id = std::collections::BTreeMap::<&str, usize>::new();
    for f in &found {
        *by_id.entry(f.finding.as_str()).or_default() += 1;
    }
    format!(
        "| generic findings ({} found: {by_id:?}) | {:.1} s on {} threads | matrix {:.1} s | {:.2}x |",
        found.len(),
        findings_time.as_secs_f64(),
        run.threads,
        matrix_time.as_secs_f64(),
        findings_time.as_secs_f64() / matrix_time.as_secs_f64()
    )
}

/// Shown by the page once registered: its paint entries and the end of
/// its load event, on the console (which headless Chromium logs).
const PAINT_PROBE: &str = "<script>new PerformanceObserver(l=>{for(const e of l.getEntries())\
console.log('MSPL-PAINT '+e.name+' '+e.startTime.toFixed(1))}).observe({type:'paint',buffered:true});\
addEventListener('load',()=>setTimeout(()=>console.log('MSPL-PAINT load '+performance.now().toFixed(1))));</script>";

/// The HTML matrix of the world, as `audit matrix --format html` writes
/// it, loaded `repeat` times in headless Chromium: the median time to
/// first contentful paint and to the end of the load event.
fn html_paint(auditor: &Auditor, run: Run, repeat: usize) -> ExitCode {
    let browser = ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(browser) = browser else {
        eprintln!("no chromium on this machine (apt-get install chromium): nothing measured");
        return ExitCode::FAILURE;
    };
    let started = Instant::now();
    let matrix = auditor.matrix(&[], &[], run);
    let found = findings(auditor, run.threads, &[], false).expect("the findings");
    let page = mspl_cli::audit::html::page(auditor, &matrix.lines, &found);
    let written = started.elapsed();
    let probed = match page.find("<head>") {
        Some(at) => format!("{}{PAINT_PROBE}{}", &page[..at + 6], &page[at + 6..]),
        None => format!("{PAINT_PROBE}{page}"),
    };
    let dir = std::env::temp_dir().join(format!("mspl-paint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let file = dir.join("matrix.html");
    std::fs::write(&file, &probed).expect("the page written");
    let (mut paints, mut loads) = (Vec::new(), Vec::new());
    for _ in 0..repeat.max(1) {
        let output = std::process::Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1400,900",
            ])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .arg(format!("--screenshot={}", dir.join("shot.png").display()))
            .arg(format!("file://{}", file.display()))
            .output()
            .expect("chromium runs");
        let log = String::from_utf8_lossy(&output.stderr);
        let entry = |name: &str| {
            log.lines().find_map(|l| {
                let rest = l.split(&format!("MSPL-PAINT {name} ")).nth(1)?;
                let number: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                number.parse::<f64>().ok()
            })
        };
        match (entry("first-contentful-paint"), entry("load")) {
            (Some(p), Some(l)) => {
                paints.push(Duration::from_secs_f64(p / 1000.0));
                loads.push(Duration::from_secs_f64(l / 1000.0));
            }
            _ => {
                eprintln!("chromium reported no paint:\n{log}");
                return ExitCode::FAILURE;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "| HTML matrix ({} allowed cells, {:.1} MB; matrix, findings and page in {:.1} s) | first contentful paint {} | load event ended {} | (medians of {} loads in headless Chromium) |",
        mspl_cli::audit::html::allowed_cells(&matrix.lines),
        page.len() as f64 / 1e6,
        written.as_secs_f64(),
        ms(median(paints)),
        ms(median(loads)),
        repeat.max(1)
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if !args.bench {
        // `cargo test`: a smoke run.
        args.world.shrink_for_smoke();
        args.sample = 10;
        args.repeat = 3;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(cores).max(1);
    let world = World::generate(args.world.seed, &args.world.params());
    let prepared = model_studio::prepared(mspl::__internal::Options::default());
    let text = world.entities_json().to_string();
    let started = Instant::now();
    let store = model_studio::store(prepared.set(), &text);
    let load = started.elapsed();
    let entities = &store;
    let started = Instant::now();
    let auditor = Auditor::new(&prepared, entities, None).expect("a domain");
    let domain_time = started.elapsed();
    // The reference: who-can judging every principal, as before the
    // hierarchy's bound.
    let unbounded = Auditor::new(&prepared, entities, None)
        .expect("a domain")
        .without_hierarchy_bound();
    let d = &auditor.domain;
    let size = d.size();
    println!(
        "# mspl audit on a Model Studio world (seed {}, {threads} threads of {cores} cores)\n",
        args.world.seed
    );
    println!(
        "world: {} entities ({} accounts x {} workspaces, {} users and {} roles each, {} models); load {}, domain {} ({} requests)\n",
        entities.len(),
        args.world.accounts,
        args.world.workspaces,
        args.world.users,
        args.world.roles,
        args.world.models,
        ms(load),
        ms(domain_time),
        size
    );
    let run = Run {
        threads,
        max_results: None,
        all: false,
    };
    let brute = |requests: &[Request]| -> usize {
        requests
            .iter()
            .filter(|r| prepared.authorize(entities, r).decision == Decision::Allow)
            .count()
    };

    if args.html_paint {
        return html_paint(&auditor, run, args.repeat);
    }
    if args.findings_only {
        let started = Instant::now();
        let matrix = auditor.matrix(&[], &[], run);
        let matrix_time = started.elapsed();
        println!("matrix: {} allowed", matrix.lines.len());
        drop(matrix);
        let row = findings_row(&auditor, run, matrix_time);
        println!("| query | audit | reference | ratio |\n|---|---|---|---|\n{row}");
        return ExitCode::SUCCESS;
    }

    // who-can: model.call on the first model.
    let call = auditor.action("model.call").expect("model.call");
    let model = d.actions[call].resources[0];
    if let Some(n) = args.profile_who_can {
        let started = Instant::now();
        for _ in 0..n {
            auditor.who_can(call, model, run).expect("who-can");
        }
        println!("{n} who-can: {}", ms(started.elapsed() / n.max(1) as u32));
        return ExitCode::SUCCESS;
    }
    let mut who_requests = Vec::new();
    for &p in &d.actions[call].principals {
        for &c in &d.actions[call].contexts {
            who_requests.push(Request {
                principal: entities.node_uid(p).clone(),
                action: d.actions[call].action.clone(),
                resource: entities.node_uid(model).clone(),
                context: d.contexts[c as usize].clone(),
            });
        }
    }
    let who_before = before_row(
        "who-can `model.call` on one model",
        args.repeat,
        || auditor.who_can(call, model, run).expect("who-can").lines,
        || unbounded.who_can(call, model, run).expect("who-can").lines,
    );
    let who_row = timed_query(
        "who-can `model.call` on one model",
        args.repeat,
        &who_requests,
        || {
            auditor
                .who_can(call, model, run)
                .expect("who-can")
                .lines
                .len()
        },
        &brute,
    );

    // who-can: page.view on the first page (no context to enumerate).
    let view = auditor.action("page.view").expect("page.view");
    let page = d.actions[view].resources[0];
    let view_requests: Vec<Request> = d.actions[view]
        .principals
        .iter()
        .map(|&p| Request {
            principal: entities.node_uid(p).clone(),
            action: d.actions[view].action.clone(),
            resource: entities.node_uid(page).clone(),
            context: d.contexts[d.actions[view].contexts[0] as usize].clone(),
        })
        .collect();
    let view_before = before_row(
        "who-can `page.view` on one page",
        args.repeat,
        || auditor.who_can(view, page, run).expect("who-can").lines,
        || unbounded.who_can(view, page, run).expect("who-can").lines,
    );
    let view_row = timed_query(
        "who-can `page.view` on one page",
        args.repeat,
        &view_requests,
        || {
            auditor
                .who_can(view, page, run)
                .expect("who-can")
                .lines
                .len()
        },
        &brute,
    );

    if args.who_can_only {
        println!(
            "| query | audit | brute force | ratio |\n|---|---|---|---|\n{who_row}\n{view_row}\n"
        );
        println!("| query | now | every principal judged (before) | ratio |\n|---|---|---|---|\n{who_before}\n{view_before}");
        return ExitCode::SUCCESS;
    }
    // what-can: the RAM user with the most allowed requests among the first 50.
    let user_type = "RamUser";
    let principals = d.principals();
    let users: Vec<u32> = principals
        .iter()
        .copied()
        .filter(|&p| entities.node_uid(p).ty == user_type)
        .collect();
    let busiest = users
        .iter()
        .take(50)
        .copied()
        .max_by_key(|&p| {
            auditor
                .what_can(p, &[], Run { threads: 1, ..run })
                .lines
                .len()
        })
        .expect("a user");
    let mut what_requests = Vec::new();
    for a in 0..d.actions.len() {
        if d.actions[a].principals.contains(&busiest) {
            requests_of(&auditor, busiest, a, &mut what_requests);
        }
    }
    let what_row = timed_query(
        "what-can for one RAM user",
        args.repeat,
        &what_requests,
        || auditor.what_can(busiest, &[], run).lines.len(),
        &brute,
    );

    if args.what_can_only {
        println!("| query | audit | brute force | ratio |\n|---|---|---|---|\n{who_row}\n{view_row}\n{what_row}");
        return ExitCode::SUCCESS;
    }

    // The matrix, on every core, once.
    let started = Instant::now();
    let matrix = auditor.matrix(&[], &[], run);
    let matrix_time = started.elapsed();
    let findings_row = findings_row(&auditor, run, matrix_time);

    // Brute force on a sample of principals (every k-th), scaled.
    let step = (principals.len() / args.sample.max(1)).max(1);
    let sample: Vec<u32> = principals
        .iter()
        .copied()
        .step_by(step)
        .take(args.sample)
        .collect();
    let mut sample_requests = 0u128;
    let mut sample_allowed = 0usize;
    let mut buffer = Vec::new();
    let started = Instant::now();
    for &p in &sample {
        for a in 0..d.actions.len() {
            if !d.actions[a].principals.contains(&p) {
                continue;
            }
            buffer.clear();
            requests_of(&auditor, p, a, &mut buffer);
            sample_requests += buffer.len() as u128;
            sample_allowed += brute(&buffer);
        }
    }
    let sample_time = started.elapsed();
    let in_sample = matrix
        .lines
        .iter()
        .filter(|l| sample.contains(&l.ids.principal))
        .count();
    assert_eq!(
        in_sample, sample_allowed,
        "the matrix differs from brute force on the sample"
    );
    let per_request = sample_time.as_secs_f64() / sample_requests as f64;
    let brute_one_core = per_request * size as f64;
    let brute_cores = brute_one_core / threads as f64;

    println!("| query | audit | brute force | ratio |");
    println!("|---|---|---|---|");
    println!("{who_row}");
    println!("{view_row}");
    println!("{what_row}");
    println!(
        "| matrix ({} requests, {} allowed) | {:.1} s on {threads} threads | {:.1} s on {threads} threads ({:.0} s on one core; {:.2} µs a request on a sample of {} principals, {} requests) | {:.1}x |",
        size,
        matrix.lines.len(),
        matrix_time.as_secs_f64(),
        brute_cores,
        brute_one_core,
        per_request * 1e6,
        sample.len(),
        sample_requests,
        brute_cores / matrix_time.as_secs_f64()
    );
    println!("{findings_row}");
    println!();
    println!("| query | now | every principal judged (before) | ratio |");
    println!("|---|---|---|---|");
    println!("{who_before}");
    println!("{view_before}");
    ExitCode::SUCCESS
}
