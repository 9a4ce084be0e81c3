//! Real editors drive `mspl lsp`, headless: Debian's Neovim (0.7,
//! `vim.lsp.start_client`, `tests/editors/neovim.lua`) and Emacs with
//! Eglot (`tests/editors/eglot.el`) each open a file with an error, read
//! its diagnostic, ask for hover and go to definition, and format.
//! `.ci/run` installs both; elsewhere, without them, a test says so and
//! passes (with `CI=true` they must be there).

use std::path::{Path, PathBuf};
use std::process::Command;

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether `program` is there; without it, outside CI, the test skips.
fn editor(program: &str) -> bool {
    if have(program) {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI must have `{program}` (.ci/run installs it)"
    );
    eprintln!("skipping: `{program}` is not installed");
    false
}

/// A project with a policy file that has a typo; returns the root and the file.
fn project(dir: &Path) -> (PathBuf, PathBuf) {
    let root = dir.canonicalize().expect("a path");
    std::fs::write(root.join("schema.cedarschema"), "entity User { name: String };\nentity Doc { owner: User };\naction view appliesTo { principal: [User], resource: [Doc] };\n").expect("written");
    std::fs::write(
        root.join("rules.mspl"),
        "// Whether `u` owns `d`.\nrule owns(u, d) { d.owner == u }\n",
    )
    .expect("written");
    let file = root.join("policies.mspl");
    std::fs::write(&file, "permit(principal, action == Action::\"view\", resource)\n\nwhen { owns(principal, resource) && principal.nam == \"x\" };\n").expect("written");
    (root, file)
}

/// Runs `command` with the project in its environment and checks what the
/// editor wrote to `$OUT`.
fn drive(mut command: Command, root: &Path, file: &Path) {
    let out = root.join("out.json");
    let run = command
        .env("MSPL", env!("CARGO_BIN_EXE_mspl"))
        .env("ROOT", root)
        .env("FILE", file)
        .env("OUT", &out)
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the editor runs");
    let text = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        panic!(
            "the editor wrote nothing: {}",
            String::from_utf8_lossy(&run.stderr)
        )
    });
    let got: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let diagnostic = match &got["diagnostics"][0] {
        serde_json::Value::String(s) => s.clone(),
        d => d["message"].as_str().unwrap_or_default().to_string(),
    };
    assert!(diagnostic.contains("attribute `nam` not found"), "{got}");
    assert!(
        got["hover"]["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .contains("rule owns(u, d)"),
        "{got}"
    );
    assert!(
        got["definition"][0]["uri"]
            .as_str()
            .unwrap_or_default()
            .ends_with("rules.mspl"),
        "{got}"
    );
    assert!(
        got["formatting"][0]["newText"]
            .as_str()
            .unwrap_or_default()
            .starts_with("permit (principal"),
        "{got}"
    );
}

#[test]
fn neovim_reads_diagnostics_hovers_goes_to_definition_and_formats() {
    if !editor("nvim") {
        return;
    }
    let dir = tempfile::tempdir().expect("a folder");
    let (root, file) = project(dir.path());
    let mut nvim = Command::new("nvim");
    nvim.args([
        "--headless",
        "--clean",
        "-c",
        concat!(
            "luafile ",
            env!("CARGO_MANIFEST_DIR"),
            "/tests/editors/neovim.lua"
        ),
    ]);
    drive(nvim, &root, &file);
}

#[test]
fn emacs_with_eglot_reads_diagnostics_hovers_goes_to_definition_and_formats() {
    if !editor("emacs") {
        return;
    }
    let dir = tempfile::tempdir().expect("a folder");
    let (root, file) = project(dir.path());
    let mut emacs = Command::new("emacs");
    emacs.args([
        "--batch",
        "-Q",
        "-l",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/editors/eglot.el"),
    ]);
    drive(emacs, &root, &file);
}
