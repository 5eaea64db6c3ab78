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

use common::{VALUES, Vault, text};

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
