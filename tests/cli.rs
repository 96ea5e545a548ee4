//! The `dockwright` binary's commands, run as a user would: the plugin commands, and what
//! `plan`, `requirements`, `integrations list` and `--help` tell a new user.

use std::path::{Path, PathBuf};
use std::process::Command;

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
    assert_eq!(requirements["api"], "1.2.0");
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
    assert_eq!(v["api_range"], "^1.2");
    let exports: Vec<&str> = v["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        exports.contains(&"dockwright:plugin/source@1.2.0"),
        "{exports:?}"
    );
    let imports: Vec<&str> = v["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        imports.contains(&"dockwright:plugin/host@1.2.0"),
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
        err.contains("needs plugin API ^2.0; this host supports 1.2.0"),
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

/// Compiled built-in plugins shared by the tests below (written atomically), so only the
/// first compiles them.
fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache")
}

/// `dockwright` with its data in `home` and the shared plugin cache, run in `home`.
fn user(home: &Path) -> Command {
    let mut cmd = dockwright(home);
    cmd.env("DOCKWRIGHT_CACHE_DIR", shared_cache())
        .current_dir(home);
    cmd
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn every_option_of_every_command_says_what_it_does() {
    let home = tempfile::tempdir().unwrap();
    for (command, option, words) in [
        ("plan", "--json", "Print the plan as JSON"),
        ("plan", "--strict", "conflict as an error"),
        ("plan", "--dockerfile", "Dockerfile"),
        ("build", "--json", "JSON"),
        ("run", "--push", "Push each final image"),
        ("run", "--strict", "conflict as an error"),
        ("requirements", "--json", "image"),
    ] {
        let text = stdout(
            &user(home.path())
                .args([command, "--help"])
                .output()
                .unwrap(),
        );
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(option))
            .unwrap_or_else(|| panic!("{command} --help lacks {option}: {text}"));
        let described = line.contains(words)
            || text
                .split(line)
                .nth(1)
                .and_then(|rest| rest.lines().nth(1))
                .is_some_and(|next| next.contains(words));
        assert!(described, "{command} {option} undocumented: {text}");
    }
}

#[test]
fn integrations_list_shows_apt_packages() {
    let home = tempfile::tempdir().unwrap();
    let table = stdout(
        &user(home.path())
            .args(["integrations", "list"])
            .output()
            .unwrap(),
    );
    assert!(
        table.lines().next().unwrap().contains("APT PACKAGES"),
        "{table}"
    );
    let lightgbm = table
        .lines()
        .find(|l| l.starts_with("lightgbm "))
        .unwrap_or_else(|| panic!("no lightgbm: {table}"));
    assert!(lightgbm.contains("libgomp1"), "{lightgbm}");
}

/// A pipeline whose two steps get different images: `prep` installs a requirement,
/// `train` adds an integration.
fn two_images(dir: &Path) {
    write(
        dir,
        &[(
            "dockwright.yaml",
            "name: demo\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    \
             allow_including_files_in_images: false\n    requirements: [six]\n\
             steps:\n  - name: prep\n    command: [python3, -V]\n  \
             - name: train\n    command: [python3, -V]\n    settings:\n      docker:\n        \
             required_integrations: [lightgbm]\n",
        )],
    );
}

#[test]
fn requirements_json_names_the_image_each_group_is_installed_in() {
    let home = tempfile::tempdir().unwrap();
    two_images(home.path());
    let out = user(home.path())
        .args(["requirements", "--json"])
        .output()
        .unwrap();
    let groups: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let images: Vec<(&str, &str)> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["steps"][0].as_str().unwrap(),
                g["image"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            ("prep", "dockwright:demo"),
            ("train", "dockwright:demo-train")
        ]
    );
    let plan = stdout(&user(home.path()).args(["plan", "--json"]).output().unwrap());
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let names: Vec<&str> = plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["dockwright:demo", "dockwright:demo-train"],
        "the plan agrees"
    );
}

#[test]
fn plan_says_why_each_image_is_built() {
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        &[(
            "dockwright.yaml",
            "name: why\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    \
             apt_packages: [git]\n    requirements: [six]\n",
        )],
    );
    let text = stdout(&user(home.path()).arg("plan").output().unwrap());
    for reason in [
        "because:      requirements are installed: 1 line(s) in group `requirements`",
        "apt packages are installed: `apt_packages` is [git]",
        "files are copied: `allow_including_files_in_images` is true",
    ] {
        assert!(text.contains(reason), "lacks `{reason}`: {text}");
    }
    let plan = stdout(&user(home.path()).args(["plan", "--json"]).output().unwrap());
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["images"][0]["why_built"].as_array().unwrap().len(), 3);
}

#[test]
fn plan_dockerfile_prints_the_generated_dockerfiles() {
    let home = tempfile::tempdir().unwrap();
    two_images(home.path());
    let text = stdout(
        &user(home.path())
            .args(["plan", "--dockerfile"])
            .output()
            .unwrap(),
    );
    let headers: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("# dockwright:"))
        .collect();
    assert_eq!(
        headers,
        [
            "# dockwright:demo (generated)",
            "# dockwright:demo-train (generated)"
        ],
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| *l == "FROM example/python:3.11")
            .count(),
        2,
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("# a parent that runs as root gets it without"))
            .count(),
        2,
        "{text}"
    );
}

/// Runs `dockwright plan` in `dir`, which must fail; its standard error.
fn plan_error(dir: &Path) -> String {
    let out = user(dir).arg("plan").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "plan succeeded");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn plan_without_a_pipeline_file_says_so_in_one_line() {
    let home = tempfile::tempdir().unwrap();
    let err = plan_error(home.path());
    assert_eq!(
        err,
        "error: cannot read dockwright.yaml: No such file or directory (os error 2)\n"
    );
}

#[test]
fn a_dockerfile_that_never_ends_fails_fast() {
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        &[(
            "dockwright.yaml",
            "name: z\nsettings:\n  docker:\n    dockerfile: /dev/zero\n    \
             allow_including_files_in_images: false\n",
        )],
    );
    // Refused before a byte is read: the read of a never-ending file never starts.
    let err = plan_error(home.path());
    assert!(
        err.contains("`settings.docker.dockerfile`: cannot read /dev/zero: not a regular file"),
        "{err}"
    );
}

#[test]
fn every_unknown_integration_is_named_with_suggestions_at_its_line() {
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        &[(
            "dockwright.yaml",
            "name: typo\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    \
             required_integrations: [sklearn, pytorhc, tensorflw]\n",
        )],
    );
    let err = plan_error(home.path());
    let file = home.path().join("dockwright.yaml");
    assert!(
        err.starts_with(&format!(
            "error: {}:5:38: `settings.docker.required_integrations[1]`: unknown integrations: \
             `pytorhc` (did you mean `pytorch`?), `tensorflw` (did you mean `tensorflow`?)",
            file.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("help: `dockwright integrations list`"),
        "{err}"
    );
}

#[test]
fn an_unknown_stack_flavor_names_the_stack_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        &[
            (
                "dockwright.yaml",
                "name: s\nstack: stacks/dev.yaml\nsettings:\n  docker:\n    \
                 parent_image: example/python:3.11\n",
            ),
            (
                "stacks/dev.yaml",
                "orchestrator: local\nartifact_store:\n  flavor: s4\n",
            ),
        ],
    );
    let err = plan_error(home.path());
    let stack = home.path().join("stacks/dev.yaml");
    assert!(
        err.starts_with(&format!(
            "error: {}:3:11: `artifact_store.flavor`: unknown artifact_store flavor `s4`",
            stack.display()
        )),
        "{err}"
    );
    // Not installed, not checked.
    write(
        home.path(),
        &[(
            "dockwright.yaml",
            "name: s\nstack: stacks/dev.yaml\nsettings:\n  docker:\n    \
             parent_image: example/python:3.11\n    install_stack_requirements: false\n",
        )],
    );
    let out = user(home.path()).arg("plan").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `plan --json` in `dir`: the plan and the standard error.
fn plan_json(dir: &Path) -> (serde_json::Value, String) {
    let out = user(dir).args(["plan", "--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let plan = serde_json::from_str(&stdout(&out)).unwrap();
    (plan, stderr)
}

#[test]
fn apt_packages_in_the_plan_are_what_the_dockerfile_installs_and_clashes_are_reported() {
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        &[(
            "dockwright.yaml",
            "name: apt\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    \
             allow_including_files_in_images: false\n    \
             apt_packages: [git, libgomp1, git, curl=7.88.1-10, curl]\n    \
             required_integrations: [lightgbm]\n",
        )],
    );
    let (plan, stderr) = plan_json(home.path());
    let image = &plan["images"][0];
    let apt: Vec<&str> = image["apt_packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(apt, ["git", "libgomp1", "curl=7.88.1-10", "curl"]);
    let dockerfile = image["dockerfile"].as_str().unwrap();
    assert!(
        dockerfile.contains("--no-install-recommends git libgomp1 curl=7.88.1-10 curl &&"),
        "{dockerfile}"
    );
    let file = home.path().join("dockwright.yaml");
    let warning = format!(
        "warning: {}:6:19: `settings.docker.apt_packages`: apt packages `curl=7.88.1-10` and `curl` both name `curl`",
        file.display()
    );
    assert_eq!(stderr.matches(&warning).count(), 1, "{stderr}");
}

#[test]
fn dropped_settings_are_warned_once_at_their_line_and_runtime_environment_only_where_dropped() {
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        &[
            ("Dockerfile", "FROM example/python:3.11\n"),
            (
                "dockwright.yaml",
                "name: d\nsettings:\n  docker:\n    dockerfile: Dockerfile\n    \
                 allow_including_files_in_images: false\n    user: app\n    \
                 runtime_environment: {MODE: prod}\n    \
                 python_package_installer_args: {no-cache-dir: true}\n    \
                 build_config: {build_options: {pull: false}}\n\
                 steps:\n  - name: a\n    command: [x]\n  - name: b\n    command: [y]\n",
            ),
        ],
    );
    let (_, stderr) = plan_json(home.path());
    let file = home.path().join("dockwright.yaml");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    let at = |line: u32, column: u32, field: &str| {
        format!(
            "warning: {}:{line}:{column}: `settings.docker.{field}`: ",
            file.display()
        )
    };
    let expected = [
        at(6, 11, "user"),
        at(7, 26, "runtime_environment"),
        at(8, 36, "python_package_installer_args"),
        at(9, 19, "build_config"),
    ];
    assert_eq!(warnings.len(), expected.len(), "{stderr}");
    for start in &expected {
        let found = warnings.iter().filter(|w| w.starts_with(start.as_str()));
        assert_eq!(found.count(), 1, "{start} in {stderr}");
    }

    // The parent as is: `runtime_environment` applies at run time, no warning.
    write(
        home.path(),
        &[(
            "dockwright.yaml",
            "name: d\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    \
             allow_including_files_in_images: false\n    runtime_environment: {MODE: prod}\n",
        )],
    );
    let (plan, stderr) = plan_json(home.path());
    assert_eq!(plan["images"][0]["kind"], "parent");
    assert!(!stderr.contains("warning"), "{stderr}");
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

#[test]
fn environment_and_runtime_environment_keep_the_order_written() {
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        &[(
            "dockwright.yaml",
            "name: env\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    \
             allow_including_files_in_images: false\n    \
             environment: {ZED: \"1\", ALPHA: \"2\", MID: \"3\"}\n    \
             runtime_environment:\n      Z_RUN: a\n      A_RUN: b\n",
        )],
    );
    let text = stdout(
        &user(home.path())
            .args(["plan", "--dockerfile"])
            .output()
            .unwrap(),
    );
    // One ENV instruction per place, a pair per continuation line.
    let env: Vec<&str> = text
        .lines()
        .map(|l| l.trim_start_matches("ENV ").trim().trim_end_matches(" \\"))
        .filter(|l| l.contains("=\""))
        .collect();
    assert_eq!(
        env,
        [
            "ZED=\"1\"",
            "ALPHA=\"2\"",
            "MID=\"3\"",
            "Z_RUN=\"a\"",
            "A_RUN=\"b\""
        ],
        "{text}"
    );
}

#[test]
fn a_local_environment_that_cannot_be_found_is_reported_at_its_setting() {
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        &[(
            "dockwright.yaml",
            "name: local\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    \
             replicate_local_python_environment: pip_freeze\n",
        )],
    );
    let missing = home.path().join("no-venv");
    let out = user(home.path())
        .arg("plan")
        .env("VIRTUAL_ENV", &missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "error: {}:5:41: `settings.docker.replicate_local_python_environment`: VIRTUAL_ENV is {}",
            home.path().join("dockwright.yaml").display(),
            missing.display()
        )),
        "{err}"
    );
}
