//! Real editors drive `mspl lsp`, headless, through the configurations
//! `docs/editors.md` shows (taken from the page as it stands, `mspl` on the
//! `PATH`): Debian's Neovim (0.7, `tests/editors/neovim.lua`) and Emacs with
//! Eglot (`tests/editors/eglot.el`) each open a file with an error, read
//! its diagnostic, ask for hover and go to definition, and format.
//! `.ci/run` installs both; elsewhere, without them, a test says so and
//! passes (with `CI=true` they must be there).

use crate::skip;

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
    skip::skip(program, "it is not installed");
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

/// The configuration `docs/editors.md` shows in its ````info` block, as
/// the page has it, written to a file in `dir`.
fn documented(info: &str, dir: &Path, name: &str) -> PathBuf {
    let page = std::fs::read_to_string("docs/editors.md").expect("docs/editors.md");
    let start = page
        .find(&format!("```{info}\n"))
        .unwrap_or_else(|| panic!("docs/editors.md has no ```{info} block"));
    let body = &page[start + info.len() + 4..];
    let body = &body[..body.find("```").expect("the block ends")];
    let path = dir.join(name);
    std::fs::write(&path, body).expect("written");
    path
}

/// Runs `command` with the project in its environment, the documented
/// configuration `config` and `mspl` on its `PATH` (as a user has them),
/// and checks what the editor wrote to `$OUT`.
fn drive(mut command: Command, root: &Path, file: &Path, config: &Path) {
    let out = root.join("out.json");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("a folder");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_mspl"), bin.join("mspl")).expect("a link");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = command
        .env("PATH", path)
        .env("CONFIG", config)
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
    let config = documented("lua", &root, "init.lua");
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
    drive(nvim, &root, &file, &config);
}

#[test]
fn emacs_with_eglot_reads_diagnostics_hovers_goes_to_definition_and_formats() {
    if !editor("emacs") {
        return;
    }
    let dir = tempfile::tempdir().expect("a folder");
    let (root, file) = project(dir.path());
    let config = documented("elisp", &root, "init.el");
    let mut emacs = Command::new("emacs");
    emacs.args([
        "--batch",
        "-Q",
        "-l",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/editors/eglot.el"),
    ]);
    drive(emacs, &root, &file, &config);
}
