//! Tests of the pipeline file: every field's type, default and validation, positions and
//! field paths in errors, suggestions, the step merge, stacks, plugins, grants and steps.

use std::path::{Path, PathBuf};

use super::*;

fn load_str(yaml: &str) -> std::result::Result<Pipeline, SettingsError> {
    parse(yaml, Path::new("dockwright.yaml"))
}

fn ok(yaml: &str) -> Pipeline {
    match load_str(yaml) {
        Ok(pipeline) => pipeline,
        Err(err) => panic!("expected the file to load, got:\n{err}"),
    }
}

fn err(yaml: &str) -> Diagnostic {
    match load_str(yaml) {
        Ok(pipeline) => panic!("expected an error, got {pipeline:#?}"),
        Err(err) => err
            .diagnostic()
            .expect("an error about the content")
            .clone(),
    }
}

/// A pipeline whose `settings.docker` is the given block (indented by the caller).
fn docker(block: &str) -> String {
    format!("name: p\nsettings:\n  docker:\n{block}")
}

fn warnings_about(pipeline: &Pipeline, field: &str) -> Vec<String> {
    pipeline
        .warnings
        .iter()
        .filter(|w| w.field == field)
        .map(|w| w.message.clone())
        .collect()
}

// ---- document level -------------------------------------------------------------------

#[test]
fn a_name_alone_gives_zenml_defaults_and_no_steps() {
    let p = ok("name: training\n");
    assert_eq!(p.name, "training");
    assert_eq!(p.docker, DockerSettings::default());
    assert_eq!(
        p.docker.python_package_installer,
        PythonPackageInstaller::Uv
    );
    assert!(p.docker.install_stack_requirements);
    assert!(p.docker.allow_including_files_in_images);
    assert!(!p.docker.skip_build);
    assert!(p.steps.is_empty() && p.plugins.is_empty() && p.grants.is_empty());
    assert!(p.stack.is_none());
    assert!(p.warnings.is_empty());
    assert!(p.file.is_absolute());
    assert_eq!(p.base_dir, p.file.parent().unwrap());
}

#[test]
fn a_missing_name_is_an_error() {
    let d = err("settings: {}\n");
    assert_eq!(d.field, "name");
    assert!(d.message.contains("name"));
}

#[test]
fn an_empty_file_is_missing_its_name() {
    assert_eq!(err("").field, "name");
}

#[test]
fn unknown_top_level_keys_suggest_the_nearest() {
    let d = err("name: p\nstep:\n  - name: a\n    command: [x]\n");
    assert_eq!((d.line, d.column), (2, 1));
    assert_eq!(d.field, "step");
    assert_eq!(d.help.as_deref(), Some("did you mean `steps`?"));
}

#[test]
fn invalid_yaml_points_at_the_problem() {
    let d = err("name: p\nsettings: [1, 2\nsteps: x\n");
    assert_eq!(d.line, 3);
    assert!(d.message.starts_with("invalid YAML"), "{}", d.message);
}

#[test]
fn duplicate_keys_are_rejected() {
    let d = err("name: p\nname: q\n");
    assert_eq!(d.line, 2);
    assert!(d.message.contains("duplicate"), "{}", d.message);
}

#[test]
fn conformance_09_bad_type_names_the_field_and_line() {
    let yaml = "name: typo\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    apt_packages: git\n";
    let error = load_str(yaml).unwrap_err();
    let d = error.diagnostic().unwrap();
    assert_eq!((d.line, d.column), (5, 19));
    assert_eq!(d.field, "settings.docker.apt_packages");
    assert_eq!(
        d.message,
        "expected a list of strings, found the string `git`"
    );
    assert_eq!(d.help.as_deref(), Some("write it as a list: [git]"));
    let shown = error.to_string();
    assert!(
        shown.starts_with("dockwright.yaml:5:19: `settings.docker.apt_packages`"),
        "{shown}"
    );
    assert!(shown.contains("5 |     apt_packages: git"), "{shown}");
}

#[test]
fn unknown_docker_keys_name_the_path_and_suggest() {
    let d = err(&docker(
        "    parent_image: python:3.11\n    apt_pakages: [git]\n",
    ));
    assert_eq!((d.line, d.column), (5, 5));
    assert_eq!(d.field, "settings.docker.apt_pakages");
    assert_eq!(d.message, "unknown key `apt_pakages`");
    assert_eq!(d.help.as_deref(), Some("did you mean `apt_packages`?"));
}

#[test]
fn unknown_settings_sections_are_errors() {
    let d = err("name: p\nsettings:\n  dokcer: {}\n");
    assert_eq!(d.field, "settings.dokcer");
    assert_eq!(d.help.as_deref(), Some("did you mean `docker`?"));
}

#[test]
fn a_key_far_from_every_known_one_lists_them() {
    let d = err(&docker("    zzzzzzzz: 1\n"));
    assert!(
        d.help
            .unwrap()
            .starts_with("valid keys: parent_image, dockerfile")
    );
}

// ---- every DockerSettings field ----------------------------------------------------------

const ALL_FIELDS: &str = r#"name: full
settings:
  docker:
    parent_image: python:3.11-slim
    dockerfile: docker/Dockerfile
    build_context_root: docker
    parent_image_build_config:
      dockerignore: docker/.dockerignore
      build_options: {pull: true}
    build_config:
      dockerignore: .dockerignore
      build_options:
        buildargs: {HTTP_PROXY: "http://proxy:3128", MODE: prod}
        labels: {team: ml}
        no_cache: false
        shm_size: 1024
        cache_from: [cache:latest]
        platform: linux/amd64
        squash: true
    prevent_build_reuse: true
    target_repository: team/ml-images
    image_tag: "1.10"
    python_package_installer: pip
    python_package_installer_cache_mount: type=cache,target=/root/.cache/pip
    python_package_installer_args: {no-deps: null, index-url: "http://index/simple", pre: true, no-cache-dir: false, extra-index-url: [a, b]}
    replicate_local_python_environment: uv_freeze
    pyproject_path: pyproject.toml
    pyproject_export_command: [uv, export, "--directory={directory}"]
    requirements: requirements.txt
    required_integrations: [sklearn, mlflow]
    install_stack_requirements: false
    local_project_install_command: pip install --no-deps -e .
    apt_packages: [git, libgomp1]
    environment: {PIP_EXTRA_INDEX_URL: "https://x/simple", FLAG: true, RATE: 1.50}
    runtime_environment: {http_proxy: "http://p"}
    user: app:app
    allow_including_files_in_images: true
"#;

#[test]
fn every_field_is_read_with_its_type() {
    let p = ok(ALL_FIELDS);
    let d = &p.docker;
    assert_eq!(d.parent_image.as_deref(), Some("python:3.11-slim"));
    assert_eq!(d.dockerfile.as_deref(), Some("docker/Dockerfile"));
    assert_eq!(d.build_context_root.as_deref(), Some("docker"));
    let parent_config = d.parent_image_build_config.as_ref().unwrap();
    assert_eq!(
        parent_config.dockerignore.as_deref(),
        Some("docker/.dockerignore")
    );
    assert_eq!(
        parent_config.build_options.as_ref().unwrap().pull,
        Some(true)
    );
    let config = d.build_config.as_ref().unwrap();
    assert_eq!(config.dockerignore.as_deref(), Some(".dockerignore"));
    let options = config.build_options.as_ref().unwrap();
    let args = options.build_args.as_ref().unwrap();
    assert_eq!(args["HTTP_PROXY"], "http://proxy:3128");
    assert_eq!(args["MODE"], "prod");
    assert_eq!(options.labels.as_ref().unwrap()["team"], "ml");
    assert_eq!(options.no_cache, Some(false));
    assert_eq!(options.shm_size, Some(1024));
    assert_eq!(
        options.cache_from.as_deref(),
        Some(&["cache:latest".to_owned()][..])
    );
    assert_eq!(options.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(options.squash, Some(true));
    assert!(d.prevent_build_reuse);
    assert_eq!(d.target_repository.as_deref(), Some("team/ml-images"));
    assert_eq!(d.image_tag.as_deref(), Some("1.10"));
    assert_eq!(d.python_package_installer, PythonPackageInstaller::Pip);
    assert_eq!(
        d.python_package_installer_cache_mount.as_deref(),
        Some("type=cache,target=/root/.cache/pip")
    );
    assert_eq!(
        d.python_package_installer_args.0,
        vec![
            ("no-deps".to_owned(), InstallerArg::Flag),
            (
                "index-url".to_owned(),
                InstallerArg::Value("http://index/simple".into())
            ),
            ("pre".to_owned(), InstallerArg::Flag),
            ("no-cache-dir".to_owned(), InstallerArg::Off),
            (
                "extra-index-url".to_owned(),
                InstallerArg::Values(vec!["a".into(), "b".into()])
            ),
        ]
    );
    assert_eq!(
        d.replicate_local_python_environment,
        Some(LocalEnvironmentExport::UvFreeze)
    );
    assert_eq!(d.pyproject_path.as_deref(), Some("pyproject.toml"));
    assert_eq!(
        d.pyproject_export_command.as_deref(),
        Some(
            &[
                "uv".to_owned(),
                "export".into(),
                "--directory={directory}".into()
            ][..]
        )
    );
    assert_eq!(
        d.requirements,
        Some(Requirements::File("requirements.txt".into()))
    );
    assert_eq!(d.required_integrations, ["sklearn", "mlflow"]);
    assert!(!d.install_stack_requirements);
    assert_eq!(
        d.local_project_install_command.as_deref(),
        Some("pip install --no-deps -e .")
    );
    assert_eq!(d.apt_packages, ["git", "libgomp1"]);
    assert_eq!(d.environment["PIP_EXTRA_INDEX_URL"], "https://x/simple");
    assert_eq!(d.environment["FLAG"], "true", "scalars are read as written");
    assert_eq!(d.environment["RATE"], "1.50");
    assert_eq!(
        d.runtime_environment["http_proxy"], "http://p",
        "keys keep their case"
    );
    assert_eq!(d.user.as_deref(), Some("app:app"));
    assert!(d.allow_including_files_in_images);
    // dockerfile + parent_image: the parent image is ignored, as in ZenML.
    assert_eq!(
        warnings_about(&p, "settings.docker.parent_image"),
        ["both a `dockerfile` and a `parent_image` are given; the parent image is ignored"]
    );
}

#[test]
fn settings_serialize_to_json_with_zenml_field_names() {
    let p = ok(ALL_FIELDS);
    let json = p.docker.to_json();
    assert_eq!(json["parent_image"], "python:3.11-slim");
    assert_eq!(json["python_package_installer"], "pip");
    assert_eq!(json["replicate_local_python_environment"], "uv_freeze");
    assert_eq!(json["requirements"], "requirements.txt");
    assert_eq!(
        json["required_integrations"],
        serde_json::json!(["sklearn", "mlflow"])
    );
    assert_eq!(json["install_stack_requirements"], false);
    assert_eq!(
        json["pyproject_export_command"][2],
        "--directory={directory}"
    );
    assert_eq!(
        json["python_package_installer_args"],
        serde_json::json!({"no-deps": null, "index-url": "http://index/simple", "pre": null,
                           "no-cache-dir": false, "extra-index-url": ["a", "b"]})
    );
    assert_eq!(
        json["build_config"]["build_options"]["build_args"]["MODE"],
        "prod"
    );
    assert_eq!(
        json["build_config"]["build_options"]["platform"],
        "linux/amd64"
    );
    assert_eq!(json["dockerfile"], "docker/Dockerfile");
    assert_eq!(json["user"], "app:app");
    // Every field is present, null when unset.
    let defaults = DockerSettings::default().to_json();
    let object = defaults.as_object().unwrap();
    assert_eq!(object.len(), 26);
    assert!(object["parent_image"].is_null());
    assert_eq!(object["python_package_installer"], "uv");
    assert_eq!(object["allow_including_files_in_images"], true);
    let lines = ok(&docker(
        "    requirements: [numpy, \"pandas>=2\"]\n    replicate_local_python_environment: [pip, freeze]\n",
    ));
    assert_eq!(
        lines.docker.to_json()["requirements"],
        serde_json::json!(["numpy", "pandas>=2"])
    );
    assert_eq!(
        lines.docker.to_json()["replicate_local_python_environment"],
        serde_json::json!(["pip", "freeze"])
    );
}

#[test]
fn booleans_must_be_booleans() {
    let d = err(&docker("    skip_build: \"often\"\n"));
    assert_eq!(d.field, "settings.docker.skip_build");
    assert_eq!(
        d.message,
        "expected true or false, found the string `often`"
    );
    assert_eq!((d.line, d.column), (4, 17));
}

#[test]
fn strings_reject_lists_and_mappings() {
    let d = err(&docker("    parent_image: [python]\n"));
    assert_eq!(d.message, "expected a string, found a list");
    let d = err(&docker("    user: {name: x}\n"));
    assert_eq!(d.message, "expected a string, found a mapping");
}

#[test]
fn null_reads_as_unset() {
    let p = ok(&docker(
        "    parent_image:\n    apt_packages: ~\n    user: null\n",
    ));
    assert_eq!(p.docker, DockerSettings::default());
}

#[test]
fn skip_build_requires_a_parent_image() {
    let d = err(&docker("    skip_build: true\n"));
    assert_eq!(d.field, "settings.docker.skip_build");
    assert_eq!((d.line, d.column), (4, 17));
    assert!(d.message.contains("`parent_image`"), "{}", d.message);
    let p = ok(&docker(
        "    skip_build: true\n    parent_image: registry.example.com/team/trainer:7\n",
    ));
    assert!(p.docker.skip_build);
    assert!(
        ok(&docker("    skip_build: false\n"))
            .docker
            .parent_image
            .is_none()
    );
}

#[test]
fn a_local_project_install_needs_files_in_the_image() {
    let d = err(&docker(
        "    local_project_install_command: pip install -e .\n    allow_including_files_in_images: false\n",
    ));
    assert_eq!(d.field, "settings.docker.local_project_install_command");
    assert!(
        d.message.starts_with("files must be included"),
        "{}",
        d.message
    );
    let d = err(&docker(
        "    local_project_install_command: |\n      pip install -e .\n      echo done\n",
    ));
    assert_eq!(
        d.message,
        "must be a single line (it becomes one `RUN` instruction)"
    );
    // A block scalar's final newline is not a second line.
    let p = ok(&docker(
        "    local_project_install_command: |\n      pip install -e .\n",
    ));
    assert_eq!(
        p.docker.local_project_install_command.as_deref(),
        Some("pip install -e .")
    );
}

#[test]
fn source_files_migrates_to_allow_including_files() {
    for (mode, include) in [
        ("include", true),
        ("download_or_include", true),
        ("download", false),
        ("ignore", false),
    ] {
        let p = ok(&docker(&format!("    source_files: {mode}\n")));
        assert_eq!(p.docker.allow_including_files_in_images, include, "{mode}");
        assert_eq!(p.warnings.len(), 1, "{mode}: {:?}", p.warnings);
        assert!(p.warnings[0].message.contains("deprecated"));
        assert_eq!(p.warnings[0].field, "settings.docker.source_files");
    }
}

#[test]
fn source_files_is_ignored_when_an_allow_key_is_given() {
    let p = ok(&docker(
        "    source_files: ignore\n    allow_download_from_artifact_store: false\n",
    ));
    assert!(
        p.docker.allow_including_files_in_images,
        "source_files ignored"
    );
    let messages = warnings_about(&p, "settings.docker.source_files");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("ignoring `source_files`")),
        "{messages:?}"
    );
}

#[test]
fn an_unknown_source_files_mode_is_an_error() {
    let d = err(&docker("    source_files: upload\n"));
    assert_eq!(d.message, "invalid source file mode `upload`");
    assert_eq!(d.line, 4);
}

#[test]
fn requirements_are_a_path_or_a_list() {
    let p = ok(&docker("    requirements: reqs/requirements.txt\n"));
    assert_eq!(
        p.docker.requirements,
        Some(Requirements::File("reqs/requirements.txt".into()))
    );
    let p = ok(&docker("    requirements: [\"torch==2.3.1\", tqdm]\n"));
    assert_eq!(
        p.docker.requirements,
        Some(Requirements::Lines(vec![
            "torch==2.3.1".into(),
            "tqdm".into()
        ]))
    );
    assert_eq!(
        ok(&docker("    requirements: []\n")).docker.requirements,
        None
    );
    assert_eq!(
        err(&docker("    requirements: \"\"\n")).message,
        "must not be empty"
    );
    assert!(
        err(&docker("    requirements: {numpy: 1}\n"))
            .message
            .ends_with("found a mapping")
    );
    let d = err(&docker("    requirements: [numpy, [x]]\n"));
    assert_eq!(d.field, "settings.docker.requirements[1]");
}

#[test]
fn replicate_local_python_environment_accepts_zenml_forms() {
    let read = |value: &str| {
        ok(&docker(&format!(
            "    replicate_local_python_environment: {value}\n"
        )))
        .docker
        .replicate_local_python_environment
    };
    assert_eq!(read("pip_freeze"), Some(LocalEnvironmentExport::PipFreeze));
    assert_eq!(read("uv_freeze"), Some(LocalEnvironmentExport::UvFreeze));
    assert_eq!(
        read("poetry_export"),
        Some(LocalEnvironmentExport::PoetryExport)
    );
    assert_eq!(read("true"), Some(LocalEnvironmentExport::PipFreeze));
    assert_eq!(read("false"), None);
    assert_eq!(
        read("[python, -m, pip, freeze]"),
        Some(LocalEnvironmentExport::Command(vec![
            "python".into(),
            "-m".into(),
            "pip".into(),
            "freeze".into()
        ]))
    );
    assert_eq!(
        LocalEnvironmentExport::UvFreeze.command(),
        ["uv", "pip", "freeze"]
    );
    assert_eq!(
        LocalEnvironmentExport::PoetryExport.command(),
        ["poetry", "export", "--format=requirements.txt"]
    );
}

#[test]
fn replicate_local_python_environment_rejects_free_strings() {
    let d = err(&docker(
        "    replicate_local_python_environment: pip freeze\n",
    ));
    assert_eq!(
        d.field,
        "settings.docker.replicate_local_python_environment"
    );
    assert!(d.message.contains("found `pip freeze`"), "{}", d.message);
    assert_eq!(d.help.as_deref(), Some("did you mean `pip_freeze`?"));
    let d = err(&docker(
        "    replicate_local_python_environment: conda list --export\n",
    ));
    assert_eq!(
        d.help.as_deref(),
        Some(r#"a command is written as a list, e.g. ["conda", "list", "--export"]"#)
    );
    let d = err(&docker("    replicate_local_python_environment: []\n"));
    assert_eq!(d.message, "the command list must not be empty");
    let d = err(&docker("    replicate_local_python_environment: 3\n"));
    assert!(d.message.ends_with("found an integer"), "{}", d.message);
}

#[test]
fn the_installer_is_pip_or_uv() {
    assert_eq!(
        ok(&docker("    python_package_installer: uv\n"))
            .docker
            .python_package_installer,
        PythonPackageInstaller::Uv
    );
    let d = err(&docker("    python_package_installer: conda\n"));
    assert_eq!(d.message, "expected `pip` or `uv`, found `conda`");
}

#[test]
fn installer_args_are_named_without_dashes_and_hold_scalars() {
    let d = err(&docker(
        "    python_package_installer_args: {--no-deps: null}\n",
    ));
    assert_eq!(
        d.field,
        "settings.docker.python_package_installer_args.--no-deps"
    );
    assert_eq!(
        d.message,
        "write the option without leading dashes: `no-deps`"
    );
    let d = err(&docker(
        "    python_package_installer_args: {index-url: {a: b}}\n",
    ));
    assert_eq!(d.message, "expected a string, found a mapping");
    let d = err(&docker("    python_package_installer_args: [no-deps]\n"));
    assert_eq!(d.message, "expected a mapping, found a list");
    let p = ok(&docker(
        "    python_package_installer_args: {default-timeout: 99}\n",
    ));
    assert_eq!(
        p.docker
            .python_package_installer_args
            .get("default-timeout"),
        Some(&InstallerArg::Value("99".into()))
    );
}

#[test]
fn the_cache_mount_is_one_word() {
    let d = err(&docker(
        "    python_package_installer_cache_mount: type=cache target=/x\n",
    ));
    assert_eq!(d.message, "must not contain whitespace");
}

#[test]
fn environment_keys_are_validated_and_values_are_scalars() {
    let d = err(&docker("    environment: {\"MY-VAR\": x}\n"));
    assert_eq!(d.field, "settings.docker.environment.MY-VAR");
    assert!(
        d.message.contains("not a valid environment variable name"),
        "{}",
        d.message
    );
    let d = err(&docker("    environment: {1ABC: x}\n"));
    assert!(d.message.contains("not a valid environment variable name"));
    let d = err(&docker("    runtime_environment: {A: [1]}\n"));
    assert_eq!(d.field, "settings.docker.runtime_environment.A");
    assert_eq!(
        d.message,
        "expected a string, number or boolean, found a list"
    );
    let d = err(&docker("    environment:\n      A:\n"));
    assert_eq!(d.message, "has no value");
    let p = ok(&docker(
        "    environment:\n      QUOTED: \"say \\\"hi\\\" $HOME\"\n      MULTI: |\n        one\n        two\n      EMPTY: \"\"\n",
    ));
    assert_eq!(p.docker.environment["QUOTED"], "say \"hi\" $HOME");
    assert_eq!(p.docker.environment["MULTI"], "one\ntwo\n");
    assert_eq!(p.docker.environment["EMPTY"], "");
}

#[test]
fn users_and_apt_packages_are_checked_before_they_reach_a_run_line() {
    let d = err(&docker("    user: \"root; rm -rf /\"\n"));
    assert_eq!(d.field, "settings.docker.user");
    let d = err(&docker("    apt_packages: [git, \"curl && echo\"]\n"));
    assert_eq!(d.field, "settings.docker.apt_packages[1]");
    assert_eq!((d.line, d.column), (4, 25));
    let p = ok(&docker(
        "    apt_packages: [\"libc6:amd64\", \"python3=3.11.2-1\", \"git/bookworm-backports\"]\n",
    ));
    assert_eq!(p.docker.apt_packages.len(), 3);
}

#[test]
fn image_names_and_tags_are_checked() {
    assert!(
        err(&docker("    parent_image: \"python 3\"\n"))
            .message
            .contains("whitespace")
    );
    let d = err(&docker("    target_repository: Team/Images\n"));
    assert_eq!(d.message, "`Team/Images` is not a valid repository name");
    let d = err(&docker("    image_tag: \"-bad\"\n"));
    assert_eq!(d.message, "`-bad` is not a valid Docker tag");
    assert_eq!(
        ok(&docker("    image_tag: 7\n"))
            .docker
            .image_tag
            .as_deref(),
        Some("7")
    );
}

#[test]
fn build_options_rename_docker_py_spellings_and_refuse_both() {
    let p = ok(&docker(
        "    build_config:\n      build_options: {nocache: true, shmsize: 64, cachefrom: [a]}\n",
    ));
    let options = p.docker.build_config.unwrap().build_options.unwrap();
    assert_eq!(options.no_cache, Some(true));
    assert_eq!(options.shm_size, Some(64));
    assert_eq!(options.cache_from, Some(vec!["a".to_owned()]));
    let d = err(&docker(
        "    build_config:\n      build_options: {buildargs: {A: b}, build_args: {A: c}}\n",
    ));
    assert_eq!(
        d.field,
        "settings.docker.build_config.build_options.buildargs"
    );
    assert_eq!(
        d.message,
        "both `buildargs` and `build_args` are given; keep `build_args`"
    );
}

#[test]
fn every_docker_build_option_is_read_in_docker_py_and_zenml_spellings() {
    let py = ok(&docker(concat!(
        "    build_config:\n      build_options:\n",
        "        buildargs: {MODE: prod}\n        cachefrom: [c]\n        nocache: true\n",
        "        network_mode: host\n        shmsize: 64m\n        labels: {team: ml}\n",
        "        pull: true\n        rm: false\n        forcerm: false\n        target: runtime\n",
        "        platform: linux/amd64\n        extra_hosts: {db: 10.0.0.2}\n",
        "        container_limits: {memory: 536870912, memswap: -1, cpushares: 512, cpusetcpus: 0-1}\n",
        "        cpuperiod: 100000\n        cpuquota: 50000\n        squash: true\n        isolation: default\n",
    )));
    let zenml = ok(&docker(concat!(
        "    build_config:\n      build_options:\n",
        "        build_args: {MODE: prod}\n        cache_from: [c]\n        no_cache: true\n",
        "        network: host\n        shm_size: 67108864\n        labels: {team: ml}\n",
        "        pull: true\n        rm: false\n        force_rm: false\n        target: runtime\n",
        "        platform: linux/amd64\n        add_host: [\"db:10.0.0.2\"]\n",
        "        memory: 512m\n        memory_swap: -1\n        cpu_shares: 512\n        cpuset_cpus: 0-1\n",
        "        cpu_period: 100000\n        cpu_quota: 50000\n        squash: true\n",
    )));
    let options = py
        .docker
        .build_config
        .clone()
        .unwrap()
        .build_options
        .unwrap();
    assert_eq!(
        Some(&options),
        zenml.docker.build_config.unwrap().build_options.as_ref(),
        "both spellings mean the same options"
    );
    assert_eq!(options.shm_size, Some(64 << 20));
    assert_eq!(options.extra_hosts, Some(vec!["db:10.0.0.2".to_owned()]));
    let limits = options.container_limits.unwrap();
    assert_eq!(limits.memory, Some(512 << 20));
    assert_eq!(limits.memswap, Some(-1));
    assert_eq!(limits.cpusetcpus.as_deref(), Some("0-1"));
    assert_eq!(
        (limits.cpuperiod, limits.cpuquota),
        (Some(100_000), Some(50_000))
    );
}

#[test]
fn build_options_check_types_and_refuse_typos_and_what_cannot_be_honoured() {
    let d = err(&docker(
        "    build_config:\n      build_options: {pull: maybe}\n",
    ));
    assert_eq!(d.field, "settings.docker.build_config.build_options.pull");
    let d = err(&docker(
        "    build_config:\n      build_options: {shm_size: -1}\n",
    ));
    assert!(
        d.message.starts_with("expected a size in bytes"),
        "{}",
        d.message
    );
    let d = err(&docker(
        "    build_config:\n      build_options: {build_args: {\"A B\": x}}\n",
    ));
    assert!(
        d.message.contains("not a valid build argument name"),
        "{}",
        d.message
    );
    let d = err(&docker("    build_config:\n      dockerignor: x\n"));
    assert_eq!(d.help.as_deref(), Some("did you mean `dockerignore`?"));
    let d = err(&docker(
        "    build_config:\n      build_options: {network: host, plaform: linux/amd64}\n",
    ));
    assert_eq!(
        d.field,
        "settings.docker.build_config.build_options.plaform"
    );
    assert_eq!(d.message, "unknown build option `plaform`");
    assert_eq!(d.help.as_deref(), Some("did you mean `platform`?"));
    assert_eq!((d.line, d.column), (5, 38), "at the key");
    let d = err(&docker(
        "    build_config:\n      build_options: {no_cahce: true}\n",
    ));
    assert_eq!(d.help.as_deref(), Some("did you mean `no_cache`?"));
    for (option, why) in [
        ("ulimits: {nofile: 1024}", "no ulimits"),
        ("isolation: hyperv", "no isolation field"),
        ("tag: x", "Dockwright names the image"),
        ("memory: 4g", "32-bit number"),
        ("extra_hosts: {a: 10.0.0.1, b: 10.0.0.2}", "carries one"),
        ("container_limits: {memroy: 1}", "unknown container limit"),
    ] {
        let d = err(&docker(&format!(
            "    build_config:\n      build_options: {{{option}}}\n"
        )));
        assert!(d.message.contains(why), "{option}: {}", d.message);
        assert_eq!(d.line, 5, "{option}");
    }
    let d = err(&docker(
        "    build_config:\n      build_options: {memory: 1m, container_limits: {memory: 2m}}\n",
    ));
    assert!(d.message.contains("keep one"), "{}", d.message);
}

#[test]
fn deprecated_build_options_and_dockerignore_warn_and_fill_in() {
    let p = ok(&docker(
        "    build_options: {buildargs: {A: b}}\n    dockerignore: .myignore\n",
    ));
    let warned = warnings_about(&p, "settings.docker.build_options");
    assert_eq!(warned.len(), 1);
    assert!(
        warned[0].ends_with("use `build_config.build_options`"),
        "{}",
        warned[0]
    );
    assert_eq!(warnings_about(&p, "settings.docker.dockerignore").len(), 1);
    let config = p.docker.main_build_config();
    assert_eq!(config.dockerignore.as_deref(), Some(".myignore"));
    assert_eq!(config.build_options.unwrap().build_args.unwrap()["A"], "b");
    // build_config wins over the deprecated fields.
    let p = ok(&docker(
        "    dockerignore: .old\n    build_config: {dockerignore: .new}\n",
    ));
    assert_eq!(
        p.docker.main_build_config().dockerignore.as_deref(),
        Some(".new")
    );
}

#[test]
fn deprecated_build_options_with_a_dockerfile_belong_to_its_build() {
    let p = ok(&docker(
        "    dockerfile: Dockerfile\n    build_options: {buildargs: {MODE: prod}}\n    dockerignore: .old\n",
    ));
    let warned = warnings_about(&p, "settings.docker.build_options");
    assert_eq!(warned.len(), 1);
    assert!(
        warned[0].contains(
            "use `parent_image_build_config.build_options` for the build of `dockerfile`"
        ),
        "{}",
        warned[0]
    );
    let config = p.docker.dockerfile_build_config();
    assert_eq!(
        config.build_options.unwrap().build_args.unwrap()["MODE"],
        "prod"
    );
    assert_eq!(config.dockerignore.as_deref(), Some(".old"));
    // parent_image_build_config wins over them.
    let p = ok(&docker(
        "    dockerfile: Dockerfile\n    build_options: {pull: true}\n    parent_image_build_config: {build_options: {pull: false}}\n",
    ));
    let config = p.docker.dockerfile_build_config();
    assert_eq!(config.build_options.unwrap().pull, Some(false));
}

#[test]
fn zenml_server_fields_are_accepted_with_a_warning() {
    let p = ok(&docker(concat!(
        "    allow_download_from_artifact_store: true\n",
        "    allow_download_from_code_repository: false\n",
        "    install_deployment_requirements: false\n",
        "    disable_automatic_requirements_detection: false\n",
        "    copy_files: true\n",
        "    copy_global_config: true\n",
        "    required_hub_plugins: []\n",
    )));
    assert_eq!(
        p.docker,
        DockerSettings::default(),
        "none of them changes the image"
    );
    let fields: Vec<&str> = p.warnings.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "settings.docker.allow_download_from_artifact_store",
            "settings.docker.install_deployment_requirements",
            "settings.docker.disable_automatic_requirements_detection",
            "settings.docker.copy_files",
            "settings.docker.copy_global_config",
            "settings.docker.required_hub_plugins",
        ]
    );
    assert!(
        err(&docker("    copy_files: 1\n"))
            .message
            .starts_with("expected true or false")
    );
}

#[test]
fn build_context_root_without_a_dockerfile_warns() {
    let p = ok(&docker("    build_context_root: docker\n"));
    assert_eq!(
        warnings_about(&p, "settings.docker.build_context_root").len(),
        1
    );
}

#[test]
fn what_asks_for_a_build_and_what_would_be_dropped() {
    let quiet = ok(&docker(
        "    parent_image: x/y:1\n    allow_including_files_in_images: false\n    runtime_environment: {A: b}\n    user: app\n",
    ));
    assert!(!quiet.docker.asks_for_build());
    assert_eq!(
        quiet.docker.dropped_without_build(),
        ["runtime_environment", "user"]
    );
    assert!(
        ok("name: p\n").docker.asks_for_build(),
        "files are included by default"
    );
    let apt = ok(&docker(
        "    allow_including_files_in_images: false\n    apt_packages: [git]\n",
    ));
    assert!(apt.docker.asks_for_build());
}

// ---- steps and the merge -----------------------------------------------------------------

const STEPS: &str = r#"name: training
settings:
  docker:
    parent_image: python:3.11-slim
    apt_packages: [git]
    environment: {A: "1", B: "2"}
    build_config:
      build_options: {build_args: {X: "1"}}
steps:
  - name: load
    command: ["python", "steps/load.py"]
  - name: train
    command: ["python", "steps/train.py"]
    after: [load]
    environment: {EPOCHS: 3}
    settings:
      docker:
        apt_packages: [libgomp1]
        environment: {B: "3", C: "4"}
        parent_image: null
        build_config:
          build_options: {build_args: {Y: "2"}}
  - name: evaluate
    command: [python, steps/eval.py]
    after: [train, load]
    settings:
      docker: {}
  - name: report
    command: [python, steps/report.py]
    settings:
      docker: {apt_packages: [git]}
"#;

#[test]
fn step_settings_merge_over_the_pipeline() {
    let p = ok(STEPS);
    let train = &p.steps[1];
    assert_eq!(train.docker.apt_packages, ["libgomp1"], "lists replace");
    assert_eq!(
        train.docker.environment,
        [("A", "1"), ("B", "3"), ("C", "4")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<EnvVars>(),
        "mappings merge key by key"
    );
    assert_eq!(
        train.docker.parent_image.as_deref(),
        Some("python:3.11-slim"),
        "null is ignored"
    );
    let args = train
        .docker
        .main_build_config()
        .build_options
        .unwrap()
        .build_args
        .unwrap();
    assert_eq!(args.len(), 2, "nested mappings merge too: {args:?}");
    assert_eq!(train.environment["EPOCHS"], "3");
    assert_eq!(train.after, ["load"]);
    assert_eq!(train.command, ["python", "steps/train.py"]);
}

#[test]
fn steps_with_equal_settings_compare_equal() {
    use std::collections::HashSet;
    let p = ok(STEPS);
    let [load, train, evaluate, report] = &p.steps[..] else {
        panic!()
    };
    assert_eq!(load.docker, p.docker);
    assert_eq!(
        evaluate.docker, p.docker,
        "an empty override is no override"
    );
    assert_eq!(
        report.docker, p.docker,
        "overriding with the same value changes nothing"
    );
    assert_ne!(train.docker, p.docker);
    let distinct: HashSet<&DockerSettings> = p.steps.iter().map(|s| &s.docker).collect();
    assert_eq!(distinct.len(), 2);
}

#[test]
fn step_errors_name_the_steps_field() {
    let yaml = "name: p\nsteps:\n  - name: a\n    command: [x]\n  - name: b\n    command: [y]\n    settings:\n      docker:\n        apt_packages: git\n";
    let d = err(yaml);
    assert_eq!(d.field, "steps[1].settings.docker.apt_packages");
    assert_eq!(d.line, 9);
    let d = err("name: p\nsteps:\n  - name: a\n    comand: [x]\n");
    assert_eq!(d.field, "steps[0].comand");
    assert_eq!(d.help.as_deref(), Some("did you mean `command`?"));
}

#[test]
fn cross_field_rules_apply_to_the_merged_step_settings() {
    let yaml = "name: p\nsettings:\n  docker:\n    allow_including_files_in_images: false\nsteps:\n  - name: a\n    command: [x]\n    settings:\n      docker:\n        local_project_install_command: pip install -e .\n";
    let d = err(yaml);
    assert_eq!(
        d.field,
        "steps[0].settings.docker.local_project_install_command"
    );
    assert_eq!(d.line, 10);
    let yaml = "name: p\nsettings:\n  docker:\n    parent_image: x/y:1\nsteps:\n  - name: a\n    command: [x]\n    settings:\n      docker: {skip_build: true}\n";
    assert!(
        ok(yaml).steps[0].docker.skip_build,
        "the parent image comes from the pipeline"
    );
}

#[test]
fn source_files_migrates_per_level_before_the_merge() {
    let yaml = "name: p\nsettings:\n  docker:\n    source_files: ignore\nsteps:\n  - name: a\n    command: [x]\n    settings:\n      docker: {source_files: include}\n  - name: b\n    command: [x]\n";
    let p = ok(yaml);
    assert!(!p.docker.allow_including_files_in_images);
    assert!(p.steps[0].docker.allow_including_files_in_images);
    assert!(!p.steps[1].docker.allow_including_files_in_images);
}

#[test]
fn warnings_of_step_fields_are_not_repeated() {
    let yaml = "name: p\nsettings:\n  docker:\n    dockerignore: .x\nsteps:\n  - name: a\n    command: [x]\n    settings:\n      docker: {apt_packages: [git]}\n";
    let p = ok(yaml);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
}

#[test]
fn after_must_name_a_step() {
    let yaml = "name: p\nsteps:\n  - name: load\n    command: [x]\n  - name: train\n    command: [x]\n    after: [laod]\n";
    let d = err(yaml);
    assert_eq!(d.field, "steps[1].after[0]");
    assert_eq!((d.line, d.column), (7, 13));
    assert!(
        d.message.contains("step `train` runs after `laod`"),
        "{}",
        d.message
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `load`?"));
}

#[test]
fn dependency_cycles_are_errors_naming_the_steps() {
    let yaml = "name: p\nsteps:\n  - name: a\n    command: [x]\n    after: [c]\n  - name: b\n    command: [x]\n    after: [a]\n  - name: c\n    command: [x]\n    after: [b]\n";
    let d = err(yaml);
    assert!(d.message.contains("cycle"), "{}", d.message);
    assert!(d.message.contains("a → c → b → a"), "{}", d.message);
    assert_eq!(d.field, "steps[0].after");
    let d = err("name: p\nsteps:\n  - name: a\n    command: [x]\n    after: [a]\n");
    assert!(d.message.contains("a → a"), "{}", d.message);
}

#[test]
fn execution_order_respects_after_and_file_order() {
    let yaml = "name: p\nsteps:\n  - name: report\n    command: [x]\n    after: [train]\n  - name: load\n    command: [x]\n  - name: train\n    command: [x]\n    after: [load]\n  - name: lint\n    command: [x]\n";
    let p = ok(yaml);
    let order: Vec<&str> = p
        .execution_order()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(order, ["load", "train", "report", "lint"]);
}

#[test]
fn steps_need_unique_valid_names_and_a_command() {
    let d = err("name: p\nsteps:\n  - name: a\n    command: [x]\n  - name: a\n    command: [y]\n");
    assert_eq!(d.message, "step `a` is defined twice");
    assert_eq!(d.line, 5);
    let d = err("name: p\nsteps:\n  - name: \"my step\"\n    command: [x]\n");
    assert_eq!(d.message, "`my step` is not a valid step name");
    let d = err("name: p\nsteps:\n  - name: a\n");
    assert_eq!(d.message, "step `a` has no command");
    let d = err("name: p\nsteps:\n  - name: a\n    command: python train.py\n");
    assert_eq!(d.field, "steps[0].command");
    let d = err("name: p\nsteps:\n  - command: [x]\n");
    assert_eq!(d.message, "missing the step's `name`");
    let d = err("name: p\nsteps:\n  - name: a\n    command: [x]\n    environment: {\"A-B\": 1}\n");
    assert_eq!(d.field, "steps[0].environment.A-B");
    let d = err("name: p\nsteps: {a: 1}\n");
    assert_eq!(d.message, "expected a list of steps, found a mapping");
}

// ---- plugins, grants, stack --------------------------------------------------------------

#[test]
fn plugins_are_pinned_by_name_and_semver_range() {
    let p = ok(
        "name: p\nplugins:\n  - name: acme-integrations\n    version: \"^1.2\"\n  - name: other\n    version: 2\n",
    );
    assert_eq!(p.plugins.len(), 2);
    assert_eq!(p.plugins[0].name, "acme-integrations");
    assert!(p.plugins[0].version.matches(&semver::Version::new(1, 4, 0)));
    assert!(!p.plugins[0].version.matches(&semver::Version::new(2, 0, 0)));
    assert!(p.plugins[1].version.matches(&semver::Version::new(2, 9, 1)));
    let d = err("name: p\nplugins:\n  - name: acme\n    version: \"^^1\"\n");
    assert_eq!(d.field, "plugins[0].version");
    assert_eq!(d.line, 4);
    assert!(
        d.message.starts_with("`^^1` is not a semver range"),
        "{}",
        d.message
    );
    let d = err("name: p\nplugins:\n  - name: acme\n");
    assert!(d.message.contains("missing the `version`"));
    let d =
        err("name: p\nplugins:\n  - {name: a, version: \"1\"}\n  - {name: a, version: \"2\"}\n");
    assert_eq!(d.message, "plugin `a` is listed twice");
    let d = err("name: p\nplugins:\n  - {name: a, verison: \"1\"}\n");
    assert_eq!(d.help.as_deref(), Some("did you mean `version`?"));
}

#[test]
fn grants_resolve_read_paths_against_the_pipeline_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dockwright.yaml");
    std::fs::write(
        &file,
        "name: p\ngrants:\n  acme:\n    read: [data, /opt/shared]\n    exec: [poetry]\n",
    )
    .unwrap();
    let p = load(&file).unwrap();
    let grant = &p.grants["acme"];
    assert_eq!(
        grant.read,
        [dir.path().join("data"), PathBuf::from("/opt/shared")]
    );
    assert_eq!(grant.exec, ["poetry"]);
    let d = err("name: p\ngrants:\n  acme: {write: [x]}\n");
    assert_eq!(d.field, "grants.acme.write");
}

#[test]
fn a_misspelt_pip_option_grant_names_its_line_and_the_nearest_option() {
    let p = ok("name: p\ngrants:\n  acme:\n    pip_options: [extra-index-url, url]\n");
    assert_eq!(p.grants["acme"].pip_options, ["extra-index-url", "url"]);
    let d =
        err("name: p\ngrants:\n  acme:\n    pip_options:\n      - url\n      - extra-idx-url\n");
    assert_eq!(
        (d.field.as_str(), d.line, d.message.as_str()),
        (
            "grants.acme.pip_options[1]",
            6,
            "unknown pip option `extra-idx-url`"
        )
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `extra-index-url`?"));
    let d = err("name: p\ngrants:\n  acme: {pip_options: [--trusted-host]}\n");
    assert_eq!(d.help.as_deref(), Some("did you mean `trusted-host`?"));
}

#[test]
fn an_exec_grant_lists_the_variables_its_programs_get() {
    let p = ok("name: p\ngrants:\n  acme: {exec: [poetry], env: [POETRY_HOME, _X1]}\n");
    assert_eq!(p.grants["acme"].env, ["POETRY_HOME", "_X1"]);
    let d = err("name: p\ngrants:\n  acme: {exec: [poetry], env: [POETRY_HOME, \"A=B\"]}\n");
    assert_eq!((d.field.as_str(), d.line), ("grants.acme.env[1]", 3));
    assert!(
        d.message
            .contains("`A=B` is not an environment variable name"),
        "{}",
        d.message
    );
}

#[test]
fn an_inline_stack_maps_component_types_to_flavors() {
    let p = ok("name: p\nstack:\n  artifact_store: {flavor: s3}\n  orchestrator: kubernetes\n");
    let stack = p.stack.unwrap();
    assert_eq!(stack.components["artifact_store"].flavor, "s3");
    assert_eq!(stack.components["orchestrator"].flavor, "kubernetes");
    assert_eq!(
        serde_json::to_value(&stack).unwrap(),
        serde_json::json!({"artifact_store": {"flavor": "s3"}, "orchestrator": {"flavor": "kubernetes"}})
    );
    let d = err("name: p\nstack:\n  orchestartor: {flavor: local}\n");
    assert_eq!(d.help.as_deref(), Some("did you mean `orchestrator`?"));
    let d = err("name: p\nstack:\n  orchestrator: {flavour: local}\n");
    assert_eq!(d.field, "stack.orchestrator.flavour");
    let d = err("name: p\nstack:\n  orchestrator: {}\n");
    assert_eq!(d.message, "missing `flavor`");
}

#[test]
fn a_stack_file_is_read_relative_to_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("stacks")).unwrap();
    std::fs::write(
        dir.path().join("stacks/aws.yaml"),
        "artifact_store: s3\nimage_builder: {flavor: local}\n",
    )
    .unwrap();
    let file = dir.path().join("dockwright.yaml");
    std::fs::write(&file, "name: p\nstack: stacks/aws.yaml\n").unwrap();
    let stack = load(&file).unwrap().stack.unwrap();
    assert_eq!(stack.components["artifact_store"].flavor, "s3");
    assert_eq!(stack.file, Some(dir.path().join("stacks/aws.yaml")));

    std::fs::write(
        dir.path().join("stacks/aws.yaml"),
        "artifact_store: s3\nregistry: x\n",
    )
    .unwrap();
    let error = load(&file).unwrap_err();
    let d = error.diagnostic().unwrap();
    assert_eq!(
        d.file,
        dir.path().join("stacks/aws.yaml"),
        "errors name the stack file"
    );
    assert_eq!((d.line, d.field.as_str()), (2, "registry"));

    std::fs::write(&file, "name: p\nstack: stacks/missing.yaml\n").unwrap();
    let d = load(&file).unwrap_err().diagnostic().unwrap().clone();
    assert_eq!((d.line, d.field.as_str()), (2, "stack"));
    assert!(
        d.message.starts_with("cannot read the stack file"),
        "{}",
        d.message
    );
}

#[test]
fn an_unreadable_pipeline_file_is_a_read_error() {
    let error = load(Path::new("/nonexistent/dockwright.yaml")).unwrap_err();
    assert!(matches!(error, SettingsError::Read { .. }));
    assert!(error.to_string().contains("/nonexistent/dockwright.yaml"));
}

// ---- positions for later errors ----------------------------------------------------------

#[test]
fn later_errors_can_point_at_a_field() {
    let yaml = "name: typo\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    required_integrations: [sklearn, pytorhc]\n";
    let p = ok(yaml);
    assert_eq!(
        p.position("settings.docker.required_integrations[1]"),
        Some(Position::new(5, 38))
    );
    let error = p.error_at(
        "settings.docker.required_integrations[1]",
        "unknown integration `pytorhc`",
        Some("did you mean `pytorch`?".into()),
    );
    let shown = error.to_string();
    assert!(
        shown.contains(
            "5:38: `settings.docker.required_integrations[1]`: unknown integration `pytorhc`"
        ),
        "{shown}"
    );
    assert!(shown.ends_with("help: did you mean `pytorch`?"), "{shown}");
    assert_eq!(p.position("settings.docker.nothing"), None);
}

// ---- the shared conformance cases --------------------------------------------------------

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/conformance/plan")
}

#[test]
fn conformance_pipeline_files_load_or_fail_as_expected() {
    let dir = conformance_dir();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10);
    for case in cases {
        let result = load(&case.join("dockwright.yaml"));
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("09-") {
            let shown = result.unwrap_err().to_string();
            assert!(
                shown.contains("apt_packages") && shown.contains(":5:"),
                "{shown}"
            );
        } else if name.starts_with("41-") {
            let shown = result.unwrap_err().to_string();
            assert!(
                shown.contains("target_repository") && shown.contains(":5:"),
                "{shown}"
            );
        } else if name.contains("build-option") && case.join("expect-error.json").exists() {
            let shown = result.unwrap_err().to_string();
            assert!(
                shown.contains("build_options") && shown.contains(":9"),
                "{shown}"
            );
        } else {
            // Other failures (e.g. an unknown integration) are the planner's to find.
            let pipeline = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            // These use the deprecated top-level `build_options` on purpose.
            let deprecated = name.contains("build-options");
            assert!(
                deprecated || pipeline.warnings.is_empty(),
                "{name}: {:?}",
                pipeline.warnings
            );
        }
    }
}

#[test]
fn conformance_settings_read_as_stated() {
    let dir = conformance_dir();
    let skip = load(&dir.join("06-skip-build/dockwright.yaml")).unwrap();
    assert!(skip.docker.skip_build);
    assert_eq!(
        skip.docker.parent_image.as_deref(),
        Some("registry.example.com/team/trainer:7")
    );
    let stack = load(&dir.join("07-stack/dockwright.yaml"))
        .unwrap()
        .stack
        .unwrap();
    assert_eq!(stack.components.len(), 2);
    let off = load(&dir.join("08-stack-off/dockwright.yaml")).unwrap();
    assert!(!off.docker.install_stack_requirements);
    let custom = load(&dir.join("05-user-dockerfile-and-more/dockwright.yaml")).unwrap();
    assert_eq!(
        custom.docker.dockerfile.as_deref(),
        Some("docker/Dockerfile")
    );
    assert_eq!(custom.docker.build_context_root.as_deref(), Some("docker"));
}

#[test]
fn odd_documents_are_errors_not_panics() {
    let documents = [
        "- a\n- b\n",
        "42\n",
        "name: [\n",
        "? [a]\n: b\n",
        "a: &x [*x]\n",
        "name: !!binary aGVsbG8=\n",
        "name: p\nsettings: {docker: [1]}\n",
        "name: p\nsettings:\n  docker:\n    environment: {? [a] : b}\n",
        "name: p\nsettings:\n  docker: 5\nsteps:\n  - name: a\n    command: [x]\n    settings: {docker: {user: x}}\n",
        "name: p\nsteps:\n  - name: a\n    command: [x]\n    after: [a, a]\n",
        "name: p\nsteps: [~]\n",
        "name: p\nplugins: [[]]\n",
        "name: p\ngrants: [x]\n",
        "name: p\nstack: 3\n",
        "name: 99999999999999999999999999999999999999999999\n",
        "name: p\nsettings:\n  docker:\n    build_config: {build_options: {shm_size: 1e400}}\n",
        "\u{feff}name: p\n",
        "name: p\r\nsettings:\r\n  docker:\r\n    apt_packages: git\r\n",
    ];
    for document in documents {
        match load_str(document) {
            Ok(pipeline) => assert!(!pipeline.name.is_empty()),
            Err(error) => {
                let shown = error.to_string();
                assert!(
                    shown.starts_with("dockwright.yaml:"),
                    "{document:?}: {shown}"
                );
            }
        }
    }
    let crlf = err("name: p\r\nsettings:\r\n  docker:\r\n    apt_packages: git\r\n");
    assert_eq!((crlf.line, crlf.column), (4, 19));
    assert_eq!(crlf.source_line.as_deref(), Some("    apt_packages: git"));
}

// ---- integration providers ---------------------------------------------------------------

#[test]
fn integration_providers_map_integration_names_to_plugins() {
    let p =
        ok("name: p\nintegration_providers:\n  feast: acme-integrations\n  mlflow: integrations\n");
    assert_eq!(p.integration_providers["feast"], "acme-integrations");
    assert_eq!(p.integration_providers.len(), 2);
    assert!(ok("name: p\n").integration_providers.is_empty());
}

#[test]
fn integration_providers_reject_non_names_with_positions() {
    let d = err("name: p\nintegration_providers:\n  feast: [a, b]\n");
    assert_eq!(d.field, "integration_providers.feast");
    assert_eq!(d.line, 3);
    let d = err("name: p\nintegration_providers:\n  feast: \"acme integrations\"\n");
    assert_eq!(d.field, "integration_providers.feast");
    assert!(d.message.contains("not a plugin name"), "{}", d.message);
    let d = err("name: p\nintegration_providers: [feast]\n");
    assert_eq!(d.field, "integration_providers");
}

#[test]
fn a_misspelt_integration_providers_key_is_suggested() {
    let d = err("name: p\nintegration_provider:\n  feast: acme\n");
    assert_eq!(d.field, "integration_provider");
    assert_eq!(
        d.help.as_deref(),
        Some("did you mean `integration_providers`?")
    );
}

#[test]
fn a_container_registry_has_a_uri() {
    let p = ok(
        "name: p\nstack:\n  container_registry: {flavor: default, uri: 127.0.0.1:5000/team}\n  orchestrator: local\n",
    );
    let stack = p.stack.unwrap();
    assert_eq!(
        stack.components["container_registry"].uri.as_deref(),
        Some("127.0.0.1:5000/team")
    );
    assert_eq!(stack.components["orchestrator"].uri, None);
    let json = serde_json::to_value(&stack).unwrap();
    assert_eq!(json["orchestrator"], serde_json::json!({"flavor": "local"}));
    let err =
        load_str("name: p\nstack:\n  container_registry: {flavor: default, url: x}\n").unwrap_err();
    assert!(
        err.to_string().contains("uri"),
        "the nearest key is suggested: {err}"
    );
}

// ---- orchestrator settings ----------------------------------------------------------------

#[test]
fn orchestrator_settings_are_kept_as_written_with_where_each_key_is() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("k8s.yaml"),
        "orchestrator:\n  flavor: kubernetes\n  config:\n    kubernetes_namespace: ml\n    pod_settings:\n      tolerations:\n        - key: gpu\n          operator: Exists\n",
    )
    .unwrap();
    let file = dir.path().join("dockwright.yaml");
    std::fs::write(
        &file,
        "name: p\nstack: k8s.yaml\nsettings:\n  orchestrator:\n    active_deadline_seconds: 60\nsteps:\n  - name: a\n    command: [\"true\"]\n    settings:\n      orchestrator:\n        pod_settings: {node_selectors: {pool: gpu}}\n  - name: b\n    command: [\"true\"]\n",
    )
    .unwrap();
    let p = load(&file).unwrap();
    let config = p.stack.unwrap().components["orchestrator"]
        .config
        .clone()
        .unwrap();
    assert_eq!(config.value["kubernetes_namespace"], "ml");
    assert_eq!(config.file, dir.path().join("k8s.yaml"));
    assert_eq!(config.field, "orchestrator.config");
    assert_eq!(config.position("kubernetes_namespace"), Position::new(4, 5));
    assert_eq!(
        config.position("pod_settings.tolerations[0].operator"),
        Position::new(8, 11)
    );
    // A path the file does not have points at its nearest enclosing key.
    assert_eq!(
        config.position("pod_settings.tolerations[0].nope"),
        Position::new(7, 11)
    );
    let e = config.error("pod_settings.tolerations[0].operator", "bad");
    let d = e.diagnostic().unwrap();
    assert_eq!(
        (d.line, d.column, d.field.as_str()),
        (
            8,
            11,
            "orchestrator.config.pod_settings.tolerations[0].operator"
        )
    );

    let pipeline = p.orchestrator.unwrap();
    assert_eq!(pipeline.value["active_deadline_seconds"], 60);
    assert_eq!(pipeline.field, "settings.orchestrator");
    assert_eq!(pipeline.position(""), Position::new(4, 3));
    let step = p.steps[0].orchestrator.clone().unwrap();
    assert_eq!(step.field, "steps[0].settings.orchestrator");
    assert_eq!(step.value["pod_settings"]["node_selectors"]["pool"], "gpu");
    assert_eq!(p.steps[1].orchestrator, None);
    assert_eq!(
        p.steps[0].docker, p.steps[1].docker,
        "orchestrator settings do not split images"
    );
}

#[test]
fn orchestrator_settings_must_be_a_mapping() {
    let d = err("name: p\nsettings:\n  orchestrator: [a]\n");
    assert_eq!((d.line, d.field.as_str()), (3, "settings.orchestrator"));
    let d = err("name: p\nstack:\n  orchestrator: {flavor: kubernetes, config: 3}\n");
    assert_eq!(d.field, "stack.orchestrator.config");
    assert!(d.message.contains("expected a mapping"), "{}", d.message);
}

#[test]
fn a_pipeline_path_through_dot_dot_is_normalised_once() {
    let dir = tempfile::tempdir().unwrap();
    let training = dir.path().join("training");
    std::fs::create_dir_all(dir.path().join("p5")).unwrap();
    std::fs::create_dir_all(&training).unwrap();
    let through = dir.path().join("p5/../training/./dockwright.yaml");
    let p = parse("name: t\n", &through).unwrap();
    let real = training.canonicalize().unwrap();
    assert_eq!(p.file, real.join("dockwright.yaml"));
    assert_eq!(p.base_dir, real);

    // A folder that does not exist is normalised lexically.
    let p = parse("name: t\n", Path::new("/nowhere/a/../b/dockwright.yaml")).unwrap();
    assert_eq!(p.file, Path::new("/nowhere/b/dockwright.yaml"));
}

#[test]
fn the_builder_is_chosen_with_the_build_requests_version() {
    let options = |yaml: &str| {
        ok(&docker(yaml))
            .docker
            .build_config
            .and_then(|c| c.build_options)
            .unwrap()
    };
    let buildkit = "    build_config:\n      build_options: {version: 2}\n";
    assert_eq!(options(buildkit).version, Some(BuilderVersion::BuildKit));
    let classic = "    build_config:\n      build_options: {version: \"1\"}\n";
    assert_eq!(options(classic).version, Some(BuilderVersion::Classic));

    let d = err(&docker(
        "    build_config:\n      build_options:\n        version: 3\n",
    ));
    assert_eq!(
        d.field,
        "settings.docker.build_config.build_options.version"
    );
    assert_eq!(d.line, 6);
    assert!(
        d.message.contains("1 (classic) or 2 (BuildKit)"),
        "{}",
        d.message
    );
    let d = err(&docker("    build_options: {verison: 2}\n"));
    assert_eq!(d.help.as_deref(), Some("did you mean `version`?"));
}

#[test]
fn a_cache_mount_cannot_be_built_by_the_classic_builder() {
    let d = err(&docker(
        "    python_package_installer_cache_mount: type=cache,target=/root/.cache/uv\n    build_config:\n      build_options: {version: 1}\n",
    ));
    assert_eq!(d.field, "settings.docker.build_config");
    assert_eq!(d.line, 6, "the line of the build config's options");
    assert!(d.message.contains("needs BuildKit"), "{}", d.message);
    // From the deprecated top-level options, under a `build_config` that has none of its own.
    let d = err(&docker(
        "    python_package_installer_cache_mount: type=cache,target=/root/.cache/uv\n    build_config: {dockerignore: .dockerignore}\n    build_options: {version: 1}\n",
    ));
    assert_eq!(d.field, "settings.docker.build_options");
    // BuildKit asked for explicitly, or left to the cache mount: both build.
    ok(&docker(
        "    python_package_installer_cache_mount: type=cache,target=/root/.cache/uv\n    build_config:\n      build_options: {version: 2}\n",
    ));
}
