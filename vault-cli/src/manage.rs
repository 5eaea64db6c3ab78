//! The user side: list, get (masked), set, rm, versions and rollback of user secrets,
//! workspace keys and project entries, addressed by name. Values come from a file,
//! standard input or a hidden prompt, never from the command line, and no command
//! prints one.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use serde::Serialize;
use vault_client::wire::{
    CompareValue, CreateEntry, CreateKey, CreateSecret, EntryList, EntryListParams, KeyListParams,
    ListParams, Rollback, SecretView, UpdateEntry, UpdateSecret, ValueComparison, VersionView,
};
use vault_client::{Client, EntryChange, EntryRef, Plaintext, ProblemCode};
use vault_core::{ProjectId, WorkspaceId};
use zeroize::Zeroizing;

use crate::exit::Failure;
use crate::{EntryArgs, OwnerArgs, SetArgs, ValueArgs, auth};

/// The most entries a list walks before it stops (and says so).
const LIST_LIMIT: usize = 10_000;

/// Whose entries a command works on.
pub enum Owner {
    /// A user's secrets: the token's own user, or `Some(id)` for operator and
    /// orchestrator tokens.
    User(Option<String>),
    Workspace(WorkspaceId),
    Project(ProjectId),
}

impl Owner {
    pub fn of(args: &OwnerArgs) -> Result<Owner, Failure> {
        let parsed =
            |flag: &str, text: &str| Failure::usage(format!("--{flag} {text:?} is not a valid id"));
        Ok(match (&args.workspace, &args.project) {
            (Some(workspace), None) => Owner::Workspace(
                workspace
                    .parse()
                    .map_err(|_| parsed("workspace", workspace))?,
            ),
            (None, Some(project)) => {
                Owner::Project(project.parse().map_err(|_| parsed("project", project))?)
            }
            (None, None) => Owner::User(args.user.clone()),
            // clap refuses the pair before we get here.
            (Some(_), Some(_)) => {
                return Err(Failure::usage(
                    "--workspace and --project do not go together",
                ));
            }
        })
    }

    pub fn noun(&self) -> &'static str {
        match self {
            Owner::User(_) => "user secret",
            Owner::Workspace(_) => "workspace key",
            Owner::Project(_) => "project entry",
        }
    }

    fn entry_ref(&self, view: &SecretView) -> EntryRef {
        match self {
            Owner::User(_) => EntryRef::UserSecret(view.id.clone()),
            Owner::Workspace(w) => EntryRef::WorkspaceKey(w.clone(), view.id.clone()),
            Owner::Project(p) => EntryRef::ProjectEntry(p.clone(), view.id.clone()),
        }
    }
}

/// An entry as a list shows it: full masked metadata, or (Informed project members)
/// its name and category only.
enum Listed {
    Full(Vec<SecretView>),
    Names(Vec<vault_client::wire::EntryName>),
}

async fn list_of(
    client: &Client,
    owner: &Owner,
    prefix: Option<String>,
    expired: Option<bool>,
) -> Result<Listed, Failure> {
    let items = match owner {
        Owner::User(user) => {
            client
                .collect_pages(LIST_LIMIT, |cursor| {
                    let params = ListParams {
                        limit: Some(200),
                        cursor,
                        name_prefix: prefix.clone(),
                        expired,
                        user_id: user.clone(),
                    };
                    async move { client.list_secrets(&params).await }
                })
                .await?
        }
        Owner::Workspace(workspace) => {
            client
                .collect_pages(LIST_LIMIT, |cursor| {
                    let params = KeyListParams {
                        limit: Some(200),
                        cursor,
                        name_prefix: prefix.clone(),
                        expired,
                    };
                    async move { client.list_workspace_keys(workspace, &params).await }
                })
                .await?
        }
        Owner::Project(project) => {
            let mut full = Vec::new();
            let mut names = Vec::new();
            let mut cursor = None;
            loop {
                let params = EntryListParams {
                    limit: Some(200),
                    cursor,
                    name_prefix: prefix.clone(),
                    category: None,
                    expired,
                };
                let page = client.list_project_entries(project, &params).await?;
                cursor = page.next_cursor().map(str::to_owned);
                match page {
                    EntryList::Full(page) => full.extend(page.data),
                    EntryList::Names(page) => names.extend(page.data),
                }
                if cursor.is_none() || full.len() + names.len() >= LIST_LIMIT {
                    break;
                }
            }
            if !names.is_empty() {
                return Ok(Listed::Names(names));
            }
            full
        }
    };
    Ok(Listed::Full(items))
}

/// The one entry `args` names: by `--id`, or the only entry of that name.
async fn find(client: &Client, owner: &Owner, args: &EntryArgs) -> Result<SecretView, Failure> {
    let matching = named(client, owner, &args.name).await?;
    pick(owner, &args.name, args.id.as_deref(), matching)?.ok_or_else(|| {
        Failure::refused(format!(
            "no {} named {} is visible to this token",
            owner.noun(),
            args.name
        ))
    })
}

async fn named(client: &Client, owner: &Owner, name: &str) -> Result<Vec<SecretView>, Failure> {
    match list_of(client, owner, Some(name.to_owned()), None).await? {
        Listed::Full(items) => Ok(items
            .into_iter()
            .filter(|v| v.name.as_str() == name)
            .collect()),
        Listed::Names(_) => Err(Failure::refused(
            "this token's project role (informed) sees names and categories only",
        )),
    }
}

/// Of the entries named `name`, the one with `id`, or the only one.
pub fn pick(
    owner: &Owner,
    name: &str,
    id: Option<&str>,
    matching: Vec<SecretView>,
) -> Result<Option<SecretView>, Failure> {
    if let Some(id) = id {
        return Ok(matching.into_iter().find(|v| v.id.as_str() == id));
    }
    if matching.len() > 1 {
        let ids: Vec<String> = matching
            .iter()
            .map(|v| format!("{} ({})", v.id, scope_of(v)))
            .collect();
        return Err(Failure::usage(format!(
            "{} {name} has {} entries with different scopes: pass --id, one of {}",
            owner.noun(),
            matching.len(),
            ids.join(", ")
        )));
    }
    Ok(matching.into_iter().next())
}

pub fn scope_of(view: &SecretView) -> String {
    let targets = view.targets();
    if targets.is_empty() {
        view.scope.to_string()
    } else {
        format!("{}:{}", view.scope, targets.join(","))
    }
}

pub async fn list(args: crate::ListArgs) -> Result<ExitCode, Failure> {
    let client = auth::client(args.token_file.as_deref())?;
    let owner = Owner::of(&args.owner)?;
    let expired = args.expired.then_some(true);
    match list_of(&client, &owner, args.prefix, expired).await? {
        Listed::Full(items) => {
            if items.len() >= LIST_LIMIT {
                eprintln!("vaultctl: showing the first {LIST_LIMIT}; narrow with --prefix");
            }
            if args.json {
                print_json(&items)?;
            } else {
                print_table(
                    &[
                        "NAME", "SCOPE", "CATEGORY", "VERSION", "MASKED", "EXPIRES", "ID",
                    ],
                    items.iter().map(row).collect(),
                );
            }
        }
        Listed::Names(names) => {
            if args.json {
                print_json(&names)?;
            } else {
                print_table(
                    &["NAME", "CATEGORY"],
                    names
                        .iter()
                        .map(|n| vec![n.name.clone(), n.category.to_string()])
                        .collect(),
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn row(view: &SecretView) -> Vec<String> {
    vec![
        view.name.to_string(),
        scope_of(view),
        view.category.to_string(),
        view.version.to_string(),
        view.masked.clone(),
        expiry_of(view),
        view.id.to_string(),
    ]
}

fn expiry_of(view: &SecretView) -> String {
    match (view.expires_at, view.expired) {
        (_, true) => "expired".to_owned(),
        (Some(at), false) => at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        (None, false) => "-".to_owned(),
    }
}

pub async fn get(args: crate::GetArgs) -> Result<ExitCode, Failure> {
    let client = auth::client(args.entry.token_file.as_deref())?;
    let owner = Owner::of(&args.entry.owner)?;
    let view = find(&client, &owner, &args.entry).await?;
    let view = client.entry(&owner.entry_ref(&view)).await?;
    if args.json {
        print_json(&view)?;
    } else {
        let fields = [
            ("name", view.name.to_string()),
            ("id", view.id.to_string()),
            ("scope", scope_of(&view)),
            ("category", view.category.to_string()),
            ("version", view.version.to_string()),
            ("masked", view.masked.clone()),
            ("expires", expiry_of(&view)),
            ("description", view.description.clone().unwrap_or_default()),
            ("updated", view.updated_at.to_rfc3339()),
        ];
        for (field, value) in fields {
            println!("{field:<12} {value}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The value to store, from `--from-file` (byte for byte), `--stdin` or a piped
/// standard input (one trailing newline dropped, as `$(…)` would), or a hidden prompt
/// on a terminal.
fn read_value(args: &ValueArgs, name: &str) -> Result<Plaintext, Failure> {
    let text = if let Some(path) = &args.from_file {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|error| {
            Failure::config(format!("--from-file {}: {error}", path.display()))
        })?);
        Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|_| {
            Failure::refused(format!(
                "--from-file {}: the value is not UTF-8",
                path.display()
            ))
        })?)
    } else if args.stdin || !std::io::stdin().is_terminal() {
        let mut text = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|_| Failure::refused("standard input: the value is not UTF-8"))?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        text
    } else {
        let terminal = |error: std::io::Error| Failure::config(format!("the terminal: {error}"));
        // Echo off before the prompt shows, not after it (see tty.rs).
        let _quiet = crate::tty::EchoOff::on_the_terminal().map_err(terminal)?;
        Zeroizing::new(
            rpassword::prompt_password(format!("value of {name} (hidden): ")).map_err(terminal)?,
        )
    };
    Ok(Plaintext::new(text.as_str()))
}

/// What `set` and `import` write beside a value; `None` leaves a field alone.
#[derive(Clone, Default)]
pub struct Meta {
    pub scope: Option<String>,
    pub profile_ids: Option<Vec<String>>,
    pub milestone_ids: Option<Vec<String>>,
    pub category: Option<String>,
    /// `Some(None)` removes it.
    pub description: Option<Option<String>>,
    /// `Some(None)` removes it.
    pub expires_at: Option<Option<String>>,
}

impl Meta {
    fn of(args: &SetArgs, owner: &Owner) -> Result<Meta, Failure> {
        check_flags(
            owner,
            &args.profiles,
            &args.milestones,
            args.category.as_deref(),
        )?;
        Ok(Meta {
            scope: implied_scope(args.scope.clone(), &args.profiles, &args.milestones),
            profile_ids: (!args.profiles.is_empty()).then(|| args.profiles.clone()),
            milestone_ids: (!args.milestones.is_empty()).then(|| args.milestones.clone()),
            category: args.category.clone(),
            description: args
                .description
                .clone()
                .map(|d| (!d.is_empty()).then_some(d)),
            expires_at: if args.no_expiry {
                Some(None)
            } else {
                args.expires_at.clone().map(Some)
            },
        })
    }
}

/// Profiles belong to user secrets and workspace keys, milestones and categories to
/// project entries.
pub fn check_flags(
    owner: &Owner,
    profiles: &[String],
    milestones: &[String],
    category: Option<&str>,
) -> Result<(), Failure> {
    let project = matches!(owner, Owner::Project(_));
    if project && !profiles.is_empty() {
        return Err(Failure::usage(
            "--profile is for user secrets and workspace keys; project entries take --milestone",
        ));
    }
    if !project && (!milestones.is_empty() || category.is_some()) {
        return Err(Failure::usage(
            "--milestone and --category are for project entries (--project)",
        ));
    }
    Ok(())
}

/// `--profile` implies `agents`, `--milestone` implies `milestone`.
pub fn implied_scope(
    scope: Option<String>,
    profiles: &[String],
    milestones: &[String],
) -> Option<String> {
    scope.or_else(|| {
        if !profiles.is_empty() {
            Some("agents".to_owned())
        } else if !milestones.is_empty() {
            Some("milestone".to_owned())
        } else {
            None
        }
    })
}

/// The entries named `name` that a write with `scope` would change: all of them when
/// no scope is asked for.
pub async fn candidates(
    client: &Client,
    owner: &Owner,
    name: &str,
    scope: Option<&str>,
) -> Result<Vec<SecretView>, Failure> {
    let mut matching = named(client, owner, name).await?;
    if let Some(scope) = scope {
        matching.retain(|v| v.scope.to_string() == scope);
    }
    Ok(matching)
}

pub async fn create(
    client: &Client,
    owner: &Owner,
    name: String,
    value: Plaintext,
    meta: &Meta,
) -> Result<SecretView, Failure> {
    let meta = meta.clone();
    let description = meta.description.flatten();
    let expires_at = meta.expires_at.flatten();
    Ok(match owner {
        Owner::User(user) => {
            client
                .create_secret(&CreateSecret {
                    name,
                    value,
                    scope: meta.scope,
                    profile_ids: meta.profile_ids,
                    description,
                    expires_at,
                    user_id: user.clone(),
                })
                .await?
        }
        Owner::Workspace(workspace) => {
            client
                .create_workspace_key(
                    workspace,
                    &CreateKey {
                        name,
                        value,
                        scope: meta.scope,
                        profile_ids: meta.profile_ids,
                        description,
                        expires_at,
                    },
                )
                .await?
        }
        Owner::Project(project) => {
            client
                .create_project_entry(
                    project,
                    &CreateEntry {
                        name,
                        value,
                        category: meta.category.unwrap_or_else(|| "secret".to_owned()),
                        scope: meta.scope.unwrap_or_else(|| "project".to_owned()),
                        milestone_ids: meta.milestone_ids,
                        description,
                        expires_at,
                    },
                )
                .await?
        }
    })
}

/// A new value (a rotation) and/or metadata, refused unless `current` is still the
/// version read.
pub async fn update(
    client: &Client,
    owner: &Owner,
    current: &SecretView,
    value: Option<Plaintext>,
    meta: &Meta,
) -> Result<SecretView, Failure> {
    let meta = meta.clone();
    let change = match owner {
        Owner::Project(_) => EntryChange::Milestones(UpdateEntry {
            value,
            scope: meta.scope,
            milestone_ids: meta.milestone_ids,
            category: meta.category,
            description: meta.description,
            expires_at: meta.expires_at,
            expected_version: Some(current.version),
        }),
        _ => EntryChange::Profiles(UpdateSecret {
            value,
            scope: meta.scope,
            profile_ids: meta.profile_ids,
            description: meta.description,
            expires_at: meta.expires_at,
            expected_version: Some(current.version),
        }),
    };
    Ok(client
        .update_entry(&owner.entry_ref(current), &change)
        .await?)
}

/// The longest a throttled comparison waits before it tries again; the vault names
/// the wait, and an import of a few hundred names needs at most this much per name.
const LONGEST_COMPARISON_WAIT: u64 = 60;

/// Whether `value` is `current`'s value now, asked of the vault (no person may read
/// one back). Waits out the vault's comparison budget when it is spent.
pub async fn compare(
    client: &Client,
    owner: &Owner,
    current: &SecretView,
    value: &Plaintext,
) -> Result<ValueComparison, vault_client::ClientError> {
    let entry = owner.entry_ref(current);
    let body = CompareValue {
        value: value.clone(),
    };
    loop {
        match client.compare_entry(&entry, &body).await {
            Err(error)
                if error
                    .problem()
                    .is_some_and(|p| p.code == ProblemCode::TooManyComparisons) =>
            {
                let wait = error
                    .problem()
                    .and_then(|p| p.retry_after)
                    .unwrap_or(1)
                    .clamp(1, LONGEST_COMPARISON_WAIT);
                eprintln!(
                    "vaultctl: the vault limits how fast values are compared; waiting {wait} s"
                );
                tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
            }
            other => return other,
        }
    }
}

pub async fn set(args: SetArgs) -> Result<ExitCode, Failure> {
    let client = auth::client(args.entry.token_file.as_deref())?;
    let owner = Owner::of(&args.entry.owner)?;
    let meta = Meta::of(&args, &owner)?;
    let scope = if args.entry.id.is_none() {
        meta.scope.as_deref()
    } else {
        None
    };
    let matching = candidates(&client, &owner, &args.entry.name, scope).await?;
    let existing = pick(&owner, &args.entry.name, args.entry.id.as_deref(), matching)?;
    if existing.is_none() && args.entry.id.is_some() {
        return Err(Failure::refused(format!(
            "no {} named {} has that --id",
            owner.noun(),
            args.entry.name
        )));
    }
    let value = if args.value.keep_value {
        if existing.is_none() {
            return Err(Failure::usage(format!(
                "--keep-value: there is no {} named {} yet to keep a value of",
                owner.noun(),
                args.entry.name
            )));
        }
        None
    } else {
        Some(read_value(&args.value, &args.entry.name)?)
    };
    let (verb, view) = match (existing, value) {
        (None, Some(value)) => (
            "created",
            create(&client, &owner, args.entry.name.clone(), value, &meta).await?,
        ),
        (None, None) => return Err(Failure::internal("no value to create with")),
        (Some(current), value) => {
            let verb = if value.is_some() {
                "rotated"
            } else {
                "updated"
            };
            (verb, update(&client, &owner, &current, value, &meta).await?)
        }
    };
    if args.json {
        print_json(&view)?;
    } else {
        println!(
            "{verb} {} {} ({}, {}, version {}, {})",
            owner.noun(),
            view.name,
            view.id,
            scope_of(&view),
            view.version,
            view.masked
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn rm(args: EntryArgs) -> Result<ExitCode, Failure> {
    let client = auth::client(args.token_file.as_deref())?;
    let owner = Owner::of(&args.owner)?;
    let view = find(&client, &owner, &args).await?;
    client.delete_entry(&owner.entry_ref(&view)).await?;
    println!(
        "deleted {} {} ({}) with every version",
        owner.noun(),
        view.name,
        view.id
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn versions(args: crate::GetArgs) -> Result<ExitCode, Failure> {
    let client = auth::client(args.entry.token_file.as_deref())?;
    let owner = Owner::of(&args.entry.owner)?;
    let view = find(&client, &owner, &args.entry).await?;
    let versions = client.entry_versions(&owner.entry_ref(&view)).await?;
    if args.json {
        print_json(&versions.data)?;
    } else {
        print_table(
            &[
                "VERSION",
                "CURRENT",
                "MASKED",
                "RESTORED FROM",
                "KEK",
                "CREATED",
            ],
            versions.data.iter().map(version_row).collect(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn version_row(version: &VersionView) -> Vec<String> {
    vec![
        version.version.to_string(),
        if version.current { "*" } else { "" }.to_owned(),
        version.masked.clone(),
        version
            .restored_from
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".to_owned()),
        version.kek_id.clone(),
        version
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ]
}

pub async fn rollback(args: crate::RollbackArgs) -> Result<ExitCode, Failure> {
    let client = auth::client(args.entry.token_file.as_deref())?;
    let owner = Owner::of(&args.entry.owner)?;
    let view = find(&client, &owner, &args.entry).await?;
    let restored = client
        .rollback_entry(
            &owner.entry_ref(&view),
            &Rollback {
                version: args.version,
                expected_version: Some(view.version),
            },
        )
        .await?;
    if args.json {
        print_json(&restored)?;
    } else {
        println!(
            "{} {} is at version {}, with the value of version {} ({})",
            owner.noun(),
            restored.name,
            restored.version,
            args.version,
            restored.masked
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| Failure::internal(format!("JSON: {error}")))?;
    println!("{text}");
    Ok(())
}

/// Columns padded to their widest cell, two spaces apart, headers first.
pub fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}
