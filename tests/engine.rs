//! The `engine` module against the real Docker engine of this machine (no mocks): builds on
//! a base image made by `scripts/base-image.sh`, reuse by build key, the build lock, failing
//! builds, BuildKit, step containers, and pushes to a real registry (Debian's
//! `docker-registry`) started on loopback, with and without htpasswd auth.
//!
//! Needs: a running engine, and the packages of `scripts/ci-deps.sh`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use dockwright::engine::bollard::query_parameters::{RemoveContainerOptions, RemoveVolumeOptions};
use dockwright::engine::{
    BUILD_KEY_LABEL, BuildJob, BuildProgress, BuildStep, Builder, ContainerSpec, ContextWriter,
    Engine, EngineError, LogLine, LogStream, NoProgress, RegistryAuth, VolumeMount,
};
use dockwright_tests::{
    BASE_IMAGE, Registry, base64, ensure_base_image, free_port, write_docker_config,
};

async fn engine() -> Engine {
    ensure_base_image();
    Engine::connect()
        .await
        .expect("the tests need a running Docker engine")
}

/// A build key no earlier run has used, so that reuse is really tested from scratch.
fn fresh_key(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("test-{name}-{}-{nanos}", std::process::id())
}

/// A context writer for an in-memory set of files (and optionally a host directory).
fn context(files: &[(&str, &str)], dir: Option<(&str, PathBuf)>) -> ContextWriter {
    let files: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
        .collect();
    let dir: Option<(String, PathBuf)> = dir.map(|(name, path)| (name.to_string(), path));
    Box::new(move |out: &mut dyn Write| {
        let mut archive = tar::Builder::new(out);
        for (path, bytes) in &files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            archive.append_data(&mut header, path, bytes.as_slice())?;
        }
        if let Some((name, path)) = &dir {
            archive.append_dir_all(name, path)?;
        }
        archive.finish()
    })
}

fn dockerfile(lines: &[&str]) -> String {
    let mut text = format!("FROM {BASE_IMAGE}\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Records what a build reports.
#[derive(Default)]
struct Recorder {
    steps: Vec<BuildStep>,
    lines: Vec<String>,
}

impl BuildProgress for Recorder {
    fn step(&mut self, step: &BuildStep) {
        self.steps.push(step.clone());
    }
    fn output(&mut self, line: &str) {
        self.lines.push(line.to_string());
    }
}

/// Removes a named volume a test made, even when the test fails before removing it itself.
struct VolumeCleanup(String);

impl Drop for VolumeCleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.0])
            .output();
    }
}

/// Removes the images a test made, even when it fails.
struct Cleanup<'e> {
    engine: &'e Engine,
    images: Vec<String>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let engine = self.engine.clone();
        let images = std::mem::take(&mut self.images);
        // Drop cannot await; a short-lived runtime on another thread does the removal.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                for image in images {
                    let _ = engine.remove_image(&image).await;
                }
            });
        })
        .join()
        .unwrap();
    }
}

#[tokio::test]
async fn builds_labels_tags_and_reuses_by_build_key() {
    let engine = engine().await;
    let key = fresh_key("reuse");
    let tag = format!("dockwright-test/reuse:{}", &key[key.len() - 12..]);
    let extra_tag = format!("{tag}-extra");
    let mut cleanup = Cleanup {
        engine: &engine,
        images: vec![tag.clone(), extra_tag.clone()],
    };

    assert_eq!(engine.find_by_key(&key).await.unwrap(), None);
    let text = dockerfile(&[
        "WORKDIR /app",
        "COPY hello.txt .",
        "RUN cat hello.txt > copy.txt",
    ]);
    let mut job = BuildJob::new(
        &key,
        context(
            &[
                ("Dockerfile", &text),
                ("hello.txt", "hello from the context\n"),
            ],
            None,
        ),
    );
    job.tags = vec![tag.clone(), extra_tag.clone()];
    job.options
        .labels
        .insert("org.example.team".into(), "ml".into());
    let mut progress = Recorder::default();
    let lock_dir = tempfile::tempdir().unwrap();

    let first = engine
        .reuse_or_build(job, &mut progress, lock_dir.path())
        .await
        .unwrap();
    cleanup.images.push(first.image.id.clone());
    assert!(!first.reused);
    assert!(first.image.id.starts_with("sha256:"), "{:?}", first.image);
    // The classic builder announces every instruction (plus the label step it appends).
    let instructions: Vec<&str> = progress
        .steps
        .iter()
        .map(|s| s.instruction.as_str())
        .collect();
    assert!(
        instructions.contains(&"RUN cat hello.txt > copy.txt"),
        "{instructions:?}"
    );
    assert!(
        progress
            .steps
            .iter()
            .all(|s| s.total == progress.steps[0].total && s.index <= s.total)
    );

    assert_eq!(
        engine.find_by_key(&key).await.unwrap().as_deref(),
        Some(first.image.id.as_str())
    );
    assert_eq!(
        engine.image_id(&tag).await.unwrap().as_deref(),
        Some(first.image.id.as_str())
    );
    assert_eq!(
        engine.image_id(&extra_tag).await.unwrap().as_deref(),
        Some(first.image.id.as_str())
    );
    let labels = engine.image_labels(&tag).await.unwrap();
    assert_eq!(labels.get(BUILD_KEY_LABEL), Some(&key));
    assert_eq!(
        labels.get("org.example.team").map(String::as_str),
        Some("ml")
    );

    // Same key again: found, not built (the progress sees nothing), and tagged as asked.
    let third_tag = format!("{tag}-again");
    cleanup.images.push(third_tag.clone());
    let mut job = BuildJob::new(
        &key,
        Box::new(|_| panic!("a reused image must not stream a context")),
    );
    job.tags = vec![third_tag.clone()];
    let mut progress = Recorder::default();
    let second = engine
        .reuse_or_build(job, &mut progress, lock_dir.path())
        .await
        .unwrap();
    assert!(second.reused);
    assert_eq!(second.image.id, first.image.id);
    assert!(progress.steps.is_empty() && progress.lines.is_empty());
    assert_eq!(
        engine.image_id(&third_tag).await.unwrap().as_deref(),
        Some(first.image.id.as_str())
    );
}

#[tokio::test]
async fn concurrent_builds_of_one_key_build_once() {
    let engine = engine().await;
    let key = fresh_key("lock");
    let lock_dir = tempfile::tempdir().unwrap();
    let text = dockerfile(&["RUN sleep 2 && date +%s%N > /built-at"]);
    let build = |engine: Engine, key: String, dir: PathBuf, text: String| async move {
        let job = BuildJob::new(&key, context(&[("Dockerfile", &text)], None));
        engine.reuse_or_build(job, &mut NoProgress, &dir).await
    };
    let (a, b) = tokio::join!(
        tokio::spawn(build(
            engine.clone(),
            key.clone(),
            lock_dir.path().to_path_buf(),
            text.clone()
        )),
        tokio::spawn(build(
            engine.clone(),
            key.clone(),
            lock_dir.path().to_path_buf(),
            text.clone()
        )),
    );
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    let _cleanup = Cleanup {
        engine: &engine,
        images: vec![a.image.id.clone()],
    };
    assert_eq!(a.image.id, b.image.id);
    assert_eq!(
        [a.reused, b.reused].iter().filter(|r| **r).count(),
        1,
        "exactly one of them built: {a:?} {b:?}"
    );
}

#[tokio::test]
async fn a_failing_run_reports_pips_error_and_leaves_no_tag_and_no_keyed_image() {
    let engine = engine().await;
    let key = fresh_key("fail");
    let tag = format!("dockwright-test/fail:{}", &key[key.len() - 12..]);
    let _cleanup = Cleanup {
        engine: &engine,
        images: vec![tag.clone()],
    };
    let text = dockerfile(&[
        "RUN echo preparing",
        "RUN python3 -m pip install --no-index --break-system-packages dockwright-no-such-package==1.0",
        "RUN echo never reached",
    ]);
    let mut job = BuildJob::new(&key, context(&[("Dockerfile", &text)], None));
    job.tags = vec![tag.clone()];
    let mut progress = Recorder::default();

    let error = engine.build(job, &mut progress).await.unwrap_err();
    eprintln!("{error}");
    let EngineError::BuildFailed {
        step,
        message,
        output_tail,
    } = &error
    else {
        panic!("expected a build failure, got {error}")
    };
    let step = step.as_ref().expect("the failing step is named");
    assert!(
        step.instruction.contains("pip install --no-index"),
        "{step:?}"
    );
    assert_eq!(step.index, 3);
    assert!(message.contains("returned a non-zero code: 1"), "{message}");
    let tail = output_tail.join("\n");
    assert!(
        tail.contains("No matching distribution found for dockwright-no-such-package==1.0"),
        "tail:\n{tail}"
    );
    assert!(
        !tail.contains("preparing"),
        "the tail holds only the failing step's output:\n{tail}"
    );
    assert!(
        !tail.contains('\u{1b}') && !tail.contains("Removing intermediate container"),
        "colour codes and builder remarks are not pip's error:\n{tail}"
    );
    let shown = error.to_string();
    assert!(
        shown.contains("build failed at step 3/")
            && shown.contains("No matching distribution found"),
        "{shown}"
    );

    assert_eq!(
        engine.image_id(&tag).await.unwrap(),
        None,
        "a failed build must not be tagged"
    );
    assert_eq!(
        engine.find_by_key(&key).await.unwrap(),
        None,
        "no image may carry the key of a failed build"
    );
}

#[tokio::test]
async fn buildkit_builds_with_a_cache_mount_and_reports_failures() {
    let engine = engine().await;
    let key = fresh_key("buildkit");
    let text = dockerfile(&[
        "RUN --mount=type=cache,target=/root/.cache/dockwright echo cached > /root/.cache/dockwright/x && echo built > /built",
    ]);
    let mut job = BuildJob::new(&key, context(&[("Dockerfile", &text)], None));
    job.builder = Builder::BuildKit;
    let mut progress = Recorder::default();
    let image = engine.build(job, &mut progress).await.unwrap();
    let _cleanup = Cleanup {
        engine: &engine,
        images: vec![image.id.clone()],
    };
    assert_eq!(
        engine.find_by_key(&key).await.unwrap().as_deref(),
        Some(image.id.as_str())
    );
    assert!(
        progress
            .steps
            .iter()
            .any(|s| s.instruction.starts_with("RUN --mount=type=cache")),
        "{:?}",
        progress.steps
    );

    let failing_key = fresh_key("buildkit-fail");
    let text = dockerfile(&[
        "RUN --mount=type=cache,target=/root/.cache/pip python3 -m pip install --no-index --break-system-packages dockwright-no-such-package",
    ]);
    let mut job = BuildJob::new(&failing_key, context(&[("Dockerfile", &text)], None));
    job.builder = Builder::BuildKit;
    let error = engine.build(job, &mut NoProgress).await.unwrap_err();
    let EngineError::BuildFailed {
        step, output_tail, ..
    } = &error
    else {
        panic!("expected a build failure, got {error}")
    };
    assert!(
        step.as_ref()
            .is_some_and(|s| s.instruction.contains("pip install")),
        "{step:?}"
    );
    assert!(
        output_tail
            .join("\n")
            .contains("No matching distribution found for dockwright-no-such-package"),
        "{error}"
    );
    assert_eq!(engine.find_by_key(&failing_key).await.unwrap(), None);
}

/// A wheelhouse the build context carries; the image installs from it with `--no-index
/// --find-links` (no index is reachable from a build).
fn wheelhouse() -> PathBuf {
    dockwright_tests::wheelhouse(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("engine-wheelhouse"),
        &["six==1.16.0"],
    )
}

#[tokio::test]
async fn installs_from_a_wheelhouse_and_runs_the_result_as_a_step() {
    let engine = engine().await;
    let key = fresh_key("wheelhouse");
    let text = dockerfile(&[
        "COPY wheelhouse /wheelhouse",
        "RUN python3 -m venv /venv && /venv/bin/pip install --no-index --find-links /wheelhouse six==1.16.0",
    ]);
    let job = BuildJob::new(
        &key,
        context(&[("Dockerfile", &text)], Some(("wheelhouse", wheelhouse()))),
    );
    let mut progress = Recorder::default();
    let image = engine.build(job, &mut progress).await.unwrap();
    let _cleanup = Cleanup {
        engine: &engine,
        images: vec![image.id.clone()],
    };
    assert!(
        progress
            .lines
            .iter()
            .any(|l| l.contains("Successfully installed six-1.16.0")),
        "{:?}",
        progress.lines
    );

    let spec = ContainerSpec {
        step: "check".into(),
        image: image.id.clone(),
        command: vec![
            "/venv/bin/python".into(),
            "-c".into(),
            "import six; print('six', six.__version__)".into(),
        ],
        ..Default::default()
    };
    let mut lines = Vec::new();
    let exit = engine
        .run_container(&spec, &mut |line: &LogLine| lines.push(line.to_string()))
        .await
        .unwrap();
    assert!(exit.success());
    assert_eq!(lines, vec!["[check] six 1.16.0"]);
}

#[tokio::test]
async fn a_step_container_gets_exact_env_values_a_volume_and_its_exit_code() {
    let engine = engine().await;
    let volume = format!("dockwright-test-{}", fresh_key("vol"));
    let _volume_cleanup = VolumeCleanup(volume.clone());
    let name = format!("dockwright-test-env-{}", std::process::id());
    let env = BTreeMap::from([
        ("QUOTES".to_string(), r#"it's "quoted""#.to_string()),
        (
            "DOLLAR".to_string(),
            "$HOME and ${PATH} stay literal".to_string(),
        ),
        ("SPACES".to_string(), "  leading and trailing  ".to_string()),
        ("NEWLINES".to_string(), "line one\nline two\n".to_string()),
    ]);
    let script = "import os, sys\n\
        for k in ('DOLLAR', 'NEWLINES', 'QUOTES', 'SPACES'): print(k, repr(os.environ[k]))\n\
        print('to stderr', file=sys.stderr)\n\
        open('/artifacts/out.txt', 'w').write('kept')\n\
        sys.exit(3)";
    let spec = ContainerSpec {
        step: "train".into(),
        image: BASE_IMAGE.into(),
        command: vec!["python3".into(), "-c".into(), script.into()],
        env: env.clone(),
        volume: Some(VolumeMount {
            volume: volume.clone(),
            target: "/artifacts".into(),
        }),
        name: Some(name.clone()),
        ..Default::default()
    };
    let mut lines: Vec<LogLine> = Vec::new();
    let exit = engine
        .run_container(&spec, &mut |line: &LogLine| lines.push(line.clone()))
        .await
        .unwrap();
    assert_eq!(exit.code, 3);
    assert!(!exit.success());

    let stdout: Vec<String> = lines
        .iter()
        .filter(|l| l.stream == LogStream::Stdout)
        .map(|l| l.text.clone())
        .collect();
    let expected: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{k} {}", python_repr(v)))
        .collect();
    assert_eq!(stdout, expected);
    assert!(
        lines
            .iter()
            .any(|l| l.stream == LogStream::Stderr && l.text == "to stderr")
    );
    assert!(lines.iter().all(|l| l.step == "train"));
    // The two streams are not ordered relative to each other; within stdout order holds.
    let first_stdout = lines
        .iter()
        .find(|l| l.stream == LogStream::Stdout)
        .unwrap();
    assert_eq!(first_stdout.to_string(), format!("[train] {}", expected[0]));

    // The container is gone; the named volume and what the step wrote to it remain.
    assert!(
        engine
            .docker()
            .inspect_container(&name, None)
            .await
            .is_err(),
        "the container was not removed"
    );
    let reader = ContainerSpec {
        step: "read".into(),
        image: BASE_IMAGE.into(),
        command: vec!["cat".into(), "/artifacts/out.txt".into()],
        volume: Some(VolumeMount {
            volume: volume.clone(),
            target: "/artifacts".into(),
        }),
        ..Default::default()
    };
    let mut read = Vec::new();
    let exit = engine
        .run_container(&reader, &mut |line: &LogLine| read.push(line.text.clone()))
        .await
        .unwrap();
    assert_eq!((exit.code, read), (0, vec!["kept".to_string()]));
    engine
        .docker()
        .remove_volume(&volume, None::<RemoveVolumeOptions>)
        .await
        .unwrap();
}

/// Python's `repr` of a str made of printable ASCII and newlines.
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

#[tokio::test]
async fn a_keep_flag_leaves_the_container_for_inspection() {
    let engine = engine().await;
    let spec = ContainerSpec {
        step: "keep".into(),
        image: BASE_IMAGE.into(),
        command: vec!["true".into()],
        keep: true,
        ..Default::default()
    };
    let exit = engine
        .run_container(&spec, &mut |_: &LogLine| {})
        .await
        .unwrap();
    let inspected = engine
        .docker()
        .inspect_container(&exit.container_id, None)
        .await
        .unwrap();
    assert_eq!(inspected.state.and_then(|s| s.exit_code), Some(0));
    engine
        .docker()
        .remove_container(&exit.container_id, None::<RemoveContainerOptions>)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_engine_is_one_clear_sentence() {
    let error = Engine::connect_to("unix:///nonexistent.sock")
        .await
        .err()
        .expect("no engine there");
    assert_eq!(
        error.to_string(),
        "cannot reach the Docker engine at unix:///nonexistent.sock: no socket at /nonexistent.sock; is it running? \
         set DOCKER_HOST to the engine's address (unix:///path/to/docker.sock, tcp://host:2376, ssh://user@host)"
    );
    let port = free_port();
    let error = Engine::connect_to(&format!("tcp://127.0.0.1:{port}"))
        .await
        .err()
        .expect("nothing listens there");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot reach the Docker engine at tcp://127.0.0.1:{port}: "
        )),
        "{text}"
    );
    assert!(
        text.contains("Connection refused")
            && text.contains("is it running?")
            && !text.contains('\n'),
        "{text}"
    );
}

/// `DOCKER_HOST` is read from the environment: the child test below runs in a process of its
/// own with it set (setting it here would race the other tests' threads).
#[test]
fn docker_host_from_the_environment_is_honoured() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "connect_with_docker_host_from_env",
            "--ignored",
            "--nocapture",
        ])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("connect error: cannot reach the Docker engine at unix:///nonexistent.sock: no socket at /nonexistent.sock; is it running?"), "{stdout}");
}

#[tokio::test]
#[ignore = "run by docker_host_from_the_environment_is_honoured with DOCKER_HOST set"]
async fn connect_with_docker_host_from_env() {
    let error = Engine::connect()
        .await
        .err()
        .expect("DOCKER_HOST names no engine");
    println!("connect error: {error}");
}

/// Builds a small image and tags it for `registry`.
async fn image_for_push(engine: &Engine, registry: &Registry, name: &str) -> String {
    let key = fresh_key(name);
    let reference = format!("{}/dockwright-test/{name}:v1", registry.host());
    let text = dockerfile(&[&format!("RUN echo {key} > /id")]);
    let mut job = BuildJob::new(&key, context(&[("Dockerfile", &text)], None));
    job.tags = vec![reference.clone()];
    engine.build(job, &mut NoProgress).await.unwrap();
    reference
}

#[tokio::test]
async fn pushes_to_an_open_registry_and_records_the_digest() {
    let engine = engine().await;
    let registry = Registry::start(None);
    let reference = image_for_push(&engine, &registry, "open").await;
    let _cleanup = Cleanup {
        engine: &engine,
        images: vec![reference.clone()],
    };
    let empty_config = tempfile::tempdir().unwrap();

    let pushed = engine
        .push(
            &reference,
            &RegistryAuth::DockerConfigAt(empty_config.path().to_path_buf()),
        )
        .await
        .unwrap();
    assert!(
        pushed.digest.starts_with("sha256:") && pushed.digest.len() == 71,
        "{pushed:?}"
    );
    assert_eq!(
        registry
            .manifest_digest("dockwright-test/open", "v1", None)
            .as_deref(),
        Some(pushed.digest.as_str())
    );
    assert_eq!(
        pushed.pinned(),
        format!("{}/dockwright-test/open@{}", registry.host(), pushed.digest)
    );
}

#[tokio::test]
async fn pushes_with_credentials_from_the_docker_config_and_explains_refusals() {
    let engine = engine().await;
    let registry = Registry::start(Some(("alice", "s3cret pass")));
    let reference = image_for_push(&engine, &registry, "private").await;
    let _cleanup = Cleanup {
        engine: &engine,
        images: vec![reference.clone()],
    };

    // No credentials at all: the registry refuses, and the error says so.
    let error = engine
        .push(&reference, &RegistryAuth::Anonymous)
        .await
        .unwrap_err();
    let text = error.to_string();
    eprintln!("{text}");
    assert!(matches!(error, EngineError::PushFailed { .. }), "{text}");
    assert!(
        text.contains("no basic auth credentials") && text.contains("refused the credentials"),
        "{text}"
    );

    // Wrong password from the Docker config.
    let config = tempfile::tempdir().unwrap();
    write_docker_config(config.path(), &registry.host(), "alice:wrong");
    let error = engine
        .push(
            &reference,
            &RegistryAuth::DockerConfigAt(config.path().to_path_buf()),
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("refused the credentials"),
        "{error}"
    );

    // The right ones, as `docker login` stores them (`auths.<host>.auth` = base64 user:pass).
    write_docker_config(config.path(), &registry.host(), "alice:s3cret pass");
    let pushed = engine
        .push(
            &reference,
            &RegistryAuth::DockerConfigAt(config.path().to_path_buf()),
        )
        .await
        .unwrap();
    assert!(pushed.digest.starts_with("sha256:"));
    let basic = base64("alice:s3cret pass");
    assert_eq!(
        registry
            .manifest_digest("dockwright-test/private", "v1", Some(&basic))
            .as_deref(),
        Some(pushed.digest.as_str())
    );

    // Explicit credentials work too.
    let pushed_again = engine
        .push(
            &reference,
            &RegistryAuth::UsernamePassword {
                username: "alice".into(),
                password: "s3cret pass".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(pushed_again.digest, pushed.digest);
}

#[tokio::test]
async fn an_unreachable_registry_is_a_clear_push_error() {
    let engine = engine().await;
    let port = free_port();
    let reference = format!("127.0.0.1:{port}/dockwright-test/nowhere:v1");
    let _cleanup = Cleanup {
        engine: &engine,
        images: vec![reference.clone()],
    };
    engine.tag(BASE_IMAGE, &reference).await.unwrap();
    let error = engine
        .push(&reference, &RegistryAuth::Anonymous)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("pushing {reference} failed: ")),
        "{text}"
    );
    assert!(
        text.contains("connection refused") && text.contains("cannot be reached"),
        "{text}"
    );
}
