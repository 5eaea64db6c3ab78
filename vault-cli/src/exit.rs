//! How `vaultctl` fails: one line on standard error naming what to fix, and an exit
//! code a script can branch on (listed in `--help`).

use std::process::ExitCode;

use vault_client::ClientError;

pub const USAGE: u8 = 2;
pub const REFUSED: u8 = 65;
pub const UNAVAILABLE: u8 = 69;
pub const INTERNAL: u8 = 70;
pub const CONFIG: u8 = 78;
pub const NOT_EXECUTABLE: u8 = 126;
pub const NOT_FOUND: u8 = 127;

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub line: String,
}

impl Failure {
    pub fn config(line: impl Into<String>) -> Failure {
        Failure {
            code: CONFIG,
            line: line.into(),
        }
    }

    /// Flags that do not go together, or a request the command will not do.
    pub fn usage(line: impl Into<String>) -> Failure {
        Failure {
            code: USAGE,
            line: line.into(),
        }
    }

    /// Data the command cannot carry out as asked (named in the line).
    pub fn refused(line: impl Into<String>) -> Failure {
        Failure {
            code: REFUSED,
            line: line.into(),
        }
    }

    pub fn internal(line: impl Into<String>) -> Failure {
        Failure {
            code: INTERNAL,
            line: line.into(),
        }
    }

    pub fn report(self) -> ExitCode {
        eprintln!("vaultctl: {}", self.line);
        ExitCode::from(self.code)
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Failure {
        match &error {
            ClientError::Problem(problem) => {
                let field = problem
                    .field
                    .as_deref()
                    .map(|field| format!(" ({field})"))
                    .unwrap_or_default();
                Failure {
                    code: if problem.code.is_retryable() || problem.status >= 500 {
                        UNAVAILABLE
                    } else {
                        REFUSED
                    },
                    line: format!(
                        "the vault refused: {}{field}: {}",
                        problem.code, problem.detail
                    ),
                }
            }
            ClientError::Unreachable { .. } | ClientError::UnexpectedAnswer { .. } => Failure {
                code: UNAVAILABLE,
                line: error.to_string(),
            },
            ClientError::Config { .. } => Failure::config(error.to_string()),
        }
    }
}
