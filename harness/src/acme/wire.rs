//! What a client sent and got, once [`HttpLog::enable`]d: every signed POST with its JWS
//! protected header and payload decoded, and the answer (status, Location, body) or why there
//! was none. Two readers take from it independently: the judge of a server's RFC 8555 objects
//! ([`HttpLog::take_observed`], the successful answers) and the transcript of a server run
//! ([`HttpLog::take_wire`], everything, as text). Bounded: at most [`MAX_EXCHANGES`] exchanges
//! (later ones are counted, not kept), each body cut at [`MAX_BODY`] octets, so a hostile
//! server cannot grow it.

use std::sync::Mutex;

use serde_json::Value;
use time::OffsetDateTime;

/// The most exchanges one client keeps.
pub const MAX_EXCHANGES: usize = 1024;
/// The most octets of one answer body kept (a certificate chain is a few KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct HttpExchange {
    /// When the request left.
    pub at: OffsetDateTime,
    /// The URL POSTed to.
    pub url: String,
    /// The JWS protected header, decoded (`None`: the body is not a flattened JWS).
    pub protected: Option<String>,
    /// The payload, decoded: `Some("")` for a POST-as-GET (`None`: not a flattened JWS).
    pub payload: Option<String>,
    /// The raw body when it is not a flattened JWS (a probe's broken request).
    pub raw_body: Option<String>,
    /// The answer, or why none came.
    pub answer: Result<Answer, String>,
}

/// An answer as received.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body, at most [`MAX_BODY`] octets of it.
    pub body: Vec<u8>,
}

/// An answer as it comes in, for [`HttpExchange::answered`].
#[derive(Debug, Clone)]
pub struct Received<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The whole body.
    pub body: &'a [u8],
}

/// One successful answer, for a judge of the server's objects.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The URL POSTed to.
    pub url: String,
    /// The payload sent (`None` for POST-as-GET).
    pub payload: Option<Value>,
    /// The HTTP status.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body, at most [`MAX_BODY`] octets of it.
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Kept {
    exchanges: Vec<HttpExchange>,
    dropped: usize,
    /// Where each reader goes on from, and the drops it has not been told of.
    observed_from: usize,
    observed_dropped: usize,
    wire_from: usize,
    wire_dropped: usize,
}

/// The exchanges of one client: nothing until [`HttpLog::enable`].
#[derive(Debug, Default)]
pub struct HttpLog {
    kept: Mutex<Option<Kept>>,
}

impl HttpLog {
    /// Keeps every exchange from now on.
    pub fn enable(&self) {
        self.lock().get_or_insert_with(Kept::default);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Kept>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether exchanges are kept (a disabled log costs its callers nothing to build).
    pub fn enabled(&self) -> bool {
        self.lock().is_some()
    }

    /// Keeps `exchange`, if enabled and there is room.
    pub fn record(&self, exchange: HttpExchange) {
        let mut kept = self.lock();
        let Some(k) = kept.as_mut() else {
            return;
        };
        if k.exchanges.len() < MAX_EXCHANGES {
            k.exchanges.push(exchange);
        } else {
            k.dropped += 1;
            k.observed_dropped += 1;
            k.wire_dropped += 1;
        }
    }

    /// The successful answers since the last call, oldest first, and how many exchanges were
    /// dropped past the bound meanwhile.
    pub fn take_observed(&self) -> (Vec<Observed>, usize) {
        let mut kept = self.lock();
        let Some(k) = kept.as_mut() else {
            return (Vec::new(), 0);
        };
        let observed = k.exchanges[k.observed_from..]
            .iter()
            .filter_map(|e| {
                let answer = e.answer.as_ref().ok()?;
                (200..300).contains(&answer.status).then(|| Observed {
                    url: e.url.clone(),
                    payload: e
                        .payload
                        .as_deref()
                        .filter(|p| !p.is_empty())
                        .and_then(|p| serde_json::from_str(p).ok()),
                    status: answer.status,
                    location: answer.location.clone(),
                    content_type: answer.content_type.clone(),
                    body: answer.body.clone(),
                })
            })
            .collect();
        k.observed_from = k.exchanges.len();
        (observed, std::mem::take(&mut k.observed_dropped))
    }

    /// Every exchange since the last call, oldest first, and how many were dropped past the
    /// bound meanwhile.
    pub fn take_wire(&self) -> (Vec<HttpExchange>, usize) {
        let mut kept = self.lock();
        let Some(k) = kept.as_mut() else {
            return (Vec::new(), 0);
        };
        let wire = k.exchanges[k.wire_from..].to_vec();
        k.wire_from = k.exchanges.len();
        (wire, std::mem::take(&mut k.wire_dropped))
    }
}

impl HttpExchange {
    /// A POST of `body` to `url` leaving at `at`, its flattened JWS decoded; the answer is
    /// filled in by [`HttpExchange::answered`].
    pub fn request(at: OffsetDateTime, url: &str, body: &[u8]) -> HttpExchange {
        let jws = serde_json::from_slice::<Value>(body)
            .ok()
            .filter(|v| v.get("protected").is_some() || v.get("payload").is_some());
        let decoded = |part: &str| {
            let jws = jws.as_ref()?;
            let text = jws[part].as_str()?;
            acmeproof_protocol::b64url::decode_lenient(text)
                .ok()
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        };
        HttpExchange {
            at,
            url: url.to_owned(),
            protected: decoded("protected"),
            payload: decoded("payload"),
            raw_body: jws
                .is_none()
                .then(|| String::from_utf8_lossy(&body[..body.len().min(MAX_BODY)]).into_owned()),
            answer: Err("not answered yet".into()),
        }
    }

    /// With the answer (its body cut at [`MAX_BODY`]) or why none came.
    pub fn answered(mut self, answer: Result<Received<'_>, String>) -> Self {
        self.answer = answer.map(|r| Answer {
            status: r.status,
            location: r.location,
            content_type: r.content_type,
            body: r.body[..r.body.len().min(MAX_BODY)].to_vec(),
        });
        self
    }

    /// The request as the transcript shows it: `POST url`, then the decoded protected header
    /// and payload (a POST-as-GET's empty payload said so), or the raw body.
    pub fn request_text(&self) -> String {
        let mut text = format!("POST {}", self.url);
        if let Some(raw) = &self.raw_body {
            text.push('\n');
            text.push_str(raw);
            return text;
        }
        for (name, part) in [("protected", &self.protected), ("payload", &self.payload)] {
            match part.as_deref() {
                Some("") => text.push_str(&format!("\n{name}: (empty: POST-as-GET)")),
                Some(value) => text.push_str(&format!("\n{name}: {value}")),
                None => text.push_str(&format!("\n{name}: (absent or not base64url)")),
            }
        }
        text
    }

    /// The answer as the transcript shows it: the status, the Location if any, the body.
    pub fn answer_text(&self) -> String {
        match &self.answer {
            Err(why) => format!("no answer: {why}"),
            Ok(a) => {
                let mut text = a.status.to_string();
                if let Some(location) = &a.location {
                    text.push_str(&format!("\nLocation: {location}"));
                }
                if !a.body.is_empty() {
                    text.push('\n');
                    text.push_str(&String::from_utf8_lossy(&a.body));
                }
                text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jws(payload: &[u8]) -> Vec<u8> {
        let b64 = |bytes: &[u8]| acmeproof_protocol::b64url::encode(bytes);
        serde_json::json!({
            "protected": b64(br#"{"alg":"ES256"}"#.as_slice()),
            "payload": b64(payload),
            "signature": "x",
        })
        .to_string()
        .into_bytes()
    }

    fn exchange(status: u16, body: &[u8]) -> HttpExchange {
        HttpExchange::request(
            OffsetDateTime::UNIX_EPOCH,
            "https://ca/x",
            &jws(br#"{"a":1}"#),
        )
        .answered(Ok(Received {
            status,
            location: None,
            content_type: None,
            body,
        }))
    }

    #[test]
    fn a_disabled_log_keeps_nothing() {
        let log = HttpLog::default();
        log.record(exchange(200, b"{}"));
        assert!(log.take_observed().0.is_empty() && log.take_wire().0.is_empty());
    }

    #[test]
    fn the_log_is_bounded_and_each_reader_takes_its_own_view() {
        let log = HttpLog::default();
        log.enable();
        log.record(exchange(400, b"{}"));
        for _ in 0..MAX_EXCHANGES + 4 {
            log.record(exchange(200, &vec![b'a'; MAX_BODY + 10]));
        }
        let (observed, dropped) = log.take_observed();
        // The 400 is no object to judge; the transcript shows it.
        assert_eq!((observed.len(), dropped), (MAX_EXCHANGES - 1, 5));
        assert_eq!(observed[0].body.len(), MAX_BODY);
        assert_eq!(observed[0].payload, Some(serde_json::json!({"a": 1})));
        let (wire, dropped) = log.take_wire();
        assert_eq!((wire.len(), dropped), (MAX_EXCHANGES, 5));
        assert!(wire[0].answer_text().starts_with("400"));
        assert_eq!(log.take_observed().0.len() + log.take_wire().0.len(), 0);
    }

    #[test]
    fn a_request_is_shown_decoded_and_a_post_as_get_as_such() {
        let text = exchange(200, b"").request_text();
        assert!(text.contains(r#"protected: {"alg":"ES256"}"#), "{text}");
        assert!(text.contains(r#"payload: {"a":1}"#), "{text}");
        let get = HttpExchange::request(OffsetDateTime::UNIX_EPOCH, "u", &jws(b""));
        assert!(get.request_text().contains("POST-as-GET"));
        let raw = HttpExchange::request(OffsetDateTime::UNIX_EPOCH, "u", b"not json");
        assert!(raw.request_text().ends_with("not json"));
        assert!(raw.answer_text().starts_with("no answer"));
    }
}
