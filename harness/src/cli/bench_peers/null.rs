//! The accept loop of the null line servers (SMTP/LMTP, IMAP) that measure the generator's own
//! ceiling: each connection is greeted, then every line (bounded, read within a timeout) gets
//! the answer a protocol's handler chooses. A longer line, a timeout or EOF closes it.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What a null server does with one line.
pub enum Reply {
    /// Writes these bytes and reads on.
    Send(Cow<'static, [u8]>),
    /// Writes nothing and reads on (a line inside a message's data).
    Nothing,
    /// Writes these bytes and closes.
    SendAndClose(&'static [u8]),
}

/// Serves on 127.0.0.1 (port 0): greets with `greeting`, then answers each line of at most
/// `max_line` octets with the handler `new_handler` makes for that connection.
pub async fn serve_lines<H>(
    greeting: &'static [u8],
    max_line: u64,
    timeout: Duration,
    new_handler: impl Fn() -> H + Send + 'static,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)>
where
    H: FnMut(&[u8]) -> Reply + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut handle = new_handler();
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut reader = BufReader::new(stream);
                if reader.get_mut().write_all(greeting).await.is_err() {
                    return;
                }
                let mut line = Vec::new();
                loop {
                    line.clear();
                    let read = tokio::time::timeout(
                        timeout,
                        (&mut reader).take(max_line).read_until(b'\n', &mut line),
                    )
                    .await;
                    let Ok(Ok(n)) = read else { return };
                    if n == 0 || !line.ends_with(b"\n") {
                        return;
                    }
                    let (answer, close) = match handle(&line) {
                        Reply::Send(bytes) => (bytes, false),
                        Reply::Nothing => continue,
                        Reply::SendAndClose(bytes) => (Cow::Borrowed(bytes), true),
                    };
                    if reader.get_mut().write_all(&answer).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    Ok((addr, task))
}
