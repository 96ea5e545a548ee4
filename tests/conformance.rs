//! The conformance cases of `tests/conformance/plan/` (copied from the shared cases): each
//! runs `dockwright plan --json` in its folder and matches `expect.json` by subset, or checks
//! `expect-error.json`'s exit status and standard error.

use std::path::{Path, PathBuf};
use std::process::Command;

use dockwright_tests::dockwright;
use serde_json::Value;

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/plan")
}

/// Subset matching as the cases' README defines it.
fn matches(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                if key == "note" {
                    continue;
                }
                let Some(found) = have.get(key) else {
                    return Err(format!("{at}.{key}: missing"));
                };
                matches(value, found, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                return Err(format!(
                    "{at}: expected {} items, found {}: {actual}",
                    want.len(),
                    have.len()
                ));
            }
            for (i, (w, h)) in want.iter().zip(have).enumerate() {
                matches(w, h, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{at}: expected {expected}, found {actual}")),
    }
}

/// A venv with one package in it (written as pip itself lays out a dist-info), so the local
/// group is not empty; its real `pip freeze` is what the local group must equal.
fn venv(home: &Path) -> (PathBuf, Vec<String>) {
    let venv = home.join("venv");
    let status = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success(), "python3 -m venv failed");
    let lib = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let dist_info = lib.join("site-packages/Conformance_Pkg-1.2.3.dist-info");
    std::fs::create_dir_all(&dist_info).unwrap();
    std::fs::write(
        dist_info.join("METADATA"),
        "Metadata-Version: 2.1\nName: Conformance_Pkg\nVersion: 1.2.3\n",
    )
    .unwrap();
    std::fs::write(dist_info.join("INSTALLER"), "pip\n").unwrap();
    std::fs::write(dist_info.join("RECORD"), "").unwrap();
    let freeze = Command::new("python3")
        .args(["-m", "pip", "freeze", "--path"])
        .arg(lib.join("site-packages"))
        .output()
        .unwrap();
    assert!(
        freeze.status.success(),
        "pip freeze: {}",
        String::from_utf8_lossy(&freeze.stderr)
    );
    let lines = String::from_utf8(freeze.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    (venv, lines)
}

fn run_case(name: &str) {
    let dir = cases().join(name);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = dockwright(home.path());
    cmd.current_dir(&dir)
        .args(["plan", "--json", "-f", "dockwright.yaml"]);
    let mut freeze = None;
    if name == "03-all-three-groups" {
        let (venv, lines) = venv(home.path());
        cmd.env("VIRTUAL_ENV", venv);
        freeze = Some(lines);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{name} panicked: {stderr}");
    if let Ok(text) = std::fs::read_to_string(dir.join("expect-error.json")) {
        let expect: Value = serde_json::from_str(&text).unwrap();
        assert!(
            !out.status.success(),
            "{name}: expected failure, got {stdout}"
        );
        for needle in expect["stderr_contains"].as_array().unwrap() {
            let needle = needle.as_str().unwrap();
            assert!(
                stderr.contains(needle),
                "{name}: stderr lacks `{needle}`: {stderr}"
            );
        }
        return;
    }
    assert!(out.status.success(), "{name} failed: {stderr}");
    let actual: Value = serde_json::from_str(&stdout).unwrap();
    let expect: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expect.json")).unwrap()).unwrap();
    if let Err(e) = matches(&expect, &actual, "plan") {
        panic!("{name}: {e}\n{stdout}");
    }
    if let Some(freeze) = freeze {
        let local = &actual["images"][0]["requirements"][0];
        assert_eq!(local["group"], "local");
        let lines: Vec<String> = local["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            lines, freeze,
            "{name}: the local group is the venv's pip freeze"
        );
        assert_eq!(lines, ["Conformance_Pkg==1.2.3"]);
    }
}

macro_rules! case {
    ($test:ident, $dir:literal) => {
        #[test]
        fn $test() {
            run_case($dir);
        }
    };
}

case!(nothing_to_add, "01-nothing-to-add");
case!(requirements_file, "02-requirements-file");
case!(all_three_groups, "03-all-three-groups");
case!(user_dockerfile_only, "04-user-dockerfile-only");
case!(user_dockerfile_and_more, "05-user-dockerfile-and-more");
case!(skip_build, "06-skip-build");
case!(stack, "07-stack");
case!(stack_off, "08-stack-off");
case!(bad_type, "09-bad-type");
case!(unknown_integration, "10-unknown-integration");
case!(
    build_options_with_dockerfile,
    "21-build-options-with-dockerfile"
);
case!(build_options_per_build, "22-build-options-per-build");
case!(every_build_option, "23-every-build-option");
case!(misspelt_build_option, "24-misspelt-build-option");
case!(
    build_option_that_cannot_be_honoured,
    "25-build-option-that-cannot-be-honoured"
);
case!(
    pipeline_name_with_capitals_and_spaces,
    "40-pipeline-name-with-capitals-and-spaces"
);
case!(
    invalid_explicit_image_name,
    "41-invalid-explicit-image-name"
);
case!(local_path_requirements, "42-local-path-requirements");
case!(
    local_path_outside_the_root,
    "43-local-path-outside-the-root"
);

#[test]
fn every_case_folder_has_a_test() {
    let mut names: Vec<String> = std::fs::read_dir(cases())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // Without whitespace: rustfmt splits a long `case!(…)` over lines.
    let source: String = include_str!("conformance.rs")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for name in names {
        assert!(
            source.contains(&format!("\"{name}\")")),
            "no test for conformance case {name}"
        );
    }
}
