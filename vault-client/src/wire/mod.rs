//! The request and response bodies of every route, defined once: vault-api
//! serializes the answers and parses the requests with these very types, so a field
//! renamed on one side does not compile on the other.

mod audit;
mod events;
mod health;
mod projects;
mod resolve;
mod secrets;
mod tokens;
mod webhooks;
mod workspaces;

pub use audit::{AuditPage, AuditParams, AuditView};
pub use events::{EVENT_STREAM, EventPage, EventParams, EventView};
pub use health::{DatabaseState, Health, Readiness, RootKeyState, WriteFailure};
pub use projects::{
    CreateEntry, CreateMilestone, CreateProject, EntryList, EntryListParams, EntryName,
    EntryNamePage, MemberView, MilestoneRemovalView, MilestoneView, ProjectListParams, ProjectPage,
    ProjectRemovalView, ProjectSummary, ProjectView, PutMember, UpdateEntry,
};
pub use resolve::{
    Context, CreateSession, Explained, ResolveRequest, ResolveResponse, RuntimeEnv, RuntimeSecret,
    SessionView, SkippedSource,
};
pub use secrets::{
    CompareValue, CreateKey, CreateSecret, KeyListParams, ListParams, Rollback, SecretPage,
    SecretView, UpdateSecret, ValueComparison, VersionList, VersionView,
};
pub use tokens::{CreateToken, IssuedTokenView, TokenList, TokenView};
pub use webhooks::{
    CreateWebhook, DeliveryList, DeliveryView, UpdateWebhook, WebhookList, WebhookListParams,
    WebhookPayload, WebhookView, WebhookWithSecret,
};
pub use workspaces::{WorkspaceUserList, WorkspaceUserView};
