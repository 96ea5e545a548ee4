//! The plugin sandbox against real compiled plugins: hostile fixtures (built by this package's
//! build script) must each fail with their specific error, and the same runtime must then
//! serve a good plugin normally.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dockwright::plugins::{
    ErrorKind, Grants, GuestError, Limits, Origin, Platform, Plugin, PluginError, Request, Runtime,
    builtin, load_file,
};
use dockwright_tests::fixture;
use serde_json::json;

/// Generous deadline: calls that should succeed must not time out on a loaded CI machine.
fn runtime(cache: &Path) -> Runtime {
    runtime_with_deadline(cache, Duration::from_secs(30))
}

fn runtime_with_deadline(cache: &Path, deadline: Duration) -> Runtime {
    let limits = Limits {
        deadline,
        memory: 64 << 20,
        ..Limits::default()
    };
    Runtime::new(cache.join("components"), limits).expect("runtime")
}

fn request(settings: serde_json::Value, grants: Grants) -> Request {
    Request {
        platform: Platform::default(),
        settings,
        base_dir: PathBuf::from("/"),
        grants,
    }
}

fn hostile(rt: &Runtime) -> Plugin {
    load_file(rt, &fixture("hostile")).expect("hostile fixture loads")
}

fn call(
    rt: &Runtime,
    plugin: &Plugin,
    mode: &str,
) -> Result<dockwright::plugins::Contribution, PluginError> {
    call_with(rt, plugin, json!({"mode": mode}), Grants::default())
}

fn call_with(
    rt: &Runtime,
    plugin: &Plugin,
    settings: serde_json::Value,
    grants: Grants,
) -> Result<dockwright::plugins::Contribution, PluginError> {
    rt.contribute(plugin, &request(settings, grants))
        .map(|o| o.value)
}

/// After any failure, the same runtime still serves plugins normally.
fn assert_still_serves(rt: &Runtime, plugin: &Plugin) {
    let ok = call(rt, plugin, "ok").expect("a good call after a failure");
    assert_eq!(ok.requirements[0].line, "six==1.16.0");
    assert_eq!(ok.apt_packages, ["git"]);
}

#[test]
fn a_good_call_returns_the_contribution_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    assert_eq!(plugin.manifest.name, "hostile");
    assert!(plugin.digest.starts_with("sha256:") && plugin.digest.len() == 71);
    let outcome = rt
        .contribute(&plugin, &request(json!({"mode": "ok"}), Grants::default()))
        .unwrap();
    assert_eq!(outcome.value.requirements[0].origin, "hostile");
    assert_eq!(outcome.logs.len(), 1);
    assert_eq!(
        (outcome.logs[0].level, outcome.logs[0].message.as_str()),
        ("info", "all good")
    );
}

#[test]
fn an_infinite_loop_hits_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime_with_deadline(dir.path(), Duration::from_secs(2));
    let plugin = hostile(&rt);
    let started = Instant::now();
    let err = call(&rt, &plugin, "loop").unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Timeout(d) if d == Duration::from_secs(2)),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the deadline did not stop the loop in time"
    );
    assert!(
        err.to_string()
            .starts_with("plugin hostile 0.1.0: timed out"),
        "{err}"
    );
    assert_still_serves(&rt, &plugin);
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    let err = call(&rt, &plugin, "memory").unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::MemoryLimit(limit) if limit == 64 << 20),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("exceeded its memory limit of 64 MiB"),
        "{err}"
    );
    assert_still_serves(&rt, &plugin);
}

#[test]
fn files_are_invisible_without_a_grant() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    let err = call_with(
        &rt,
        &plugin,
        json!({"mode": "read", "path": "/etc/passwd"}),
        Grants::default(),
    )
    .unwrap_err();
    match &err.kind {
        ErrorKind::Guest(GuestError::Unavailable(m)) => {
            assert!(m.starts_with("/etc/passwd: "), "{m}")
        }
        other => panic!("expected the read to fail inside the plugin, got {other:?}"),
    }
    assert_still_serves(&rt, &plugin);
}

#[test]
fn a_read_grant_is_read_only_and_limited_to_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    let granted = dir.path().join("granted");
    std::fs::create_dir(&granted).unwrap();
    std::fs::write(granted.join("requirements.txt"), "numpy==2.1.0\n").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "secret\n").unwrap();
    let grants = Grants {
        read: vec![granted.clone()],
        exec: vec![],
        pip_options: Vec::new(),
        env: Vec::new(),
    };

    let inside = granted.join("requirements.txt").display().to_string();
    let ok = call_with(
        &rt,
        &plugin,
        json!({"mode": "read", "path": inside}),
        grants.clone(),
    )
    .unwrap();
    assert_eq!(ok.requirements[0].line, "numpy==2.1.0");

    let outside = dir.path().join("secret.txt").display().to_string();
    let err = call_with(
        &rt,
        &plugin,
        json!({"mode": "read", "path": outside}),
        grants.clone(),
    )
    .unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Guest(GuestError::Unavailable(_))),
        "{err}"
    );
    let escape = granted.join("../secret.txt").display().to_string();
    let err = call_with(
        &rt,
        &plugin,
        json!({"mode": "read", "path": escape}),
        grants.clone(),
    )
    .unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Guest(GuestError::Unavailable(_))),
        "{err}"
    );

    let target = granted.join("new.txt");
    let err = call_with(
        &rt,
        &plugin,
        json!({"mode": "write", "path": target.display().to_string()}),
        grants,
    )
    .unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Guest(GuestError::Unavailable(_))),
        "{err}"
    );
    assert!(!target.exists(), "a read-only grant let the plugin write");
}

#[test]
fn sockets_and_environment_are_denied() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    // A listener on loopback, so a connect would succeed if the sandbox allowed it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _ = port;
    let err = call(&rt, &plugin, "socket").unwrap_err();
    match &err.kind {
        ErrorKind::Guest(GuestError::Unavailable(m)) => assert!(m.starts_with("connect: "), "{m}"),
        other => panic!("expected the connect to be refused, got {other:?}"),
    }
    // SAFETY: tests in this binary do not read this variable concurrently.
    unsafe { std::env::set_var("DOCKWRIGHT_SECRET_TOKEN", "hunter2") };
    let env = call(&rt, &plugin, "env").unwrap();
    assert_eq!(env.notes, ["0 environment variables: "]);
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    let err = call(&rt, &plugin, "panic").unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Crashed(_)), "{err}");
    assert!(
        err.stderr
            .contains("the hostile plugin panicked on purpose"),
        "stderr: {}",
        err.stderr
    );
    let text = err.to_string();
    assert!(text.starts_with("plugin hostile 0.1.0: crashed"), "{text}");
    assert!(text.contains("panicked on purpose"), "{text}");
    assert_still_serves(&rt, &plugin);
}

#[test]
fn oversized_and_malformed_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    let err = call(&rt, &plugin, "oversized").unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::OutputTooLarge { limit, size } if limit == 1 << 20 && size > limit),
        "{err}"
    );
    let err = call(&rt, &plugin, "malformed").unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::MalformedOutput(ref m) if m.contains("control character")),
        "{err}"
    );
    let err = call(&rt, &plugin, "bad-apt").unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::MalformedOutput(ref m) if m.contains("not a Debian package name")),
        "{err}"
    );
    assert_still_serves(&rt, &plugin);
}

#[test]
fn exec_needs_a_grant_that_the_manifest_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    // Not granted.
    let err = call_with(
        &rt,
        &plugin,
        json!({"mode": "exec", "path": "true"}),
        Grants::default(),
    )
    .unwrap_err();
    match &err.kind {
        ErrorKind::Guest(GuestError::Unavailable(m)) => {
            assert!(m.contains("running `true` was refused"), "{m}");
            assert!(
                m.contains("grants:"),
                "the message says how to grant it: {m}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Granted, and asked for in the manifest (`exec:true`).
    let grants = Grants {
        read: vec![],
        exec: vec!["true".into()],
        pip_options: Vec::new(),
        env: Vec::new(),
    };
    let ok = call_with(
        &rt,
        &plugin,
        json!({"mode": "exec", "path": "true"}),
        grants,
    )
    .unwrap();
    assert_eq!(ok.notes, ["status 0"]);
    // Granted, but the manifest never asked for it: still refused.
    let grants = Grants {
        read: vec![],
        exec: vec!["false".into()],
        pip_options: Vec::new(),
        env: Vec::new(),
    };
    let err = call_with(
        &rt,
        &plugin,
        json!({"mode": "exec", "path": "false"}),
        grants,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("running `false` was refused"),
        "{err}"
    );
}

#[test]
fn typed_errors_from_the_plugin_arrive_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    let err = call(&rt, &plugin, "unknown").unwrap_err();
    assert!(
        matches!(&err.kind, ErrorKind::Guest(GuestError::UnknownName { name, suggestions }) if name == "pytorhc" && suggestions == &["pytorch"]),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "plugin hostile 0.1.0: unknown name `pytorhc`; did you mean `pytorch`?"
    );
    let err = call(&rt, &plugin, "no-such-mode").unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Guest(GuestError::InvalidInput(_))),
        "{err}"
    );
}

#[test]
fn garbage_core_modules_and_other_api_lines_are_refused_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\x7fELF this is not wasm at all \x00\x01\x02").unwrap();
    let err = load_file(&rt, &garbage).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::NotAComponent(_)), "{err}");
    assert!(err.to_string().contains("garbage.wasm"), "{err}");

    // A valid core module, not a component: the 8-byte header of an empty module.
    let err = rt
        .load(b"\0asm\x01\0\0\0", Origin::Builtin, "core.wasm")
        .unwrap_err();
    assert!(err.to_string().contains("core wasm module"), "{err}");

    let missing = load_file(&rt, &dir.path().join("nope.wasm")).unwrap_err();
    assert!(
        matches!(missing.kind, ErrorKind::Unreadable(_)),
        "{missing}"
    );

    let err = load_file(&rt, &fixture("future-api")).unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::IncompatibleApi { .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "plugin future-api 0.1.0: needs plugin API ^2.0; this host supports 1.2.0"
    );
    assert_eq!(
        rt.compiles(),
        0,
        "nothing may be compiled for a refused plugin"
    );

    // The same runtime still serves a good plugin.
    assert_still_serves(&rt, &hostile(&rt));
}

#[test]
fn a_component_without_a_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let wasm = std::fs::read(fixture("hostile")).unwrap();
    let stripped = strip_manifest(&wasm);
    let err = rt
        .load(&stripped, Origin::Builtin, "stripped.wasm")
        .unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Manifest(ref m) if m.contains("no `dockwright-manifest` section")),
        "{err}"
    );
}

/// Renames the manifest section (same length), as if it had never been written.
fn strip_manifest(wasm: &[u8]) -> Vec<u8> {
    let needle = b"dockwright-manifest";
    let mut out = wasm.to_vec();
    let at = out
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("manifest section name");
    out[at..at + needle.len()].copy_from_slice(b"something-else-xyz!");
    out
}

#[test]
fn compiled_components_are_cached_and_a_warm_load_compiles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cold = runtime(dir.path());
    hostile(&cold);
    assert_eq!(cold.compiles(), 1);
    hostile(&cold);
    assert_eq!(
        cold.compiles(),
        1,
        "a second load in the same process compiled again"
    );
    let cached: Vec<_> = std::fs::read_dir(dir.path().join("components"))
        .unwrap()
        .collect();
    assert_eq!(cached.len(), 1);

    let warm = runtime(dir.path());
    let plugin = hostile(&warm);
    assert_eq!(warm.compiles(), 0, "a warm run compiled");
    assert_still_serves(&warm, &plugin);
    drop((plugin, warm, cold));

    // A corrupted cache entry is recompiled, never trusted. (Replaced by a rename, as the
    // cache itself writes: overwriting a mapped file in place is undefined behaviour.)
    let entry = cached[0].as_ref().unwrap().path();
    let corrupt = dir.path().join("corrupt");
    std::fs::write(&corrupt, b"not a compiled component").unwrap();
    std::fs::rename(&corrupt, &entry).unwrap();
    let again = runtime(dir.path());
    assert_still_serves(&again, &hostile(&again));
    assert_eq!(again.compiles(), 1);
}

#[test]
fn the_builtin_requirements_plugin_reads_a_list_and_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (_, wasm) = builtin::PLUGINS
        .iter()
        .find(|(n, _)| *n == "requirements")
        .unwrap();
    let plugin = rt.load(wasm, Origin::Builtin, "requirements").unwrap();
    let list = call_with(
        &rt,
        &plugin,
        json!({"requirements": ["pandas>=2.0", "pyarrow"]}),
        Grants::default(),
    )
    .unwrap();
    let lines: Vec<_> = list.requirements.iter().map(|r| r.line.as_str()).collect();
    assert_eq!(lines, ["pandas>=2.0", "pyarrow"]);

    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("requirements.txt"),
        "# pinned\ntorch==2.3.1\n-r extra.txt\n\nscipy>=1.11\n",
    )
    .unwrap();
    std::fs::write(project.join("extra.txt"), "tqdm\n").unwrap();
    let req = Request {
        platform: Platform::default(),
        settings: json!({"requirements": "requirements.txt"}),
        base_dir: project.clone(),
        grants: Grants {
            read: vec![project.clone()],
            exec: vec![],
            pip_options: Vec::new(),
            env: Vec::new(),
        },
    };
    let file = rt.contribute(&plugin, &req).unwrap().value;
    let lines: Vec<_> = file
        .requirements
        .iter()
        .map(|r| (r.line.as_str(), r.origin.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            ("torch==2.3.1", "requirements.txt:2"),
            ("tqdm", "extra.txt:1"),
            ("scipy>=1.11", "requirements.txt:5")
        ]
    );

    let missing = Request {
        settings: json!({"requirements": "nope.txt"}),
        ..req
    };
    let err = rt.contribute(&plugin, &missing).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("plugin requirements 1.0.0: unavailable: nope.txt: "),
        "{err}"
    );
}

// --- Time: one wall-clock deadline for everything a call does (issue 10) ---

/// Calls `mode` with a 2 s deadline; it must fail within a few seconds, timed out.
fn times_out(settings: serde_json::Value, grants: Grants) -> PluginError {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime_with_deadline(dir.path(), Duration::from_secs(2));
    let plugin = hostile(&rt);
    let started = Instant::now();
    let err = call_with(&rt, &plugin, settings, grants).unwrap_err();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the call took {took:?}, past its 2 s deadline: {err}"
    );
    assert_still_serves(&rt, &plugin);
    err
}

#[test]
fn a_wasi_sleep_is_stopped_at_the_deadline() {
    let err = times_out(json!({"mode": "sleep"}), Grants::default());
    assert!(
        matches!(err.kind, ErrorKind::TimeoutWhile { deadline, .. } if deadline == Duration::from_secs(2)),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("plugin hostile 0.1.0: timed out after 2s"),
        "{err}"
    );
}

#[test]
fn a_granted_program_that_never_ends_is_killed_with_its_process_group() {
    // A number of seconds no other process sleeps for, to find it by.
    let marker = format!("sleep {}", 900_000 + std::process::id());
    let grants = Grants {
        read: vec![],
        exec: vec!["sh".into()],
        pip_options: Vec::new(),
        env: Vec::new(),
    };
    // The grandchild `sleep` is in the same process group as the `sh` the plugin ran.
    let script = format!("{marker} & wait");
    let err = times_out(
        json!({"mode": "exec", "path": "sh", "args": ["-c", script]}),
        grants,
    );
    assert!(
        err.to_string().contains("while waiting for `sh` it ran"),
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let left = std::process::Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "the program the plugin started outlived the call: pids {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_in_a_read_grant_is_refused_not_waited_for() {
    let granted = tempfile::tempdir().unwrap();
    let fifo = granted.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let grants = Grants {
        read: vec![granted.path().to_path_buf()],
        exec: vec![],
        pip_options: Vec::new(),
        env: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    let started = Instant::now();
    let err = call_with(&rt, &plugin, json!({"mode": "read", "path": fifo}), grants).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    assert!(matches!(err.kind, ErrorKind::Refused(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "plugin hostile 0.1.0: capability refused: opening `fifo` in a read grant: it is not a regular file"
        ),
        "{text}"
    );
    assert_still_serves(&rt, &plugin);
}

// --- Memory: the host stays bounded whatever a plugin does (issue 10) ---

/// Set in a child run of this test binary: the call it makes, as JSON.
const CHILD_CALL: &str = "DOCKWRIGHT_SANDBOX_CHILD_CALL";

/// Not a test of its own: in a child process started by [`peak_rss_of_call`] it makes one
/// call with the default limits and prints its outcome and the process's peak RSS.
#[test]
fn child_call_for_peak_rss() {
    let Ok(call) = std::env::var(CHILD_CALL) else {
        return;
    };
    let call: serde_json::Value = serde_json::from_str(&call).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The default limits, with time to spare on a loaded machine (debug builds copy slowly).
    let limits = Limits {
        deadline: Duration::from_secs(120),
        ..Limits::default()
    };
    let rt = Runtime::new(dir.path().join("components"), limits).unwrap();
    let plugin = load_file(&rt, &fixture(call["fixture"].as_str().unwrap_or("hostile"))).unwrap();
    let strings = |key: &str| -> Vec<String> {
        call[key]
            .as_array()
            .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let grants = Grants {
        exec: strings("exec"),
        env: strings("grant_env"),
        ..Grants::default()
    };
    let outcome = call_with(&rt, &plugin, call["settings"].clone(), grants);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .parse::<u64>()
        .unwrap();
    match outcome {
        Ok(c) if c.notes.is_empty() => println!("OUTCOME ok, 0 notes"),
        Ok(c) => println!(
            "OUTCOME ok, {} notes: {}",
            c.notes.len(),
            c.notes.join(" | ").replace('\n', " ")
        ),
        Err(e) => println!("OUTCOME {}", e.to_string().replace('\n', " | ")),
    }
    println!("PEAK_RSS_KIB {hwm}");
}

/// Runs one call of the hostile fixture in a child process; its outcome line and peak RSS
/// in MiB.
fn peak_rss_of_call(settings: serde_json::Value, exec: &[&str]) -> (String, u64) {
    child_call(settings, exec, &[])
}

/// [`peak_rss_of_call`] with `env` added to the child's environment.
fn child_call(settings: serde_json::Value, exec: &[&str], env: &[(&str, &str)]) -> (String, u64) {
    child_call_of("hostile", settings, exec, env)
}

/// [`child_call`] with `granted` listed in the call's `env` grant.
fn child_call_granting_env(
    settings: serde_json::Value,
    exec: &[&str],
    granted: &[&str],
    env: &[(&str, &str)],
) -> (String, u64) {
    child_call_with(
        json!({"fixture": "hostile", "settings": settings, "exec": exec, "grant_env": granted}),
        env,
    )
}

/// One call of the fixture `name` in a child process: its outcome line and peak RSS in MiB.
fn child_call_of(
    name: &str,
    settings: serde_json::Value,
    exec: &[&str],
    env: &[(&str, &str)],
) -> (String, u64) {
    child_call_with(
        json!({"fixture": name, "settings": settings, "exec": exec}),
        env,
    )
}

/// Runs the call `call` (see [`child_call_for_peak_rss`]) in a child process with `env` added
/// to its environment.
fn child_call_with(call: serde_json::Value, env: &[(&str, &str)]) -> (String, u64) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_call_for_peak_rss",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_CALL, call.to_string())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        stdout
            .lines()
            // libtest prints `test … ... ` on the same line before the child's first line.
            .find_map(|l| l.split_once(key).map(|(_, rest)| rest.to_string()))
            .unwrap_or_else(|| {
                panic!(
                    "the child printed no {key} ({}):\n{stdout}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    };
    let outcome = field("OUTCOME ");
    let kib: u64 = field("PEAK_RSS_KIB ").parse().unwrap();
    (outcome, kib >> 10)
}

/// The host's peak RSS bound under any fixture: the plugin's own 128 MiB, one message or
/// output of that size in flight, and the runtime itself.
const RSS_BOUND_MIB: u64 = 450;

#[test]
fn large_log_messages_do_not_pile_up_in_the_host() {
    // 10 messages of 100 MiB: `truncate` kept each allocation (1 GB).
    let (outcome, peak) = peak_rss_of_call(
        json!({"mode": "log-bomb", "count": 10, "size": 100 << 20}),
        &[],
    );
    assert_eq!(outcome, "ok, 0 notes");
    assert!(peak < RSS_BOUND_MIB, "peak RSS {peak} MiB");
}

#[test]
fn a_granted_program_flooding_stdout_is_stopped_at_the_cap() {
    let (outcome, peak) = peak_rss_of_call(
        json!({"mode": "exec", "path": "head", "args": ["-c", "400000000", "/dev/zero"]}),
        &["head"],
    );
    assert!(
        outcome.starts_with("plugin hostile 0.1.0: ")
            && outcome.contains("`head` it ran wrote more than 1048576 bytes to stdout"),
        "{outcome}"
    );
    assert!(peak < RSS_BOUND_MIB, "peak RSS {peak} MiB");
}

#[test]
fn millions_of_empty_notes_are_refused_naming_the_plugin() {
    let (outcome, peak) = peak_rss_of_call(json!({"mode": "notes", "count": 4_000_000}), &[]);
    assert!(
        outcome.starts_with("plugin hostile 0.1.0: returned 4000000 notes, more than the limit of"),
        "{outcome}"
    );
    assert!(peak < RSS_BOUND_MIB, "peak RSS {peak} MiB");
}

#[test]
fn the_memory_bomb_keeps_the_host_bounded() {
    let (outcome, peak) = peak_rss_of_call(json!({"mode": "memory"}), &[]);
    assert!(
        outcome.starts_with("plugin hostile 0.1.0: exceeded its memory limit of 128 MiB"),
        "{outcome}"
    );
    assert!(peak < RSS_BOUND_MIB, "peak RSS {peak} MiB");
}

/// A WAT fixture (`tests/plugins/wat`) that grows memories or tables without end: its attack
/// ends as the instance's memory limit (64 MiB here), a good call to the same plugin in the
/// same runtime then works, and in a child process with the default limits the host's peak
/// RSS stays bounded.
fn contained_by_the_instance_budget(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = load_file(&rt, &fixture(name)).expect("the fixture loads");
    let err = call_with(&rt, &plugin, json!({"mode": "attack"}), Grants::default()).unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::MemoryLimit(limit) if limit == 64 << 20),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "plugin {name} 0.1.0: exceeded its memory limit of 64 MiB"
        )),
        "{err}"
    );
    let good = call_with(&rt, &plugin, json!({}), Grants::default()).expect("a good call");
    assert!(good.requirements.is_empty() && good.notes.is_empty());
    assert_still_serves(&rt, &hostile(&rt));

    let (outcome, peak) = child_call_of(name, json!({"mode": "attack"}), &[], &[]);
    assert!(
        outcome.starts_with(&format!(
            "plugin {name} 0.1.0: exceeded its memory limit of 128 MiB"
        )),
        "{outcome}"
    );
    eprintln!("{name}: the host's peak RSS was {peak} MiB");
    assert!(peak < RSS_BOUND_MIB, "peak RSS {peak} MiB");
}

#[test]
fn sixteen_memories_share_one_budget() {
    contained_by_the_instance_budget("multi-memory");
}

#[test]
fn a_table_grown_without_end_counts_in_the_budget() {
    contained_by_the_instance_budget("table-grow");
}

#[test]
fn memory_and_a_table_grown_in_turn_share_one_budget() {
    contained_by_the_instance_budget("memory-and-table");
}

// --- Output: nothing a plugin returns can change how pip or uv read the files (issue 10) ---

fn lines(rt: &Runtime, plugin: &Plugin, lines: &[&str], grants: Grants) -> Result<(), PluginError> {
    call_with(rt, plugin, json!({"mode": "lines", "args": lines}), grants).map(|_| ())
}

#[test]
fn lines_pip_would_read_differently_are_refused_at_the_plugin_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    for line in [
        "numpy\u{2028}--index-url https://evil.example/simple",
        "numpy\u{85}evilpkg==6.6.6",
        "numpy\u{c}evilpkg==6.6.6",
        "pandas \\",
        "nu\u{200b}mpy",
        "numpy\u{202e}",
    ] {
        let err = lines(&rt, &plugin, &[line], Grants::default()).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::MalformedOutput(_)), "{err}");
        let text = err.to_string();
        assert!(text.starts_with("plugin hostile 0.1.0: "), "{text}");
        assert!(
            !text.contains(['\u{2028}', '\u{85}', '\u{c}', '\u{200b}', '\u{202e}']),
            "shown escaped: {text:?}"
        );
    }
}

#[test]
fn a_third_party_plugins_pip_options_and_urls_need_a_grant() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let plugin = hostile(&rt);
    for (line, option) in [
        (
            "--extra-index-url https://evil.example/simple",
            "extra-index-url",
        ),
        ("--index-url=https://evil.example/simple", "index-url"),
        ("-i https://evil.example/simple", "index-url"),
        ("--trusted-host evil.example", "trusted-host"),
        ("-f https://evil.example/wheels", "find-links"),
        ("-r /etc/other.txt", "requirement"),
        ("numpy @ https://evil.example/numpy.whl", "url"),
        ("git+https://evil.example/numpy.git", "url"),
    ] {
        let err = lines(&rt, &plugin, &[line], Grants::default()).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Refused(_)), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("grants: {{hostile: {{pip_options: [{option}]}}}}")),
            "{err}"
        );
        let granted = Grants {
            pip_options: vec![option.to_string()],
            ..Grants::default()
        };
        lines(&rt, &plugin, &[line], granted).expect("granted");
    }
    lines(
        &rt,
        &plugin,
        &["numpy>=1.26 ; python_version >= '3.9'"],
        Grants::default(),
    )
    .expect("a plain requirement needs no grant");
}

#[test]
fn a_granted_program_sees_a_clean_environment() {
    let (outcome, _) = child_call(
        json!({"mode": "exec", "path": "sh", "args": ["-c", "env | cut -d= -f1 | sort | tr '\\n' ' '"]}),
        &["sh"],
        &[
            ("AWS_SECRET_ACCESS_KEY", "leaked"),
            ("DOCKER_AUTH", "leaked"),
        ],
    );
    let names: Vec<&str> = outcome
        .strip_prefix("ok, 2 notes: status 0 | ")
        .unwrap_or_else(|| panic!("{outcome}"))
        .split_whitespace()
        .collect();
    assert!(
        names
            .iter()
            .all(|n| ["PATH", "HOME", "LANG", "PWD", "SHLVL", "_"].contains(n)),
        "{names:?}"
    );
    assert!(names.contains(&"PATH"), "{names:?}");
}

#[test]
fn an_exec_grant_passes_the_variables_it_lists_and_no_other() {
    let (outcome, _) = child_call_granting_env(
        json!({"mode": "exec", "path": "sh", "args": ["-c", "echo \"home=$POETRY_HOME secret=$AWS_SECRET_ACCESS_KEY\""]}),
        &["sh"],
        &["POETRY_HOME"],
        &[
            ("AWS_SECRET_ACCESS_KEY", "leaked"),
            ("POETRY_HOME", "/opt/poetry"),
        ],
    );
    assert!(
        outcome.starts_with("ok, 2 notes: status 0 | home=/opt/poetry secret=")
            && !outcome.contains("leaked"),
        "only the listed variable reaches the program: {outcome}"
    );
}

/// A runtime that remembers calls in `memo` (as every command's does), and the hostile fixture
/// described in it but not prepared: a call that prepares it ran wasm.
fn remembering(cache: &Path, memo: &Path) -> (Runtime, Plugin) {
    let mut rt = runtime(cache);
    rt.remember_calls_in(memo.to_path_buf());
    let wasm = std::fs::read(fixture("hostile")).unwrap();
    let plugin = rt
        .describe(
            std::borrow::Cow::Owned(wasm),
            Origin::Installed(fixture("hostile")),
            "hostile",
        )
        .unwrap();
    (rt, plugin)
}

/// Calls the hostile fixture in a fresh runtime remembering calls in `memo`: its notes, and
/// whether wasm ran (rather than the remembered answer being used).
fn remembered_call(
    cache: &Path,
    memo: &Path,
    settings: serde_json::Value,
    grants: &Grants,
) -> (Vec<String>, bool) {
    let (rt, plugin) = remembering(cache, memo);
    let contribution = call_with(&rt, &plugin, settings, grants.clone()).unwrap();
    let mut said = contribution.notes;
    said.extend(contribution.requirements.into_iter().map(|r| r.line));
    (said, plugin.is_prepared())
}

/// Paths written less than two seconds ago are not trusted to show a second write; tests that
/// expect a call to be remembered wait that long after writing.
fn settle() {
    std::thread::sleep(Duration::from_millis(2100));
}

#[test]
fn a_remembered_call_answers_without_wasm_until_something_it_looked_at_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, memo) = (dir.path().join("cache"), dir.path().join("calls"));
    let grant = dir.path().join("grant");
    std::fs::create_dir_all(grant.join("listed")).unwrap();
    // A path only looked up (`stat-at`), in a folder nothing else looks at.
    std::fs::create_dir_all(grant.join("deep")).unwrap();
    let file = grant.join("requirements.txt");
    std::fs::write(&file, "numpy\n").unwrap();
    std::fs::write(grant.join("listed/a.txt"), "").unwrap();
    let grants = Grants {
        read: vec![grant.clone()],
        ..Grants::default()
    };
    let read = json!({"mode": "read", "path": file});
    let list = json!({"mode": "list", "path": grant.join("listed")});
    let stat = json!({"mode": "stat", "path": grant.join("deep/later.txt")});
    settle();

    // First calls run wasm; the same calls again, in a new runtime, do not.
    for (settings, answer) in [(&read, "numpy"), (&list, "a.txt"), (&stat, "missing")] {
        let first = remembered_call(&cache, &memo, settings.clone(), &grants);
        assert_eq!(
            (first.0.as_slice(), first.1),
            ([answer.to_string()].as_slice(), true)
        );
        let again = remembered_call(&cache, &memo, settings.clone(), &grants);
        assert_eq!(again, (first.0, false), "{settings}");
    }
    // Other settings or other grants are another call.
    let other = json!({"mode": "read", "path": file, "count": 1});
    assert!(remembered_call(&cache, &memo, other, &grants).1);
    let wider = Grants {
        read: vec![grant.clone(), dir.path().join("cache")],
        ..Grants::default()
    };
    assert!(remembered_call(&cache, &memo, read.clone(), &wider).1);

    // A changed file (same size), a new entry in a listed directory, a path that now exists:
    // each call runs again and sees the change.
    std::fs::write(&file, "scipy\n").unwrap();
    std::fs::write(grant.join("listed/b.txt"), "").unwrap();
    std::fs::write(grant.join("deep/later.txt"), "").unwrap();
    let read_again = remembered_call(&cache, &memo, read.clone(), &grants);
    assert_eq!(read_again, (vec!["scipy".to_string()], true));
    let list_again = remembered_call(&cache, &memo, list.clone(), &grants);
    assert_eq!(list_again, (vec!["a.txt".into(), "b.txt".into()], true));
    let stat_again = remembered_call(&cache, &memo, stat.clone(), &grants);
    assert_eq!(stat_again, (vec!["exists".to_string()], true));
    // Changed less than two seconds ago: not trusted yet, so run again.
    assert!(remembered_call(&cache, &memo, read.clone(), &grants).1);
    settle();
    assert!(remembered_call(&cache, &memo, read.clone(), &grants).1);
    assert!(!remembered_call(&cache, &memo, read, &grants).1);
}

#[test]
fn calls_the_host_cannot_check_again_are_never_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, memo) = (dir.path().join("cache"), dir.path().join("calls"));
    let grant = dir.path().join("grant");
    std::fs::create_dir_all(grant.join("sub")).unwrap();
    std::fs::write(grant.join("requirements.txt"), "numpy\n").unwrap();
    settle();
    let read_grant = Grants {
        read: vec![grant.clone()],
        ..Grants::default()
    };
    let exec_grant = Grants {
        exec: vec!["true".into()],
        ..Grants::default()
    };
    let dot_dot = format!("{}/sub/../requirements.txt", grant.display());
    for (settings, grants) in [
        // A program's answer depends on more than the host can stamp.
        (json!({"mode": "exec", "path": "true"}), &exec_grant),
        // A path through `..` is resolved by the sandbox, not by the host's record.
        (json!({"mode": "read", "path": dot_dot}), &read_grant),
    ] {
        for _ in 0..2 {
            let (_, ran) = remembered_call(&cache, &memo, settings.clone(), grants);
            assert!(ran, "{settings} must run every time");
        }
    }
    // A failed call is not remembered either.
    let (rt, plugin) = remembering(&cache, &memo);
    let missing = json!({"mode": "read", "path": grant.join("absent.txt")});
    for _ in 0..2 {
        assert!(call_with(&rt, &plugin, missing.clone(), read_grant.clone()).is_err());
    }
    let files = std::fs::read_dir(&memo).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files, 0, "nothing remembered");
}
