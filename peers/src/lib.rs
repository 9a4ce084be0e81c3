//! Peer engines for mspl's Model Studio policies.
//!
//! - [`world`] and [`requests`]: a seeded generator of random, complete
//!   Model Studio worlds and requests, in Cedar's JSON formats;
//! - [`cedar`]: an independent encoding of the spec's 15 rules in Cedar, and
//!   [`cedar_decide`] to judge a request with it in process;
//! - [`rego`]: an independent encoding of the same rules in Rego, judged
//!   with Regorus;
//! - [`corpus`]: the fixed sequence of worlds the differential test judges;
//! - [`spec`]: the domain's tables (features, system policies, actions);
//! - [`typed_apps`]: generated Cedar apps that strict validation accepts,
//!   for the comparison with Cedar's type-aware partial evaluation;
//! - file helpers to write a world as `entities.json` and `requests.jsonl`,
//!   the inputs of `mspl authorize --entities … --requests …`.
//!
//! This crate is a separate workspace member so that building mspl itself
//! never compiles Cedar.

pub mod cedar;
pub mod corpus;
pub mod rego;
pub mod requests;
pub mod rng;
pub mod spec;
pub mod typed_apps;
pub mod world;

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde_json::Value;

pub use cedar::{cedar_answer, cedar_decide, CedarAnswer, CedarModel, CedarWorld};
pub use requests::Request;
pub use world::{Uid, World, WorldParams};

/// The entity array as JSON text with one entity per line.
pub fn entities_text(entities: &Value) -> String {
    let items = entities.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        return "[]\n".to_string();
    }
    let lines: Vec<String> = items.iter().map(|e| format!("  {e}")).collect();
    format!("[\n{}\n]\n", lines.join(",\n"))
}

/// The requests as JSON Lines: one compact request per line.
pub fn requests_text(requests: &[Value]) -> String {
    requests.iter().map(|r| format!("{r}\n")).collect()
}

/// Writes `entities.json` and `requests.jsonl` for `world` into `dir`,
/// creating the directory if needed.
pub fn write_world(world: &World, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(
        dir.join("entities.json"),
        entities_text(&world.entities_json()),
    )?;
    let mut out = io::BufWriter::new(fs::File::create(dir.join("requests.jsonl"))?);
    out.write_all(requests_text(&world.requests_json()).as_bytes())?;
    out.flush()
}

/// The entities a request touches, for reports: its principal, resource and
/// context workspace, plus the workspace of a page resource. In store order.
pub fn relevant_entities(entities: &Value, request: &Value) -> Vec<Value> {
    let mut wanted: Vec<Value> = ["principal", "resource"]
        .iter()
        .filter_map(|f| request.get(*f).cloned())
        .collect();
    if let Some(ws) = request.pointer("/context/workspace/__entity") {
        wanted.push(ws.clone());
    }
    let all = entities.as_array().map(Vec::as_slice).unwrap_or_default();
    let find = |uid: &Value| all.iter().find(|e| e.get("uid") == Some(uid));
    let pages: Vec<Value> = wanted
        .iter()
        .filter_map(|uid| find(uid)?.pointer("/attrs/workspace/__entity").cloned())
        .collect();
    wanted.extend(pages);
    all.iter()
        .filter(|e| e.get("uid").is_some_and(|u| wanted.contains(u)))
        .cloned()
        .collect()
}
