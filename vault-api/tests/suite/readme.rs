//! The README's walkthrough, run as written against `vault-api serve --dev`: only the
//! `cargo run … --` prefix becomes this build's binary, and the port a free one.

use std::process::Command;

use vault_testkit::DevServer;

const BIN: &str = env!("CARGO_BIN_EXE_vault-api");

/// The first sh block after `heading`.
fn sh_block(heading: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = readme
        .split(&format!("{heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("a {heading} section"));
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a sh block");
    block.to_owned()
}

#[test]
fn the_readme_serve_command_and_walkthrough_work_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    assert!(readme.contains("cargo run --release -p vault-api -- serve --dev"));
    assert!(
        Command::new("curl").arg("--version").output().is_ok(),
        "the walkthrough needs curl on PATH"
    );

    // As the webhook walkthrough says to start it: its receiver is on loopback.
    let server = DevServer::start_with_env(
        BIN,
        &[
            ("VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
            ("VAULT_WEBHOOK_ALLOW_HTTP", "true"),
            // As the reminders walkthrough says to start it.
            ("VAULT_EVENT_SWEEP_INTERVAL", "1s"),
        ],
    );
    let (port, dir) = (server.port, server.dir());
    let receiver_port = vault_testkit::free_port();
    let python = std::env::var("VAULT_TEST_PYTHON_WEBHOOKS").ok();
    assert!(
        python.is_some() || std::env::var_os("VAULT_TEST_REQUIRE_PYTHON_WEBHOOKS").is_none(),
        "VAULT_TEST_REQUIRE_PYTHON_WEBHOOKS is set but VAULT_TEST_PYTHON_WEBHOOKS is not"
    );

    let run = |heading: &str| {
        let script = sh_block(heading)
            .replace("cargo run -q --release -p vault-api --", BIN)
            .replace("127.0.0.1:8200", &format!("127.0.0.1:{port}"))
            .replace("127.0.0.1:8299", &format!("127.0.0.1:{receiver_port}"))
            .replace("8299), Receiver", &format!("{receiver_port}), Receiver"));
        let mut command = Command::new("bash");
        command
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(dir);
        if let Some(python) = &python {
            command.env("PYTHON", python);
        }
        let output = command.output().expect("bash runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.success(), stdout, stderr)
    };
    let (walked, stdout, stderr) = run("### Walkthrough");
    let (walked_projects, project_stdout, project_stderr) = run("### Project walkthrough");
    let (walked_events, events_stdout, events_stderr) = run("### Events walkthrough");
    let (reminded, reminder_stdout, reminder_stderr) = run("### Reminders walkthrough");
    let webhooks = python.is_some().then(|| run("### Webhook walkthrough"));
    drop(server);
    match webhooks {
        Some((walked, stdout, stderr)) => {
            assert!(walked, "{stdout}\n{stderr}");
            assert_eq!(
                stdout.trim(),
                "verified secret.rotated DEPLOY_KEY",
                "{stderr}"
            );
        }
        None => eprintln!("skipped the webhook walkthrough: VAULT_TEST_PYTHON_WEBHOOKS is not set"),
    }
    assert!(reminded, "{reminder_stdout}\n{reminder_stderr}");
    assert_eq!(
        reminder_stdout.trim(),
        "secret.expiring SHORT_LIVED_TOKEN 604800",
        "{reminder_stderr}"
    );
    assert!(walked_events, "{events_stdout}\n{events_stderr}");
    assert_eq!(
        events_stdout.lines().collect::<Vec<_>>(),
        [
            "secret.created secret.rotated",
            "event: secret.created",
            "event: secret.rotated"
        ],
        "{events_stderr}"
    );
    assert!(walked, "{stdout}\n{stderr}");
    assert!(walked_projects, "{project_stdout}\n{project_stderr}");
    let lines: Vec<&str> = project_stdout.lines().collect();
    for expected in [
        r#"{"env":{"DEPLOY_TOKEN":"ghp_launchDeployToken4f9a8b7c2d1e"},"expired":[]}"#,
        r#"{"env":{},"expired":[]}"#,
        r#"{"name":"DEPLOY_TOKEN","value":"ghp_launchDeployToken4f9a8b7c2d1e"}"#,
        r#"{"project_id":"apollo","entries_removed":1,"milestones_removed":1,"members_removed":2}"#,
    ] {
        assert!(
            lines.contains(&expected),
            "{expected} missing from\n{project_stdout}"
        );
    }
    // Besides the resolution and the lookup, no response carries the value.
    let carrying: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("ghp_launchDeployToken4f9a8b7c2d1e"))
        .collect();
    assert_eq!(carrying.len(), 2, "{project_stdout}");
    let resolutions: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("{\"env\""))
        .collect();
    assert_eq!(
        resolutions,
        [
            r#"{"env":{"STRIPE_KEY":"sk_live_4eC39HqLyjWDarjtT1zdp7dc"},"expired":[]}"#,
            r#"{"env":{"STRIPE_KEY":"sk_live_rotated_9s8d7f6g5h4j3k2l"},"expired":[]}"#,
            r#"{"env":{},"expired":[]}"#,
        ],
        "{stdout}"
    );
    assert!(stdout.contains("created sec_"));
}
