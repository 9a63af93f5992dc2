//! The request handler in front of hickory's `Catalog`: TSIG, UPDATE, faults and the history.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_net::runtime::Time;
use hickory_net::xfer::Protocol;
use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{LowerName, TSigResponseContext, TSigner};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::history::{History, QueryRecord, Transport};
use super::signed::SigningHandle;
use super::tsig::{self, ResponseSigner, TsigCheck};
use super::zones::Zones;
use super::{Fault, update};
use crate::clock::Clock;

/// State shared by the handler and the [`super::DnsServer`] handle.
pub(crate) struct Shared {
    pub(crate) zones: Zones,
    pub(crate) faults: Mutex<HashMap<LowerName, Fault>>,
    pub(crate) history: History,
    pub(crate) clock: Clock,
    pub(crate) signer: Option<TSigner>,
    pub(crate) allow_unsigned_update: bool,
}

impl Shared {
    fn fault_for(&self, name: &LowerName) -> Option<Fault> {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
    }
}

/// The `RequestHandler` given to hickory's `Server`.
pub(crate) struct Handler(pub(crate) Arc<Shared>);

/// What handling a request produced, for the history.
struct Outcome {
    /// `None` when nothing was sent.
    info: Option<ResponseInfo>,
    fault: Option<Fault>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        self.handle::<R, T>(request, response_handle).await.0
    }
}

impl Handler {
    /// Answers `request` and records it in the history. The record comes back too when the
    /// answer depends on nothing but the request's octets and the zones (an unsigned query
    /// whose name has no fault), so it may be replayed for the same octets (see
    /// [`super::answer_cache`]).
    pub(crate) async fn handle<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> (ResponseInfo, Option<QueryRecord>) {
        let shared = &self.0;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let check = tsig::check_request(shared.signer.as_ref(), request, request.as_slice(), now);
        let tsig_key = match &check {
            TsigCheck::Unsigned => None,
            TsigCheck::Valid { key_name, .. } | TsigCheck::Invalid { key_name, .. } => {
                Some(key_name.clone())
            }
        };
        let (name, qtype) = request
            .queries
            .queries()
            .first()
            .map(|q| {
                let original = q.original();
                (
                    original.name().to_string(),
                    original.query_type().to_string(),
                )
            })
            .unwrap_or_default();

        let op_code = request.metadata.op_code;
        let outcome = match op_code {
            OpCode::Update => self.update::<R>(request, check, response_handle).await,
            OpCode::Query => self.query::<R, T>(request, check, response_handle).await,
            // Other opcodes: the Catalog answers NOTIMP (RFC 1035 §4.1.1).
            _ => Outcome {
                info: Some(
                    self.catalog::<R, T>(request, check.into_signer(), response_handle)
                        .await,
                ),
                fault: None,
            },
        };

        let record = QueryRecord {
            time: shared.clock.now(),
            transport: match request.protocol() {
                Protocol::Tcp => Transport::Tcp,
                _ => Transport::Udp,
            },
            peer: request.src(),
            opcode: op_code.to_string().to_ascii_lowercase(),
            name,
            qtype,
            rcode: outcome.info.map(|i| format!("{:?}", i.response_code)),
            answers: outcome.info.map(|i| i.counts().answers).unwrap_or(0),
            fault: outcome.fault,
            tsig_key,
        };
        let replayable = op_code == OpCode::Query
            && record.tsig_key.is_none()
            && outcome.fault.is_none()
            && outcome.info.is_some();
        let replay = replayable.then(|| record.clone());
        shared.history.push(record);
        let info = outcome.info.unwrap_or_else(|| {
            // Nothing was sent ([`Fault::NoAnswer`]); hickory only logs this value.
            ResponseInfo::from(Header {
                metadata: response_metadata(request, ResponseCode::NoError),
                counts: HeaderCounts::default(),
            })
        });
        (info, replay)
    }

    /// Records a replayed answer: `first`'s record, now and from `peer`.
    pub(crate) fn record_replay(&self, first: &QueryRecord, peer: SocketAddr) {
        self.0.history.push(QueryRecord {
            time: self.0.clock.now(),
            peer,
            ..first.clone()
        });
    }

    /// The zones' change count (see [`super::zones::Zones::generation`]).
    pub(crate) fn generation(&self) -> u64 {
        self.0.zones.generation()
    }

    async fn update<R: ResponseHandler>(
        &self,
        request: &Request,
        check: TsigCheck,
        handle: R,
    ) -> Outcome {
        let shared = &self.0;
        let (rcode, ctx) = match check {
            // RFC 8945 §5.2: a failed TSIG check is answered NOTAUTH before anything else.
            TsigCheck::Invalid { error, context, .. } => {
                tracing::info!(?error, "UPDATE with bad TSIG refused");
                (ResponseCode::NotAuth, Some(context))
            }
            TsigCheck::Unsigned if !shared.allow_unsigned_update => {
                tracing::info!("unsigned UPDATE refused");
                (ResponseCode::Refused, None)
            }
            TsigCheck::Unsigned => (update::apply(&shared.zones, request).await, None),
            TsigCheck::Valid { response, .. } => (
                update::apply(&shared.zones, request).await,
                Some(response.context()),
            ),
        };
        Outcome {
            info: send_no_records(request, handle, response_metadata(request, rcode), ctx).await,
            fault: None,
        }
    }

    async fn query<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        check: TsigCheck,
        handle: R,
    ) -> Outcome {
        let shared = &self.0;
        if let TsigCheck::Invalid { context, .. } = check {
            let meta = response_metadata(request, ResponseCode::NotAuth);
            return Outcome {
                info: send_no_records(request, handle, meta, Some(context)).await,
                fault: None,
            };
        }
        // RFC 8945 §5.3: a verified request gets a signed answer, whoever builds it.
        let signer = check.into_signer();
        let ctx = signer.as_ref().map(ResponseSigner::context);
        let fault = request
            .queries
            .queries()
            .first()
            .and_then(|q| shared.fault_for(q.name()));
        match fault {
            Some(Fault::ServFail) => {
                let meta = response_metadata(request, ResponseCode::ServFail);
                Outcome {
                    info: send_no_records(request, handle, meta, ctx).await,
                    fault,
                }
            }
            Some(Fault::NoAnswer) => Outcome { info: None, fault },
            Some(Fault::Truncate) if request.protocol() == Protocol::Udp => {
                // RFC 1035 §4.2.1 / RFC 7766 §5: TC=1 sends the client to TCP.
                let mut meta = response_metadata(request, ResponseCode::NoError);
                meta.authoritative = true;
                meta.truncation = true;
                Outcome {
                    info: send_no_records(request, handle, meta, ctx).await,
                    fault,
                }
            }
            _ => Outcome {
                info: Some(self.catalog::<R, T>(request, signer, handle).await),
                fault,
            },
        }
    }

    /// The Catalog's answer; through a [`SigningHandle`] when the request was verified, else
    /// straight to `handle` as before.
    async fn catalog<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        signer: Option<ResponseSigner>,
        handle: R,
    ) -> ResponseInfo {
        let zones = self.0.zones.read().await;
        match signer {
            None => zones.catalog.handle_request::<R, T>(request, handle).await,
            Some(signer) => {
                let handle = SigningHandle::new(handle, signer, request.protocol());
                zones
                    .catalog
                    .handle_request::<SigningHandle<R>, T>(request, handle)
                    .await
            }
        }
    }
}

fn response_metadata(request: &Request, rcode: ResponseCode) -> Metadata {
    let mut meta = Metadata::new(
        request.metadata.id,
        MessageType::Response,
        request.metadata.op_code,
    );
    meta.recursion_desired = request.metadata.recursion_desired;
    meta.response_code = rcode;
    meta
}

/// Sends a response without records, signed when `ctx` says so (RFC 8945 §5.3: the MAC covers
/// the request MAC, the response as sent without the TSIG RR, and the TSIG variables).
async fn send_no_records<R: ResponseHandler>(
    request: &Request,
    mut handle: R,
    meta: Metadata,
    ctx: Option<TSigResponseContext>,
) -> Option<ResponseInfo> {
    let mut response = MessageResponseBuilder::from_message_request(request).build_no_records(meta);
    if let Some(ctx) = ctx {
        let mut unsigned = Vec::with_capacity(512);
        let emitted = MessageResponseBuilder::from_message_request(request)
            .build_no_records(meta)
            .destructive_emit(&mut BinEncoder::new(&mut unsigned));
        match emitted
            .map_err(|e| e.to_string())
            .and_then(|_| ctx.sign(&unsigned).map_err(|e| e.to_string()))
        {
            Ok(sig) => response.set_signature(sig),
            Err(error) => tracing::warn!(%error, "could not sign response"),
        }
    }
    match handle.send_response(response).await {
        Ok(info) => Some(info),
        Err(error) => {
            tracing::debug!(%error, "could not send response");
            None
        }
    }
}
