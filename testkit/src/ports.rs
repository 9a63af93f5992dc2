//! Loopback ports for programs that take a fixed address only (Pebble, lego's tls-alpn-01
//! server, two processes that must know each other's ports before either starts).
//!
//! A port the kernel hands out for port 0 is an *ephemeral* port: a moment after the probe
//! releases it, any of the thousands of loopback connections a parallel test opens may take it
//! as its local port, and so may any other test's bind to port 0. Pebble then exits with
//! "address already in use" and its test fails for nothing it did. So these ports are picked
//! below the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), where
//! neither a connect nor a bind to port 0 ever lands, and each is checked free on 127.0.0.1 for
//! both TCP and UDP (a DNS server binds both). Where no such range can be read, or none is
//! free, the kernel picks (port 0).

use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port tried: above the registered services a host is likely to run.
const LOWEST: u16 = 10_000;

/// Calls so far in this process: each call starts after the last one's ports.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// `n` distinct loopback ports, free for TCP and UDP a moment ago and outside the kernel's
/// ephemeral range when it can be read (see the module doc). Between this probe and the
/// program's bind another process could still take one, which fails the test loudly rather
/// than passing it.
///
/// # Panics
/// When 127.0.0.1 cannot be bound at all.
#[must_use]
pub fn fixed_ports(n: usize) -> Vec<u16> {
    let span = below_ephemeral();
    let mut held = Vec::with_capacity(n);
    if let Some(span) = span {
        let mut tried = 0;
        while held.len() < n && tried < u32::from(span.1 - span.0) {
            tried += 1;
            if let Some(pair) = bind_both(candidate(span, NEXT.fetch_add(1, Ordering::Relaxed))) {
                held.push(pair);
            }
        }
    }
    while held.len() < n {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let port = tcp.local_addr().expect("a bound address").port();
        held.push((tcp, UdpSocket::bind(("127.0.0.1", port)).ok()));
    }
    held.iter()
        .map(|(tcp, _)| tcp.local_addr().expect("a bound address").port())
        .collect()
}

/// One port of [`fixed_ports`].
#[must_use]
pub fn fixed_port() -> u16 {
    fixed_ports(1)[0]
}

/// The `step`-th port this process probes in `span`: each test process starts somewhere else
/// (its pid), so two suites running at once rarely probe the same ports; within a process the
/// calls walk on.
fn candidate((low, high): (u16, u16), step: u32) -> u16 {
    let start = std::process::id().wrapping_mul(7_919);
    let at = step.wrapping_add(start) % u32::from(high - low);
    low + u16::try_from(at).unwrap_or(0)
}

/// `[LOWEST, first ephemeral port)`, when the kernel says where its range starts and it leaves
/// room below.
fn below_ephemeral() -> Option<(u16, u16)> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let first: u16 = range.split_whitespace().next()?.parse().ok()?;
    (first > LOWEST + 1_000).then_some((LOWEST, first))
}

/// Both sockets on 127.0.0.1:`port`, or `None` when either is taken.
fn bind_both(port: u16) -> Option<(TcpListener, Option<UdpSocket>)> {
    let tcp = TcpListener::bind(("127.0.0.1", port)).ok()?;
    let udp = UdpSocket::bind(("127.0.0.1", port)).ok()?;
    Some((tcp, Some(udp)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests predict where [`NEXT`] walks, so they take turns.
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn ports_are_distinct_free_and_below_the_ephemeral_range() {
        let _turn = TURN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ports = fixed_ports(8);
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 8, "{ports:?}");
        for port in &ports {
            assert!(TcpListener::bind(("127.0.0.1", *port)).is_ok(), "{port}");
            assert!(UdpSocket::bind(("127.0.0.1", *port)).is_ok(), "{port}");
        }
        if let Some((low, high)) = below_ephemeral() {
            assert!(ports.iter().all(|p| (low..high).contains(p)), "{ports:?}");
        }
    }

    #[test]
    fn a_port_taken_for_udp_only_is_never_handed_out() {
        let _turn = TURN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(span) = below_ephemeral() else {
            return;
        };
        // Take UDP on the ports the next call probes first (a DNS server would need them).
        let next = NEXT.load(Ordering::Relaxed);
        let taken: Vec<UdpSocket> = (0..4)
            .filter_map(|i| UdpSocket::bind(("127.0.0.1", candidate(span, next + i))).ok())
            .collect();
        let taken: Vec<u16> = taken
            .iter()
            .map(|s| s.local_addr().expect("bound").port())
            .collect();
        assert!(!taken.is_empty());
        let got = fixed_ports(4);
        assert!(
            got.iter().all(|p| !taken.contains(p)),
            "{got:?} among {taken:?}"
        );
    }
}
