//! The fuzz targets' entry points (`fuzz/`, run by `scripts/fuzz.sh`, not in CI) run over
//! their seed corpora (`fuzz/seeds/<target>`) and every crash input the fuzzer found
//! (`fuzz/regressions/<target>`, each also pinned by a named test below), so a target cannot
//! rot and a fixed crash cannot come back.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Far above what any input takes; only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = fuzz_dir();
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

/// One line from one source, merged as the planner merges it.
fn merge_one(line: &str) -> Result<(), dockwright_plan::requirements::InvalidLine> {
    use dockwright_plan::contribution::{Contribution, Group, Platform, Requirement, Sourced};
    let sources = [Sourced {
        plugin: "acme 1.0.0".into(),
        digest: "sha256:00".into(),
        group: Group::Integrations,
        contribution: Contribution {
            requirements: vec![Requirement {
                line: line.into(),
                origin: "integration acme".into(),
            }],
            ..Contribution::default()
        },
    }];
    dockwright_plan::requirements::merge(&sources, &Platform::default()).map(|_| ())
}

/// Crash found by the `requirement_lines` target: `t_` then NUL bytes made pep508_rs panic in
/// `package_name` (what `dockwright why` uses) instead of refusing the name.
#[test]
fn regression_name_ending_in_underscore_is_no_package() {
    let input = fuzz_dir().join("regressions/requirement_lines/pep508-name-ending-in-underscore");
    run_one(dockwright_plan::fuzz::requirement_lines, &input);
    let text = String::from_utf8(std::fs::read(&input).unwrap()).unwrap();
    assert_eq!(dockwright_plan::requirements::package_name(&text), None);
    let error = merge_one("t_ >=1").unwrap_err();
    assert!(error.reason.contains("`t_` ends in `_`"), "{error}");
}

/// Crash found by the `boundary` target: a plugin returning `m0yeqr.>=1…` made pep508_rs
/// panic in the merge; now the plan fails naming the line, its origin and the plugin.
#[test]
fn regression_name_ending_in_dot_from_a_plugin_is_an_invalid_line() {
    let input = fuzz_dir().join("regressions/boundary/pep508-name-ending-in-dot");
    run_one(dockwright_plugin_host::fuzz::boundary, &input);
    let error = merge_one("m0yeqr.>=1uirementsd64").unwrap_err().to_string();
    assert!(error.contains("`m0yeqr.` ends in `.`"), "{error}");
    assert!(
        error.contains("integration acme (plugin acme 1.0.0)"),
        "{error}"
    );
}
