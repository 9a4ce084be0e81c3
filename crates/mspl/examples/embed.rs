//! A service that embeds mspl, using only the library's façade: it loads
//! the Model Studio policies and their declarations (refusing to start on
//! policies that do not validate, as a build step would), reads the
//! entities checked against the declarations, answers requests on several
//! threads from one shared, swappable view of policies and data, and
//! explains a denial with the fixes its policies name.
//!
//! `cargo run -p mspl --example embed` (`.ci/run` runs it).

use mspl::{Authorizer, Decision, Entities, PolicySet, Request};
use std::path::Path;
use std::sync::{Arc, RwLock};

/// What the service decides with: policies and data, swapped whole when
/// either changes, so that no decision sees half of a change.
struct Access {
    policies: PolicySet,
    entities: Entities,
}

/// The service: its current view, shared by its request handlers.
#[derive(Clone)]
struct Service {
    current: Arc<RwLock<Arc<Access>>>,
}

impl Service {
    /// Whether `request` is allowed, on the view current when it arrives.
    fn allowed(&self, request: &Request) -> bool {
        let access = match self.current.read() {
            Ok(view) => Arc::clone(&view),
            // A handler that panicked while swapping left the old view:
            // still a whole one.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        let response = Authorizer::new().is_authorized(request, &access.policies, &access.entities);
        response.decision() == Decision::Allow
    }

    /// Installs a new view; decisions in flight finish on the old one.
    fn swap(&self, access: Access) {
        let next = Arc::new(access);
        match self.current.write() {
            Ok(mut view) => *view = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/model_studio");

    // A build step: the policies load and validate, or the service does not start.
    let policies = PolicySet::from_path(&root)?;
    let report = policies.validate();
    if !report.passed() {
        return Err(format!("the policies do not validate:\n{}", report.render()).into());
    }
    let schema = policies.schema();
    let entities = Entities::from_json_str(
        &std::fs::read_to_string(root.join("examples/entities.json"))?,
        Some(&schema),
    )?;
    println!(
        "loaded {} policies and {} entities; they validate",
        policies.len(),
        entities.len()
    );

    let service = Service {
        current: Arc::new(RwLock::new(Arc::new(Access {
            policies: policies.clone(),
            entities: entities.clone(),
        }))),
    };

    // Requests as the service receives them: the contract's request JSON.
    let requests: Vec<Request> = std::fs::read_to_string(root.join("examples/requests.jsonl"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let handlers: Vec<_> = (0..4)
        .map(|worker| {
            let service = service.clone();
            let mine: Vec<Request> = requests.iter().skip(worker).step_by(4).cloned().collect();
            std::thread::spawn(move || mine.iter().filter(|r| service.allowed(r)).count())
        })
        .collect();
    let mut allowed = 0;
    for handler in handlers {
        allowed += handler.join().map_err(|_| "a handler panicked")?;
    }
    println!(
        "{} requests on 4 threads: {allowed} allowed, {} denied",
        requests.len(),
        requests.len() - allowed
    );

    // Explaining a denial: a RAM user calling a model its workspace has
    // not been authorized for.
    let denied: Request = serde_json::from_str(
        r#"{"principal": {"type": "RamUser", "id": "user-01"},
            "action": {"type": "Action", "id": "model.call"},
            "resource": {"type": "Model", "id": "qwen-plus"},
            "context": {"workspace": {"__entity": {"type": "Workspace", "id": "project-a"}}}}"#,
    )?;
    let explanation = Authorizer::new().explain(&denied, &policies, &entities);
    let response = explanation.response();
    println!(
        "{} asks {} on {}: {:?} by {:?}",
        denied.principal(),
        denied.action(),
        denied.resource(),
        response.decision(),
        response.determining().collect::<Vec<_>>()
    );
    for fix in explanation.fixes() {
        println!("  fix: {fix}");
    }
    if response.decision() != Decision::Deny || explanation.fixes().is_empty() {
        return Err("the model call should be denied, with a fix".into());
    }

    // The data changes: user-01 leaves every workspace. The swap is whole.
    let emptied = Entities::from_json_str("[]", Some(&schema))?;
    service.swap(Access {
        policies,
        entities: emptied,
    });
    let still: usize = requests.iter().filter(|r| service.allowed(r)).count();
    println!("after the data is emptied: {still} allowed");
    Ok(())
}
