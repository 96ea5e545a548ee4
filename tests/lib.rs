//! Helpers shared by the end-to-end tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A test fixture plugin built by this package's build script.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("DOCKWRIGHT_FIXTURES")).join(format!("{name}.wasm"))
}

/// The `dockwright` binary of this workspace, brought up to date once per test process: a
/// binary left by an earlier build (cargo builds it only when the host package itself is
/// under test) would test old code.
pub fn dockwright_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let mut dir = std::env::current_exe().expect("test binary path");
        dir.pop();
        if dir.ends_with("deps") {
            dir.pop();
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // `--workspace`, not `-p dockwright`: features are unified over the packages asked
        // for, so only this finds the binary `cargo nextest run --workspace` already built
        // (`-p` would build wasmtime and its dependencies a second time, for minutes).
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--workspace", "--bin", "dockwright"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of the dockwright binary failed"
        );
        dir.join("dockwright")
    })
    .clone()
}

/// A `dockwright` command with its cache and data directories inside `home`.
pub fn dockwright(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(dockwright_bin());
    cmd.env("DOCKWRIGHT_CACHE_DIR", home.join("cache"))
        .env("DOCKWRIGHT_DATA_DIR", home.join("data"));
    cmd
}

/// The base image the engine tests build on: Debian's python3 (PEP 668 managed), made by
/// `scripts/base-image.sh` from this machine's Debian packages (nothing can be pulled here).
pub const BASE_IMAGE: &str = "dockwright-base/python:bookworm";

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Builds [`BASE_IMAGE`] once per machine (the script caches it by tag and locks against
/// parallel test binaries).
pub fn ensure_base_image() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let suite = BASE_IMAGE.rsplit(':').next().expect("tagged");
        let output = Command::new("bash")
            .arg(repo_root().join("scripts/base-image.sh"))
            .arg(BASE_IMAGE)
            .env("DOCKWRIGHT_BASE_SUITE", suite)
            .output()
            .expect("run scripts/base-image.sh");
        assert!(
            output.status.success(),
            "base image script failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// A name no earlier run (and no other test running now) has used.
pub fn unique(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{}-{nanos}-{n}", std::process::id())
}

/// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .expect("local address")
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A wheelhouse made with `pip download` on the host (build containers here cannot reach a
/// public index), for the Python the base image has (3.11, manylinux), with their
/// dependencies, cached in `dir`: the download runs only when some requirement has no wheel
/// there yet.
pub fn wheelhouse(dir: &Path, requirements: &[&str]) -> PathBuf {
    let has = |requirement: &str| {
        let name = requirement
            .split(['=', '<', '>', '!', '~', '[', ' ', ';'])
            .next()
            .unwrap_or(requirement)
            .replace('-', "_")
            .to_lowercase();
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let file = e.file_name().to_string_lossy().to_lowercase();
                file.ends_with(".whl") && file.starts_with(&format!("{name}-"))
            })
        })
    };
    let missing: Vec<&str> = requirements.iter().copied().filter(|r| !has(r)).collect();
    if missing.is_empty() {
        return dir.to_path_buf();
    }
    let arch = std::env::consts::ARCH;
    let output = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet"])
        .args(["--only-binary=:all:", "--python-version", "3.11"])
        .args(["--platform", &format!("manylinux2014_{arch}")])
        .args(["--platform", &format!("manylinux_2_17_{arch}")])
        .args(["--platform", "any", "--dest"])
        .arg(dir)
        .args(&missing)
        .output()
        .expect("run pip download");
    assert!(
        output.status.success(),
        "pip download {missing:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir.to_path_buf()
}

/// A wheelhouse served over HTTP on loopback (`python3 -m http.server`), the way a team's
/// package index is reached from a build on the host network (`PIP_FIND_LINKS`).
pub struct WheelServer {
    child: Child,
    pub port: u16,
    /// Where the server logs its requests, when asked to.
    log: Option<tempfile::NamedTempFile>,
}

impl WheelServer {
    pub fn start(dir: &Path) -> WheelServer {
        WheelServer::serve(dir, None)
    }

    /// A server whose requests can be read back with [`WheelServer::downloads`], and that
    /// marks wheels cacheable for good, as PyPI's file host does (`Cache-Control:
    /// max-age=365000000, immutable, public`): installers keep downloads in their HTTP cache
    /// only when the index says so.
    pub fn start_logged(dir: &Path) -> WheelServer {
        WheelServer::serve(
            dir,
            Some(tempfile::NamedTempFile::new().expect("a log file")),
        )
    }

    /// The files sent in full since the last call (`GET` answered `200`; a revalidation
    /// answered `304` sends nothing), by name.
    pub fn downloads(&self) -> Vec<String> {
        let log = self
            .log
            .as_ref()
            .expect("a server started with start_logged");
        let text = std::fs::read_to_string(log.path()).expect("read the server log");
        std::fs::write(log.path(), "").expect("truncate the server log");
        text.lines()
            .filter_map(|line| {
                let request = line.split_once("\"GET /")?.1;
                let (path, rest) = request.split_once(' ')?;
                let status = rest.split_once("\" ")?.1;
                status.starts_with("200 ").then(|| path.to_string())
            })
            .filter(|path| !path.is_empty())
            .collect()
    }

    fn serve(dir: &Path, log: Option<tempfile::NamedTempFile>) -> WheelServer {
        let stderr = match &log {
            // Appends, so that truncating it between reads keeps the server writing at 0.
            Some(file) => Stdio::from(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(file.path())
                    .expect("open the server log"),
            ),
            None => Stdio::null(),
        };
        let port = free_port();
        let mut command = Command::new("python3");
        if log.is_some() {
            command.args(["-c", CACHEABLE_WHEELS_SERVER, &port.to_string()]);
        } else {
            command.args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ]);
            command.arg("--directory");
        }
        let child = command
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("python3 -m http.server");
        let server = WheelServer { child, port, log };
        wait_for_port(port, "the wheel server");
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for WheelServer {
    fn drop(&mut self) {
        // Only the server this test started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `python3 -m http.server` on 127.0.0.1 (arguments: port, directory) whose wheels carry
/// PyPI's caching headers.
const CACHEABLE_WHEELS_SERVER: &str = r#"
import functools, http.server, sys

class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        if self.path.endswith(".whl"):
            self.send_header("Cache-Control", "max-age=365000000, immutable, public")
        super().end_headers()

handler = functools.partial(Handler, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"#;

/// Debian's `docker-registry` serving on 127.0.0.1, optionally behind htpasswd (bcrypt) auth.
pub struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start(user: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((name, password)) = user {
            let htpasswd = dir.path().join("htpasswd");
            let output = Command::new("htpasswd")
                .args(["-B", "-b", "-n", name, password])
                .output()
                .expect("htpasswd (apache2-utils)");
            assert!(output.status.success());
            std::fs::write(&htpasswd, output.stdout).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: dockwright-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(dir.path().join("config.yml"), config).expect("write registry config");
        let registry = Registry {
            child: Registry::serve(dir.path()),
            port,
            _dir: dir,
        };
        wait_for_port(port, "the registry");
        registry
    }

    fn serve(dir: &Path) -> Child {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(dir.join("registry.log"))
            .expect("log file");
        Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry (Debian package docker-registry)")
    }

    /// The registry goes down (killed, as a crash would end it).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The registry is back, on the same port with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        self.child = Registry::serve(self._dir.path());
        wait_for_port(self.port, "the registry");
    }

    /// `127.0.0.1:<port>`, the registry part of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The digest the registry itself reports for `repository:tag` (HEAD on the manifest).
    pub fn manifest_digest(
        &self,
        repository: &str,
        tag: &str,
        auth: Option<&str>,
    ) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("registry");
        let authorization = auth
            .map(|basic| format!("Authorization: Basic {basic}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "HEAD /v2/{repository}/manifests/{tag} HTTP/1.1\r\nHost: {}\r\n{authorization}\
             Accept: application/vnd.docker.distribution.manifest.v2+json\r\nConnection: close\r\n\r\n",
            self.host()
        )
        .expect("send HEAD");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read answer");
        response.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("Docker-Content-Digest")
                .then(|| value.trim().to_string())
        })
    }
}

impl Registry {
    /// The registry's storage directory (`docker/registry/v2/...` below it), for tests that
    /// tamper with what it serves.
    pub fn storage(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    /// The stored bytes of the blob `sha256:<hex>`.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// GET of an OCI image manifest: its digest header and body.
    pub fn oci_manifest(
        &self,
        repository: &str,
        tag: &str,
        auth: Option<&str>,
    ) -> Option<(String, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("registry");
        let authorization = auth
            .map(|basic| format!("Authorization: Basic {basic}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET /v2/{repository}/manifests/{tag} HTTP/1.1\r\nHost: {}\r\n{authorization}\
             Accept: application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n",
            self.host()
        )
        .expect("send GET");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read answer");
        let (head, body) = response.split_once("\r\n\r\n")?;
        let digest = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("Docker-Content-Digest")
                .then(|| value.trim().to_string())
        })?;
        Some((digest, body.to_string()))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Only the registry this test started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Docker config directory's `config.json` with `auths.<host>.auth` as `docker login`
/// stores it (base64 of `user:password`).
pub fn write_docker_config(dir: &Path, host: &str, user_and_password: &str) {
    let config = format!(
        r#"{{"auths": {{"{host}": {{"auth": "{}"}}}}}}"#,
        base64(user_and_password)
    );
    std::fs::write(dir.join("config.json"), config).expect("write config.json");
}

pub fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The target directory's `tmp` folder (what cargo gives integration tests as
/// `CARGO_TARGET_TMPDIR`), found from the running test binary: `target/<profile>/deps/x`.
pub fn target_tmpdir() -> PathBuf {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.pop();
    dir.join("tmp")
}

/// One test's Dockwright: its own cache and data directories (records, locks), sharing the
/// compiled plugin components with the other tests (they are written atomically).
pub struct Home {
    pub dir: tempfile::TempDir,
    pub docker_config: PathBuf,
}

impl Home {
    pub fn new() -> Home {
        Home::in_dir(tempfile::tempdir().unwrap(), true)
    }

    /// A Home in `dir`; with `shared_components`, the compiled components are the ones all
    /// tests share, else this Home compiles its own.
    pub fn in_dir(dir: tempfile::TempDir, shared_components: bool) -> Home {
        ensure_base_image();
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        if shared_components {
            let shared = target_tmpdir().join("run-test-components");
            std::fs::create_dir_all(&shared).unwrap();
            std::os::unix::fs::symlink(&shared, dir.path().join("cache/components")).unwrap();
        }
        // An empty Docker config: pushes use only the credentials a test writes there.
        let docker_config = dir.path().join("docker-config");
        std::fs::create_dir_all(&docker_config).unwrap();
        Home { dir, docker_config }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn dockwright(&self, args: &[&str]) -> Command {
        let mut command = dockwright(self.path());
        command
            .args(args)
            .env("DOCKER_CONFIG", &self.docker_config)
            .stdin(Stdio::null());
        command
    }

    pub fn records_dir(&self) -> PathBuf {
        self.path().join("cache/builds/records")
    }

    /// The build locks' directory.
    pub fn locks_dir(&self) -> PathBuf {
        self.path().join("cache/builds/locks")
    }

    /// The records written so far, as JSON.
    pub fn records(&self) -> Vec<serde_json::Value> {
        let Ok(entries) = std::fs::read_dir(self.records_dir()) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
            .collect()
    }
}

impl Default for Home {
    fn default() -> Self {
        Home::new()
    }
}

/// A pipeline written into a directory of its own.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(files: &[(&str, &str)]) -> Project {
        Project::in_dir(tempfile::tempdir().unwrap(), files)
    }

    pub fn in_dir(dir: tempfile::TempDir, files: &[(&str, &str)]) -> Project {
        let project = Project { dir };
        for (path, text) in files {
            project.write(path, text);
        }
        project
    }

    pub fn write(&self, path: &str, text: &str) {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn file(&self) -> String {
        self.dir
            .path()
            .join("dockwright.yaml")
            .display()
            .to_string()
    }
}

/// How a command ended.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> &Ran {
        assert_eq!(
            self.code,
            Some(0),
            "dockwright failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn failed(&self) -> &Ran {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "dockwright should have failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs a command (owned, or borrowed after adding to it) to its end.
pub fn run(mut command: impl std::borrow::BorrowMut<Command>) -> Ran {
    let std::process::Output {
        status,
        stdout,
        stderr,
    } = command.borrow_mut().output().expect("run dockwright");
    Ran {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("docker")
}

pub fn image_id(name: &str) -> Option<String> {
    let out = docker(&["image", "inspect", "--format", "{{.Id}}", name]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Every connection a proxy forwards, so that a test can cut them all.
type Open = std::sync::Arc<std::sync::Mutex<Vec<std::os::unix::net::UnixStream>>>;

/// A Unix socket that forwards to the engine's and records the request lines it sees, to
/// tell whether a command sent a build (and its context) at all. [`EngineProxy::cut`] makes
/// the engine's socket go away under a running command.
pub struct EngineProxy {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    engine: PathBuf,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    open: Open,
}

impl EngineProxy {
    pub fn start() -> EngineProxy {
        let engine = match std::env::var("DOCKER_HOST") {
            Ok(host) if host.starts_with("unix://") => PathBuf::from(&host["unix://".len()..]),
            Ok(host) if !host.is_empty() => panic!("the proxy speaks to unix sockets, not {host}"),
            _ => PathBuf::from("/var/run/docker.sock"),
        };
        let dir = tempfile::tempdir().unwrap();
        let proxy = EngineProxy {
            socket: dir.path().join("engine.sock"),
            _dir: dir,
            engine,
            seen: Default::default(),
            open: Default::default(),
        };
        proxy.listen();
        proxy
    }

    /// Accepts on the socket until the test process ends or the socket is cut.
    fn listen(&self) {
        let listener = std::os::unix::net::UnixListener::bind(&self.socket).unwrap();
        let (engine, log, open) = (self.engine.clone(), self.seen.clone(), self.open.clone());
        // A cut listener stays blocked in `accept`: nothing can reach it any more.
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::os::unix::net::UnixStream::connect(&engine) else {
                    continue;
                };
                {
                    let mut open = open.lock().unwrap();
                    open.push(client.try_clone().unwrap());
                    open.push(server.try_clone().unwrap());
                }
                forward(client, server, log.clone());
            }
        });
    }

    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The engine's socket goes away: the socket file is removed and every open connection
    /// is shut down, on both sides (so the engine sees its client leave, too).
    pub fn cut(&self) {
        std::fs::remove_file(&self.socket).unwrap();
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The socket is back, at the same path.
    pub fn restore(&self) {
        self.listen();
    }

    /// `METHOD /path` of every request seen so far (query strings dropped).
    pub fn requests(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        let text = String::from_utf8_lossy(&seen);
        text.split("\r\n")
            .filter_map(|line| {
                let (method, rest) = line.split_once(' ')?;
                let path = rest.strip_suffix(" HTTP/1.1")?;
                ["GET", "POST", "HEAD", "DELETE", "PUT"]
                    .contains(&method)
                    .then(|| format!("{method} {}", path.split('?').next().unwrap()))
            })
            .collect()
    }
}

/// Copies both ways; what the client sends is also logged (capped: a build's context would
/// otherwise be kept whole).
fn forward(
    client: std::os::unix::net::UnixStream,
    server: std::os::unix::net::UnixStream,
    log: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) {
    let (mut client_read, mut server_write) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match client_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    {
                        let mut log = log.lock().unwrap();
                        if log.len() < 8 << 20 {
                            log.extend_from_slice(&buf[..n.min(4096)]);
                        }
                    }
                    if server_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = server_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut server_read, mut client_write) = (server, client);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_read, &mut client_write);
        let _ = client_write.shutdown(std::net::Shutdown::Write);
    });
}

/// A YAML double-quoted scalar (JSON strings are YAML).
pub fn yaml_str(value: &str) -> String {
    serde_json::to_string(value).unwrap()
}

/// The settings lines that point pip and uv at the wheel server, on the host network, with
/// `more` in the environment too. uv reads `UV_FIND_LINKS` but has no variable for
/// `--no-index`: that one is an installer arg (pip gets it too, harmlessly).
pub fn index_settings(server: &WheelServer, more: &[(&str, &str)]) -> String {
    let url = server.url();
    let more: String = more
        .iter()
        .map(|(k, v)| format!("      {k}: {}\n", yaml_str(v)))
        .collect();
    format!(
        "    environment:\n      PIP_FIND_LINKS: {url}\n      PIP_NO_INDEX: \"1\"\n      UV_FIND_LINKS: {url}\n{more}    python_package_installer_args:\n      no-index: true\n    build_config:\n      build_options:\n        network_mode: host\n"
    )
}
