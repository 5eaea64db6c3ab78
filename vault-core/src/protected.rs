//! Protected names: variables that change how a process runs or where its traffic
//! goes. A project Responsible from a partner organisation, or a workspace admin, can
//! store an entry that reaches every member's agent; with `LD_PRELOAD`, `NODE_OPTIONS`
//! or `HTTPS_PROXY` that entry would run their code in, or read the traffic of,
//! processes that belong to other people. So these names come only from the layers the
//! orchestrator supplies (`profile_env`, `baseline_env`): stored layers can neither
//! write them nor, for rows stored before a name was protected, inject them.
//!
//! The built-in list is drawn from the environment variables that container-escape,
//! privilege-escalation and supply-chain write-ups use (GTFOBins' environment tricks,
//! the pkexec `GCONV_PATH` exploit CVE-2021-4034, the `PYTHONWARNINGS` / `BROWSER` and
//! `PERL5OPT` injections, `GIT_CONFIG_*` and `core.sshCommand` hook abuse, dependency
//! confusion through extra package indexes, `SSLKEYLOGFILE` and proxy interception).
//! Operators may add names and `PREFIX_*` patterns, and may release a built-in entry
//! only explicitly (`VAULT_RELEASE_PROTECTED_NAMES`, logged at start).

use crate::error::CoreError;

/// Why a family of names is protected; shown in refusals and in the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtectedClass {
    Loader,
    Executables,
    ShellStartup,
    RuntimeOptions,
    ToolCommands,
    Git,
    ConfigFiles,
    Traffic,
    PackageIndexes,
    Trust,
    /// Added by the operator (`VAULT_PROTECTED_NAMES`).
    Configured,
}

impl ProtectedClass {
    pub const BUILT_IN: [ProtectedClass; 10] = [
        ProtectedClass::Loader,
        ProtectedClass::Executables,
        ProtectedClass::ShellStartup,
        ProtectedClass::RuntimeOptions,
        ProtectedClass::ToolCommands,
        ProtectedClass::Git,
        ProtectedClass::ConfigFiles,
        ProtectedClass::Traffic,
        ProtectedClass::PackageIndexes,
        ProtectedClass::Trust,
    ];

    /// What a variable of this family can do to a process it reaches.
    pub fn why(self) -> &'static str {
        match self {
            ProtectedClass::Loader => "the dynamic loader: loads code into every program started",
            ProtectedClass::Executables => {
                "decides which program runs for a command name, or how a shell splits and \
                 finds commands"
            }
            ProtectedClass::ShellStartup => "shell code run when a shell starts or prompts",
            ProtectedClass::RuntimeOptions => {
                "interpreter and runtime options: code or agents loaded into every process \
                 of that language"
            }
            ProtectedClass::ToolCommands => {
                "commands tools run on their own: pagers, editors, password prompts, \
                 compiler wrappers"
            }
            ProtectedClass::Git => "git's command hooks, configuration and repository location",
            ProtectedClass::ConfigFiles => {
                "where tools read configuration files, which can name commands, proxies \
                 and package indexes"
            }
            ProtectedClass::Traffic => {
                "proxies, endpoints and name resolution: where network traffic goes"
            }
            ProtectedClass::PackageIndexes => {
                "package indexes and checksum databases: where dependencies come from"
            }
            ProtectedClass::Trust => "trust stores and TLS verification",
            ProtectedClass::Configured => "added by the operator (VAULT_PROTECTED_NAMES)",
        }
    }
}

/// The built-in entries: an exact name, or a prefix ending in `*`.
pub const BUILT_IN_PROTECTED: &[(&str, ProtectedClass)] = {
    use ProtectedClass::*;
    &[
        // The dynamic loader: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, macOS's
        // DYLD_INSERT_LIBRARIES; glibc loads iconv modules from GCONV_PATH.
        ("LD_*", Loader),
        ("DYLD_*", Loader),
        ("GCONV_PATH", Loader),
        ("PATH", Executables),
        ("SHELL", Executables),
        ("IFS", Executables),
        ("CDPATH", Executables),
        ("BASH_ENV", ShellStartup),
        ("ENV", ShellStartup),
        ("PROMPT_COMMAND", ShellStartup),
        ("SHELLOPTS", ShellStartup),
        ("BASHOPTS", ShellStartup),
        // `SHELLOPTS=xtrace PS4='$(cmd)'` runs cmd in every traced script.
        ("PS1", ShellStartup),
        ("PS4", ShellStartup),
        ("ZDOTDIR", ShellStartup),
        ("NODE_OPTIONS", RuntimeOptions),
        ("NODE_PATH", RuntimeOptions),
        ("PYTHONPATH", RuntimeOptions),
        ("PYTHONHOME", RuntimeOptions),
        ("PYTHONSTARTUP", RuntimeOptions),
        // `PYTHONWARNINGS=all:0:antigravity.x:0:0` imports a module of the setter's
        // choosing; PYTHONBREAKPOINT names any callable.
        ("PYTHONWARNINGS", RuntimeOptions),
        ("PYTHONBREAKPOINT", RuntimeOptions),
        ("PERL5OPT", RuntimeOptions),
        ("PERL5LIB", RuntimeOptions),
        ("PERLLIB", RuntimeOptions),
        ("PERL5DB", RuntimeOptions),
        ("RUBYOPT", RuntimeOptions),
        ("RUBYLIB", RuntimeOptions),
        ("JAVA_TOOL_OPTIONS", RuntimeOptions),
        ("_JAVA_OPTIONS", RuntimeOptions),
        ("JDK_JAVA_OPTIONS", RuntimeOptions),
        ("CLASSPATH", RuntimeOptions),
        ("MAVEN_OPTS", RuntimeOptions),
        ("GRADLE_OPTS", RuntimeOptions),
        ("DOTNET_STARTUP_HOOKS", RuntimeOptions),
        ("CORECLR_*", RuntimeOptions),
        ("PHPRC", RuntimeOptions),
        ("PHP_INI_SCAN_DIR", RuntimeOptions),
        ("LUA_INIT", RuntimeOptions),
        ("LUA_PATH", RuntimeOptions),
        ("LUA_CPATH", RuntimeOptions),
        // OpenSSL's configuration can load engines and providers (shared objects).
        ("OPENSSL_CONF", RuntimeOptions),
        ("OPENSSL_ENGINES", RuntimeOptions),
        ("OPENSSL_MODULES", RuntimeOptions),
        ("PAGER", ToolCommands),
        ("MANPAGER", ToolCommands),
        ("LESSOPEN", ToolCommands),
        ("LESSCLOSE", ToolCommands),
        ("EDITOR", ToolCommands),
        ("VISUAL", ToolCommands),
        ("BROWSER", ToolCommands),
        ("SSH_ASKPASS", ToolCommands),
        ("SUDO_ASKPASS", ToolCommands),
        ("RUSTC_WRAPPER", ToolCommands),
        ("RUSTC_WORKSPACE_WRAPPER", ToolCommands),
        ("CARGO_BUILD_RUSTC_WRAPPER", ToolCommands),
        ("CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER", ToolCommands),
        ("GIT_SSH", Git),
        ("GIT_SSH_COMMAND", Git),
        ("GIT_EXEC_PATH", Git),
        ("GIT_CONFIG", Git),
        ("GIT_CONFIG_*", Git),
        ("GIT_ASKPASS", Git),
        ("GIT_PROXY_COMMAND", Git),
        ("GIT_EXTERNAL_DIFF", Git),
        ("GIT_TEMPLATE_DIR", Git),
        ("GIT_EDITOR", Git),
        ("GIT_SEQUENCE_EDITOR", Git),
        ("GIT_PAGER", Git),
        ("GIT_DIR", Git),
        ("GIT_WORK_TREE", Git),
        ("HOME", ConfigFiles),
        ("XDG_CONFIG_HOME", ConfigFiles),
        ("PIP_CONFIG_FILE", ConfigFiles),
        ("NPM_CONFIG_USERCONFIG", ConfigFiles),
        ("NPM_CONFIG_GLOBALCONFIG", ConfigFiles),
        ("CURL_HOME", ConfigFiles),
        ("WGETRC", ConfigFiles),
        ("HTTP_PROXY", Traffic),
        ("HTTPS_PROXY", Traffic),
        ("ALL_PROXY", Traffic),
        ("NO_PROXY", Traffic),
        ("FTP_PROXY", Traffic),
        ("NPM_CONFIG_PROXY", Traffic),
        ("NPM_CONFIG_HTTPS_PROXY", Traffic),
        ("DOCKER_HOST", Traffic),
        ("AWS_ENDPOINT_URL", Traffic),
        ("AWS_ENDPOINT_URL_*", Traffic),
        ("HOSTALIASES", Traffic),
        ("LOCALDOMAIN", Traffic),
        ("RES_OPTIONS", Traffic),
        ("PIP_INDEX_URL", PackageIndexes),
        ("PIP_EXTRA_INDEX_URL", PackageIndexes),
        ("PIP_FIND_LINKS", PackageIndexes),
        ("PIP_TRUSTED_HOST", PackageIndexes),
        ("UV_INDEX", PackageIndexes),
        ("UV_INDEX_URL", PackageIndexes),
        ("UV_EXTRA_INDEX_URL", PackageIndexes),
        ("UV_DEFAULT_INDEX", PackageIndexes),
        ("UV_FIND_LINKS", PackageIndexes),
        ("NPM_CONFIG_REGISTRY", PackageIndexes),
        ("YARN_REGISTRY", PackageIndexes),
        ("YARN_NPM_REGISTRY_SERVER", PackageIndexes),
        ("GOPROXY", PackageIndexes),
        ("GOSUMDB", PackageIndexes),
        ("GONOSUMDB", PackageIndexes),
        ("GONOSUMCHECK", PackageIndexes),
        ("GONOPROXY", PackageIndexes),
        ("GOPRIVATE", PackageIndexes),
        ("GOINSECURE", PackageIndexes),
        ("GOFLAGS", PackageIndexes),
        ("SSL_CERT_FILE", Trust),
        ("SSL_CERT_DIR", Trust),
        ("REQUESTS_CA_BUNDLE", Trust),
        ("CURL_CA_BUNDLE", Trust),
        ("NODE_EXTRA_CA_CERTS", Trust),
        ("NODE_TLS_REJECT_UNAUTHORIZED", Trust),
        ("PIP_CERT", Trust),
        ("AWS_CA_BUNDLE", Trust),
        ("PYTHONHTTPSVERIFY", Trust),
        ("GIT_SSL_*", Trust),
        // Writes every TLS session key to a file: whoever reads it reads the traffic.
        ("SSLKEYLOGFILE", Trust),
    ]
};

/// One entry of the list: a name, or every name starting with a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Exact(Box<str>),
    Prefix(Box<str>),
}

impl Pattern {
    /// `NAME` or `PREFIX*`, in the characters stored names use.
    fn parse(text: &str) -> Result<Pattern, CoreError> {
        let invalid = |rule: &'static str| CoreError::InvalidProtectedPattern { rule };
        let (body, prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.is_empty() {
            return Err(invalid("must name at least one character before any *"));
        }
        if body.starts_with(|c: char| c.is_ascii_digit())
            || !body
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(invalid(
                "must be a name of A-Z, 0-9 and _ (not starting with a digit), optionally \
                 ending in *",
            ));
        }
        Ok(if prefix {
            Pattern::Prefix(body.into())
        } else {
            Pattern::Exact(body.into())
        })
    }

    fn text(&self) -> String {
        match self {
            Pattern::Exact(name) => name.to_string(),
            Pattern::Prefix(prefix) => format!("{prefix}*"),
        }
    }
}

/// The protection a name falls under: the entry that matched and its family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protection {
    pub pattern: String,
    pub class: ProtectedClass,
}

/// Where the entries starting with each ASCII byte lie in a sorted list.
type FirstByteIndex = [(u16, u16); 128];

/// The protected names in force: the built-in list, minus what the operator released,
/// plus what they added. Checked for every stored candidate of every resolution (75 of
/// them in the benchmark's context), so both lists are sorted and indexed by first
/// byte: a lookup compares a name against the few entries sharing its first letter,
/// and allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedNames {
    exact: Vec<(Box<str>, ProtectedClass)>,
    prefixes: Vec<(Box<str>, ProtectedClass)>,
    /// Names released from under a protected prefix (`GIT_CONFIG_COUNT` from
    /// `GIT_CONFIG_*`, say), sorted.
    exceptions: Vec<Box<str>>,
    /// The operator's releases as configured, for the start-up log.
    released: Vec<String>,
    /// Derived from `exact` and `prefixes` by `reindex`, after every change to them.
    exact_index: FirstByteIndex,
    prefix_index: FirstByteIndex,
}

fn first_byte_index(sorted: &[(Box<str>, ProtectedClass)]) -> FirstByteIndex {
    let mut index = [(0u16, 0u16); 128];
    for (at, (text, _)) in sorted.iter().enumerate() {
        // Entries are at most a few hundred; parsed patterns are ASCII.
        let at = u16::try_from(at).unwrap_or(u16::MAX);
        if let Some(slot) = text
            .bytes()
            .next()
            .and_then(|b| index.get_mut(usize::from(b)))
        {
            if slot.1 == 0 {
                *slot = (at, at);
            }
            slot.1 = at.saturating_add(1);
        }
    }
    index
}

/// The entries of a sorted, indexed list that start with `name`'s first byte.
fn bucket<'a>(
    list: &'a [(Box<str>, ProtectedClass)],
    index: &FirstByteIndex,
    name: &str,
) -> &'a [(Box<str>, ProtectedClass)] {
    let Some(&(start, end)) = name.bytes().next().and_then(|b| index.get(usize::from(b))) else {
        return &[];
    };
    list.get(usize::from(start)..usize::from(end))
        .unwrap_or(&[])
}

impl Default for ProtectedNames {
    fn default() -> Self {
        ProtectedNames::built_in()
    }
}

impl ProtectedNames {
    pub fn built_in() -> Self {
        let mut names = ProtectedNames {
            exact: Vec::new(),
            prefixes: Vec::new(),
            exceptions: Vec::new(),
            released: Vec::new(),
            exact_index: [(0, 0); 128],
            prefix_index: [(0, 0); 128],
        };
        for (text, class) in BUILT_IN_PROTECTED {
            match text.strip_suffix('*') {
                Some(prefix) => names.prefixes.push(((*prefix).into(), *class)),
                None => names.exact.push(((*text).into(), *class)),
            }
        }
        names.reindex();
        names
    }

    fn reindex(&mut self) {
        self.exact.sort();
        self.prefixes.sort();
        self.exact_index = first_byte_index(&self.exact);
        self.prefix_index = first_byte_index(&self.prefixes);
    }

    /// The built-in list with `released` entries taken out and `added` ones put in.
    /// A release must name a built-in entry exactly (`PATH`, `LD_*`) or a name under a
    /// built-in prefix (`GIT_CONFIG_COUNT`); a name both added and released is refused,
    /// as is a release that matches nothing.
    pub fn configure(added: &[String], released: &[String]) -> Result<Self, CoreError> {
        let mut names = ProtectedNames::built_in();
        let added: Vec<Pattern> = added
            .iter()
            .map(|text| Pattern::parse(text))
            .collect::<Result<_, _>>()?;
        for text in released {
            let pattern = Pattern::parse(text)?;
            if added.contains(&pattern) {
                return Err(CoreError::ProtectedNameConflict {
                    pattern: pattern.text(),
                });
            }
            names.release(&pattern)?;
            names.released.push(pattern.text());
        }
        for pattern in added {
            match pattern {
                Pattern::Exact(name) => {
                    if let Err(at) = names.exact.binary_search_by(|(n, _)| n.cmp(&name)) {
                        names.exact.insert(at, (name, ProtectedClass::Configured));
                    }
                }
                Pattern::Prefix(prefix) => {
                    if !names.prefixes.iter().any(|(p, _)| *p == prefix) {
                        names.prefixes.push((prefix, ProtectedClass::Configured));
                    }
                }
            }
        }
        names.reindex();
        Ok(names)
    }

    fn release(&mut self, pattern: &Pattern) -> Result<(), CoreError> {
        let not_protected = || CoreError::NotProtected {
            pattern: pattern.text(),
        };
        match pattern {
            Pattern::Exact(name) => {
                if let Ok(at) = self.exact.binary_search_by(|(n, _)| n.cmp(name)) {
                    self.exact.remove(at);
                    return Ok(());
                }
                if !self.prefixes.iter().any(|(p, _)| name.starts_with(&**p)) {
                    return Err(not_protected());
                }
                if let Err(at) = self.exceptions.binary_search(name) {
                    self.exceptions.insert(at, name.clone());
                }
                Ok(())
            }
            Pattern::Prefix(prefix) => {
                let before = self.prefixes.len();
                self.prefixes.retain(|(p, _)| p != prefix);
                if self.prefixes.len() == before {
                    return Err(not_protected());
                }
                Ok(())
            }
        }
    }

    /// The entry `name` falls under (its text, family, and whether it is a prefix).
    fn find(&self, name: &str) -> Option<(&str, ProtectedClass, bool)> {
        if let Some((exact, class)) = bucket(&self.exact, &self.exact_index, name)
            .iter()
            .find(|(exact, _)| **exact == *name)
        {
            return Some((exact, *class, false));
        }
        let (prefix, class) = bucket(&self.prefixes, &self.prefix_index, name)
            .iter()
            .find(|(prefix, _)| name.starts_with(&**prefix))?;
        if self
            .exceptions
            .binary_search_by(|n| (**n).cmp(name))
            .is_ok()
        {
            return None;
        }
        Some((prefix, *class, true))
    }

    /// The entry `name` falls under, if it is protected.
    pub fn protection(&self, name: &str) -> Option<Protection> {
        self.find(name).map(|(text, class, prefix)| Protection {
            pattern: if prefix {
                format!("{text}*")
            } else {
                text.to_owned()
            },
            class,
        })
    }

    pub fn is_protected(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Refuses a name stored layers may not hold.
    pub fn check_storable(&self, name: &str) -> Result<(), CoreError> {
        match self.protection(name) {
            None => Ok(()),
            Some(protection) => Err(CoreError::ProtectedName {
                pattern: protection.pattern,
                why: protection.class.why(),
            }),
        }
    }

    /// The built-in entries the operator released, as configured.
    pub fn released(&self) -> &[String] {
        &self.released
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use ProtectedClass::*;

    /// Every built-in entry, written out again (not derived from the list), with a
    /// name it must catch: removing or mistyping an entry fails here.
    const EXPECTED: &[(&str, &str, ProtectedClass)] = &[
        ("LD_*", "LD_PRELOAD", Loader),
        ("DYLD_*", "DYLD_INSERT_LIBRARIES", Loader),
        ("GCONV_PATH", "GCONV_PATH", Loader),
        ("PATH", "PATH", Executables),
        ("SHELL", "SHELL", Executables),
        ("IFS", "IFS", Executables),
        ("CDPATH", "CDPATH", Executables),
        ("BASH_ENV", "BASH_ENV", ShellStartup),
        ("ENV", "ENV", ShellStartup),
        ("PROMPT_COMMAND", "PROMPT_COMMAND", ShellStartup),
        ("SHELLOPTS", "SHELLOPTS", ShellStartup),
        ("BASHOPTS", "BASHOPTS", ShellStartup),
        ("PS1", "PS1", ShellStartup),
        ("PS4", "PS4", ShellStartup),
        ("ZDOTDIR", "ZDOTDIR", ShellStartup),
        ("NODE_OPTIONS", "NODE_OPTIONS", RuntimeOptions),
        ("NODE_PATH", "NODE_PATH", RuntimeOptions),
        ("PYTHONPATH", "PYTHONPATH", RuntimeOptions),
        ("PYTHONHOME", "PYTHONHOME", RuntimeOptions),
        ("PYTHONSTARTUP", "PYTHONSTARTUP", RuntimeOptions),
        ("PYTHONWARNINGS", "PYTHONWARNINGS", RuntimeOptions),
        ("PYTHONBREAKPOINT", "PYTHONBREAKPOINT", RuntimeOptions),
        ("PERL5OPT", "PERL5OPT", RuntimeOptions),
        ("PERL5LIB", "PERL5LIB", RuntimeOptions),
        ("PERLLIB", "PERLLIB", RuntimeOptions),
        ("PERL5DB", "PERL5DB", RuntimeOptions),
        ("RUBYOPT", "RUBYOPT", RuntimeOptions),
        ("RUBYLIB", "RUBYLIB", RuntimeOptions),
        ("JAVA_TOOL_OPTIONS", "JAVA_TOOL_OPTIONS", RuntimeOptions),
        ("_JAVA_OPTIONS", "_JAVA_OPTIONS", RuntimeOptions),
        ("JDK_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", RuntimeOptions),
        ("CLASSPATH", "CLASSPATH", RuntimeOptions),
        ("MAVEN_OPTS", "MAVEN_OPTS", RuntimeOptions),
        ("GRADLE_OPTS", "GRADLE_OPTS", RuntimeOptions),
        (
            "DOTNET_STARTUP_HOOKS",
            "DOTNET_STARTUP_HOOKS",
            RuntimeOptions,
        ),
        ("CORECLR_*", "CORECLR_PROFILER_PATH", RuntimeOptions),
        ("PHPRC", "PHPRC", RuntimeOptions),
        ("PHP_INI_SCAN_DIR", "PHP_INI_SCAN_DIR", RuntimeOptions),
        ("LUA_INIT", "LUA_INIT", RuntimeOptions),
        ("LUA_PATH", "LUA_PATH", RuntimeOptions),
        ("LUA_CPATH", "LUA_CPATH", RuntimeOptions),
        ("OPENSSL_CONF", "OPENSSL_CONF", RuntimeOptions),
        ("OPENSSL_ENGINES", "OPENSSL_ENGINES", RuntimeOptions),
        ("OPENSSL_MODULES", "OPENSSL_MODULES", RuntimeOptions),
        ("PAGER", "PAGER", ToolCommands),
        ("MANPAGER", "MANPAGER", ToolCommands),
        ("LESSOPEN", "LESSOPEN", ToolCommands),
        ("LESSCLOSE", "LESSCLOSE", ToolCommands),
        ("EDITOR", "EDITOR", ToolCommands),
        ("VISUAL", "VISUAL", ToolCommands),
        ("BROWSER", "BROWSER", ToolCommands),
        ("SSH_ASKPASS", "SSH_ASKPASS", ToolCommands),
        ("SUDO_ASKPASS", "SUDO_ASKPASS", ToolCommands),
        ("RUSTC_WRAPPER", "RUSTC_WRAPPER", ToolCommands),
        (
            "RUSTC_WORKSPACE_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            ToolCommands,
        ),
        (
            "CARGO_BUILD_RUSTC_WRAPPER",
            "CARGO_BUILD_RUSTC_WRAPPER",
            ToolCommands,
        ),
        (
            "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
            "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
            ToolCommands,
        ),
        ("GIT_SSH", "GIT_SSH", Git),
        ("GIT_SSH_COMMAND", "GIT_SSH_COMMAND", Git),
        ("GIT_EXEC_PATH", "GIT_EXEC_PATH", Git),
        ("GIT_CONFIG", "GIT_CONFIG", Git),
        ("GIT_CONFIG_*", "GIT_CONFIG_GLOBAL", Git),
        ("GIT_ASKPASS", "GIT_ASKPASS", Git),
        ("GIT_PROXY_COMMAND", "GIT_PROXY_COMMAND", Git),
        ("GIT_EXTERNAL_DIFF", "GIT_EXTERNAL_DIFF", Git),
        ("GIT_TEMPLATE_DIR", "GIT_TEMPLATE_DIR", Git),
        ("GIT_EDITOR", "GIT_EDITOR", Git),
        ("GIT_SEQUENCE_EDITOR", "GIT_SEQUENCE_EDITOR", Git),
        ("GIT_PAGER", "GIT_PAGER", Git),
        ("GIT_DIR", "GIT_DIR", Git),
        ("GIT_WORK_TREE", "GIT_WORK_TREE", Git),
        ("HOME", "HOME", ConfigFiles),
        ("XDG_CONFIG_HOME", "XDG_CONFIG_HOME", ConfigFiles),
        ("PIP_CONFIG_FILE", "PIP_CONFIG_FILE", ConfigFiles),
        (
            "NPM_CONFIG_USERCONFIG",
            "NPM_CONFIG_USERCONFIG",
            ConfigFiles,
        ),
        (
            "NPM_CONFIG_GLOBALCONFIG",
            "NPM_CONFIG_GLOBALCONFIG",
            ConfigFiles,
        ),
        ("CURL_HOME", "CURL_HOME", ConfigFiles),
        ("WGETRC", "WGETRC", ConfigFiles),
        ("HTTP_PROXY", "HTTP_PROXY", Traffic),
        ("HTTPS_PROXY", "HTTPS_PROXY", Traffic),
        ("ALL_PROXY", "ALL_PROXY", Traffic),
        ("NO_PROXY", "NO_PROXY", Traffic),
        ("FTP_PROXY", "FTP_PROXY", Traffic),
        ("NPM_CONFIG_PROXY", "NPM_CONFIG_PROXY", Traffic),
        ("NPM_CONFIG_HTTPS_PROXY", "NPM_CONFIG_HTTPS_PROXY", Traffic),
        ("DOCKER_HOST", "DOCKER_HOST", Traffic),
        ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL", Traffic),
        ("AWS_ENDPOINT_URL_*", "AWS_ENDPOINT_URL_STS", Traffic),
        ("HOSTALIASES", "HOSTALIASES", Traffic),
        ("LOCALDOMAIN", "LOCALDOMAIN", Traffic),
        ("RES_OPTIONS", "RES_OPTIONS", Traffic),
        ("PIP_INDEX_URL", "PIP_INDEX_URL", PackageIndexes),
        ("PIP_EXTRA_INDEX_URL", "PIP_EXTRA_INDEX_URL", PackageIndexes),
        ("PIP_FIND_LINKS", "PIP_FIND_LINKS", PackageIndexes),
        ("PIP_TRUSTED_HOST", "PIP_TRUSTED_HOST", PackageIndexes),
        ("UV_INDEX", "UV_INDEX", PackageIndexes),
        ("UV_INDEX_URL", "UV_INDEX_URL", PackageIndexes),
        ("UV_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL", PackageIndexes),
        ("UV_DEFAULT_INDEX", "UV_DEFAULT_INDEX", PackageIndexes),
        ("UV_FIND_LINKS", "UV_FIND_LINKS", PackageIndexes),
        ("NPM_CONFIG_REGISTRY", "NPM_CONFIG_REGISTRY", PackageIndexes),
        ("YARN_REGISTRY", "YARN_REGISTRY", PackageIndexes),
        (
            "YARN_NPM_REGISTRY_SERVER",
            "YARN_NPM_REGISTRY_SERVER",
            PackageIndexes,
        ),
        ("GOPROXY", "GOPROXY", PackageIndexes),
        ("GOSUMDB", "GOSUMDB", PackageIndexes),
        ("GONOSUMDB", "GONOSUMDB", PackageIndexes),
        ("GONOSUMCHECK", "GONOSUMCHECK", PackageIndexes),
        ("GONOPROXY", "GONOPROXY", PackageIndexes),
        ("GOPRIVATE", "GOPRIVATE", PackageIndexes),
        ("GOINSECURE", "GOINSECURE", PackageIndexes),
        ("GOFLAGS", "GOFLAGS", PackageIndexes),
        ("SSL_CERT_FILE", "SSL_CERT_FILE", Trust),
        ("SSL_CERT_DIR", "SSL_CERT_DIR", Trust),
        ("REQUESTS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", Trust),
        ("CURL_CA_BUNDLE", "CURL_CA_BUNDLE", Trust),
        ("NODE_EXTRA_CA_CERTS", "NODE_EXTRA_CA_CERTS", Trust),
        (
            "NODE_TLS_REJECT_UNAUTHORIZED",
            "NODE_TLS_REJECT_UNAUTHORIZED",
            Trust,
        ),
        ("PIP_CERT", "PIP_CERT", Trust),
        ("AWS_CA_BUNDLE", "AWS_CA_BUNDLE", Trust),
        ("PYTHONHTTPSVERIFY", "PYTHONHTTPSVERIFY", Trust),
        ("GIT_SSL_*", "GIT_SSL_NO_VERIFY", Trust),
        ("SSLKEYLOGFILE", "SSLKEYLOGFILE", Trust),
    ];

    #[test]
    fn every_built_in_entry_protects_its_names() {
        let names = ProtectedNames::built_in();
        for (pattern, sample, class) in EXPECTED {
            assert_eq!(
                names.protection(sample),
                Some(Protection {
                    pattern: (*pattern).to_owned(),
                    class: *class
                }),
                "{sample} under {pattern}"
            );
            assert!(names.check_storable(sample).is_err(), "{sample}");
        }
        let listed: BTreeSet<&str> = BUILT_IN_PROTECTED.iter().map(|(p, _)| *p).collect();
        let tested: BTreeSet<&str> = EXPECTED.iter().map(|(p, _, _)| *p).collect();
        assert_eq!(listed, tested, "every entry is tested, and only those");
        assert_eq!(listed.len(), BUILT_IN_PROTECTED.len(), "no entry twice");
    }

    #[test]
    fn prefixes_catch_every_name_they_start_and_nothing_else() {
        let names = ProtectedNames::built_in();
        for protected in [
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "LD_",
            "DYLD_LIBRARY_PATH",
            "GIT_CONFIG_COUNT",
            "GIT_CONFIG_KEY_0",
            "GIT_CONFIG_VALUE_0",
            "GIT_SSL_CAINFO",
            "CORECLR_ENABLE_PROFILING",
            "AWS_ENDPOINT_URL_S3",
        ] {
            assert!(names.is_protected(protected), "{protected}");
        }
        for free in [
            "LD",
            "LDAP_PASSWORD",
            "OLD_PRELOAD",
            "PATHS",
            "MY_PATH",
            "PATH_",
            "HOMEBREW_GITHUB_API_TOKEN",
            "GIT_TOKEN",
            "GITHUB_TOKEN",
            "GIT_CONFIGURED",
            "HTTP_PROXY_PASSWORD",
            "AWS_ENDPOINT",
            "AWS_SECRET_ACCESS_KEY",
            "NPM_TOKEN",
            "PIP_INDEX_URL_TOKEN",
            "STRIPE_KEY",
            "OPENAI_API_KEY",
            "ENVIRONMENT",
        ] {
            assert!(!names.is_protected(free), "{free}");
            assert_eq!(names.check_storable(free), Ok(()), "{free}");
        }
    }

    #[test]
    fn a_refusal_names_the_entry_and_its_reason_but_not_the_input() {
        let refused = ProtectedNames::built_in()
            .check_storable("LD_PRELOAD")
            .expect_err("protected");
        let message = refused.to_string();
        assert!(message.contains("LD_*"), "{message}");
        assert!(message.contains("dynamic loader"), "{message}");
        assert!(message.contains("profile_env"), "{message}");
        assert!(!message.contains("LD_PRELOAD"), "{message}");
    }

    #[test]
    fn operators_add_names_and_prefixes() {
        let names = ProtectedNames::configure(&["CORP_*".into(), "INTERNAL_TOKEN".into()], &[])
            .expect("valid");
        for (name, pattern) in [
            ("CORP_PROXY", "CORP_*"),
            ("CORP_", "CORP_*"),
            ("INTERNAL_TOKEN", "INTERNAL_TOKEN"),
        ] {
            assert_eq!(
                names.protection(name),
                Some(Protection {
                    pattern: pattern.into(),
                    class: Configured
                })
            );
        }
        assert!(!names.is_protected("INTERNAL_TOKEN_2"));
        assert!(!names.is_protected("CORPUS"));
        assert!(names.is_protected("LD_PRELOAD"), "built-ins stay");
        // Adding a built-in again changes nothing about it.
        let again = ProtectedNames::configure(&["PATH".into(), "LD_*".into()], &[]).expect("ok");
        assert_eq!(again, ProtectedNames::built_in());
    }

    #[test]
    fn releases_are_explicit_and_exact() {
        let names = ProtectedNames::configure(
            &[],
            &[
                "HTTPS_PROXY".into(),
                "GIT_CONFIG_COUNT".into(),
                "DYLD_*".into(),
            ],
        )
        .expect("valid");
        assert!(!names.is_protected("HTTPS_PROXY"));
        assert!(names.is_protected("HTTP_PROXY"), "only what was named");
        assert!(!names.is_protected("GIT_CONFIG_COUNT"));
        assert!(names.is_protected("GIT_CONFIG_GLOBAL"), "the prefix stays");
        assert!(!names.is_protected("DYLD_INSERT_LIBRARIES"));
        assert_eq!(
            names.released(),
            ["HTTPS_PROXY", "GIT_CONFIG_COUNT", "DYLD_*"]
        );
        for (released, expected) in [
            (
                "STRIPE_KEY",
                CoreError::NotProtected {
                    pattern: "STRIPE_KEY".into(),
                },
            ),
            (
                "LD_PRE*",
                CoreError::NotProtected {
                    pattern: "LD_PRE*".into(),
                },
            ),
        ] {
            assert_eq!(
                ProtectedNames::configure(&[], &[released.into()]),
                Err(expected)
            );
        }
        assert_eq!(
            ProtectedNames::configure(&["PATH".into()], &["PATH".into()]),
            Err(CoreError::ProtectedNameConflict {
                pattern: "PATH".into()
            })
        );
    }

    #[test]
    fn configured_patterns_must_be_storable_names() {
        for bad in ["", "*", "lower_case", "1ABC", "A-B", "A*B", "**", "A B"] {
            assert!(
                matches!(
                    ProtectedNames::configure(&[bad.into()], &[]),
                    Err(CoreError::InvalidProtectedPattern { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn every_class_explains_itself() {
        let mut seen = BTreeSet::new();
        for class in ProtectedClass::BUILT_IN.into_iter().chain([Configured]) {
            assert!(!class.why().is_empty());
            assert!(seen.insert(class.why()), "{class:?} explained as another");
        }
        let used: BTreeSet<ProtectedClass> = BUILT_IN_PROTECTED.iter().map(|(_, c)| *c).collect();
        assert_eq!(
            used,
            ProtectedClass::BUILT_IN
                .into_iter()
                .collect::<BTreeSet<_>>()
        );
    }

    #[test]
    fn the_readme_table_lists_exactly_the_built_in_entries() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("### Protected names")
            .nth(1)
            .and_then(|rest| rest.split("\n### ").next())
            .expect("README has a Protected names section");
        let mut listed = BTreeSet::new();
        for row in section
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| family"))
        {
            let names = row.split('|').nth(2).expect("a names column");
            for name in names.split('`').skip(1).step_by(2) {
                listed.insert(name);
            }
        }
        let built_in: BTreeSet<&str> = BUILT_IN_PROTECTED.iter().map(|(p, _)| *p).collect();
        assert_eq!(listed, built_in);
    }
}
