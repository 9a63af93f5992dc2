//! One call to see what the world does: its tracing events, on the test's output.

/// Installs a `tracing` subscriber that writes through the test harness's captured output
/// (shown for a failing test), filtered by `RUST_LOG` (default: this crate at `info`). A
/// second call, or a subscriber the test installed itself, is left in place.
pub fn trace() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("acmeproof_mocks=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
