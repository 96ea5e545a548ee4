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
    assert_eq!(v["capabilities"], serde_json::json!(["read", "exec:true"]));
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

/// A pipeline project: its files written into a fresh directory.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// `dockwright plan --json` run in `dir`.
fn plan_in(home: &std::path::Path, dir: &std::path::Path) -> std::process::Output {
    dockwright(home)
        .current_dir(dir)
        .args(["plan", "--json", "-f", "dockwright.yaml"])
        .output()
        .unwrap()
}

fn build_keys(plan: &serde_json::Value) -> Vec<String> {
    plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["build_key"].as_str().unwrap().to_string())
        .collect()
}

const KEYS_PIPELINE: &str = "name: keys\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    apt_packages: [git]\nsteps:\n  - name: train\n    command: [python3, steps/train.py]\n";

#[test]
fn editing_a_step_or_adding_one_changes_no_build_key() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(&[
        ("dockwright.yaml", KEYS_PIPELINE),
        ("steps/train.py", "print('train')\n"),
    ]);
    let plan = |dir: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&stdout(&plan_in(home.path(), dir))).unwrap()
    };
    let first = plan(dir.path());
    let excluded = &first["images"][0]["build"]["excluded"];
    assert_eq!(
        excluded,
        &serde_json::json!(["dockwright.yaml", "dockwright.lock"]),
        "the pipeline file and its lock are not the image's content"
    );
    let keys = build_keys(&first);

    let edited = KEYS_PIPELINE.replace("steps/train.py]", "steps/train.py, --epochs, \"3\"]");
    std::fs::write(dir.path().join("dockwright.yaml"), &edited).unwrap();
    assert_eq!(
        build_keys(&plan(dir.path())),
        keys,
        "a step's command edited"
    );
    let added = format!(
        "{edited}  - name: evaluate\n    command: [python3, steps/eval.py]\n    after: [train]\n"
    );
    std::fs::write(dir.path().join("dockwright.yaml"), &added).unwrap();
    let with_step = plan(dir.path());
    assert_eq!(build_keys(&with_step), keys, "a step added");
    assert_eq!(
        with_step["images"][0]["steps"],
        serde_json::json!(["train", "evaluate"])
    );

    // The project's own files are still the image's content.
    std::fs::write(dir.path().join("steps/train.py"), "print('changed')\n").unwrap();
    assert_ne!(
        build_keys(&plan(dir.path())),
        keys,
        "a code change changes the key"
    );
}

#[test]
fn one_image_tag_for_steps_whose_images_differ_is_an_error_naming_both() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(&[(
        "dockwright.yaml",
        "name: tags\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    image_tag: same\n    allow_including_files_in_images: false\n    apt_packages: [git]\nsteps:\n  - name: load\n    command: [\"true\"]\n  - name: train\n    command: [\"true\"]\n    settings:\n      docker:\n        requirements: [six]\n",
    )]);
    let out = plan_in(home.path(), dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "one name for two images must fail");
    for needle in ["`load`", "`train`", "dockwright:same", "image_tag"] {
        assert!(stderr.contains(needle), "stderr lacks {needle}: {stderr}");
    }
    // Each its own tag: fine, and distinct.
    let fixed = "name: tags\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    image_tag: same\n    allow_including_files_in_images: false\n    apt_packages: [git]\nsteps:\n  - name: load\n    command: [\"true\"]\n  - name: train\n    command: [\"true\"]\n    settings:\n      docker:\n        requirements: [six]\n        image_tag: train\n";
    std::fs::write(dir.path().join("dockwright.yaml"), fixed).unwrap();
    let plan: serde_json::Value =
        serde_json::from_str(&stdout(&plan_in(home.path(), dir.path()))).unwrap();
    let names: Vec<&str> = plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dockwright:same", "dockwright:train"]);
}

#[test]
fn a_long_tag_keeps_its_intermediate_image_distinct() {
    let home = tempfile::tempdir().unwrap();
    let long = "p".repeat(140);
    let dir = project(&[
        (
            "dockwright.yaml",
            &format!(
                "name: {long}\nsettings:\n  docker:\n    dockerfile: Dockerfile\n    apt_packages: [git]\n    allow_including_files_in_images: false\n"
            ),
        ),
        ("Dockerfile", "FROM example/python:3.11\n"),
    ]);
    let plan: serde_json::Value =
        serde_json::from_str(&stdout(&plan_in(home.path(), dir.path()))).unwrap();
    let intermediate = plan["images"][0]["name"].as_str().unwrap();
    let last = plan["images"][1]["name"].as_str().unwrap();
    assert_ne!(intermediate, last);
    let tag = intermediate.split_once(':').unwrap().1;
    assert!(
        tag.ends_with("-intermediate-build") && tag.len() == 128,
        "{tag}"
    );
    assert_eq!(last.split_once(':').unwrap().1.len(), 128, "{last}");
    assert_eq!(plan["images"][1]["parent"], intermediate);
}

#[test]
fn yaml_anchors_aliases_and_merge_keys_resolve_everywhere() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(&[(
        "dockwright.yaml",
        "name: anchors\nx-common: &env {MODE: prod, VERSION: 1.10}\nx-apt: &apt [git, curl]\nsettings:\n  docker: &docker\n    parent_image: &parent example/python:3.11\n    allow_including_files_in_images: false\n    environment:\n      <<: *env\n      EXTRA: &extra \"yes\"\n    apt_packages: *apt\nsteps:\n  - name: a\n    command: [\"true\"]\n    environment: {B: *extra, P: *parent}\n  - name: b\n    command: [\"true\"]\n    settings:\n      docker:\n        <<: *docker\n        apt_packages: [git]\n",
    )]);
    let out = plan_in(home.path(), dir.path());
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let images = plan["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{plan}");
    assert_eq!(
        images[0]["apt_packages"],
        serde_json::json!(["git", "curl"])
    );
    assert_eq!(images[1]["apt_packages"], serde_json::json!(["git"]));
    let dockerfile = images[0]["dockerfile"].as_str().unwrap();
    for line in ["MODE=", "VERSION=", "EXTRA="] {
        assert!(dockerfile.contains(line), "{line}: {dockerfile}");
    }
    assert!(dockerfile.contains("1.10"), "{dockerfile}");
    assert!(
        !dockerfile.contains("*env") && !dockerfile.contains("*extra"),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("FROM example/python:3.11"),
        "{dockerfile}"
    );
}
