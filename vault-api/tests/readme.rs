//! The README's walkthrough, run as written against `vault-api serve --dev`: only the
//! `cargo run … --` prefix becomes this build's binary, and the port a free one.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_vault-api");

fn walkthrough() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = readme
        .split("### Walkthrough")
        .nth(1)
        .expect("a Walkthrough section");
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

    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut server = Command::new(BIN)
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = server.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen_rule = 0;
    for line in lines.by_ref() {
        if line.expect("line").starts_with('=') {
            seen_rule += 1;
            if seen_rule == 2 {
                break;
            }
        }
    }

    let script = walkthrough()
        .replace("cargo run -q --release -p vault-api --", BIN)
        .replace("127.0.0.1:8200", &format!("127.0.0.1:{port}"));
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
