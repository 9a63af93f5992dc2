//! The UDP side of the server: receivers that read datagrams off one socket and run each
//! request through the same [`Handler`] (TSIG, UPDATE, faults, the `Catalog`, the history)
//! inline, writing the answer back on the socket once the handler is done. TCP stays with hickory's `Server`.
//!
//! Why not hickory's own UDP loop: it spawns a task per datagram and sends every answer through
//! a channel to a writer task, so each query costs two task wake-ups and a channel hop on top of
//! the lookup. Here a query costs one `recv_from`, the handler, and one `send_to`; a few
//! receivers share the socket so every core can answer. Parsing and writing stay hickory's
//! (`Request::from_bytes`, `MessageResponse::destructive_emit`): no DNS wire format is written
//! here, and what hickory answers for malformed input (FORMERR, or silence under 12 octets) is
//! answered the same way.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use hickory_net::NetError;
use hickory_net::runtime::TokioTime;
use hickory_net::xfer::Protocol;
use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::handler::Handler;

/// Largest datagram read (hickory's `MAX_RECEIVE_BUFFER_SIZE`); a longer one is cut by the
/// kernel and then fails to parse (FORMERR), as with hickory's loop.
const RECEIVE_BUFFER: usize = 4_096;
/// RFC 1035 §4.2.1: "Messages carried by UDP are restricted to 512 bytes" unless EDNS (RFC 6891
/// §6.2.3) advertises a larger payload.
const UDP_PLAIN_MAX: u16 = 512;
/// Receivers on the socket: one per core, at most this many.
const MAX_RECEIVERS: usize = 4;
/// How long [`UdpReceivers::stop`] waits for the receivers to end once aborted.
const STOP_BOUND: Duration = Duration::from_secs(5);

/// The receiver tasks; dropping this aborts them.
pub(crate) struct UdpReceivers(Vec<JoinHandle<()>>);

impl UdpReceivers {
    /// Starts one receiver per core (at most [`MAX_RECEIVERS`]) on `socket`.
    pub(crate) fn start(socket: UdpSocket, handler: Arc<Handler>) -> UdpReceivers {
        let socket = Arc::new(socket);
        let count = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .clamp(1, MAX_RECEIVERS);
        let tasks = (0..count)
            .map(|_| tokio::spawn(receive(socket.clone(), handler.clone())))
            .collect();
        UdpReceivers(tasks)
    }

    /// Aborts the receivers and waits (bounded) until they are gone, so the socket is closed
    /// when this returns.
    pub(crate) async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.0);
        for task in &tasks {
            task.abort();
        }
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(STOP_BOUND, all).await.is_err() {
            tracing::warn!("dns udp receivers did not stop in time");
        }
    }
}

impl Drop for UdpReceivers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// One receiver: read a datagram, answer it, repeat. Requests on one receiver are answered in
/// turn; the handler never waits on anything but short in-process locks.
async fn receive(socket: Arc<UdpSocket>, handler: Arc<Handler>) {
    let mut buf = vec![0u8; RECEIVE_BUFFER];
    // One request at a time per receiver, so one answer slot serves them all.
    let responder = UdpResponder {
        out: Arc::new(Mutex::new(Vec::new())),
    };
    loop {
        let (len, src) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(error) => {
                // An ICMP error from an earlier send can surface here on some systems; only a
                // socket that is gone ends the loop (as in hickory's loop).
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::NotConnected | std::io::ErrorKind::ConnectionAborted
                ) {
                    tracing::warn!(%error, "dns udp socket closed");
                    return;
                }
                tracing::debug!(%error, "dns udp receive error");
                continue;
            }
        };
        if !answerable(src) {
            tracing::debug!(%src, "dns udp datagram from an address that cannot be answered");
            continue;
        }
        answer(&buf[..len], src, &socket, &handler, &responder).await;
    }
}

/// Port 0 and unspecified or broadcast sources cannot be answered (hickory's
/// `sanitize_src_address` drops them too).
fn answerable(src: SocketAddr) -> bool {
    if src.port() == 0 || src.ip().is_unspecified() {
        return false;
    }
    match src {
        SocketAddr::V4(v4) => !v4.ip().is_broadcast(),
        SocketAddr::V6(_) => true,
    }
}

/// Parses one datagram and runs it through the handler, as hickory's server does, then sends
/// what the handler answered. Sending after the handler returns means the history holds the
/// query before the client can see the answer, so a judge that reads the history right after
/// an answer finds it there.
async fn answer(
    datagram: &[u8],
    src: SocketAddr,
    socket: &UdpSocket,
    handler: &Handler,
    responder: &UdpResponder,
) {
    respond(datagram, src, handler, responder.clone()).await;
    let answers = std::mem::take(&mut *responder.lock());
    for bytes in answers {
        if let Err(error) = socket.send_to(&bytes, src).await {
            tracing::debug!(%error, %src, "could not send dns response");
        }
    }
}

/// The handler's part of [`answer`]: what it answers lands in `responder`.
async fn respond(datagram: &[u8], src: SocketAddr, handler: &Handler, responder: UdpResponder) {
    let header = match Header::read(&mut BinDecoder::new(datagram)) {
        Ok(header) => header,
        // Under 12 octets: not a DNS message; no header to answer with.
        Err(_) => return,
    };
    match Request::from_bytes(datagram.to_vec(), src, Protocol::Udp) {
        // Never answer a response (reflection).
        Ok(request) if request.metadata.message_type == MessageType::Response => {}
        Ok(request) => {
            handler
                .handle_request::<_, TokioTime>(&request, responder)
                .await;
        }
        // RFC 1035 §4.1.1 RCODE 1, "Format error - The name server was unable to interpret
        // the query."
        Err(error) => {
            tracing::debug!(%error, %src, "malformed dns request");
            if header.metadata.message_type == MessageType::Response {
                return;
            }
            let Ok(queries) = Queries::read(&mut BinDecoder::new(&[]), 0) else {
                return;
            };
            let response = MessageResponseBuilder::new(&queries, None)
                .error_msg(&header.metadata, ResponseCode::FormErr);
            let mut responder = responder;
            if let Err(error) = responder.send_response(response).await {
                tracing::debug!(%error, "could not send FORMERR");
            }
        }
    }
}

/// Collects the encoded answers of one request, for [`answer`] to send.
#[derive(Clone)]
struct UdpResponder {
    out: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl UdpResponder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        self.out.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl ResponseHandler for UdpResponder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let id = response.metadata().id;
        let max = response
            .edns()
            .map_or(UDP_PLAIN_MAX, |edns| edns.max_payload().max(UDP_PLAIN_MAX));
        let mut bytes = Vec::with_capacity(usize::from(UDP_PLAIN_MAX));
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(max);
        let info = match response.destructive_emit(&mut encoder) {
            Ok(info) => info,
            Err(error) => {
                // What hickory sends when an answer cannot be encoded: a bare SERVFAIL.
                tracing::warn!(%error, "could not encode dns response");
                bytes.clear();
                let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
                metadata.response_code = ResponseCode::ServFail;
                let header = Header {
                    metadata,
                    counts: HeaderCounts::default(),
                };
                header.emit(&mut BinEncoder::new(&mut bytes))?;
                ResponseInfo::from(header)
            }
        };
        self.lock().push(bytes);
        Ok(info)
    }
}
