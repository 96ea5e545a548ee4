//! The custom integration provider written in Python (examples/custom-provider-python):
//! built by its own script (componentize-py installed from the package index into a venv of
//! its own), installed into a data directory, and used through the real `dockwright` binary
//! the way a pipeline author would; plus its typed errors, raised as `Err(...)` in Python,
//! as the host's runtime receives them.
//!
//! The component bundles CPython (about 18 MB); compiling it takes about a minute, so the
//! built `.wasm` (keyed by its inputs, by the script) and the compiled component are shared
//! across tests and runs under cargo's target tmp dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use dockwright::plugins::{ErrorKind, GuestError, Limits, Platform, Request, Runtime, load_file};
use dockwright_tests::dockwright;
use serde_json::{Value, json};

const PLUGIN: &str = "acme-integrations-py";

/// The workspace root (tests/ sits in it).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Where the build script keeps its venv and output, and the compiled-component cache.
fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("custom-provider-python")
}

/// The plugin file, built once per test process by the example's own script (which reuses
/// an earlier build while its inputs are unchanged).
fn plugin_wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let script = repo_root().join("examples/custom-provider-python/build.sh");
        let out_dir = shared_dir().join("build");
        let output = Command::new("bash")
            .arg(&script)
            .arg(&out_dir)
            .output()
            .expect("run examples/custom-provider-python/build.sh");
        assert!(
            output.status.success(),
            "{} failed (it installs componentize-py with pip, so the package index must be \
             reachable):\n{}{}",
            script.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let wasm = out_dir.join(format!("{PLUGIN}.wasm"));
        compile_once(&wasm);
        wasm
    })
}

/// Compiles the component into the shared cache before any test runs `dockwright` on it,
/// under a file lock, so parallel test processes do not each spend a minute compiling it.
fn compile_once(wasm: &Path) {
    let lock = std::fs::File::create(shared_dir().join("compile.lock")).expect("lock file");
    lock.lock().expect("take the compile lock");
    let runtime = Runtime::new(compile_cache(), Limits::default()).expect("runtime");
    load_file(&runtime, wasm).expect("the host loads the Python plugin");
}

/// A home with the plugin installed (copied into `data/plugins/`, where installed plugins
/// are read from) and the shared compiled-component cache linked in: compiled components
/// are written atomically, so concurrent tests may share it.
fn home_with_plugin() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("temp dir");
    let plugins = home.path().join("data/plugins");
    std::fs::create_dir_all(&plugins).expect("create plugins dir");
    std::fs::copy(plugin_wasm(), plugins.join(format!("{PLUGIN}-0.1.0.wasm"))).expect("install");
    let components = compile_cache();
    std::fs::create_dir_all(home.path().join("cache")).expect("create cache dir");
    std::os::unix::fs::symlink(&components, home.path().join("cache/components"))
        .expect("link the component cache");
    home
}

fn compile_cache() -> PathBuf {
    let dir = shared_dir().join("components");
    std::fs::create_dir_all(&dir).expect("create the component cache");
    dir
}

fn run(home: &Path, dir: &Path, args: &[&str]) -> Output {
    dockwright(home)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run dockwright")
}

fn json_stdout(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "dockwright failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn pipeline(dir: &Path, integrations: &[&str]) {
    let names = integrations.join(", ");
    let yaml = format!(
        "name: acme\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    \
         requirements: [\"pandas>=2.0\"]\n    required_integrations: [{names}]\n"
    );
    std::fs::write(dir.join("dockwright.yaml"), yaml).expect("write dockwright.yaml");
}

#[test]
fn plugin_list_shows_the_installed_python_plugin() {
    let home = home_with_plugin();
    let list = json_stdout(&run(
        home.path(),
        home.path(),
        &["plugin", "list", "--json"],
    ));
    let entry = list
        .as_array()
        .expect("a list")
        .iter()
        .find(|p| p["name"] == PLUGIN)
        .unwrap_or_else(|| panic!("{PLUGIN} missing from {list:#}"));
    assert_eq!(entry["version"], "0.1.0");
    assert_eq!(entry["group"], "integrations");
    assert_eq!(entry["source"], "installed");

    let inspect = json_stdout(&run(
        home.path(),
        home.path(),
        &["plugin", "inspect", PLUGIN, "--json"],
    ));
    // The build script writes the WIT's own minor version as the range: componentize-py
    // imports every host function of the WIT it was built against.
    let wit = std::fs::read_to_string(repo_root().join("wit/v1.1/plugin.wit")).expect("WIT");
    let package = wit
        .lines()
        .find_map(|l| l.strip_prefix("package dockwright:plugin@"))
        .expect("package line");
    let minor: Vec<&str> = package.trim_end_matches(';').split('.').take(2).collect();
    assert_eq!(inspect["api_range"], format!("^{}", minor.join(".")));
    assert_eq!(inspect["capabilities"], json!([]));
    let exports = inspect["exports"].to_string();
    assert!(exports.contains("dockwright:plugin/source@"), "{exports}");
    assert!(
        exports.contains("dockwright:plugin/catalogue@"),
        "{exports}"
    );
}

#[test]
fn integrations_list_shows_its_catalogue() {
    let home = home_with_plugin();
    let list = json_stdout(&run(
        home.path(),
        home.path(),
        &["integrations", "list", "--json"],
    ));
    let rows = list.as_array().expect("a list");
    let feature_store = rows
        .iter()
        .find(|i| i["name"] == "acme_feature_store")
        .unwrap_or_else(|| panic!("acme_feature_store missing from {list:#}"));
    assert_eq!(feature_store["provider"], format!("{PLUGIN} 0.1.0"));
    assert_eq!(
        feature_store["requirements"],
        json!(["feast>=0.40,<1", "redis>=5"])
    );
    assert_eq!(feature_store["apt_packages"], json!(["libpq5"]));
    let ours: Vec<&str> = rows
        .iter()
        .filter(|i| i["provider"] == format!("{PLUGIN} 0.1.0"))
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(ours, ["acme_feature_store", "acme_model_registry"]);
    // The built-in catalogue is still there beside it.
    assert!(rows.iter().any(|i| i["name"] == "sklearn"));
}

#[test]
fn plan_puts_its_lines_in_the_integrations_group_and_its_apt_package_in_the_image() {
    let home = home_with_plugin();
    let project = tempfile::tempdir().expect("temp dir");
    pipeline(project.path(), &["sklearn", "acme_feature_store"]);
    let plan = json_stdout(&run(home.path(), project.path(), &["plan", "--json"]));
    let image = &plan["images"][0];
    let groups = image["requirements"].as_array().expect("groups");
    let integrations = groups
        .iter()
        .find(|g| g["group"] == "integrations")
        .unwrap_or_else(|| panic!("no integrations group in {image:#}"));
    let lines: Vec<&str> = integrations["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let origins: Vec<&str> = integrations["origins"]
        .as_array()
        .expect("origins")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let from_acme = format!("integration acme_feature_store ({PLUGIN} 0.1.0)");
    for line in ["feast>=0.40,<1", "redis>=5"] {
        let at = lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("{line} missing from {lines:?}"));
        assert_eq!(origins[at], from_acme);
    }
    assert!(lines.contains(&"scikit-learn"), "{lines:?}");
    // Its lines stay out of the user's own requirements group.
    let user = groups
        .iter()
        .find(|g| g["group"] == "requirements")
        .expect("requirements group");
    assert_eq!(user["lines"], json!(["pandas>=2.0"]));
    assert_eq!(image["apt_packages"], json!(["libpq5"]));
    let dockerfile = image["dockerfile"].as_str().expect("dockerfile");
    assert!(
        dockerfile.contains("apt-get install -y --no-install-recommends libpq5"),
        "{dockerfile}"
    );
    // The plugin's digest is part of the build key.
    let digest = format!(
        "{}",
        json_stdout(&run(
            home.path(),
            home.path(),
            &["plugin", "list", "--json"]
        ))
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == PLUGIN)
        .expect("listed")["digest"]
    );
    assert!(
        image["key_inputs"]
            .to_string()
            .contains(digest.trim_matches('"'))
    );
}

#[test]
fn a_misspelt_name_gets_the_closest_name_from_its_catalogue() {
    let home = home_with_plugin();
    let project = tempfile::tempdir().expect("temp dir");
    pipeline(project.path(), &["acme_featurestore"]);
    let output = run(home.path(), project.path(), &["plan", "--json"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "`settings.docker.required_integrations[0]`: unknown integration: \
             `acme_featurestore` (did you mean `acme_feature_store`?)"
        ),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no plan on failure");
}

/// The host routes only names a catalogue holds, so the plugin's own error paths are driven
/// through the runtime directly: a `raise Err(...)` in Python must arrive as the WIT error
/// variant, not as a crash.
#[test]
fn errors_raised_in_python_arrive_as_typed_plugin_errors() {
    let runtime = Runtime::new(compile_cache(), Limits::default()).expect("runtime");
    let plugin = load_file(&runtime, plugin_wasm()).expect("load the plugin");
    let call = |settings: Value| {
        runtime.contribute(
            &plugin,
            &Request {
                platform: Platform::default(),
                settings,
                base_dir: PathBuf::from("/"),
                grants: Default::default(),
            },
        )
    };

    let unknown = call(json!({"required_integrations": ["acme_model_registy"]}))
        .expect_err("an unknown name");
    match unknown.kind {
        ErrorKind::Guest(GuestError::UnknownName { name, suggestions }) => {
            assert_eq!(name, "acme_model_registy");
            assert_eq!(suggestions, ["acme_model_registry"]);
        }
        other => panic!("expected unknown-name, got {other:?}"),
    }

    let invalid = call(json!({"required_integrations": "acme_feature_store"}))
        .expect_err("a string where a list belongs");
    match invalid.kind {
        ErrorKind::Guest(GuestError::InvalidInput(text)) => {
            assert!(text.contains("required_integrations"), "{text}");
        }
        other => panic!("expected invalid-input, got {other:?}"),
    }

    // Keys it does not serve are ignored, and it logs through the host.
    let ok = call(json!({"required_integrations": ["acme_model_registry"], "future_key": 1}))
        .expect("a known name");
    assert_eq!(ok.value.requirements.len(), 1);
    assert_eq!(ok.value.requirements[0].line, "mlflow-skinny>=2.10,<3");
    assert_eq!(
        ok.value.requirements[0].origin,
        "integration acme_model_registry"
    );
    assert!(ok.value.apt_packages.is_empty());
    assert!(
        ok.logs
            .iter()
            .any(|l| l.level == "debug" && l.message.contains("acme_model_registry")),
        "{:?}",
        ok.logs
    );
}
