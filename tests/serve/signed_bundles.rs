//! Signed bundles that cannot be replayed: with `--verification-key`, a
//! server loads a bundle only when a known key signed its manifest, its
//! files match the manifest, and its sequence is above the highest it
//! loaded (kept in `--bundle-state` across restarts); it keeps serving
//! the last good one and says why it refused.

use crate::reload::{decision, entities, flips, mspl, revision, tarball, FileServer, World};
use crate::served::Served;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

const KEYS: &str = "tests/cases/bundle-keys";

fn key(name: &str) -> String {
    format!("{KEYS}/{name}")
}

/// `mspl bundle` of the world with `--sequence` and, when `signer` is
/// given, `--signing-key`: the bytes and the revision.
fn sealed(world: &World, out: &Path, sequence: u64, signer: Option<&str>) -> (Vec<u8>, String) {
    let dir = world.dir.path().to_str().unwrap().to_string();
    let sequence = sequence.to_string();
    let signing = signer.map(|s| key(&format!("{s}.key.pem")));
    let mut args = vec![
        "bundle",
        &dir,
        "--out",
        out.to_str().unwrap(),
        "--sequence",
        &sequence,
    ];
    if let Some(k) = &signing {
        args.extend(["--signing-key", k]);
    }
    let (code, stdout, stderr) = mspl(&args);
    assert_eq!(code, 0, "{stderr}");
    (std::fs::read(out).unwrap(), stdout.trim().to_string())
}

/// The entries of a bundle, in order.
fn unpack(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().to_string();
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            (name, text)
        })
        .collect()
}

/// `bytes` with `edit` applied to the text of entry `name`.
fn tampered(bytes: &[u8], name: &str, edit: impl Fn(&str) -> String) -> Vec<u8> {
    let mut entries = unpack(bytes);
    let entry = entries.iter_mut().find(|(n, _)| n == name).unwrap();
    entry.1 = edit(&entry.1);
    let refs: Vec<(&str, &str)> = entries
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    tarball(&refs)
}

fn last_error(server: &Served) -> String {
    server.get("/v1/status").json()["last_error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until the server refused what `files` now serves for a reason
/// that says `says`; then it still serves `serving`.
fn refused(server: &Served, says: &str, serving: &str) {
    let seen = server.wait_until(Duration::from_secs(5), |s| last_error(s).contains(says));
    assert!(seen, "{says}: {}", server.get("/v1/status").body);
    assert_eq!(revision(server), serving);
}

#[test]
fn only_a_signed_untampered_newer_bundle_loads_even_across_a_restart() {
    let world = World::new();
    let out = tempfile::tempdir().unwrap();
    let state = out.path().join("bundle-state.json");
    world.write("entities.json", &entities(&["alice"]));
    let (first, first_revision) = sealed(&world, &out.path().join("b1"), 1, Some("release"));
    let files = FileServer::start();
    let url = format!("http://{}/bundle.tar.gz", files.addr);
    files.set(Some(first.clone()));
    let release = key("release.pub.pem");
    let args = [
        "--bundle",
        &url,
        "--bundle-interval",
        "0.1",
        "--verification-key",
        &release,
        "--bundle-state",
        state.to_str().unwrap(),
    ];
    let server = Served::start(&args);
    assert_eq!(revision(&server), first_revision);
    assert_eq!(decision(&server, "alice", "view"), "allow");
    let status = server.get("/v1/status").json();
    assert_eq!(status["source"]["trust"]["sequence"], 1, "{status}");

    // The next release, and what an attacker could make of it.
    world.write("entities.json", &entities(&["alice", "bob"]));
    let (second, second_revision) = sealed(&world, &out.path().join("b2"), 2, Some("release"));
    let unsigned = sealed(&world, &out.path().join("b2-unsigned"), 2, None).0;
    let wrong_key = sealed(&world, &out.path().join("b2-rotated"), 2, Some("rotated")).0;
    let cases = [
        (
            tampered(&second, "entities.json", |t| t.replace("alice", "carol")),
            "`entities.json` does not have the SHA-256 its manifest says",
        ),
        (
            tampered(&second, "manifest.json", |t| {
                t.replace("\"sequence\":2", "\"sequence\":9")
            }),
            "is not the one key",
        ),
        (wrong_key, "not among the verification keys"),
        (unsigned, "it is not signed"),
    ];
    for (bad, says) in cases {
        files.set(Some(bad));
        refused(&server, says, &first_revision);
        assert_eq!(decision(&server, "bob", "view"), "deny");
    }
    // The good one loads.
    files.set(Some(second.clone()));
    flips(&server, "bob", "view", "allow");
    assert_eq!(revision(&server), second_revision);
    // The old one replayed is refused; so is another bundle under the
    // serving sequence.
    files.set(Some(first.clone()));
    refused(&server, "its sequence 1 is below 2", &second_revision);
    world.write("entities.json", &entities(&["carol"]));
    let (reused, _) = sealed(&world, &out.path().join("b2-again"), 2, Some("release"));
    files.set(Some(reused));
    refused(
        &server,
        "its sequence 2 is the one of revision",
        &second_revision,
    );
    assert_eq!(decision(&server, "bob", "view"), "allow");
    let (code, _) = server.stop();
    assert_eq!(code, 0);
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(kept["sequence"], 2, "{kept}");
    assert_eq!(kept["revision"], second_revision.as_str(), "{kept}");

    // A restart handed the old bundle refuses it: nothing is served.
    files.set(Some(first));
    let mut command: Vec<String> = vec!["serve".into(), "--addr".into(), "127.0.0.1:0".into()];
    command.extend(args.iter().map(|a| a.to_string()));
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    let (code, _, stderr) = mspl(&command);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("its sequence 1 is below 2"), "{stderr}");
    // Handed the current one, it serves it.
    files.set(Some(second));
    let server = Served::start(&args);
    assert_eq!(revision(&server), second_revision);
    drop(server);
}

#[test]
fn keys_rotate_by_kid_and_a_bundle_that_stops_changing_is_marked_stale() {
    let world = World::new();
    let out = tempfile::tempdir().unwrap();
    let (first, _) = sealed(&world, &out.path().join("b1"), 1, Some("release"));
    let files = FileServer::start();
    let url = format!("http://{}/bundle.tar.gz", files.addr);
    files.set(Some(first));
    let (release, rotated) = (key("release.pub.pem"), key("rotated.pub.pem"));
    let server = Served::start(&[
        "--bundle",
        &url,
        "--bundle-interval",
        "0.1",
        "--verification-key",
        &release,
        "--verification-key",
        &rotated,
        "--bundle-max-age",
        "1",
    ]);
    // The new key signs the next release; the old one is still accepted.
    world.write("entities.json", &entities(&["bob"]));
    let (second, second_revision) = sealed(&world, &out.path().join("b2"), 2, Some("rotated"));
    files.set(Some(second));
    flips(&server, "bob", "view", "allow");
    assert_eq!(revision(&server), second_revision);
    let trust = &server.get("/v1/status").json()["source"]["trust"];
    assert_eq!(trust["verification_keys"].as_array().unwrap().len(), 2);
    assert_eq!(trust["stale"], false, "{trust}");
    // No newer sequence for longer than --bundle-max-age: stale.
    let stale = server.wait_until(Duration::from_secs(5), |s| {
        s.get("/v1/status").json()["source"]["trust"]["stale"] == true
    });
    assert!(stale, "{}", server.get("/v1/status").body);
    assert!(server.get("/metrics").body.contains("mspl_bundle_stale 1"));
    assert!(server
        .get("/metrics")
        .body
        .contains("mspl_bundle_sequence 2"));
    // A signing key without a sequence, flags without a bundle: refused.
    let dir = world.dir.path().to_str().unwrap().to_string();
    let signing = key("release.key.pem");
    let target = out.path().join("b3");
    let (code, _, stderr) = mspl(&[
        "bundle",
        &dir,
        "--out",
        target.to_str().unwrap(),
        "--signing-key",
        &signing,
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("needs --sequence"), "{stderr}");
    assert!(!target.exists());
    let (code, _, stderr) = mspl(&[
        "serve",
        "--policies",
        &world.arg("policies"),
        "--verification-key",
        &release,
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("are for a bundle"), "{stderr}");
}
