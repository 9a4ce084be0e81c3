//! The `mspl` binary.

fn main() {
    std::process::exit(mspl::cli::run(std::env::args_os()));
}
