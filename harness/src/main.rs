//! The `acmeproof` binary: a thin shell over [`acmeproof::cli::main`].

fn main() -> std::process::ExitCode {
    acmeproof::cli::main()
}
