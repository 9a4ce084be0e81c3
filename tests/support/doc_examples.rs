//! The commands of a Markdown page, run: each ```sh block that starts
//! with a given command is run, and what it prints must be the ```text
//! block after it.

/// The fenced blocks of a Markdown text: (info string, body, line of the
/// opening fence, 1-based).
pub fn blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(info) = line.strip_prefix("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => current = Some((info.trim().to_string(), String::new(), i + 1)),
            }
        } else if let Some((_, body, _)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

/// The commands of a shell block, one per entry: a backslash at a line's
/// end or an open `'…'` quote joins lines; `$ ` prompts, blank lines and
/// `#` comments are left out.
#[allow(dead_code)] // not every test that includes this module uses it
pub fn commands(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in body.replace("\\\n", " ").lines() {
        if pending.is_empty() {
            let line = line.trim().trim_start_matches("$ ");
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            pending.push_str(line);
        } else {
            pending.push('\n');
            pending.push_str(line);
        }
        if pending.matches('\'').count() % 2 == 0 {
            out.push(std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        out.push(pending);
    }
    out
}

/// Runs every ```sh block of the page at `path` that starts with
/// `prefix` through `run` (its words after `mspl`), checks that it prints
/// (stdout, or stderr when stdout is empty) the ```text block after it,
/// and returns how many ran.
pub fn check(path: &str, prefix: &str, run: impl Fn(&[&str]) -> (i32, String, String)) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| panic!("{path}"));
    let blocks = blocks(&text);
    let mut ran = 0;
    for (i, (info, body, _)) in blocks.iter().enumerate() {
        if info != "sh" || !body.starts_with(prefix) {
            continue;
        }
        let words: Vec<String> = shell_words(body.trim().trim_start_matches("mspl "));
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = run(&args);
        let shown = blocks.get(i + 1).filter(|(info, _, _)| info == "text");
        let Some((_, shown, _)) = shown else {
            panic!(
                "the command `{}` has no ```text block after it",
                body.trim()
            );
        };
        let printed = if stdout.is_empty() { &stderr } else { &stdout };
        assert_eq!(printed, shown, "{path}: `{}` (exit {code})", body.trim());
        ran += 1;
    }
    ran
}

/// Splits a command line: words separated by spaces, `'…'` quoted, a
/// backslash at a line's end joins it to the next.
pub fn shell_words(line: &str) -> Vec<String> {
    let line = line.replace("\\\n", " ");
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}
