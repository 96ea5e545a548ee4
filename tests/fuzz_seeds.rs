//! The fuzz targets' entry points (`fuzz/`, run by `scripts/fuzz.sh`, not in CI) run over
//! their seed corpora (`fuzz/seeds/<target>`) and every crash input the fuzzer found
//! (`fuzz/regressions/<target>`, each also pinned by a named test below), so a target cannot
//! rot and a fixed crash cannot come back.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Far above what any input takes; only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        files.extend(entries.map(|e| e.unwrap().path()));
    }
    files.sort();
    files
}

/// Runs `entry` on `input` in its own thread: a panic or a hang fails, naming the input.
fn run_one(entry: fn(&[u8]), input: &Path) {
    let data = std::fs::read(input).unwrap();
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        entry(&data);
        let _ = done.send(());
    });
    match finished.recv_timeout(HANG) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker.join().unwrap_err();
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("{} panics: {message}", input.display());
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{} hangs", input.display()),
    }
}

fn run_corpus(target: &str, entry: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no seed inputs for the fuzz target {target}"
    );
    for input in &files {
        run_one(entry, input);
    }
}

#[test]
fn settings_seeds() {
    run_corpus("settings", dockwright_plan::fuzz::settings);
}

#[test]
fn requirement_lines_seeds() {
    run_corpus(
        "requirement_lines",
        dockwright_plan::fuzz::requirement_lines,
    );
}

#[test]
fn requirements_file_seeds() {
    run_corpus("requirements_file", requirements::fuzz_requirements_file);
}

#[test]
fn dockerignore_seeds() {
    run_corpus("dockerignore", dockwright_plan::fuzz::dockerignore);
}

#[test]
fn manifest_seeds() {
    run_corpus("manifest", dockwright_plugin_host::fuzz::manifest);
}

#[test]
fn boundary_seeds() {
    run_corpus("boundary", dockwright_plugin_host::fuzz::boundary);
}

#[test]
fn oci_seeds() {
    run_corpus("oci", dockwright_plugin_host::fuzz::oci);
}

#[test]
fn registry_seeds() {
    run_corpus("registry", dockwright_registry::fuzz_image);
}
