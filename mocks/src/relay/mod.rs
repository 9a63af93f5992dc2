//! Relays: store-and-forward SMTP hops with the behaviours real relays have, switched by knobs.
//!
//! A relay accepts mail (SMTP, role `Relay`), then in the background adds its `Received:` field,
//! optionally verifies DKIM and adds `Authentication-Results:`, mangles the message the way
//! mailing lists and security gateways do, DKIM-signs for the sender's domain, and hands the
//! message to the next relay of the chain or to the recipient domain's MX. Faults (delay,
//! greylisting, drop, duplicate, reorder, no SMTPUTF8) model what breaks delivery in the field.
//!
//! - [`routes`]: host names to loopback ports, after an MX lookup in the world's DNS;
//! - [`send`]: handing a message on, with retries;
//! - [`bounce`]: the non-delivery report a relay sends back.
//! - [`pool`]: persistent sessions with one next hop (the MX's LMTP).

pub mod bounce;
pub mod pool;
pub mod routes;
pub mod send;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::dkim::{DkimKey, DkimVerifier, authentication_results};
use crate::dns::WorldResolver;
use crate::mail::{Envelope, Incoming, MailSink, Reply, Session};
use crate::mangle::{self, Mangle};
use crate::seed::SeededRng;
pub use pool::SessionPool;
pub use routes::MailRoutes;
pub use send::{RetryPolicy, SendError, Target};

/// What one relay does to the mail it passes on. Everything is off by default except
/// SMTPUTF8, so a default relay is a well-behaved hop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayBehaviour {
    /// DKIM-sign for the From domain when the world holds that domain's key and the message
    /// has no valid-looking signature of that domain yet.
    pub dkim_sign: bool,
    /// Verify DKIM on arrival and add `Authentication-Results:` (RFC 8601).
    pub dkim_verify: bool,
    /// Advertise SMTPUTF8 (RFC 6531). Off: EAI mail is refused at MAIL FROM, and the sender
    /// must bounce it (RFC 6531 §3.5).
    pub smtputf8: bool,
    /// Hold each message this long before passing it on.
    pub delay_ms: u64,
    /// Answer the first delivery attempt of each (sender, recipient) with 451 4.7.1.
    pub greylist: bool,
    /// Percentage of messages accepted and then silently dropped.
    pub drop_percent: u8,
    /// Pass every message on twice.
    pub duplicate: bool,
    /// Hold every other message (the second, the fourth, ...) until a later message has
    /// been handed on, so that later mail overtakes it.
    pub reorder: bool,
    /// How long `reorder` holds a message when no later one comes to overtake it (real time:
    /// a bound, not the mechanism). Generous, because a later message that comes after it is
    /// no overtaking: under valgrind a second reply took more than the 500 ms this once was.
    pub reorder_hold_ms: u64,
    /// What the relay does to the message, in order (each may break DKIM, see `mangle`).
    pub mangle: Vec<Mangle>,
}

impl Default for RelayBehaviour {
    fn default() -> Self {
        RelayBehaviour {
            dkim_sign: false,
            dkim_verify: false,
            smtputf8: true,
            delay_ms: 0,
            greylist: false,
            drop_percent: 0,
            duplicate: false,
            reorder: false,
            reorder_hold_ms: 5_000,
            mangle: Vec::new(),
        }
    }
}

/// Where a relay passes mail on.
#[derive(Debug, Clone)]
pub enum NextHop {
    /// The next relay of the chain.
    Relay(String),
    /// The recipient domain's MX.
    Mx,
}

/// The DKIM keys a world holds, by domain (A-label, lower case).
#[derive(Debug, Clone, Default)]
pub struct DkimKeys {
    keys: Arc<HashMap<String, Arc<DkimKey>>>,
}

impl DkimKeys {
    /// Keys for these domains.
    pub fn new(keys: Vec<DkimKey>) -> Self {
        DkimKeys {
            keys: Arc::new(
                keys.into_iter()
                    .map(|k| (k.domain().to_ascii_lowercase(), Arc::new(k)))
                    .collect(),
            ),
        }
    }

    /// The key of `domain`, if the world holds one.
    pub fn get(&self, domain: &str) -> Option<Arc<DkimKey>> {
        let domain = crate::protocol::address::domain_to_a_labels(domain)
            .unwrap_or_else(|_| domain.to_ascii_lowercase());
        self.keys.get(&domain).cloned()
    }

    /// All keys.
    pub fn all(&self) -> Vec<Arc<DkimKey>> {
        let mut all: Vec<_> = self.keys.values().cloned().collect();
        all.sort_by(|a, b| a.domain().cmp(b.domain()));
        all
    }
}

/// How many passed-on messages a relay's log keeps; the oldest is dropped first.
pub const MAX_FORWARDED_LOG: usize = 1024;
/// How many (sender, recipient) pairs the greylist remembers; the oldest is forgotten first
/// (its next attempt is deferred once more, as after a greylist's expiry).
pub const MAX_GREYLIST_PAIRS: usize = 10_000;

/// What a relay needs from its world.
#[derive(Debug, Clone)]
pub struct RelayContext {
    /// Host names to ports.
    pub routes: MailRoutes,
    /// The world's DNS.
    pub resolver: WorldResolver,
    /// DKIM keys for signing.
    pub keys: DkimKeys,
    /// The world clock (Received dates).
    pub clock: Clock,
    /// Retries towards the next hop.
    pub retry: RetryPolicy,
}

/// The [`MailSink`] of a relay.
pub struct RelaySink {
    hostname: String,
    behaviour: RelayBehaviour,
    next: NextHop,
    ctx: RelayContext,
    dice: SeededRng,
    greylisted: Mutex<Greylist>,
    sequence: AtomicU64,
    /// Messages handed on (after mangling), for tests and transcripts: the last
    /// [`MAX_FORWARDED_LOG`].
    log: Arc<Mutex<VecDeque<Forwarded>>>,
    /// How many messages were ever logged: wakes [`RelaySink::wait_for_forwarded`].
    logged: tokio::sync::watch::Sender<u64>,
    /// One more than the highest message number handed on so far (0: none yet): what a
    /// message held by `reorder` waits on.
    passed: tokio::sync::watch::Sender<u64>,
    /// How many messages `reorder` holds, or has accepted to hold.
    held: tokio::sync::watch::Sender<u64>,
    /// How many held messages a later one overtook.
    overtaken: AtomicU64,
    /// How many messages every one of the relay's mangles changed.
    mangled: AtomicU64,
    /// The messages being passed on (one task each), aborted by [`RelaySink::shutdown`].
    tasks: Mutex<tokio::task::JoinSet<()>>,
}

/// The (sender, recipient) pairs seen, bounded: a set for the look-up, their order of arrival
/// for forgetting the oldest.
#[derive(Debug, Default)]
struct Greylist {
    seen: HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

impl Greylist {
    fn contains(&self, pair: &(String, String)) -> bool {
        self.seen.contains(pair)
    }

    fn insert(&mut self, pair: (String, String)) {
        if !self.seen.insert(pair.clone()) {
            return;
        }
        self.order.push_back(pair);
        while self.order.len() > MAX_GREYLIST_PAIRS {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
    }
}

/// Waits up to `timeout` until the count behind `counter` satisfies `pred`; whether it did.
async fn wait_for_count(
    counter: &tokio::sync::watch::Sender<u64>,
    pred: impl Fn(u64) -> bool,
    timeout: Duration,
) -> bool {
    let mut changes = counter.subscribe();
    tokio::time::timeout(timeout, changes.wait_for(|n| pred(*n)))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// A message `reorder` holds, on the relay's count of them from its acceptance until its hold
/// ends, however it ends (an aborted task drops it too).
struct HeldSlot(Arc<RelaySink>);

impl HeldSlot {
    fn take(relay: &Arc<RelaySink>) -> Self {
        relay.held.send_modify(|n| *n += 1);
        HeldSlot(Arc::clone(relay))
    }
}

impl Drop for HeldSlot {
    fn drop(&mut self) {
        self.0.held.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl std::fmt::Debug for RelaySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelaySink")
            .field("hostname", &self.hostname)
            .field("behaviour", &self.behaviour)
            .finish_non_exhaustive()
    }
}

/// One message a relay passed on (or failed to).
#[derive(Debug, Clone)]
pub struct Forwarded {
    /// Envelope.
    pub envelope: Envelope,
    /// The bytes sent on (shared with every transaction and copy that sent them).
    pub data: Bytes,
    /// What happened.
    pub outcome: Result<(), String>,
}

impl RelaySink {
    /// A relay sink called `hostname`.
    pub fn new(
        hostname: impl Into<String>,
        behaviour: RelayBehaviour,
        next: NextHop,
        ctx: RelayContext,
        dice: SeededRng,
    ) -> Self {
        RelaySink {
            hostname: hostname.into(),
            behaviour,
            next,
            ctx,
            dice,
            greylisted: Mutex::new(Greylist::default()),
            sequence: AtomicU64::new(0),
            log: Arc::new(Mutex::new(VecDeque::new())),
            logged: tokio::sync::watch::Sender::new(0),
            passed: tokio::sync::watch::Sender::new(0),
            held: tokio::sync::watch::Sender::new(0),
            overtaken: AtomicU64::new(0),
            mangled: AtomicU64::new(0),
            tasks: Mutex::new(tokio::task::JoinSet::new()),
        }
    }

    /// The messages passed on so far (the last [`MAX_FORWARDED_LOG`]), oldest first.
    pub fn forwarded(&self) -> Vec<Forwarded> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().cloned().collect()
    }

    /// How many messages are being passed on now (accepted, not yet logged).
    pub fn in_flight(&self) -> usize {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        while tasks.try_join_next().is_some() {}
        tasks.len()
    }

    /// Stops passing messages on: every message still held or being sent is abandoned (its
    /// task aborted) and awaited. The world calls it after its SMTP servers stopped.
    pub async fn shutdown(&self) {
        let mut tasks = {
            let mut guard = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *guard)
        };
        tasks.shutdown().await;
    }

    fn spawn_forward(self: &Arc<Self>, message: Incoming, id: u64) {
        // Counted as held from here, so that no check finds the count at 0 before the task ran.
        let slot = (self.behaviour.reorder && id % 2 == 1).then(|| HeldSlot::take(self));
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        // Reap what finished, so the set is as large as the messages in flight.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(Arc::clone(self).forward(message, id, slot));
    }

    /// The last message passed on that matches `pred`, waiting for one up to `timeout` (the
    /// relay logs a message once the next hop has answered, which can be after the next hop
    /// acted on it).
    pub async fn wait_for_forwarded(
        &self,
        pred: impl Fn(&Forwarded) -> bool,
        timeout: Duration,
    ) -> Option<Forwarded> {
        let mut changes = self.logged.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = self.forwarded().into_iter().rev().find(|f| pred(f)) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// How many messages held by `reorder` a later message overtook: a scenario about
    /// reordering has exercised it only if this is not 0.
    pub fn overtaken(&self) -> u64 {
        self.overtaken.load(Ordering::Relaxed)
    }

    /// How many messages `reorder` holds now, counted from the relay's acceptance of each.
    pub fn held(&self) -> u64 {
        *self.held.borrow()
    }

    /// Waits up to `timeout` until `reorder` holds no message; whether it came to. A message is
    /// counted as overtaken only once it leaves the hold, which can be after the next hop took
    /// the overtaking one: [`RelaySink::overtaken`] is final once nothing is held.
    pub async fn wait_until_nothing_held(&self, timeout: Duration) -> bool {
        wait_for_count(&self.held, |n| n == 0, timeout).await
    }

    /// How many messages every one of the relay's `mangle`s was applied to: a scenario about
    /// a mangle has exercised it only if this is not 0 (a mangle that does not fit a message,
    /// say a footer on mail with no text part, passes it on unchanged).
    pub fn mangled(&self) -> u64 {
        self.mangled.load(Ordering::Relaxed)
    }

    /// How many messages this relay has logged (handed on, or failed to) since it started.
    pub fn logged_count(&self) -> u64 {
        *self.logged.borrow()
    }

    /// Waits up to `timeout` until more than `count` messages were logged; whether they were.
    pub async fn wait_for_logged_beyond(&self, count: u64, timeout: Duration) -> bool {
        wait_for_count(&self.logged, |n| n > count, timeout).await
    }

    /// The relay's behaviour.
    pub fn behaviour(&self) -> &RelayBehaviour {
        &self.behaviour
    }

    async fn process(&self, message: &Incoming, id: u64) -> Vec<u8> {
        let mut data = message
            .received_field(&self.hostname, Some(id))
            .into_bytes();
        if self.behaviour.dkim_verify {
            let outcomes = DkimVerifier::new(&self.ctx.resolver)
                .verify(&message.data)
                .await;
            let field = authentication_results(&self.hostname, &outcomes);
            data.extend_from_slice(format!("Authentication-Results: {field}\r\n").as_bytes());
        }
        data.extend_from_slice(&message.data);
        let mut skipped = false;
        for m in &self.behaviour.mangle {
            match mangle::apply(&data, m) {
                Ok(mangled) => data = mangled,
                Err(e) => {
                    skipped = true;
                    tracing::warn!(relay = %self.hostname, error = %e, "mangle skipped");
                }
            }
        }
        if !self.behaviour.mangle.is_empty() && !skipped {
            self.mangled.fetch_add(1, Ordering::Relaxed);
        }
        if self.behaviour.dkim_sign
            && let Some(domain) = from_domain(&data)
            && let Some(key) = self.ctx.keys.get(&domain)
        {
            match key.sign(&data, &signed_fields()) {
                Ok(signed) => data = signed,
                Err(e) => tracing::warn!(relay = %self.hostname, error = %e, "DKIM signing failed"),
            }
        }
        data
    }

    async fn forward(self: Arc<Self>, message: Incoming, id: u64, slot: Option<HeldSlot>) {
        // Written once; each recipient domain's transaction, each duplicate and the log share it.
        let data = Bytes::from(self.process(&message, id).await);
        let hold = self.behaviour.delay_ms;
        if hold > 0 {
            // The relay's own queue delay (a behaviour knob), not a wait for an event: it
            // passes in the world's time.
            self.ctx.clock.sleep(Duration::from_millis(hold)).await;
        }
        if let Some(slot) = slot {
            self.hold_until_overtaken(id).await;
            drop(slot);
        }
        let copies = if self.behaviour.duplicate { 2 } else { 1 };
        for _ in 0..copies {
            self.hand_on(&message.envelope, &data).await;
        }
        self.passed.send_if_modified(|passed| {
            let before = *passed;
            *passed = before.max(id + 1);
            *passed != before
        });
    }

    /// `reorder`: holds message `id` until a later message has been handed on (it overtook
    /// this one), so the overtaking is an event, not a race against a timer. When none comes,
    /// `reorder_hold_ms` of real time bounds the hold: a wait in world time would end at once
    /// and let nothing overtake.
    async fn hold_until_overtaken(&self, id: u64) {
        let mut passed = self.passed.subscribe();
        let bound = Duration::from_millis(self.behaviour.reorder_hold_ms);
        let overtaken = tokio::time::timeout(bound, passed.wait_for(|p| *p > id + 1))
            .await
            .is_ok_and(|r| r.is_ok());
        if overtaken {
            self.overtaken.fetch_add(1, Ordering::Relaxed);
        } else {
            tracing::info!(relay = %self.hostname, id, "reorder: nothing overtook the held message");
        }
    }

    async fn hand_on(&self, envelope: &Envelope, data: &Bytes) {
        // One transaction per recipient domain (the next hop differs per domain).
        let mut by_domain: Vec<(String, Vec<String>)> = Vec::new();
        for rcpt in &envelope.rcpt_to {
            let domain = crate::protocol::address::domain_of(rcpt)
                .unwrap_or("")
                .to_owned();
            match by_domain
                .iter_mut()
                .find(|(d, _)| d.eq_ignore_ascii_case(&domain))
            {
                Some((_, list)) => list.push(rcpt.clone()),
                None => by_domain.push((domain, vec![rcpt.clone()])),
            }
        }
        for (domain, rcpts) in by_domain {
            let part = Envelope {
                rcpt_to: rcpts,
                ..envelope.clone()
            };
            let target = match &self.next {
                NextHop::Relay(host) => match self.ctx.routes.get(host) {
                    Some(addr) => Target::Host(host.clone(), addr),
                    None => Target::Mx(domain.clone()),
                },
                NextHop::Mx => Target::Mx(domain.clone()),
            };
            let result = send::send(
                &self.ctx.routes,
                &self.ctx.resolver,
                &target,
                &self.hostname,
                &part,
                data,
                self.ctx.retry.on(&self.ctx.clock),
            )
            .await;
            let outcome = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
            if let Err(error) = &result {
                tracing::info!(relay = %self.hostname, %error, "delivery failed; bouncing");
                self.bounce(&part, data, error).await;
            }
            {
                let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
                if log.len() >= MAX_FORWARDED_LOG {
                    log.pop_front();
                }
                log.push_back(Forwarded {
                    envelope: part,
                    data: data.clone(),
                    outcome,
                });
            }
            self.logged.send_modify(|n| *n += 1);
        }
    }

    /// RFC 5321 §6.1 / §4.5.5: a relay that accepted a message and cannot deliver it sends a
    /// non-delivery report to the reverse-path, from the null reverse-path. Never for a bounce.
    async fn bounce(&self, envelope: &Envelope, data: &[u8], error: &SendError) {
        if envelope.mail_from.is_empty() {
            return;
        }
        let report = bounce::build(
            &self.hostname,
            envelope,
            data,
            &error.reply(),
            self.ctx.clock.now().unix_timestamp(),
        );
        let sender_domain = crate::protocol::address::domain_of(&envelope.mail_from)
            .unwrap_or_default()
            .to_owned();
        let dsn_envelope = Envelope {
            mail_from: String::new(),
            rcpt_to: vec![envelope.mail_from.clone()],
            smtputf8: envelope.smtputf8,
            body_8bit: false,
        };
        if let Err(e) = send::send(
            &self.ctx.routes,
            &self.ctx.resolver,
            &Target::Mx(sender_domain),
            &self.hostname,
            &dsn_envelope,
            &report,
            self.ctx.retry.on(&self.ctx.clock),
        )
        .await
        {
            tracing::warn!(relay = %self.hostname, error = %e, "the bounce could not be delivered");
        }
    }
}

/// The header fields the world's signers cover: everything RFC 8823 §3.1 item 6 and §3.2
/// item 9 require, plus what they recommend (SMIME-29/30/52/53).
pub fn signed_fields() -> Vec<&'static str> {
    use crate::protocol::smime::{CHALLENGE_DKIM_MUST_SIGN, DKIM_SHOULD_SIGN};
    CHALLENGE_DKIM_MUST_SIGN
        .iter()
        .chain(DKIM_SHOULD_SIGN)
        .copied()
        .collect()
}

/// The domain of the single From address (RFC 5322), for choosing the DKIM key.
pub fn from_domain(raw: &[u8]) -> Option<String> {
    let message = mail_parser::MessageParser::default().parse_headers(raw)?;
    let from = message.from()?.first()?.address()?.to_owned();
    crate::protocol::address::domain_of(&from).map(str::to_ascii_lowercase)
}

/// The shared relay sink type the SMTP server holds.
#[derive(Debug, Clone)]
pub struct SharedRelay(pub Arc<RelaySink>);

#[async_trait::async_trait]
impl MailSink for SharedRelay {
    async fn check_recipient(&self, _rcpt: &str, _session: &Session) -> Result<(), Reply> {
        // A relay of this world relays for anyone on loopback: it sits inside the world.
        Ok(())
    }

    async fn deliver(&self, message: Incoming) -> Vec<Result<(), Reply>> {
        let relay = &self.0;
        let n = message.envelope.rcpt_to.len();
        if relay.behaviour.greylist {
            // Greylisting (RFC 6647): the first attempt of each (sender, recipient) is
            // deferred; a retry is accepted.
            let mut seen = relay.greylisted.lock().unwrap_or_else(|p| p.into_inner());
            let fresh: Vec<(String, String)> = message
                .envelope
                .rcpt_to
                .iter()
                .map(|r| {
                    (
                        message.envelope.mail_from.to_ascii_lowercase(),
                        r.to_ascii_lowercase(),
                    )
                })
                .filter(|pair| !seen.contains(pair))
                .collect();
            if !fresh.is_empty() {
                for pair in fresh {
                    seen.insert(pair);
                }
                return vec![
                    Err(Reply::new(
                        451,
                        (4, 7, 1),
                        "greylisted, please try again later"
                    ));
                    n
                ];
            }
        }
        let id = relay.sequence.fetch_add(1, Ordering::Relaxed);
        if relay.dice.chance(relay.behaviour.drop_percent) {
            tracing::info!(relay = %relay.hostname, id, "dropping a message (knob drop_percent)");
            return vec![Ok(()); n];
        }
        relay.spawn_forward(message, id);
        vec![Ok(()); n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(i: usize) -> (String, String) {
        (format!("s{i}@a.test"), "r@b.test".to_owned())
    }

    #[test]
    fn the_greylist_forgets_its_oldest_pair_beyond_its_bound() {
        let mut g = Greylist::default();
        for i in 0..MAX_GREYLIST_PAIRS {
            g.insert(pair(i));
        }
        g.insert(pair(0));
        assert!(
            g.contains(&pair(0)) && g.seen.len() == MAX_GREYLIST_PAIRS,
            "a repeat is free"
        );
        g.insert(pair(MAX_GREYLIST_PAIRS));
        assert!(!g.contains(&pair(0)), "the oldest is forgotten");
        assert!(g.contains(&pair(1)) && g.contains(&pair(MAX_GREYLIST_PAIRS)));
        assert_eq!(
            (g.seen.len(), g.order.len()),
            (MAX_GREYLIST_PAIRS, MAX_GREYLIST_PAIRS)
        );
    }
}
