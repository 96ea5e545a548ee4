//! The built-in `integrations` and `stack` plugins, compiled for wasm32-wasip2 and embedded by
//! the host's build script, called through the real plugin registry and runtime: the
//! conformance facts (cases 03, 07, 08 and 10 under shared/conformance/plan), the catalogue
//! export, and their errors. The union, de-duplication and sorting of a group is the host's
//! job (`requirements`), so these tests compare sorted, de-duplicated sets themselves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use dockwright::Dirs;
use dockwright::plugins::{
    Contribution, ErrorKind, Grants, Group, GuestError, Limits, Origin, Platform, Plugin,
    PluginError, Registry, Request,
};
use serde_json::{Value, json};

/// One registry for the whole test binary: loading compiles every built-in plugin (or reads
/// them from the compile cache kept in cargo's per-target temporary directory).
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("builtin_sources");
        // The data dir holds no plugins: only the built-in ones are loaded.
        let dirs = Dirs::at(&home.join("cache"), &home.join("data"));
        // Generous deadline: a loaded CI machine must not turn a good call into a timeout.
        let limits = Limits {
            deadline: Duration::from_secs(30),
            ..Limits::default()
        };
        Registry::load(&dirs.cache, &dirs.plugins, limits).expect("the built-in plugins load")
    })
}

fn plugin(name: &str) -> &'static Plugin {
    registry()
        .get(name)
        .unwrap_or_else(|| panic!("built-in plugin `{name}` is not embedded"))
}

fn linux() -> Platform {
    Platform {
        os: "linux".into(),
        arch: "amd64".into(),
        python_version: "3.11".into(),
    }
}

fn contribute_on(
    name: &str,
    platform: Platform,
    settings: Value,
) -> Result<Contribution, PluginError> {
    let request = Request {
        platform,
        settings,
        base_dir: PathBuf::from("/"),
        grants: Grants::default(),
    };
    registry()
        .runtime
        .contribute(plugin(name), &request)
        .map(|outcome| outcome.value)
}

fn contribute(name: &str, settings: Value) -> Result<Contribution, PluginError> {
    contribute_on(name, linux(), settings)
}

/// The group's lines as the host writes them: union, de-duplicated, sorted.
fn merged_lines(c: &Contribution) -> Vec<&str> {
    let set: BTreeSet<&str> = c.requirements.iter().map(|r| r.line.as_str()).collect();
    set.into_iter().collect()
}

fn origin_of<'a>(c: &'a Contribution, line: &str) -> &'a str {
    &c.requirements
        .iter()
        .find(|r| r.line == line)
        .unwrap_or_else(|| panic!("no line `{line}` in {c:?}"))
        .origin
}

fn guest_error(err: PluginError) -> GuestError {
    match err.kind {
        ErrorKind::Guest(e) => e,
        other => panic!("expected an error of the plugin's own, got {other}"),
    }
}

#[test]
fn both_are_builtin_integration_group_plugins_without_capabilities() {
    for name in ["integrations", "stack"] {
        let p = plugin(name);
        assert_eq!(p.origin, Origin::Builtin, "{name}");
        assert_eq!(p.manifest.group, Group::Integrations, "{name}");
        assert!(p.manifest.capabilities.is_empty(), "{name}");
    }
}

/// Conformance case 03: `required_integrations: [mlflow, sklearn]`.
#[test]
fn mlflow_and_sklearn_give_the_conformance_lines() {
    let c = contribute(
        "integrations",
        json!({"required_integrations": ["mlflow", "sklearn"]}),
    )
    .unwrap();
    assert_eq!(
        merged_lines(&c),
        [
            "mlflow>=2.1.1,<4",
            "numpy<3.0",
            "pandas>=2.0.0",
            "python-rapidjson<1.15",
            "scikit-learn"
        ]
    );
    assert_eq!(origin_of(&c, "numpy<3.0"), "integration mlflow");
    assert_eq!(origin_of(&c, "scikit-learn"), "integration sklearn");
    assert!(c.apt_packages.is_empty() && c.notes.is_empty(), "{c:?}");
}

#[test]
fn integrations_bring_their_apt_packages_in_order() {
    let c = contribute(
        "integrations",
        json!({"required_integrations": ["lightgbm", "deepchecks", "skypilot_aws"]}),
    )
    .unwrap();
    assert_eq!(
        c.apt_packages,
        [
            "libgomp1",
            "ffmpeg",
            "libsm6",
            "libxext6",
            "openssh-client",
            "rsync"
        ]
    );
    // deepchecks pins pandas twice; both strings are kept, as in ZenML.
    let lines = merged_lines(&c);
    assert!(lines.contains(&"pandas<2.2.0") && lines.contains(&"pandas>=2.0.0"));
}

#[test]
fn nothing_asked_contributes_nothing() {
    for settings in [json!({}), json!({"required_integrations": []})] {
        let c = contribute("integrations", settings).unwrap();
        assert_eq!(c, Contribution::default());
    }
}

#[test]
fn an_integration_with_no_packages_is_said_in_a_note() {
    let c = contribute("integrations", json!({"required_integrations": ["kaniko"]})).unwrap();
    assert!(c.requirements.is_empty());
    assert_eq!(c.notes.len(), 1, "{c:?}");
    assert!(c.notes[0].contains("kaniko"), "{:?}", c.notes);
}

/// Conformance case 10: `required_integrations: [pytorhc]`.
#[test]
fn an_unknown_integration_names_itself_and_suggests_pytorch() {
    let err = contribute(
        "integrations",
        json!({"required_integrations": ["pytorhc"]}),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("pytorhc") && text.contains("pytorch"),
        "{text}"
    );
    assert!(text.starts_with("plugin integrations 1.0.0: "), "{text}");
    let GuestError::UnknownName { name, suggestions } = guest_error(err) else {
        panic!("expected unknown-name")
    };
    assert_eq!(name, "pytorhc");
    assert_eq!(suggestions[0], "pytorch");
}

#[test]
fn names_match_exactly_like_zenml_with_suggestions_for_slips() {
    let err = contribute(
        "integrations",
        json!({"required_integrations": ["Sklearn"]}),
    )
    .unwrap_err();
    let GuestError::UnknownName { suggestions, .. } = guest_error(err) else {
        panic!("expected unknown-name")
    };
    assert_eq!(suggestions[0], "sklearn");
    let err = contribute(
        "integrations",
        json!({"required_integrations": ["great-expectations"]}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("great_expectations"), "{err}");
}

#[test]
fn a_malformed_setting_is_invalid_input() {
    let err = contribute("integrations", json!({"required_integrations": "sklearn"})).unwrap_err();
    assert!(
        matches!(guest_error(err), GuestError::InvalidInput(_)),
        "a string is not a list of names"
    );
}

#[test]
fn the_catalogue_lists_every_integration_for_the_platform() {
    let rt = &registry().runtime;
    let on_linux = rt
        .catalogue(plugin("integrations"), &linux())
        .unwrap()
        .value;
    assert_eq!(on_linux.len(), 66);
    let find = |list: &[dockwright::plugins::Integration], name: &str| {
        list.iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("{name} not in the catalogue"))
            .clone()
    };
    let sklearn = find(&on_linux, "sklearn");
    assert_eq!(sklearn.requirements, ["scikit-learn"]);
    let lightgbm = find(&on_linux, "lightgbm");
    assert_eq!(lightgbm.requirements, ["lightgbm>=1.0.0"]);
    assert_eq!(lightgbm.apt_packages, ["libgomp1"]);
    let s3 = find(&on_linux, "s3");
    assert_eq!(
        s3.requirements,
        ["s3fs>2022.3.0,!=2025.3.1", "boto3", "aws-profile-manager"]
    );
    assert!(
        s3.description.contains("artifact_store s3"),
        "{}",
        s3.description
    );
    assert_eq!(
        find(&on_linux, "skypilot_gcp").apt_packages,
        ["openssh-client", "rsync"]
    );
    assert_eq!(find(&on_linux, "mlx").requirements, ["mlx[cpu]"]);
    assert_eq!(
        find(&on_linux, "tensorflow").requirements,
        ["tensorflow>=2.12,<2.15", "tensorflow_io>=0.24.0"]
    );

    // OS-conditional integrations follow the requested platform.
    let apple = Platform {
        os: "darwin".into(),
        arch: "arm64".into(),
        python_version: String::new(),
    };
    let on_apple = rt.catalogue(plugin("integrations"), &apple).unwrap().value;
    assert_eq!(find(&on_apple, "mlx").requirements, ["mlx"]);
    assert_eq!(
        find(&on_apple, "tensorflow").requirements,
        ["tensorflow-macos>=2.12,<2.15"]
    );
    let windows = Platform {
        os: "windows".into(),
        ..linux()
    };
    let on_windows = rt
        .catalogue(plugin("integrations"), &windows)
        .unwrap()
        .value;
    assert!(find(&on_windows, "mlx").requirements.is_empty());
}

#[test]
fn contribute_follows_the_platform_too() {
    let apple = Platform {
        os: "darwin".into(),
        arch: "arm64".into(),
        python_version: String::new(),
    };
    let c = contribute_on(
        "integrations",
        apple,
        json!({"required_integrations": ["tensorflow"]}),
    )
    .unwrap();
    assert_eq!(merged_lines(&c), ["tensorflow-macos>=2.12,<2.15"]);
}

/// Conformance case 07: an s3 artifact store and a kubernetes orchestrator.
#[test]
fn s3_and_kubernetes_stack_gives_the_conformance_lines() {
    let c = contribute(
        "stack",
        json!({
            "stack": {"artifact_store": {"flavor": "s3"}, "orchestrator": {"flavor": "kubernetes"}},
            "install_stack_requirements": true,
        }),
    )
    .unwrap();
    assert_eq!(
        merged_lines(&c),
        [
            "Jinja2",
            "aws-profile-manager",
            "boto3",
            "kubernetes>=21.7,<26",
            "s3fs>2022.3.0,!=2025.3.1"
        ]
    );
    assert_eq!(
        origin_of(&c, "boto3"),
        "stack artifact_store s3 → integration s3"
    );
    assert_eq!(
        origin_of(&c, "Jinja2"),
        "stack orchestrator kubernetes → integration kubernetes"
    );
}

#[test]
fn stack_flavors_reach_the_integration_that_provides_them() {
    let c = contribute(
        "stack",
        json!({"stack": {
            "orchestrator": "sagemaker",
            "experiment_tracker": {"flavor": "mlflow", "tracking_uri": "http://mlflow:5000"},
            "container_registry": "gcp",
            "artifact_store": "local",
        }}),
    )
    .unwrap();
    assert_eq!(
        origin_of(&c, "sagemaker>=2.237.3,<3.0.0"),
        "stack orchestrator sagemaker → integration aws"
    );
    assert_eq!(
        origin_of(&c, "mlflow>=2.1.1,<4"),
        "stack experiment_tracker mlflow → integration mlflow"
    );
    // The gcp container registry and the local artifact store are built into ZenML.
    assert!(
        c.requirements
            .iter()
            .all(|r| !r.origin.contains("container_registry") && !r.origin.contains("local")),
        "{c:?}"
    );

    let vm = contribute("stack", json!({"stack": {"orchestrator": "vm_azure"}})).unwrap();
    assert_eq!(vm.apt_packages, ["openssh-client", "rsync"]);
}

/// Conformance case 08: `install_stack_requirements: false`.
#[test]
fn stack_requirements_switched_off_contribute_nothing() {
    let c = contribute(
        "stack",
        json!({"stack": {"artifact_store": {"flavor": "s3"}}, "install_stack_requirements": false}),
    )
    .unwrap();
    assert_eq!(c, Contribution::default());
    let local = contribute(
        "stack",
        json!({"stack": {"artifact_store": "local", "orchestrator": "local"}}),
    )
    .unwrap();
    assert_eq!(local, Contribution::default());
}

#[test]
fn an_unknown_flavor_is_an_unknown_name_with_suggestions() {
    let err = contribute(
        "stack",
        json!({"stack": {"orchestrator": {"flavor": "kubernets"}}}),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("plugin stack 1.0.0: "), "{text}");
    let GuestError::UnknownName { name, suggestions } = guest_error(err) else {
        panic!("expected unknown-name")
    };
    assert_eq!(name, "kubernets");
    assert_eq!(suggestions[0], "kubernetes");

    let err = contribute("stack", json!({"stack": {"artifact_store": "s4"}})).unwrap_err();
    let GuestError::UnknownName { suggestions, .. } = guest_error(err) else {
        panic!("expected unknown-name")
    };
    assert!(suggestions.iter().any(|s| s == "s3"), "{suggestions:?}");
}

#[test]
fn an_unknown_component_type_is_invalid_input() {
    let err = contribute("stack", json!({"stack": {"orchestrater": "kubernetes"}})).unwrap_err();
    let GuestError::InvalidInput(message) = guest_error(err) else {
        panic!("expected invalid-input")
    };
    assert!(
        message.contains("orchestrater") && message.contains("orchestrator"),
        "{message}"
    );
}

#[test]
fn the_stack_plugin_provides_no_catalogue_of_its_own() {
    let list = registry()
        .runtime
        .catalogue(plugin("stack"), &linux())
        .unwrap()
        .value;
    assert!(list.is_empty());
}

/// A pipeline that only has `requirements:` loads and links only the `requirements` plugin
/// (issue 14): the others are described (manifest, digest) but never compiled or linked.
#[test]
fn only_the_plugin_a_setting_routes_to_is_loaded() {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("builtin_sources");
    let dirs = Dirs::at(&home.join("cache"), &home.join("data"));
    let registry = Registry::load(&dirs.cache, &dirs.plugins, Limits::default()).unwrap();
    assert!(registry.plugins.len() >= 4);
    assert!(registry.plugins.iter().all(|p| !p.is_prepared()));
    // The project folder exists: the requirements plugin is granted it.
    let project = tempfile::tempdir().unwrap();
    let pipeline = dockwright::settings::parse(
        "name: p\nsettings:\n  docker:\n    requirements: [numpy]\n",
        &project.path().join("dockwright.yaml"),
    )
    .unwrap();
    let answers =
        dockwright::plugins::sources::gather(&registry, &pipeline, &pipeline.docker, &linux())
            .unwrap();
    assert_eq!(answers.sourced.len(), 1);
    let prepared: Vec<&str> = registry
        .plugins
        .iter()
        .filter(|p| p.is_prepared())
        .map(|p| p.manifest.name.as_str())
        .collect();
    assert_eq!(prepared, ["requirements"]);
}
