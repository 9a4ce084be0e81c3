//! mspl against Cedar and Regorus on one generated Model Studio world, in one
//! process and one run (docs/performance.md has the results and the machine).
//!
//! ```sh
//! cargo bench -p mspl-peers --bench compare -- --help
//! ```
//!
//! Sections (all by default):
//! - `compare`: the Model Studio rules in the three languages on a world of
//!   `--entities` entities; first every request must get the same decision
//!   from all three (and no mspl error), then per-request latency (median,
//!   p99) and throughput of each, and the ratios;
//! - `policies`: the Model Studio set plus 10 / 100 / 1,000 / 10,000
//!   synthetic per-principal and per-resource permits and forbids (the same
//!   Cedar-syntax text for both engines): load time, retained memory and
//!   per-request latency, mspl (indexed and not) and Cedar;
//! - `entities`: worlds of 1,000 / 100,000 / 1,000,000 entities: load time,
//!   retained memory and latency, mspl and Cedar;
//! - `parse`: policy text and entity JSON throughput (MB/s), mspl and Cedar;
//! - `alloc`: allocations made by mspl's decision path, per request.
//!
//! Memory is counted by this binary's global allocator (bytes allocated and
//! not yet freed, per thread, so the counts cost no atomic operation).
//! Per-request latencies are measured one request at a time with two clock
//! reads (about 40 ns, the same for every engine); throughput is a separate
//! pass over all requests with one clock read at each end.
//!
//! Run by `cargo test` (without `--bench`), it does a small smoke run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use clap::Parser;
use mspl_peers::rego::RegoWorld;
use mspl_peers::rng::Rng;
use mspl_peers::spec::{action_entities_json, ACTIONS, FEATURES};
use mspl_peers::{CedarModel, World, WorldParams};
use serde_json::Value;

// ---------------------------------------------------------------- memory

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting this thread's live bytes, their peak and
/// the number of allocation calls.
struct Counting;

fn count(delta: isize, call: bool) {
    // `try_with`: during thread teardown the counters may be gone.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|p| {
            if now > p.get() {
                p.set(now)
            }
        });
    });
    if call {
        let _ = CALLS.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters are plain thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize, true);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize, true);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize), false);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize, true);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

fn calls() -> u64 {
    CALLS.with(Cell::get)
}

/// Runs `f`, returning its value, its time, the bytes it left allocated and
/// its peak of allocated bytes above the start.
fn measured<R>(f: impl FnOnce() -> R) -> (R, Duration, isize, isize) {
    let before = live();
    PEAK.with(|p| p.set(before));
    let start = Instant::now();
    let r = f();
    let time = start.elapsed();
    let retained = live() - before;
    let peak = PEAK.with(Cell::get) - before;
    (r, time, retained, peak)
}

// ---------------------------------------------------------------- arguments

/// mspl against Cedar and Regorus on generated Model Studio worlds.
#[derive(Parser, Debug)]
#[command(name = "compare")]
struct Args {
    /// Seed of the world generator.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Entities of the world of the `compare`, `policies` and `alloc` sections.
    #[arg(long, default_value_t = 10_000)]
    entities: usize,
    /// Requests per measurement.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Synthetic policies added to the Model Studio set, for `policies`.
    #[arg(long, value_delimiter = ',', default_values_t = [10, 100, 1_000, 10_000])]
    policy_series: Vec<usize>,
    /// World sizes for `entities`.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 100_000, 1_000_000])]
    entity_series: Vec<usize>,
    /// Sections to run: compare, policies, entities, parse, alloc.
    #[arg(long, value_delimiter = ',', default_values_t = ["compare".to_string(), "policies".into(), "entities".into(), "parse".into(), "alloc".into()])]
    sections: Vec<String>,
    /// Given by `cargo bench`; without it (`cargo test`) a small smoke run.
    #[arg(long, hide = true)]
    bench: bool,
}

// ---------------------------------------------------------------- worlds

/// A world of many independent tiles (each a generated world of 10
/// accounts, its ids prefixed `tK-`), sharing one set of models.
struct BigWorld {
    /// Entity JSON: the world's entities and the action entities.
    text: String,
    count: usize,
    requests: Vec<Value>,
    users: Vec<String>,
    roles: Vec<String>,
    workspaces: Vec<String>,
    pages: Vec<String>,
    accounts: Vec<String>,
}

fn tile_params(requests: usize) -> WorldParams {
    WorldParams {
        accounts: 10,
        min_sub_workspaces: 0,
        max_sub_workspaces: 3,
        users_per_account: 60,
        roles_per_account: 10,
        models: 20,
        requests,
    }
}

/// Prefixes every string that starts with `acct-` (every id but models').
fn rename(v: &mut Value, prefix: &str) {
    match v {
        Value::String(s) if s.starts_with("acct-") => *s = format!("{prefix}{s}"),
        Value::Array(items) => items.iter_mut().for_each(|x| rename(x, prefix)),
        Value::Object(obj) => obj.values_mut().for_each(|x| rename(x, prefix)),
        _ => {}
    }
}

fn big_world(seed: u64, entities: usize, requests: usize) -> BigWorld {
    let per_tile = World::generate(seed, &tile_params(0))
        .entities_json()
        .as_array()
        .map_or(1, Vec::len)
        .max(1);
    let tiles = entities.div_ceil(per_tile).max(1);
    let requests_per_tile = requests.div_ceil(tiles);
    let mut w = BigWorld {
        text: String::from("[\n"),
        count: 0,
        requests: Vec::new(),
        users: Vec::new(),
        roles: Vec::new(),
        workspaces: Vec::new(),
        pages: Vec::new(),
        accounts: Vec::new(),
    };
    for t in 0..tiles {
        let prefix = format!("t{t}-");
        let world = World::generate(seed.wrapping_add(t as u64), &tile_params(requests_per_tile));
        let Value::Array(items) = world.entities_json() else {
            unreachable!("entities_json is an array")
        };
        for mut e in items {
            let ty = e["uid"]["type"].as_str().unwrap_or_default().to_string();
            if ty == "Model" && t > 0 {
                continue;
            }
            rename(&mut e, &prefix);
            let id = e["uid"]["id"].as_str().unwrap_or_default().to_string();
            match ty.as_str() {
                "RamUser" => w.users.push(id),
                "RamRole" => w.roles.push(id),
                "Workspace" => w.workspaces.push(id),
                "Page" => w.pages.push(id),
                "Account" => w.accounts.push(id),
                _ => {}
            }
            w.text.push_str(&e.to_string());
            w.text.push_str(",\n");
            w.count += 1;
        }
        for mut r in world.requests_json() {
            rename(&mut r, &prefix);
            w.requests.push(r);
        }
    }
    let actions = action_entities_json();
    for (i, a) in actions.as_array().into_iter().flatten().enumerate() {
        if i > 0 {
            w.text.push_str(",\n");
        }
        w.text.push_str(&a.to_string());
    }
    w.text.push_str("\n]\n");
    // Interleave the tiles' requests, deterministically.
    let mut rng = Rng::new(seed ^ 0x5eed);
    for i in (1..w.requests.len()).rev() {
        w.requests.swap(i, rng.below(i + 1));
    }
    w.requests.truncate(requests);
    w
}

/// `count` synthetic policies in Cedar's syntax (valid mspl too): permits and
/// forbids per principal and per resource, drawn from the world's entities.
/// None can raise an error, so both error modes give the same decisions.
fn synthetic_policies(w: &BigWorld, count: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed ^ 0xbeef);
    let mut out = String::new();
    let action = |rng: &mut Rng| ACTIONS[rng.below(ACTIONS.len())].name;
    for i in 0..count {
        let user = &w.users[rng.below(w.users.len())];
        let page = &w.pages[rng.below(w.pages.len())];
        let ws = &w.workspaces[rng.below(w.workspaces.len())];
        let feature = FEATURES[rng.below(FEATURES.len())];
        let _ = match i % 6 {
            0 => writeln!(
                out,
                "permit (principal == RamUser::\"{user}\", action == Action::\"{}\", resource)\n  when {{ resource is Page && resource.feature == \"{feature}\" }};",
                action(&mut rng)
            ),
            1 => writeln!(
                out,
                "forbid (principal == RamUser::\"{user}\", action == Action::\"{}\", resource == Page::\"{page}\");",
                action(&mut rng)
            ),
            2 => writeln!(
                out,
                "permit (principal, action in Action::\"page.operate\", resource == Page::\"{page}\")\n  when {{ principal is RamUser && principal.policies.contains(\"AliyunBSSOrderAccess\") }};"
            ),
            3 => writeln!(
                out,
                "forbid (principal is RamRole, action, resource == Workspace::\"{ws}\")\n  unless {{ principal.policies.contains(\"AdministratorAccess\") }};"
            ),
            4 => writeln!(
                out,
                "permit (principal in Workspace::\"{ws}\", action == Action::\"{}\", resource is Account);",
                action(&mut rng)
            ),
            _ => writeln!(
                out,
                "forbid (principal, action == Action::\"{}\", resource in Workspace::\"{ws}\")\n  when {{ principal is RamRole }};",
                action(&mut rng)
            ),
        };
    }
    out
}

// ---------------------------------------------------------------- engines

fn policies_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/model_studio")
}

/// The mspl Model Studio sources, with `extra` as one more file.
fn mspl_set(extra: &str) -> mspl::__internal::PolicySet {
    let mut loader = mspl::__internal::Loader::new(mspl::__internal::Limits::default());
    loader.add_path(&policies_dir());
    if !extra.is_empty() {
        loader.add_source("synthetic.cedar".into(), extra.to_string());
    }
    let (set, diagnostics) = loader.finish(mspl::__internal::IdScheme::Annotated);
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == mspl::__internal::diag::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "mspl policies do not load: {errors:?}");
    set
}

fn mspl_entities(set: &mspl::__internal::PolicySet, text: &str) -> mspl::__internal::Entities {
    mspl::__internal::entities::build::build_entities(&set.schema, [("entities.json", text)])
        .unwrap_or_else(|e| panic!("mspl rejects the entities: {e:?}"))
}

fn mspl_requests(
    set: &mspl::__internal::PolicySet,
    requests: &[Value],
) -> Vec<mspl::__internal::Request> {
    requests
        .iter()
        .map(|r| {
            mspl::__internal::entities::json::request_from_json(r, &set.schema)
                .unwrap_or_else(|e| panic!("mspl rejects {r}: {e}"))
        })
        .collect()
}

fn cedar_policies(extra: &str) -> cedar_policy::PolicySet {
    let text = format!("{}\n{extra}", mspl_peers::cedar::CEDAR_POLICIES);
    cedar_policy::PolicySet::from_str(&text).expect("Cedar parses the policies")
}

fn cedar_entities(text: &str, schema: Option<&cedar_policy::Schema>) -> cedar_policy::Entities {
    cedar_policy::Entities::from_json_str(text, schema)
        .unwrap_or_else(|e| panic!("Cedar rejects the entities: {e:?}"))
}

fn cedar_requests(requests: &[Value]) -> Vec<cedar_policy::Request> {
    let schema = CedarModel::get().schema();
    requests
        .iter()
        .map(|r| {
            let uid = |f: &str| cedar_policy::EntityUid::from_json(r[f].clone()).expect("uid");
            let action = uid("action");
            let context = cedar_policy::Context::from_json_value(
                r["context"].clone(),
                Some((schema, &action)),
            )
            .expect("context");
            cedar_policy::Request::new(
                uid("principal"),
                action,
                uid("resource"),
                context,
                Some(schema),
            )
            .expect("the request fits the schema")
        })
        .collect()
}

// ---------------------------------------------------------------- timing

/// Latency statistics of one engine on one request list.
struct Stats {
    median: Duration,
    p99: Duration,
    per_second: f64,
}

/// Times `decide` on every request one at a time, then on all of them in
/// one pass (after an untimed warm-up on the first 200).
fn time_requests<Q>(requests: &[Q], mut decide: impl FnMut(&Q) -> bool) -> Stats {
    for q in requests.iter().take(200) {
        black_box(decide(q));
    }
    let mut each: Vec<Duration> = Vec::with_capacity(requests.len());
    for q in requests {
        let start = Instant::now();
        black_box(decide(q));
        each.push(start.elapsed());
    }
    let start = Instant::now();
    for q in requests {
        black_box(decide(q));
    }
    let whole = start.elapsed();
    each.sort_unstable();
    let at = |f: f64| each[((each.len() as f64 * f) as usize).min(each.len() - 1)];
    Stats {
        median: at(0.5),
        p99: at(0.99),
        per_second: requests.len() as f64 / whole.as_secs_f64(),
    }
}

fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mb(bytes: isize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.3}", a.as_secs_f64() / b.as_secs_f64())
}

/// How many times faster than `cedar` `this` is.
fn speedup(cedar: Duration, this: Duration) -> String {
    let x = cedar.as_secs_f64() / this.as_secs_f64();
    if x >= 100.0 {
        format!("{}×", thousands(x as usize))
    } else {
        format!("{x:.2}×")
    }
}

// ---------------------------------------------------------------- sections

fn mspl_options() -> mspl::__internal::Options {
    mspl::__internal::Options::default()
}

fn section_compare(args: &Args) -> Result<(), String> {
    let w = big_world(args.seed, args.entities, args.requests);
    println!(
        "## Model Studio set, {} entities, {} requests\n",
        thousands(w.count),
        thousands(w.requests.len())
    );
    let set = mspl_set("");
    let entities = mspl_entities(&set, &w.text);
    let options = mspl_options();
    let index = mspl::__internal::PreparedSet::new(set.clone(), options);
    let m_requests = mspl_requests(&set, &w.requests);
    let c_policies = cedar_policies("");
    let c_entities = cedar_entities(&w.text, Some(CedarModel::get().schema()));
    let c_requests = cedar_requests(&w.requests);
    let entities_json: Value = serde_json::from_str(&w.text).map_err(|e| e.to_string())?;
    let plain: Vec<Value> = entities_json
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["uid"]["type"] != "Action")
        .cloned()
        .collect();
    let mut rego = RegoWorld::new(&Value::Array(plain))?;
    let r_inputs: Vec<regorus::Value> = w.requests.iter().map(RegoWorld::input).collect();
    let authorizer = cedar_policy::Authorizer::new();

    // Agreement first.
    let mut allowed = 0usize;
    for (i, r) in w.requests.iter().enumerate() {
        let m = index.authorize(&entities, &m_requests[i]);
        let c = authorizer.is_authorized(&c_requests[i], &c_policies, &c_entities);
        let g = rego.decide(&r_inputs[i])?;
        let m_allow = m.decision == mspl::__internal::Decision::Allow;
        let c_allow = c.decision() == cedar_policy::Decision::Allow;
        if !m.errors.is_empty() || m_allow != c_allow || m_allow != g {
            return Err(format!(
                "the engines disagree on request {i}: {r}\nmspl {:?} (errors {:?}), Cedar {:?}, Regorus allow={g}",
                m.decision,
                m.errors.iter().map(|e| &e.message).collect::<Vec<_>>(),
                c.decision()
            ));
        }
        allowed += usize::from(m_allow);
    }
    println!(
        "All three engines agree on all {} requests ({} allowed, {} denied); mspl reported no error.\n",
        thousands(w.requests.len()),
        thousands(allowed),
        thousands(w.requests.len() - allowed)
    );

    let ms_idx = time_requests(&m_requests, |q| {
        index.authorize(&entities, q).decision == mspl::__internal::Decision::Allow
    });
    let ms_lin = time_requests(&m_requests, |q| {
        mspl::__internal::authorize::authorize(&set, &entities, q, &options).decision
            == mspl::__internal::Decision::Allow
    });
    let cedar = time_requests(&c_requests, |q| {
        authorizer
            .is_authorized(q, &c_policies, &c_entities)
            .decision()
            == cedar_policy::Decision::Allow
    });
    let n = (w.requests.len() / 10).max(1).min(r_inputs.len());
    let regorus = time_requests(&r_inputs[..n], |q| rego.decide(q).unwrap_or(false));
    println!("| engine | median | p99 | throughput (requests/s) |");
    println!("|---|---:|---:|---:|");
    for (name, s) in [
        ("mspl (indexed)", &ms_idx),
        ("mspl (every policy)", &ms_lin),
        ("Cedar 4.14.1", &cedar),
        ("Regorus 0.14.1", &regorus),
    ] {
        println!(
            "| {name} | {} | {} | {} |",
            us(s.median),
            us(s.p99),
            thousands(s.per_second as usize)
        );
    }
    println!("\n(Regorus on the first {} requests only.)\n", thousands(n));
    println!(
        "Ratios of medians: mspl/Cedar = {}, mspl/Regorus = {}; p99: mspl/Cedar = {}, mspl/Regorus = {}\n",
        ratio(ms_idx.median, cedar.median),
        ratio(ms_idx.median, regorus.median),
        ratio(ms_idx.p99, cedar.p99),
        ratio(ms_idx.p99, regorus.p99),
    );
    Ok(())
}

fn section_policies(args: &Args) -> Result<(), String> {
    let w = big_world(args.seed, args.entities, args.requests);
    println!(
        "## Policies: the Model Studio set plus N synthetic policies, {} entities\n",
        thousands(w.count),
    );
    println!("Requests per row: {} at most, fewer where Cedar takes milliseconds each (the first 10,000,000 / (N + 100)).\n", thousands(w.requests.len()));
    println!("| N | engine | policies | requests | load | retained | median | p99 | Cedar's median ÷ this |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let options = mspl_options();
    for &n in &args.policy_series {
        let extra = synthetic_policies(&w, n, args.seed);
        let (set, load, retained, _) = measured(|| std::sync::Arc::new(mspl_set(&extra)));
        let (index, index_time, index_mem, _) = measured(|| {
            mspl::__internal::PreparedSet::shared(std::sync::Arc::clone(&set), options)
        });
        let entities = mspl_entities(&set, &w.text);
        let some = &w.requests[..w.requests.len().min(10_000_000 / (n + 100))];
        let m_requests = mspl_requests(&set, some);
        let (c_policies, c_load, c_retained, _) = measured(|| cedar_policies(&extra));
        let c_entities = cedar_entities(&w.text, Some(CedarModel::get().schema()));
        let c_requests = cedar_requests(some);
        let authorizer = cedar_policy::Authorizer::new();
        for (i, q) in m_requests.iter().enumerate() {
            let m = index.authorize(&entities, q);
            let c = authorizer.is_authorized(&c_requests[i], &c_policies, &c_entities);
            if (m.decision == mspl::__internal::Decision::Allow)
                != (c.decision() == cedar_policy::Decision::Allow)
            {
                return Err(format!("N={n}: mspl and Cedar disagree on {}", some[i]));
            }
        }
        let idx = time_requests(&m_requests, |q| {
            index.authorize(&entities, q).decision == mspl::__internal::Decision::Allow
        });
        let lin = time_requests(&m_requests, |q| {
            mspl::__internal::authorize::authorize(&set, &entities, q, &options).decision
                == mspl::__internal::Decision::Allow
        });
        let cedar = time_requests(&c_requests, |q| {
            authorizer
                .is_authorized(q, &c_policies, &c_entities)
                .decision()
                == cedar_policy::Decision::Allow
        });
        let rows = [
            (
                "mspl (indexed)",
                set.policies.len(),
                load + index_time,
                retained + index_mem,
                &idx,
            ),
            (
                "mspl (every policy)",
                set.policies.len(),
                load,
                retained,
                &lin,
            ),
            (
                "Cedar",
                c_policies.policies().count(),
                c_load,
                c_retained,
                &cedar,
            ),
        ];
        for (name, count, load, mem, s) in rows {
            println!(
                "| {} | {name} | {} | {} | {} | {} | {} | {} | {} |",
                thousands(n),
                thousands(count),
                thousands(some.len()),
                ms(load),
                mb(mem),
                us(s.median),
                us(s.p99),
                speedup(cedar.median, s.median)
            );
        }
    }
    println!();
    Ok(())
}

fn section_entities(args: &Args) -> Result<(), String> {
    println!(
        "## Entities: the Model Studio set on worlds of growing size, {} requests\n",
        thousands(args.requests)
    );
    println!("| entities | JSON | engine | load | retained | peak while loading | median | p99 | Cedar's median ÷ this |");
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|");
    let set = mspl_set("");
    let options = mspl_options();
    let index = mspl::__internal::PreparedSet::new(set.clone(), options);
    let c_policies = cedar_policies("");
    let authorizer = cedar_policy::Authorizer::new();
    for &n in &args.entity_series {
        let w = big_world(args.seed, n, args.requests);
        let m_requests = mspl_requests(&set, &w.requests);
        let c_requests = cedar_requests(&w.requests);
        let (entities, load, retained, peak) = measured(|| mspl_entities(&set, &w.text));
        let m = time_requests(&m_requests, |q| {
            index.authorize(&entities, q).decision == mspl::__internal::Decision::Allow
        });
        drop(entities);
        let (c_entities, c_load, c_retained, c_peak) =
            measured(|| cedar_entities(&w.text, Some(CedarModel::get().schema())));
        let c = time_requests(&c_requests, |q| {
            authorizer
                .is_authorized(q, &c_policies, &c_entities)
                .decision()
                == cedar_policy::Decision::Allow
        });
        drop(c_entities);
        let size = format!("{:.0} MB", w.text.len() as f64 / 1e6);
        for (name, load, mem, peak, s) in [
            ("mspl", load, retained, peak, &m),
            ("Cedar (with schema)", c_load, c_retained, c_peak, &c),
        ] {
            println!(
                "| {} | {size} | {name} | {} | {} | {} | {} | {} | {} |",
                thousands(w.count),
                ms(load),
                mb(mem),
                mb(peak),
                us(s.median),
                us(s.p99),
                speedup(c.median, s.median)
            );
        }
    }
    println!();
    Ok(())
}

fn section_parse(args: &Args) -> Result<(), String> {
    println!("## Parsing: policy text and entity JSON\n");
    let w = big_world(args.seed, args.entities.max(1_000), 0);
    let text = synthetic_policies(&w, 10_000, args.seed);
    let rounds = 3;
    let best = |f: &mut dyn FnMut()| {
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let m_parse = best(&mut || {
        let parsed =
            mspl::__internal::syntax::parse_file(&text, 0, &mspl::__internal::Limits::default());
        assert!(parsed.errors.is_empty());
        black_box(parsed);
    });
    let m_link = best(&mut || {
        let mut loader = mspl::__internal::Loader::new(mspl::__internal::Limits::default());
        loader.add_source("synthetic.cedar".into(), text.clone());
        black_box(loader.finish(mspl::__internal::IdScheme::Annotated));
    });
    let c_parse = best(&mut || {
        black_box(cedar_policy::PolicySet::from_str(&text).expect("parses"));
    });
    let set = mspl_set("");
    let m_load = best(&mut || {
        black_box(mspl_entities(&set, &w.text));
    });
    let c_plain = best(&mut || {
        black_box(cedar_entities(&w.text, None));
    });
    let c_schema = best(&mut || {
        black_box(cedar_entities(&w.text, Some(CedarModel::get().schema())));
    });
    let rate =
        |bytes: usize, d: Duration| format!("{:.1} MB/s", bytes as f64 / 1e6 / d.as_secs_f64());
    println!("| input | engine | time (best of {rounds}) | throughput | vs Cedar |");
    println!("|---|---|---:|---:|---:|");
    let policy_input = format!("10,000 policies, {:.1} MB", text.len() as f64 / 1e6);
    let entity_input = format!(
        "{} entities, {:.1} MB",
        thousands(w.count),
        w.text.len() as f64 / 1e6
    );
    for (input, name, d, base, bytes) in [
        (&policy_input, "mspl parse", m_parse, c_parse, text.len()),
        (
            &policy_input,
            "mspl parse and link (Loader)",
            m_link,
            c_parse,
            text.len(),
        ),
        (
            &policy_input,
            "Cedar PolicySet::from_str",
            c_parse,
            c_parse,
            text.len(),
        ),
        (
            &entity_input,
            "mspl (with declarations)",
            m_load,
            c_plain,
            w.text.len(),
        ),
        (
            &entity_input,
            "Cedar (no schema)",
            c_plain,
            c_plain,
            w.text.len(),
        ),
        (
            &entity_input,
            "Cedar (with schema)",
            c_schema,
            c_plain,
            w.text.len(),
        ),
    ] {
        println!(
            "| {input} | {name} | {} | {} | {} |",
            ms(d),
            rate(bytes, d),
            ratio(d, base)
        );
    }
    println!();
    Ok(())
}

fn section_alloc(args: &Args) -> Result<(), String> {
    let w = big_world(args.seed, args.entities, args.requests);
    let set = mspl_set("");
    let entities = mspl_entities(&set, &w.text);
    let options = mspl_options();
    let index = mspl::__internal::PreparedSet::new(set.clone(), options);
    let requests = mspl_requests(&set, &w.requests);
    // Warm up this thread's buffers.
    for q in &requests {
        black_box(index.authorize(&entities, q));
    }
    let (mut total, mut response, mut worst_extra) = (0u64, 0u64, 0u64);
    for (name, indexed) in [("indexed", true), ("every policy", false)] {
        for q in &requests {
            let before = calls();
            let r = if indexed {
                index.authorize(&entities, q)
            } else {
                mspl::__internal::authorize::authorize(&set, &entities, q, &options)
            };
            let made = calls() - before;
            // The response's own: the vector of determining ids (errors
            // would add theirs; generated worlds raise none).
            let own = u64::from(!r.determining.is_empty()) + u64::from(!r.errors.is_empty());
            total += made;
            response += own;
            worst_extra = worst_extra.max(made.saturating_sub(own));
            drop(r);
        }
        println!(
            "Allocations on mspl's decision path ({name}), {} requests after warm-up: {total} in all, {response} of them the responses' vectors, at most {worst_extra} more in any one request.",
            thousands(requests.len())
        );
        if worst_extra > 0 {
            return Err("the decision path allocated beyond the response".into());
        }
        (total, response, worst_extra) = (0, 0, 0);
    }
    println!();
    Ok(())
}

/// A section of the report.
type Section = fn(&Args) -> Result<(), String>;

fn main() -> ExitCode {
    let mut args = Args::parse();
    if !args.bench {
        // `cargo test`: a smoke run of every section.
        args.entities = 1_000;
        args.requests = 300;
        args.policy_series = vec![10];
        args.entity_series = vec![1_000];
    }
    println!(
        "# mspl {} against Cedar 4.14.1 and Regorus 0.14.1 (seed {})\n",
        env!("CARGO_PKG_VERSION"),
        args.seed
    );
    let sections: [(&str, Section); 5] = [
        ("compare", section_compare),
        ("alloc", section_alloc),
        ("parse", section_parse),
        ("policies", section_policies),
        ("entities", section_entities),
    ];
    for (name, run) in sections {
        if args.sections.iter().any(|s| s == name) {
            if let Err(e) = run(&args) {
                eprintln!("compare: {name}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
