//! The protected-name matcher, checked on every stored candidate of every resolution.
//! Its lookup is sorted and indexed by first byte; this target compares it with the
//! rule written the slow way (a scan of the built-in list after the operator's
//! releases and additions). Properties: no panic; both agree on every name, on the
//! entry it falls under and on its family; `is_protected` and `check_storable` agree
//! with `protection`.
#![cfg_attr(fuzzing, no_main)]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use vault_core::{BUILT_IN_PROTECTED, ProtectedClass, ProtectedNames, Protection};

#[derive(Arbitrary, Debug)]
enum NameInput {
    Free(String),
    /// A built-in entry's text with something after it: the names a prefix must catch
    /// and an exact entry must not.
    Near {
        entry: usize,
        suffix: String,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    added: Vec<String>,
    released: Vec<String>,
    names: Vec<NameInput>,
}

/// The rule, scanned: exact entries first, then the first prefix in sorted order,
/// unless the name itself was released from under a prefix.
struct Reference {
    exact: Vec<(String, ProtectedClass)>,
    prefixes: Vec<(String, ProtectedClass)>,
    exceptions: Vec<String>,
}

impl Reference {
    fn new(added: &[String], released: &[String]) -> Reference {
        let mut reference = Reference {
            exact: Vec::new(),
            prefixes: Vec::new(),
            exceptions: Vec::new(),
        };
        for (text, class) in BUILT_IN_PROTECTED {
            match text.strip_suffix('*') {
                Some(prefix) => reference.prefixes.push((prefix.to_owned(), *class)),
                None => reference.exact.push(((*text).to_owned(), *class)),
            }
        }
        for text in released {
            match text.strip_suffix('*') {
                Some(prefix) => reference.prefixes.retain(|(p, _)| p != prefix),
                None => {
                    let before = reference.exact.len();
                    reference.exact.retain(|(n, _)| n != text);
                    if reference.exact.len() == before {
                        reference.exceptions.push(text.clone());
                    }
                }
            }
        }
        for text in added {
            match text.strip_suffix('*') {
                Some(prefix) => {
                    if !reference.prefixes.iter().any(|(p, _)| p == prefix) {
                        reference
                            .prefixes
                            .push((prefix.to_owned(), ProtectedClass::Configured));
                    }
                }
                None => {
                    if !reference.exact.iter().any(|(n, _)| n == text) {
                        reference
                            .exact
                            .push((text.clone(), ProtectedClass::Configured));
                    }
                }
            }
        }
        reference
    }

    fn protection(&self, name: &str) -> Option<Protection> {
        if let Some((text, class)) = self.exact.iter().find(|(n, _)| n == name) {
            return Some(Protection {
                pattern: text.clone(),
                class: *class,
            });
        }
        if self.exceptions.iter().any(|n| n == name) {
            return None;
        }
        self.prefixes
            .iter()
            .filter(|(p, _)| name.starts_with(p.as_str()))
            .min()
            .map(|(prefix, class)| Protection {
                pattern: format!("{prefix}*"),
                class: *class,
            })
    }
}

fn name_of(input: &NameInput) -> String {
    match input {
        NameInput::Free(name) => name.clone(),
        NameInput::Near { entry, suffix } => {
            let (text, _) = BUILT_IN_PROTECTED[entry % BUILT_IN_PROTECTED.len()];
            format!("{}{suffix}", text.trim_end_matches('*'))
        }
    }
}

fn agree(names: &ProtectedNames, reference: &Reference, name: &str) {
    let found = names.protection(name);
    assert_eq!(found, reference.protection(name), "{name:?}");
    assert_eq!(names.is_protected(name), found.is_some());
    assert_eq!(names.check_storable(name).is_err(), found.is_some());
}

fn check(input: Input) {
    let built_in = ProtectedNames::built_in();
    let plain = Reference::new(&[], &[]);
    for name in &input.names {
        agree(&built_in, &plain, &name_of(name));
    }
    // An operator's list that does not parse is refused whole; one that does is
    // compared with the scan of the same list.
    let Ok(configured) = ProtectedNames::configure(&input.added, &input.released) else {
        return;
    };
    assert_eq!(configured.released(), input.released.as_slice());
    let reference = Reference::new(&input.added, &input.released);
    for name in input
        .names
        .iter()
        .map(name_of)
        .chain(input.added.iter().cloned())
    {
        agree(&configured, &reference, &name);
    }
    for released in &input.released {
        agree(&configured, &reference, released);
    }
}

fuzz_target!(|input: Input| check(input));

/// Outside `cargo fuzz` (no `--cfg fuzzing`) this is a plain program with nothing to
/// do; its test replays the committed seeds, findings included, on every `cargo test`.
#[cfg(not(any(fuzzing, test)))]
fn main() {}

#[test]
fn every_seed_holds() {
    vault_fuzz::replay_seeds("protected_names", |bytes| {
        if let Some(input) = vault_fuzz::typed(bytes) {
            check(input);
        }
    });
}
