//! `/v1/projects/…`: projects, their milestones and RACI members, and the project
//! vault (seed 002). Users act by their role, through the authorizer: Accountable does
//! everything, Responsible writes entries, Consulted reads masked metadata, Informed
//! lists names and categories. To a non-member the project does not exist (404); a
//! member whose role falls short gets 403. Operators may do everything (masked);
//! the orchestrator creates projects and keeps their milestones and members in step
//! with the platform, but neither reads nor writes entries.

mod members;
mod milestones;
// The issue and the code map call the resource files by their resource: `projects`
// holds the project itself, beside its milestones, members and vault.
#[allow(clippy::module_inception)]
mod projects;
mod vault;

pub use members::*;
pub use milestones::*;
pub use projects::*;
pub use vault::*;
