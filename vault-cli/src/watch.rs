//! `run --watch`'s subscription: the vault's event stream read with the session token,
//! reconnected after a drop from the last position it reached (so no change is
//! missed), and reduced to "something in this session's reach changed". What changed
//! in the env is then decided by reading the env again, not by the events: a rotation
//! of a name a higher layer shadows changes nothing, an expiry removes one.

use std::time::Duration;

use tokio::sync::mpsc;
use vault_client::wire::EventParams;
use vault_client::{Client, ClientError, EventStream, StreamItem};

use crate::exit::Failure;

/// What the watch reports.
#[derive(Debug)]
pub enum Change {
    /// An event about a secret that reaches the session's context.
    Secret,
    /// The vault will tell this session nothing more (its token was revoked, its user
    /// left the context); why.
    Stopped(String),
}

const FIRST_RETRY: Duration = Duration::from_millis(500);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// Opens the stream now (a vault that cannot be watched fails `run` before the
/// command starts) and reads it on a task of its own.
pub async fn start(client: &Client) -> Result<mpsc::Receiver<Change>, Failure> {
    let stream = client
        .event_stream(&EventParams::default(), None)
        .await
        .map_err(|error| match error {
            ClientError::Problem(problem) => {
                Failure::refused(format!("cannot watch the session's env: {problem}"))
            }
            other => Failure::from(other),
        })?;
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(follow(client.clone(), stream, sender));
    Ok(receiver)
}

async fn follow(client: Client, mut stream: EventStream, changes: mpsc::Sender<Change>) {
    let mut retry = FIRST_RETRY;
    loop {
        match stream.next().await {
            Ok(Some(StreamItem::Event(_))) => {
                retry = FIRST_RETRY;
                // A full channel already holds a change to act on.
                let _ = changes.try_send(Change::Secret);
                if changes.is_closed() {
                    return;
                }
            }
            Ok(Some(StreamItem::End(reason))) => {
                let _ = changes.send(Change::Stopped(reason)).await;
                return;
            }
            // The stream ended (the replica shut down) or broke: resume after the
            // last position it reached, on whichever replica answers.
            Ok(None) | Err(_) => loop {
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LONGEST_RETRY);
                if changes.is_closed() {
                    return;
                }
                match client
                    .event_stream(&EventParams::default(), stream.last_event_id())
                    .await
                {
                    Ok(resumed) => {
                        stream = resumed;
                        // Whatever changed while disconnected is in the stream's
                        // backlog; one check now also covers a position the vault
                        // no longer keeps.
                        let _ = changes.try_send(Change::Secret);
                        break;
                    }
                    Err(ClientError::Problem(problem))
                        if problem.code == vault_client::ProblemCode::EventsPruned =>
                    {
                        // Too far behind to replay: compare the env once, then go on from now.
                        let _ = changes.try_send(Change::Secret);
                        match client.event_stream(&EventParams::default(), None).await {
                            Ok(fresh) => {
                                stream = fresh;
                                break;
                            }
                            Err(_) => continue,
                        }
                    }
                    Err(ClientError::Problem(problem)) if !problem.code.is_retryable() => {
                        let _ = changes.send(Change::Stopped(problem.to_string())).await;
                        return;
                    }
                    Err(_) => continue,
                }
            },
        }
    }
}
