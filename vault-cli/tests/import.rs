//! `vaultctl import` and `export` against a real `vault-api serve --dev`: the plan
//! names names only and changes nothing, values the vault already holds are
//! `unchanged` (the vault's comparison, not a guess) and are not written again,
//! `--apply` writes exactly the plan, and a file dotenvy cannot parse changes nothing
//! at all.

mod common;

use std::collections::BTreeMap;
use std::process::{Output, Stdio};

use common::{VALUES, Vault, text};
use serde_json::Value;
use vault_client::wire::{AuditParams, Context, ResolveRequest};
use vault_client::{Client, Config};
use zeroize::Zeroizing;

const NEW_API_KEY: &str = "sk-imported-0123456789abcdef";
const MULTI_LINE: &str = "-----BEGIN KEY-----\nimported0123456789\n-----END KEY-----";
const FILE: &str = "# exported from the old manager\n\
export API_KEY=sk-imported-0123456789abcdef\n\
CERT_PEM=\"-----BEGIN-----\nMIIBfake0123456789\n-----END-----\"\n\
IMPORTED_PEM=\"-----BEGIN KEY-----\nimported0123456789\n-----END KEY-----\"\n\
SINGLE='kept $literally here'\n\
PATH=/tmp/evil-imported-path\n\
lower_case=imported-lowercase-value\n\
TWICE=imported-first-value\n\
TWICE=imported-second-value\n";

async fn env_of_alice(vault: &Vault) -> BTreeMap<String, String> {
    vault
        .orchestrator
        .resolve(&ResolveRequest::for_context(Context {
            user_id: "alice".into(),
            profile_id: "p1".into(),
            ..Context::default()
        }))
        .await
        .expect("resolves")
        .env
        .iter()
        .map(|(name, value)| (name.to_string(), value.expose().to_owned()))
        .collect()
}

fn import(vault: &Vault, file: &std::path::Path, extra: &[&str]) -> Output {
    vault
        .as_user(&vault.alice)
        .arg("import")
        .arg(file)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("runs")
}

fn assert_no_imported_value(output: &Output) {
    for stream in [text(&output.stdout), text(&output.stderr)] {
        for value in [
            NEW_API_KEY,
            "imported0123456789",
            "kept $literally here",
            "/tmp/evil-imported-path",
            "imported-lowercase-value",
            "imported-first-value",
            "imported-second-value",
            "MIIBfake0123456789",
        ] {
            vault_testkit::markers::assert_absent("vaultctl's output", &stream, value);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_changes_nothing_and_apply_writes_exactly_the_plan() {
    let vault = Vault::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join(".env");
    std::fs::write(&file, FILE).expect("written");
    let before = env_of_alice(&vault).await;

    let output = import(&vault, &file, &["--json"]);
    assert_eq!(output.status.code(), Some(65), "{}", text(&output.stderr));
    assert_no_imported_value(&output);
    let plan: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let actions: Vec<(String, String)> = plan
        .as_array()
        .expect("an array")
        .iter()
        .map(|step| {
            (
                step["name"].as_str().expect("a name").to_owned(),
                step["action"].as_str().expect("an action").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("API_KEY", "rotate"),
        ("CERT_PEM", "unchanged"),
        ("IMPORTED_PEM", "create"),
        ("SINGLE", "create"),
        ("PATH", "refused"),
        ("lower_case", "refused"),
        ("TWICE", "refused"),
        ("TWICE", "refused"),
    ]
    .iter()
    .map(|(n, a)| (n.to_string(), a.to_string()))
    .collect();
    assert_eq!(actions, expected);
    assert!(
        plan[4]["reason"]
            .as_str()
            .expect("a reason")
            .contains("protected")
    );
    assert_eq!(env_of_alice(&vault).await, before, "a plan writes nothing");

    let output = import(&vault, &file, &["--apply"]);
    assert_eq!(output.status.code(), Some(65), "{}", text(&output.stderr));
    assert_no_imported_value(&output);
    let report = text(&output.stdout);
    assert!(report.starts_with("ACTION"), "{report}");
    assert!(report.contains("rotated    API_KEY"), "{report}");
    assert!(
        report.contains("unchanged  CERT_PEM      version 1"),
        "{report}"
    );
    let after = env_of_alice(&vault).await;
    assert_eq!(after["API_KEY"], NEW_API_KEY);
    assert_eq!(after["IMPORTED_PEM"], MULTI_LINE);
    assert_eq!(after["SINGLE"], "kept $literally here");
    for name in ["lower_case", "TWICE"] {
        assert!(!after.contains_key(name), "{name}");
    }
    assert_ne!(
        after.get("PATH").map(String::as_str),
        Some("/tmp/evil-imported-path")
    );
    assert_eq!(
        after["DB_PASSWORD"], VALUES[1].1,
        "names not in the file stay"
    );

    // The same file without the refused lines: everything applies, exit 0.
    let clean: String = FILE
        .lines()
        .filter(|l| !l.starts_with("PATH=") && !l.starts_with("lower") && !l.starts_with("TWICE"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, clean).expect("written");
    // Every value is already there: all unchanged, nothing written, exit 0.
    let output = import(&vault, &file, &["--apply", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_no_imported_value(&output);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let steps: Vec<(&str, &str, u64)> = report
        .as_array()
        .expect("an array")
        .iter()
        .map(|step| {
            (
                step["name"].as_str().expect("a name"),
                step["action"].as_str().expect("an action"),
                step["version"].as_u64().expect("a version"),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("API_KEY", "unchanged", 2),
            ("CERT_PEM", "unchanged", 1),
            ("IMPORTED_PEM", "unchanged", 1),
            ("SINGLE", "unchanged", 1),
        ]
    );
    assert_eq!(env_of_alice(&vault).await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_dotenvy_cannot_parse_changes_nothing_and_shows_no_line() {
    let vault = Vault::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join(".env");
    std::fs::write(
        &file,
        "API_KEY=sk-imported-0123456789abcdef\nBROKEN=\"imported0123456789 never closed\n",
    )
    .expect("written");
    let before = env_of_alice(&vault).await;
    let output = import(&vault, &file, &["--apply"]);
    assert_eq!(output.status.code(), Some(65), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("nothing was imported"),
        "{}",
        text(&output.stderr)
    );
    assert_no_imported_value(&output);
    assert_eq!(env_of_alice(&vault).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_gives_names_and_masks_and_never_a_value() {
    let vault = Vault::start().await;
    let output = vault
        .as_user(&vault.alice)
        .arg("export")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let exported: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let names: Vec<&str> = exported
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|entry| entry["name"].as_str())
        .collect();
    assert_eq!(names, ["API_KEY", "CERT_PEM", "DB_PASSWORD", "QUOTED"]);
    for entry in exported.as_array().expect("an array") {
        assert!(entry.get("value").is_none(), "{entry}");
        assert!(entry["masked"].as_str().expect("a mask").contains("****"));
    }
    let out = text(&output.stdout);
    for (_, value) in VALUES {
        vault_testkit::markers::assert_absent("export", &out, value);
    }
}

/// An operator may import for a user, but never learns anything of a value: existing
/// names are planned as rotations, saying they were not compared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_imports_without_comparing() {
    let vault = Vault::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join(".env");
    std::fs::write(
        &file,
        format!("API_KEY={}\nFRESH=imported-first-value\n", VALUES[0].1),
    )
    .expect("written");
    let output = vault
        .as_user(&vault.server.operator)
        .args(["import", "--user", "alice", "--json"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_no_imported_value(&output);
    let plan: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(plan[0]["name"], "API_KEY");
    assert_eq!(plan[0]["action"], "rotate");
    assert!(
        plan[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not compared")),
        "{plan}"
    );
    assert_eq!(plan[1]["action"], "create");
    vault_testkit::markers::assert_absent("the plan", &text(&output.stdout), VALUES[0].1);
    // Not even asked: no comparison, answered or refused, is in the trail.
    let operator = Client::new(Config::new(
        &vault.server.base,
        Zeroizing::new(vault.server.operator.clone()),
    ))
    .expect("a client");
    let compared = operator
        .audit(&AuditParams {
            action: Some("secret.compare".into()),
            ..AuditParams::default()
        })
        .await
        .expect("the trail");
    assert!(compared.data.is_empty(), "{:?}", compared.data);
}
