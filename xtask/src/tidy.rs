//! `cargo xtask tidy`: invariants that keep the workspace honest. Every `.rs` file
//! opens with a `//!` line; the crate layering of ARCHITECTURE.md holds in the
//! resolved dependency graph (from `cargo metadata`); vault-core's source neither
//! reads the clock nor does I/O; vault-api's routes reach the store only through its
//! service layer; CI runs the README's test command.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cargo_metadata::{DependencyKind, MetadataCommand};

pub fn run(root: &Path) -> Result<()> {
    let mut problems = file_header_problems(root)?;
    problems.extend(source_text_problems(root)?);
    problems.extend(layering_problems(&DependencyGraph::load(root)?));
    problems.extend(ci_problems(root)?);
    problems.extend(fuzz_build_problems(root)?);
    if problems.is_empty() {
        eprintln!("tidy: all invariants hold");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("tidy found {} problem(s)", problems.len())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn file_header_problems(root: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    rust_files(root, &mut files)?;
    let mut problems = Vec::new();
    for file in files {
        let text =
            fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        if !text.starts_with("//!") {
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            problems.push(format!(
                "{shown} does not start with a `//!` line saying what lives there"
            ));
        }
    }
    Ok(problems)
}

/// Text a directory's source must not contain, and the invariant that says why.
struct TextRule {
    dir: &'static str,
    forbidden: &'static [&'static str],
    invariant: &'static str,
}

const TEXT_RULES: [TextRule; 2] = [
    TextRule {
        dir: "vault-core",
        // Text that would mean vault-core reads the clock or the outside world.
        forbidden: &[
            "::now(",
            "std::fs",
            "std::net",
            "std::process",
            "std::env::",
            "std::thread",
        ],
        invariant: "vault-core must not use `{}` (no clock reads, no I/O)",
    },
    TextRule {
        dir: "vault-api/src/routes",
        // A route that reaches these composes the work itself, which is the service
        // layer's job: then two routes for one operation can drift apart.
        forbidden: &[
            ".store",
            "vault_store",
            ".keyring",
            ".authorizer",
            "audit_entry",
        ],
        invariant: "routes do HTTP only and must not use `{}`: call a module of vault-api/src/service/",
    },
];

fn source_text_problems(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for rule in &TEXT_RULES {
        let mut files = Vec::new();
        rust_files(&root.join(rule.dir), &mut files)?;
        for file in files {
            let text = fs::read_to_string(&file)?;
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            for (number, line) in text.lines().enumerate() {
                for pattern in rule.forbidden {
                    if line.contains(pattern) {
                        let invariant = rule.invariant.replace("{}", pattern);
                        problems.push(format!("{shown}:{}: {invariant}", number + 1));
                    }
                }
            }
        }
    }
    Ok(problems)
}

/// What the fuzz targets' instrumented build links, resolved as `cargo fuzz build`
/// resolves it (features of vault-fuzz alone, not unified with vault-api's, which is
/// why this asks cargo tree rather than the workspace graph).
const FUZZ_BUILD_FORBIDDEN: &[&str] = &[
    "vault-store",
    "vault-api",
    "vault-testkit",
    "diesel*",
    "libsqlite3-sys",
    "pq-sys",
    "axum*",
    "aws-sdk-*",
    "aws-config",
];

fn fuzz_build_problems(root: &Path) -> Result<Vec<String>> {
    let output = crate::cargo()
        .args(["tree", "--locked", "-p", "vault-fuzz", "-e", "normal,build"])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(root)
        .output()
        .context("running cargo tree -p vault-fuzz")?;
    if !output.status.success() {
        bail!(
            "cargo tree -p vault-fuzz failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut found: Vec<String> = String::from_utf8(output.stdout)?
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| FUZZ_BUILD_FORBIDDEN.iter().any(|p| matches(p, name)))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    // Its build is instrumented from scratch in every CI run: the AWS SDK, the
    // database and the server would be most of it, and none of them is fuzzed.
    Ok(found
        .into_iter()
        .map(|dep| {
            format!(
                "vault-fuzz depends on {dep}, but the fuzz build holds only the code it \
                 fuzzes (no database, server or cloud SDK), so that it stays small"
            )
        })
        .collect())
}

fn ci_problems(root: &Path) -> Result<Vec<String>> {
    let command = "cargo xtask test";
    let mut problems = Vec::new();
    for file in [".ci/run", "README.md"] {
        let text =
            fs::read_to_string(root.join(file)).with_context(|| format!("reading {file}"))?;
        if !text.contains(command) {
            problems.push(format!("{file} does not contain `{command}`"));
        }
    }
    Ok(problems)
}

fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = std::process::Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("running {rustc} -vV"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(|host| host.trim().to_owned())
        .with_context(|| format!("{rustc} -vV printed no host triple"))
}

/// The resolved graph: each package's dependencies, with whether any edge to them
/// is a normal (non-dev, non-build) one.
#[derive(Default)]
pub struct DependencyGraph {
    edges: BTreeMap<String, Vec<(String, bool)>>,
}

impl DependencyGraph {
    fn load(root: &Path) -> Result<Self> {
        // Only what gets built here: without the filter, cargo lists every target's
        // dependencies, and chrono's wasm-only path (iana-time-zone -> js-sys ->
        // futures-util) would read as vault-core pulling in an async runtime.
        let metadata = MetadataCommand::new()
            .manifest_path(root.join("Cargo.toml"))
            .other_options(vec!["--filter-platform".to_owned(), host_triple()?])
            .exec()
            .context("running cargo metadata")?;
        let resolve = metadata
            .resolve
            .as_ref()
            .context("cargo metadata returned no resolve graph")?;
        let name_of = |id| metadata[id].name.to_string();
        let mut graph = DependencyGraph::default();
        for node in &resolve.nodes {
            let deps = node
                .deps
                .iter()
                .map(|dep| {
                    let normal = dep
                        .dep_kinds
                        .iter()
                        .any(|k| k.kind == DependencyKind::Normal);
                    (name_of(&dep.pkg), normal)
                })
                .collect();
            graph.edges.insert(name_of(&node.id), deps);
        }
        Ok(graph)
    }

    fn direct_normal(&self, package: &str) -> BTreeSet<&str> {
        self.edges
            .get(package)
            .into_iter()
            .flatten()
            .filter(|(_, normal)| *normal)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Everything `package` pulls in at run time (normal edges only, transitively).
    fn normal_tree(&self, package: &str) -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut pending = vec![package];
        while let Some(next) = pending.pop() {
            for dep in self.direct_normal(next) {
                if seen.insert(dep) {
                    pending.push(dep);
                }
            }
        }
        seen
    }

    #[cfg(test)]
    fn with(mut self, package: &str, deps: &[(&str, bool)]) -> Self {
        self.edges.insert(
            package.to_owned(),
            deps.iter()
                .map(|(n, normal)| ((*n).to_owned(), *normal))
                .collect(),
        );
        self
    }
}

const MEMBERS: [&str; 11] = [
    "vault-core",
    "vault-kms",
    "vault-store",
    "vault-client",
    "vault-redact",
    "vault-cli",
    "vault-api",
    "vault-tui",
    "vault-testkit",
    "vault-fuzz",
    "xtask",
];

/// `name*` matches by prefix, anything else exactly.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

enum Reach {
    Direct,
    Tree,
}

struct Rule {
    packages: &'static [&'static str],
    reach: Reach,
    forbidden: &'static [&'static str],
    invariant: &'static str,
}

const DATABASE: &[&str] = &[
    "diesel*",
    "deadpool-diesel",
    "libsqlite3-sys",
    "pq-sys",
    "rusqlite",
    "sqlx*",
    "postgres*",
    "tokio-postgres",
];
const HTTP_SERVER: &[&str] = &["axum*", "tower-http"];

/// What a client of the vault never links: the server's crates, its storage and its
/// cloud SDK. Not tower-http: reqwest builds its client stack from it.
const SERVER_SIDE: &[&str] = &[
    "vault-store",
    "vault-kms",
    "vault-api",
    "diesel*",
    "libsqlite3-sys",
    "pq-sys",
    "axum*",
    "aws-sdk-*",
    "aws-config",
];

/// Every crate whose code can end up in a binary the vault ships.
const SHIPPED: &[&str] = &[
    "vault-core",
    "vault-kms",
    "vault-store",
    "vault-client",
    "vault-redact",
    "vault-cli",
    "vault-api",
    "vault-tui",
    "xtask",
];

const RULES: &[Rule] = &[
    Rule {
        packages: SHIPPED,
        reach: Reach::Tree,
        forbidden: &["vault-testkit"],
        invariant: "vault-testkit is a dev-dependency only: test support never reaches a shipped binary",
    },
    Rule {
        packages: SHIPPED,
        reach: Reach::Tree,
        forbidden: &["vault-fuzz"],
        invariant: "vault-fuzz is a leaf: its targets reach the vault's crates, nothing shipped reaches it",
    },
    Rule {
        packages: &["vault-core"],
        reach: Reach::Tree,
        forbidden: &[
            "tokio*",
            "async-std",
            "smol",
            "futures*",
            "diesel*",
            "libsqlite3-sys",
            "pq-sys",
            "rusqlite",
            "sqlx*",
            "axum*",
            "hyper*",
            "http",
            "reqwest",
            "tower*",
            "aws-*",
            "vault-kms",
            "vault-store",
            "vault-api",
            "vault-tui",
        ],
        invariant: "vault-core does no I/O and depends on no async, database, HTTP or cloud crate",
    },
    Rule {
        packages: &["vault-kms"],
        reach: Reach::Tree,
        forbidden: &["vault-store", "vault-api", "vault-tui", "diesel*", "axum*"],
        invariant: "vault-kms stands on vault-core alone",
    },
    Rule {
        packages: &["vault-store"],
        reach: Reach::Tree,
        forbidden: &["vault-kms", "vault-api", "vault-tui", "axum*", "aws-*"],
        invariant: "vault-store stands on vault-core alone and keeps envelopes as opaque bytes",
    },
    Rule {
        packages: &["vault-core", "vault-kms", "vault-api", "vault-tui", "xtask"],
        reach: Reach::Direct,
        forbidden: DATABASE,
        invariant: "only vault-store knows diesel",
    },
    Rule {
        packages: &[
            "vault-core",
            "vault-kms",
            "vault-store",
            "vault-tui",
            "xtask",
        ],
        reach: Reach::Direct,
        forbidden: HTTP_SERVER,
        invariant: "only vault-api knows axum",
    },
    Rule {
        packages: &["vault-tui"],
        reach: Reach::Tree,
        // The AWS SDK, not every `aws-` crate: aws-lc-rs is the TLS provider clients
        // speak rustls with.
        forbidden: &[
            "vault-store",
            "vault-kms",
            "vault-api",
            "diesel*",
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "aws-runtime",
            "aws-sigv4",
            "aws-credential-types",
        ],
        invariant: "vault-tui reaches data only through vault-api over HTTP",
    },
    Rule {
        packages: &["vault-client"],
        reach: Reach::Tree,
        forbidden: SERVER_SIDE,
        invariant: "vault-client depends on no server crate: a client needs vault-core and HTTP only",
    },
    Rule {
        packages: &["vault-client"],
        reach: Reach::Tree,
        forbidden: &["vault-tui", "vault-cli", "vault-redact"],
        invariant: "vault-client is the floor of the clients: it stands on none of them",
    },
    Rule {
        packages: &["vault-cli"],
        reach: Reach::Tree,
        forbidden: SERVER_SIDE,
        invariant: "vault-cli reaches the vault only over HTTP, through vault-client",
    },
    Rule {
        packages: &["vault-redact"],
        reach: Reach::Tree,
        forbidden: &["vault-*", "tokio*", "futures*", "reqwest", "hyper*"],
        invariant: "vault-redact is a pure library (no I/O, no vault crate): an orchestrator can run it over any transcript pipeline",
    },
    Rule {
        packages: &["xtask"],
        reach: Reach::Tree,
        // Crates that compile C (or link a C library) would make `cargo xtask tidy`
        // build SQLite, libpq and OpenSSL before it checks anything.
        forbidden: &[
            "vault-*",
            "libsqlite3-sys",
            "pq-sys",
            "openssl-sys",
            "aws-lc-sys",
            "ring",
        ],
        invariant: "xtask compiles no C: it reaches the vault's crates through cargo, not as dependencies",
    },
];

pub fn layering_problems(graph: &DependencyGraph) -> Vec<String> {
    let mut problems = Vec::new();
    for rule in RULES {
        for package in rule.packages {
            let deps = match rule.reach {
                Reach::Direct => graph.direct_normal(package),
                Reach::Tree => graph.normal_tree(package),
            };
            for dep in deps {
                if rule.forbidden.iter().any(|pattern| matches(pattern, dep)) {
                    problems.push(format!(
                        "{package} depends on {dep}, but {}",
                        rule.invariant
                    ));
                }
            }
        }
    }
    for member in MEMBERS {
        if !graph.edges.contains_key(member) {
            problems.push(format!(
                "workspace member {member} is missing from the dependency graph"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean() -> DependencyGraph {
        let mut graph = DependencyGraph::default()
            .with("vault-core", &[("serde", true), ("proptest", false)])
            .with("vault-kms", &[("vault-core", true), ("tokio", false)])
            .with("vault-store", &[("vault-core", true), ("diesel", true)])
            .with(
                "vault-api",
                &[("vault-kms", true), ("vault-store", true), ("axum", true)],
            )
            .with("vault-client", &[("vault-core", true), ("reqwest", true)])
            .with(
                "vault-tui",
                &[
                    ("vault-core", true),
                    ("vault-client", true),
                    ("reqwest", true),
                ],
            )
            .with(
                "vault-redact",
                &[("aho-corasick", true), ("proptest", false)],
            )
            .with(
                "vault-cli",
                &[
                    ("vault-client", true),
                    ("vault-redact", true),
                    ("tokio", true),
                    ("vault-testkit", false),
                ],
            )
            .with("xtask", &[("cargo_metadata", true), ("vault-api", false)])
            .with("vault-testkit", &[("diesel", true), ("tempfile", true)])
            .with(
                "vault-fuzz",
                &[
                    ("vault-kms", true),
                    ("vault-client", true),
                    ("libfuzzer-sys", true),
                ],
            )
            .with("diesel", &[("libsqlite3-sys", true)])
            .with("reqwest", &[("hyper", true)]);
        graph = graph.with("proptest", &[("tokio", true)]);
        graph
    }

    #[test]
    fn nothing_shipped_depends_on_the_fuzz_targets() {
        let graph = clean().with("vault-api", &[("vault-fuzz", true)]);
        let problems = layering_problems(&graph);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("vault-api depends on vault-fuzz")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_intended_layering_passes() {
        assert_eq!(layering_problems(&clean()), Vec::<String>::new());
    }

    #[test]
    fn vault_core_may_not_pull_async_or_io_crates_even_transitively() {
        let graph = clean()
            .with("vault-core", &[("serde", true), ("helper", true)])
            .with("helper", &[("tokio", true)]);
        assert_eq!(
            layering_problems(&graph),
            [
                "vault-core depends on tokio, but vault-core does no I/O and depends on no async, database, HTTP or cloud crate"
            ]
        );
        let aws = clean().with("vault-core", &[("aws-sdk-kms", true)]);
        assert_eq!(
            layering_problems(&aws),
            [
                "vault-core depends on aws-sdk-kms, but vault-core does no I/O and depends on no async, database, HTTP or cloud crate",
                "vault-store depends on aws-sdk-kms, but vault-store stands on vault-core alone and keeps envelopes as opaque bytes",
                "vault-tui depends on aws-sdk-kms, but vault-tui reaches data only through vault-api over HTTP",
                "vault-client depends on aws-sdk-kms, but vault-client depends on no server crate: a client needs vault-core and HTTP only",
                "vault-cli depends on aws-sdk-kms, but vault-cli reaches the vault only over HTTP, through vault-client",
            ]
        );
    }

    #[test]
    fn dev_dependencies_do_not_count() {
        let graph = clean().with("vault-core", &[("tokio", false)]);
        assert!(layering_problems(&graph).is_empty());
    }

    #[test]
    fn only_the_store_knows_diesel_and_only_the_api_knows_axum() {
        let graph = clean()
            .with("vault-api", &[("diesel", true), ("axum", true)])
            .with("vault-tui", &[("axum", true)]);
        assert_eq!(
            layering_problems(&graph),
            [
                "vault-api depends on diesel, but only vault-store knows diesel",
                "vault-tui depends on axum, but only vault-api knows axum",
            ]
        );
    }

    #[test]
    fn the_tui_reaches_data_over_http_only() {
        let graph = clean()
            .with("vault-tui", &[("vault-api", true)])
            .with("vault-api", &[("vault-store", true)]);
        let problems = layering_problems(&graph);
        assert!(problems.contains(&"vault-tui depends on vault-api, but vault-tui reaches data only through vault-api over HTTP".to_owned()));
        assert!(problems.contains(&"vault-tui depends on vault-store, but vault-tui reaches data only through vault-api over HTTP".to_owned()));
    }

    #[test]
    fn kms_and_store_stand_on_core_alone() {
        let graph = clean().with("vault-kms", &[("vault-core", true), ("vault-store", true)]);
        assert_eq!(
            layering_problems(&graph),
            [
                "vault-kms depends on diesel, but vault-kms stands on vault-core alone",
                "vault-kms depends on vault-store, but vault-kms stands on vault-core alone",
            ]
        );
    }

    #[test]
    fn the_client_stands_on_core_and_http_alone() {
        let graph = clean().with(
            "vault-client",
            &[("vault-core", true), ("vault-store", true), ("axum", true)],
        );
        let problems = layering_problems(&graph);
        for dep in ["vault-store", "axum", "diesel", "libsqlite3-sys"] {
            let expected = format!(
                "vault-client depends on {dep}, but vault-client depends on no server crate: a client needs vault-core and HTTP only"
            );
            assert!(problems.contains(&expected), "{problems:?}");
        }
        let dev_only = clean().with(
            "vault-client",
            &[("vault-core", true), ("vault-api", false)],
        );
        assert!(layering_problems(&dev_only).is_empty());
        let upside_down =
            clean().with("vault-client", &[("vault-core", true), ("vault-cli", true)]);
        assert_eq!(
            layering_problems(&upside_down),
            // vault-redact comes in through vault-cli: the whole tree is checked.
            [
                "vault-client depends on vault-cli, but vault-client is the floor of the clients: it stands on none of them",
                "vault-client depends on vault-redact, but vault-client is the floor of the clients: it stands on none of them",
            ],
        );
    }

    #[test]
    fn the_cli_reaches_the_vault_over_http_and_the_redactor_does_no_io() {
        let graph = clean()
            .with(
                "vault-cli",
                &[("vault-client", true), ("vault-store", true)],
            )
            .with("vault-redact", &[("aho-corasick", true), ("tokio", true)]);
        let problems = layering_problems(&graph);
        for expected in [
            "vault-cli depends on vault-store, but vault-cli reaches the vault only over HTTP, through vault-client",
            "vault-cli depends on diesel, but vault-cli reaches the vault only over HTTP, through vault-client",
            "vault-redact depends on tokio, but vault-redact is a pure library (no I/O, no vault crate): an orchestrator can run it over any transcript pipeline",
        ] {
            assert!(problems.iter().any(|p| p == expected), "{problems:?}");
        }
    }

    #[test]
    fn the_testkit_is_a_dev_dependency_only() {
        let as_dev = clean().with(
            "vault-store",
            &[
                ("vault-core", true),
                ("diesel", true),
                ("vault-testkit", false),
            ],
        );
        assert!(layering_problems(&as_dev).is_empty());
        let shipped = clean().with("vault-client", &[("vault-testkit", true)]);
        let problems = layering_problems(&shipped);
        assert_eq!(
            problems.first().map(String::as_str),
            Some(
                "vault-client depends on vault-testkit, but vault-testkit is a dev-dependency \
                 only: test support never reaches a shipped binary"
            ),
            "{problems:?}"
        );
        // Through another crate counts too.
        let through = clean()
            .with("vault-kms", &[("vault-core", true), ("helper", true)])
            .with("helper", &[("vault-testkit", true)]);
        assert!(
            layering_problems(&through)
                .iter()
                .any(|p| p.starts_with("vault-kms depends on vault-testkit"))
        );
    }

    #[test]
    fn xtask_compiles_no_c() {
        let graph = clean().with("xtask", &[("vault-store", true)]);
        let problems = layering_problems(&graph);
        assert!(problems.contains(&"xtask depends on vault-store, but xtask compiles no C: it reaches the vault's crates through cargo, not as dependencies".to_owned()), "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("xtask depends on libsqlite3-sys"))
        );
    }

    #[test]
    fn file_headers_and_source_text_are_checked() {
        let dir = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        let core = dir.join("vault-core/src");
        fs::create_dir_all(&core).expect("temp dir");
        let routes = dir.join("vault-api/src/routes");
        fs::create_dir_all(&routes).expect("temp dir");
        fs::write(
            routes.join("thin.rs"),
            "//! A route.\nfn f() { service::secrets::get(); } // no-store\n",
        )
        .expect("write");
        fs::write(
            routes.join("fat.rs"),
            "//! A route.\nfn f() { state.store.secret(); }\n",
        )
        .expect("write");
        fs::write(core.join("good.rs"), "//! Says what it holds.\n").expect("write");
        fs::write(
            core.join("bad.rs"),
            "// not a doc line\nfn f() { let _ = chrono::Utc::now(); }\n",
        )
        .expect("write");
        let headers = file_header_problems(&dir).expect("walks");
        let text = source_text_problems(&dir).expect("walks");
        fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(
            headers,
            ["vault-core/src/bad.rs does not start with a `//!` line saying what lives there"]
        );
        assert_eq!(
            text,
            [
                "vault-core/src/bad.rs:2: vault-core must not use `::now(` (no clock reads, no I/O)",
                "vault-api/src/routes/fat.rs:2: routes do HTTP only and must not use `.store`: \
                 call a module of vault-api/src/service/",
            ]
        );
    }
}
