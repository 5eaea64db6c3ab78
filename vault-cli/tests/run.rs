//! `vaultctl run` and `vaultctl redact` against a real `vault-api serve --dev`: the
//! orchestrator mints a session, the container gets only its token, and the runner
//! starts the command with the session's env, its output redacted.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Output, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
mod common;

use common::{VALUES, VAULTCTL, Vault, text};

fn environment_of(output: &[u8]) -> BTreeMap<String, String> {
    output
        .split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| {
            let text = String::from_utf8_lossy(entry);
            text.split_once('=')
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_gets_exactly_the_sessions_env_and_never_the_token() {
    let vault = Vault::start().await;
    let (_, token) = vault.session(None).await;

    // Over a clean environment: the resolved names and the few kept ones, no more.
    let output = vault
        .vaultctl(&token)
        .env("INHERITED_ONLY", "from-the-image")
        .args(["run", "--no-redact", "--clean", "--", "env", "-0"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let env = environment_of(&output.stdout);
    let kept = ["PATH", "HOME", "USER", "LANG", "TERM", "TZ"];
    let names: Vec<&str> = env
        .keys()
        .map(String::as_str)
        .filter(|name| !kept.contains(name))
        .collect();
    assert_eq!(names, ["API_KEY", "CERT_PEM", "DB_PASSWORD", "QUOTED"]);
    for (name, value) in VALUES {
        assert_eq!(env[name], value, "{name} arrives byte for byte");
    }

    // Over the inherited environment: the image's variables stay, the token goes.
    let output = vault
        .vaultctl(&token)
        .env("INHERITED_ONLY", "from-the-image")
        .args(["run", "--no-redact", "--", "env", "-0"])
        .output()
        .expect("runs");
    let env = environment_of(&output.stdout);
    assert_eq!(env["INHERITED_ONLY"], "from-the-image");
    assert_eq!(env["API_KEY"], VALUES[0].1);
    assert!(!env.contains_key("VAULT_SESSION_TOKEN"), "{env:?}");
    assert!(!text(&output.stdout).contains(&token));

    // From a token file: read, removed, and passed on neither way.
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("session-token");
    std::fs::write(&file, format!("{token}\n")).expect("written");
    let output = vault
        .vaultctl("")
        .env_remove("VAULT_SESSION_TOKEN")
        .arg("run")
        .arg("--session-token-file")
        .arg(&file)
        .args(["--no-redact", "--", "env", "-0"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(environment_of(&output.stdout)["API_KEY"], VALUES[0].1);
    assert!(!file.exists(), "the token file is removed once read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_exit_code_comes_back_and_sigterm_reaches_it() {
    let vault = Vault::start().await;
    let (_, token) = vault.session(None).await;
    for code in [0, 1, 7, 125] {
        let status = vault
            .vaultctl(&token)
            .args(["run", "--", "sh", "-c", &format!("exit {code}")])
            .status()
            .expect("runs");
        assert_eq!(status.code(), Some(code));
    }
    let status = vault
        .vaultctl(&token)
        .args(["run", "--", "sh", "-c", "kill -KILL $$"])
        .status()
        .expect("runs");
    assert_eq!(
        status.code(),
        Some(128 + 9),
        "a signal's death reads as 128+N"
    );
    let missing = vault
        .vaultctl(&token)
        .args(["run", "--", "/nonexistent/agent"])
        .output()
        .expect("runs");
    assert_eq!(
        missing.status.code(),
        Some(127),
        "{}",
        text(&missing.stderr)
    );

    // A supervisor's SIGTERM (`docker stop`) reaches the command, which exits its way.
    let mut child = vault
        .vaultctl(&token)
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("reads");
    assert_eq!(line, "ready\n");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signalled");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("reads");
    assert_eq!(rest, "got-term\n");
    assert_eq!(child.wait().expect("exits").code(), Some(42));
}

/// `run` with `--redact` and the child `sh -c script`.
fn redacted(vault: &Vault, token: &str, script: &str) -> Output {
    vault
        .vaultctl(token)
        .args(["run", "--redact", "--", "sh", "-c", script])
        .output()
        .expect("runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redaction_hides_every_value_and_its_encodings_in_stdout_and_stderr() {
    let vault = Vault::start().await;
    let (_, token) = vault.session(None).await;
    // Printed whole, split across writes with a pause, inside JSON (escaped by a real
    // encoder), base64 (alone and inside a longer blob), hex, URL-encoded, on stderr.
    let script = r#"
        printf 'key=%s\n' "$API_KEY"
        printf '%s' "${API_KEY%????????????}"; sleep 0.3; printf '%s\n' "${API_KEY#${API_KEY%????????????}}"
        python3 -c 'import json, os; print(json.dumps({"db": os.environ["DB_PASSWORD"], "pem": os.environ["CERT_PEM"]}))'
        python3 -c 'import json, os; print(json.dumps({"db": os.environ["DB_PASSWORD"]}, ensure_ascii=False))'
        printf '%s' "$API_KEY" | base64 -w0; echo
        printf 'Authorization: Basic %s\n' "$(printf 'user:%s' "$API_KEY" | base64 -w0)"
        printf '%s' "$DB_PASSWORD" | base64 -w0 | tr '+/' '-_' | tr -d '='; echo
        printf '%s' "$API_KEY" | od -An -tx1 | tr -d ' \n'; echo
        python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ["DB_PASSWORD"]), urllib.parse.quote_plus(os.environ["DB_PASSWORD"]))'
        printf 'err: %s\n' "$CERT_PEM" >&2
        printf '%s' "$DB_PASSWORD" >&2
        exit 3
    "#;
    let output = redacted(&vault, &token, script);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    for (name, value) in VALUES {
        for (stream, printed) in [("stdout", &stdout), ("stderr", &stderr)] {
            vault_testkit::markers::assert_absent(stream, printed, value);
            assert!(
                !printed.contains(&STANDARD.encode(value)),
                "{name} in {stream}"
            );
            assert!(
                !printed.contains(&URL_SAFE_NO_PAD.encode(value)),
                "{name} in {stream}"
            );
        }
    }
    assert!(stdout.contains("key=[REDACTED:API_KEY]\n"), "{stdout}");
    assert!(stdout.contains("[REDACTED:DB_PASSWORD]"), "{stdout}");
    assert!(stderr.contains("err: [REDACTED:CERT_PEM]\n"), "{stderr}");
    // The pause showed less than the minimum length of the value, if anything.
    let split_line = stdout.lines().nth(1).expect("the split line");
    assert!(split_line.contains("[REDACTED:API_KEY]"), "{split_line}");
    assert!(
        split_line.replace("[REDACTED:API_KEY]", "").len() < 6,
        "{split_line}"
    );

    // The same redactor over standard input.
    let mut redact = vault
        .vaultctl(&token)
        .arg("redact")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stdin = redact.stdin.take().expect("stdin");
    stdin
        .write_all(
            format!(
                "transcript: {} and {}\n",
                VALUES[0].1,
                STANDARD.encode(VALUES[1].1)
            )
            .as_bytes(),
        )
        .expect("writes");
    drop(stdin);
    let output = redact.wait_with_output().expect("ends");
    assert!(output.status.success());
    assert_eq!(
        text(&output.stdout),
        "transcript: [REDACTED:API_KEY] and [REDACTED:DB_PASSWORD]\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_or_expired_session_fails_in_one_line_before_the_command_starts() {
    let vault = Vault::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let started = dir.path().join("started");
    let script = format!("touch {}", started.display());
    let refused = |output: &Output| {
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(65), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("vaultctl: the vault refused: unauthenticated: "),
            "{stderr}"
        );
        assert!(!started.exists(), "the command must not start");
    };

    let (id, token) = vault.session(None).await;
    vault.orchestrator.end_session(&id).await.expect("ended");
    refused(&redacted(&vault, &token, &script));

    let (_, short) = vault.session(Some(1)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    refused(&redacted(&vault, &short, &script));

    refused(&redacted(
        &vault,
        "vault_sess_notARealTokenAtAllNotOneAtAll012345",
        &script,
    ));

    let output = vault
        .vaultctl("")
        .env_remove("VAULT_SESSION_TOKEN")
        .args(["run", "--", "sh", "-c", &script])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(78));
    assert!(text(&output.stderr).contains("VAULT_SESSION_TOKEN"));
    assert!(!started.exists());

    // An orchestrator or user token is not a session: refused the same way.
    let output = redacted(&vault, &vault.server.orchestrator, &script);
    assert_eq!(output.status.code(), Some(65));
    assert!(
        text(&output.stderr).contains("forbidden"),
        "{}",
        text(&output.stderr)
    );
    assert!(!started.exists());
}

/// Lines of `path`, waiting up to 20 s for at least `count`.
fn wait_for_lines(path: &std::path::Path, count: usize) -> Vec<String> {
    for _ in 0..400 {
        let lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        if lines.len() >= count {
            return lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{} never had {count} lines", path.display());
}

async fn rotate_api_key(vault: &Vault, value: &str) {
    let alice = vault_client::Client::new(vault_client::Config::new(
        &vault.server.base,
        zeroize::Zeroizing::new(vault.alice.clone()),
    ))
    .expect("a client");
    let listed = alice
        .list_secrets(&vault_client::wire::ListParams::default())
        .await
        .expect("lists");
    let key = listed
        .data
        .iter()
        .find(|s| s.name.as_str() == "API_KEY")
        .expect("API_KEY");
    let entry = vault_client::EntryRef::of(key).expect("an owner");
    alice
        .update_entry(
            &entry,
            &vault_client::EntryChange::rotation(
                &entry,
                vault_client::Plaintext::new(value),
                key.version,
            ),
        )
        .await
        .expect("rotates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_restarts_the_command_with_the_new_env_after_a_rotation() {
    let vault = Vault::start().await;
    let (_, token) = vault.session(None).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = dir.path().join("seen");
    let mut child = vault
        .vaultctl(&token)
        .args(["run", "--watch", "--debounce", "200ms", "--grace", "3s", "--no-redact"])
        .args(["--", "sh", "-c"])
        .arg("printf '%s\\n' \"$API_KEY\" >> \"$SEEN\"; trap 'exit 0' TERM; while :; do sleep 0.05; done")
        .env("SEEN", &seen)
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    assert_eq!(wait_for_lines(&seen, 1), [VALUES[0].1]);

    rotate_api_key(&vault, "sk-live-rotated-0123456789").await;
    // The old command was stopped and a new one started with the new value.
    let lines = wait_for_lines(&seen, 2);
    assert_eq!(lines, [VALUES[0].1, "sk-live-rotated-0123456789"]);

    // A supervisor's SIGTERM still reaches the (new) command, whose code comes back.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signalled");
    let status = tokio::task::block_in_place(|| child.wait()).expect("exits");
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("reads");
    assert!(
        stderr.contains("changed: API_KEY; restarting the command"),
        "{stderr}"
    );
    for value in [VALUES[0].1, "sk-live-rotated-0123456789"] {
        assert!(!stderr.contains(value), "a value on stderr: {stderr}");
    }
    assert_eq!(wait_for_lines(&seen, 2).len(), 2, "restarted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_can_signal_the_command_instead_and_ignores_changes_outside_its_env() {
    let vault = Vault::start().await;
    let (_, token) = vault.session(None).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = dir.path().join("seen");
    let mut child = vault
        .vaultctl(&token)
        .args(["run", "--watch", "--on-change", "signal:HUP", "--debounce", "100ms"])
        .args(["--", "sh", "-c"])
        .arg("trap 'echo hup >> \"$SEEN\"' HUP; trap 'exit 3' TERM; echo start >> \"$SEEN\"; while :; do sleep 0.05; done")
        .env("SEEN", &seen)
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    assert_eq!(wait_for_lines(&seen, 1), ["start"]);
    // Another user's rotation is not this session's business: nothing happens.
    let bob = vault.user_token("bob").await;
    let bobs = vault_client::Client::new(vault_client::Config::new(
        &vault.server.base,
        zeroize::Zeroizing::new(bob),
    ))
    .expect("a client");
    bobs.create_secret(&vault_client::wire::CreateSecret {
        name: "API_KEY".into(),
        value: vault_client::Plaintext::new("bobs-own-key-0123"),
        ..vault_client::wire::CreateSecret::default()
    })
    .await
    .expect("stored");
    rotate_api_key(&vault, "sk-live-signalled-0123456789").await;
    assert_eq!(wait_for_lines(&seen, 2), ["start", "hup"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        wait_for_lines(&seen, 2).len(),
        2,
        "one signal for one change"
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signalled");
    let status = tokio::task::block_in_place(|| child.wait()).expect("exits");
    assert_eq!(status.code(), Some(3));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("reads");
    assert!(
        stderr.contains("changed: API_KEY; sending SIGHUP"),
        "{stderr}"
    );
}

/// README's watch walkthrough, run as written against `vault-api serve --dev`: only the
/// `cargo run … --` prefixes become the built binaries, and the port a free one.
#[test]
fn the_readme_watch_walkthrough_works_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let block = readme
        .split("### Watch walkthrough\n")
        .nth(1)
        .and_then(|section| section.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("a sh block under ### Watch walkthrough");
    let api = vault_testkit::workspace_binary(VAULTCTL, "vault-api", "vault-api");
    let api = api.to_str().expect("a UTF-8 path");
    let server = vault_testkit::DevServer::start(api);
    let script = block
        .replace("cargo run -q --release -p vault-api --", api)
        .replace(
            "cargo run -q --release -p vault-cli --bin vaultctl --",
            VAULTCTL,
        )
        .replace("127.0.0.1:8200", &format!("127.0.0.1:{}", server.port));
    let output = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(server.dir())
        .env_remove("VAULT_TOKEN")
        .output()
        .expect("bash runs");
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "started with a 21-byte API_TOKEN",
            "started with a 30-byte API_TOKEN"
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains("vaultctl: changed: API_TOKEN; restarting the command"),
        "{stderr}"
    );
}
