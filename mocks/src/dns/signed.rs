//! Signing the `Catalog`'s answers to TSIG-signed requests (RFC 8945 §5.3).
//!
//! The `Catalog` writes its answer straight to the `ResponseHandler` it is given, and hickory
//! signs only when its own zone handlers verified the request (hickory-server `dnssec-*`, not
//! used here). So a verified request gets a [`SigningHandle`] around the real handle: it emits
//! the answer once (leaving room for the TSIG RR on UDP), reads the parts back, has
//! hickory-proto's `TSigResponseContext` sign exactly those parts as they will be emitted, and
//! passes them on with the TSIG RR attached. Unsigned requests never come here.

use std::iter;

use async_trait::async_trait;
use hickory_net::NetError;
use hickory_net::xfer::Protocol;
use hickory_proto::op::{Header, Message, MessageType, Metadata, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::rr::rdata::TSIG;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::server::{ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};

use super::tsig::ResponseSigner;

/// A `ResponseHandler` that signs what it sends with the key that signed the request.
#[derive(Clone)]
pub(crate) struct SigningHandle<R> {
    inner: R,
    signer: ResponseSigner,
    protocol: Protocol,
}

impl<R> SigningHandle<R> {
    pub(crate) fn new(inner: R, signer: ResponseSigner, protocol: Protocol) -> Self {
        SigningHandle {
            inner,
            signer,
            protocol,
        }
    }
}

/// A response taken apart: the question section as emitted, and the rest.
struct Parts {
    queries: Queries,
    message: Message,
}

impl Parts {
    fn decode(bytes: &[u8]) -> Result<Parts, String> {
        let message = Message::from_vec(bytes).map_err(|e| e.to_string())?;
        let mut decoder = BinDecoder::new(bytes);
        let header = Header::read(&mut decoder).map_err(|e| e.to_string())?;
        let queries = Queries::read(&mut decoder, usize::from(header.counts.queries))
            .map_err(|e| e.to_string())?;
        Ok(Parts { queries, message })
    }

    /// A header-only SERVFAIL (what hickory sends when a response cannot be encoded).
    fn servfail(meta: &Metadata) -> Result<Parts, String> {
        let queries = Queries::read(&mut BinDecoder::new(&[]), 0).map_err(|e| e.to_string())?;
        let mut message = Message::new(meta.id, MessageType::Response, meta.op_code);
        message.metadata.response_code = ResponseCode::ServFail;
        Ok(Parts { queries, message })
    }

    /// RFC 8945 §5.3: when the TSIG RR does not fit, the answer shrinks to the question and
    /// the TSIG RR, with TC=1 and RCODE NOERROR.
    fn truncate(&mut self) {
        let m = &mut self.message;
        m.answers.clear();
        m.authorities.clear();
        m.additionals.clear();
        m.edns = None;
        m.metadata.truncation = true;
        m.metadata.response_code = ResponseCode::NoError;
    }

    fn response(
        &self,
    ) -> MessageResponse<
        '_,
        '_,
        std::slice::Iter<'_, Record>,
        std::slice::Iter<'_, Record>,
        iter::Empty<&Record>,
        std::slice::Iter<'_, Record>,
    > {
        let m = &self.message;
        MessageResponseBuilder::new(&self.queries, m.edns.as_ref()).build(
            m.metadata,
            m.answers.iter(),
            m.authorities.iter(),
            iter::empty(),
            m.additionals.iter(),
        )
    }

    /// The response as it will go out, less the TSIG RR: what the MAC covers.
    fn unsigned_bytes(&self) -> Result<Vec<u8>, String> {
        let mut bytes = Vec::with_capacity(512);
        self.response()
            .destructive_emit(&mut BinEncoder::new(&mut bytes))
            .map_err(|e| e.to_string())?;
        Ok(bytes)
    }
}

fn encoded_len(sig: &Record<TSIG>) -> Result<usize, String> {
    let mut bytes = Vec::with_capacity(128);
    sig.emit(&mut BinEncoder::new(&mut bytes))
        .map_err(|e| e.to_string())?;
    Ok(bytes.len())
}

impl<R> SigningHandle<R> {
    fn sign(&self, bytes: &[u8]) -> Result<Box<Record<TSIG>>, String> {
        self.signer.context().sign(bytes).map_err(|e| e.to_string())
    }

    /// Takes `response` apart (emitted within `limit - room`) and signs it; shrinks it per
    /// RFC 8945 §5.3 when the signed message would still exceed `limit`.
    fn prepare<'a>(
        &self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
        limit: u16,
    ) -> Result<(Parts, Box<Record<TSIG>>), String> {
        // Our TSIG RR has the same size whatever it signs.
        let room = encoded_len(&*self.sign(&[])?)?;
        let meta = *response.metadata();
        let mut first = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut first);
        encoder.set_max_size(limit.saturating_sub(u16::try_from(room).unwrap_or(u16::MAX)));
        let mut parts = match response.destructive_emit(&mut encoder) {
            Ok(_) => Parts::decode(&first)?,
            Err(error) => {
                tracing::warn!(%error, "could not encode the answer to a signed query");
                Parts::servfail(&meta)?
            }
        };
        let mut unsigned = parts.unsigned_bytes()?;
        if unsigned.len() + room > usize::from(limit) {
            parts.truncate();
            unsigned = parts.unsigned_bytes()?;
        }
        let sig = self.sign(&unsigned)?;
        Ok((parts, sig))
    }
}

#[async_trait]
impl<R: ResponseHandler> ResponseHandler for SigningHandle<R> {
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
        // The same bound hickory's own encoder applies to what we hand it.
        let limit = match self.protocol {
            Protocol::Udp => super::udp::payload_limit(response.edns()),
            _ => u16::MAX,
        };
        let (parts, sig) = match self.prepare(response, limit) {
            Ok(prepared) => prepared,
            Err(error) => {
                // Only reachable if hickory cannot read back what it wrote; nothing is sent,
                // as for a dropped packet.
                tracing::warn!(%error, "could not sign the answer to a signed query");
                return Err(NetError::from(error));
            }
        };
        let mut signed = parts.response();
        signed.set_signature(sig);
        self.inner.send_response(signed).await
    }
}
