//! The embedded component's SHA-256, computed once at build time: it keys the
//! code cache, and hashing 2.8 MB on every start was ~13% of a `backstop run`
//! process's CPU.

use sha2::{Digest, Sha256};

fn main() {
    let path = "wasm/backstop.wasm";
    println!("cargo:rerun-if-changed={path}");
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let hex: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=BACKSTOP_COMPONENT_SHA256={hex}");
}
