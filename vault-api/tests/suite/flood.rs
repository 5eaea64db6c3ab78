//! A flood of unauthenticated requests, as an outsider sends it: it is throttled per
//! source (429 with Retry-After), it leaves the audit trail one summary record with
//! route templates and counts (never the paths sent), and the orchestrator and users
//! behind the same address go on being served. Authenticated refusals stay one record
//! each, with their path bounded. On SQLite and PostgreSQL.

use vault_testkit::on_both_backends;

use std::num::NonZeroU32;
use std::time::Duration;

use crate::support::{ServerOptions, TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use vault_api::StateOptions;

on_both_backends!(
    a_flood_is_throttled_summarised_and_never_locks_out_valid_tokens,
    authenticated_refusals_are_recorded_one_each_with_bounded_paths,
);

async fn server_allowing(db: TestDb, failures_per_minute: u32) -> TestServer {
    let options = ServerOptions {
        state: Some(StateOptions {
            auth_failures_per_minute: NonZeroU32::new(failures_per_minute).expect("non-zero"),
            // Summaries are written when the test asks, not on a timer.
            refusal_summary_interval: Duration::from_secs(3600),
            ..StateOptions::default()
        }),
        ..ServerOptions::default()
    };
    TestServer::start_configured(db, crate::support::test_key(), options).await
}

async fn trail(server: &TestServer) -> Vec<vault_core::ChainedAudit> {
    server.store.audit_since(0, 100_000).await.expect("reads")
}

async fn a_flood_is_throttled_summarised_and_never_locks_out_valid_tokens(db: TestDb) {
    let server = server_allowing(db, 10).await;
    let alice = server.token("user", Some("alice")).await;
    server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "API_KEY", "value": "still-served"})),
        )
        .await;
    let before = trail(&server).await.len();
    let long_path = format!("/v1/secrets/sec_{}", "x".repeat(4000));
    let guesses = [
        String::new(),
        "not-a-token".to_owned(),
        format!("vault_user_{}", "A".repeat(43)),
    ];

    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    let mut retry_after = None;
    let mut sent = 0u64;
    for round in 0..100 {
        let calls = (0..30).map(|n| {
            let token = guesses[(round + n) % guesses.len()].clone();
            let url = format!("{}{long_path}", server.base);
            let client = server.client.clone();
            async move {
                let mut request = client.get(url);
                if !token.is_empty() {
                    request = request.bearer_auth(token);
                }
                request.send().await.expect("answers")
            }
        });
        for response in futures_join(calls).await {
            sent += 1;
            let status = response.status().as_u16();
            *statuses.entry(status).or_default() += 1;
            if status == 429 {
                retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
            }
        }
        // In the middle of it, from the same address, valid tokens are served.
        if round % 25 == 0 {
            let resolved = server
                .resolve(json!({"user_id": "alice", "profile_id": "p"}))
                .await;
            assert_eq!(resolved["env"]["API_KEY"], "still-served");
            server
                .expect(200, Method::GET, "/v1/secrets", &alice, None)
                .await;
        }
    }
    assert_eq!(sent, 3000);
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        vec![401, 429],
        "{statuses:?}"
    );
    assert!(statuses[&429] > 2900, "{statuses:?}");
    assert!(
        retry_after.is_some_and(|s| (1..=10).contains(&s)),
        "{retry_after:?}"
    );
    // The throttled answer is a problem document like any other.
    let (status, body) = server
        .call(Method::POST, "/v1/resolve", "guess", Some(json!({})))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_failed_authentications"))
    );
    // The wait left depends on how long the flood took: the snapshot names no number.
    let mut shown = body.clone();
    let waits = regex::Regex::new(r"retry after [0-9]+ s").expect("a pattern");
    let detail = body["detail"].as_str().expect("a detail");
    assert!(waits.is_match(detail), "{body}");
    shown["detail"] = Value::String(waits.replace(detail, "retry after [seconds] s").into());
    crate::shapes::pin("problem_too_many_failed_authentications", status, &shown);

    // Not one record per refusal: none until the summary, then one for the source.
    let anonymous = |records: &[vault_core::ChainedAudit]| -> Vec<vault_core::AuditEntry> {
        records[before..]
            .iter()
            .filter(|r| r.entry.principal == "anonymous")
            .map(|r| r.entry.clone())
            .collect()
    };
    assert_eq!(anonymous(&trail(&server).await), vec![]);
    server.state.write_refusal_summaries().await;
    let records = anonymous(&trail(&server).await);
    assert_eq!(records.len(), 1, "{records:?}");
    let summary = &records[0];
    assert_eq!(
        (summary.action.as_str(), summary.principal.as_str()),
        ("auth.refused.summary", "anonymous")
    );
    let target: Value =
        serde_json::from_str(summary.target.as_deref().expect("a target")).expect("JSON");
    assert_eq!(target["source"], "127.0.0.1", "{target}");
    assert_eq!(target["refused"], 3001, "{target}");
    let routes = target["routes"].as_array().expect("routes");
    assert!(
        routes
            .iter()
            .all(|r| ["/v1/secrets/{id}", "/v1/resolve"]
                .contains(&r["route"].as_str().unwrap_or(""))),
        "{target}"
    );
    assert!(!summary.target.as_deref().unwrap_or("").contains("xxxx"));
    // The chain still verifies with the summary in it.
    let verified = vault_api::verify::verify_chain(&server.store)
        .await
        .expect("reads");
    assert!(verified.is_ok(), "{verified:?}");

    let metrics = server
        .send(Method::GET, "/metrics", "", None)
        .await
        .text()
        .await
        .expect("text");
    let counted: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("vault_anonymous_refusals_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(counted, 3001, "{metrics}");
}

/// Runs every future at once and collects their outputs in order.
async fn futures_join<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("joins"));
    }
    outputs
}

async fn authenticated_refusals_are_recorded_one_each_with_bounded_paths(db: TestDb) {
    let server = server_allowing(db, 10).await;
    let alice = server.token("user", Some("alice")).await;
    let before = trail(&server).await.len();
    let long_path = format!("/v1/secrets/sec_{}", "y".repeat(4000));
    for _ in 0..3 {
        let (status, _) = server.call(Method::GET, &long_path, &alice, None).await;
        assert!((400..500).contains(&status), "{status}");
    }
    let records = trail(&server).await;
    assert_eq!(records.len(), before + 3);
    for record in &records[before..] {
        assert_eq!(record.entry.principal.split(':').next(), Some("user"));
        let target = record.entry.target.as_deref().expect("a target");
        assert!(target.len() < 400, "{} bytes: {target}", target.len());
        assert!(target.contains("bytes)"), "{target}");
    }
}
