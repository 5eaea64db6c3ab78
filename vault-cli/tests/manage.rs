//! `vaultctl list|get|set|rm|versions|rollback` against a real `vault-api serve --dev`,
//! as the users the trust model names: the owner, another user, project members by
//! role. No output ever holds a value; the value never travels on the command line.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{VALUES, Vault, text};
use serde_json::Value;
use vault_client::wire::{Context, CreateProject, PutMember, ResolveRequest};

const FRESH: &str = "fresh-value-0123456789-abcdef";
const ROTATED: &str = "rotated-value-9876543210-zyxwvu";

/// `command` with `input` on its standard input.
fn fed(command: &mut Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child
        .stdin
        .take()
        .expect("a pipe")
        .write_all(input.as_bytes())
        .expect("written");
    child.wait_with_output().expect("ends")
}

fn quiet(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().expect("runs")
}

fn assert_ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Neither stream holds any value the test stored.
fn assert_no_value(output: &Output) {
    for stream in [text(&output.stdout), text(&output.stderr)] {
        for value in VALUES.iter().map(|(_, v)| *v).chain([FRESH, ROTATED]) {
            vault_testkit::markers::assert_absent("vaultctl's output", &stream, value);
        }
    }
}

async fn resolved(vault: &Vault, name: &str) -> Option<String> {
    let context = Context {
        user_id: "alice".into(),
        profile_id: "p1".into(),
        ..Context::default()
    };
    let answer = vault
        .orchestrator
        .resolve(&ResolveRequest::for_context(context))
        .await
        .expect("resolves");
    answer
        .env
        .iter()
        .find(|(n, _)| n.as_str() == name)
        .map(|(_, v)| v.expose().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sets_rotates_rolls_back_and_removes_by_name_and_sees_only_masks() {
    let vault = Vault::start().await;
    let alice = |args: &[&str]| {
        let mut command = vault.as_user(&vault.alice);
        command.args(args);
        command
    };

    let output = fed(
        &mut alice(&["set", "FRESH_KEY", "--description", "for the test"]),
        &format!("{FRESH}\n"),
    );
    let said = assert_ok(&output);
    assert_no_value(&output);
    assert!(
        said.starts_with("created user secret FRESH_KEY (sec_"),
        "{said}"
    );
    assert!(said.contains("version 1"), "{said}");
    // One trailing newline of a pipe is dropped, as `$(…)` would.
    assert_eq!(resolved(&vault, "FRESH_KEY").await.as_deref(), Some(FRESH));

    let output = quiet(&mut alice(&["list", "--json"]));
    let listed: Value = serde_json::from_str(&assert_ok(&output)).expect("JSON");
    assert_no_value(&output);
    let names: Vec<&str> = listed
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["API_KEY", "CERT_PEM", "DB_PASSWORD", "FRESH_KEY", "QUOTED"]
    );
    let table = quiet(&mut alice(&["list"]));
    let table_text = assert_ok(&table);
    assert!(table_text.starts_with("NAME "), "{table_text}");
    assert!(table_text.contains("****def"), "{table_text}");
    assert_no_value(&table);

    let output = fed(&mut alice(&["set", "FRESH_KEY"]), ROTATED);
    let said = assert_ok(&output);
    assert!(said.starts_with("rotated user secret FRESH_KEY"), "{said}");
    assert!(said.contains("version 2"), "{said}");
    assert_eq!(
        resolved(&vault, "FRESH_KEY").await.as_deref(),
        Some(ROTATED)
    );

    // Metadata only: the value stays.
    let output = quiet(&mut alice(&[
        "set",
        "FRESH_KEY",
        "--keep-value",
        "--description",
        "changed",
    ]));
    assert!(assert_ok(&output).starts_with("updated user secret FRESH_KEY"));
    let output = quiet(&mut alice(&["get", "FRESH_KEY", "--json"]));
    let got: Value = serde_json::from_str(&assert_ok(&output)).expect("JSON");
    assert_eq!(got["description"], "changed");
    assert_eq!(got["version"], 2);
    assert_no_value(&output);
    assert_eq!(
        resolved(&vault, "FRESH_KEY").await.as_deref(),
        Some(ROTATED)
    );

    let output = quiet(&mut alice(&["versions", "FRESH_KEY", "--json"]));
    let versions: Value = serde_json::from_str(&assert_ok(&output)).expect("JSON");
    assert_eq!(versions.as_array().map(Vec::len), Some(2));
    assert_no_value(&output);

    let output = quiet(&mut alice(&["rollback", "FRESH_KEY", "1"]));
    let said = assert_ok(&output);
    assert!(
        said.contains("at version 3, with the value of version 1"),
        "{said}"
    );
    assert_eq!(resolved(&vault, "FRESH_KEY").await.as_deref(), Some(FRESH));

    let output = quiet(&mut alice(&["rm", "FRESH_KEY"]));
    assert!(assert_ok(&output).starts_with("deleted user secret FRESH_KEY"));
    assert_eq!(resolved(&vault, "FRESH_KEY").await, None);
    let output = quiet(&mut alice(&["get", "FRESH_KEY"]));
    assert_eq!(output.status.code(), Some(65));
    assert!(text(&output.stderr).contains("no user secret named FRESH_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_is_taken_from_a_file_byte_for_byte_and_never_from_the_command_line() {
    let vault = Vault::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let pem = dir.path().join("cert.pem");
    std::fs::write(&pem, "-----BEGIN-----\nabc\n-----END-----\n").expect("written");
    let output = quiet(
        vault
            .as_user(&vault.alice)
            .args(["set", "FILE_PEM", "--from-file"])
            .arg(&pem),
    );
    assert_ok(&output);
    assert_eq!(
        resolved(&vault, "FILE_PEM").await.as_deref(),
        Some("-----BEGIN-----\nabc\n-----END-----\n")
    );

    // No flag takes a value: clap refuses, and nothing is stored.
    for flag in ["--value", "-v"] {
        let output = quiet(
            vault
                .as_user(&vault.alice)
                .args(["set", "ARGV_KEY", flag, FRESH]),
        );
        assert_eq!(output.status.code(), Some(2), "{flag}");
    }
    assert_eq!(resolved(&vault, "ARGV_KEY").await, None);
    let help = quiet(vault.as_user(&vault.alice).args(["set", "--help"]));
    assert!(text(&help.stdout).contains("There is no flag for the value itself"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_finds_changes_and_removes_nothing_of_alices() {
    let vault = Vault::start().await;
    let bob = vault.user_token("bob").await;
    for args in [
        vec!["get", "API_KEY"],
        vec!["rm", "API_KEY"],
        vec!["versions", "API_KEY"],
        vec!["rollback", "API_KEY", "1"],
        vec!["get", "API_KEY", "--user", "alice"],
    ] {
        let output = quiet(vault.as_user(&bob).args(&args));
        assert_ne!(output.status.code(), Some(0), "{args:?}");
        assert_no_value(&output);
    }
    // A set by bob creates bob's own, and alice's stays as it was.
    let output = fed(vault.as_user(&bob).args(["set", "API_KEY"]), ROTATED);
    assert_ok(&output);
    assert_eq!(
        resolved(&vault, "API_KEY").await.as_deref(),
        Some(VALUES[0].1)
    );
    let output = quiet(vault.as_user(&bob).args(["list", "--json"]));
    let listed: Value = serde_json::from_str(&assert_ok(&output)).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["user_id"], "bob");
    let output = quiet(
        vault
            .as_user("vault_user_notAtokenNotAtokenNotAtoken012345")
            .args(["list"]),
    );
    assert_eq!(output.status.code(), Some(65));
    assert!(
        text(&output.stderr).contains("unauthenticated"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_entries_by_role_and_a_name_with_two_scopes_asks_for_an_id() {
    let vault = Vault::start().await;
    vault
        .orchestrator
        .create_project(&CreateProject {
            id: Some("apollo".into()),
            name: "Apollo".into(),
            accountable_user_id: "alice".into(),
        })
        .await
        .expect("a project");
    vault
        .orchestrator
        .put_project_member(
            &"apollo".parse().expect("an id"),
            &"ivy".parse().expect("an id"),
            &PutMember {
                role: "informed".into(),
            },
        )
        .await
        .expect("a member");

    let output = fed(
        vault.as_user(&vault.alice).args([
            "set",
            "DEPLOY_TOKEN",
            "--project",
            "apollo",
            "--category",
            "access_token",
        ]),
        FRESH,
    );
    let said = assert_ok(&output);
    assert!(
        said.starts_with("created project entry DEPLOY_TOKEN"),
        "{said}"
    );
    let output = quiet(
        vault
            .as_user(&vault.alice)
            .args(["list", "--project", "apollo", "--json"]),
    );
    let listed: Value = serde_json::from_str(&assert_ok(&output)).expect("JSON");
    assert_eq!(listed[0]["category"], "access_token");
    assert_eq!(listed[0]["scope"], "project");

    // Informed: names and categories, and nothing more.
    let ivy = vault.user_token("ivy").await;
    let output = quiet(vault.as_user(&ivy).args(["list", "--project", "apollo"]));
    let table = assert_ok(&output);
    assert_eq!(
        table
            .lines()
            .next()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>),
        Some(vec!["NAME", "CATEGORY"])
    );
    assert!(
        table.contains("DEPLOY_TOKEN") && table.contains("access_token"),
        "{table}"
    );
    let output = quiet(
        vault
            .as_user(&ivy)
            .args(["get", "DEPLOY_TOKEN", "--project", "apollo"]),
    );
    assert_eq!(output.status.code(), Some(65));
    let output = fed(
        vault
            .as_user(&ivy)
            .args(["set", "DEPLOY_TOKEN", "--project", "apollo"]),
        ROTATED,
    );
    assert_ne!(output.status.code(), Some(0));
    assert_no_value(&output);

    // A second API_KEY for profile p9 only: the name now needs --id.
    let output = fed(
        vault
            .as_user(&vault.alice)
            .args(["set", "API_KEY", "--profile", "p9"]),
        ROTATED,
    );
    assert!(assert_ok(&output).contains("agents:p9"));
    let output = quiet(vault.as_user(&vault.alice).args(["get", "API_KEY"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("has 2 entries with different scopes: pass --id"),
        "{stderr}"
    );
    let id = stderr
        .split("sec_")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .map(|id| format!("sec_{id}"))
        .expect("an id in the line");
    let output = quiet(
        vault
            .as_user(&vault.alice)
            .args(["get", "API_KEY", "--id", &id, "--json"]),
    );
    let got: Value = serde_json::from_str(&assert_ok(&output)).expect("JSON");
    assert_eq!(got["id"], id.as_str());
    // p1's resolution still takes the `all` one.
    assert_eq!(
        resolved(&vault, "API_KEY").await.as_deref(),
        Some(VALUES[0].1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_admin_manages_its_keys_and_a_non_admin_gets_a_refusal() {
    let vault = Vault::start().await;
    let operator = vault_client::Client::new(vault_client::Config::new(
        &vault.server.base,
        zeroize::Zeroizing::new(vault.server.operator.clone()),
    ))
    .expect("a client");
    operator
        .put_workspace_admin(
            &"acme".parse().expect("an id"),
            &"alice".parse().expect("an id"),
        )
        .await
        .expect("an admin");
    let output = fed(
        vault.as_user(&vault.alice).args([
            "set",
            "BYOK_KEY",
            "--workspace",
            "acme",
            "--profile",
            "p1",
        ]),
        FRESH,
    );
    let said = assert_ok(&output);
    assert!(said.starts_with("created workspace key BYOK_KEY"), "{said}");
    assert!(said.contains("agents:p1"), "{said}");
    let output =
        quiet(
            vault
                .as_user(&vault.alice)
                .args(["versions", "BYOK_KEY", "--workspace", "acme"]),
        );
    assert!(assert_ok(&output).starts_with("VERSION"));
    assert_no_value(&output);

    let bob = vault.user_token("bob").await;
    for args in [
        vec!["list", "--workspace", "acme"],
        vec!["rm", "BYOK_KEY", "--workspace", "acme"],
    ] {
        let output = quiet(vault.as_user(&bob).args(&args));
        assert_eq!(output.status.code(), Some(65), "{args:?}");
        assert!(
            text(&output.stderr).starts_with("vaultctl: the vault refused: "),
            "{}",
            text(&output.stderr)
        );
    }
    // Profile flags are for user secrets and keys; milestones for project entries.
    let output = quiet(vault.as_user(&vault.alice).args([
        "set",
        "BYOK_KEY",
        "--workspace",
        "acme",
        "--milestone",
        "m1",
        "--keep-value",
    ]));
    assert_eq!(output.status.code(), Some(2));
}

/// The README's command-line walkthrough, run as written with `vaultctl` on PATH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_works_as_written() {
    let vault = Vault::start().await;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let block = readme
        .split("### Manage secrets from the command line\n")
        .nth(1)
        .and_then(|section| section.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the walkthrough's sh block");
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(
        dir.path().join("deploy.pem"),
        "-----BEGIN-----\nabc\n-----END-----\n",
    )
    .expect("written");
    let bin = std::path::Path::new(common::VAULTCTL)
        .parent()
        .expect("a directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", block])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("VAULT_ADDR", &vault.server.base)
        .env("VAULT_TOKEN", &vault.alice)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    let said = assert_ok(&output);
    assert!(said.contains("with the value of version 1"), "{said}");
    assert!(said.contains("deleted user secret DEPLOY_PEM"), "{said}");
    for value in [
        "sk-live-0123456789abcdef",
        "sk-live-fedcba9876543210",
        "abc\n",
    ] {
        vault_testkit::markers::assert_absent("the walkthrough", &said, value);
    }
    assert_eq!(
        resolved(&vault, "OPENAI_API_KEY").await.as_deref(),
        Some("sk-live-0123456789abcdef")
    );
    assert_eq!(resolved(&vault, "DEPLOY_PEM").await, None);
}

/// On a terminal the value is asked for with echo off: through a real pty (`script`
/// from util-linux), the typed value is stored and never shows in the transcript.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_the_value_is_prompted_for_without_echo() {
    let vault = Vault::start().await;
    let command = format!("{} set PROMPTED_KEY", common::VAULTCTL);
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env("VAULT_ADDR", &vault.server.base)
        .env("VAULT_TOKEN", &vault.alice)
        .env_remove("VAULT_TOKEN_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script starts");
    let mut stdin = child.stdin.take().expect("a pipe");
    let mut stdout = child.stdout.take().expect("a pipe");
    // Typed once the prompt is up: echo is off only from then on.
    let mut transcript = Vec::new();
    let mut chunk = [0u8; 256];
    while !String::from_utf8_lossy(&transcript).contains("(hidden): ") {
        let read = std::io::Read::read(&mut stdout, &mut chunk).expect("the pty reads");
        assert!(
            read > 0,
            "no prompt: {}",
            String::from_utf8_lossy(&transcript)
        );
        transcript.extend_from_slice(&chunk[..read]);
    }
    stdin
        .write_all(format!("{FRESH}\n").as_bytes())
        .expect("typed");
    drop(stdin);
    std::io::Read::read_to_end(&mut stdout, &mut transcript).expect("the rest");
    let output = child.wait_with_output().expect("ends");
    let transcript = text(&transcript);
    assert!(
        output.status.success(),
        "{transcript}{}",
        text(&output.stderr)
    );
    assert!(
        transcript.contains("value of PROMPTED_KEY (hidden): "),
        "{transcript}"
    );
    assert!(
        transcript.contains("created user secret PROMPTED_KEY"),
        "{transcript}"
    );
    vault_testkit::markers::assert_absent("the terminal", &transcript, FRESH);
    assert_eq!(
        resolved(&vault, "PROMPTED_KEY").await.as_deref(),
        Some(FRESH)
    );
}
