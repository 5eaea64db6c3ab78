//! The log stream: `RUST_LOG` (default `info`) as asked, except for the libraries that
//! can print request or response bodies, which stay at `info` whatever it asks. The
//! AWS SDK's request tracing prints an `Encrypt` body (a KEK in base64), hyper's and
//! h2's print frames, rustls's print handshake secrets at trace; none of them may ever
//! reach the stream.

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterExt, FilterFn, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Targets (prefixes of module paths, as `tracing` matches them) capped at `info`.
pub const BODY_PRINTING_TARGETS: [&str; 12] = [
    "aws_smithy",
    "aws_sdk",
    "aws_config",
    "aws_runtime",
    "aws_sigv4",
    "hyper",
    "h2",
    "reqwest",
    "rustls",
    "tokio_rustls",
    "tower_http",
    "ureq",
];

/// Whether `target` belongs to a library that can print bodies.
fn prints_bodies(target: &str) -> bool {
    BODY_PRINTING_TARGETS
        .iter()
        .any(|prefix| target.starts_with(prefix))
}

/// The cap, as a filter every span and event must also pass. A plain predicate: a
/// `Targets` filter here silenced the AWS SDK's events entirely, even at `info`,
/// which would have hidden its warnings too.
pub fn body_printing_cap() -> FilterFn<impl Fn(&Metadata<'_>) -> bool + Clone> {
    filter_fn(|meta: &Metadata<'_>| !(prints_bodies(meta.target()) && *meta.level() > Level::INFO))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the process's subscriber: stderr, `RUST_LOG` under the cap.
pub fn init(format: LogFormat) {
    let asked = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => layer.boxed(),
        LogFormat::Json => layer.json().boxed(),
    };
    let _ = tracing_subscriber::registry()
        // One combined filter: a layer filtered twice over (`with_filter` on a filtered
        // layer) dropped every event inside the AWS SDK's spans, however verbose
        // `RUST_LOG` was.
        .with(layer.with_filter(asked.and(body_printing_cap())))
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::Level;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut seen) = self.0.lock() {
                seen.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    /// Every event a subscriber built as `init` builds it (asking for `trace`
    /// everywhere) lets through, as text.
    fn logged(emit: impl FnOnce()) -> String {
        let captured = Captured::default();
        let layer = fmt::layer().with_writer(captured.clone()).with_ansi(false);
        let subscriber = tracing_subscriber::registry()
            .with(layer.with_filter(EnvFilter::new("trace").and(body_printing_cap())));
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = captured.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn body_printing_libraries_stop_at_info_and_ours_pass_at_trace() {
        let text = logged(|| {
            tracing::event!(target: "aws_smithy_runtime::client::orchestrator", Level::TRACE, "smithy-trace");
            tracing::event!(target: "aws_smithy_http_client::hyper_legacy", Level::DEBUG, "smithy-debug");
            tracing::event!(target: "aws_sdk_kms::operation::encrypt", Level::TRACE, "sdk-trace");
            tracing::event!(target: "aws_sigv4::http_request::sign", Level::DEBUG, "sigv4-debug");
            tracing::event!(target: "aws_config::imds", Level::DEBUG, "config-debug");
            tracing::event!(target: "aws_runtime::user_agent", Level::TRACE, "runtime-trace");
            tracing::event!(target: "hyper::proto::h1::io", Level::TRACE, "hyper-trace");
            tracing::event!(target: "hyper_util::client::legacy::pool", Level::DEBUG, "hyper-util-debug");
            tracing::event!(target: "h2::codec", Level::TRACE, "h2-trace");
            tracing::event!(target: "reqwest::connect", Level::DEBUG, "reqwest-debug");
            tracing::event!(target: "rustls::client::hs", Level::TRACE, "rustls-trace");
            tracing::event!(target: "tokio_rustls", Level::TRACE, "tokio-rustls-trace");
            tracing::event!(target: "tower_http::trace::on_request", Level::DEBUG, "tower-http-debug");
            tracing::event!(target: "ureq::unversioned", Level::TRACE, "ureq-trace");
            tracing::event!(target: "aws_smithy_runtime::client", Level::INFO, "smithy-info");
            tracing::event!(target: "hyper::server", Level::WARN, "hyper-warn");
            tracing::event!(target: "vault_api::app", Level::TRACE, "ours-trace");
            tracing::event!(target: "vault_kms::keyring", Level::DEBUG, "kms-debug");
        });
        for capped in [
            "smithy-trace",
            "smithy-debug",
            "sdk-trace",
            "sigv4-debug",
            "config-debug",
            "runtime-trace",
            "hyper-trace",
            "hyper-util-debug",
            "h2-trace",
            "reqwest-debug",
            "rustls-trace",
            "tokio-rustls-trace",
            "tower-http-debug",
            "ureq-trace",
        ] {
            assert!(!text.contains(capped), "{capped} got through:\n{text}");
        }
        for passed in ["smithy-info", "hyper-warn", "ours-trace", "kms-debug"] {
            assert!(text.contains(passed), "{passed} was dropped:\n{text}");
        }
    }
}
