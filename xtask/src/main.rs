//! `cargo run -p xtask -- build-wasm` builds the guest for `wasm32-unknown-unknown`,
//! wraps it into a component, and writes both artifacts where the hosts embed them.
//! `cargo run -p xtask -- check-wasm` rebuilds them and fails if any committed
//! byte differs, so shipped bytes always equal the source.
//! `gen-bindings` writes the Python and Go hosts' bindings from `wit/`, and
//! `check-bindings` fails if the committed ones differ (see bindings.rs).

mod bindings;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};

/// Where each host embeds the artifacts (relative to the workspace root).
const COMPONENT_DESTINATIONS: &[&str] = &[
    "host/wasm/backstop.wasm",
    "node/wasm/backstop.wasm",
    "python/src/backstop/wasm/backstop.wasm",
];
const CORE_DESTINATIONS: &[&str] = &[
    "host/wasm/backstop-core.wasm",
    "go/wasm/backstop-core.wasm",
    "python/src/backstop/wasm/backstop-core.wasm",
];
const CHECKSUMS: &str = "host/wasm/SHA256SUMS";

fn main() -> Result<()> {
    let root = workspace_root();
    match std::env::args().nth(1).as_deref() {
        Some("build-wasm") => {
            let artifacts = build(&root)?;
            for (path, bytes) in artifacts.files() {
                let dest = root.join(path);
                std::fs::create_dir_all(dest.parent().unwrap())?;
                std::fs::write(&dest, bytes)
                    .with_context(|| format!("writing {}", dest.display()))?;
            }
            println!(
                "component: {} bytes, core module: {} bytes",
                artifacts.component.len(),
                artifacts.core.len()
            );
            print!("{}", artifacts.checksums);
            retranspile_node(&root)
        }
        Some("check-wasm") => {
            let artifacts = build(&root)?;
            ensure_committed(
                &root,
                artifacts.files(),
                "committed wasm artifacts differ from a fresh build",
                "build-wasm",
            )?;
            println!("wasm artifacts match a fresh build");
            Ok(())
        }
        Some("gen-bindings") => {
            for (path, text) in bindings::generate(&root)? {
                let dest = root.join(path);
                std::fs::write(&dest, text)
                    .with_context(|| format!("writing {}", dest.display()))?;
                println!("wrote {path}");
            }
            Ok(())
        }
        Some("check-bindings") => {
            let files = bindings::generate(&root)?
                .into_iter()
                .map(|(path, text)| (path.to_string(), text.into_bytes()));
            ensure_committed(
                &root,
                files.collect(),
                "generated bindings differ from wit/",
                "gen-bindings",
            )?;
            println!("generated bindings match wit/");
            Ok(())
        }
        _ => bail!(
            "usage: cargo run -p xtask -- build-wasm | check-wasm | gen-bindings | check-bindings"
        ),
    }
}

/// Fails, naming every file, unless each committed file equals its fresh bytes.
fn ensure_committed(
    root: &Path,
    fresh: Vec<(String, Vec<u8>)>,
    problem: &str,
    fix: &str,
) -> Result<()> {
    let stale: Vec<String> = fresh
        .into_iter()
        .filter(|(path, bytes)| std::fs::read(root.join(path)).unwrap_or_default() != *bytes)
        .map(|(path, _)| path)
        .collect();
    if !stale.is_empty() {
        bail!(
            "{problem}: {}\nrun `cargo run -p xtask -- {fix}` and commit the result",
            stale.join(", ")
        );
    }
    Ok(())
}

struct Artifacts {
    component: Vec<u8>,
    core: Vec<u8>,
    checksums: String,
}

impl Artifacts {
    fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        for path in COMPONENT_DESTINATIONS {
            files.push((path.to_string(), self.component.clone()));
        }
        for path in CORE_DESTINATIONS {
            files.push((path.to_string(), self.core.clone()));
        }
        files.push((CHECKSUMS.to_string(), self.checksums.clone().into_bytes()));
        files
    }
}

fn workspace_root() -> PathBuf {
    // `cargo run` sets the variable at run time too; prefer it, because a target
    // directory shared by several checkouts may run a binary compiled in another.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn build(root: &Path) -> Result<Artifacts> {
    let target_dir = root.join("target").join("wasm-build");
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo")
        });
    // Remap every machine-specific path so the bytes do not depend on where the
    // checkout or the cargo registry lives.
    let rustflags = [
        format!("--remap-path-prefix={}=/backstop", root.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
    ]
    .join("\x1f");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "backstop-guest",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        // Small, fast, panic-free-unwinding wasm; set here so the host's own
        // release builds are not slowed by whole-program LTO.
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .env_remove("RUSTFLAGS")
        .status()
        .context("running cargo build for wasm32-unknown-unknown")?;
    ensure!(
        status.success(),
        "building the guest failed (is the wasm32-unknown-unknown target installed? `rustup target add wasm32-unknown-unknown`)"
    );

    let module_path = target_dir.join("wasm32-unknown-unknown/release/backstop_core.wasm");
    let module = std::fs::read(&module_path)
        .with_context(|| format!("reading {}", module_path.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)?
        .encode()
        .context("wrapping the core module into a component")?;
    // The core module for wazero: the same code without the component-type metadata.
    let (core, _) = wit_component::metadata::decode(&module)?;
    let core = core.context("the guest module carries no component-type metadata")?;
    assert_no_imports(&core)?;

    let mut checksums = String::new();
    for (bytes, name) in [(&component, "backstop.wasm"), (&core, "backstop-core.wasm")] {
        checksums.push_str(&format!("{}  {name}\n", hex(&Sha256::digest(bytes))));
    }
    Ok(Artifacts {
        component,
        core,
        checksums,
    })
}

/// The core module must import nothing, or wazero (and the security story) breaks.
fn assert_no_imports(module: &[u8]) -> Result<()> {
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::ImportSection(reader) = payload? {
            let imports: Vec<String> = reader
                .into_imports()
                .map(|import| import.map(|i| format!("{}::{}", i.module, i.name)))
                .collect::<Result<_, _>>()?;
            ensure!(
                imports.is_empty(),
                "the guest imports {imports:?}; it must import nothing"
            );
        }
    }
    Ok(())
}

/// The Node package commits jco's transpilation of the component (its tests fail
/// when it drifts), so regenerate it whenever the component is rebuilt.
fn retranspile_node(root: &Path) -> Result<()> {
    let node = root.join("node");
    if !node.join("node_modules").is_dir() {
        println!(
            "node/node_modules is missing: run `tests/run-node.sh` (or `npm ci && npm run gen` in node/) to refresh node/gen"
        );
        return Ok(());
    }
    let status = Command::new("npm")
        .current_dir(&node)
        .args(["run", "--silent", "gen"])
        .status()
        .context("running `npm run gen` in node/")?;
    ensure!(status.success(), "`npm run gen` in node/ failed");
    println!("node/gen re-transpiled");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
