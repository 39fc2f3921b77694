//! `ondeck`: see `ondeck --help` and the README.

/// mimalloc instead of the system allocator: glibc's malloc keeps freed
/// memory in per-thread arenas, and the big short-lived buffers of photo
/// checks and souvenir renders (several MB each, on changing blocking
/// threads) made a long-running process's resident memory creep up (see
/// *Benchmarks*, the soak). mimalloc returns freed pages to the system.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ondeck_api::cli::main()
}
