//! Plugins distributed separately, through the real CLI: install / list / remove, OCI push
//! and pull against Debian's `docker-registry` on loopback (with htpasswd auth and Docker
//! config credentials), pins and `dockwright.lock`, a refused capability, two providers
//! claiming one integration, a plugin built for API 1.0 on this 1.1 host, `plugin new`
//! scaffolds that build out of tree, and the out-of-tree example provider end to end.
//!
//! Needs: the wasm32-wasip2 target, and `docker-registry` + `htpasswd` (scripts/ci-deps.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use dockwright_tests::{Registry, base64, dockwright, fixture, repo_root, write_docker_config};
use serde_json::Value;

fn run(home: &Path, args: &[&str]) -> Output {
    dockwright(home)
        .args(args)
        .env("DOCKER_CONFIG", home.join("docker"))
        .output()
        .expect("run dockwright")
}

/// Runs and expects success; returns stdout (stderr is shown on failure).
fn ok(home: &Path, args: &[&str]) -> String {
    let out = run(home, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "dockwright {args:?} failed:\n{stderr}"
    );
    String::from_utf8(out.stdout).unwrap() + &stderr
}

/// Runs and expects failure; returns stderr.
fn fails(home: &Path, args: &[&str]) -> String {
    let out = run(home, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "dockwright {args:?} should have failed; stdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn installed(home: &Path) -> Vec<Value> {
    let list: Value =
        serde_json::from_str(&ok_stdout(home, &["plugin", "list", "--json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"] == "installed")
        .cloned()
        .collect()
}

fn ok_stdout(home: &Path, args: &[&str]) -> String {
    let out = run(home, args);
    assert!(
        out.status.success(),
        "dockwright {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

fn write_pipeline(dir: &Path, yaml: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("dockwright.yaml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

/// A cargo command for building plugin crates outside the workspace, unaffected by the
/// variables cargo sets for this test.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if (key.starts_with("CARGO_") && !key.starts_with("CARGO_HOME"))
            || key.starts_with("RUSTFLAGS")
            || key == "RUSTC_WRAPPER"
        {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The example provider, built once per test process by its own script.
fn example_plugin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let out_dir = repo_root().join("target/custom-provider");
            let output = Command::new("bash")
                .arg(repo_root().join("examples/custom-provider/build.sh"))
                .arg(&out_dir)
                .env_remove("CARGO_TARGET_DIR")
                .env_remove("RUSTFLAGS")
                .output()
                .expect("run build.sh");
            assert!(
                output.status.success(),
                "examples/custom-provider/build.sh failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let wasm = out_dir.join("acme-integrations.wasm");
            assert!(wasm.is_file());
            wasm
        })
        .clone()
}

#[test]
fn install_list_remove_round_trip() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let reader = fixture("reader");
    let reader_arg = reader.to_str().unwrap();

    let text = ok(home, &["plugin", "install", reader_arg]);
    assert!(text.contains("installed reader 0.2.0"), "{text}");
    assert!(text.contains("it asks for: read"), "{text}");
    let file = home.join("data/plugins/reader-0.2.0.wasm");
    assert_eq!(sha256_of(&file), sha256_of(&reader), "installed as is");
    // Compiled at install time: the cache holds the component already.
    let compiled: Vec<_> = std::fs::read_dir(home.join("cache/components"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert!(!compiled.is_empty(), "nothing compiled at install");

    let list = installed(home);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "reader");
    assert_eq!(list[0]["version"], "0.2.0");
    assert_eq!(list[0]["digest"], sha256_of(&reader));

    let again = ok(home, &["plugin", "install", reader_arg]);
    assert!(
        again.contains("reader 0.2.0 is installed already"),
        "{again}"
    );

    ok(
        home,
        &["plugin", "install", fixture("api-1-0").to_str().unwrap()],
    );
    let names: Vec<String> = installed(home)
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["api-1-0", "reader"]);

    let text = ok(home, &["plugin", "remove", "reader"]);
    assert!(text.contains("removed reader"), "{text}");
    assert!(!file.exists());
    let err = fails(home, &["plugin", "remove", "reader"]);
    assert!(
        err.contains("no installed plugin named `reader` (installed: api-1-0)"),
        "{err}"
    );
    let err = fails(home, &["plugin", "remove", "requirements"]);
    assert!(err.contains("built in and cannot be removed"), "{err}");
}

#[test]
fn installing_checks_everything_before_writing_anything() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    // Built against API 2: refused by its manifest, before compiling.
    let err = fails(
        home,
        &["plugin", "install", fixture("future-api").to_str().unwrap()],
    );
    assert!(
        err.contains("needs plugin API ^2.0; this host supports 1.2.0"),
        "{err}"
    );
    // Not wasm at all.
    let junk = home.join("junk.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let err = fails(home, &["plugin", "install", junk.to_str().unwrap()]);
    assert!(err.contains("not a WebAssembly component"), "{err}");
    let plugin_dir = home.join("data/plugins");
    let left: Vec<_> = std::fs::read_dir(&plugin_dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "written anyway: {left:?}");
}

#[test]
fn oci_push_and_pull_through_a_loopback_registry() {
    let registry = Registry::start(Some(("alice", "plugin pass")));
    let publisher = tempfile::tempdir().unwrap();
    let publisher = publisher.path();
    let reader = fixture("reader");
    let repository = format!("oci://{}/acme/reader", registry.host());

    // No credentials: the registry refuses, and the error says what to do.
    let err = fails(
        publisher,
        &["plugin", "push", reader.to_str().unwrap(), &repository],
    );
    assert!(err.contains("docker login"), "{err}");

    // With the Docker config's credentials; the tag defaults to the plugin's version.
    std::fs::create_dir_all(publisher.join("docker")).unwrap();
    write_docker_config(
        &publisher.join("docker"),
        &registry.host(),
        "alice:plugin pass",
    );
    let out = ok_stdout(
        publisher,
        &["plugin", "push", reader.to_str().unwrap(), &repository],
    );
    let (pushed, manifest_digest) = out.trim().split_once('@').unwrap();
    assert_eq!(pushed, format!("{repository}:0.2.0"));

    // The registry holds the wasm layout: config media type, one application/wasm layer
    // whose digest is the file's, the manifest's digest as printed.
    let basic = base64("alice:plugin pass");
    let (digest, body) = registry
        .oci_manifest("acme/reader", "0.2.0", Some(&basic))
        .expect("the manifest");
    assert_eq!(digest, manifest_digest);
    let manifest: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["digest"], sha256_of(&reader));
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.version"],
        "0.2.0"
    );

    // A tag that is not the plugin's version is refused.
    let err = fails(
        publisher,
        &[
            "plugin",
            "push",
            reader.to_str().unwrap(),
            &format!("{repository}:9.9.9"),
        ],
    );
    assert!(
        err.contains("differs from the plugin's version 0.2.0"),
        "{err}"
    );

    // Another machine installs it by reference (no tag: the newest version).
    let user = tempfile::tempdir().unwrap();
    let user = user.path();
    std::fs::create_dir_all(user.join("docker")).unwrap();
    write_docker_config(&user.join("docker"), &registry.host(), "alice:plugin pass");
    let text = ok(user, &["plugin", "install", &repository]);
    assert!(
        text.contains(&format!("pulled {repository}:0.2.0")),
        "{text}"
    );
    let list = installed(user);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["digest"], sha256_of(&reader));

    // A registry serving other bytes than the manifest names: refused, nothing installed.
    let blob = registry.blob_path(&sha256_of(&reader));
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    ok(user, &["plugin", "remove", "reader"]);
    let err = fails(user, &["plugin", "install", &format!("{repository}:0.2.0")]);
    assert!(err.contains("digest"), "{err}");
    assert!(installed(user).is_empty());
}

/// Uploads a one-layer artifact with `curl` (monolithic blob uploads, then the manifest),
/// bypassing dockwright's own checks.
fn upload_artifact(
    registry: &Registry,
    repository: &str,
    tag: &str,
    config: (&str, &[u8]),
    layer: (&str, &[u8]),
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("http://{}/v2/{repository}", registry.host());
    let mut descriptors = Vec::new();
    for (i, (media_type, bytes)) in [config, layer].into_iter().enumerate() {
        let file = dir.path().join(format!("blob{i}"));
        std::fs::write(&file, bytes).unwrap();
        let digest = sha256_of(&file);
        let location = Command::new("curl")
            .args([
                "-sf",
                "-X",
                "POST",
                "-o",
                "/dev/null",
                "-w",
                "%header{location}",
            ])
            .arg(format!("{base}/blobs/uploads/"))
            .output()
            .unwrap();
        let location = String::from_utf8(location.stdout).unwrap();
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = if location.starts_with("http") {
            location.clone()
        } else {
            format!("http://{}{location}", registry.host())
        };
        let status = Command::new("curl")
            .args([
                "-sf",
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/octet-stream",
            ])
            .arg("--data-binary")
            .arg(format!("@{}", file.display()))
            .arg(format!("{url}{separator}digest={digest}"))
            .status()
            .unwrap();
        assert!(status.success(), "blob upload to {url}");
        descriptors.push(serde_json::json!({
            "mediaType": media_type, "digest": digest, "size": bytes.len()
        }));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptors[0],
        "layers": [descriptors[1]],
    });
    let file = dir.path().join("manifest.json");
    std::fs::write(&file, manifest.to_string()).unwrap();
    let status = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(format!("{base}/manifests/{tag}"))
        .status()
        .unwrap();
    assert!(status.success(), "manifest upload");
    descriptors[1]["digest"].as_str().unwrap().to_string()
}

#[test]
fn an_artifact_that_is_not_a_plugin_is_refused_from_its_config() {
    let registry = Registry::start(None);
    let home = tempfile::tempdir().unwrap();
    let home = home.path();

    // A container image's config: not the wasm layout at all.
    upload_artifact(
        &registry,
        "acme/image",
        "1.0.0",
        ("application/vnd.oci.image.config.v1+json", b"{}"),
        ("application/vnd.oci.image.layer.v1.tar", b"not a tar"),
    );
    let err = fails(
        home,
        &[
            "plugin",
            "install",
            &format!("oci://{}/acme/image:1.0.0", registry.host()),
        ],
    );
    assert!(
        err.contains(
            "is not a Dockwright plugin: its config is `application/vnd.oci.image.config.v1+json`"
        ),
        "{err}"
    );

    // A wasm component, but not a plugin: its config says what it exports.
    let config = br#"{"architecture":"wasm","os":"wasip2","layerDigests":[],"component":{"exports":["wasi:cli/run@0.2.0"],"imports":[]}}"#;
    let layer_digest = upload_artifact(
        &registry,
        "acme/tool",
        "2.0.0",
        ("application/vnd.wasm.config.v0+json", config),
        ("application/wasm", b"\0asm not really"),
    );
    let err = fails(
        home,
        &[
            "plugin",
            "install",
            &format!("oci://{}/acme/tool:2.0.0", registry.host()),
        ],
    );
    assert!(
        err.contains(
            "does not export dockwright:plugin/source@1.x (it exports: wasi:cli/run@0.2.0)"
        ),
        "{err}"
    );
    // The layer was never needed: with its bytes gone from the registry, the answer is the
    // same refusal (a download would have failed on the missing blob instead).
    std::fs::remove_file(registry.blob_path(&layer_digest)).unwrap();
    let again = fails(
        home,
        &[
            "plugin",
            "install",
            &format!("oci://{}/acme/tool:2.0.0", registry.host()),
        ],
    );
    assert!(
        again.contains("does not export dockwright:plugin/source@1.x"),
        "{again}"
    );

    // Nothing there, and a reference without a registry.
    let err = fails(
        home,
        &[
            "plugin",
            "install",
            &format!("oci://{}/acme/nothing:1.0.0", registry.host()),
        ],
    );
    assert!(err.contains("acme/nothing:1.0.0"), "{err}");
    let err = fails(home, &["plugin", "install", "oci://no-registry-part"]);
    assert!(err.contains("oci://<registry>/<repository>"), "{err}");
    assert!(installed(home).is_empty());
}

#[test]
fn pins_and_the_lock_file() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let project = home.join("project");
    let pipeline = write_pipeline(
        &project,
        "name: legacy\nplugins:\n  - name: api-1-0\n    version: \"^0.3\"\n\
         settings:\n  docker:\n    parent_image: python:3.11-slim\n    required_integrations: [legacy-tool]\n",
    );
    let lock = project.join("dockwright.lock");

    // Pinned but not installed.
    let err = fails(home, &["plan", "-f", &pipeline]);
    assert!(
        err.contains("plugin `api-1-0` (^0.3) is not installed")
            && err.contains("dockwright plugin install"),
        "{err}"
    );
    assert!(!lock.exists());

    let api_1_0 = fixture("api-1-0");
    ok(home, &["plugin", "install", api_1_0.to_str().unwrap()]);
    let text = ok(home, &["plan", "-f", &pipeline]);
    assert!(text.contains("wrote"), "{text}");
    let written = std::fs::read_to_string(&lock).unwrap();
    let hex = sha256_of(&api_1_0)
        .trim_start_matches("sha256:")
        .to_string();
    assert!(
        written.contains("name = \"api-1-0\"\nversion = \"0.3.0\"")
            && written.contains(&format!("sha256 = \"{hex}\"")),
        "{written}"
    );
    // The built-in plugin that served nothing here is not recorded; pins always are.
    assert!(!written.contains("name = \"requirements\""), "{written}");
    // Unchanged on the next plan.
    let text = ok(home, &["plan", "-f", &pipeline]);
    assert!(!text.contains("wrote"), "{text}");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), written);

    // The lock came from elsewhere (another build of the plugin): a mismatch is an error,
    // for plan, build and run alike, and the lock is left alone.
    let foreign = written.replace(&hex, &"ab".repeat(32));
    std::fs::write(&lock, &foreign).unwrap();
    for command in ["plan", "build", "run"] {
        let err = fails(home, &[command, "-f", &pipeline]);
        assert!(
            err.contains("does not match the plugins this plan used")
                && err.contains(&format!(
                    "api-1-0: locked 0.3.0 (sha256:{})",
                    "ab".repeat(32)
                ))
                && err.contains("--update-lock"),
            "{command}: {err}"
        );
    }
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), foreign);
    let text = ok(home, &["plan", "--update-lock", "-f", &pipeline]);
    assert!(text.contains("-> updated"), "{text}");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), written);

    // A range the installed version does not match.
    let stricter = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace("^0.3", "^0.4");
    std::fs::write(&pipeline, stricter).unwrap();
    let err = fails(home, &["plan", "-f", &pipeline]);
    assert!(
        err.contains("plugin `api-1-0` must match ^0.4, but version 0.3.0 is installed"),
        "{err}"
    );
}

#[test]
fn a_pipeline_of_built_ins_only_gets_no_lock_unless_asked() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let project = home.join("project");
    let pipeline = write_pipeline(
        &project,
        "name: plain\nsettings:\n  docker:\n    parent_image: python:3.11-slim\n    requirements: [numpy]\n",
    );
    ok(home, &["plan", "-f", &pipeline]);
    assert!(!project.join("dockwright.lock").exists());
    ok(home, &["plan", "--update-lock", "-f", &pipeline]);
    let lock = std::fs::read_to_string(project.join("dockwright.lock")).unwrap();
    assert!(
        lock.contains("name = \"requirements\"") && lock.contains("source = \"built-in\""),
        "{lock}"
    );
}

#[test]
fn an_ungranted_read_capability_is_named_with_how_to_grant_it() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(
        home,
        &["plugin", "install", fixture("reader").to_str().unwrap()],
    );
    let project = home.join("project");
    let yaml = "name: house\nsettings:\n  docker:\n    parent_image: python:3.11-slim\n    required_integrations: [house-style]\n";
    let pipeline = write_pipeline(&project, yaml);
    std::fs::write(project.join("house-requirements.txt"), "black==24.8.0\n").unwrap();

    let err = fails(home, &["requirements", "-f", &pipeline]);
    assert!(
        err.contains("plugin reader 0.2.0: unavailable:")
            && err.contains("asks for the capability `read` but the pipeline does not grant it")
            && err.contains("`grants: {reader: {read: [<directory>]}}`"),
        "{err}"
    );

    // Granted: the same plugin reads the file.
    write_pipeline(
        &project,
        &format!("{yaml}grants:\n  reader:\n    read: [.]\n"),
    );
    let text = ok(home, &["requirements", "-f", &pipeline]);
    assert!(
        text.contains("black==24.8.0") && text.contains("house-requirements.txt:1"),
        "{text}"
    );
}

#[test]
fn a_broken_provider_is_asked_only_by_pipelines_that_may_use_it() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    // Every export of this provider traps (tests/plugins/wat/broken-provider.wat).
    ok(
        home,
        &[
            "plugin",
            "install",
            fixture("broken-provider").to_str().unwrap(),
        ],
    );
    let project = home.join("project");
    let builtin_only = write_pipeline(
        &project,
        "name: p\nsettings:\n  docker:\n    required_integrations: [sklearn]\n",
    );
    let plan = ok_stdout(home, &["plan", "--json", "-f", &builtin_only]);
    assert!(plan.contains("scikit-learn"), "{plan}");
    assert!(!plan.contains("broken-provider"), "{plan}");

    // Listing integrations asks every provider: the failure is the plugin's, by name.
    let err = fails(home, &["integrations", "list"]);
    assert!(
        err.contains("plugin broken-provider 0.1.0: crashed"),
        "{err}"
    );
    // So does a name no built-in provider knows, and pinning the provider.
    let unknown = "name: p\nsettings:\n  docker:\n    required_integrations: [acme_thing]\n";
    write_pipeline(&project, unknown);
    let err = fails(home, &["plan", "-f", &builtin_only]);
    assert!(
        err.contains("plugin broken-provider 0.1.0: crashed"),
        "{err}"
    );
    let pinned = "name: p\nplugins:\n  - {name: broken-provider, version: \"^0.1\"}\n\
                  settings:\n  docker:\n    required_integrations: [sklearn]\n";
    write_pipeline(&project, pinned);
    let err = fails(home, &["plan", "-f", &builtin_only]);
    assert!(
        err.contains("plugin broken-provider 0.1.0: crashed"),
        "{err}"
    );
}

#[test]
fn a_plugin_built_for_api_1_0_loads_and_runs_on_this_host() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let api_1_0 = fixture("api-1-0");
    let inspect: Value = serde_json::from_str(&ok_stdout(
        home,
        &["plugin", "inspect", api_1_0.to_str().unwrap(), "--json"],
    ))
    .unwrap();
    // Built against 1.0.0 (its exports and imports say so), served by this 1.2.0 host.
    assert_eq!(inspect["api_range"], "^1.0");
    assert_eq!(inspect["api"], "1.2.0");
    let exports = inspect["exports"].to_string();
    let imports = inspect["imports"].to_string();
    assert!(
        exports.contains("dockwright:plugin/source@1.0.0"),
        "{exports}"
    );
    assert!(
        imports.contains("dockwright:plugin/host@1.0.0"),
        "{imports}"
    );
    assert!(
        !imports.contains("@1.1.0") && !imports.contains("@1.2.0"),
        "{imports}"
    );

    ok(home, &["plugin", "install", api_1_0.to_str().unwrap()]);
    let pipeline = write_pipeline(
        &home.join("project"),
        "name: legacy\nsettings:\n  docker:\n    required_integrations: [legacy-tool]\n",
    );
    let text = ok(home, &["requirements", "-f", &pipeline]);
    assert!(
        text.contains("legacy-tool==1.0.0") && text.contains("(api-1-0 0.3.0)"),
        "{text}"
    );
}

#[test]
fn the_example_provider_from_a_file_and_from_a_registry() {
    let wasm = example_plugin();
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(home, &["plugin", "install", wasm.to_str().unwrap()]);

    let list: Value =
        serde_json::from_str(&ok_stdout(home, &["integrations", "list", "--json"])).unwrap();
    let acme: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["provider"] == "acme-integrations 0.1.0")
        .collect();
    let names: Vec<&str> = acme.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["acme_feature_store", "acme_model_registry", "feast"]
    );
    assert_eq!(acme[0]["apt_packages"], serde_json::json!(["libpq5"]));

    // The example's pipeline, copied out of the repository (plans write dockwright.lock).
    let project = home.join("project");
    let example = std::fs::read_to_string(
        repo_root().join("examples/custom-provider/pipeline/dockwright.yaml"),
    )
    .unwrap();
    let pipeline = write_pipeline(&project, &example);
    let plan: Value =
        serde_json::from_str(&ok_stdout(home, &["plan", "--json", "-f", &pipeline])).unwrap();
    let image = &plan["images"][0];
    assert_eq!(image["apt_packages"], serde_json::json!(["libpq5"]));
    let lines = image["requirements"].to_string();
    for line in [
        "feast>=0.40,<1",
        "redis>=5",
        "feast[redis,postgres]==0.40.1",
        "scikit-learn",
    ] {
        assert!(lines.contains(line), "{line} missing: {lines}");
    }
    assert!(
        !lines.contains("feast>=0.12.0"),
        "ZenML's feast won: {lines}"
    );
    let lock = std::fs::read_to_string(project.join("dockwright.lock")).unwrap();
    assert!(
        lock.contains("name = \"acme-integrations\"") && lock.contains("name = \"integrations\""),
        "{lock}"
    );

    // Two providers claim `feast`: without integration_providers the plan names both.
    let undecided = example.replace("integration_providers:\n  feast: acme-integrations\n", "");
    assert_ne!(undecided, example);
    write_pipeline(&project, &undecided);
    let err = fails(home, &["plan", "-f", &pipeline]);
    assert!(
        err.contains("integration `feast` is provided by more than one plugin: integrations 1.0.0 and acme-integrations 0.1.0")
            && err.contains("e.g. `integration_providers: {feast: integrations}` or `integration_providers: {feast: acme-integrations}`"),
        "{err}"
    );
    // The built-in one chosen instead.
    write_pipeline(
        &project,
        &example.replace("feast: acme-integrations", "feast: integrations"),
    );
    let text = ok(home, &["requirements", "-f", &pipeline]);
    assert!(
        text.contains("feast>=0.12.0") && !text.contains("feast[redis,postgres]"),
        "{text}"
    );
    // A provider that does not exist.
    write_pipeline(
        &project,
        &example.replace("feast: acme-integrations", "feast: acme"),
    );
    let err = fails(home, &["plan", "-f", &pipeline]);
    assert!(
        err.contains("`acme` (for `feast`) is not an installed integration provider"),
        "{err}"
    );

    // Published, then installed on another machine from the registry: the same plugin.
    let registry = Registry::start(None);
    let reference = format!("oci://{}/acme/integrations", registry.host());
    ok(
        home,
        &["plugin", "push", wasm.to_str().unwrap(), &reference],
    );
    let other = tempfile::tempdir().unwrap();
    let other = other.path();
    ok(other, &["plugin", "install", &format!("{reference}:0.1.0")]);
    assert_eq!(installed(other)[0]["digest"], sha256_of(&wasm));
    let pipeline = write_pipeline(&other.join("project"), &example);
    let text = ok(other, &["requirements", "-f", &pipeline]);
    assert!(
        text.contains("acme_feature_store (acme-integrations 0.1.0)"),
        "{text}"
    );
}

#[test]
fn plugin_new_scaffolds_a_crate_that_builds_out_of_tree_and_upgrades_by_version() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let dir = home.join("acme-thing");
    let sdk = repo_root().join("plugins/sdk");
    let text = ok(
        home,
        &[
            "plugin",
            "new",
            "acme-thing",
            "--dir",
            dir.to_str().unwrap(),
            "--sdk",
            sdk.to_str().unwrap(),
        ],
    );
    assert!(
        text.contains("cargo build --release --target wasm32-wasip2"),
        "{text}"
    );
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!("path = \"{}\"", sdk.display())),
        "{manifest}"
    );

    // Built as it is, outside the workspace (a target dir kept between runs for speed).
    let target = repo_root().join("target/tmp/scaffold-target");
    let build = |version: &str| {
        let out = cargo()
            .args([
                "build",
                "--offline",
                "--release",
                "--target",
                "wasm32-wasip2",
            ])
            .arg("--target-dir")
            .arg(&target)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the scaffold does not build:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let wasm = target.join("wasm32-wasip2/release/acme_thing.wasm");
        let copy = home.join(format!("acme-thing-{version}.wasm"));
        std::fs::copy(&wasm, &copy).unwrap();
        copy
    };
    let first = build("0.1.0");
    ok(home, &["plugin", "install", first.to_str().unwrap()]);
    let list: Value =
        serde_json::from_str(&ok_stdout(home, &["integrations", "list", "--json"])).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "acme-thing" && i["provider"] == "acme-thing 0.1.0"),
        "{list}"
    );

    // A newer version replaces it; going back needs --force.
    std::fs::write(
        dir.join("Cargo.toml"),
        manifest.replace("version = \"0.1.0\"", "version = \"0.2.0\""),
    )
    .unwrap();
    let second = build("0.2.0");
    let text = ok(home, &["plugin", "install", second.to_str().unwrap()]);
    assert!(
        text.contains("installed acme-thing 0.2.0") && text.contains("replacing 0.1.0"),
        "{text}"
    );
    assert!(home.join("data/plugins/acme-thing-0.2.0.wasm").is_file());
    assert!(!home.join("data/plugins/acme-thing-0.1.0.wasm").exists());
    let err = fails(home, &["plugin", "install", first.to_str().unwrap()]);
    assert!(
        err.contains("acme-thing 0.2.0 is installed, which is newer than 0.1.0; pass --force"),
        "{err}"
    );
    ok(
        home,
        &["plugin", "install", "--force", first.to_str().unwrap()],
    );
    let list = installed(home);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["version"], "0.1.0");
}
