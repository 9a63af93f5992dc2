//! The `acmeproof` binary: a thin shell over [`acmeproof::cli::main`].

// The process's allocator: with glibc's, the CPU per message of the served MX grew as the
// store filled (`bench smtp --messages 40000`: the last tenth 15-17 % above the first, the
// time in malloc and free); with mimalloc's it stays within 2 %.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    acmeproof::cli::main()
}
