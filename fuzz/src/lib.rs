//! What the fuzz targets share: a keyring over in-memory parts (the local root
//! provider and the memory KEK repository, the same code the vault runs with
//! `ENCRYPTION_KEY`), and a runtime to drive its async calls from a synchronous target.
//!
//! A target reports a broken property by panicking; libFuzzer saves the input under
//! `fuzz/artifacts/<target>/`, and `cargo xtask fuzz` says how to turn it into a test.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use vault_core::{Owner, SecretId, SecretName, SecretValue, UserId, Version};
use vault_kms::{
    Envelope, KekId, Keyring, KeyringConfig, LocalRootProvider, MemoryKekRepository, RootKey,
    SealBinding, VaultInstanceId,
};

/// Runs `future` to completion on one current-thread runtime, made once.
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(
            || match tokio::runtime::Builder::new_current_thread().build() {
                Ok(runtime) => runtime,
                Err(error) => panic!("no tokio runtime for the fuzz target: {error}"),
            },
        )
        .block_on(future)
}

/// One vault's keyring with its first KEK started, and one row to seal for.
pub struct Sealer {
    pub keyring: Keyring,
    pub active_kek: KekId,
    pub row: Row,
}

/// The fields a seal is bound to, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub secret_id: SecretId,
    pub version: Version,
    pub owner: Owner,
    pub name: SecretName,
}

impl Row {
    pub fn binding(&self) -> SealBinding<'_> {
        SealBinding {
            secret_id: &self.secret_id,
            version: self.version,
            owner: &self.owner,
            name: &self.name,
        }
    }
}

/// The sealer every iteration of a target uses (KEK set-up is not what is fuzzed).
pub fn sealer() -> &'static Sealer {
    static SEALER: OnceLock<Sealer> = OnceLock::new();
    SEALER.get_or_init(|| {
        let root = LocalRootProvider::new(RootKey::from_bytes(&[0x5a; 32]), Vec::new());
        let instance = match VaultInstanceId::generate() {
            Ok(id) => id,
            Err(error) => panic!("no instance id: {error}"),
        };
        let keyring = Keyring::new(
            instance,
            Arc::new(root),
            Arc::new(MemoryKekRepository::new()),
            KeyringConfig::default(),
        );
        let active_kek = match block_on(keyring.rotate_kek()) {
            Ok(record) => *record.id(),
            Err(error) => panic!("no first KEK: {error}"),
        };
        let row = Row {
            secret_id: SecretId::generate(),
            version: Version::FIRST,
            owner: Owner::User(parsed(UserId::parse("fuzz-user"))),
            name: parsed(SecretName::parse("FUZZ_SECRET")),
        };
        Sealer {
            keyring,
            active_kek,
            row,
        }
    })
}

impl Sealer {
    pub fn seal(&self, row: &Row, value: &SecretValue) -> Envelope {
        match block_on(self.keyring.seal(&row.binding(), value)) {
            Ok(envelope) => envelope,
            Err(error) => panic!("sealing failed: {error}"),
        }
    }

    pub fn open(&self, row: &Row, envelope: &Envelope) -> Option<SecretValue> {
        block_on(self.keyring.open(&row.binding(), envelope)).ok()
    }
}

/// A fixture's value, known to parse.
pub fn parsed<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("fixture does not parse: {error}"),
    }
}

/// Runs `check` over every file of `fuzz/seeds/<target>/` (the committed corpus, which
/// holds every finding once fixed), so `cargo test` keeps them passing without
/// libFuzzer. Fails when there is no seed: a target without seeds replays nothing.
pub fn replay_seeds(target: &str, mut check: impl FnMut(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) => panic!("no seeds at {}: {error}", dir.display()),
    };
    let mut replayed = 0;
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(error) => panic!("reading {}: {error}", dir.display()),
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => panic!("reading {}: {error}", path.display()),
        };
        check(&bytes);
        replayed += 1;
    }
    assert!(replayed > 0, "{} holds no seed", dir.display());
}

/// A typed target's input from raw bytes, built the way libfuzzer-sys builds it, or
/// `None` where it would skip the input.
pub fn typed<T: for<'a> libfuzzer_sys::arbitrary::Arbitrary<'a>>(bytes: &[u8]) -> Option<T> {
    T::arbitrary_take_rest(libfuzzer_sys::arbitrary::Unstructured::new(bytes)).ok()
}
