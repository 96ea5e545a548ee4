//! The `dockwright` binary's plugin commands, run as a user would.

use dockwright_tests::{dockwright, fixture};

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn version_is_printed() {
    let home = tempfile::tempdir().unwrap();
    let out = dockwright(home.path()).arg("--version").output().unwrap();
    assert_eq!(
        stdout(&out),
        format!("dockwright {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn plugin_list_shows_the_builtins_as_json() {
    let home = tempfile::tempdir().unwrap();
    let out = dockwright(home.path())
        .args(["plugin", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let requirements = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "requirements")
        .expect("built-in requirements");
    assert_eq!(requirements["source"], "built-in");
    assert_eq!(requirements["api"], "1.1.0");
    assert_eq!(requirements["group"], "requirements");
    let digest = requirements["digest"].as_str().unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );

    let table = stdout(
        &dockwright(home.path())
            .args(["plugin", "list"])
            .output()
            .unwrap(),
    );
    assert!(table.lines().next().unwrap().starts_with("NAME"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("requirements") && l.ends_with("built-in")),
        "{table}"
    );
}

#[test]
fn installed_plugins_are_listed_with_their_source() {
    let home = tempfile::tempdir().unwrap();
    let plugins = home.path().join("data/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(fixture("hostile"), plugins.join("hostile.wasm")).unwrap();
    let out = dockwright(home.path())
        .args(["plugin", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let hostile = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hostile")
        .expect("installed plugin listed");
    assert_eq!(hostile["source"], "installed");
    assert_eq!(hostile["version"], "0.1.0");
}

#[test]
fn inspect_shows_manifest_capabilities_and_interface() {
    let home = tempfile::tempdir().unwrap();
    let file = fixture("hostile");
    let out = dockwright(home.path())
        .args(["plugin", "inspect", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["name"], "hostile");
    assert_eq!(
        v["capabilities"],
        serde_json::json!(["read", "exec:true", "exec:sh", "exec:head"])
    );
    assert_eq!(v["api_range"], "^1.1");
    let exports: Vec<&str> = v["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        exports.contains(&"dockwright:plugin/source@1.1.0"),
        "{exports:?}"
    );
    let imports: Vec<&str> = v["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        imports.contains(&"dockwright:plugin/host@1.1.0"),
        "{imports:?}"
    );

    let text = stdout(
        &dockwright(home.path())
            .args(["plugin", "inspect", "requirements"])
            .output()
            .unwrap(),
    );
    assert!(text.contains("capabilities: read"), "{text}");
    assert!(text.contains("group:        requirements"), "{text}");
}

#[test]
fn inspect_of_a_bad_file_or_unknown_name_fails_clearly() {
    let home = tempfile::tempdir().unwrap();
    let out = dockwright(home.path())
        .args(["plugin", "inspect"])
        .arg(fixture("future-api"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs plugin API ^2.0; this host supports 1.1.0"),
        "{err}"
    );

    let out = dockwright(home.path())
        .args(["plugin", "inspect", "requirement"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no plugin named `requirement`"), "{err}");
}

/// `plan -f ../training/dockwright.yaml` from a sibling folder: the pipeline's paths are
/// normalised once, so the requirements plugin is granted the same folder it is handed the
/// file in (issue 14: it was granted `…/p5/../training` and refused the normalised path).
#[test]
fn plan_of_a_pipeline_named_through_dot_dot_reads_its_requirements_file() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let training = work.path().join("training");
    let p5 = work.path().join("p5");
    std::fs::create_dir_all(&training).unwrap();
    std::fs::create_dir_all(&p5).unwrap();
    std::fs::write(
        training.join("requirements.txt"),
        "-r more.txt\nnumpy>=1.26\n",
    )
    .unwrap();
    std::fs::write(training.join("more.txt"), "tabulate\n").unwrap();
    std::fs::write(
        training.join("dockwright.yaml"),
        "name: training\nsettings:\n  docker:\n    parent_image: python:3.11-slim\n    \
         requirements: requirements.txt\n    allow_including_files_in_images: false\n",
    )
    .unwrap();
    let out = dockwright(home.path())
        .current_dir(&p5)
        .args(["plan", "--json", "-f", "../training/dockwright.yaml"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let lines = &plan["images"][0]["requirements"][0]["lines"];
    assert_eq!(lines, &serde_json::json!(["tabulate", "numpy>=1.26"]));
}
