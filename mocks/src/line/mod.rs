//! The one core of the line servers (SMTP, LMTP, IMAP, POP3), as tokio's mini-redis keeps its
//! `Connection` apart from its command handling: this module moves octets and enforces the
//! limits; each protocol's session says what the octets mean.
//!
//! ```text
//!   accept.rs      accept loop, connection cap (Admission), bounded shutdown, Listening
//!   serve.rs       the session loop and the Protocol trait each line protocol implements
//!   link.rs        one connection: reads bounded in size and time that notice shutdown, output
//!                  and the transcript, the bad-command count, the STARTTLS upgrade and the
//!                  STARTTLS-injection rule
//!   conn.rs        bounded line reader, exact reads (literals), write buffer with a high-water
//!                  mark, TLS handshakes (implicit TLS, STARTTLS/STLS)
//!   transcript.rs  the bounded wire log
//!   sasl.rs        SASL PLAIN / LOGIN decoding (pure)
//! ```

pub(crate) mod accept;
pub(crate) mod conn;
pub(crate) mod link;
pub(crate) mod sasl;
pub(crate) mod serve;
pub(crate) mod transcript;

pub(crate) use accept::Accepted;
pub use accept::SHUTDOWN_GRACE;
pub(crate) use conn::{BoxStream, Conn, Line};
pub(crate) use link::{End, Link, Opening};
pub(crate) use serve::{Flow, Protocol, open_and_serve};
pub use transcript::{Direction, TranscriptLine};
