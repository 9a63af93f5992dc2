//! The one core of the line servers (SMTP, LMTP, IMAP, POP3), as tokio's mini-redis keeps its
//! `Connection` apart from its command handling: this module moves octets and enforces the
//! limits; each protocol's session says what the octets mean.
//!
//! ```text
//!   accept.rs      accept loop, connection cap (Admission), bounded shutdown, Listening
//!   conn.rs        bounded line reader, exact reads (literals), write buffer with a high-water
//!                  mark, TLS handshakes (implicit TLS, STARTTLS/STLS)
//!   transcript.rs  the bounded wire log
//!   sasl.rs        SASL PLAIN / LOGIN decoding (pure)
//! ```

pub(crate) mod accept;
pub(crate) mod conn;
pub(crate) mod sasl;
pub(crate) mod transcript;

pub use accept::SHUTDOWN_GRACE;
pub(crate) use conn::{BoxStream, Conn, Line};
pub use transcript::{Direction, TranscriptLine};
