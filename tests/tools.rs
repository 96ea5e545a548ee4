//! The commands around the core (issue 13), run as a user would: `schema`, `completions`,
//! `man`, `init`, `import-zenml`, `why` and `clean`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use dockwright_tests::{BASE_IMAGE, ensure_base_image, repo_root, unique};
use serde_json::{Value, json};

/// A home for the binary's caches, with the compiled components shared between the tests
/// of this file (compiling the built-in plugins once is enough).
struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let shared = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tools-test-components");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        std::os::unix::fs::symlink(&shared, dir.path().join("cache/components")).unwrap();
        Home(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn dockwright(&self, args: &[&str]) -> Command {
        let mut command = dockwright_tests::dockwright(self.path());
        command.args(args).stdin(Stdio::null());
        command
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.dockwright(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed:\n{}",
            text(&out.stderr)
        );
        (text(&out.stdout), text(&out.stderr))
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.dockwright(args).output().unwrap();
        assert!(
            !out.status.success(),
            "{args:?} succeeded:\n{}",
            text(&out.stdout)
        );
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

fn yaml_to_json(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"))
}

fn schema(home: &Home) -> jsonschema::Validator {
    let (stdout, _) = home.ok(&["schema"]);
    let schema: Value = serde_json::from_str(&stdout).unwrap();
    jsonschema::draft202012::new(&schema).expect("a valid draft 2020-12 schema")
}

/// Every pipeline file of the examples and of the conformance cases.
fn pipeline_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![
        root.join("examples/training/dockwright.yaml"),
        root.join("examples/custom-provider/pipeline/dockwright.yaml"),
    ];
    let cases = root.join("tests/conformance/plan");
    let mut names: Vec<_> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    files.extend(names.into_iter().map(|case| case.join("dockwright.yaml")));
    files
}

#[test]
fn the_schema_accepts_every_example_and_conformance_pipeline_that_loads() {
    let home = Home::new();
    let validator = schema(&home);
    let mut checked = 0;
    for file in pipeline_files() {
        let source = std::fs::read_to_string(&file).unwrap();
        let value = yaml_to_json(&source);
        let loads = dockwright::settings::load(&file).is_ok();
        let expects_error = file.with_file_name("expect-error.json").exists();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if loads {
            assert!(
                errors.is_empty(),
                "{} loads but fails the schema: {errors:?}",
                file.display()
            );
            checked += 1;
        } else {
            assert!(expects_error, "{} does not load", file.display());
        }
    }
    assert!(checked >= 10, "only {checked} pipelines checked");

    // The conformance case whose error the schema can tell: `apt_packages: git`.
    let bad = repo_root().join("tests/conformance/plan/09-bad-type/dockwright.yaml");
    let value = yaml_to_json(&std::fs::read_to_string(bad).unwrap());
    let error = validator
        .iter_errors(&value)
        .next()
        .expect("09-bad-type is rejected");
    assert_eq!(
        error.instance_path().to_string(),
        "/settings/docker/apt_packages"
    );
}

#[test]
fn the_schema_and_the_reader_reject_the_same_mistakes() {
    let home = Home::new();
    let validator = schema(&home);
    let cases = [
        ("unknown top-level key", "name: p\nstep: []\n"),
        (
            "unknown docker key",
            "name: p\nsettings:\n  docker:\n    parent_imag: x\n",
        ),
        ("missing name", "settings: {docker: {parent_image: x}}\n"),
        (
            "installer",
            "name: p\nsettings:\n  docker:\n    python_package_installer: conda\n",
        ),
        (
            "bool",
            "name: p\nsettings:\n  docker:\n    skip_build: sometimes\n",
        ),
        ("step without command", "name: p\nsteps:\n  - name: a\n"),
        (
            "step name",
            "name: p\nsteps:\n  - {name: \"a b\", command: [x]}\n",
        ),
        (
            "requirements mapping",
            "name: p\nsettings:\n  docker:\n    requirements: {a: b}\n",
        ),
        ("stack type", "name: p\nstack: {artefact_store: s3}\n"),
        (
            "build config key",
            "name: p\nsettings:\n  docker:\n    build_config: {dockerignor: x}\n",
        ),
        (
            "image tag",
            "name: p\nsettings:\n  docker:\n    image_tag: \"-bad\"\n",
        ),
        (
            "replicate",
            "name: p\nsettings:\n  docker:\n    replicate_local_python_environment: pip freeze\n",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dockwright.yaml");
    for (what, yaml) in cases {
        let reader = dockwright::settings::parse(yaml, &file);
        assert!(reader.is_err(), "{what}: the reader accepts it");
        assert!(
            !validator.is_valid(&yaml_to_json(yaml)),
            "{what}: the schema accepts it"
        );
    }
    // And both accept what is valid, nulls included (the reader takes null as "not given").
    let valid = "name: p\nstack: {artifact_store: {flavor: s3}, orchestrator: local}\nsettings:\n  docker:\n    parent_image: python:3.11-slim\n    requirements: [numpy]\n    replicate_local_python_environment: [uv, pip, freeze]\n    python_package_installer_args: {no-cache-dir: false, extra-index-url: [a, b]}\n    build_config: {build_options: {buildargs: {A: 1}, network: host}}\n    user: null\n    environment: {PORT: 8080}\nsteps:\n  - {name: a.b-c_d, command: [python3, x.py], environment: {X: \"1\"}}\n";
    dockwright::settings::parse(valid, &file).expect("the reader accepts it");
    let errors: Vec<String> = validator
        .iter_errors(&yaml_to_json(valid))
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn the_schema_documents_zenml_fields_with_their_defaults() {
    let home = Home::new();
    let (stdout, _) = home.ok(&["schema"]);
    let schema: Value = serde_json::from_str(&stdout).unwrap();
    let docker = &schema["properties"]["settings"]["properties"]["docker"]["properties"];
    assert_eq!(docker["python_package_installer"]["default"], "uv");
    assert_eq!(docker["allow_including_files_in_images"]["default"], true);
    assert!(
        docker["skip_build"]["description"]
            .as_str()
            .unwrap()
            .contains("parent_image")
    );
    assert_eq!(docker["build_options"]["deprecated"], true);
    let out = home.path().join("schema.json");
    home.ok(&["schema", "-o", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(out).unwrap(), stdout);
}

#[test]
fn completions_and_the_man_page_come_from_the_same_definitions() {
    let home = Home::new();
    for shell in ["bash", "zsh", "fish"] {
        let (script, _) = home.ok(&["completions", shell]);
        for word in ["import-zenml", "completions", "plan", "plugin-timeout"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    assert!(home.fails(&["completions", "tcsh"]).contains("tcsh"));
    let (man, _) = home.ok(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH dockwright"),
        "{man}"
    );
    for word in ["import\\-zenml", "requirements", "SUBCOMMANDS"] {
        assert!(man.contains(word), "man page lacks {word}");
    }
}

#[test]
fn init_writes_a_pipeline_for_a_requirements_project_and_never_overwrites_it() {
    let home = Home::new();
    let project = tempfile::tempdir().unwrap();
    write(
        project.path(),
        &[
            ("requirements.txt", "numpy\n"),
            ("requirements-dev.txt", "pytest\n"),
            (".python-version", "3.11.4\n"),
            ("steps/load.py", ""),
            ("steps/train.py", ""),
            ("steps/__init__.py", ""),
        ],
    );
    let dir = project.path().to_str().unwrap();
    let (_, reasons) = home.ok(&["init", dir]);
    let file = project.path().join("dockwright.yaml");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.starts_with("# yaml-language-server: $schema=.dockwright/schema.json\n"),
        "{written}"
    );
    let schema: Value = serde_json::from_slice(
        &std::fs::read(project.path().join(".dockwright/schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(schema["title"], "dockwright.yaml");

    let pipeline = dockwright::settings::load(&file).expect("init's file loads");
    assert_eq!(
        pipeline.docker.parent_image.as_deref(),
        Some("python:3.11-slim")
    );
    assert_eq!(
        pipeline.docker.requirements,
        Some(dockwright::settings::Requirements::File(
            "requirements.txt".into()
        ))
    );
    let steps: Vec<(&str, Vec<&str>)> = pipeline
        .steps
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.command.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("load", vec!["python3", "steps/load.py"]),
            ("train", vec!["python3", "steps/train.py"])
        ]
    );
    for reason in [
        "Python 3.11 from .python-version",
        "not used: requirements-dev.txt",
        "step train: python3 steps/train.py",
    ] {
        assert!(reasons.contains(reason), "no `{reason}` in:\n{reasons}");
    }

    // Never overwritten without --force.
    std::fs::write(&file, "name: mine\n").unwrap();
    let error = home.fails(&["init", dir]);
    assert!(error.contains("--force"), "{error}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "name: mine\n");
    home.ok(&["init", dir, "--force"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
}

#[test]
fn init_uses_an_existing_dockerfile_and_a_poetry_pyproject() {
    let home = Home::new();
    let project = tempfile::tempdir().unwrap();
    write(
        project.path(),
        &[
            (
                "pyproject.toml",
                "[tool.poetry]\nname = \"Fraud Model\"\n\n[tool.poetry.dependencies]\npython = \"^3.10\"\npandas = \"^2\"\n",
            ),
            ("poetry.lock", ""),
            ("Dockerfile", "FROM scratch\n"),
            ("main.py", ""),
        ],
    );
    let dir = project.path().to_str().unwrap();
    let (text, reasons) = home.ok(&["init", dir, "--dry-run"]);
    assert!(
        !project.path().join("dockwright.yaml").exists(),
        "a dry run writes nothing"
    );
    let pipeline = dockwright::settings::parse(&text, &project.path().join("dockwright.yaml"))
        .expect("the proposal loads");
    assert_eq!(pipeline.name, "fraud-model");
    assert_eq!(pipeline.docker.dockerfile.as_deref(), Some("Dockerfile"));
    assert_eq!(pipeline.docker.parent_image, None);
    assert_eq!(
        pipeline.docker.pyproject_path.as_deref(),
        Some("pyproject.toml")
    );
    assert_eq!(
        pipeline.docker.pyproject_export_command.as_ref().unwrap()[0],
        "poetry"
    );
    assert_eq!(pipeline.steps[0].command, ["python3", "main.py"]);
    assert!(reasons.contains("poetry.lock exists"), "{reasons}");
    assert!(reasons.contains("dockerfile: Dockerfile"), "{reasons}");

    // A pyproject that does not parse is named with its line and column.
    write(
        project.path(),
        &[("pyproject.toml", "[project]\nname = \n")],
    );
    let error = home.fails(&["init", dir]);
    assert!(error.contains("pyproject.toml:2:"), "{error}");
}

const ZENML_CONFIG: &str = r#"
enable_cache: false
run_name: training-{date}
settings:
  docker:
    parent_image: python:3.11-slim
    requirements: requirements.txt
    required_integrations: [sklearn]
    apt_packages: [git]
    environment: {MODE: prod, LEVEL: "1.10"}
    python_package_installer: pip
    build_config:
      build_options: {buildargs: {A: b}, network: host}
    skip_build: false
    parent_imagee: typo:latest
  resources:
    cpu_count: 2
  orchestrator.kubernetes:
    pod_settings: {node_selectors: {pool: gpu}}
steps:
  trainer:
    parameters: {alpha: 0.5}
    settings:
      docker:
        apt_packages: [libgomp1]
        runtime_environment: {SEED: "42"}
      step_operator.sagemaker:
        instance_type: ml.p3.2xlarge
  loader: {}
"#;

#[test]
fn import_zenml_keeps_every_docker_field_and_names_what_has_no_counterpart() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[("run.yaml", ZENML_CONFIG), ("requirements.txt", "numpy\n")],
    );
    let config = dir.path().join("run.yaml");
    let output = dir.path().join("dockwright.yaml");
    let (_, report) = home.ok(&[
        "import-zenml",
        config.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--name",
        "training",
    ]);
    let written = std::fs::read_to_string(&output).unwrap();
    let pipeline = dockwright::settings::load(&output).expect("the import loads");
    assert_eq!(pipeline.name, "training");
    let docker = &pipeline.docker;
    assert_eq!(docker.parent_image.as_deref(), Some("python:3.11-slim"));
    assert_eq!(docker.required_integrations, ["sklearn"]);
    assert_eq!(docker.apt_packages, ["git"]);
    assert_eq!(docker.environment["LEVEL"], "1.10", "{written}");
    assert_eq!(docker.python_package_installer.as_str(), "pip");
    let options = docker
        .build_config
        .as_ref()
        .unwrap()
        .build_options
        .as_ref()
        .unwrap();
    assert_eq!(options.build_args.as_ref().unwrap()["A"], "b");
    let trainer = pipeline.steps.iter().find(|s| s.name == "trainer").unwrap();
    assert_eq!(trainer.docker.apt_packages, ["libgomp1"]);
    assert_eq!(trainer.docker.runtime_environment["SEED"], "42");
    assert_eq!(
        trainer.docker.required_integrations,
        ["sklearn"],
        "merged over the pipeline's"
    );
    assert!(pipeline.steps.iter().any(|s| s.name == "loader"));

    for part in [
        "not converted: settings.docker.parent_imagee: not a DockerSettings field",
        "parent_image",
        "not converted: settings.resources:",
        "not converted: settings.orchestrator.kubernetes:",
        "not converted: steps.trainer.parameters:",
        "not converted: steps.trainer.settings.step_operator.sagemaker:",
        "not converted: enable_cache:",
        "not converted: run_name:",
        "to do: step trainer:",
    ] {
        assert!(report.contains(part), "no `{part}` in:\n{report}");
    }
    // Never overwritten without --force.
    let error = home.fails(&[
        "import-zenml",
        config.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    assert!(error.contains("--force"), "{error}");
}

#[test]
fn import_zenml_refuses_settings_dockwright_would_refuse_and_writes_nothing() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[("run.yaml", "settings:\n  docker:\n    apt_packages: git\n")],
    );
    let output = dir.path().join("dockwright.yaml");
    let error = home.fails(&[
        "import-zenml",
        dir.path().join("run.yaml").to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    assert!(error.contains("settings.docker.apt_packages"), "{error}");
    assert!(!output.exists());
}

#[test]
fn why_names_the_file_line_integration_and_plugin_of_a_package() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "dockwright.yaml",
                "name: why\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    requirements: requirements.txt\n    required_integrations: [sklearn]\nsteps:\n  - {name: train, command: [python3, train.py]}\n",
            ),
            (
                "requirements.txt",
                "# pinned\nnumpy>=1.26\nScikit_Learn<2\n",
            ),
        ],
    );
    let file = dir.path().join("dockwright.yaml");
    let file = file.to_str().unwrap();
    let (out, _) = home.ok(&["why", "numpy", "-f", file]);
    assert!(out.contains("`numpy>=1.26`"), "{out}");
    assert!(out.contains("requirements.txt:2"), "{out}");
    assert!(out.contains("(requirements 1.0.0)"), "{out}");
    assert!(out.contains("steps: train"), "{out}");

    let (out, _) = home.ok(&["why", "scikit-learn", "-f", file, "--json"]);
    let answer: Value = serde_json::from_str(&out).unwrap();
    let reasons = answer["requirements"].as_array().unwrap();
    let origins: Vec<&str> = reasons
        .iter()
        .map(|r| r["origin"].as_str().unwrap())
        .collect();
    assert_eq!(
        origins,
        ["requirements.txt:3", "integration sklearn"],
        "{out}"
    );
    assert_eq!(reasons[1]["plugin"], "integrations 1.0.0");
    assert_eq!(reasons[1]["group"], "integrations");
    assert_eq!(reasons[0]["image"], reasons[1]["image"]);

    let error = home.fails(&["why", "pandas", "-f", file]);
    assert!(
        error.contains("no image of pipeline why installs `pandas`"),
        "{error}"
    );
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

#[test]
fn clean_removes_a_pipelines_images_and_records_and_says_how_much() {
    ensure_base_image();
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("clean");
    write(
        dir.path(),
        &[
            (
                "dockwright.yaml",
                &format!(
                    "name: {name}\nsettings:\n  docker:\n    parent_image: {BASE_IMAGE}\n    target_repository: dockwright-tools-test\n    image_tag: {name}\n    allow_including_files_in_images: true\n    environment: {{MADE_BY: {name}}}\n"
                ),
            ),
            ("step.py", "print('hi')\n"),
        ],
    );
    // Files older than the cache's racy window, so that the build records their hashes.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for file_name in ["dockwright.yaml", "step.py"] {
        let written = std::fs::File::options()
            .write(true)
            .open(dir.path().join(file_name))
            .unwrap();
        written.set_modified(an_hour_ago).unwrap();
    }
    let file = dir.path().join("dockwright.yaml");
    let file = file.to_str().unwrap();
    home.ok(&["build", "-f", file]);
    let image = format!("dockwright-tools-test:{name}");
    assert!(docker(&["image", "inspect", &image]).status.success());
    let records = home.path().join("cache/builds/records");
    assert_eq!(std::fs::read_dir(&records).unwrap().count(), 1);

    // Everything Dockwright made, listed but kept.
    let (out, _) = home.ok(&["clean", "--dry-run", "--json"]);
    let listed: Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = listed["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    let context_cache = home.path().join("cache/context-hashes");
    assert!(context_cache.exists(), "the build digested the context");
    for kind in ["image", "record", "context cache", "compiled components"] {
        assert!(kinds.contains(&kind), "no {kind} in {out}");
    }
    assert!(
        listed["removed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["tags"] == json!([image]))
    );
    assert!(docker(&["image", "inspect", &image]).status.success());

    // This pipeline's image and record go; the caches stay.
    let (out, _) = home.ok(&["clean", "-f", file]);
    assert!(out.contains("removed image sha256:"), "{out}");
    assert!(out.contains(&image), "{out}");
    let freed = out.lines().last().unwrap();
    assert!(
        freed.starts_with("freed ") && !freed.ends_with(" 0 B"),
        "{out}"
    );
    assert!(!docker(&["image", "inspect", &image]).status.success());
    assert_eq!(std::fs::read_dir(&records).unwrap().count(), 0);
    assert!(context_cache.exists(), "caches stay");

    let (out, _) = home.ok(&["clean", "-f", file, "--dry-run"]);
    assert_eq!(out, "would free 0 B\n");
}

/// A project whose only image is built from its own Dockerfile (`RUN` lines given), under a
/// pipeline named `name` with a tag of its own.
fn dockerfile_project(name: &str, runs: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let runs: String = runs.iter().map(|r| format!("RUN {r}\n")).collect();
    write(
        dir.path(),
        &[
            (
                "dockwright.yaml",
                &format!(
                    "name: {name}\nsettings:\n  docker:\n    dockerfile: docker/Dockerfile\n    build_context_root: docker\n    target_repository: dockwright-display-test\n    image_tag: {name}\n    allow_including_files_in_images: false\n"
                ),
            ),
            ("docker/Dockerfile", &format!("FROM {BASE_IMAGE}\n{runs}")),
        ],
    );
    dir
}

/// The build logs of pipeline `name`, oldest first.
fn build_logs(home: &Home, name: &str) -> Vec<PathBuf> {
    let dir = home.path().join("data/logs").join(name);
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no logs in {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    logs.sort();
    logs
}

#[test]
fn a_failing_build_names_its_log_which_holds_every_step_output() {
    ensure_base_image();
    let home = Home::new();
    let name = unique("display-fails");
    // Printed by the shell, not written in the instruction: only the step's output holds it.
    let marker = |n: u32| format!("out-$(({n}*7))-{name}");
    let printed = |n: u32| format!("out-{}-{name}", n * 7);
    let project = dockerfile_project(
        &name,
        &[
            &format!("echo {}", marker(1)),
            &format!("echo {} && exit 1", marker(2)),
        ],
    );
    let file = project.path().join("dockwright.yaml");
    let stderr = home.fails(&["build", "-f", file.to_str().unwrap()]);

    assert!(stderr.contains("build failed at step 3/"), "{stderr}");
    assert!(
        stderr.contains(&printed(2)),
        "the tail is shown, as before: {stderr}"
    );
    let path = stderr
        .lines()
        .find_map(|l| l.strip_prefix("the full build log: "))
        .unwrap_or_else(|| panic!("no log path in: {stderr}"));
    let path = Path::new(path);
    assert_eq!(build_logs(&home, &name), [path.to_path_buf()]);
    let log = std::fs::read_to_string(path).unwrap();
    for expected in [
        // The engine adds its label steps after these: the total is not 3.
        "Step 2/".to_string(),
        format!(" : RUN echo {}", marker(1)),
        printed(1),
        "Step 3/".to_string(),
        format!(" : RUN echo {} && exit 1", marker(2)),
        printed(2),
        "# failed after".to_string(),
    ] {
        assert!(
            log.contains(&expected),
            "the log lacks {expected:?}:\n{log}"
        );
    }
    let tag = format!("dockwright-display-test:{name}");
    assert!(
        !docker(&["image", "inspect", &tag]).status.success(),
        "no tag"
    );
}

#[test]
fn build_output_goes_to_the_log_and_to_stderr_only_with_verbose() {
    ensure_base_image();
    let home = Home::new();
    for verbose in [false, true] {
        let name = unique(if verbose {
            "display-verbose"
        } else {
            "display-quiet"
        });
        let project = dockerfile_project(&name, &[&format!("echo out-$((6*7))-{name}")]);
        let file = project.path().join("dockwright.yaml");
        let mut args = vec!["build", "-f", file.to_str().unwrap()];
        if verbose {
            args.push("--verbose");
        }
        let (_, stderr) = home.ok(&args);
        let output_line = format!("out-42-{name}");
        assert!(
            stderr.contains("step 2/")
                && stderr.contains(&format!(": RUN echo out-$((6*7))-{name}")),
            "each step is still said: {stderr}"
        );
        assert!(stderr.contains("of build context sent"), "{stderr}");
        assert_eq!(
            stderr.contains(&output_line),
            verbose,
            "the RUN output on stderr (verbose: {verbose}): {stderr}"
        );
        assert!(!stderr.contains('\u{1b}'), "no escape codes into a pipe");
        let logs = build_logs(&home, &name);
        assert_eq!(logs.len(), 1);
        let log = std::fs::read_to_string(&logs[0]).unwrap();
        assert!(log.contains(&output_line), "{log}");
        assert!(log.contains("# built after"), "{log}");
        // Every step's header is followed, before the next one, by the time it took.
        let headers = log.lines().filter(|l| l.starts_with("Step ")).count();
        let times = log.lines().filter(|l| l.starts_with("# step ")).count();
        assert!(headers >= 2 && times == headers, "{log}");
        assert!(log.contains("\n# step 2 took "), "{log}");
        docker(&["rmi", &format!("dockwright-display-test:{name}")]);
    }
}

/// `dockwright ARGS` on a pseudo-terminal (util-linux `script`), with `env` added; what the
/// terminal showed (stdout and stderr together).
fn on_a_terminal(home: &Home, args: &[&str], env: &[(&str, &str)]) -> String {
    let command_line: Vec<String> = std::iter::once(dockwright_tests::dockwright_bin())
        .map(|p| p.display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .map(|a| format!("'{a}'"))
        .collect();
    let mut script = Command::new("script");
    script
        .args(["-qec", &command_line.join(" "), "/dev/null"])
        .env("DOCKWRIGHT_CACHE_DIR", home.path().join("cache"))
        .env("DOCKWRIGHT_DATA_DIR", home.path().join("data"))
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    for (key, value) in env {
        script.env(key, value);
    }
    text(&script.output().expect("util-linux `script`").stdout)
}

#[test]
fn no_color_leaves_no_escape_code_on_a_terminal_where_bars_are_drawn_otherwise() {
    ensure_base_image();
    let home = Home::new();
    let missing = home.path().join("missing.yaml");
    let missing = missing.to_str().unwrap();
    let error = on_a_terminal(&home, &["plan", "-f", missing], &[]);
    assert!(
        error.contains('\u{1b}'),
        "the terminal is coloured: {error:?}"
    );
    let error = on_a_terminal(&home, &["plan", "-f", missing], &[("NO_COLOR", "1")]);
    assert!(
        error.contains("error:") && !error.contains('\u{1b}'),
        "{error:?}"
    );
    let error = on_a_terminal(&home, &["plan", "-f", missing, "--color", "never"], &[]);
    assert!(
        error.contains("error:") && !error.contains('\u{1b}'),
        "{error:?}"
    );

    for no_color in [true, false] {
        let name = unique("display-terminal");
        let project = dockerfile_project(&name, &[&format!("echo out-$((6*7))-{name}")]);
        let file = project.path().join("dockwright.yaml");
        let env: &[(&str, &str)] = if no_color { &[("NO_COLOR", "1")] } else { &[] };
        let shown = on_a_terminal(&home, &["build", "-f", file.to_str().unwrap()], env);
        assert!(shown.contains("built"), "{shown}");
        assert!(!shown.contains(&format!("out-42-{name}")), "{shown}");
        if no_color {
            assert!(!shown.contains('\u{1b}'), "NO_COLOR: {shown:?}");
            assert!(shown.contains("step 2/"), "plain lines: {shown:?}");
        } else {
            assert!(shown.contains('\u{1b}'), "a bar: {shown:?}");
            assert!(shown.contains("context sent"), "{shown:?}");
        }
        docker(&["rmi", &format!("dockwright-display-test:{name}")]);
    }
}
