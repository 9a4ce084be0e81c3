//! The README's first command (the main job on the shipped example data)
//! runs and judges every example: its words after `cargo run --release --`
//! are given to the built binary.

#[test]
fn the_readmes_main_command_runs() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo run --release -- "))
        .expect("the README starts with the main command");
    let args: Vec<&str> = line
        .trim_start_matches("cargo run --release -- ")
        .split_whitespace()
        .collect();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(&args)
        .output()
        .expect("mspl runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let blocks = text
        .lines()
        .filter(|l| *l == "ALLOW" || *l == "DENY")
        .count();
    let requests =
        std::fs::read_to_string("policies/model_studio/examples/requests.jsonl").expect("requests");
    assert_eq!(
        blocks,
        requests.lines().filter(|l| !l.trim().is_empty()).count(),
        "{text}"
    );
    assert!(
        readme.contains("\ncargo test --workspace\n"),
        "the README names the test command"
    );
}
