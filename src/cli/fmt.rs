//! `mspl fmt PATH…`: rewrite policy files in the canonical layout.
//!
//! A file that does not parse is reported and left untouched; a file is
//! replaced by [`write_file`] (no planted link followed, mode, owner and
//! hard links kept, a file the user may not write refused).

use super::common::{Format, Outcome};
use crate::diag::{Diagnostic, Sources};
use crate::exit::Exit;
use crate::files::read::io_message;
use crate::files::walk::{collect_with, TEXT_EXTENSIONS};
use crate::files::{read_stream, read_text, write_file, Collected, TextKind};
use crate::fmt::{format_source, FormatError};
use crate::limits::Limits;
use std::path::PathBuf;

/// Arguments of `mspl fmt`.
#[derive(clap::Args, Debug)]
pub struct FmtArgs {
    /// Files or directories (searched for *.mspl, *.cedar, *.cedarschema);
    /// `-` reads standard input and writes the result to standard output.
    #[arg(required_unless_present = "policies")]
    pub paths: Vec<PathBuf>,
    /// Cedar CLI's `format -p FILE`: print FILE formatted (with `-w`,
    /// rewrite it).
    #[arg(short = 'p', long, alias = "policy", value_name = "FILE")]
    pub policies: Option<PathBuf>,
    /// With `-p`: rewrite the file instead of printing it.
    #[arg(short = 'w', long, requires = "policies", conflicts_with = "check")]
    pub write: bool,
    /// Change nothing: list the files that would change and exit 1 if any.
    #[arg(short = 'c', long)]
    pub check: bool,
    /// With `--check`: show how each file would change, as `-`/`+` lines
    /// under its name.
    #[arg(long, requires = "check")]
    pub diff: bool,
    /// Cedar CLI's line width; mspl has one layout, 80 columns wide.
    #[arg(short = 'l', long, default_value_t = super::super::fmt::WIDTH)]
    pub line_width: usize,
    /// Cedar CLI's indent width; mspl indents by 2.
    #[arg(short = 'i', long, default_value_t = 2)]
    pub indent_width: usize,
    /// The limits of parsing.
    #[command(flatten)]
    pub limits: super::limit_args::ParseLimitArgs,
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
    if args.line_width != crate::fmt::WIDTH || args.indent_width != 2 {
        report(
            &mut out,
            Diagnostic::plain("mspl formats in one layout: 80 columns, indented by 2")
                .with_help(Some("leave out `--line-width` and `--indent-width`".into())),
        );
        return out.exit(Exit::Failure);
    }
    if let Some(path) = args
        .policies
        .as_ref()
        .filter(|_| !args.write && !args.check)
    {
        // Cedar's `format -p FILE`: the formatted text on standard output.
        let name = path.display().to_string();
        return match read_text(path, limit, TextKind::Policy) {
            Ok(text) => match format_one(&name, &text, &limits, &mut out) {
                Some(formatted) => {
                    out.stdout.push_str(&formatted);
                    out
                }
                None => out.exit(Exit::Failure),
            },
            Err(e) => {
                report(&mut out, Diagnostic::unreadable(&name, &e));
                out.exit(Exit::Failure)
            }
        };
    }
    for path in args.paths.iter().chain(&args.policies) {
        if path.as_os_str() == "-" {
            let text = match read_stream(std::io::stdin().lock(), limit, TextKind::Policy) {
                Ok(t) => t,
                Err(e) => {
                    report(&mut out, Diagnostic::unreadable("<stdin>", &e));
                    return out.exit(Exit::Failure);
                }
            };
            match format_one("<stdin>", &text, &limits, &mut out) {
                Some(formatted) if args.check => {
                    if formatted != text {
                        would_change(&mut out, "<stdin>", &text, &formatted, args.diff);
                        failed = true;
                    }
                }
                Some(formatted) => out.stdout.push_str(&formatted),
                None => failed = true,
            }
            continue;
        }
        if let Err(e) = collect_with(path, TEXT_EXTENSIONS, &mut found) {
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
            would_change(&mut out, &name, &text, &formatted, args.diff);
            failed = true;
        } else if let Err(e) = write_file(&file, &formatted) {
            report(
                &mut out,
                Diagnostic::plain(format!("cannot write `{name}`: {}", io_message(&e))),
            );
            failed = true;
        }
    }
    out.exit(Exit::failure_if(failed))
}

/// `--check`'s line for a file that would change, with `--diff` the lines
/// that would go (`-`) and come (`+`), a few unchanged ones around them.
fn would_change(out: &mut Outcome, name: &str, text: &str, formatted: &str, diff: bool) {
    out.stdout
        .push_str(&format!("{}\n", crate::diag::printable(name)));
    if diff {
        for line in crate::testing::diff(text, formatted) {
            out.stdout
                .push_str(&format!("    {}\n", crate::diag::printable(&line)));
        }
    }
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
