//! An orchestrator resolving one agent context, as a program:
//!
//! ```text
//! VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=vault_orch_… \
//!     cargo run -p vault-client --example resolve -- alice coder [project]
//! ```
//!
//! It prints each resolved name with its value's size, never a value: a real
//! orchestrator hands the map to the container runtime instead.

use vault_client::wire::{Context, ResolveRequest};
use vault_client::{Client, ClientError, ProblemCode};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(user_id), Some(profile_id)) = (args.next(), args.next()) else {
        eprintln!("usage: resolve USER_ID PROFILE_ID [PROJECT_ID]");
        return std::process::ExitCode::from(2);
    };
    let request = ResolveRequest::for_context(Context {
        user_id,
        profile_id,
        project_id: args.next(),
        ..Context::default()
    });
    match run(&request).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("resolve: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(request: &ResolveRequest) -> Result<(), ClientError> {
    let vault = Client::from_env()?;
    let resolved = match vault.resolve(request).await {
        Err(ClientError::Problem(problem))
            if problem.code == ProblemCode::ProjectInjectionDenied =>
        {
            eprintln!("the user may not have this project's secrets: resolving without it");
            let mut without = ResolveRequest::for_context(Context {
                user_id: request.user_id.clone(),
                profile_id: request.profile_id.clone(),
                ..Context::default()
            });
            without.explain = request.explain;
            vault.resolve(&without).await?
        }
        other => other?,
    };
    for (name, value) in &resolved.env {
        println!("{name} ({} bytes)", value.expose().len());
    }
    for name in &resolved.expired {
        println!("{name} (expired, left out)");
    }
    Ok(())
}
