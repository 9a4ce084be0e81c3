//! Template links at scale: a request's cost with 100,000 links loaded
//! against its cost with only a few (docs/performance.md, "Template
//! links", has the results and the machine).
//!
//! ```sh
//! cargo bench -p mspl-peers --bench links -- --help
//! ```
//!
//! One template (`permit (principal == ?principal, action == Action::"view",
//! resource in ?resource) when { principal.active }`), linked once per user
//! (`--links` users, each sharing one of 1,000 folders), beside a forbid
//! template linked for every 100th user. Each request asks whether a user
//! views a document: one permit link names the user, so a request's
//! candidates are the same few policies however many links are loaded.
//! Measured: load time (policy text, links file), then the median and p99
//! latency of the indexed decision with all links, the same with only the
//! links of the first `--small` users (requests from those users), and
//! Cedar (`PolicySet::link` + `is_authorized`) on a sample. Every mspl
//! decision is checked against Cedar's on that sample.
//!
//! Run by `cargo test` (without `--bench`), it does a small smoke run.

use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicySet, Request};
use clap::Parser;
use mspl::__internal::authorize::{Options, PreparedSet};
use mspl::__internal::policy_set::{IdScheme, Loader};
use serde_json::{json, Value};

/// Template links at scale.
#[derive(Parser, Debug)]
struct Args {
    /// Links of the permit template (one per user).
    #[arg(long, default_value_t = 100_000)]
    links: usize,
    /// Users (and their links) of the small set.
    #[arg(long, default_value_t = 100)]
    small: usize,
    /// Requests timed per set.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Requests also decided by Cedar (it scans every link).
    #[arg(long, default_value_t = 50)]
    cedar: usize,
    /// Passed by `cargo bench`.
    #[arg(long)]
    bench: bool,
}

const TEMPLATES: &str = r#"@id("share")
permit (principal == ?principal, action == Action::"view", resource in ?resource)
when { principal.active };

@id("block")
forbid (principal == ?principal, action, resource in ?resource)
unless { resource.public };
"#;

const FOLDERS: usize = 1_000;

fn links_json(users: usize) -> Value {
    let mut out = Vec::new();
    for u in 0..users {
        out.push(json!({"template_id": "share", "link_id": format!("share-{u}"),
            "args": {"?principal": format!("User::\"u{u}\""), "?resource": format!("Folder::\"f{}\"", u % FOLDERS)}}));
        if u % 100 == 0 {
            out.push(json!({"template_id": "block", "link_id": format!("block-{u}"),
                "args": {"?principal": format!("User::\"u{u}\""), "?resource": format!("Folder::\"f{}\"", (u + 1) % FOLDERS)}}));
        }
    }
    Value::Array(out)
}

fn entities_json(users: usize) -> Value {
    let mut out = Vec::new();
    for u in 0..users {
        out.push(json!({"uid": {"type": "User", "id": format!("u{u}")}, "attrs": {"active": u % 7 != 0}, "parents": []}));
    }
    for f in 0..FOLDERS {
        out.push(
            json!({"uid": {"type": "Folder", "id": format!("f{f}")}, "attrs": {}, "parents": []}),
        );
        out.push(
            json!({"uid": {"type": "Doc", "id": format!("d{f}")}, "attrs": {"public": f % 3 == 0},
            "parents": [{"type": "Folder", "id": format!("f{f}")}]}),
        );
    }
    out.push(json!({"uid": {"type": "Action", "id": "view"}, "attrs": {}, "parents": []}));
    Value::Array(out)
}

/// `count` requests from users below `users`, spread over the folders.
fn requests(users: usize, count: usize) -> Vec<Value> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    (0..count)
        .map(|_| {
            let u = next(users);
            // Half the time the user's own folder, so that links apply.
            let d = if next(2) == 0 { u % FOLDERS } else { next(FOLDERS) };
            json!({"principal": {"type": "User", "id": format!("u{u}")}, "action": {"type": "Action", "id": "view"},
                "resource": {"type": "Doc", "id": format!("d{d}")}, "context": {}})
        })
        .collect()
}

struct Loaded {
    prepared: PreparedSet,
    store: mspl::__internal::entities::Entities,
    load: Duration,
}

fn load(users: usize) -> Loaded {
    let links = links_json(users).to_string();
    let entities = entities_json(users).to_string();
    let start = Instant::now();
    let mut loader = Loader::new(mspl::__internal::Limits::default());
    loader.add_source("templates.cedar".into(), TEMPLATES.into());
    loader.add_links_source("links.json".into(), links);
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let prepared = PreparedSet::new(set, Options::default());
    let load = start.elapsed();
    let set = prepared.set();
    let store = mspl::__internal::entities::build::build_entities_with(
        &set.schema,
        [("entities.json", entities.as_str())],
        &mspl::__internal::Limits::default(),
    )
    .expect("entities");
    Loaded {
        prepared,
        store,
        load,
    }
}

/// Median and p99 of timing each request once.
fn time(l: &Loaded, requests: &[mspl::__internal::Request]) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(requests.len());
    let mut allowed = 0;
    for r in requests {
        let start = Instant::now();
        let resp = l.prepared.authorize(&l.store, r);
        times.push(start.elapsed());
        allowed += usize::from(resp.decision == mspl::__internal::Decision::Allow);
    }
    times.sort();
    (
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        allowed,
    )
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if !args.bench {
        // `cargo test`: a smoke run.
        args.links = 2_000;
        args.small = 100;
        args.requests = 500;
        args.cedar = 20;
    }
    let big = load(args.links);
    let small = load(args.small);
    println!(
        "load: {} links in {:.1} ms (text, links file, index); {} links in {:.2} ms",
        big.prepared.set().policies.len(),
        big.load.as_secs_f64() * 1e3,
        small.prepared.set().policies.len(),
        small.load.as_secs_f64() * 1e3
    );
    let parse = |l: &Loaded, rs: &[Value]| -> Vec<mspl::__internal::Request> {
        rs.iter()
            .map(|r| {
                mspl::__internal::entities::json::request_from_json(r, &l.prepared.set().schema)
                    .expect("request")
            })
            .collect()
    };
    // The same requests (users below `small`) against both sets, and
    // requests from every user against the big one.
    let few_users = requests(args.small, args.requests);
    let all_users = requests(args.links, args.requests);
    let (big_med, big_p99, big_allowed) = time(&big, &parse(&big, &few_users));
    let (small_med, small_p99, small_allowed) = time(&small, &parse(&small, &few_users));
    let (all_med, all_p99, _) = time(&big, &parse(&big, &all_users));
    assert_eq!(
        big_allowed, small_allowed,
        "the links of other users changed a decision"
    );
    println!(
        "mspl, {} links, requests of {} users: median {:.2} µs, p99 {:.2} µs",
        big.prepared.set().policies.len(),
        args.small,
        big_med.as_secs_f64() * 1e6,
        big_p99.as_secs_f64() * 1e6
    );
    println!(
        "mspl, {} links, the same requests:    median {:.2} µs, p99 {:.2} µs",
        small.prepared.set().policies.len(),
        small_med.as_secs_f64() * 1e6,
        small_p99.as_secs_f64() * 1e6
    );
    println!(
        "mspl, {} links, requests of all users: median {:.2} µs, p99 {:.2} µs",
        big.prepared.set().policies.len(),
        all_med.as_secs_f64() * 1e6,
        all_p99.as_secs_f64() * 1e6
    );
    println!(
        "ratio (big / small set, same requests): {:.2}x",
        big_med.as_secs_f64() / small_med.as_secs_f64()
    );

    // Cedar on a sample, checking every decision.
    let mut cedar_set = PolicySet::from_str(TEMPLATES).expect("Cedar parses the templates");
    let start = Instant::now();
    // Cedar names templates policy0, policy1: the CLI maps `@id`.
    mspl_peers::cedar::link_all(&mut cedar_set, &links_json(args.links), |t| {
        if t == "share" { "policy0" } else { "policy1" }.to_string()
    })
    .expect("Cedar links");
    let cedar_load = start.elapsed();
    let entities = Entities::from_json_value(entities_json(args.links), None).expect("entities");
    let mut times = Vec::new();
    let sample = &all_users[..args.cedar.min(all_users.len())];
    let mspl_sample = parse(&big, sample);
    for (r, m) in sample.iter().zip(&mspl_sample) {
        let uid = |v: &Value| {
            EntityUid::from_str(&format!(
                "{}::\"{}\"",
                v["type"].as_str().unwrap_or(""),
                v["id"].as_str().unwrap_or("")
            ))
            .expect("uid")
        };
        let request = Request::new(
            uid(&r["principal"]),
            uid(&r["action"]),
            uid(&r["resource"]),
            Context::empty(),
            None,
        )
        .expect("request");
        let start = Instant::now();
        let answer = Authorizer::new().is_authorized(&request, &cedar_set, &entities);
        times.push(start.elapsed());
        let ours = big.prepared.authorize(&big.store, m);
        let cedar_allow = answer.decision() == cedar_policy::Decision::Allow;
        if cedar_allow != (ours.decision == mspl::__internal::Decision::Allow) {
            eprintln!("mspl and Cedar disagree on {r}");
            return ExitCode::FAILURE;
        }
    }
    times.sort();
    let cedar_med = times[times.len() / 2];
    println!(
        "Cedar, {} links (linked in {:.0} ms), {} requests: median {:.1} µs ({:.0}x mspl's)",
        big.prepared.set().policies.len(),
        cedar_load.as_secs_f64() * 1e3,
        sample.len(),
        cedar_med.as_secs_f64() * 1e6,
        cedar_med.as_secs_f64() / all_med.as_secs_f64()
    );
    ExitCode::SUCCESS
}
