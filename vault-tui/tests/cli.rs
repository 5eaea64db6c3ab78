//! The binary's refusals: an unreachable server and a missing token each end with one
//! clear line on stderr and exit code 2, before the terminal is touched.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_vault-tui");

fn run(args: &[&str], token: Option<&str>) -> (i32, String) {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("VAULT_TOKEN")
        .env_remove("VAULT_ADDR");
    if let Some(token) = token {
        command.env("VAULT_TOKEN", token);
    }
    let output = command.output().expect("runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_unreachable_server_is_one_clear_line() {
    let port = vault_testkit::free_port();
    // Nothing listens there once the probe socket is gone.
    let (code, stderr) = run(
        &["--addr", &format!("http://127.0.0.1:{port}")],
        Some("vault_op_not-a-real-token"),
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(
        !stderr.contains("not-a-real-token"),
        "the token is never echoed"
    );
    assert!(
        !stderr.contains("\u{1b}["),
        "no terminal escape codes: {stderr:?}"
    );
}

#[test]
fn a_missing_token_says_how_to_give_one() {
    let (code, stderr) = run(&["--addr", "http://127.0.0.1:9"], None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("VAULT_TOKEN"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
