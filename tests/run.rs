//! `dockwright build` and `dockwright run` end to end, through the real binary against the real
//! Docker engine of this machine (no mocks): the example pipeline, reuse by build key (no
//! build request reaches the engine), a code-only change rebuilding only the source layer,
//! failing installs and steps, ENV values that must survive exactly, installs on three kinds
//! of parent with pip and uv, pushes to Debian's `docker-registry` on loopback, an
//! unreachable engine, independent steps running at the same time, images reused from the
//! registry another machine pushed to, and runs on Kubernetes (a fake API server: no cluster
//! runs here) or written as Jobs with `--dry-run`.
//!
//! Python packages come from a wheelhouse made with `pip download` on the host and served on
//! loopback by `python3 -m http.server`; builds reach it on the host network
//! (`PIP_FIND_LINKS` / `UV_FIND_LINKS` in `environment`). No assertion depends on timing;
//! every test uses its own image names, pipeline names (hence artifact volumes) and
//! Dockwright cache directory, and removes what it made.
//!
//! Needs: a running engine, and the packages of `scripts/ci-deps.sh`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use dockwright_tests::{
    BASE_IMAGE, EngineProxy, Home, Project, Registry, WheelServer, base64, docker, image_id,
    index_settings, repo_root, run, unique, wheelhouse, write_docker_config, yaml_str,
};
use serde_json::Value;

/// Everything the pipelines here install, downloaded once into the target directory.
fn wheels() -> PathBuf {
    wheelhouse(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-wheelhouse"),
        &["six==1.16.0", "uv"],
    )
}

fn image_layers(name: &str) -> Vec<String> {
    let out = docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        name,
    ]);
    assert!(out.status.success(), "inspect {name}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `docker history` of an image: (id, created by) per layer, newest first.
fn history(name: &str) -> Vec<(String, String)> {
    let out = docker(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}}\t{{.CreatedBy}}",
        name,
    ]);
    assert!(out.status.success(), "history {name}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (id, by) = l.split_once('\t').unwrap();
            (id.to_string(), by.to_string())
        })
        .collect()
}

/// Removes the images (by name, so images other tests tagged stay) and artifact volumes a
/// test made, even when it fails.
#[derive(Default)]
struct Cleanup {
    images: Vec<String>,
    volumes: Vec<String>,
}

impl Cleanup {
    fn of_image(image: &str) -> Cleanup {
        Cleanup {
            images: vec![image.to_string()],
            volumes: Vec::new(),
        }
    }

    /// The artifact volume `dockwright run` makes for `pipeline`.
    fn volume_of(&mut self, pipeline: &str) {
        self.volumes
            .push(format!("dockwright-{pipeline}-artifacts"));
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for image in &self.images {
            let _ = docker(&["image", "rm", image]);
        }
        for volume in &self.volumes {
            let _ = docker(&["volume", "rm", "-f", volume]);
        }
    }
}

/// Python's `repr` of a str of printable ASCII, newlines and tabs.
fn python_repr(value: &str) -> String {
    let quote = if value.contains('\'') && !value.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The example pipeline (examples/training) copied into a temp dir, with a name, image and
/// index of this test's own, and the wheels it installs in the wheelhouse.
fn example_pipeline(home: &Home, name: &str, repository: &str) -> (Project, WheelServer) {
    let project = Project::new(&[]);
    copy_dir(&repo_root().join("examples/training"), project.dir.path());
    let yaml = std::fs::read_to_string(project.dir.path().join("dockwright.yaml")).unwrap();
    let port = "http://127.0.0.1:8765/";
    let edits = [
        ("name: training\n", format!("name: {name}\n")),
        (
            "    python_package_installer: pip\n",
            format!(
                "    python_package_installer: pip\n    target_repository: {repository}\n    image_tag: example\n"
            ),
        ),
    ];
    let mut edited = yaml;
    for (from, to) in edits {
        assert!(edited.contains(from), "the example has no `{from}`");
        edited = edited.replacen(from, &to, 1);
    }
    assert!(edited.contains(port), "the example's index is {port}");
    project.write("dockwright.yaml", &edited);

    // Whatever the example's requirement sources give, from the wheelhouse.
    let plan = run(home.dockwright(&["plan", "--json", "-f", &project.file()]));
    plan.ok();
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let lines: Vec<String> = plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|image| image["requirements"].as_array().unwrap().clone())
        .flat_map(|file| file["lines"].as_array().unwrap().clone())
        .filter_map(|line| line.as_str().map(str::to_string))
        .filter(|line| !line.starts_with(['-', '#']))
        .collect();
    assert!(!lines.is_empty(), "the example installs something: {plan}");
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let server = WheelServer::start(&wheelhouse(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-wheelhouse"),
        &lines,
    ));
    project.write("dockwright.yaml", &edited.replace(port, &server.url()));
    (project, server)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_example_pipeline_runs_reuses_without_a_build_and_rebuilds_only_the_source_layer() {
    let home = Home::new();
    let name = unique("example");
    let repository = format!("dockwright-test/{name}");
    let image = format!("{repository}:example");
    let (project, _server) = example_pipeline(&home, &name, &repository);
    let mut cleanup = Cleanup::default();
    cleanup.images.push(image.clone());
    cleanup.volume_of(&name);

    // First run: built, then the three steps in order, sharing the artifacts volume.
    let first = run(home.dockwright(&["run", "-f", &project.file()]));
    first.ok();
    assert!(
        first.stderr.contains(&format!("{image}: built")),
        "{}",
        first.stderr
    );
    assert!(
        first
            .stdout
            .contains("[load] wrote 200 samples with 3 features to /artifacts"),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("[train] trained ridge \"v1\" $HOME with alpha=0.5"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("[evaluate] max abs error 0.0"),
        "{}",
        first.stdout
    );
    assert!(
        first.stderr.contains("all 3 step(s) of"),
        "{}",
        first.stderr
    );
    let built = image_id(&image).expect("the image is tagged");
    cleanup.images.push(built.clone());
    assert_one_step_per_instruction_and_one_label_step(&home, &project, &built);

    // Second build: reused by build key, through a proxy that sees every request: the
    // engine is asked for the key, and no build (no context) is sent.
    let proxy = EngineProxy::start();
    let second = run(home
        .dockwright(&["build", "-f", &project.file()])
        .env("DOCKER_HOST", proxy.docker_host()));
    second.ok();
    assert!(
        second
            .stderr
            .contains(&format!("{image}: reused (unchanged build key)")),
        "{}",
        second.stderr
    );
    assert_eq!(image_id(&image).as_deref(), Some(built.as_str()));
    let requests = proxy.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /images/") && r.ends_with("/json")),
        "the proxy saw the image looked up: {requests:?}"
    );
    assert!(
        !requests.iter().any(|r| r.starts_with("POST ")),
        "a reused image sends no build (no context) and changes nothing: {requests:?}"
    );

    // A code-only change: only the context changed, so only the layer of the source files
    // is new; the apt and install layers are the same layers as before.
    let explain = run(home.dockwright(&["plan", "--explain", "-f", &project.file()]));
    explain.ok();
    assert!(
        explain.stdout.contains("unchanged since the last build"),
        "{}",
        explain.stdout
    );
    let train = project.dir.path().join("steps/train.py");
    let mut code = std::fs::read_to_string(&train).unwrap();
    code.push_str("# a code-only change\n");
    std::fs::write(&train, code).unwrap();
    let explain = run(home.dockwright(&["plan", "--explain", "-f", &project.file()]));
    explain.ok();
    assert!(
        explain.stdout.contains("changed: context")
            && !explain.stdout.contains("changed: generated dockerfile"),
        "{}",
        explain.stdout
    );
    let proxy = EngineProxy::start();
    let third = run(home
        .dockwright(&["build", "-f", &project.file()])
        .env("DOCKER_HOST", proxy.docker_host()));
    third.ok();
    assert!(
        third.stderr.contains(&format!("{image}: built")),
        "{}",
        third.stderr
    );
    assert!(
        proxy.requests().iter().any(|r| r.ends_with("/build")),
        "the proxy sees a build when there is one: {:?}",
        proxy.requests()
    );
    let rebuilt = image_id(&image).unwrap();
    cleanup.images.push(rebuilt.clone());
    assert_ne!(rebuilt, built);

    let (before, after) = (image_layers(&built), image_layers(&rebuilt));
    assert_eq!(before.len(), after.len(), "{before:?}\n{after:?}");
    let last = before.len() - 1;
    assert_eq!(
        before[..last],
        after[..last],
        "only the last layer may differ"
    );
    assert_ne!(
        before[last], after[last],
        "the source layer holds the change"
    );
    let install = |history: &[(String, String)]| {
        history
            .iter()
            .find(|(_, by)| by.contains("pip install"))
            .map(|(id, _)| id.clone())
            .expect("an install layer")
    };
    let (old_history, new_history) = (history(&built), history(&rebuilt));
    assert_eq!(install(&old_history), install(&new_history));
    assert!(
        install(&new_history).starts_with("sha256:"),
        "{new_history:?}"
    );
    let copy = |history: &[(String, String)]| {
        history
            .iter()
            // `COPY --chown=… . .` (the parent's user owns /app) shows as `COPY --chown=0dir:… in .`.
            .find(|(_, by)| by.contains("COPY") && (by.contains("dir:") || by.contains(" . .")))
            .map(|(id, _)| id.clone())
            .expect("the source layer")
    };
    assert_ne!(copy(&old_history), copy(&new_history));
}

/// On the classic builder every instruction is a step of its own (a container and a commit,
/// seconds each), and every label of the build request one more `LABEL` step after the
/// largest layer: the image holds one step per instruction of the Dockerfile `plan` gives
/// for a parent that runs as root (the example's does) and a single label step (the build
/// key's), however many values the label carries. None of the steps hands the image over to
/// another user: those instructions would change nothing and cost a commit each.
fn assert_one_step_per_instruction_and_one_label_step(home: &Home, project: &Project, image: &str) {
    let plan = run(home.dockwright(&["plan", "--json", "-f", &project.file()]));
    plan.ok();
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let build = &plan["images"][0]["build"];
    let variant = build["dockerfile_for_root_parent"].as_str().unwrap();
    let dockerfile = build["extra_files"][variant].as_str().unwrap();
    let general = plan["images"][0]["dockerfile"].as_str().unwrap();
    let instructions = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()) && !l.starts_with("FROM "))
            .count()
    };
    assert!(
        instructions(dockerfile) + 3 <= instructions(general),
        "{dockerfile}\n{general}"
    );
    let steps = history(image);
    let own = &steps[..steps.len() - history(BASE_IMAGE).len()];
    let labels = own.iter().filter(|(_, by)| by.contains(" LABEL ")).count();
    assert_eq!(labels, 1, "{own:#?}");
    assert_eq!(
        own.len(),
        instructions(dockerfile) + 1,
        "{dockerfile}\n{own:#?}"
    );
    assert!(
        !own.iter()
            .any(|(_, by)| by.contains("#(nop)  USER ") || by.contains("DOCKWRIGHT_PARENT_USER")),
        "{own:#?}"
    );
}

#[test]
fn a_failing_pip_install_shows_pips_error_and_leaves_no_tag_and_no_record() {
    let home = Home::new();
    let server = WheelServer::start(&wheels());
    let name = unique("pip-fails");
    let image = format!("dockwright-test/{name}:failing");
    let project = Project::new(&[(
        "dockwright.yaml",
        &format!(
            "name: {name}\nsettings:\n  docker:\n    parent_image: {BASE_IMAGE}\n    target_repository: dockwright-test/{name}\n    image_tag: failing\n    python_package_installer: pip\n    requirements: [six==1.16.0, dockwright-no-such-package==1.0]\n{}steps:\n  - name: never\n    command: [\"true\"]\n",
            index_settings(&server, &[])
        ),
    )]);
    let _cleanup = Cleanup::of_image(&image);

    let failed = run(home.dockwright(&["build", "-f", &project.file()]));
    failed.failed();
    let error = failed
        .stderr
        .split_once("error: ")
        .map(|(_, e)| e)
        .unwrap_or_else(|| panic!("no error line:\n{}", failed.stderr));
    assert!(
        error.contains("pip install") && error.contains("returned a non-zero code"),
        "the failing instruction is named:\n{error}"
    );
    assert_eq!(
        error
            .matches("No matching distribution found for dockwright-no-such-package==1.0")
            .count(),
        1,
        "pip's own error is shown, once:\n{error}"
    );
    assert_eq!(image_id(&image), None, "a failed build is not tagged");
    assert!(home.records().is_empty(), "{:?}", home.records());
    let explain = run(home.dockwright(&["plan", "--explain", "-f", &project.file()]));
    explain.ok();
    assert!(
        explain.stdout.contains("no recorded build of this image"),
        "{}",
        explain.stdout
    );
}

#[test]
fn a_failing_step_stops_the_run_with_its_exit_status() {
    let home = Home::new();
    let name = unique("step-fails");
    let project = Project::new(&[(
        "dockwright.yaml",
        &format!(
            "name: {name}\nsettings:\n  docker:\n    parent_image: {BASE_IMAGE}\nsteps:\n  - name: prepare\n    command: [sh, -c, \"echo prepared\"]\n  - name: train\n    command: [sh, -c, \"echo training; exit 7\"]\n    after: [prepare]\n  - name: evaluate\n    command: [sh, -c, \"echo evaluated\"]\n    after: [train]\n"
        ),
    )]);
    let mut cleanup = Cleanup::default();
    cleanup.volume_of(&name);

    let ran = run(home.dockwright(&["run", "-f", &project.file()]));
    assert_eq!(
        ran.code,
        Some(7),
        "the step's status is Dockwright's\n{}\n{}",
        ran.stdout,
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("step `train` failed with exit status 7"),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.contains("[prepare] prepared"), "{}", ran.stdout);
    assert!(ran.stdout.contains("[train] training"), "{}", ran.stdout);
    assert!(
        !ran.stdout.contains("evaluated") && !ran.stderr.contains("succeeded"),
        "nothing ran after the failed step:\n{}\n{}",
        ran.stdout,
        ran.stderr
    );
}

/// Values a Dockerfile or a shell would mangle if they were not quoted exactly.
const AWKWARD_VALUES: [(&str, &str); 5] = [
    ("QUOTES", r#"it's "quoted""#),
    (
        "DOLLAR",
        "$HOME and ${PATH} and ${DOCKWRIGHT_NEWLINE} stay literal",
    ),
    ("SPACES", "  leading,  inner   and trailing  "),
    ("NEWLINES", "line one\nline two\n"),
    ("BACKSLASH", r"C:\new\table \\ \"),
];

#[test]
fn env_values_with_quotes_dollars_spaces_and_newlines_arrive_intact() {
    let home = Home::new();
    let name = unique("env");
    let image = format!("dockwright-test/{name}:env");
    let block = |prefix: &str| -> String {
        AWKWARD_VALUES
            .iter()
            .map(|(k, v)| format!("      {prefix}_{k}: {}\n", yaml_str(v)))
            .collect()
    };
    let keys: Vec<String> = ["BUILD", "RUNTIME", "STEP"]
        .iter()
        .flat_map(|p| AWKWARD_VALUES.iter().map(move |(k, _)| format!("{p}_{k}")))
        .collect();
    let script = format!("import os\nfor k in {keys:?}: print(k, repr(os.environ[k]))\n");
    let project = Project::new(&[(
        "dockwright.yaml",
        &format!(
            "name: {name}\nsettings:\n  docker:\n    parent_image: {BASE_IMAGE}\n    target_repository: dockwright-test/{name}\n    image_tag: env\n    environment:\n{}    runtime_environment:\n{}steps:\n  - name: show\n    command: [python3, -c, {}]\n    environment:\n{}",
            block("BUILD"),
            block("RUNTIME"),
            yaml_str(&script),
            block("STEP"),
        ),
    )]);
    let mut cleanup = Cleanup::of_image(&image);
    cleanup.volume_of(&name);

    // The values go through the generated Dockerfile (build and runtime ENV) and the
    // container's environment (the step's).
    let plan = run(home.dockwright(&["plan", "--json", "-f", &project.file()]));
    plan.ok();
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let dockerfile = plan["images"][0]["dockerfile"].as_str().unwrap();
    // One ENV instruction per place: the build environment, then the runtime one.
    assert_eq!(dockerfile.matches("\nENV ").count(), 2, "{dockerfile}");
    assert!(
        dockerfile.contains("BUILD_NEWLINES=") && dockerfile.contains("RUNTIME_QUOTES="),
        "{dockerfile}"
    );
    assert_eq!(
        plan["images"][0]["build"]["build_args"]["DOCKWRIGHT_NEWLINE"],
        "\n"
    );

    let ran = run(home.dockwright(&["run", "-f", &project.file()]));
    ran.ok();
    let shown: Vec<&str> = ran
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("[show] "))
        .collect();
    let expected: Vec<String> = ["BUILD", "RUNTIME", "STEP"]
        .iter()
        .flat_map(|p| {
            AWKWARD_VALUES
                .iter()
                .map(move |(k, v)| format!("{p}_{k} {}", python_repr(v)))
        })
        .collect();
    assert_eq!(shown, expected, "stderr:\n{}", ran.stderr);
}

/// A pipeline whose image is a small build on the base image (one ENV line), named
/// `[<registry>/]<repository>:<tag>`, the registry being the stack's container registry.
fn small_pipeline(name: &str, registry: Option<&str>, repository: &str, tag: &str) -> Project {
    let stack = registry
        .map(|uri| format!("stack:\n  container_registry: {{flavor: default, uri: {uri}}}\n"))
        .unwrap_or_default();
    Project::new(&[(
        "dockwright.yaml",
        &format!(
            "name: {name}\n{stack}settings:\n  docker:\n    parent_image: {BASE_IMAGE}\n    target_repository: {repository}\n    image_tag: {tag}\n    environment:\n      BUILT_FOR: {name}\nsteps:\n  - name: only\n    command: [\"true\"]\n"
        ),
    )])
}

/// `build --push --json` output: the results, of which the one named `image`.
fn pushed_digest(stdout: &str, image: &str) -> String {
    let results: Value = serde_json::from_str(stdout).unwrap();
    let result = results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == image)
        .unwrap_or_else(|| panic!("no result for {image}: {results}"));
    result["pushed_digest"]
        .as_str()
        .unwrap_or_else(|| panic!("no pushed digest: {result}"))
        .to_string()
}

#[test]
fn pushes_to_an_open_registry_on_loopback_and_records_the_digest() {
    let home = Home::new();
    let registry = Registry::start(None);
    let name = unique("push-open");
    let image = format!("{}/dockwright-test/{name}:v1", registry.host());
    let project = small_pipeline(
        &name,
        Some(&format!("{}/dockwright-test", registry.host())),
        &name,
        "v1",
    );
    let _cleanup = Cleanup::of_image(&image);

    let pushed = run(home.dockwright(&["build", "--push", "--json", "-f", &project.file()]));
    pushed.ok();
    let digest = pushed_digest(&pushed.stdout, &image);
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(
        registry
            .manifest_digest(&format!("dockwright-test/{name}"), "v1", None)
            .as_deref(),
        Some(digest.as_str()),
        "the registry holds what was recorded"
    );
    assert!(
        pushed
            .stderr
            .contains(&format!("{image}: built, pushed {digest}")),
        "{}",
        pushed.stderr
    );
    let records = home.records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["name"], image);
    assert_eq!(records[0]["pushed_digest"], digest.as_str());
}

#[test]
fn pushes_with_the_users_docker_credentials_and_records_nothing_pushed_on_refusal() {
    let home = Home::new();
    let registry = Registry::start(Some(("alice", "s3cret pass")));
    let name = unique("push-auth");
    let image = format!("{}/dockwright-test/{name}:v1", registry.host());
    // The stack's container registry names the image and makes every build push.
    let project = small_pipeline(
        &name,
        Some(&format!("{}/dockwright-test", registry.host())),
        &name,
        "v1",
    );
    let _cleanup = Cleanup::of_image(&image);

    // No credentials in the Docker config: the registry refuses, the error says so, and
    // the build is on record but nothing is recorded as pushed.
    let refused = run(home.dockwright(&["build", "--json", "-f", &project.file()]));
    refused.failed();
    assert!(
        refused.stderr.contains(&format!("pushing {image} failed"))
            && refused.stderr.contains("refused the credentials"),
        "{}",
        refused.stderr
    );
    let records = home.records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["pushed_digest"], Value::Null);
    // The registry lookup before the build was refused too: said once, then built here.
    let refusals: Vec<&str> = refused
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: images built elsewhere cannot be reused"))
        .collect();
    assert_eq!(refusals.len(), 1, "{}", refused.stderr);
    assert!(
        refusals[0].contains("refused the credentials"),
        "{}",
        refusals[0]
    );

    // With `docker login`'s entry in the Docker config: pushed, digest recorded.
    write_docker_config(&home.docker_config, &registry.host(), "alice:s3cret pass");
    let pushed = run(home.dockwright(&["build", "--json", "-f", &project.file()]));
    pushed.ok();
    assert!(
        pushed.stderr.contains(&format!(
            "{image}: reused (unchanged build key), pushed sha256:"
        )),
        "{}",
        pushed.stderr
    );
    let digest = pushed_digest(&pushed.stdout, &image);
    assert_eq!(
        registry
            .manifest_digest(
                &format!("dockwright-test/{name}"),
                "v1",
                Some(&base64("alice:s3cret pass"))
            )
            .as_deref(),
        Some(digest.as_str())
    );
    assert_eq!(home.records()[0]["pushed_digest"], digest.as_str());
}

#[test]
fn an_unreachable_engine_is_one_clear_line_and_a_failure() {
    let home = Home::new();
    let name = unique("no-engine");
    let project = small_pipeline(&name, None, "dockwright-test/no-engine", "never");
    let ran = run(home
        .dockwright(&["build", "-f", &project.file()])
        .env("DOCKER_HOST", "unix:///nonexistent.sock"));
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    let errors: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.starts_with("error") || l.starts_with("  ") || l.contains("Caused by"))
        .collect();
    assert_eq!(
        errors,
        [
            "error: cannot reach the Docker engine at unix:///nonexistent.sock: no socket at /nonexistent.sock; is it running? \
         set DOCKER_HOST to the engine's address (unix:///path/to/docker.sock, tcp://host:2376, ssh://user@host)"
        ],
        "one line, no chain of causes:\n{}",
        ran.stderr
    );
    assert!(home.records().is_empty());
}

#[test]
fn independent_steps_run_at_the_same_time_with_two_jobs() {
    let home = Home::new();
    let name = unique("jobs");
    // Each of `left` and `right` writes when it started, waits until the other has started
    // (so they can only both finish if they ran at the same time; a long deadline instead
    // of a deadlock otherwise), and writes when it ended. `report` reads the four times.
    let meet = |me: &str, other: &str| {
        yaml_str(&format!(
            "import os, time\n\
             a = os.environ['DOCKWRIGHT_ARTIFACTS']\n\
             open(f'{{a}}/{me}.start', 'w').write(str(time.time_ns()))\n\
             deadline = time.time() + 600\n\
             while not os.path.exists(f'{{a}}/{other}.start'):\n    \
                 assert time.time() < deadline, 'the other step never started'\n    \
                 time.sleep(0.1)\n\
             open(f'{{a}}/{me}.end', 'w').write(str(time.time_ns()))\n\
             print('{me} met {other}')\n"
        ))
    };
    let report = yaml_str(
        "import os\na = os.environ['DOCKWRIGHT_ARTIFACTS']\n\
         for n in ('left.start', 'left.end', 'right.start', 'right.end'): print(n, open(f'{a}/{n}').read())\n",
    );
    let project = Project::new(&[(
        "dockwright.yaml",
        &format!(
            "name: {name}\nsettings:\n  docker:\n    parent_image: {BASE_IMAGE}\nsteps:\n  - name: left\n    command: [python3, -c, {}]\n  - name: right\n    command: [python3, -c, {}]\n  - name: report\n    command: [python3, -c, {report}]\n    after: [left, right]\n",
            meet("left", "right"),
            meet("right", "left"),
        ),
    )]);
    let mut cleanup = Cleanup::default();
    cleanup.volume_of(&name);

    let ran = run(home.dockwright(&["run", "--jobs", "2", "-f", &project.file()]));
    ran.ok();
    assert!(
        ran.stdout.contains("[left] left met right"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("[right] right met left"),
        "{}",
        ran.stdout
    );
    let time = |what: &str| -> u128 {
        ran.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("[report] {what} ")))
            .unwrap_or_else(|| panic!("no {what} in\n{}", ran.stdout))
            .parse()
            .unwrap()
    };
    let (left, right) = (
        (time("left.start"), time("left.end")),
        (time("right.start"), time("right.end")),
    );
    assert!(
        left.0 < right.1 && right.0 < left.1,
        "the two steps' intervals overlap: left {left:?}, right {right:?}"
    );
}

/// The three kinds of parent an install must work on, made from the base image.
#[derive(Clone, Copy, Debug)]
enum ParentKind {
    /// Like the official `python:` images: a Python that is not marked externally managed.
    Official,
    /// An active virtualenv (`VIRTUAL_ENV` set, `PATH` into it), as ZenML's images have.
    Virtualenv,
    /// Debian's `python3`, marked externally managed (PEP 668): the base image itself.
    ExternallyManaged,
}

impl ParentKind {
    /// The parent image (built here when it is not the base image) and where `six` must
    /// land in it.
    fn prepare(self, cleanup: &mut Cleanup) -> (String, &'static str) {
        let dockerfile = match self {
            ParentKind::ExternallyManaged => {
                return (
                    BASE_IMAGE.to_string(),
                    "/usr/local/lib/python3.11/dist-packages/",
                );
            }
            ParentKind::Official => {
                format!("FROM {BASE_IMAGE}\nRUN rm -f /usr/lib/python3*/EXTERNALLY-MANAGED\n")
            }
            ParentKind::Virtualenv => format!(
                "FROM {BASE_IMAGE}\nRUN python3 -m venv /opt/venv\nENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH\n"
            ),
        };
        let tag = format!(
            "dockwright-test/parent:{}",
            unique(&format!("{self:?}").to_lowercase())
        );
        cleanup.images.push(tag.clone());
        let mut child = Command::new("docker")
            .args(["build", "--quiet", "--tag", &tag, "-"])
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker build");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dockerfile.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "building the {self:?} parent failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let site = match self {
            ParentKind::Virtualenv => "/opt/venv/lib/python3.11/site-packages/",
            _ => "/usr/local/lib/python3.11/dist-packages/",
        };
        (tag, site)
    }
}

/// Plans and builds an image installing `six` with `installer` on a parent of `kind`, then
/// imports it in a step.
fn installs_on(kind: ParentKind, installer: &str) {
    let home = Home::new();
    let server = WheelServer::start(&wheels());
    let mut cleanup = Cleanup::default();
    let (parent, site) = kind.prepare(&mut cleanup);
    let name = unique(&format!("{kind:?}-{installer}").to_lowercase());
    let image = format!("dockwright-test/{name}:installs");
    cleanup.images.push(image.clone());
    cleanup.volume_of(&name);
    // The run's own value in `environment` makes a fresh build key and misses the layer
    // cache before the installs, so the installs really run.
    let project = Project::new(&[(
        "dockwright.yaml",
        &format!(
            "name: {name}\nsettings:\n  docker:\n    parent_image: {parent}\n    target_repository: dockwright-test/{name}\n    image_tag: installs\n    python_package_installer: {installer}\n    requirements: [six==1.16.0]\n{}steps:\n  - name: check\n    command: [python3, -c, \"import six, sys; print('six', six.__version__, six.__file__, sys.prefix)\"]\n",
            index_settings(&server, &[("TEST_RUN", &name)]),
        ),
    )]);
    let ran = run(home.dockwright(&["run", "-f", &project.file()]));
    ran.ok();
    assert!(
        ran.stderr.contains(&format!("{image}: built")),
        "{}",
        ran.stderr
    );
    let line = ran
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("[check] six "))
        .unwrap_or_else(|| panic!("{}\n{}", ran.stdout, ran.stderr));
    assert!(
        line.starts_with(&format!("1.16.0 {site}six.py")),
        "{kind:?} with {installer}: {line}"
    );
    if installer == "uv" {
        assert!(
            ran.stderr.contains("command -v uv"),
            "uv is bootstrapped when the parent lacks it:\n{}",
            ran.stderr
        );
    }
}

#[test]
fn pip_installs_on_an_official_python_like_parent() {
    installs_on(ParentKind::Official, "pip");
}

#[test]
fn pip_installs_on_a_virtualenv_parent() {
    installs_on(ParentKind::Virtualenv, "pip");
}

#[test]
fn pip_installs_on_an_externally_managed_python() {
    installs_on(ParentKind::ExternallyManaged, "pip");
}

#[test]
fn uv_installs_on_an_official_python_like_parent() {
    installs_on(ParentKind::Official, "uv");
}

#[test]
fn uv_installs_on_a_virtualenv_parent() {
    installs_on(ParentKind::Virtualenv, "uv");
}

#[test]
fn uv_installs_on_an_externally_managed_python() {
    installs_on(ParentKind::ExternallyManaged, "uv");
}

// ---- the project install, local paths, non-root parents ---------------------------------------

/// What the pipelines below install: the wheels of [`wheels`], and setuptools, the build
/// backend of the local projects (pip and uv build them in isolation, from the index).
fn project_wheels() -> PathBuf {
    wheelhouse(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-wheelhouse"),
        &["six==1.16.0", "uv", "setuptools"],
    )
}

/// A `pyproject.toml` for the package `name`, built by setuptools from `src/<name>`.
fn pyproject(name: &str) -> String {
    format!(
        "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"0.1.0\"\n"
    )
}

/// The settings that point pip and uv at the wheel server, plus `UV_DEFAULT_INDEX` there
/// too: uv has no variable for `--no-index`, and a user's command gets no installer args, so
/// uv's build of a project would otherwise look for setuptools on the public index.
fn project_index_settings(server: &WheelServer, run: &str) -> String {
    index_settings(
        server,
        &[("TEST_RUN", run), ("UV_DEFAULT_INDEX", &server.url())],
    )
}

/// ZenML's two documented `local_project_install_command`s, `pip install -e .` and `uv pip
/// install --no-deps -e .`, each in a step image of its own on a parent of `kind`: the
/// installed project imports in the step (from `src/`, so only an install makes it
/// importable), in the parent's own Python.
fn project_installs_on(kind: ParentKind) {
    let home = Home::new();
    let server = WheelServer::start(&project_wheels());
    let mut cleanup = Cleanup::default();
    let (parent, _) = kind.prepare(&mut cleanup);
    let name = unique(&format!("project-{kind:?}").to_lowercase());
    cleanup.volume_of(&name);
    let commands = [
        ("pip", "pip install -e ."),
        ("uv", "uv pip install --no-deps -e ."),
    ];
    let mut steps = String::new();
    for (tag, command) in commands {
        cleanup.images.push(format!("dockwright-test/{name}:{tag}"));
        steps.push_str(&format!(
            "  - name: {tag}\n    command: [python3, -c, \"import myproj, sys; print('myproj', myproj.__file__, sys.prefix)\"]\n    settings:\n      docker:\n        image_tag: {tag}\n        local_project_install_command: {command}\n"
        ));
    }
    let project = Project::new(&[
        ("pyproject.toml", &pyproject("myproj")),
        ("src/myproj/__init__.py", "NAME = 'myproj'\n"),
        (
            "dockwright.yaml",
            &format!(
                "name: {name}\nsettings:\n  docker:\n    parent_image: {parent}\n    target_repository: dockwright-test/{name}\n{}steps:\n{steps}",
                project_index_settings(&server, &name),
            ),
        ),
    ]);
    let ran = run(home.dockwright(&["run", "-f", &project.file()]));
    ran.ok();
    let prefix = match kind {
        ParentKind::Virtualenv => "/opt/venv",
        _ => "/usr",
    };
    for (tag, command) in commands {
        let expected = format!("[{tag}] myproj /app/src/myproj/__init__.py {prefix}");
        assert!(
            ran.stdout.lines().any(|l| l == expected),
            "{kind:?}, `{command}`: no `{expected}` in\n{}\n{}",
            ran.stdout,
            ran.stderr
        );
    }
}

#[test]
fn the_local_project_installs_on_an_official_python_like_parent() {
    project_installs_on(ParentKind::Official);
}

#[test]
fn the_local_project_installs_on_a_virtualenv_parent() {
    project_installs_on(ParentKind::Virtualenv);
}

#[test]
fn the_local_project_installs_on_an_externally_managed_python() {
    project_installs_on(ParentKind::ExternallyManaged);
}

/// A user Dockerfile that ends as a non-root user (a bare uid, as many images have), with
/// requirements and files added on top: the install still works, the steps run as that
/// user, and they can write into `/app`, new files and copied ones alike.
#[test]
fn a_step_writes_into_app_on_a_non_root_parent() {
    let home = Home::new();
    let server = WheelServer::start(&wheels());
    let mut cleanup = Cleanup::default();
    let name = unique("nonroot");
    let image = format!("dockwright-test/{name}:nonroot");
    cleanup.images.push(image.clone());
    cleanup.images.push(format!("{image}-intermediate-build"));
    cleanup.volume_of(&name);
    let project = Project::new(&[
        ("Dockerfile", &format!("FROM {BASE_IMAGE}\nUSER 1000\n")),
        ("data/seed.txt", "seed\n"),
        (
            "dockwright.yaml",
            &format!(
                "name: {name}\nsettings:\n  docker:\n    dockerfile: Dockerfile\n    target_repository: dockwright-test/{name}\n    image_tag: nonroot\n    python_package_installer: pip\n    requirements: [six==1.16.0]\n{}steps:\n  - name: write\n    command: [sh, -c, \"echo uid $(id -u) && echo written > /app/out.txt && echo more >> /app/data/seed.txt && cat /app/out.txt /app/data/seed.txt && python3 -c 'import six; print(six.__version__)'\"]\n",
                index_settings(&server, &[("TEST_RUN", &name)]),
            ),
        ),
    ]);
    let ran = run(home.dockwright(&["run", "-f", &project.file()]));
    ran.ok();
    let step: Vec<&str> = ran
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("[write] "))
        .collect();
    assert_eq!(
        step,
        ["uid 1000", "written", "seed", "more", "1.16.0"],
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
}

/// A requirements file naming local paths as `uv export` prints them (a path and an
/// editable path): exactly those paths are copied before the install (the project's other
/// files are not copied), both packages import, the editable one from its folder in `/app`.
#[test]
fn local_paths_in_a_requirements_file_are_copied_and_installed() {
    let home = Home::new();
    let server = WheelServer::start(&project_wheels());
    let mut cleanup = Cleanup::default();
    let name = unique("local-paths");
    let image = format!("dockwright-test/{name}:libs");
    cleanup.images.push(image.clone());
    cleanup.volume_of(&name);
    let project = Project::new(&[
        (
            "requirements.txt",
            "six==1.16.0\n./libs/mylib\n-e ./libs/editable\n",
        ),
        ("libs/mylib/pyproject.toml", &pyproject("mylib")),
        ("libs/mylib/src/mylib/__init__.py", "NAME = 'mylib'\n"),
        ("libs/editable/pyproject.toml", &pyproject("editable")),
        (
            "libs/editable/src/editable/__init__.py",
            "NAME = 'editable'\n",
        ),
        ("notes.txt", "not for the image\n"),
        (
            "dockwright.yaml",
            &format!(
                "name: {name}\nsettings:\n  docker:\n    parent_image: {BASE_IMAGE}\n    target_repository: dockwright-test/{name}\n    image_tag: libs\n    python_package_installer: pip\n    requirements: requirements.txt\n    allow_including_files_in_images: false\n{}steps:\n  - name: check\n    command: [sh, -c, \"test ! -e /app/notes.txt && python3 -c 'import mylib, editable; print(mylib.__file__, editable.__file__)'\"]\n",
                project_index_settings(&server, &name),
            ),
        ),
    ]);
    let ran = run(home.dockwright(&["run", "-f", &project.file()]));
    ran.ok();
    let expected = "[check] /usr/local/lib/python3.11/dist-packages/mylib/__init__.py /app/libs/editable/src/editable/__init__.py";
    assert!(
        ran.stdout.lines().any(|l| l == expected),
        "no `{expected}` in\n{}\n{}",
        ran.stdout,
        ran.stderr
    );
}

// ---- registry reuse and Kubernetes ------------------------------------------------------------

#[path = "../host/crates/kube/tests/fake_apiserver/mod.rs"]
mod fake_apiserver;

/// `build --json` results: the one named `image`.
fn result_of(stdout: &str, image: &str) -> Value {
    let results: Value = serde_json::from_str(stdout).unwrap();
    results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == image)
        .unwrap_or_else(|| panic!("no result for {image}: {results}"))
        .clone()
}

fn sent_a_build(proxy: &EngineProxy) -> bool {
    proxy.requests().iter().any(|r| r.ends_with("/build"))
}

#[test]
fn a_machine_reuses_the_image_another_pushed_without_building_it() {
    let registry = Registry::start(None);
    let name = unique("reuse-remote");
    let image = format!("{}/dockwright-test/{name}:v1", registry.host());
    let project = small_pipeline(
        &name,
        Some(&format!("{}/dockwright-test", registry.host())),
        &name,
        "v1",
    );
    let _cleanup = Cleanup::of_image(&image);

    // CI builds and pushes.
    let ci = Home::new();
    let pushed = run(ci.dockwright(&["build", "--json", "-f", &project.file()]));
    pushed.ok();

    // `--no-registry-reuse` builds here although the registry has it (and pushes the new
    // build: the digest changes).
    docker(&["image", "rm", &image]);
    let proxy = EngineProxy::start();
    let forced = run(Home::new()
        .dockwright(&[
            "build",
            "--no-registry-reuse",
            "--json",
            "-f",
            &project.file(),
        ])
        .env("DOCKER_HOST", proxy.docker_host()));
    forced.ok();
    assert!(sent_a_build(&proxy), "{:?}", proxy.requests());
    let digest = pushed_digest(&forced.stdout, &image);
    assert_ne!(digest, pushed_digest(&pushed.stdout, &image));

    // A laptop: fresh data dir, an engine without the image.
    docker(&["image", "rm", &image]);
    assert_eq!(image_id(&image), None);
    let laptop = Home::new();
    let explained = run(laptop.dockwright(&["plan", "--explain", "-f", &project.file()]));
    explained.ok();
    assert!(
        explained
            .stdout
            .contains(&format!("found in registry ({digest})")),
        "{}",
        explained.stdout
    );
    let proxy = EngineProxy::start();
    let reused = run(laptop
        .dockwright(&["build", "--json", "-f", &project.file()])
        .env("DOCKER_HOST", proxy.docker_host()));
    reused.ok();
    assert!(!sent_a_build(&proxy), "{:?}", proxy.requests());
    assert!(
        !proxy
            .requests()
            .iter()
            .any(|r| r.ends_with("/images/create")),
        "nothing pulled for a build: {:?}",
        proxy.requests()
    );
    assert_eq!(image_id(&image), None, "not pulled");
    assert!(
        reused
            .stderr
            .contains(&format!("{image}: found in registry ({digest}), not built")),
        "{}",
        reused.stderr
    );
    let result = result_of(&reused.stdout, &image);
    assert_eq!(result["registry_digest"], digest.as_str(), "{result}");
    assert_eq!(result["pushed_digest"], Value::Null, "nothing pushed again");
    let records = laptop.records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["registry_digest"], digest.as_str());

    // Running the steps here pulls the image (and still builds nothing).
    let proxy = EngineProxy::start();
    let ran = run(laptop
        .dockwright(&["run", "-f", &project.file()])
        .env("DOCKER_HOST", proxy.docker_host()));
    ran.ok();
    assert!(!sent_a_build(&proxy), "{:?}", proxy.requests());
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.ends_with("/images/create")),
        "{:?}",
        proxy.requests()
    );
    assert!(image_id(&image).is_some());
}

#[test]
fn a_registry_that_is_down_is_said_once_and_the_image_is_built_here() {
    let home = Home::new();
    let closed = dockwright_tests::free_port();
    let name = unique("registry-down");
    let image = format!("127.0.0.1:{closed}/dockwright-test/{name}:v1");
    let project = small_pipeline(
        &name,
        Some(&format!("127.0.0.1:{closed}/dockwright-test")),
        &name,
        "v1",
    );
    let _cleanup = Cleanup::of_image(&image);
    let ran = run(home.dockwright(&["build", "-f", &project.file()]));
    // The build happens; the push to the same registry cannot.
    ran.failed();
    let warnings: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.contains("images built elsewhere cannot be reused"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", ran.stderr);
    assert!(
        warnings[0].contains(&format!(
            "the registry 127.0.0.1:{closed} cannot be reached"
        )) && warnings[0].ends_with("building here"),
        "{}",
        warnings[0]
    );
    assert!(image_id(&image).is_some(), "built here");
    let records = home.records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["pushed_digest"], Value::Null);
}

/// A pipeline of steps `prepare`, `train` (after it) and `report` (after train) on a stack
/// whose orchestrator is Kubernetes (config `orchestrator_config`, indented by four) and whose
/// registry is `registry`. The kubernetes integration is not installed (no package index).
fn kubernetes_pipeline(name: &str, registry: &str, orchestrator_config: &str) -> Project {
    Project::new(&[
        (
            "k8s.yaml",
            &format!(
                "orchestrator:\n  flavor: kubernetes\n  config:\n{orchestrator_config}container_registry: {{flavor: default, uri: {registry}/dockwright-test}}\n"
            ),
        ),
        (
            "dockwright.yaml",
            &format!(
                "name: {name}\nstack: k8s.yaml\nsettings:\n  docker:\n    parent_image: {BASE_IMAGE}\n    target_repository: {name}\n    image_tag: v1\n    install_stack_requirements: false\n    environment:\n      BUILT_FOR: {name}\nsteps:\n  - name: prepare\n    command: [python3, prepare.py]\n  - name: train\n    command: [python3, train.py]\n    after: [prepare]\n    environment: {{EPOCHS: \"3\"}}\n  - name: report\n    command: [python3, report.py]\n    after: [train]\n"
            ),
        ),
    ])
}

const K8S_CONFIG: &str = "    kubernetes_namespace: ml\n    artifacts_pvc: artifacts\n    image_pull_secrets: [regcred]\n";

#[test]
fn a_dry_run_writes_one_job_per_step_in_run_order_on_the_pushed_digest() {
    let registry = Registry::start(None);
    let name = unique("k8s-dry");
    let image = format!("{}/dockwright-test/{name}:v1", registry.host());
    let project = kubernetes_pipeline(&name, &registry.host(), K8S_CONFIG);
    let _cleanup = Cleanup::of_image(&image);
    let home = Home::new();
    // No cluster: nothing reads a kubeconfig.
    let ran = run(home
        .dockwright(&["run", "--dry-run", "-f", &project.file()])
        .env("KUBECONFIG", "/nonexistent/kubeconfig"));
    ran.ok();
    let digest = registry
        .manifest_digest(&format!("dockwright-test/{name}"), "v1", None)
        .expect("pushed");
    let documents: Vec<&str> = ran.stdout.split("---\n").skip(1).collect();
    assert_eq!(documents.len(), 3, "{}", ran.stdout);
    for (document, step) in documents.iter().zip(["prepare", "train", "report"]) {
        assert!(
            document.starts_with("apiVersion: batch/v1\nkind: Job\n"),
            "{document}"
        );
        assert!(
            document.contains(&format!("dockwright.io/step: {step}\n")),
            "{step}: {document}"
        );
        assert!(
            document.contains(&format!("image: {image}@{digest}\n")),
            "{step} by digest: {document}"
        );
        for line in [
            "namespace: ml",
            "backoffLimit: 0",
            "restartPolicy: Never",
            "claimName: artifacts",
            "- name: regcred",
        ] {
            assert!(document.contains(line), "{step} has {line}: {document}");
        }
    }
    assert!(documents[1].contains("name: EPOCHS\n"), "{}", documents[1]);

    // Another machine: the registry has the image, so neither a build nor an engine is needed.
    let elsewhere = run(Home::new()
        .dockwright(&["run", "--dry-run", "-f", &project.file()])
        .env("DOCKER_HOST", "unix:///nonexistent.sock"));
    elsewhere.ok();
    assert!(
        elsewhere
            .stdout
            .contains(&format!("image: {image}@{digest}\n")),
        "{}",
        elsewhere.stdout
    );
    assert!(
        elsewhere
            .stderr
            .contains(&format!("{image}: found in registry ({digest}), not built")),
        "{}",
        elsewhere.stderr
    );
}

#[test]
fn kubernetes_settings_errors_point_into_the_stack_file_before_anything_is_built() {
    let home = Home::new();
    let name = unique("k8s-settings");
    let typo = K8S_CONFIG.replace("kubernetes_namespace", "kubernetes_namspace");
    let project = kubernetes_pipeline(&name, "127.0.0.1:9", &typo);
    let proxy = EngineProxy::start();
    let ran = run(home
        .dockwright(&["run", "-f", &project.file()])
        .env("DOCKER_HOST", proxy.docker_host()));
    ran.failed();
    let stack = project.dir.path().join("k8s.yaml");
    assert!(
        ran.stderr.contains(&format!(
            "error: {}:4:5: `orchestrator.config.kubernetes_namspace`: unknown field `kubernetes_namspace`",
            stack.display()
        )),
        "{}",
        ran.stderr
    );
    assert!(
        !ran.stderr.contains("images built elsewhere"),
        "the registry was not asked: {}",
        ran.stderr
    );
    assert_eq!(
        proxy.requests(),
        Vec::<String>::new(),
        "the engine was not asked"
    );
    assert!(home.records().is_empty());

    let bad_quantity = format!(
        "{K8S_CONFIG}    pod_settings:\n      resources:\n        limits: {{memory: lots}}\n"
    );
    let project = kubernetes_pipeline(&name, "127.0.0.1:9", &bad_quantity);
    let ran = run(home
        .dockwright(&["run", "-f", &project.file()])
        .env("DOCKER_HOST", proxy.docker_host()));
    ran.failed();
    assert!(
        ran.stderr.contains(&format!(
            "{}:9:18: `orchestrator.config.pod_settings.resources.limits.memory`: `lots`",
            project.dir.path().join("k8s.yaml").display()
        )),
        "{}",
        ran.stderr
    );
    assert_eq!(proxy.requests(), Vec::<String>::new());
}

#[test]
fn a_kubernetes_run_creates_jobs_in_order_streams_logs_and_exits_with_the_failed_steps_status() {
    use fake_apiserver::{FakeApiServer, Script};
    let registry = Registry::start(None);
    let name = unique("k8s-run");
    let image = format!("{}/dockwright-test/{name}:v1", registry.host());
    // No namespace in the settings: the kubeconfig context's (`ml`) is used.
    let project = kubernetes_pipeline(&name, &registry.host(), "    artifacts_pvc: artifacts\n");
    let _cleanup = Cleanup::of_image(&image);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakeApiServer::start([
        (
            "prepare",
            Script::Succeed {
                logs: vec!["prepared 10 rows".into()],
            },
        ),
        (
            "train",
            Script::Fail {
                logs: vec!["epoch 1".into(), "loss is NaN".into()],
                exit_code: 3,
            },
        ),
        ("report", Script::Succeed { logs: vec![] }),
    ]));
    let home = Home::new();
    let kubeconfig = server.kubeconfig(home.path());
    let ran = run(home
        .dockwright(&["run", "-f", &project.file()])
        .env("KUBECONFIG", &kubeconfig));
    assert_eq!(
        ran.code,
        Some(3),
        "the failed step's status\n{}",
        ran.stderr
    );
    for line in [
        "[prepare] prepared 10 rows",
        "[train] epoch 1",
        "[train] loss is NaN",
    ] {
        assert!(ran.stdout.contains(line), "{line}:\n{}", ran.stdout);
    }
    assert!(
        ran.stderr.contains("step `train`") && ran.stderr.contains("exited with status 3"),
        "{}",
        ran.stderr
    );
    let digest = registry
        .manifest_digest(&format!("dockwright-test/{name}"), "v1", None)
        .expect("pushed");
    let created: Vec<(String, String, String)> = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/jobs"))
        .map(|r| {
            let body = r.body.as_ref().unwrap();
            let template = &body["spec"]["template"];
            (
                r.path.clone(),
                template["metadata"]["labels"]["dockwright.io/step"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                template["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let pinned = format!("{image}@{digest}");
    assert_eq!(
        created,
        [
            (
                "/apis/batch/v1/namespaces/ml/jobs".to_string(),
                "prepare".to_string(),
                pinned.clone()
            ),
            (
                "/apis/batch/v1/namespaces/ml/jobs".to_string(),
                "train".to_string(),
                pinned
            ),
        ],
        "in order, by digest, and `report` never created"
    );
    drop(server);
}

#[test]
fn ctrl_c_during_a_kubernetes_run_deletes_its_jobs_says_so_and_exits_130() {
    use fake_apiserver::{FakeApiServer, Script};
    let registry = Registry::start(None);
    let name = unique("k8s-cancel");
    let image = format!("{}/dockwright-test/{name}:v1", registry.host());
    let project = kubernetes_pipeline(&name, &registry.host(), K8S_CONFIG);
    let _cleanup = Cleanup::of_image(&image);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakeApiServer::start([(
        "prepare",
        Script::RunUntilDeleted {
            logs: vec!["working".into()],
        },
    )]));
    let home = Home::new();
    let kubeconfig = server.kubeconfig(home.path());
    let child = home
        .dockwright(&["run", "-f", &project.file()])
        .env("KUBECONFIG", &kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once its first Job runs (the build comes first and takes its time).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while server.created_jobs().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no Job was created");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let Output { status, stderr, .. } = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(130), "{stderr}");
    let created = server.created_jobs();
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(
        stderr.contains("interrupted: deleting this run's Jobs")
            && stderr.contains(&format!("cancelled; deleted Jobs: {}", created[0])),
        "{stderr}"
    );
    assert_eq!(
        server.deleted_jobs(),
        [(created[0].clone(), Some("Foreground".to_string()))]
    );
}

/// The seed's own example: `build_options` next to a `dockerfile` belong to the build of
/// that Dockerfile, so its `ARG` gets the value (it used to go to a generated image only).
#[test]
fn a_build_arg_reaches_the_users_dockerfile_build() {
    let home = Home::new();
    let name = unique("build-arg");
    let image = format!("dockwright-test/{name}:args");
    let project = Project::new(&[
        (
            "dockwright.yaml",
            &format!(
                "name: {name}\nsettings:\n  docker:\n    dockerfile: docker/Dockerfile\n    build_context_root: docker\n    build_options: {{buildargs: {{MODE: prod}}}}\n    allow_including_files_in_images: false\n    target_repository: dockwright-test/{name}\n    image_tag: args\nsteps:\n  - name: show\n    command: [cat, /etc/mode]\n"
            ),
        ),
        (
            "docker/Dockerfile",
            &format!("FROM {BASE_IMAGE}\nARG MODE=dev\nRUN echo \"mode=$MODE\" > /etc/mode\n"),
        ),
    ]);
    let mut cleanup = Cleanup::of_image(&image);
    cleanup.volume_of(&name);

    let plan = run(home.dockwright(&["plan", "--json", "-f", &project.file()]));
    plan.ok();
    assert!(
        plan.stderr.contains(
            "use `parent_image_build_config.build_options` for the build of `dockerfile`"
        ),
        "the deprecation names the replacement for this case:\n{}",
        plan.stderr
    );
    let ran = run(home.dockwright(&["run", "-f", &project.file()]));
    ran.ok();
    assert!(
        ran.stdout.contains("[show] mode=prod"),
        "the build argument reached the Dockerfile's RUN:\n{}\n{}",
        ran.stdout,
        ran.stderr
    );
}

/// `version: 2` in the build options builds with BuildKit: a user Dockerfile's `RUN --mount`
/// (which the classic builder refuses) builds, a generated image on top is built by BuildKit
/// too (its history says so), keeps its build key as a label, and is reused the next time.
#[test]
fn version_2_in_the_build_options_builds_with_buildkit() {
    let home = Home::new();
    let name = unique("buildkit");
    let user_image = format!("dockwright-test/{name}:mount-intermediate-build");
    let image = format!("dockwright-test/{name}:mount");
    let pipeline = |version: &str| {
        format!(
            "name: {name}\nsettings:\n  docker:\n    dockerfile: Dockerfile\n    parent_image_build_config: {{build_options: {{{version}}}}}\n    build_config: {{build_options: {{version: 2}}}}\n    environment: {{STAGE: two}}\n    allow_including_files_in_images: false\n    target_repository: dockwright-test/{name}\n    image_tag: mount\nsteps:\n  - name: show\n    command: [sh, -c, \"cat /etc/seen && echo stage=$STAGE\"]\n"
        )
    };
    let project = Project::new(&[
        ("dockwright.yaml", &pipeline("pull: false")),
        (
            "Dockerfile",
            &format!(
                "FROM {BASE_IMAGE}\nRUN --mount=type=cache,target=/cache echo cached > /cache/x && cp /cache/x /etc/seen\n"
            ),
        ),
    ]);
    let mut cleanup = Cleanup::of_image(&image);
    cleanup.images.push(user_image.clone());
    cleanup.volume_of(&name);

    // The classic builder refuses the mount: the build fails, and nothing is tagged.
    let classic = run(home.dockwright(&["build", "-f", &project.file()]));
    classic.failed();
    assert!(
        classic.stderr.contains("--mount") && classic.stderr.contains("BuildKit"),
        "the engine's reason is shown:\n{}",
        classic.stderr
    );
    assert!(!docker(&["image", "inspect", &user_image]).status.success());

    project.write("dockwright.yaml", &pipeline("version: 2"));
    let plan = run(home.dockwright(&["plan", "-f", &project.file()]));
    assert_eq!(
        plan.ok().stdout.matches("builder:      BuildKit").count(),
        2,
        "{}",
        plan.stdout
    );
    let ran = run(home.dockwright(&["run", "-f", &project.file()]));
    ran.ok();
    assert!(
        ran.stdout.contains("[show] cached") && ran.stdout.contains("[show] stage=two"),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
    let own = history(&image);
    let own = &own[..own.len() - history(&user_image).len()];
    assert!(
        own.iter().all(|(_, by)| !by.contains(" LABEL ")),
        "BuildKit puts the key into the config without a step: {own:#?}"
    );
    let comments = docker(&["history", "--format", "{{.Comment}}", &image]);
    assert!(
        String::from_utf8_lossy(&comments.stdout).contains("buildkit.dockerfile.v0"),
        "the history says BuildKit built it"
    );
    let again = run(home.dockwright(&["build", "-f", &project.file()]));
    assert!(
        again
            .ok()
            .stderr
            .contains(&format!("{image}: reused (unchanged build key)")),
        "the build key label was kept:\n{}",
        again.stderr
    );
}

/// Tags a new image (the base image plus one label) as `name`: another image under the same
/// name, as a pushed update of a parent would be.
fn retag_with_new_image(name: &str, from: &str, label: &str) {
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", name, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("FROM {from}\nLABEL dockwright-test.version={label}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "docker build of {name}");
}

/// A parent re-tagged to another image since the last build: the images on it (one
/// generated on `parent_image`, one from a user Dockerfile whose `FROM` names it, and the
/// image generated on that) are rebuilt, never reused stale, and `plan --explain` says why.
#[test]
fn a_re_tagged_parent_means_a_rebuild_and_explain_says_parent_changed() {
    let home = Home::new();
    let name = unique("parent");
    let parent = format!("dockwright-test/{name}-parent:1");
    retag_with_new_image(&parent, BASE_IMAGE, "1");
    let project = Project::new(&[
        (
            "dockwright.yaml",
            &format!(
                "name: {name}\nsettings:\n  docker:\n    parent_image: {parent}\n    target_repository: dockwright-test/{name}\n    allow_including_files_in_images: false\n    environment: {{STAGE: one}}\nsteps:\n  - name: generated\n    command: [\"true\"]\n  - name: custom\n    command: [\"true\"]\n    settings:\n      docker:\n        dockerfile: Dockerfile\n        image_tag: custom\n"
            ),
        ),
        (
            "Dockerfile",
            &format!("ARG BASE={parent}\nFROM $BASE\nRUN echo built > /built\n"),
        ),
    ]);
    let images = [
        format!("dockwright-test/{name}:{name}"),
        format!("dockwright-test/{name}:custom-intermediate-build"),
        format!("dockwright-test/{name}:custom"),
    ];
    let mut cleanup = Cleanup::of_image(&parent);
    cleanup.images.extend(images.iter().cloned());
    cleanup.volume_of(&name);

    run(home.dockwright(&["build", "-f", &project.file()])).ok();
    let again = run(home.dockwright(&["build", "-f", &project.file()]));
    again.ok();
    for image in &images {
        assert!(
            again.stderr.contains(&format!("{image}: reused")),
            "{image} is reused while its parent is the same:\n{}",
            again.stderr
        );
    }
    let before: Vec<Option<String>> = images.iter().map(|i| image_id(i)).collect();

    retag_with_new_image(&parent, BASE_IMAGE, "2");
    let explain = run(home.dockwright(&["plan", "--explain", "-f", &project.file()]));
    explain.ok();
    assert_eq!(
        explain.stdout.matches("parent changed").count(),
        3,
        "each image names its changed parent (the last, the one built first):\n{}",
        explain.stdout
    );
    let rebuilt = run(home.dockwright(&["build", "-f", &project.file()]));
    rebuilt.ok();
    for (image, before) in images.iter().zip(&before) {
        assert!(
            rebuilt.stderr.contains(&format!("{image}: built")),
            "{image} is rebuilt on the new parent:\n{}",
            rebuilt.stderr
        );
        assert_ne!(&image_id(image), before, "{image} is another image now");
    }
    let records = home.records();
    let record = records
        .iter()
        .find(|r| r["name"] == images[0].as_str())
        .expect("a record of the generated image");
    assert_eq!(
        record["parents"][&parent].as_str(),
        image_id(&parent).as_deref(),
        "the parent's identity is recorded with the build"
    );
    // Run the steps: each in the image built for it.
    run(home.dockwright(&["run", "-f", &project.file()])).ok();
}

#[test]
fn an_image_found_in_the_registry_spares_building_the_image_it_is_built_on() {
    let registry = Registry::start(None);
    let name = unique("reuse-parents");
    let image = format!("{}/dockwright-test/{name}:v1", registry.host());
    // A user Dockerfile, and a generated image on top of it (for the environment).
    let project = Project::new(&[
        (
            "dockwright.yaml",
            &format!(
                "name: {name}\nstack:\n  container_registry: {{flavor: default, uri: {}/dockwright-test}}\nsettings:\n  docker:\n    dockerfile: Dockerfile\n    target_repository: {name}\n    image_tag: v1\n    environment:\n      BUILT_FOR: {name}\nsteps:\n  - name: only\n    command: [\"true\"]\n",
                registry.host()
            ),
        ),
        (
            "Dockerfile",
            &format!("FROM {BASE_IMAGE}\nRUN echo {name} > /marker\n"),
        ),
    ]);
    let plan = run(Home::new().dockwright(&["plan", "--json", "-f", &project.file()]));
    plan.ok();
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let names: Vec<String> = plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[1], image);
    let mut cleanup = Cleanup::of_image(&image);
    cleanup.images.push(names[0].clone());

    let ci = run(Home::new().dockwright(&["build", "-f", &project.file()]));
    ci.ok();
    for name in &names {
        docker(&["image", "rm", name]);
    }
    let proxy = EngineProxy::start();
    let laptop = run(Home::new()
        .dockwright(&["build", "--json", "-f", &project.file()])
        .env("DOCKER_HOST", proxy.docker_host()));
    laptop.ok();
    assert!(!sent_a_build(&proxy), "{:?}", proxy.requests());
    let results: Value = serde_json::from_str(&laptop.stdout).unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 1, "only the image found: {results:?}");
    assert_eq!(results[0]["name"], image);
    assert!(results[0]["registry_digest"].is_string(), "{results:?}");
    assert_eq!(image_id(&names[0]), None, "its parent was not built");
}

/// An image in the registry built on a parent that was pushed again since (another image
/// under the same name) is stale: another machine builds it instead of reusing it, and
/// `plan --explain` says which parent changed.
#[test]
fn an_image_in_the_registry_built_on_a_parent_pushed_again_since_is_built_not_reused() {
    let registry = Registry::start(None);
    let name = unique("reuse-stale-parent");
    let parent = format!("{}/dockwright-test/{name}-parent:1", registry.host());
    let image = format!("{}/dockwright-test/{name}:v1", registry.host());
    let mut cleanup = Cleanup::of_image(&image);
    cleanup.images.push(parent.clone());
    retag_with_new_image(&parent, BASE_IMAGE, "1");
    assert!(docker(&["push", &parent]).status.success());
    let project = Project::new(&[(
        "dockwright.yaml",
        &format!(
            "name: {name}\nstack:\n  container_registry: {{flavor: default, uri: {}/dockwright-test}}\nsettings:\n  docker:\n    parent_image: {parent}\n    target_repository: {name}\n    image_tag: v1\n    allow_including_files_in_images: false\n    environment:\n      BUILT_FOR: {name}\nsteps:\n  - name: only\n    command: [\"true\"]\n",
            registry.host()
        ),
    )]);

    run(Home::new().dockwright(&["build", "-f", &project.file()])).ok();
    docker(&["image", "rm", &image]);
    // Before the parent changes, another machine reuses the image.
    let unchanged = run(Home::new().dockwright(&["plan", "--explain", "-f", &project.file()]));
    unchanged.ok();
    assert!(
        unchanged.stdout.contains("found in registry"),
        "{}",
        unchanged.stdout
    );

    retag_with_new_image(&parent, BASE_IMAGE, "2");
    assert!(docker(&["push", &parent]).status.success());
    let laptop = Home::new();
    let explained = run(laptop.dockwright(&["plan", "--explain", "-f", &project.file()]));
    explained.ok();
    assert!(
        explained.stdout.contains(&format!(
            "parent changed: {parent} is another image in the registry now"
        )),
        "{}",
        explained.stdout
    );
    let proxy = EngineProxy::start();
    let built = run(laptop
        .dockwright(&["build", "--json", "-f", &project.file()])
        .env("DOCKER_HOST", proxy.docker_host()));
    built.ok();
    assert!(sent_a_build(&proxy), "{:?}", proxy.requests());
    let result = result_of(&built.stdout, &image);
    assert_eq!(result["registry_digest"], Value::Null, "{result}");
}
