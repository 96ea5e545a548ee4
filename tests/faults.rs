//! Faults on the real engine, and commands running at the same time. Each fault test breaks
//! something under a running `dockwright` — the engine's socket goes away mid-build, the disk
//! under the data dir and the build context is full, Ctrl-C during a build, a push and a
//! step, the registry dies mid-push, the registry refuses the credentials — then checks the
//! aftermath: one clear error line naming what failed, no tag for the image that failed, no
//! record of a build or push that did not finish, no build lock held, no container left (by
//! Dockwright's pipeline label, and by a marker in the build's own commands), and that the
//! same command run again works.
//!
//! The concurrency tests run four `dockwright build`s of one pipeline at once (each build
//! key built once: one build request reaches the engine; identical image IDs) and builds of
//! different pipelines sharing one data dir and compiled-component cache (every later
//! command works, every record parses).
//!
//! No assertion depends on timing: a test waits for a condition (a line of output, a request
//! seen by a proxy), with a generous deadline only against hanging forever.
//!
//! Needs: a running engine, root (for the tmpfs), `docker-registry`, `htpasswd`, `flock`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dockwright_tests::{
    BASE_IMAGE, EngineProxy, Home, Project, Ran, Registry, WheelServer, docker, image_id,
    index_settings, run, target_tmpdir, unique, wheelhouse, write_docker_config,
};
use serde_json::Value;

/// How long a condition may take to come true before the test gives up (builds and pushes on
/// a loaded machine are slow; this only stops a hang).
const PATIENCE: Duration = Duration::from_secs(600);

/// A `dockwright` running in the background, its output collected as it comes.
struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dockwright");
        let (stdout, stderr) = (Arc::default(), Arc::default());
        let readers = vec![
            collect(child.stdout.take().unwrap(), Arc::clone(&stdout)),
            collect(child.stderr.take().unwrap(), Arc::clone(&stderr)),
        ];
        Running {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// Waits until the output so far (stdout, stderr) satisfies `ready`.
    fn wait_for(&mut self, what: &str, ready: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (out, err) = (self.stdout.lock().unwrap(), self.stderr.lock().unwrap());
            if ready(&out, &err) {
                return;
            }
            let ended = self.child.try_wait().unwrap();
            assert!(
                ended.is_none() && Instant::now() < deadline,
                "never saw {what} (exit {ended:?})\nstdout:\n{out}\nstderr:\n{err}"
            );
            drop((out, err));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ctrl-C, as a terminal sends it.
    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -INT");
    }

    fn finish(mut self) -> Ran {
        let status = self.child.wait().unwrap();
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        Ran {
            code: status.code(),
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }
}

fn collect(
    stream: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut text = into.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    })
}

/// The one `error:` line of a failed command; it must name every one of `names`.
fn the_error<'a>(ran: &'a Ran, names: &[&str]) -> &'a str {
    let errors: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line:\n{}", ran.stderr);
    for name in names {
        assert!(
            errors[0].contains(name),
            "the error names {name}:\n{}",
            ran.stderr
        );
    }
    errors[0]
}

/// The images `plan --json` names for the pipeline, in build order.
fn planned_images(home: &Home, project: &Project) -> Vec<String> {
    let plan = run(home.dockwright(&["plan", "--json", "-f", &project.file()]));
    plan.ok();
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

/// Build locks that some process still holds (`flock -n` cannot take them).
fn held_locks(home: &Home) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(home.locks_dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let free = Command::new("flock")
                .args(["-n", "-E", "75"])
                .arg(entry.path())
                .arg("true")
                .status()
                .expect("flock (util-linux)");
            !free.success()
        })
        .map(|entry| entry.path().display().to_string())
        .collect()
}

/// Containers of the pipeline `name` (by Dockwright's label), or of a build whose commands
/// hold `marker`.
fn containers(name: &str, marker: &str) -> Vec<String> {
    let labelled = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=dockwright.pipeline={name}"),
        "--format",
        "{{.ID}} {{.Command}}",
    ]);
    let all = docker(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"]);
    let all = String::from_utf8_lossy(&all.stdout);
    String::from_utf8_lossy(&labelled.stdout)
        .lines()
        .chain(all.lines().filter(|l| l.contains(marker)))
        .map(str::to_string)
        .collect()
}

/// No container is left: the engine stops an abandoned build on its own, so this waits for
/// that to happen (and fails if it never does).
fn no_containers_left(name: &str, marker: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = containers(name, marker);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "containers left: {left:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The aftermath of a failed build: no tag, no record, no held lock, no container.
fn nothing_half_done(home: &Home, image: &str, name: &str, marker: &str) {
    assert_eq!(image_id(image), None, "the image that failed is not tagged");
    assert!(home.records().is_empty(), "{:?}", home.records());
    assert!(held_locks(home).is_empty(), "{:?}", held_locks(home));
    no_containers_left(name, marker);
}

/// Removes the images and artifact volume a test made, even when it fails.
struct Cleanup {
    images: Vec<String>,
    volume: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for image in &self.images {
            let _ = docker(&["image", "rm", "-f", image]);
        }
        if let Some(volume) = &self.volume {
            let _ = docker(&["volume", "rm", "-f", volume]);
        }
    }
}

fn cleanup(images: &[&str]) -> Cleanup {
    Cleanup {
        images: images.iter().map(|i| i.to_string()).collect(),
        volume: None,
    }
}

/// A pipeline whose one image is built from a Dockerfile with a slow `RUN` that prints
/// `<marker>-running` first (the marker also finds the build's containers).
fn slow_build(name: &str, marker: &str, seconds: u32) -> Project {
    Project::new(&[
        (
            "dockwright.yaml",
            &format!(
                "name: {name}\nsettings:\n  docker:\n    dockerfile: Dockerfile\n    target_repository: dockwright-test/{name}\n    image_tag: v1\nsteps:\n  - name: only\n    command: [\"true\"]\n"
            ),
        ),
        (
            "Dockerfile",
            &format!("FROM {BASE_IMAGE}\nRUN echo {marker}-running && sleep {seconds}\n"),
        ),
    ])
}

/// Whether the build's slow `RUN` has started (its first output line, not the step header).
fn running(marker: &str) -> impl Fn(&str, &str) -> bool {
    let line = format!("{marker}-running");
    move |_: &str, stderr: &str| stderr.lines().any(|l| l.trim() == line)
}

/// A pipeline of one quick image (an `ENV` on the base image) named into `registry` when
/// given (then every build pushes).
fn quick_build(name: &str, registry: Option<&str>) -> Project {
    let (stack, repository) = match registry {
        Some(host) => (
            format!(
                "stack:\n  container_registry: {{flavor: default, uri: {host}/dockwright-test}}\n"
            ),
            name.to_string(),
        ),
        None => (String::new(), format!("dockwright-test/{name}")),
    };
    Project::new(&[(
        "dockwright.yaml",
        &format!(
            "name: {name}\n{stack}settings:\n  docker:\n    parent_image: {BASE_IMAGE}\n    target_repository: {repository}\n    image_tag: v1\n    environment:\n      BUILT_FOR: {name}\nsteps:\n  - name: only\n    command: [\"true\"]\n"
        ),
    )])
}

#[test]
fn the_engines_socket_going_away_mid_build_leaves_nothing_and_the_next_build_works() {
    let home = Home::new();
    let name = unique("socket-cut");
    let marker = unique("marker-socket");
    let project = slow_build(&name, &marker, 20);
    let image = format!("dockwright-test/{name}:v1");
    let _cleanup = cleanup(&[&image]);
    let proxy = EngineProxy::start();
    let build = || {
        let mut command = home.dockwright(&["build", "--verbose", "-f", &project.file()]);
        command.env("DOCKER_HOST", proxy.docker_host());
        command
    };

    let mut building = Running::start(build());
    building.wait_for("the slow RUN", running(&marker));
    proxy.cut();
    let ran = building.finish();
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    let error = the_error(&ran, &[&image, "Docker engine"]);
    assert!(!error.contains("hyper"), "in the user's words: {error}");
    nothing_half_done(&home, &image, &name, &marker);

    proxy.restore();
    let again = run(build());
    again.ok();
    assert!(
        again.stderr.contains(&format!("{image}: built")),
        "{}",
        again.stderr
    );
    assert!(image_id(&image).is_some());
    assert!(
        home.records().iter().any(|r| r["name"] == image.as_str()),
        "{:?}",
        home.records()
    );
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with the reason printed) when this machine refuses the mount.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount");
        if !mounted.status.success() {
            println!(
                "skipped: a tmpfs cannot be mounted here: {}",
                String::from_utf8_lossy(&mounted.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system: writes until it says it is full.
    fn fill(&self) -> std::path::PathBuf {
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_under_the_data_dir_and_the_build_context_leaves_nothing_half_done() {
    let Some(disk) = Tmpfs::mount("4m") else {
        return;
    };
    let home = Home::in_dir(tempfile::tempdir_in(disk.path()).unwrap(), true);
    let name = unique("disk-full");
    let marker = unique("marker-disk");
    let quick = quick_build(&name, None);
    let project = Project::in_dir(
        tempfile::tempdir_in(disk.path()).unwrap(),
        &[(
            "dockwright.yaml",
            &std::fs::read_to_string(quick.file()).unwrap(),
        )],
    );
    let image = format!("dockwright-test/{name}:v1");
    let _cleanup = cleanup(&[&image]);
    let filler = disk.fill();

    let ran = run(home.dockwright(&["build", "-f", &project.file()]));
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    the_error(&ran, &[&image, "No space left on device", "records"]);
    nothing_half_done(&home, &image, &name, &marker);

    std::fs::remove_file(filler).unwrap();
    let again = run(home.dockwright(&["build", "-f", &project.file()]));
    again.ok();
    assert!(image_id(&image).is_some(), "{}", again.stderr);
    assert_eq!(home.records().len(), 1);
}

#[test]
fn ctrl_c_during_a_build_stops_it_with_130_and_leaves_nothing() {
    let home = Home::new();
    let name = unique("int-build");
    let marker = unique("marker-int-build");
    let project = slow_build(&name, &marker, 15);
    let image = format!("dockwright-test/{name}:v1");
    let _cleanup = cleanup(&[&image]);

    let mut building =
        Running::start(home.dockwright(&["build", "--verbose", "-f", &project.file()]));
    building.wait_for("the slow RUN", running(&marker));
    building.interrupt();
    let ran = building.finish();
    assert_eq!(ran.code, Some(130), "{}", ran.stderr);
    the_error(&ran, &["interrupted while building", &image]);
    nothing_half_done(&home, &image, &name, &marker);

    let again = run(home.dockwright(&["build", "-f", &project.file()]));
    again.ok();
    assert!(image_id(&image).is_some());
}

#[test]
fn ctrl_c_during_a_step_removes_its_container_starts_no_other_and_exits_130() {
    let home = Home::new();
    let name = unique("int-run");
    let marker = unique("marker-int-run");
    // The first run sleeps; the next finds the mark it left in the artifacts volume.
    let step = format!(
        "if [ -e /artifacts/slept ]; then echo second run; else touch /artifacts/slept; echo {marker} sleeping; sleep 600; fi"
    );
    let project = Project::new(&[(
        "dockwright.yaml",
        &format!(
            "name: {name}\nsettings:\n  docker:\n    parent_image: {BASE_IMAGE}\n    skip_build: true\nsteps:\n  - name: sleeper\n    command: [sh, -c, {}]\n  - name: later\n    command: [echo, later ran]\n    after: [sleeper]\n",
            serde_json::to_string(&step).unwrap()
        ),
    )]);
    let _cleanup = Cleanup {
        images: Vec::new(),
        volume: Some(format!("dockwright-{name}-artifacts")),
    };

    let mut running = Running::start(home.dockwright(&["run", "-f", &project.file()]));
    let sleeping = format!("[sleeper] {marker} sleeping");
    running.wait_for("the step sleeping", |out, _| out.contains(&sleeping));
    running.interrupt();
    let ran = running.finish();
    assert_eq!(ran.code, Some(130), "{}", ran.stderr);
    the_error(&ran, &["interrupted", "removed", "sleeper"]);
    assert!(!ran.stdout.contains("later ran"), "{}", ran.stdout);
    // Removed before Dockwright exited: no waiting here.
    assert_eq!(containers(&name, &marker), Vec::<String>::new());
    assert!(held_locks(&home).is_empty());

    let again = run(home.dockwright(&["run", "-f", &project.file()]));
    again.ok();
    assert!(
        again.stdout.contains("[sleeper] second run"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("[later] later ran"),
        "{}",
        again.stdout
    );
    assert_eq!(containers(&name, &marker), Vec::<String>::new());
}

/// A TCP proxy in front of a registry that passes uploads on at `rate` bytes a second (0:
/// as fast as they come) and notes the request lines it sees.
struct SlowProxy {
    port: u16,
    rate: Arc<AtomicU64>,
    seen: Arc<Mutex<String>>,
}

impl SlowProxy {
    fn start(upstream: u16, rate: u64) -> SlowProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = SlowProxy {
            port: listener.local_addr().unwrap().port(),
            rate: Arc::new(AtomicU64::new(rate)),
            seen: Arc::default(),
        };
        let (rate, seen) = (proxy.rate.clone(), proxy.seen.clone());
        // Runs until the test process ends.
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue; // the registry is down: the client sees its connection close
                };
                throttle(client, server, rate.clone(), seen.clone());
            }
        });
        proxy
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether a blob upload has started through the proxy.
    fn uploading(&self) -> bool {
        let seen = self.seen.lock().unwrap();
        seen.lines()
            .any(|l| (l.starts_with("PATCH ") || l.starts_with("PUT ")) && l.contains("/blobs/"))
    }

    fn full_speed(&self) {
        self.rate.store(0, Ordering::Relaxed);
    }
}

fn throttle(client: TcpStream, server: TcpStream, rate: Arc<AtomicU64>, seen: Arc<Mutex<String>>) {
    let (mut client_read, mut server_write) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            {
                let text = String::from_utf8_lossy(&buf[..n.min(512)]);
                let mut seen = seen.lock().unwrap();
                for line in text.lines().filter(|l| l.ends_with(" HTTP/1.1")) {
                    seen.push_str(line);
                    seen.push('\n');
                }
            }
            if server_write.write_all(&buf[..n]).is_err() {
                break;
            }
            let rate = rate.load(Ordering::Relaxed);
            if rate > 0 {
                std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
            }
        }
        let _ = server_write.shutdown(std::net::Shutdown::Both);
    });
    let (mut server_read, mut client_write) = (server, client);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_read, &mut client_write);
        let _ = client_write.shutdown(std::net::Shutdown::Both);
    });
}

/// A registry behind a slow proxy, and a quick pipeline whose image is pushed there.
struct SlowPush {
    registry: Registry,
    proxy: SlowProxy,
    project: Project,
    image: String,
    repository: String,
}

fn slow_push(name: &str) -> SlowPush {
    let registry = Registry::start(None);
    let port: u16 = registry.host().rsplit(':').next().unwrap().parse().unwrap();
    let proxy = SlowProxy::start(port, 256 * 1024);
    let project = quick_build(name, Some(&proxy.host()));
    SlowPush {
        image: format!("{}/dockwright-test/{name}:v1", proxy.host()),
        repository: format!("dockwright-test/{name}"),
        registry,
        proxy,
        project,
    }
}

/// Nothing is recorded as pushed, and the registry has no manifest under the tag.
fn nothing_pushed(home: &Home, push: &SlowPush) {
    for record in home.records() {
        assert_eq!(record["pushed_digest"], Value::Null, "{record}");
    }
    assert_eq!(
        push.registry.manifest_digest(&push.repository, "v1", None),
        None
    );
    assert!(held_locks(home).is_empty(), "{:?}", held_locks(home));
}

#[test]
fn ctrl_c_during_a_push_exits_130_and_records_nothing_as_pushed() {
    let home = Home::new();
    let name = unique("int-push");
    let push = slow_push(&name);
    let _cleanup = cleanup(&[&push.image]);

    let mut pushing = Running::start(home.dockwright(&["build", "-f", &push.project.file()]));
    pushing.wait_for("a blob upload", |_, _| push.proxy.uploading());
    pushing.interrupt();
    let ran = pushing.finish();
    assert_eq!(ran.code, Some(130), "{}", ran.stderr);
    the_error(&ran, &["interrupted while pushing", &push.image]);
    nothing_pushed(&home, &push);
    no_containers_left(&name, &unique("none"));

    push.proxy.full_speed();
    let again = run(home.dockwright(&["build", "--json", "-f", &push.project.file()]));
    again.ok();
    let digest = push.registry.manifest_digest(&push.repository, "v1", None);
    assert!(digest.is_some(), "pushed this time");
    let record = &home.records()[0];
    assert_eq!(record["pushed_digest"].as_str(), digest.as_deref());
}

#[test]
fn a_registry_going_down_mid_push_is_named_and_nothing_is_recorded_as_pushed() {
    let home = Home::new();
    let name = unique("registry-dies");
    let mut push = slow_push(&name);
    let _cleanup = cleanup(&[&push.image]);

    let mut pushing = Running::start(home.dockwright(&["build", "-f", &push.project.file()]));
    pushing.wait_for("a blob upload", |_, _| push.proxy.uploading());
    push.registry.stop();
    let ran = pushing.finish();
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    the_error(
        &ran,
        &[
            &format!("pushing {} failed", push.image),
            &push.proxy.host(),
        ],
    );
    // Back up (same storage) to be asked what it holds.
    push.registry.restart();
    nothing_pushed(&home, &push);

    push.proxy.full_speed();
    let again = run(home.dockwright(&["build", "-f", &push.project.file()]));
    again.ok();
    assert!(
        push.registry
            .manifest_digest(&push.repository, "v1", None)
            .is_some()
    );
}

#[test]
fn bad_credentials_are_one_clear_error_and_nothing_is_recorded_as_pushed() {
    let home = Home::new();
    let registry = Registry::start(Some(("alice", "right")));
    let name = unique("bad-creds");
    let project = quick_build(&name, Some(&registry.host()));
    let image = format!("{}/dockwright-test/{name}:v1", registry.host());
    let _cleanup = cleanup(&[&image]);
    write_docker_config(&home.docker_config, &registry.host(), "alice:wrong");

    let ran = run(home.dockwright(&["build", "-f", &project.file()]));
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    the_error(
        &ran,
        &[
            &format!("pushing {image} failed"),
            "refused the credentials",
        ],
    );
    for record in home.records() {
        assert_eq!(record["pushed_digest"], Value::Null, "{record}");
    }
    let auth = dockwright_tests::base64("alice:right");
    let repository = format!("dockwright-test/{name}");
    assert_eq!(
        registry.manifest_digest(&repository, "v1", Some(&auth)),
        None
    );
    assert!(held_locks(&home).is_empty());

    write_docker_config(&home.docker_config, &registry.host(), "alice:right");
    let again = run(home.dockwright(&["build", "-f", &project.file()]));
    again.ok();
    let digest = registry.manifest_digest(&repository, "v1", Some(&auth));
    assert!(digest.is_some());
    assert_eq!(
        home.records()[0]["pushed_digest"].as_str(),
        digest.as_deref()
    );
}

/// `build --json` results of one command: image name → image ID.
fn built_ids(ran: &Ran) -> Vec<(String, String)> {
    let results: Value = serde_json::from_str(&ran.stdout).unwrap();
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["image_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn four_builds_of_one_pipeline_at_once_build_it_once_with_one_result() {
    let home = Home::new();
    let name = unique("same-four");
    let project = quick_build(&name, None);
    let image = format!("dockwright-test/{name}:v1");
    let _cleanup = cleanup(&[&image]);
    let proxy = EngineProxy::start();

    let builds: Vec<Running> = (0..4)
        .map(|_| {
            let mut command = home.dockwright(&["build", "--json", "-f", &project.file()]);
            command.env("DOCKER_HOST", proxy.docker_host());
            Running::start(command)
        })
        .collect();
    let ran: Vec<Ran> = builds.into_iter().map(Running::finish).collect();
    for r in &ran {
        r.ok();
    }
    let requests = proxy.requests();
    let sent = requests.iter().filter(|r| r.ends_with("/build")).count();
    assert_eq!(sent, 1, "one build request for one build key: {requests:?}");
    let ids: Vec<Vec<(String, String)>> = ran.iter().map(built_ids).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(ids[0], [(image.clone(), image_id(&image).unwrap())]);
    let built = ran
        .iter()
        .filter(|r| r.stderr.contains(&format!("{image}: built")))
        .count();
    assert_eq!(built, 1, "the other three reused it");
    assert_eq!(home.records().len(), 1);
    assert!(held_locks(&home).is_empty());
}

#[test]
fn builds_of_different_pipelines_at_once_share_the_data_dir_without_corrupting_it() {
    // Its own compiled-component cache: the processes compile the plugins at the same time.
    let home = Home::in_dir(tempfile::tempdir().unwrap(), false);
    let server = WheelServer::start(&wheelhouse(
        &target_tmpdir().join("run-wheelhouse"),
        &["six==1.16.0"],
    ));
    let names: Vec<String> = (0..3).map(|i| unique(&format!("shared-{i}"))).collect();
    let projects: Vec<Project> = names
        .iter()
        .map(|name| {
            Project::new(&[
                (
                    "dockwright.yaml",
                    &format!(
                        "name: {name}\nsettings:\n  docker:\n    parent_image: {BASE_IMAGE}\n    target_repository: dockwright-test/{name}\n    image_tag: v1\n    python_package_installer: pip\n    requirements: [six==1.16.0]\n    allow_including_files_in_images: true\n{}steps:\n  - name: only\n    command: [\"true\"]\n",
                        index_settings(&server, &[("BUILT_FOR", name)])
                    ),
                ),
                ("steps/code.py", &format!("print({:?})\n", name)),
            ])
        })
        .collect();
    let images: Vec<String> = names
        .iter()
        .map(|n| format!("dockwright-test/{n}:v1"))
        .collect();
    let _cleanup = Cleanup {
        images: images.clone(),
        volume: None,
    };

    let builds: Vec<Running> = projects
        .iter()
        .map(|p| Running::start(home.dockwright(&["build", "-f", &p.file()])))
        .collect();
    for ran in builds.into_iter().map(Running::finish) {
        ran.ok();
    }

    // Every record parses (`records` panics on one that does not) and names its image.
    let mut recorded: Vec<String> = home
        .records()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    recorded.sort();
    let mut expected = images.clone();
    expected.sort();
    assert_eq!(recorded, expected);
    // Every later command works off what the others left: the hash cache, the records,
    // the compiled components.
    for (project, image) in projects.iter().zip(&images) {
        assert_eq!(planned_images(&home, project), std::slice::from_ref(image));
        let explain = run(home.dockwright(&["plan", "--explain", "-f", &project.file()]));
        explain.ok();
        assert!(
            explain.stdout.contains("unchanged since the last build"),
            "{}",
            explain.stdout
        );
        let again = run(home.dockwright(&["build", "-f", &project.file()]));
        again.ok();
        assert!(
            again.stderr.contains(&format!("{image}: reused")),
            "{}",
            again.stderr
        );
    }
    assert!(held_locks(&home).is_empty());
}
