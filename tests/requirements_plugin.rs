//! The built-in `requirements` plugin end to end, through the real `dockwright` binary and
//! the real plugin runtime: `-c` constraints files (the generated context files, real pip
//! and uv resolving against them, and a real image build honouring them), and
//! `pyproject_path` exported by real programs on the host (`uv export`, ZenML's default
//! command, offline; a custom command; failures; a refused exec).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use dockwright::Dirs;
use dockwright::plugins::{Capability, Grants, Limits, Platform, Registry, Request};
use dockwright_tests::{dockwright, ensure_base_image, unique};
use serde_json::{Value, json};

const REQUIREMENTS_FILE: &str = ".dockwright/requirements/2-requirements.txt";
const CONSTRAINTS_FILE: &str = ".dockwright/requirements/constraints/1-constraints.txt";

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Where every run keeps its compiled components: written atomically, so parallel runs
/// share it, and only the first compiles the built-in plugins.
fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("requirements-plugin-cache")
}

/// `dockwright <args> -f <dir>/dockwright.yaml` with its data under `dir`, a generous plugin
/// deadline (a host command runs inside the call), and `env` added.
fn run_dockwright(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = dockwright(dir);
    cmd.env("DOCKWRIGHT_CACHE_DIR", shared_cache())
        .args(args)
        .arg("-f")
        .arg(dir.join("dockwright.yaml"))
        .args(["--plugin-timeout", "60"]);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().expect("run dockwright")
}

fn plan_json(dir: &Path) -> Value {
    let out = run_dockwright(dir, &["plan", "--json"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "plan failed:\n{stderr}");
    serde_json::from_str(&stdout).expect("plan --json prints JSON")
}

/// Group 2's lines with their origins, from `dockwright requirements --json`.
fn requirement_lines(dir: &Path, env: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
    let out = run_dockwright(dir, &["requirements", "--json"], env);
    let (stdout, stderr) = text(&out);
    if !out.status.success() {
        return Err(stderr);
    }
    let groups: Value = serde_json::from_str(&stdout).expect("JSON");
    let group = groups[0]["requirements"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "requirements")
        .unwrap_or_else(|| panic!("no requirements group in {groups}"));
    Ok(group["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["text"].as_str().unwrap().to_string(),
                l["origin"].as_str().unwrap().to_string(),
            )
        })
        .collect())
}

/// A wheelhouse with two versions of six (one `pip download` per version: pip refuses two
/// pins of one name in one call), cached across runs.
fn six_wheelhouse() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("requirements-plugin-wheelhouse");
    // Tests run in parallel processes: one prepares the wheelhouse, the others wait for it.
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    for version in ["1.16.0", "1.17.0"] {
        if dir
            .join(format!("six-{version}-py2.py3-none-any.whl"))
            .is_file()
        {
            continue;
        }
        dockwright_tests::wheelhouse(&dir.join(version), &[&format!("six=={version}")]);
        for entry in std::fs::read_dir(dir.join(version)).unwrap() {
            let entry = entry.unwrap();
            std::fs::rename(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    dir
}

/// A venv with uv installed from the package index by pip, once per machine; its `bin`
/// directory goes first on the PATH of the dockwright process.
fn uv_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("requirements-plugin-uv");
        let bin = venv.join("bin");
        if bin.join("uv").is_file() {
            return bin;
        }
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(status.success(), "python3 -m venv");
        let out = Command::new(bin.join("pip"))
            .args(["install", "--quiet", "uv"])
            .output()
            .unwrap();
        assert!(out.status.success(), "pip install uv: {:?}", text(&out).1);
        bin
    })
    .clone()
}

/// PATH with uv first, and uv kept offline (it resolves from the wheelhouse only) with its
/// cache in `home`.
fn uv_env(home: &Path) -> Vec<(&'static str, String)> {
    let path = format!(
        "{}:{}",
        uv_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    vec![
        ("PATH", path),
        ("UV_OFFLINE", "1".into()),
        ("UV_CACHE_DIR", home.join("uv-cache").display().to_string()),
    ]
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A pipeline whose requirements file constrains six with `-c`.
fn constrained_pipeline(dir: &Path, docker_extra: &str) {
    write(
        dir,
        &[
            (
                "dockwright.yaml",
                &format!(
                    "name: pinned\nsettings:\n  docker:\n    parent_image: dockwright-base/python:bookworm\n    requirements: requirements.txt\n{docker_extra}"
                ),
            ),
            (
                "requirements.txt",
                "six\n-c pins/constraints.txt  # the team's pins\n",
            ),
            (
                "pins/constraints.txt",
                "# pinned for the old API\nsix==1.16.0\n",
            ),
        ],
    );
}

/// Which version of six `installer` would install from `wheelhouse` for the requirements
/// file at `file` inside `root` (as the image does it from `/app`).
fn resolved_six(installer: &str, root: &Path, file: &str, wheelhouse: &Path) -> String {
    let out = if installer == "pip" {
        Command::new("python3")
            .args(["-m", "pip", "install", "--dry-run", "--ignore-installed"])
            .args(["--quiet", "--report", "-", "--no-index", "--find-links"])
            .arg(wheelhouse)
            .args(["-r", file])
            .current_dir(root)
            .output()
            .unwrap()
    } else {
        // A fresh, empty venv as the target, so nothing counts as installed already.
        let venv = root.join("uv-target");
        let status = Command::new("python3")
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(status.success());
        Command::new(uv_bin().join("uv"))
            .args([
                "pip",
                "install",
                "--dry-run",
                "--offline",
                "--no-index",
                "--python",
            ])
            .arg(venv.join("bin/python"))
            .arg("--find-links")
            .arg(wheelhouse)
            .args(["-r", file])
            .env("UV_NO_CONFIG", "1")
            .current_dir(root)
            .output()
            .unwrap()
    };
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{installer} failed:\n{stderr}");
    if installer == "pip" {
        let report: Value = serde_json::from_str(&stdout).unwrap();
        let install = report["install"].as_array().unwrap();
        assert_eq!(install.len(), 1, "{report}");
        install[0]["metadata"]["version"]
            .as_str()
            .unwrap()
            .to_string()
    } else {
        // uv prints ` + six==1.16.0` on stderr.
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("+ six=="))
            .unwrap_or_else(|| panic!("no six in uv's answer:\n{stderr}"))
            .to_string()
    }
}

#[test]
fn a_constraints_file_becomes_a_context_file_that_pip_and_uv_honour() {
    let dir = tempfile::tempdir().unwrap();
    constrained_pipeline(dir.path(), "");
    let plan = plan_json(dir.path());
    let image = &plan["images"][0];
    let files = &image["build"]["extra_files"];
    assert_eq!(
        files[REQUIREMENTS_FILE], "six\n-c constraints/1-constraints.txt\n",
        "{files}"
    );
    assert_eq!(files[CONSTRAINTS_FILE], "six==1.16.0\n", "{files}");
    let requirements = &image["requirements"][0];
    assert_eq!(
        requirements["origins"][1],
        "constraint 1-constraints.txt (pins/constraints.txt:2) (requirements 1.0.0)"
    );
    assert!(image["key_inputs"][format!("constraints {CONSTRAINTS_FILE}")].is_string());
    // The Dockerfile copies the constraints file before the requirements file that names it.
    let dockerfile = image["dockerfile"].as_str().unwrap();
    let copy_constraints = dockerfile
        .find(&format!("COPY {CONSTRAINTS_FILE} {CONSTRAINTS_FILE}"))
        .unwrap_or_else(|| panic!("{dockerfile}"));
    let copy_requirements = dockerfile
        .find(&format!("COPY {REQUIREMENTS_FILE} {REQUIREMENTS_FILE}"))
        .unwrap();
    assert!(copy_constraints < copy_requirements, "{dockerfile}");

    // The generated files, laid out as in /app, resolved by real installers.
    let root = tempfile::tempdir().unwrap();
    for (path, content) in files.as_object().unwrap() {
        write(root.path(), &[(path, content.as_str().unwrap())]);
    }
    let wheelhouse = six_wheelhouse();
    assert_eq!(
        resolved_six("pip", root.path(), REQUIREMENTS_FILE, &wheelhouse),
        "1.16.0"
    );
    assert_eq!(
        resolved_six("uv", root.path(), REQUIREMENTS_FILE, &wheelhouse),
        "1.16.0"
    );
    // Without the constraint, the newest wheel wins: the pin above is the constraint's doing.
    write(root.path(), &[("unconstrained.txt", "six\n")]);
    assert_eq!(
        resolved_six("pip", root.path(), "unconstrained.txt", &wheelhouse),
        "1.17.0"
    );
}

#[test]
fn an_image_built_from_the_plan_installs_the_constrained_version() {
    ensure_base_image();
    let wheels = dockwright_tests::WheelServer::start(&six_wheelhouse());
    let dir = tempfile::tempdir().unwrap();
    let repository = unique("dockwright-constraints").to_lowercase();
    constrained_pipeline(
        dir.path(),
        &format!(
            "    target_repository: {repository}\n    image_tag: t\n    python_package_installer: pip\n    environment:\n      PIP_FIND_LINKS: {}\n      PIP_NO_INDEX: \"1\"\n    build_config:\n      build_options:\n        network_mode: host\n",
            wheels.url()
        ),
    );
    let out = run_dockwright(dir.path(), &["build"], &[]);
    let image = format!("{repository}:t");
    let _cleanup = RemoveImage(image.clone());
    assert!(out.status.success(), "build failed:\n{}", text(&out).1);
    let run = Command::new("docker")
        .args(["run", "--rm", &image, "python3", "-c"])
        .arg("import six; print(six.__version__)")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "1.16.0");
}

/// Removes the image a test built, even when the test fails.
struct RemoveImage(String);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "--force", &self.0])
            .output();
    }
}

#[test]
fn a_constraints_file_outside_the_grant_is_an_error_naming_file_and_line() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("pipeline");
    write(
        &dir,
        &[
            (
                "dockwright.yaml",
                "name: p\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    requirements: requirements.txt\n",
            ),
            ("requirements.txt", "six\n-c ../outside/pins.txt\n"),
        ],
    );
    write(top.path(), &[("outside/pins.txt", "six==1.16.0\n")]);
    let out = run_dockwright(&dir, &["plan"], &[]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    let outside = top.path().join("outside/pins.txt");
    assert!(
        stderr.contains("plugin requirements 1.0.0")
            && stderr.contains(&format!("{}: outside the directories", outside.display()))
            && stderr.contains("(included from requirements.txt:2)"),
        "{stderr}"
    );
}

/// A project depending on `six<1.17`, resolved by uv from the local two-version wheelhouse
/// (`[tool.uv] no-index`, `find-links`), so `uv export` works offline.
fn uv_project(dir: &Path, docker: &str) {
    let pyproject = format!(
        "[project]\nname = \"demo\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\n\
         dependencies = [\"six<1.17\"]\n\n[tool.uv]\nno-index = true\nfind-links = [\"{}\"]\n",
        six_wheelhouse().display()
    );
    write(
        dir,
        &[
            (
                "dockwright.yaml",
                &format!(
                    "name: p\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    pyproject_path: proj/pyproject.toml\n{docker}"
                ),
            ),
            ("proj/pyproject.toml", &pyproject),
        ],
    );
}

#[test]
fn pyproject_with_zenmls_default_command_runs_uv_export() {
    let dir = tempfile::tempdir().unwrap();
    uv_project(dir.path(), "    requirements: [\"six\"]\n");
    let env = uv_env(dir.path());
    let lines = requirement_lines(dir.path(), &borrowed(&env)).unwrap();
    assert_eq!(
        lines,
        vec![
            ("six".to_string(), "requirements[0]".to_string()),
            (
                "six==1.16.0".to_string(),
                "pyproject export (uv export --format=requirements-txt --directory={directory} --no-hashes --no-emit-project)".to_string()
            ),
        ]
    );
    // uv really ran in the project's directory: it locked the project there.
    assert!(dir.path().join("proj/uv.lock").is_file());
}

#[test]
fn pyproject_with_a_custom_export_command() {
    let dir = tempfile::tempdir().unwrap();
    uv_project(
        dir.path(),
        "    pyproject_export_command: [python3, \"{directory}/export.py\", \"{directory}\"]\n",
    );
    // Prints the project's dependencies from pyproject.toml, and where it ran.
    write(
        dir.path(),
        &[(
            "proj/export.py",
            "import os, sys, tomllib\n\
             data = tomllib.load(open(os.path.join(sys.argv[1], 'pyproject.toml'), 'rb'))\n\
             print('# exported')\n\
             for dep in data['project']['dependencies']:\n    print(dep)\n\
             print('tqdm  # a comment, dropped')\n",
        )],
    );
    let lines = requirement_lines(dir.path(), &[]).unwrap();
    let origin = "pyproject export (python3 {directory}/export.py {directory})";
    assert_eq!(
        lines,
        vec![
            ("six<1.17".to_string(), origin.to_string()),
            ("tqdm".to_string(), origin.to_string()),
        ]
    );
}

/// The processes whose command line holds `marker`.
fn pids_running(marker: &str) -> String {
    let out = Command::new("pgrep").args(["-f", marker]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A program a plugin runs sits in a process group of its own (so its deadline can kill what
/// it starts), where the terminal's Ctrl-C does not reach it: when a signal ends Dockwright
/// mid-plan, Dockwright kills it first, and still dies of that signal.
#[cfg(unix)]
#[test]
fn a_signal_that_ends_dockwright_mid_plan_ends_the_program_a_plugin_runs() {
    use std::os::unix::process::ExitStatusExt;
    for (signal, name) in [(2, "INT"), (15, "TERM"), (1, "HUP")] {
        let dir = tempfile::tempdir().unwrap();
        // A number of seconds no other process sleeps for, to find the program by.
        let seconds = 800_000 + std::process::id() * 16 + signal;
        uv_project(
            dir.path(),
            &format!(
                "    pyproject_export_command: [python3, -c, \"import time; time.sleep({seconds})\"]\n"
            ),
        );
        let mut plan = dockwright(dir.path())
            .env("DOCKWRIGHT_CACHE_DIR", shared_cache())
            .args(["plan", "--plugin-timeout", "600", "-f"])
            .arg(dir.path().join("dockwright.yaml"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let marker = seconds.to_string();
        let started = std::time::Instant::now();
        while pids_running(&marker).is_empty() {
            if let Some(status) = plan.try_wait().unwrap() {
                let out = plan.wait_with_output().unwrap();
                panic!(
                    "plan ended ({status}) before the export command ran: {}",
                    text(&out).1
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the export command never ran"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // As the terminal does: to Dockwright (its process group), not to the program's.
        let sent = Command::new("kill")
            .args(["-s", name, &plan.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = plan.wait().unwrap();
        assert_eq!(status.signal(), Some(signal as i32), "SIG{name}: {status}");
        std::thread::sleep(Duration::from_millis(300));
        let left = pids_running(&marker);
        assert!(
            left.is_empty(),
            "after SIG{name}, the program the plugin ran outlived Dockwright: pids {left}"
        );
    }
}

#[test]
fn a_failing_export_is_an_error_carrying_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    uv_project(
        dir.path(),
        "    pyproject_export_command: [python3, -c, \"import sys; sys.stderr.write('no lock file here'); sys.exit(3)\"]\n",
    );
    let err = requirement_lines(dir.path(), &[]).unwrap_err();
    assert!(
        err.contains("plugin requirements 1.0.0")
            && err.contains("failed to export the pyproject dependencies with command `python3 -c")
            && err.contains("exit status 3: no lock file here"),
        "{err}"
    );

    // Neither default program on the PATH: both failures, and what to set instead.
    let dir = tempfile::tempdir().unwrap();
    uv_project(dir.path(), "");
    let err = requirement_lines(dir.path(), &[("PATH", "/nonexistent")]).unwrap_err();
    assert!(
        err.contains("with the default commands")
            && err.contains("`uv export --format=requirements-txt")
            && err.contains("running `uv`")
            && err.contains("running `poetry`")
            && err.contains("Set `pyproject_export_command`"),
        "{err}"
    );
}

#[test]
fn a_program_the_plugin_may_not_run_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    uv_project(
        dir.path(),
        "    pyproject_export_command: [sh, -c, \"touch ran\"]\n",
    );
    let err = requirement_lines(dir.path(), &[]).unwrap_err();
    assert!(
        err.contains("runs only uv, poetry") && err.contains("`sh` is not one of them"),
        "{err}"
    );
    assert!(!dir.path().join("ran").exists());
}

/// The built-in asks for exactly the programs it may run, and a call that was not granted
/// one (as a third-party plugin's call would be without `grants:`) is refused by the host,
/// naming the program and how to grant it.
#[test]
fn an_ungranted_exec_is_refused_naming_the_program_and_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    uv_project(dir.path(), "");
    let home = dir.path().join("home");
    let limits = Limits {
        deadline: Duration::from_secs(30),
        ..Limits::default()
    };
    let dirs = Dirs::at(&shared_cache(), &home.join("data"));
    let registry =
        Registry::load(&dirs.cache, &dirs.plugins, limits).expect("the built-in plugins load");
    let plugin = registry.get("requirements").expect("built in");
    for program in ["uv", "poetry", "pdm", "python3"] {
        assert!(
            plugin
                .manifest
                .capabilities
                .contains(&Capability::Exec(program.into())),
            "{:?}",
            plugin.manifest.capabilities
        );
    }
    let request = Request {
        platform: Platform::default(),
        settings: json!({"pyproject_path": "proj/pyproject.toml", "pyproject_export_command": ["uv", "export"]}),
        base_dir: dir.path().to_path_buf(),
        grants: Grants {
            read: vec![dir.path().join("proj")],
            exec: Vec::new(),
            pip_options: Vec::new(),
            env: Vec::new(),
        },
    };
    let err = registry
        .runtime
        .contribute(plugin, &request)
        .expect_err("exec was not granted")
        .to_string();
    assert!(
        err.contains("running `uv` was refused")
            && err.contains("grants: {requirements: {exec: [uv]}}"),
        "{err}"
    );
}

/// The pipeline file every test below starts from: `requirements: <file>` on a parent.
fn pipeline_with_requirements(dir: &Path, file: &str) {
    write(
        dir,
        &[(
            "dockwright.yaml",
            &format!(
                "name: p\nsettings:\n  docker:\n    parent_image: example/python:3.11\n    \
                 requirements: {file}\n    allow_including_files_in_images: false\n"
            ),
        )],
    );
}

/// `plan` fails; its standard error.
fn plan_error(dir: &Path) -> String {
    let out = run_dockwright(dir, &["plan"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "plan succeeded:\n{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn lines_pip_accepts_from_pip_compile_and_uv_export_are_planned_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    pipeline_with_requirements(dir, "requirements.txt");
    // pip-compile --generate-hashes and `uv export` output, as written by those tools.
    let file = "\
# This file is autogenerated by pip-compile
certifi==2024.2.2 \\
    --hash=sha256:0dc53a6e \\
    --hash=sha256:dc383c0b
    # via requests
numpy==1.26.4 --config-settings editable_mode=compat
six @ https://example.org/six-1.16.0-py2.py3-none-any.whl
tomli>=1.1 ; python_version < \"3.11\"
-e .
./libs/x
./wheels/y-1.0-py3-none-any.whl
git+https://example.org/repo.git@v1#egg=repo
";
    write(
        dir,
        &[
            ("requirements.txt", file),
            ("pyproject.toml", "[project]\nname = \"p\"\n"),
            ("libs/x/pyproject.toml", "[project]\nname = \"x\"\n"),
            ("wheels/y-1.0-py3-none-any.whl", "not a real wheel"),
        ],
    );
    let plan = plan_json(dir);
    let lines: Vec<&str> = plan["images"][0]["requirements"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "certifi==2024.2.2     --hash=sha256:0dc53a6e     --hash=sha256:dc383c0b",
            "numpy==1.26.4 --config-settings editable_mode=compat",
            "six @ https://example.org/six-1.16.0-py2.py3-none-any.whl",
            "tomli>=1.1 ; python_version < \"3.11\"",
            // Local paths point where they are copied in the image (pip reads relative
            // paths from its working directory, not from the file).
            "-e /app",
            "/app/libs/x",
            "/app/wheels/y-1.0-py3-none-any.whl",
            "git+https://example.org/repo.git@v1#egg=repo",
        ]
    );
}

/// A project root (it holds `.git`) with the pipeline in `pipeline/` and shared files in
/// `common/`.
fn project(top: &Path) -> PathBuf {
    std::fs::create_dir_all(top.join(".git")).unwrap();
    write(
        top,
        &[
            ("common/base.txt", "six\n"),
            ("common/pins.txt", "six<2\n"),
            ("common/shared-requirements.txt", "tqdm\n-r base.txt\n"),
        ],
    );
    top.join("pipeline")
}

#[test]
fn includes_and_symlinks_reach_sibling_folders_inside_the_project_root() {
    let top = tempfile::tempdir().unwrap();
    let dir = project(top.path());
    pipeline_with_requirements(&dir, "requirements.txt");
    write(
        &dir,
        &[(
            "requirements.txt",
            "-r ../common/base.txt\n-c ../common/pins.txt\nrich\n",
        )],
    );
    let lines = requirement_lines(&dir, &[]).unwrap();
    let texts: Vec<&str> = lines.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(texts, ["six", "six<2", "rich"], "{lines:?}");
    let base = top.path().join("common/base.txt");
    assert_eq!(lines[0].1, format!("{}:1", base.display()));

    // A symlinked requirements file: its includes resolve next to the link, as in pip.
    std::fs::remove_file(dir.join("requirements.txt")).unwrap();
    std::os::unix::fs::symlink(
        "../common/shared-requirements.txt",
        dir.join("requirements.txt"),
    )
    .unwrap();
    write(&dir, &[("base.txt", "numpy\n")]);
    let lines = requirement_lines(&dir, &[]).unwrap();
    let texts: Vec<&str> = lines.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(texts, ["tqdm", "numpy"], "{lines:?}");
}

#[test]
fn an_include_outside_the_project_says_how_to_grant_it_and_a_grant_works() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("project");
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    write(top.path(), &[("team/base.txt", "six\n")]);
    pipeline_with_requirements(&dir, "requirements.txt");
    write(&dir, &[("requirements.txt", "-r ../team/base.txt\n")]);
    let err = plan_error(&dir);
    let shared = top.path().join("team");
    assert!(
        err.contains(&format!(
            "`grants: {{requirements: {{read: [\"{}\"]}}}}`",
            shared.display()
        )) && err.contains("(included from requirements.txt:1)")
            && err.contains("dockwright.yaml:5:19: `settings.docker.requirements`"),
        "{err}"
    );
    let yaml = std::fs::read_to_string(dir.join("dockwright.yaml")).unwrap();
    write(
        &dir,
        &[(
            "dockwright.yaml",
            &format!("{yaml}grants: {{requirements: {{read: [../team]}}}}\n"),
        )],
    );
    let lines = requirement_lines(&dir, &[]).unwrap();
    let base = shared.join("base.txt");
    assert_eq!(lines, [("six".into(), format!("{}:1", base.display()))]);
}

#[test]
fn a_missing_requirements_file_names_the_path_and_the_settings_line() {
    let dir = tempfile::tempdir().unwrap();
    pipeline_with_requirements(dir.path(), "reqs/requirements.txt");
    let err = plan_error(dir.path());
    let file = dir.path().join("dockwright.yaml");
    assert!(
        err.starts_with(&format!(
            "error: {}:5:19: `settings.docker.requirements`: the requirements file \
             `reqs/requirements.txt` does not exist (looked for {})",
            file.display(),
            dir.path().join("reqs/requirements.txt").display()
        )),
        "{err}"
    );
    assert!(
        err.contains(" 5 |     requirements: reqs/requirements.txt"),
        "{err}"
    );
}

#[test]
fn a_nul_byte_or_bad_encoding_blames_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    pipeline_with_requirements(dir.path(), "requirements.txt");
    let file = dir.path().join("dockwright.yaml");
    for (bytes, expected) in [
        (
            &b"six\nnu\0mpy\n"[..],
            "requirements.txt: line 2: a NUL byte",
        ),
        (
            &b"six\n# caf\xe9\n"[..],
            "requirements.txt: line 2: not UTF-8 text",
        ),
        // UTF-16, as some Windows editors save it.
        (
            &b"\xff\xfes\0i\0x\0\n\0"[..],
            "requirements.txt: line 1: a NUL byte",
        ),
    ] {
        std::fs::write(dir.path().join("requirements.txt"), bytes).unwrap();
        let err = plan_error(dir.path());
        assert!(
            err.starts_with(&format!(
                "error: {}:5:19: `settings.docker.requirements`: {expected}",
                file.display()
            )),
            "{err}"
        );
        assert_eq!(err.matches(expected).count(), 1, "said once: {err}");
    }
}

#[test]
fn huge_files_and_fifos_fail_fast_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    pipeline_with_requirements(dir.path(), "requirements.txt");
    // Sparse: 5 GiB of size, no disk used.
    std::fs::File::create(dir.path().join("requirements.txt"))
        .unwrap()
        .set_len(5 << 30)
        .unwrap();
    let err = plan_error(dir.path());
    assert!(
        err.contains("requirements.txt: 5368709120 bytes, more than the 16 MiB"),
        "{err}"
    );
    let started = std::time::Instant::now();
    std::fs::remove_file(dir.path().join("requirements.txt")).unwrap();
    let status = Command::new("mkfifo")
        .arg(dir.path().join("requirements.txt"))
        .status()
        .unwrap();
    assert!(status.success());
    let err = plan_error(dir.path());
    assert!(
        err.contains("requirements.txt: not a regular file"),
        "{err}"
    );
    // Far below the 60 s plugin deadline these runs are given: nothing blocked.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}
