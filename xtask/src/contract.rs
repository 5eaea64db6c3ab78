//! `cargo xtask contract`: the OpenAPI document proven by the tools that consume it,
//! against a real `serve --dev` on a loopback port.
//!
//! 1. openapi-spec-validator on the document the server serves;
//! 2. a client generated from it by openapi-python-client runs seed 000's whole flow
//!    (`contract/seed_000_flow.py`);
//! 3. schemathesis with every check, once per principal (user, orchestrator, operator,
//!    and a session on the runtime routes).
//!    Its exceptions are the hooks in `contract/hooks.py`, each with its reason.
//!
//! The tools come pinned from PyPI into a venv under `target/`, made once and remade
//! when the pins change.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::bench::{Server, output, target_dir, work_dir};
use crate::{cargo, free_port, run_step};

const TOOLS: [&str; 3] = [
    "schemathesis==4.32.5",
    "openapi-spec-validator==0.9.0",
    "openapi-python-client==0.29.1",
];

#[derive(clap::Args)]
pub struct Options {
    /// Examples per operation and phase for schemathesis (default: the budget in
    /// contract/schemathesis.toml, sized for CI).
    #[arg(long)]
    max_examples: Option<u32>,
    /// schemathesis's seed; a new one each run when absent (it prints the seed it used,
    /// so a finding can be replayed with this option).
    #[arg(long)]
    seed: Option<String>,
}

/// The seed `cargo xtask test` runs with: CI explores the same cases every run, so a
/// submission fails only for what it changed. Run `cargo xtask contract` without
/// `--seed` to explore new ones.
const CI_SEED: &str = "1501";

impl Options {
    pub fn ci() -> Options {
        Options {
            max_examples: None,
            seed: Some(CI_SEED.to_owned()),
        }
    }
}

/// The venv's `bin` directory, installing the pinned tools first when they are not
/// the ones installed.
fn ensure_tools(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target").join("tools").join("contract-venv");
    let pins = venv.join("pinned.txt");
    let wanted = TOOLS.join("\n");
    if std::fs::read_to_string(&pins).is_ok_and(|installed| installed == wanted) {
        return Ok(venv.join("bin"));
    }
    crate::python_venv(root, &venv, &TOOLS)?;
    std::fs::write(&pins, wanted).with_context(|| format!("writing {}", pins.display()))?;
    Ok(venv.join("bin"))
}

/// A principal's name (what the hooks are told) and its bearer token.
struct Principal {
    name: &'static str,
    token: String,
}

pub fn run(root: &Path, options: &Options) -> Result<()> {
    let tools = ensure_tools(root)?;
    run_step(
        root,
        cargo().args(["build", "-p", "vault-api", "--bin", "vault-api", "--locked"]),
    )?;
    let binary = target_dir(root)?.join("debug").join("vault-api");
    let work_dir = work_dir("vault-contract")?;
    let work = work_dir.path();
    let data = work.join("data");
    let port = free_port()?;
    let mut command = Command::new(&binary);
    command
        .arg("serve")
        .arg("--dev")
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        // A documented exception: schemathesis sends thousands of requests without a
        // token (or with a broken one) from this one address, on purpose, and expects
        // each to be a 401. The vault's flood limit would answer the ones past 60 a
        // minute with 429 instead, as it should for a real source; that limit has its
        // own tests (vault-api/tests/suite/flood.rs), so here it is set out of reach.
        .env("VAULT_AUTH_FAILURES_PER_MINUTE", "1000000")
        .env("RUST_LOG", "warn");
    for inherited in [
        "DATABASE_URL",
        "ENCRYPTION_KEY",
        "ENCRYPTION_KEY_PREVIOUS",
        "VAULT_ROOT_PROVIDER",
        "VAULT_LISTEN",
    ] {
        command.env_remove(inherited);
    }
    let log = work.join("vault-api.log");
    let server = Server::spawn("vault-api", command, port, log, String::new(), "/readyz")?;
    let mut principals = principals(&binary, &data)?;
    // A session, for the runtime routes only (everything else refuses it, which the
    // other principals' runs already cover): minted like an orchestrator would.
    let orchestrator = principals
        .iter()
        .find(|p| p.name == "orchestrator")
        .map(|p| p.token.clone())
        .context("no orchestrator token")?;
    principals.insert(
        0,
        Principal {
            name: "session",
            token: mint_session(&server.base, &orchestrator)?,
        },
    );

    let document = work.join("openapi.json");
    let text = ureq::get(format!("{}/openapi.json", server.base))
        .call()
        .context("fetching /openapi.json")?
        .body_mut()
        .read_to_string()?;
    std::fs::write(&document, text)?;
    run_step(
        root,
        Command::new(tools.join("openapi-spec-validator")).arg(&document),
    )?;

    generated_client_flow(root, &tools, &server, work, &document, &principals)?;

    let schemathesis = |principal: &Principal| -> Result<Command> {
        let mut command = Command::new(tools.join("schemathesis"));
        command
            .arg("--config-file")
            .arg(root.join("contract").join("schemathesis.toml"))
            .arg("run")
            .arg(format!("{}/openapi.json", server.base))
            .args(["--checks", "all"])
            .arg("--report")
            .arg("junit")
            .arg("--report-dir")
            .arg(target_dir(root)?.join("contract").join(principal.name))
            // In the run's own directory: schemathesis keeps a cache where it runs.
            .current_dir(work)
            .env("VAULT_CONTRACT_PRINCIPAL", principal.name)
            .env("VAULT_CONTRACT_TOKEN", &principal.token)
            .env("SCHEMATHESIS_HOOKS", "hooks")
            .env("PYTHONPATH", root.join("contract"));
        if principal.name == "session" {
            command.args(["--include-path-regex", "^/v1/runtime/"]);
        }
        if let Some(examples) = options.max_examples {
            command.args(["--max-examples", &examples.to_string()]);
        }
        if let Some(seed) = &options.seed {
            command.args(["--seed", seed]);
        }
        Ok(command)
    };
    // The session, the user and the orchestrator run side by side, a process each (schemathesis is
    // bound by one core per process). The operator goes last and alone: its run may
    // revoke the others' tokens (never its own, the last operator token over HTTP), so
    // no operation is excluded for anyone.
    let Some((operator, others)) = principals.split_last() else {
        bail!("no principals to run schemathesis as");
    };
    let mut failed = Vec::new();
    let mut running = Vec::new();
    for principal in others {
        let log = work.join(format!("schemathesis-{}.log", principal.name));
        let file = std::fs::File::create(&log)?;
        eprintln!(
            "\n==> schemathesis as the {} (side by side; its output follows when it ends)",
            principal.name
        );
        let child = schemathesis(principal)?
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .context("starting schemathesis")?;
        running.push((principal.name, child, log));
    }
    for (name, mut child, log) in running {
        let status = child.wait()?;
        eprintln!("\n==> schemathesis as the {name}: {status}");
        eprint!("{}", std::fs::read_to_string(&log).unwrap_or_default());
        if !status.success() {
            failed.push(name);
        }
    }
    eprintln!("\n==> schemathesis as the {}", operator.name);
    if run_step(work, &mut schemathesis(operator)?).is_err() {
        failed.push(operator.name);
    }
    if !failed.is_empty() {
        bail!(
            "schemathesis found failures as the {}; the vault's log:\n{}",
            failed.join(", "),
            server.log_tail()
        );
    }
    Ok(())
}

/// The dev vault's operator and orchestrator tokens (kept in its data dir) and a user
/// token issued on the host, in the order their runs go.
fn principals(binary: &Path, data: &Path) -> Result<Vec<Principal>> {
    let kept = std::fs::read_to_string(data.join("dev-tokens")).context("reading dev-tokens")?;
    let mut lines = kept.lines().map(str::trim);
    let (Some(operator), Some(orchestrator)) = (lines.next(), lines.next()) else {
        bail!("dev-tokens does not hold the operator and orchestrator tokens");
    };
    let user = output(
        Command::new(binary)
            .args(["token", "create", "--kind", "user", "--user-id", "alice"])
            .arg("--dev")
            .arg("--data-dir")
            .arg(data),
    )?;
    Ok(vec![
        Principal {
            name: "user",
            token: user.trim().to_owned(),
        },
        Principal {
            name: "orchestrator",
            token: orchestrator.to_owned(),
        },
        Principal {
            name: "operator",
            token: operator.to_owned(),
        },
    ])
}

/// A day-long session for alice's profile `p1`, as `POST /v1/sessions` mints it.
fn mint_session(base: &str, orchestrator: &str) -> Result<String> {
    let answer: serde_json::Value = ureq::post(format!("{base}/v1/sessions"))
        .header("Authorization", &format!("Bearer {orchestrator}"))
        .send_json(serde_json::json!({
            "user_id": "alice", "profile_id": "p1", "ttl_seconds": 86_400
        }))
        .context("minting a session")?
        .body_mut()
        .read_json()
        .context("reading the session")?;
    answer["token"]
        .as_str()
        .map(str::to_owned)
        .context("the session answer holds no token")
}

/// openapi-python-client generates `vault_client` from the served document, and seed
/// 000's flow runs through it.
fn generated_client_flow(
    root: &Path,
    tools: &Path,
    server: &Server,
    work: &Path,
    document: &Path,
    principals: &[Principal],
) -> Result<()> {
    let generated = work.join("client");
    run_step(
        root,
        Command::new(tools.join("openapi-python-client"))
            .args(["generate", "--meta", "none", "--path"])
            .arg(document)
            .arg("--config")
            .arg(root.join("contract").join("openapi-python-client.yaml"))
            .arg("--output-path")
            .arg(generated.join("vault_client")),
    )?;
    let token = |name: &str| {
        principals
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.token.clone())
            .unwrap_or_default()
    };
    run_step(
        root,
        Command::new(tools.join("python"))
            .arg(root.join("contract").join("seed_000_flow.py"))
            .env("PYTHONPATH", &generated)
            .env("VAULT_URL", &server.base)
            .env("VAULT_OPERATOR_TOKEN", token("operator"))
            .env("VAULT_ORCHESTRATOR_TOKEN", token("orchestrator")),
    )
}
