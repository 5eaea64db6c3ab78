//! Copies a child's output through the redactor with a bounded delay: bytes that may
//! start a value are held only until more output comes or `FLUSH_AFTER` passes.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use vault_redact::Redactor;
use zeroize::Zeroizing;

/// The longest output is held back waiting to see whether it completes a value.
pub const FLUSH_AFTER: Duration = Duration::from_millis(50);

pub async fn pump(
    redactor: Arc<Redactor>,
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let mut stream = redactor.stream();
    let mut buffer = Zeroizing::new(vec![0u8; 8192]);
    let mut out = Zeroizing::new(Vec::with_capacity(16 * 1024));
    loop {
        let read = if stream.has_pending() {
            // `read` is cancel-safe: a timeout loses no bytes.
            match tokio::time::timeout(FLUSH_AFTER, from.read(&mut buffer[..])).await {
                Ok(read) => read?,
                Err(_) => {
                    stream.flush(&mut out);
                    write(&mut to, &mut out).await?;
                    continue;
                }
            }
        } else {
            from.read(&mut buffer[..]).await?
        };
        if read == 0 {
            break;
        }
        stream.push(&buffer[..read], &mut out);
        write(&mut to, &mut out).await?;
    }
    stream.finish(&mut out);
    write(&mut to, &mut out).await
}

async fn write(to: &mut (impl AsyncWrite + Unpin), out: &mut Vec<u8>) -> std::io::Result<()> {
    if !out.is_empty() {
        to.write_all(out).await?;
        to.flush().await?;
        zeroize::Zeroize::zeroize(out);
    }
    Ok(())
}
