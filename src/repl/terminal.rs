//! The line-editing driver of `mspl repl`: rustyline with the
//! [`ReplHelper`], a continuation prompt while an input is open, history in
//! a file.

use super::helper::ReplHelper;
use super::{emit, is_complete, Reply, Session, CONTINUATION, PROMPT};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use std::path::Path;

/// Runs the session on the terminal until `:quit` or Ctrl-D; `start` is
/// what loading at the start reported. Returns the exit code (0).
pub(super) fn run(mut session: Session, start: Reply, history: Option<&Path>) -> crate::exit::Exit {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut greeting = Reply {
        stdout: "mspl repl: `:help` lists the commands, Ctrl-D leaves\n".into(),
        ..Reply::default()
    };
    if session.set().policies.is_empty() && session.set().rules.is_empty() {
        greeting.stdout.push_str(&start.stdout);
    } else {
        greeting.stdout.push_str(&session.summary().stdout);
    }
    greeting.stderr = start.stderr;
    if let Err(e) = emit(&greeting, &mut stdout.lock(), &mut stderr.lock()) {
        return crate::exit::Exit::stdout_failure(&e);
    }
    let config = Config::builder()
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .history_ignore_dups(true)
        .map(|b| b.build())
        .unwrap_or_default();
    let mut editor: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot start line editing: {e}");
            return crate::exit::Exit::Success;
        }
    };
    editor.set_helper(Some(ReplHelper::new(session.vocabulary(), session.color)));
    if let Some(path) = history {
        // A missing history file is the first session's normal case.
        let _ = editor.load_history(path);
    }
    let mut seen = session.generation();
    let mut code = crate::exit::Exit::Success;
    let mut buffer = String::new();
    loop {
        if let Some(h) = editor.helper_mut() {
            h.set_pending(&buffer);
        }
        let prompt = if buffer.is_empty() {
            PROMPT
        } else {
            CONTINUATION
        };
        match editor.readline(prompt) {
            Ok(text) => {
                // A bracketed paste arrives as one text of several lines:
                // each line goes on as if typed, so three pasted commands
                // run as three inputs and a pasted policy as one.
                let mut quit = false;
                for line in text.split('\n') {
                    if !buffer.is_empty() {
                        buffer.push('\n');
                    }
                    buffer.push_str(line.strip_suffix('\r').unwrap_or(line));
                    if !is_complete(&buffer) {
                        continue;
                    }
                    let input = std::mem::take(&mut buffer);
                    if input.trim().is_empty() {
                        continue;
                    }
                    let _ = editor.add_history_entry(input.as_str());
                    let reply = session.execute(&input);
                    if let Err(e) = emit(&reply, &mut stdout.lock(), &mut stderr.lock()) {
                        code = crate::exit::Exit::stdout_failure(&e);
                        quit = true;
                        break;
                    }
                    if reply.quit {
                        quit = true;
                        break;
                    }
                }
                if quit {
                    break;
                }
                if session.generation() != seen {
                    seen = session.generation();
                    let vocabulary = session.vocabulary();
                    if let Some(h) = editor.helper_mut() {
                        h.vocabulary = vocabulary;
                    }
                }
            }
            // Ctrl-C drops the input being typed, continued lines included.
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        }
    }
    if let Some(path) = history {
        if let Some(dir) = path.parent() {
            let _ = crate::files::meta::create_dir_all(dir);
        }
        if let Err(e) = editor.save_history(path) {
            eprintln!(
                "warning: cannot save the history to `{}`: {e}",
                path.display()
            );
        }
    }
    code
}
