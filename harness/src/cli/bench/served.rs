//! `bench smtp` on the path `serve` runs: a world started as `serve` starts it, SMTP clients
//! on loopback sending to its MX, which hands each message to LMTP, which files it in the
//! store, with every transcript kept as served. The run is cut in tenths, and the first and
//! the last are compared, so a store that costs more as mail accumulates shows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acmeproof_mocks::mail::Envelope;
use acmeproof_mocks::smtp::client::{ClientTls, SmtpClient};
use acmeproof_mocks::world::mail::UserSpec;
use acmeproof_mocks::world::{World, WorldConfig};

/// One tenth of the run.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    /// Messages sent in it.
    pub messages: usize,
    /// Its wall time.
    pub wall: Duration,
    /// The process's CPU time in it (servers and generator alike: one process).
    pub cpu: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    fn cpu_us_per_message(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.messages.max(1) as f64
    }
}

/// What the served run measured.
#[derive(Debug, Clone)]
pub struct Served {
    /// Every tenth, in order.
    pub phases: Vec<Phase>,
    /// Messages found in the store afterwards.
    pub stored: usize,
    /// Connections the MX opened to LMTP.
    pub lmtp_connections: u64,
}

/// The CPU time this process has used (user + system), from `/proc/self/stat`; zero where
/// the system does not say.
pub fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // proc(5): utime and stime are fields 14 and 15, in clock ticks (USER_HZ, 100 on Linux).
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Sends `messages` messages of about `size` octets over `connections` SMTP sessions to the
/// served MX of a fresh world, each session to its own mailbox.
pub async fn run(connections: usize, messages: usize, size: usize) -> Result<Served, String> {
    let mut config = WorldConfig::example();
    let users: Vec<UserSpec> = (0..connections)
        .map(|i| UserSpec {
            address: format!("bench-{i}@example.test"),
            password: format!("bench-{i}-password"),
        })
        .collect();
    config.mail.users.extend(users.iter().cloned());
    let world = World::start(config)
        .await
        .map_err(|e| format!("world: {e}"))?;
    let result = drive(&world, &users, messages, size).await;
    world.shutdown().await;
    result
}

async fn drive(
    world: &World,
    users: &[UserSpec],
    messages: usize,
    size: usize,
) -> Result<Served, String> {
    let mail = world.mail.as_ref().ok_or("the world has no mail plane")?;
    let mx = mail.mx.addr();
    let body = Arc::new(acmeproof_mocks::smtp::bench::message_of(size));
    let mut sessions = Vec::with_capacity(users.len());
    for user in users {
        let client = SmtpClient::connect(mx, "client.bench.test", ClientTls::None, false)
            .await
            .map_err(|e| format!("connect to the MX: {e}"))?;
        let envelope = Envelope {
            mail_from: "bench@client.bench.test".into(),
            rcpt_to: vec![user.address.clone()],
            ..Envelope::default()
        };
        sessions.push((client, envelope));
    }
    let tenth = messages.div_ceil(10).max(1);
    let mut phases = Vec::new();
    let mut left = messages;
    while left > 0 {
        let count = tenth.min(left);
        left -= count;
        let cpu = process_cpu();
        let started = Instant::now();
        sessions = phase(sessions, count, &body).await?;
        phases.push(Phase {
            messages: count,
            wall: started.elapsed(),
            cpu: process_cpu().saturating_sub(cpu),
        });
    }
    for (client, _) in sessions {
        let _ = client.quit().await;
    }
    let stored = users
        .iter()
        .map(|u| {
            mail.store
                .messages(&u.address, acmeproof_mocks::mailstore::INBOX)
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum();
    Ok(Served {
        phases,
        stored,
        lmtp_connections: mail.mx_lmtp.opened(),
    })
}

type Session = (SmtpClient, Envelope);

/// Sends `count` messages spread over the sessions; gives the sessions back.
async fn phase(
    sessions: Vec<Session>,
    count: usize,
    body: &Arc<Vec<u8>>,
) -> Result<Vec<Session>, String> {
    let n = sessions.len().max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (mut client, envelope)) in sessions.into_iter().enumerate() {
        let share = count / n + usize::from(i < count % n);
        let body = Arc::clone(body);
        tasks.spawn(async move {
            for _ in 0..share {
                let replies = client
                    .send(&envelope, &body)
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                if let Some(bad) = replies.into_iter().find(|r| !r.is_positive()) {
                    return Err(format!("the MX refused a message: {bad}"));
                }
            }
            Ok::<_, String>((client, envelope))
        });
    }
    let mut back = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        back.push(joined.map_err(|e| format!("bench task: {e}"))??);
    }
    Ok(back)
}

/// The report lines.
pub fn report(r: &Served, connections: usize, size: usize) -> String {
    let messages: usize = r.phases.iter().map(|p| p.messages).sum();
    let wall: Duration = r.phases.iter().map(|p| p.wall).sum();
    let cpu: Duration = r.phases.iter().map(|p| p.cpu).sum();
    let mut s = format!(
        "SMTP through the served path (MX -> LMTP -> store, transcripts kept): {messages} \
         messages of {size} octets in {:.2} s = {:.0} per second ({connections} connections, \
         {} LMTP connections, {} messages stored, release: {})\n\
         process CPU per message (servers and generator): {:.1} us",
        wall.as_secs_f64(),
        messages as f64 / wall.as_secs_f64().max(1e-9),
        r.lmtp_connections,
        r.stored,
        !cfg!(debug_assertions),
        cpu.as_secs_f64() * 1e6 / messages.max(1) as f64,
    );
    if let (Some(first), Some(last)) = (r.phases.first(), r.phases.last())
        && r.phases.len() > 1
    {
        s.push_str(&format!(
            "\nfirst tenth: {:.0} per second, {:.1} us CPU per message\n\
             last tenth:  {:.0} per second, {:.1} us CPU per message ({:+.1} % CPU per message)",
            first.rate(),
            first.cpu_us_per_message(),
            last.rate(),
            last.cpu_us_per_message(),
            (last.cpu_us_per_message() / first.cpu_us_per_message().max(1e-9) - 1.0) * 100.0,
        ));
    }
    s
}
