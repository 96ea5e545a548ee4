//! The on-disk cache of precompiled components. A component is compiled once per (wasm
//! sha256, wasmtime version, engine configuration) and later loaded with a memory map, so a
//! warm run compiles nothing. Precompiled code is native code: it is only ever loaded from
//! this directory, which only this cache writes (created 0700, files renamed into place).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub(crate) struct CompileCache {
    dir: PathBuf,
    /// Fingerprint of the wasmtime version and the engine configuration.
    engine_key: String,
    compiles: AtomicUsize,
}

impl CompileCache {
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut hasher = StableHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let config = hex::encode(&hasher.0.finalize()[..8]);
        let engine_key = format!("wasmtime-{}-{config}", wasmtime_version());
        CompileCache {
            dir,
            engine_key,
            compiles: AtomicUsize::new(0),
        }
    }

    /// How many components this cache compiled (rather than loaded) so far.
    pub fn compiles(&self) -> usize {
        self.compiles.load(Ordering::Relaxed)
    }

    /// The compiled component for `wasm`, whose sha256 is `digest` (hex).
    pub fn load(&self, engine: &Engine, wasm: &[u8], digest: &str) -> anyhow::Result<Component> {
        let path = self.dir.join(format!("{digest}-{}.cwasm", self.engine_key));
        if path.is_file() {
            // SAFETY: files in this directory are only written by `store` below, from
            // `Engine::precompile_component`; wasmtime rejects a mismatched version or config.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok(component);
            }
        }
        let compiled = engine.precompile_component(wasm)?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        if self.store(&path, &compiled).is_ok() {
            // SAFETY: as above; we just wrote it.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok(component);
            }
        }
        // An unwritable cache costs speed, not correctness.
        // SAFETY: the bytes come from `precompile_component` in this process.
        Ok(unsafe { Component::deserialize(engine, &compiled)? })
    }

    fn store(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        write_private(&self.dir, path, bytes)
    }
}

/// Writes `bytes` to `path` in `dir` (made 0700 if missing) through a temporary file renamed
/// into place, so a reader sees the whole file or none.
pub(super) fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The version of the wasmtime crate this host links.
fn wasmtime_version() -> &'static str {
    // Kept in step with host/Cargo.toml by `cache_key_names_the_wasmtime_version` below.
    "48"
}

/// Feeds `Hash` into SHA-256, so the key is stable across processes (unlike `DefaultHasher`,
/// whose algorithm may change between Rust releases).
struct StableHasher(Sha256);

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        unreachable!("only used through finalize")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cache_key_names_the_wasmtime_version() {
        let manifest = include_str!("../../Cargo.toml");
        let line = manifest
            .lines()
            .find(|l| l.starts_with("wasmtime ="))
            .unwrap();
        assert!(
            line.contains(&format!("\"{}.", super::wasmtime_version())),
            "{line}"
        );
    }
}
