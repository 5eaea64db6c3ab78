//! `vaultctl import FILE`: a `.env` file read by dotenvy (quoted, multi-line and
//! `export` forms), shown as a plan of names (create, rotate, unchanged, refused with
//! the reason), and with `--apply` written one audited request per name that changes.
//! `unchanged` is the vault's answer, not ours: no person may read a value back, so
//! each existing name's value is compared by the vault (`POST …/compare`, audited and
//! budgeted per principal, since each answer tests a guess). `vaultctl export` is its
//! counterpart for humans: names and masked metadata, never a value.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::Serialize;
use vault_client::Plaintext;
use vault_core::{ProtectedNames, SecretName, SecretValue};

use crate::exit::Failure;
use crate::manage::{self, Meta, Owner};
use crate::{ExportArgs, ImportArgs, auth};

/// What the import does with one name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Rotate,
    /// The vault holds this very value already: nothing is written.
    Unchanged,
    Refused,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub name: String,
    pub action: Action,
    /// Why it is refused, how it failed when applied, or why a rotation was planned
    /// without a comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The version now current: the one compared with, or with `--apply` the one
    /// written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// A name of the file and its value, or why it cannot be imported.
type FileEntry = (String, Result<SecretValue, String>);

/// The file's names and values, in file order, duplicates refused. A line dotenvy
/// cannot parse refuses the whole file: a plan over part of a file would look whole.
fn read(path: &std::path::Path) -> Result<Vec<FileEntry>, Failure> {
    let iter = dotenvy::from_path_iter(path)
        .map_err(|error| Failure::config(format!("{}: {}", path.display(), describe(&error))))?;
    let mut entries: Vec<FileEntry> = Vec::new();
    let mut seen = BTreeMap::new();
    for item in iter {
        let (name, value) = item.map_err(|error| {
            Failure::refused(format!("{}: {}", path.display(), describe(&error)))
        })?;
        let value = zeroize::Zeroizing::new(value);
        let parsed = SecretValue::new(value.to_string()).map_err(|error| error.to_string());
        if let Some(index) = seen.insert(name.clone(), entries.len()) {
            entries[index].1 = Err("defined more than once in the file".to_owned());
            entries.push((name, Err("defined more than once in the file".to_owned())));
        } else {
            entries.push((name, parsed));
        }
    }
    Ok(entries)
}

/// dotenvy's error without the text of the line, which may hold a value.
fn describe(error: &dotenvy::Error) -> String {
    match error {
        dotenvy::Error::LineParse(_, index) => {
            format!("a line cannot be parsed (at character {index} of it); nothing was imported")
        }
        dotenvy::Error::Io(error) => error.to_string(),
        _ => "cannot be read as a .env file".to_owned(),
    }
}

pub async fn import(args: ImportArgs) -> Result<ExitCode, Failure> {
    let owner = Owner::of(&args.owner)?;
    manage::check_flags(
        &owner,
        &args.profiles,
        &args.milestones,
        args.category.as_deref(),
    )?;
    let meta = Meta {
        scope: manage::implied_scope(args.scope.clone(), &args.profiles, &args.milestones),
        profile_ids: (!args.profiles.is_empty()).then(|| args.profiles.clone()),
        milestone_ids: (!args.milestones.is_empty()).then(|| args.milestones.clone()),
        category: args.category.clone(),
        ..Meta::default()
    };
    let entries = read(&args.file)?;
    if std::fs::read(&args.file).is_ok_and(|bytes| bytes.contains(&b'$')) {
        eprintln!(
            "vaultctl: warning: {} holds `$`: dotenvy expands $NAME and ${{NAME}} in unquoted \
             and double-quoted values (from your environment first, then earlier names); \
             single quotes or \\$ keep it",
            args.file.display()
        );
    }
    let client = auth::client(args.token_file.as_deref())?;
    let operator = client.token_kind() == Some(vault_core::TokenKind::Operator);
    let protected = ProtectedNames::default();
    let mut steps = Vec::new();
    let mut writes = Vec::new();
    for (name, value) in entries {
        let refused = |reason: String| Step {
            name: name.clone(),
            action: Action::Refused,
            reason: Some(reason),
            version: None,
        };
        if name.parse::<SecretName>().is_err() {
            steps.push(refused(
                "not a valid name: ^[A-Z_][A-Z0-9_]*$, at most 256 characters".into(),
            ));
            continue;
        }
        if protected.is_protected(&name) {
            steps.push(refused(
                "a protected name: only the orchestrator's layers may set it".into(),
            ));
            continue;
        }
        let value = match value {
            Ok(value) => value,
            Err(reason) => {
                steps.push(refused(reason));
                continue;
            }
        };
        let existing = manage::candidates(&client, &owner, &name, meta.scope.as_deref()).await?;
        let mut current = match existing.len() {
            0 => None,
            1 => existing.into_iter().next(),
            n => {
                steps.push(refused(format!(
                    "{n} entries of this name have different scopes; set it with vaultctl set --id"
                )));
                continue;
            }
        };
        let value = Plaintext::new(value.expose());
        let (action, reason, version) = match current.as_mut() {
            None => (Action::Create, None, None),
            // Operators never learn anything of a value, not even equality: the vault
            // refuses them every comparison, so none is asked for (each would only put
            // a refusal in the trail).
            Some(_) if operator => (
                Action::Rotate,
                Some("not compared: operators may not compare values".to_owned()),
                None,
            ),
            Some(view) => match manage::compare(&client, &owner, view, &value).await {
                Ok(compared) => {
                    // A rotation is guarded by the version compared with: one that
                    // moved since is a conflict, not a silent overwrite.
                    view.version = compared.version;
                    let action = if compared.matches {
                        Action::Unchanged
                    } else {
                        Action::Rotate
                    };
                    (action, None, Some(compared.version))
                }
                // Whoever may not compare a value may not rotate it either.
                Err(error) => {
                    steps.push(refused(Failure::from(error).line));
                    continue;
                }
            },
        };
        if action != Action::Unchanged {
            writes.push((steps.len(), value, current));
        }
        steps.push(Step {
            name,
            action,
            reason,
            version,
        });
    }
    let mut failed = steps.iter().any(|s| s.action == Action::Refused);
    if args.apply {
        for (index, value, current) in writes {
            let step = &mut steps[index];
            let written = match &current {
                None => manage::create(&client, &owner, step.name.clone(), value, &meta).await,
                Some(current) => manage::update(&client, &owner, current, Some(value), &meta).await,
            };
            match written {
                Ok(view) => step.version = Some(view.version),
                Err(failure) => {
                    failed = true;
                    step.action = Action::Refused;
                    step.reason = Some(failure.line);
                }
            }
        }
    }
    if args.json {
        manage::print_json(&steps)?;
    } else {
        let verb = |step: &Step| match (&step.action, args.apply) {
            (Action::Create, false) => "create",
            (Action::Create, true) => "created",
            (Action::Rotate, false) => "rotate",
            (Action::Rotate, true) => "rotated",
            (Action::Unchanged, _) => "unchanged",
            (Action::Refused, _) => "refused",
        };
        manage::print_table(
            &["ACTION", "NAME", "DETAIL"],
            steps
                .iter()
                .map(|step| {
                    let detail = match (&step.reason, step.version) {
                        (Some(reason), _) => reason.clone(),
                        (None, Some(version)) if step.action == Action::Rotate && !args.apply => {
                            format!("from version {version}")
                        }
                        (None, Some(version)) => format!("version {version}"),
                        (None, None) => String::new(),
                    };
                    vec![verb(step).to_owned(), step.name.clone(), detail]
                })
                .collect(),
        );
        if !args.apply {
            eprintln!("vaultctl: a plan only; nothing was written. Run again with --apply.");
        }
    }
    Ok(if failed {
        ExitCode::from(crate::exit::REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Names and masked metadata as JSON: what a person may take out of the vault.
pub async fn export(args: ExportArgs) -> Result<ExitCode, Failure> {
    manage::list(crate::ListArgs {
        owner: args.owner,
        prefix: None,
        expired: false,
        json: true,
        token_file: args.token_file,
    })
    .await
}
