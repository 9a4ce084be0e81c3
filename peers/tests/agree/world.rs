//! The world generator: determinism, the shape the spec demands, and that its
//! requests exercise every action both ways under the Cedar encoding.

use std::collections::{BTreeMap, BTreeSet};

use mspl_peers::spec::{ACTIONS, FEATURES};
use mspl_peers::{cedar_decide, entities_text, requests_text, CedarWorld, World, WorldParams};
use serde_json::Value;

fn texts(seed: u64, params: &WorldParams) -> (String, String) {
    let w = World::generate(seed, params);
    (
        entities_text(&w.entities_json()),
        requests_text(&w.requests_json()),
    )
}

#[test]
fn same_seed_same_bytes() {
    let p = WorldParams::default();
    assert_eq!(texts(42, &p), texts(42, &p));
    assert_ne!(texts(42, &p), texts(43, &p));
}

#[test]
fn worlds_have_the_spec_shape() {
    for seed in 0..20 {
        let w = World::generate(seed, &WorldParams::default());
        let entities = w.entities_json();
        let all = entities.as_array().unwrap();
        fn of<'a>(all: &'a [Value], ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
            all.iter().filter(move |e| e["uid"]["type"] == ty)
        }
        let of_type = |ty: &'static str| of(all, ty);
        assert_eq!(of_type("Action").count(), 0, "no Action entities in worlds");
        // Exactly one default workspace per account.
        for a in of_type("Account") {
            let defaults = of_type("Workspace")
                .filter(|ws| ws["attrs"]["account"]["__entity"] == a["uid"])
                .filter(|ws| ws["attrs"]["is_default"] == true)
                .count();
            assert_eq!(defaults, 1, "account {}", a["uid"]);
        }
        // A page for every feature of every workspace, named after both.
        let pages: BTreeSet<String> = of_type("Page")
            .map(|p| p["uid"]["id"].as_str().unwrap().to_string())
            .collect();
        for ws in of_type("Workspace") {
            for f in FEATURES {
                assert!(pages.contains(&format!("{}/{f}", ws["uid"]["id"].as_str().unwrap())));
            }
        }
        // Identities join only workspaces of their own account.
        for i in of_type("RamUser").chain(of_type("RamRole")) {
            for parent in i["parents"].as_array().unwrap() {
                let ws = of_type("Workspace")
                    .find(|ws| &ws["uid"] == parent)
                    .unwrap();
                assert_eq!(ws["attrs"]["account"], i["attrs"]["account"]);
            }
        }
        // Complete and well typed: the schema accepts the world.
        CedarWorld::new(&entities).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

#[test]
fn requests_cover_the_spec() {
    let mut actions = BTreeSet::new();
    let mut principals = BTreeSet::new();
    let (mut cross_account, mut foreign_call, mut foreign_trust) = (0, 0, 0);
    for seed in 0..10 {
        let w = World::generate(seed, &WorldParams::default());
        // Every entity's account, by uid.
        let accounts: BTreeMap<String, String> = w
            .entities_json()
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| {
                let account = match e["uid"]["type"].as_str()? {
                    "Account" => e["uid"]["id"].as_str()?,
                    _ => e["attrs"]["account"]["__entity"]["id"].as_str()?,
                };
                Some((e["uid"].to_string(), account.to_string()))
            })
            .collect();
        let account_of = |uid: &Value| accounts.get(&uid.to_string()).cloned();
        for r in w.requests_json() {
            actions.insert(r["action"]["id"].as_str().unwrap().to_string());
            principals.insert(r["principal"]["type"].as_str().unwrap().to_string());
            let p = account_of(&r["principal"]);
            let target = match r["resource"]["type"].as_str().unwrap() {
                "Page" => {
                    let ws = r["resource"]["id"]
                        .as_str()
                        .unwrap()
                        .split('/')
                        .next()
                        .unwrap();
                    account_of(&serde_json::json!({"type": "Workspace", "id": ws}))
                }
                "Model" => account_of(&r["context"]["workspace"]["__entity"]),
                _ => account_of(&r["resource"]),
            };
            if p != target {
                cross_account += 1;
                foreign_call += usize::from(r["action"]["id"] == "model.call");
            }
        }
        foreign_trust += w
            .roles
            .iter()
            .flat_map(|r| r.trusted.iter().map(move |&u| (r.account, u)))
            .filter(|&(a, u)| w.users[u].account != a)
            .count();
    }
    let all: BTreeSet<String> = ACTIONS.iter().map(|a| a.name.to_string()).collect();
    assert_eq!(actions, all);
    assert_eq!(
        principals,
        ["Account", "RamRole", "RamUser"].map(String::from).into()
    );
    assert!(cross_account > 100 && foreign_call > 10 && foreign_trust > 0);
}

#[test]
fn cedar_allows_and_denies_every_action() {
    let mut coverage: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for seed in 0..6 {
        let w = World::generate(seed, &WorldParams::default());
        let cedar = CedarWorld::new(&w.entities_json()).unwrap();
        for (req, json) in w.requests.iter().zip(w.requests_json()) {
            let slot = coverage.entry(req.action).or_default();
            if cedar_decide(&cedar, &json) {
                slot.0 += 1;
            } else {
                slot.1 += 1;
            }
        }
    }
    for a in ACTIONS {
        let (allowed, denied) = coverage[a.name];
        assert!(
            allowed > 0 && denied > 0,
            "{}: {allowed} allowed, {denied} denied",
            a.name
        );
    }
}
