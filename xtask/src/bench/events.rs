//! Resolution while change events flow: a rotation of one of the context's secrets
//! every 50 ms in the background (each commits its audit record and its event in one
//! transaction), measured first with nobody listening, then with a Server-Sent Events
//! subscriber reading the feed and a webhook endpoint on loopback receiving every
//! event. The rotations' own latency, under both, is what the event append costs a
//! change; the resolution figures say what the feed and the delivery worker cost the
//! hot path.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::servers::{Binaries, Seeded, Server, ServerEnv};
use super::wrk::{Load, Summary};

/// What the report shows.
pub(super) struct EventLoad {
    pub(super) quiet: Summary,
    pub(super) subscribed: Summary,
    /// Median rotation latency, in milliseconds.
    pub(super) rotation_quiet_ms: f64,
    pub(super) rotation_subscribed_ms: f64,
    pub(super) rotations: u64,
    /// Events the subscriber read, distinct events the receiver took, and its requests.
    pub(super) streamed: u64,
    pub(super) delivered: u64,
    pub(super) delivery_requests: u64,
    /// From the last rotation until the receiver had every streamed event (or gave up).
    pub(super) delivery_wait_s: f64,
}

/// Rotations every `PAUSE` until stopped; each one's latency.
struct Rotator {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<Vec<f64>>>,
}

const PAUSE: Duration = Duration::from_millis(50);

/// How long after the last rotation the receiver may take to have every event.
const DELIVERY_WAIT: Duration = Duration::from_secs(15);

/// One client rotating one secret: a new value per call, its latency in ms.
struct Rotation {
    agent: ureq::Agent,
    url: String,
    auth: String,
}

impl Rotation {
    fn of(base: &str, token: &str, secret: &str) -> Rotation {
        Rotation {
            agent: ureq::Agent::new_with_defaults(),
            url: format!("{base}/v1/secrets/{secret}"),
            auth: format!("Bearer {token}"),
        }
    }

    fn rotate(&self, n: u64) -> Result<f64> {
        let started = Instant::now();
        self.agent
            .patch(&self.url)
            .header("Authorization", &self.auth)
            .send_json(json!({ "value": format!("bench-rotated-value-{n:08}") }))
            .context("a rotation failed")?;
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }
}

impl Rotator {
    fn start(base: &str, token: &str, secret: &str) -> Rotator {
        let stop = Arc::new(AtomicBool::new(false));
        let rotation = Rotation::of(base, token, secret);
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while !stopped.load(Ordering::Relaxed) {
                n += 1;
                latencies.push(rotation.rotate(n)?);
                std::thread::sleep(PAUSE);
            }
            Ok(latencies)
        });
        Rotator { stop, thread }
    }

    fn finish(self) -> Result<Vec<f64>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the rotator panicked"))?
    }
}

pub(super) fn median(values: Vec<f64>) -> f64 {
    percentile(values, 0.5)
}

/// The value at `fraction` (0.5 the median, 0.99 the p99) of `values`; 0 when empty.
pub(super) fn percentile(mut values: Vec<f64>, fraction: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let at = ((values.len() as f64 * fraction) as usize).min(values.len() - 1);
    values[at]
}

/// Creates a secret of the seeded context's user for `rotations` to change; its id.
pub(super) fn rotated_secret(server: &Server, seeded: &Seeded, name: &str) -> Result<String> {
    let user = seeded.context["user_id"]
        .as_str()
        .context("the seeded context names no user")?;
    let created = post(
        server,
        &seeded.orchestrator_token,
        "/v1/secrets",
        json!({"user_id": user, "name": name, "value": "bench-rotated-value-00000000",
            "scope": "agents", "profile_ids": ["bench-elsewhere"]}),
    )?;
    Ok(created["id"].as_str().context("no secret id")?.to_owned())
}

/// `count` rotations back to back from one client, each one's latency in ms.
pub(super) fn rotations(
    server: &Server,
    token: &str,
    secret: &str,
    count: u32,
) -> Result<Vec<f64>> {
    let rotation = Rotation::of(&server.base, token, secret);
    (0..u64::from(count)).map(|n| rotation.rotate(n)).collect()
}

/// What the receiver took: every request, and the distinct events among them (a retry
/// of an event already taken, after a lost answer, is a request, not a new event).
#[derive(Default)]
struct Received {
    requests: AtomicU64,
    events: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Received {
    fn events(&self) -> u64 {
        self.events.lock().map_or(0, |ids| ids.len() as u64)
    }
}

/// A receiver that answers every request 204 and counts them.
fn receiver() -> Result<(String, Arc<Received>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/vault", listener.local_addr()?);
    let received = Arc::new(Received::default());
    let counted = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut length = 0usize;
                let mut event_id = None;
                let mut line = String::new();
                // The head, then exactly the body it announces.
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line == "\r\n" {
                        break;
                    }
                    let header = line.to_ascii_lowercase();
                    if let Some(value) = header.strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    if let Some(value) = header.strip_prefix("webhook-id:") {
                        event_id = Some(value.trim().to_owned());
                    }
                    line.clear();
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_ok() {
                    counted.requests.fetch_add(1, Ordering::Relaxed);
                    if let (Some(id), Ok(mut ids)) = (event_id, counted.events.lock()) {
                        ids.insert(id);
                    }
                }
                let _ =
                    (&stream).write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
            });
        }
    });
    Ok((url, received))
}

/// A subscriber reading the feed from now, counting events, until the server goes.
fn subscriber(base: &str, token: &str) -> Arc<AtomicU64> {
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let (url, auth) = (format!("{base}/v1/events"), format!("Bearer {token}"));
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(None)
            .build()
            .into();
        let Ok(response) = agent
            .get(&url)
            .header("Authorization", &auth)
            .header("Accept", "text/event-stream")
            .call()
        else {
            return;
        };
        let reader = BufReader::new(response.into_body().into_reader());
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if line.starts_with("event:") {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    count
}

fn post(server: &Server, token: &str, path: &str, body: Value) -> Result<Value> {
    let mut response = ureq::Agent::new_with_defaults()
        .post(format!("{}{path}", server.base))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(body)
        .with_context(|| format!("POST {path}"))?;
    Ok(response.body_mut().read_json()?)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn measure(
    binaries: &Binaries,
    env: &ServerEnv,
    work: &Path,
    seeded: &Seeded,
    load: &Load,
    script: &Path,
    rounds: u32,
    duration: u64,
) -> Result<EventLoad> {
    let server = Server::start_vault(
        binaries,
        env,
        work,
        &[
            ("VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
            ("VAULT_WEBHOOK_ALLOW_HTTP", "true"),
        ],
    )?;
    server.check_resolution(seeded)?;
    let token = &seeded.orchestrator_token;
    let user = seeded.context["user_id"]
        .as_str()
        .context("the seeded context names no user")?;
    let secret = rotated_secret(&server, seeded, "BENCH_ROTATED")?;
    let url = format!("{}/v1/resolve", server.base);
    load.round(&url, script, 2)?;
    let measured = |label: &str| -> Result<(Summary, Vec<f64>)> {
        let rotator = Rotator::start(&server.base, token, &secret);
        let mut done = Vec::new();
        for round in 1..=rounds {
            eprintln!("\n==> {label}, round {round} of {rounds}");
            done.push(load.round(&url, script, duration)?);
        }
        Ok((Summary::of(&done), rotator.finish()?))
    };
    let (quiet, quiet_rotations) = measured("rotations in the background, nobody listening")?;

    let (hook, delivered) = receiver()?;
    post(
        &server,
        token,
        "/v1/webhooks",
        json!({"owner_kind": "user", "owner_id": user, "url": hook}),
    )?;
    let streamed = subscriber(&server.base, token);
    let (subscribed, subscribed_rotations) =
        measured("rotations with an SSE subscriber and a webhook endpoint")?;
    // Every streamed event should reach the receiver too; a first attempt that failed
    // is retried after VAULT_WEBHOOK_RETRY_BASE (5 s), so wait past one retry.
    let last_rotation = Instant::now();
    let streamed = streamed.load(Ordering::Relaxed);
    while delivered.events() < streamed && last_rotation.elapsed() < DELIVERY_WAIT {
        std::thread::sleep(Duration::from_millis(50));
    }
    let delivery_wait_s = last_rotation.elapsed().as_secs_f64();
    server.check_resolution(seeded)?;
    Ok(EventLoad {
        quiet,
        subscribed,
        rotations: (quiet_rotations.len() + subscribed_rotations.len()) as u64,
        rotation_quiet_ms: median(quiet_rotations),
        rotation_subscribed_ms: median(subscribed_rotations),
        streamed,
        delivered: delivered.events(),
        delivery_requests: delivered.requests.load(Ordering::Relaxed),
        delivery_wait_s,
    })
}
