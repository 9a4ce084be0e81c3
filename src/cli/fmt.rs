//! `mspl fmt PATH…`: rewrite policy files in the canonical layout.
//!
//! A file that does not parse is reported and left untouched; a file is
//! written through a temporary file in its own folder and a rename, so a
//! crash never leaves half a file behind.

use super::common::{Format, Outcome};
use crate::diag::{Diagnostic, Sources};
use crate::fmt::{format_source, FormatError};
use crate::Limits;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

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
}

/// Runs `mspl fmt`: 0 done (with `--check`: nothing to change), 1 otherwise.
pub fn run(args: &FmtArgs) -> Outcome {
    let mut out = Outcome::default();
    let mut failed = false;
    let mut files = Vec::new();
    for path in &args.paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                out.diagnostics(
                    &Sources::new(),
                    &[Diagnostic::plain(format!(
                        "cannot read standard input: {e}"
                    ))],
                    Format::Text,
                );
                return out.exit(1);
            }
            match format_one("<stdin>", &text, &mut out) {
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
        if let Err(e) = crate::policy_set::collect_files(path, &mut files) {
            out.diagnostics(
                &Sources::new(),
                &[Diagnostic::plain(format!(
                    "cannot read `{}`: {e}",
                    path.display()
                ))],
                Format::Text,
            );
            failed = true;
        }
    }
    files.sort();
    files.dedup();
    for file in files {
        let name = file.display().to_string();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                out.diagnostics(
                    &Sources::new(),
                    &[Diagnostic::plain(format!("cannot read `{name}`: {e}"))],
                    Format::Text,
                );
                failed = true;
                continue;
            }
        };
        let Some(formatted) = format_one(&name, &text, &mut out) else {
            failed = true;
            continue;
        };
        if formatted == text {
            continue;
        }
        if args.check {
            out.stdout.push_str(&format!("{name}\n"));
            failed = true;
        } else if let Err(e) = write_atomically(&file, &formatted) {
            out.diagnostics(
                &Sources::new(),
                &[Diagnostic::plain(format!("cannot write `{name}`: {e}"))],
                Format::Text,
            );
            failed = true;
        }
    }
    out.exit(i32::from(failed))
}

/// Formats one text, reporting why it could not be.
fn format_one(name: &str, text: &str, out: &mut Outcome) -> Option<String> {
    match format_source(text, &Limits::default()) {
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

/// Writes `text` to `path` through a temporary file in the same folder and
/// a rename, keeping the file's permissions.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.mspl-fmt.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&temp, meta.permissions())?;
        }
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
