//! The `mspl` binary.

fn main() {
    std::process::exit(mspl_cli::cli::run(std::env::args_os()));
}
