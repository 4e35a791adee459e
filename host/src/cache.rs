//! Precompiled-code cache: compiling the component takes tens of milliseconds,
//! loading cached machine code a few, which is what a CLI cold start feels.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::error::{Error, Result};

/// The SHA-256 of [`COMPONENT`], hex, from `build.rs`.
pub const COMPONENT_SHA256: &str = env!("BACKSTOP_COMPONENT_SHA256");

pub struct CodeCache {
    dir: PathBuf,
}

impl CodeCache {
    pub fn new(dir: PathBuf) -> Self {
        CodeCache { dir }
    }

    /// `$BACKSTOP_CACHE_DIR`, else the platform cache dir; `None` when
    /// `BACKSTOP_CACHE=off` or no home directory is known.
    pub fn from_env() -> Option<CodeCache> {
        if std::env::var("BACKSTOP_CACHE").is_ok_and(|v| v == "off" || v == "0") {
            return None;
        }
        if let Some(dir) = std::env::var_os("BACKSTOP_CACHE_DIR") {
            return Some(CodeCache::new(PathBuf::from(dir)));
        }
        directories::ProjectDirs::from("", "", "backstop")
            .map(|dirs| CodeCache::new(dirs.cache_dir().to_path_buf()))
    }

    /// The cache file for these component bytes compiled by this engine. The
    /// key includes wasmtime's engine compatibility hash (its version, the
    /// target and compiler flags, tunables and enabled features): two builds
    /// whose engines differ (a debug and a release binary, different wasmtime
    /// features) each keep their own file instead of overwriting each other's
    /// and recompiling on every start.
    /// `sha256` is the component's digest in hex (for the embedded one,
    /// [`COMPONENT_SHA256`], computed at build time).
    pub fn path_for(&self, engine: &wasmtime::Engine, sha256: &str) -> PathBuf {
        let code = sha256.get(..24).unwrap_or(sha256);
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine = hex12(&hasher.0.finalize());
        self.dir
            .join(format!("backstop-{code}-engine-{engine}.cwasm"))
    }

    pub fn load_or_compile(
        &self,
        engine: &wasmtime::Engine,
        bytes: &[u8],
        sha256: &str,
    ) -> Result<Component> {
        let path = self.path_for(engine, sha256);
        if path.is_file() {
            // SAFETY: the file is one this function wrote (atomically, below) for this
            // exact component and a compatible engine; wasmtime checks its header and
            // engine compatibility and we fall back to compiling if it objects.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok(component);
            }
        }
        let component = Component::new(engine, bytes)
            .map_err(|e| Error::Runtime(format!("compiling the policy component: {e:#}")))?;
        // A cache that cannot be written only costs speed, never correctness.
        if let Ok(serialized) = component.serialize() {
            let _ = write_atomically(&path, &serialized);
        }
        Ok(component)
    }
}

fn hex12(digest: &[u8]) -> String {
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Feeds `Hash` into SHA-256: unlike std's `DefaultHasher`, its output is
/// specified, so the key does not change with the Rust release.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("cache"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::COMPONENT;

    fn sha256(bytes: &[u8]) -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn engine(fuel: bool) -> wasmtime::Engine {
        let mut config = wasmtime::Config::new();
        config.concurrency_support(false).consume_fuel(fuel);
        wasmtime::Engine::new(&config).unwrap()
    }

    #[test]
    fn the_key_separates_incompatible_engines() {
        let cache = CodeCache::new(PathBuf::from("/cache"));
        let bytes = &sha256(b"component");
        // Equal configurations share a file; a configuration whose code
        // cannot be loaded by the other (fuel changes the tunables) gets its own.
        assert_eq!(
            cache.path_for(&engine(true), bytes),
            cache.path_for(&engine(true), bytes)
        );
        assert_ne!(
            cache.path_for(&engine(true), bytes),
            cache.path_for(&engine(false), bytes)
        );
        assert_ne!(
            cache.path_for(&engine(true), bytes),
            cache.path_for(&engine(true), &sha256(b"other"))
        );
    }

    #[test]
    fn the_build_time_digest_is_the_embedded_components() {
        // build.rs reruns when the wasm changes; a stale digest would load
        // another component's machine code.
        let cache = CodeCache::new(PathBuf::from("/cache"));
        let e = engine(true);
        assert_eq!(
            cache.path_for(&e, COMPONENT_SHA256),
            cache.path_for(&e, &sha256(COMPONENT))
        );
    }

    #[test]
    fn incompatible_engines_keep_their_own_cached_code() {
        let dir = std::env::temp_dir().join(format!("backstop-cache-test-{}", std::process::id()));
        let cache = CodeCache::new(dir.clone());
        // The smallest component: the preamble of the component binary format.
        let bytes: &[u8] = b"\0asm\x0d\0\x01\0";
        let (fuel, plain) = (engine(true), engine(false));
        let digest = sha256(bytes);
        cache.load_or_compile(&fuel, bytes, &digest).unwrap();
        cache.load_or_compile(&plain, bytes, &digest).unwrap();
        let (a, b) = (
            cache.path_for(&fuel, &digest),
            cache.path_for(&plain, &digest),
        );
        assert!(a.is_file() && b.is_file() && a != b);
        // Each engine now loads its own file, so neither is rewritten (a
        // rewrite renames a fresh file into place).
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();
            let before = (inode(&a), inode(&b));
            cache.load_or_compile(&fuel, bytes, &digest).unwrap();
            cache.load_or_compile(&plain, bytes, &digest).unwrap();
            assert_eq!((inode(&a), inode(&b)), before);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
