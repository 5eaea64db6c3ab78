//! `vaultctl env` against a real `vault-api serve --dev`: each format's file is read
//! back by the parser that consumes it (python-dotenv, bash and dash, a JSON parser)
//! and must give every value byte for byte, quotes, backslashes, `$`, `#`, trailing
//! spaces and newlines included.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{VALUES, Vault, text};

fn expected() -> BTreeMap<String, String> {
    VALUES
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn written(vault: &Vault, token: &str, format: &str, path: &Path) -> Output {
    vault
        .vaultctl(token)
        .args(["env", "--format", format, "--output"])
        .arg(path)
        .output()
        .expect("runs")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

/// Each name's value as a shell sees it after sourcing `file`, NUL-separated.
fn sourced(shell: &str, file: &Path) -> BTreeMap<String, String> {
    let names: Vec<&str> = VALUES.iter().map(|(name, _)| *name).collect();
    let printing: String = names.iter().map(|name| format!(" \"${name}\"")).collect();
    let output = Command::new(shell)
        .arg("-c")
        .arg(format!(". \"$1\" && printf '%s\\0'{printing}"))
        .arg(shell)
        .arg(file)
        .env_clear()
        .output()
        .expect("the shell runs");
    assert!(output.status.success(), "{shell}: {}", text(&output.stderr));
    let values: Vec<String> = output
        .stdout
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    names
        .iter()
        .zip(values)
        .map(|(name, value)| (name.to_string(), value))
        .collect()
}

/// python-dotenv's own reading of `file`, when the run provides it
/// (`cargo xtask test` does; `VAULT_TEST_REQUIRE_PYTHON_DOTENV=1` makes it a must).
fn python_dotenv() -> Option<PathBuf> {
    let python = std::env::var_os("VAULT_TEST_PYTHON_DOTENV").filter(|v| !v.is_empty());
    if python.is_none() {
        assert!(
            std::env::var_os("VAULT_TEST_REQUIRE_PYTHON_DOTENV").is_none(),
            "VAULT_TEST_REQUIRE_PYTHON_DOTENV is set but VAULT_TEST_PYTHON_DOTENV names no Python"
        );
        eprintln!("skipping python-dotenv: VAULT_TEST_PYTHON_DOTENV is not set");
    }
    python.map(PathBuf::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_reads_back_to_the_values_in_its_own_parser() {
    let vault = Vault::start().await;
    let (_, token) = vault.session(None).await;
    let dir = tempfile::tempdir().expect("a temp dir");

    let json = dir.path().join("env.json");
    let output = written(&vault, &token, "json", &json);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(mode(&json), 0o600);
    let parsed: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(&json).expect("written")).expect("JSON");
    assert_eq!(parsed, expected());

    let script = dir.path().join("env.sh");
    let output = written(&vault, &token, "shell", &script);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(mode(&script), 0o600);
    for shell in ["bash", "sh"] {
        assert_eq!(sourced(shell, &script), expected(), "{shell}");
    }
    // dotenvy reads the shell form too (`export`, and `'\''` outside quotes), so it is
    // the form `vaultctl import` takes back: every name is the value the vault holds.
    let read: BTreeMap<String, String> = dotenvy::from_path_iter(&script)
        .expect("dotenvy opens it")
        .collect::<Result<_, _>>()
        .expect("dotenvy parses it");
    assert_eq!(read, expected(), "dotenvy");
    let output = vault
        .as_user(&vault.alice)
        .args(["import", "--json"])
        .arg(&script)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let actions: Vec<&str> = plan
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|step| step["action"].as_str())
        .collect();
    assert_eq!(actions, ["unchanged"; 4], "{plan}");

    let dotenv = dir.path().join(".env");
    let output = written(&vault, &token, "dotenv", &dotenv);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(mode(&dotenv), 0o600);
    if let Some(python) = python_dotenv() {
        // Interpolation on, as python-dotenv defaults: `$HOME` must stay as written.
        let output = Command::new(python)
            .args([
                "-c",
                "import json, sys, dotenv; print(json.dumps(dotenv.dotenv_values(sys.argv[1])))",
            ])
            .arg(&dotenv)
            .env("HOME", "/the-home-it-must-not-expand-to")
            .output()
            .expect("python runs");
        assert!(output.status.success(), "{}", text(&output.stderr));
        let parsed: BTreeMap<String, String> =
            serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(parsed, expected());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orchestrator_writes_a_named_context_and_an_old_file_is_replaced_private() {
    let vault = Vault::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("env.json");
    std::fs::write(&path, "{\"STALE\": \"x\"}").expect("written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let output = vault
        .vaultctl("")
        .env_remove("VAULT_SESSION_TOKEN")
        .env("VAULT_TOKEN", &vault.server.orchestrator)
        .args([
            "env",
            "--format",
            "json",
            "--user",
            "alice",
            "--profile",
            "p1",
            "-o",
        ])
        .arg(&path)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(mode(&path), 0o600, "the old file's mode is not kept");
    let parsed: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(&path).expect("written")).expect("JSON");
    assert_eq!(parsed, expected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_refuses_a_multi_line_value_by_name_and_writes_nothing() {
    let vault = Vault::start().await;
    let (_, token) = vault.session(None).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("docker.env");
    let output = written(&vault, &token, "docker", &path);
    assert_eq!(output.status.code(), Some(65));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("vaultctl: CERT_PEM holds a line break"),
        "{stderr}"
    );
    assert!(!path.exists(), "no partial file");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("listed").count(),
        0,
        "no temporary file left"
    );
    for (_, value) in VALUES {
        vault_testkit::markers::assert_absent("stderr", &stderr, value);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_flags_and_tokens_get_one_line_and_no_value() {
    let vault = Vault::start().await;
    let (session_id, token) = vault.session(None).await;

    // Context flags belong to the orchestrator's form.
    let output = vault
        .vaultctl(&token)
        .args(["env", "--format", "json", "--project", "apollo"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());
    let output = vault
        .vaultctl(&token)
        .args(["env", "--format", "json", "--token-file", "/nonexistent"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));

    // A user token cannot resolve a context: the vault refuses, and says why.
    let output = vault
        .vaultctl("")
        .env_remove("VAULT_SESSION_TOKEN")
        .env("VAULT_TOKEN", &vault.server.operator)
        .args([
            "env",
            "--format",
            "json",
            "--user",
            "alice",
            "--profile",
            "p1",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(65), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());

    // An ended session opens nothing.
    vault
        .orchestrator
        .end_session(&session_id)
        .await
        .expect("ended");
    let output = vault
        .vaultctl(&token)
        .args(["env", "--format", "dotenv"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(65), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("unauthenticated"), "{stderr}");
    assert!(output.stdout.is_empty());
}
