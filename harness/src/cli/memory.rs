//! The process's memory policy: no transparent huge pages.
//!
//! Why: with THP on (Linux's `always` mode, or its `madvise` mode, which mimalloc asks for), the
//! first touch of each 2 MiB of fresh heap is a fault that zeroes the whole 2 MiB, and a world
//! that accumulates mail keeps touching fresh heap. `perf` on the served MX under `acmeproof bench peers --only smtp`
//! found a quarter of its CPU in the kernel's `clear_page_erms` under those faults. With THP off
//! for the process, `acmeproof bench smtp` spent 1.20 s of system CPU instead of 1.45 s on the
//! same 20,000 messages, and `acmeproof run` peaked at 62 MiB instead of 82 MiB.
//!
//! The flag (`prctl(PR_SET_THP_DISABLE)`) is inherited by child processes, so `bench peers`
//! leaves it alone: the peers it starts run with the system's own policy, and the
//! `acmeproof serve` it starts sets the flag for itself. An external client a `run` starts does
//! inherit it, which changes its speed, never its behaviour.

/// Turns transparent huge pages off for this process (Linux; a no-op elsewhere). A refusal is
/// logged and ignored: the policy changes speed, never results.
pub(crate) fn prefer_small_pages() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(%error, "transparent huge pages stay on");
    }
}
