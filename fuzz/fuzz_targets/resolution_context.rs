//! The resolution-context parser: the five id fields of a resolve or session request.
//! Properties: no panic; a context that parses holds exactly the ids it was given; a
//! refusal names the first field, in request order, that does not parse on its own (or
//! the milestone, when it comes without a project).
#![cfg_attr(fuzzing, no_main)]

use libfuzzer_sys::fuzz_target;
use vault_core::{
    ContextFields, CoreError, MilestoneId, ProfileId, ProjectId, ResolutionContext, UserId,
    WorkspaceId,
};

type Fields = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn parses<T>(value: Option<&str>, parse: fn(&str) -> Result<T, CoreError>) -> bool {
    value.is_none_or(|v| parse(v).is_ok())
}

fn check(fields: Fields) {
    let (user, profile, workspace, project, milestone) = &fields;
    let input = ContextFields {
        user_id: user,
        profile_id: profile,
        workspace_id: workspace.as_deref(),
        project_id: project.as_deref(),
        milestone_id: milestone.as_deref(),
    };
    let expected_refusal = if UserId::parse(user).is_err() {
        Some("user_id")
    } else if ProfileId::parse(profile).is_err() {
        Some("profile_id")
    } else if !parses(input.workspace_id, WorkspaceId::parse) {
        Some("workspace_id")
    } else if !parses(input.project_id, ProjectId::parse) {
        Some("project_id")
    } else if !parses(input.milestone_id, MilestoneId::parse)
        || (milestone.is_some() && project.is_none())
    {
        Some("milestone_id")
    } else {
        None
    };
    match ResolutionContext::parse(input) {
        Ok(context) => {
            assert_eq!(expected_refusal, None);
            assert_eq!(context.user().as_str(), user);
            assert_eq!(context.profile().as_str(), profile);
            assert_eq!(
                context.workspace().map(|w| w.as_str()),
                workspace.as_deref()
            );
            assert_eq!(context.project().map(|p| p.as_str()), project.as_deref());
            assert_eq!(
                context.milestone().map(|m| m.as_str()),
                milestone.as_deref()
            );
        }
        Err((field, _)) => assert_eq!(Some(field), expected_refusal),
    }
}

fuzz_target!(|fields: Fields| check(fields));

/// Outside `cargo fuzz` (no `--cfg fuzzing`) this is a plain program with nothing to
/// do; its test replays the committed seeds, findings included, on every `cargo test`.
#[cfg(not(any(fuzzing, test)))]
fn main() {}

#[test]
fn every_seed_holds() {
    vault_fuzz::replay_seeds("resolution_context", |bytes| {
        if let Some(input) = vault_fuzz::typed(bytes) {
            check(input);
        }
    });
}
