//! `mspl fmt PATH…`: rewrite policy files in the canonical layout.
//!
//! A file that does not parse is reported and left untouched; a file is
//! replaced by [`write_file`] (no planted link followed, mode, owner and
//! hard links kept, a file the user may not write refused).

use super::common::{Format, Outcome};
use crate::diag::{Diagnostic, Sources};
use crate::files::read::io_message;
use crate::files::{collect_files, read_stream, read_text, write_file, Collected, TextKind};
use crate::fmt::{format_source, FormatError};
use crate::limits::Limits;
use std::path::PathBuf;

/// Arguments of `mspl fmt`.
#[derive(clap::Args, Debug)]
pub struct FmtArgs {
    /// Files or directories (searched for *.mspl, *.cedar, *.cedarschema);
    /// `-` reads standard input and writes the result to standard output.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Change nothing: list the files that would change and exit 1 if any.
    #[arg(long)]
    pub check: bool,
    /// The limits in force.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Runs `mspl fmt`: 0 done (with `--check`: nothing to change), 1 otherwise.
pub fn run(args: &FmtArgs) -> Outcome {
    let mut out = Outcome::default();
    let mut failed = false;
    let limits = args.limits.limits();
    let limit = limits.max_policy_file_bytes;
    let mut found = Collected::new();
    let report = |out: &mut Outcome, d: Diagnostic| {
        out.diagnostics(&Sources::new(), &[d], Format::Text);
    };
    for path in &args.paths {
        if path.as_os_str() == "-" {
            let text = match read_stream(std::io::stdin().lock(), limit, TextKind::Policy) {
                Ok(t) => t,
                Err(e) => {
                    report(&mut out, Diagnostic::unreadable("<stdin>", &e));
                    return out.exit(1);
                }
            };
            match format_one("<stdin>", &text, &limits, &mut out) {
                Some(formatted) if args.check => {
                    if formatted != text {
                        out.stdout.push_str("<stdin>\n");
                        failed = true;
                    }
                }
                Some(formatted) => out.stdout.push_str(&formatted),
                None => failed = true,
            }
            continue;
        }
        if let Err(e) = collect_files(path, &mut found) {
            report(
                &mut out,
                Diagnostic::unreadable(&path.display().to_string(), &e.into()),
            );
            failed = true;
        }
    }
    for warning in std::mem::take(&mut found.warnings) {
        report(&mut out, Diagnostic::plain(warning).warning());
    }
    let mut files = found.files;
    files.sort();
    files.dedup();
    for file in files {
        let name = file.display().to_string();
        let text = match read_text(&file, limit, TextKind::Policy) {
            Ok(t) => t,
            Err(e) => {
                report(&mut out, Diagnostic::unreadable(&name, &e));
                failed = true;
                continue;
            }
        };
        let Some(formatted) = format_one(&name, &text, &limits, &mut out) else {
            failed = true;
            continue;
        };
        if formatted == text {
            continue;
        }
        if args.check {
            out.stdout
                .push_str(&format!("{}\n", crate::diag::printable(&name)));
            failed = true;
        } else if let Err(e) = write_file(&file, &formatted) {
            report(
                &mut out,
                Diagnostic::plain(format!("cannot write `{name}`: {}", io_message(&e))),
            );
            failed = true;
        }
    }
    out.exit(i32::from(failed))
}

/// Formats one text, reporting why it could not be.
fn format_one(name: &str, text: &str, limits: &Limits, out: &mut Outcome) -> Option<String> {
    match format_source(text, limits) {
        Ok(f) => Some(f),
        Err(FormatError::Parse(errors)) => {
            let mut sources = Sources::new();
            sources.add(name, text);
            let diagnostics: Vec<Diagnostic> = errors.iter().map(Diagnostic::from).collect();
            out.diagnostics(&sources, &diagnostics, Format::Text);
            out.stderr
                .push_str(&format!("{name}: not formatted: it does not parse\n"));
            None
        }
        Err(FormatError::NotPreserved) => {
            out.stderr.push_str(&format!(
                "{name}: not formatted: the printed text would not read back the same (a formatter bug; please report it)\n"
            ));
            None
        }
    }
}
