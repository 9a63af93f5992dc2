//! The thread HTTP connections are served on: one single-threaded tokio runtime, started once
//! per process and shared by every server in it. Each accepted connection is handed to it and
//! stays there, with every task hyper spawns for its requests.
//!
//! Why: on tokio's multi-threaded runtime an HTTP/2 request hops between workers. The
//! connection task reads the frames, hyper spawns a task per request, and the request's answer
//! wakes the connection task again; each wake-up that lands on a parked worker costs a futex
//! wake and a context switch. `perf` on the served CA under the dns-01 workload of
//! `acmeproof bench peers` put about a quarter of its CPU in the kernel, most of it in those
//! wake-ups. On one thread nothing wakes another thread, and a busy thread finds several
//! connections ready at each poll of the reactor instead of sleeping between them.
//!
//! Measured with `acmeproof bench peers --only dns01` on 2 cores, server CPU per issuance
//! (medians of 3 rounds, two runs each):
//!
//! | HTTP connections served on | ms |
//! |---|---|
//! | the multi-threaded runtime (as before) | 1.88, 1.90 |
//! | a thread per core, connections spread over them | 1.85, 1.95 |
//! | a thread per server (the CA's, the management API's) | 1.68, 1.78 |
//! | this one thread | 1.53, 1.58 |
//!
//! One thread bounds the HTTP servers of a process to one core: about 600 dns-01 issuances a
//! second on this machine, four times what Pebble serves on two cores.
//!
//! The runtime runs until the process ends. When it cannot be started, connections are served
//! on the accepting runtime, as before.
//!
//! A thread can keep its connections instead ([`serve_connections_on_this_thread`]):
//! - a thread with a single-threaded runtime of its own and whole worlds on it (the scenario
//!   runner's threads): there a request never leaves the thread at all, where the connection
//!   thread would add two cross-thread wake-ups per request and put the HTTP of every world of
//!   the process on one core;
//! - every worker of a multi-threaded runtime (each calls it from `on_thread_start`), where
//!   throughput counts more than CPU per request: the in-process issuance benches. With the
//!   reference client's HTTP/1.1 a request runs inside its connection's task, so it hops less
//!   than HTTP/2's task per stream did. `acmeproof bench dns01 --inline`, three alternating
//!   runs on 2 cores: 1,039, 1,077 and 1,057 issuances a second at 1.56–1.61 ms of CPU each on
//!   the connection thread; 1,217, 1,130 and 1,153 at 1.62–1.73 ms on the workers. Served
//!   (`acmeproof bench peers --only dns01`, two runs each), the connection thread stays the
//!   cheaper: 1.325 and 1.350 ms of server CPU per issuance against 1.450 and 1.475.

use std::cell::Cell;
use std::sync::OnceLock;

use tokio::runtime::Handle;

thread_local! {
    static SERVES_ITS_OWN: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as one whose tokio runtime serves the HTTP connections that
/// servers running on this thread accept, instead of handing them to the process's connection
/// thread: a thread with a single-threaded runtime of its own, or each worker of a
/// multi-threaded runtime (call it from the builder's `on_thread_start`).
pub fn serve_connections_on_this_thread() {
    SERVES_ITS_OWN.set(true);
}

/// The runtime an accepted connection is handed to: `None` to serve it on the accepting runtime
/// (the accepting thread opted in, or the connection thread could not start).
pub(super) fn connection_runtime() -> Option<&'static Handle> {
    if SERVES_ITS_OWN.get() {
        return None;
    }
    static RUNTIME: OnceLock<Option<Handle>> = OnceLock::new();
    RUNTIME.get_or_init(start).as_ref()
}

/// Starts the connection thread: a single-threaded runtime that runs what is spawned on it
/// until the process ends. The runtime is built on its own thread (a runtime may not be dropped
/// where a failed start would drop it: inside the caller's runtime), which hands back its handle
/// once.
fn start() -> Option<Handle> {
    let (handle_tx, handle_rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("acmeproof-http".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => {
                    let _ = handle_tx.send(Ok(runtime.handle().clone()));
                    runtime.block_on(std::future::pending::<()>());
                }
                Err(error) => {
                    let _ = handle_tx.send(Err(error));
                }
            }
        });
    let started = match spawned {
        Ok(_) => handle_rx
            .recv()
            .map_err(|e| std::io::Error::other(e.to_string())),
        Err(error) => Err(error),
    };
    match started.and_then(|runtime| runtime) {
        Ok(handle) => Some(handle),
        Err(error) => {
            tracing::warn!(%error, "https: no connection thread; serving on the caller's runtime");
            None
        }
    }
}
