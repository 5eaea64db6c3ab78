//! A resolved env written in the format its reader parses back to the same values:
//! a dotenv file (python-dotenv, Docker Compose's `env_file`), Docker's `--env-file`,
//! a POSIX shell script to `source`, or JSON.
//!
//! Each writer quotes for its reader's grammar, not for a generic one: the round-trip
//! tests run the readers themselves over what these write.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clap::ValueEnum;
use vault_core::{EnvName, SecretValue};
use zeroize::Zeroizing;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `NAME='value'`, single-quoted: no interpolation of `$`, newlines kept.
    Dotenv,
    /// `NAME=value` for `docker run --env-file`, which has no quoting: a value with a
    /// newline or carriage return cannot be written and is refused by name.
    Docker,
    /// `export NAME='value'` for `.` or `source` in sh, bash, dash or zsh.
    Shell,
    /// One JSON object of names to values.
    Json,
}

/// Why an env cannot be written in a format.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    #[error(
        "{name} holds a line break, which `docker --env-file` cannot carry (it reads one \
         variable per line, unquoted); use --format dotenv or json, or `vaultctl run`"
    )]
    LineBreakInDockerEnvFile { name: String },
}

/// `env` in `format`, in a buffer that is wiped when dropped.
pub fn render(
    format: Format,
    env: &BTreeMap<EnvName, SecretValue>,
) -> Result<Zeroizing<String>, EnvFileError> {
    let mut out = Zeroizing::new(String::new());
    match format {
        Format::Dotenv => {
            for (name, value) in env {
                // python-dotenv un-escapes exactly `\\` and `\'` inside single quotes.
                let quoted =
                    Zeroizing::new(value.expose().replace('\\', "\\\\").replace('\'', "\\'"));
                let _ = writeln!(out, "{name}='{}'", quoted.as_str());
            }
        }
        Format::Docker => {
            for (name, value) in env {
                if value.expose().contains(['\n', '\r']) {
                    return Err(EnvFileError::LineBreakInDockerEnvFile {
                        name: name.to_string(),
                    });
                }
                let _ = writeln!(out, "{name}={}", value.expose());
            }
        }
        Format::Shell => {
            for (name, value) in env {
                // Inside single quotes nothing is special to a shell but the quote
                // itself, which is closed, escaped and reopened. A backslash is written
                // the same way (`'\\'`): the same to a shell, and it keeps dotenvy,
                // whose line reader takes `\'` inside single quotes for an escape, in
                // step, so this form is also what `vaultctl import` reads back.
                // Sized exactly: a growing buffer would leave copies of the value behind.
                let specials = value.expose().matches(['\'', '\\']).count();
                let mut quoted =
                    Zeroizing::new(String::with_capacity(value.expose().len() + 3 * specials));
                for c in value.expose().chars() {
                    match c {
                        '\'' => quoted.push_str("'\\''"),
                        '\\' => quoted.push_str("'\\\\'"),
                        c => quoted.push(c),
                    }
                }
                let _ = writeln!(out, "export {name}='{}'", quoted.as_str());
            }
        }
        Format::Json => {
            let object: BTreeMap<&str, &str> = env
                .iter()
                .map(|(name, value)| (name.as_str(), value.expose()))
                .collect();
            // Serializing a map of strings cannot fail; an empty object if it ever did.
            let text = Zeroizing::new(serde_json::to_string_pretty(&object).unwrap_or_default());
            out.push_str(&text);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<EnvName, SecretValue> {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    name.parse().expect("a name"),
                    SecretValue::new((*value).to_owned()).expect("a value"),
                )
            })
            .collect()
    }

    #[test]
    fn each_format_quotes_for_its_reader() {
        let env = env(&[("A", "it's \\ $HOME"), ("B", "plain")]);
        assert_eq!(
            render(Format::Dotenv, &env).expect("writes").as_str(),
            "A='it\\'s \\\\ $HOME'\nB='plain'\n"
        );
        assert_eq!(
            render(Format::Shell, &env).expect("writes").as_str(),
            "export A='it'\\''s '\\\\' $HOME'\nexport B='plain'\n"
        );
        assert_eq!(
            render(Format::Docker, &env).expect("writes").as_str(),
            "A=it's \\ $HOME\nB=plain\n"
        );
        assert_eq!(
            render(Format::Json, &env).expect("writes").as_str(),
            "{\n  \"A\": \"it's \\\\ $HOME\",\n  \"B\": \"plain\"\n}\n"
        );
    }

    #[test]
    fn docker_refuses_a_line_break_by_name_and_writes_nothing() {
        for value in ["two\nlines", "carriage\rreturn"] {
            let env = env(&[("A_FIRST", "fine"), ("PEM", value)]);
            assert_eq!(
                render(Format::Docker, &env),
                Err(EnvFileError::LineBreakInDockerEnvFile { name: "PEM".into() })
            );
        }
        let message = EnvFileError::LineBreakInDockerEnvFile { name: "PEM".into() }.to_string();
        assert!(message.starts_with("PEM holds a line break"), "{message}");
    }

    #[test]
    fn an_empty_env_is_an_empty_file_or_object() {
        let empty = BTreeMap::new();
        for format in [Format::Dotenv, Format::Docker, Format::Shell] {
            assert_eq!(render(format, &empty).expect("writes").as_str(), "");
        }
        assert_eq!(
            render(Format::Json, &empty).expect("writes").as_str(),
            "{}\n"
        );
    }
}
