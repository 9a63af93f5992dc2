//! What the client sent and got, for the transcript of a run against a server under test
//! (whose own log the harness cannot read): each request with its JWS protected header and
//! payload decoded, each answer with its status and body (a problem document as the server
//! wrote it). Bounded: at most [`MAX_EXCHANGES`] exchanges, each text cut at [`MAX_TEXT`]
//! bytes, so a hostile server's huge answers cannot grow it.

use std::sync::Mutex;

use serde_json::Value;
use time::OffsetDateTime;

/// The most exchanges kept; later ones are counted, not kept.
pub const MAX_EXCHANGES: usize = 2_000;
/// The most bytes of one request or answer text kept.
pub const MAX_TEXT: usize = 16 * 1024;

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct HttpExchange {
    /// When the request left.
    pub at: OffsetDateTime,
    /// `POST https://…/new-order`, then the decoded JWS, if any.
    pub request: String,
    /// `201`, then the body (or `no answer: why`).
    pub answer: String,
}

/// The exchanges of one client.
#[derive(Debug, Default)]
pub struct HttpLog {
    inner: Mutex<(Vec<HttpExchange>, usize)>,
}

impl HttpLog {
    /// Records an exchange.
    pub fn record(&self, at: OffsetDateTime, request: String, answer: String) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.0.len() < MAX_EXCHANGES {
            inner.0.push(HttpExchange {
                at,
                request: cut(request),
                answer: cut(answer),
            });
        } else {
            inner.1 += 1;
        }
    }

    /// Takes what was recorded so far, and how many exchanges were dropped past the bound.
    pub fn take(&self) -> (Vec<HttpExchange>, usize) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let dropped = std::mem::take(&mut inner.1);
        (std::mem::take(&mut inner.0), dropped)
    }
}

/// `text`, cut at [`MAX_TEXT`] bytes on a character boundary, saying how much was cut.
fn cut(text: String) -> String {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &text[..end], text.len() - end)
}

/// A request as the transcript shows it: the method and URL, then the flattened JWS's protected
/// header and payload decoded (a POST-as-GET's empty payload shown as such). A body that is not
/// a JWS is shown as text.
pub fn request_text(method: &str, url: &str, body: &[u8]) -> String {
    let mut text = format!("{method} {url}");
    if body.is_empty() {
        return text;
    }
    let Ok(jws) = serde_json::from_slice::<Value>(body) else {
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(body));
        return text;
    };
    for part in ["protected", "payload"] {
        let decoded = jws[part]
            .as_str()
            .and_then(|b64| acmeproof_protocol::b64url::decode_lenient(b64).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        match decoded.as_deref() {
            Some("") => text.push_str(&format!("\n{part}: (empty: POST-as-GET)")),
            Some(value) => text.push_str(&format!("\n{part}: {value}")),
            None => text.push_str(&format!("\n{part}: (absent or not base64url)")),
        }
    }
    text
}

/// An answer as the transcript shows it: the status, the Location if any, then the body.
pub fn answer_text(status: u16, location: Option<&str>, body: &[u8]) -> String {
    let mut text = status.to_string();
    if let Some(location) = location {
        text.push_str(&format!("\nLocation: {location}"));
    }
    if !body.is_empty() {
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(body));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_bounded_and_long_texts_are_cut() {
        let log = HttpLog::default();
        for _ in 0..MAX_EXCHANGES + 5 {
            log.record(
                OffsetDateTime::UNIX_EPOCH,
                "GET x".into(),
                "a".repeat(MAX_TEXT + 10),
            );
        }
        let (kept, dropped) = log.take();
        assert_eq!((kept.len(), dropped), (MAX_EXCHANGES, 5));
        assert!(
            kept[0].answer.ends_with("(10 more bytes)"),
            "{}",
            kept[0].answer
        );
        assert_eq!(log.take().0.len(), 0);
    }

    #[test]
    fn a_jws_request_is_shown_decoded() {
        let b64 = |bytes: &[u8]| acmeproof_protocol::b64url::encode(bytes);
        let body = serde_json::json!({
            "protected": b64(br#"{"alg":"ES256"}"#.as_slice()),
            "payload": b64(br#"{"identifiers":[]}"#.as_slice()),
            "signature": "x",
        })
        .to_string();
        let text = request_text("POST", "https://ca/new-order", body.as_bytes());
        assert!(text.contains(r#"protected: {"alg":"ES256"}"#), "{text}");
        assert!(text.contains(r#"payload: {"identifiers":[]}"#), "{text}");
        let get = serde_json::json!({"protected": b64(b"{}".as_slice()), "payload": "", "signature": "x"});
        let text = request_text("POST", "u", get.to_string().as_bytes());
        assert!(text.contains("POST-as-GET"), "{text}");
    }
}
