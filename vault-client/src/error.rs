//! What a call can fail with: the vault's own refusal, or no usable answer at all.

use crate::Problem;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The vault answered with a problem document: branch on `problem.code`.
    #[error("{0}")]
    Problem(Box<Problem>),

    /// No answer came: the address is wrong, the vault is down, or TLS failed.
    #[error("the vault at {address} did not answer: {detail}")]
    Unreachable { address: String, detail: String },

    /// An answer came that is not what the route answers with.
    #[error("the vault's answer (HTTP {status}) is not the expected shape: {detail}")]
    UnexpectedAnswer { status: u16, detail: String },

    /// The client cannot be built as configured; `setting` names what to fix.
    #[error("{setting}: {detail}")]
    Config {
        setting: &'static str,
        detail: String,
    },
}

impl ClientError {
    /// The problem, when the vault refused.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Problem(problem) => Some(problem),
            _ => None,
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;
