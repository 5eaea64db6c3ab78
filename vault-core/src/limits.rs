//! How large a resolved environment may be. Linux refuses to start a process whose
//! arguments and environment together pass `ARG_MAX` (2 MiB with the default 8 MiB
//! stack), so an env over it would make every agent container fail at start; the
//! vault refuses it whole at resolution instead, naming the largest contributors.

use std::fmt;

use crate::error::CoreError;
use crate::name::{EnvName, MAX_NAME_LEN};
use crate::resolve::EnvMap;
use crate::value::MAX_VALUE_BYTES;

/// 1 MiB: half of Linux's usual `ARG_MAX`, leaving the rest to arguments and to what
/// the container's own image sets.
pub const DEFAULT_MAX_ENV_BYTES: usize = 1024 * 1024;

/// The most an environment can hold and still reach `execve` on a default Linux.
pub const ENV_LIMIT_CEILING: usize = 2 * 1024 * 1024;

/// How many of the largest variables a refusal names.
pub const LARGEST_NAMED: usize = 5;

/// What one variable costs the kernel: `NAME=value` and its terminating NUL.
pub fn env_entry_bytes(name: &EnvName, value_len: usize) -> usize {
    name.as_str().len() + 1 + value_len + 1
}

/// The bound on a resolved environment's size, in bytes as `execve` counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvLimit(usize);

impl Default for EnvLimit {
    fn default() -> Self {
        EnvLimit(DEFAULT_MAX_ENV_BYTES)
    }
}

/// An environment over the limit: its size and the variables that weigh most, by
/// name (never a value), largest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvTooLarge {
    pub bytes: usize,
    pub limit: usize,
    pub largest: Vec<(EnvName, usize)>,
}

impl fmt::Display for EnvTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let largest: Vec<String> = self
            .largest
            .iter()
            .map(|(name, bytes)| format!("{name} ({bytes} bytes)"))
            .collect();
        write!(
            f,
            "the resolved environment would be {} bytes, over the {} byte limit; the \
             largest variables are {}",
            self.bytes,
            self.limit,
            largest.join(", ")
        )
    }
}

impl EnvLimit {
    /// Between what one maximal variable needs and what `execve` accepts.
    pub fn new(bytes: usize) -> Result<Self, CoreError> {
        let floor = Self::floor();
        if (floor..=ENV_LIMIT_CEILING).contains(&bytes) {
            Ok(EnvLimit(bytes))
        } else {
            Err(CoreError::InvalidEnvLimit {
                min: floor,
                max: ENV_LIMIT_CEILING,
            })
        }
    }

    /// One variable with the longest name and the largest value must always fit.
    fn floor() -> usize {
        MAX_NAME_LEN + 1 + MAX_VALUE_BYTES + 1
    }

    pub fn bytes(self) -> usize {
        self.0
    }

    /// The environment as it would be injected, or what makes it too large.
    pub fn check(self, env: &EnvMap) -> Result<(), EnvTooLarge> {
        self.check_sizes(env.iter().map(|(name, value)| (name, value.expose().len())))
    }

    /// As `check`, over each variable's name and value length.
    pub fn check_sizes<'a>(
        self,
        values: impl Iterator<Item = (&'a EnvName, usize)> + Clone,
    ) -> Result<(), EnvTooLarge> {
        let sizes = values.map(|(name, len)| (name, env_entry_bytes(name, len)));
        let bytes: usize = sizes.clone().map(|(_, size)| size).sum();
        if bytes <= self.0 {
            return Ok(());
        }
        let mut largest: Vec<(EnvName, usize)> =
            sizes.map(|(name, size)| (name.clone(), size)).collect();
        // Largest first; equal sizes by name, so the message is the same every time.
        largest.sort_by(|(a_name, a), (b_name, b)| b.cmp(a).then_with(|| a_name.cmp(b_name)));
        largest.truncate(LARGEST_NAMED);
        Err(EnvTooLarge {
            bytes,
            limit: self.0,
            largest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::SecretValue;

    fn env(entries: &[(&str, usize)]) -> EnvMap {
        entries
            .iter()
            .map(|(name, len)| {
                (
                    EnvName::parse(name).expect("valid"),
                    SecretValue::new("x".repeat(*len)).expect("valid"),
                )
            })
            .collect()
    }

    #[test]
    fn a_variable_costs_its_name_value_separator_and_terminator() {
        let name = EnvName::parse("ABC").expect("valid");
        assert_eq!(env_entry_bytes(&name, 10), 15);
        assert_eq!(env_entry_bytes(&name, 0), 5);
    }

    #[test]
    fn the_limit_is_inclusive() {
        let limit = EnvLimit::new(EnvLimit::floor()).expect("valid");
        // Two variables of 7 bytes each ("A=xxxx\0") take 14 bytes.
        let exact = EnvLimit(14);
        assert_eq!(exact.check(&env(&[("A", 4), ("B", 4)])), Ok(()));
        assert_eq!(
            EnvLimit(13)
                .check(&env(&[("A", 4), ("B", 4)]))
                .map_err(|e| e.bytes),
            Err(14)
        );
        assert_eq!(limit.check(&EnvMap::new()), Ok(()));
    }

    #[test]
    fn forty_values_of_sixty_kilobytes_are_refused_naming_the_largest() {
        let mut entries: Vec<(String, usize)> = (0..40)
            .map(|i| (format!("SECRET_{i:02}"), 60_000))
            .collect();
        entries.push(("BIGGEST".into(), 64_000));
        entries.push(("SMALL".into(), 3));
        let refs: Vec<(&str, usize)> = entries.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        let refused = EnvLimit::default()
            .check(&env(&refs))
            .expect_err("2.4 MB is over 1 MiB");
        assert_eq!(refused.limit, DEFAULT_MAX_ENV_BYTES);
        assert_eq!(
            refused.bytes,
            40 * (9 + 1 + 60_000 + 1) + (7 + 1 + 64_000 + 1) + (5 + 1 + 3 + 1)
        );
        let named: Vec<&str> = refused.largest.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            named,
            [
                "BIGGEST",
                "SECRET_00",
                "SECRET_01",
                "SECRET_02",
                "SECRET_03"
            ]
        );
        assert_eq!(refused.largest[0].1, 64_009);
        let message = refused.to_string();
        assert!(message.contains("BIGGEST (64009 bytes)"), "{message}");
        assert!(!message.contains("xxx"), "{message}");
    }

    #[test]
    fn a_small_env_names_all_its_variables() {
        let refused = EnvLimit(3)
            .check(&env(&[("A", 1), ("B", 2)]))
            .expect_err("over");
        let named: Vec<&str> = refused.largest.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(named, ["B", "A"]);
    }

    #[test]
    fn limits_stay_between_one_maximal_variable_and_exec_ceiling() {
        assert_eq!(EnvLimit::default().bytes(), 1024 * 1024);
        assert!(EnvLimit::new(EnvLimit::floor()).is_ok());
        assert!(EnvLimit::new(ENV_LIMIT_CEILING).is_ok());
        for bad in [0, EnvLimit::floor() - 1, ENV_LIMIT_CEILING + 1] {
            assert_eq!(
                EnvLimit::new(bad),
                Err(CoreError::InvalidEnvLimit {
                    min: 65_794,
                    max: 2_097_152
                }),
                "{bad}"
            );
        }
    }
}
