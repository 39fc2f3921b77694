//! `ondeck`: see `ondeck --help` and the README.

fn main() -> std::process::ExitCode {
    ondeck_api::cli::main()
}
