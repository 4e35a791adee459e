//! Precompiled-code cache: compiling the component takes tens of milliseconds,
//! loading cached machine code a few, which is what a CLI cold start feels.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::error::{Error, Result};

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

    /// The cache file for these component bytes under this wasmtime version;
    /// wasmtime itself refuses code compiled for another engine configuration.
    pub fn path_for(&self, component: &[u8]) -> PathBuf {
        let digest = Sha256::digest(component);
        let hash: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        let target = std::env::consts::ARCH;
        self.dir
            .join(format!("backstop-{hash}-wasmtime-48.0.8-{target}.cwasm"))
    }

    pub fn load_or_compile(&self, engine: &wasmtime::Engine, bytes: &[u8]) -> Result<Component> {
        let path = self.path_for(bytes);
        if path.is_file() {
            // SAFETY: the file is one this function wrote (atomically, below) for this
            // exact component and wasmtime version; wasmtime checks its header and
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
