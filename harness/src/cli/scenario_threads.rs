//! Where `run` and `matrix` run their scenarios: one thread per core, each with a
//! single-threaded tokio runtime, taking the next scenario from one shared queue whenever one of
//! its slots frees.
//!
//! Why not one multi-threaded runtime: a scenario's world (CA, DNS, mail servers) and its client
//! talk over loopback sockets all the time, and on a work-stealing runtime each message that
//! wakes a task parked on another worker costs a futex wake and a context switch. On a thread of
//! its own, a world's every task (and its HTTP connections, see
//! [`acmeproof_mocks::https::serve_connections_on_this_thread`]) stays on one core, and a busy
//! thread finds several of its worlds' sockets ready at each poll.
//!
//! Measured on 2 cores, the whole library (`acmeproof run --quiet`), three alternating runs, each
//! in its own network namespace: 1.28, 1.36, 1.55 s on the multi-threaded runtime (the
//! connection thread serving every HTTP connection); 1.09, 1.22, 1.17 s here, with 56 MiB at
//! peak instead of 63.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use futures_util::FutureExt as _;
use futures_util::stream::{FuturesUnordered, StreamExt as _};

/// Runs `run` on every item of `queue` (taken in order), at most `jobs` at once, on one
/// single-threaded runtime per core, and returns the results in completion order. An item whose
/// run panics has no result (the panic is logged), as a panicking task had none before.
///
/// `Err` when not even one runtime could start.
pub(super) fn run_queue<T, R, F, Fut>(
    queue: Vec<T>,
    jobs: usize,
    run: F,
) -> Result<Vec<R>, std::io::Error>
where
    T: Send,
    R: Send,
    F: Fn(T) -> Fut + Sync,
    Fut: Future<Output = R>,
{
    let jobs = jobs.max(1);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs);
    let queue = Mutex::new(VecDeque::from(queue));
    let done = Mutex::new(Vec::new());
    let started = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            // The jobs shared out: the first `jobs % threads` threads take one more.
            .map(|i| jobs / threads + usize::from(i < jobs % threads))
            .map(|slots| {
                let (queue, done, run) = (&queue, &done, &run);
                scope.spawn(move || worker(slots, queue, done, run))
            })
            .collect();
        let mut started = 0;
        for worker in workers {
            match worker.join() {
                Ok(Ok(())) => started += 1,
                Ok(Err(error)) => tracing::warn!(%error, "a scenario thread could not start"),
                Err(_) => tracing::warn!("a scenario thread panicked"),
            }
        }
        started
    });
    if started == 0 {
        return Err(std::io::Error::other("no scenario thread could start"));
    }
    Ok(done.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// One thread: its own runtime, `slots` items in flight, until the queue is empty.
fn worker<T, R, F, Fut>(
    slots: usize,
    queue: &Mutex<VecDeque<T>>,
    done: &Mutex<Vec<R>>,
    run: &F,
) -> Result<(), std::io::Error>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    acmeproof_mocks::https::serve_connections_on_this_thread();
    let next = || queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
    runtime.block_on(async {
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < slots {
                let Some(item) = next() else { break };
                running.push(AssertUnwindSafe(run(item)).catch_unwind());
            }
            match running.next().await {
                Some(Ok(result)) => done.lock().unwrap_or_else(|e| e.into_inner()).push(result),
                Some(Err(_)) => tracing::error!("a scenario panicked; it has no result"),
                None => break,
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_runs_once_and_no_more_than_jobs_at_once() {
        let running = std::sync::atomic::AtomicUsize::new(0);
        let most = std::sync::atomic::AtomicUsize::new(0);
        let results = run_queue((0..50).collect(), 3, |i: u32| {
            let (running, most) = (&running, &most);
            async move {
                use std::sync::atomic::Ordering::SeqCst;
                let now = running.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                running.fetch_sub(1, SeqCst);
                i * 2
            }
        })
        .unwrap();
        let mut results = results;
        results.sort();
        assert_eq!(results, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        let most = most.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=3).contains(&most), "{most} at once");
    }

    #[test]
    fn a_panicking_item_has_no_result_and_the_others_go_on() {
        let results = run_queue((0..10).collect(), 2, |i: u32| async move {
            assert!(i != 4, "item 4 panics on purpose");
            i
        })
        .unwrap();
        let mut results = results;
        results.sort();
        assert_eq!(results, vec![0, 1, 2, 3, 5, 6, 7, 8, 9]);
    }
}
