//! DNS TXT queries over UDP: `in_flight` sockets, each with one query outstanding, for
//! `queries` queries in all. The wire format is hickory's. Besides the whole run's rate it
//! records when each tenth of the queries was done, so the first and the last tenth's rates
//! show whether the server stays flat as its history grows.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

use super::{Measured, Stopwatch};

/// The TXT name every query asks for.
pub const TXT_NAME: &str = "_acme-challenge.bench.example.test.";
/// Its value, set on each server before the run.
pub const TXT_VALUE: &str = "bench-txt-value";
/// A query unanswered this long is sent again (UDP may drop it); it still counts once.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Resends of one query before the run fails.
const MAX_RETRIES: usize = 5;

/// Runs `queries` TXT queries for [`TXT_NAME`] against `server`, each answer checked.
pub async fn drive(
    server: SocketAddr,
    in_flight: usize,
    queries: usize,
    pids: &[u32],
) -> Result<Measured, String> {
    let name = Name::from_ascii(TXT_NAME).map_err(|e| e.to_string())?;
    let tenth = (queries / 10).max(1);
    let marks = Arc::new(Mutex::new(vec![None::<Instant>; 11]));
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let resent = Arc::new(AtomicUsize::new(0));
    let mut sockets = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        socket.connect(server).await.map_err(|e| e.to_string())?;
        sockets.push(socket);
    }
    let watch = Stopwatch::start(pids);
    let started = watch.started;
    marks.lock().unwrap_or_else(PoisonError::into_inner)[0] = Some(started);
    let mut tasks = tokio::task::JoinSet::new();
    for socket in sockets {
        let (name, marks, next, done, resent) = (
            name.clone(),
            Arc::clone(&marks),
            Arc::clone(&next),
            Arc::clone(&done),
            Arc::clone(&resent),
        );
        tasks.spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= queries {
                    return Ok::<_, String>(());
                }
                let id = (k % 65_536) as u16;
                let mut query = Message::new(id, MessageType::Query, OpCode::Query);
                query.add_query(Query::query(name.clone(), RecordType::TXT));
                let wire = query.to_vec().map_err(|e| e.to_string())?;
                let mut tries = 0;
                let answer = loop {
                    socket.send(&wire).await.map_err(|e| e.to_string())?;
                    match tokio::time::timeout(RETRY_AFTER, recv_id(&socket, &mut buf, id)).await {
                        Ok(answer) => break answer?,
                        Err(_) if tries < MAX_RETRIES => {
                            tries += 1;
                            resent.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => return Err(format!("no answer to query {k}")),
                    }
                };
                let txt = answer.answers.first().map(|r| &r.data);
                if answer.metadata.response_code != ResponseCode::NoError
                    || !matches!(txt, Some(RData::TXT(t)) if t.to_string() == TXT_VALUE)
                {
                    return Err(format!("query {k}: a wrong answer: {answer:?}"));
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished % tenth == 0 && finished / tenth <= 10 {
                    marks.lock().unwrap_or_else(PoisonError::into_inner)[finished / tenth] =
                        Some(Instant::now());
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| e.to_string())??;
    }
    let marks = marks.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let rate = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
        (Some(a), Some(b)) if b > a => tenth as f64 / (b - a).as_secs_f64(),
        _ => 0.0,
    };
    let mut measured = watch.stop(queries);
    measured.first_tenth = Some(rate(marks[0], marks[1]));
    measured.last_tenth = Some(rate(marks[9], marks[10]));
    measured.resent = resent.load(Ordering::Relaxed);
    Ok(measured)
}

/// Receives until the answer with `id` (a late answer to an earlier, resent query is dropped).
async fn recv_id(socket: &UdpSocket, buf: &mut [u8], id: u16) -> Result<Message, String> {
    loop {
        let n = socket.recv(buf).await.map_err(|e| e.to_string())?;
        let answer = Message::from_vec(&buf[..n]).map_err(|e| format!("not DNS: {e}"))?;
        if answer.metadata.id == id && answer.metadata.message_type == MessageType::Response {
            return Ok(answer);
        }
    }
}

/// The null DNS server: every query gets one TXT answer, [`TXT_VALUE`], built by hickory; a
/// datagram that does not parse gets FORMERR when its id can be read, else nothing. A query
/// repeating the last one's octets (all but the ID) gets the last answer with its own ID, so the
/// ceiling is what the generator can send, not what hickory's parser and encoder cost.
pub async fn null_server() -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let addr = socket.local_addr()?;
    let mut workers = Vec::new();
    // Two receivers on one socket: the machine has two cores, so does the null server.
    for _ in 0..2 {
        let socket = Arc::clone(&socket);
        workers.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            // The last query after its ID, and the answer sent to it.
            let mut last: Option<(Vec<u8>, Vec<u8>)> = None;
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                if let Some((query, answer)) = &mut last
                    && n > 2
                    && buf[2..n] == query[..]
                {
                    answer[..2].copy_from_slice(&buf[..2]);
                    let _ = socket.send_to(answer, from).await;
                    continue;
                }
                let answer = match Message::from_vec(&buf[..n]) {
                    Ok(query) => {
                        let mut answer =
                            Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
                        answer.metadata.authoritative = true;
                        if let Some(q) = query.queries.first() {
                            answer.add_query(q.clone());
                            answer.add_answer(Record::from_rdata(
                                q.name().clone(),
                                60,
                                RData::TXT(TXT::new(vec![TXT_VALUE.to_owned()])),
                            ));
                        }
                        answer
                    }
                    Err(_) if n >= 2 => {
                        let mut answer = Message::new(
                            u16::from_be_bytes([buf[0], buf[1]]),
                            MessageType::Response,
                            OpCode::Query,
                        );
                        answer.metadata.response_code = ResponseCode::FormErr;
                        answer
                    }
                    Err(_) => continue,
                };
                if let Ok(wire) = answer.to_vec() {
                    let _ = socket.send_to(&wire, from).await;
                    if wire.len() > 2 && answer.metadata.response_code == ResponseCode::NoError {
                        last = Some((buf[2..n].to_vec(), wire));
                    }
                }
            }
        }));
    }
    let task = tokio::spawn(async move {
        for w in workers {
            let _ = w.await;
        }
    });
    Ok((addr, task))
}
