//! Real Python virtual environments for the `local-env` tests and benchmark, made with
//! `python3 -m venv` and real pip installs, cached between runs.
//!
//! The cache lives outside any git checkout (`$DOCKWRIGHT_TEST_VENVS`, default
//! `<tmp>/dockwright-test-venvs`): pip describes an editable project inside a checkout by its
//! VCS remote, which a file-only reader cannot see, so the tests' editable project must not be
//! inside one. A venv is complete once its `.ready` marker exists; an incomplete one is rebuilt.
//! Nothing is skipped: a failing install panics with pip's output.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// PyPI packages of the `real` venv: with their dependencies, about 40 distributions.
pub const PACKAGES: &[&str] = &[
    "six",
    "attrs",
    "packaging",
    "requests",
    "flask",
    "jsonschema",
    "pydantic",
    "rich",
    "pytest",
    "python-dateutil",
    "pyyaml",
    "tqdm",
    "toml",
    "wheel",
];

pub struct Venv {
    pub root: PathBuf,
}

impl Venv {
    pub fn python(&self) -> PathBuf {
        self.root.join("bin/python")
    }

    /// The one site-packages directory of a venv made here.
    pub fn site_packages(&self) -> PathBuf {
        let lib = self.root.join("lib");
        let python_dir = std::fs::read_dir(&lib)
            .expect("venv lib dir")
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().starts_with("python"))
            .expect("lib/pythonX.Y");
        python_dir.path().join("site-packages")
    }

    /// The real `pip freeze` of this venv (stdout, bytes as printed).
    pub fn pip_freeze(&self) -> String {
        let out = run(Command::new(self.root.join("bin/pip")).arg("freeze"));
        String::from_utf8(out).expect("pip freeze prints UTF-8")
    }

    /// The real `uv pip freeze` of this venv: `Ok(stdout)` or `Err(stderr)`.
    pub fn uv_freeze(&self) -> Result<String, String> {
        let out = clean(Command::new(uv()).args(["pip", "freeze", "--python"]))
            .arg(self.python())
            .output()
            .expect("run uv");
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).expect("uv prints UTF-8"))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// Where the venvs are cached.
pub fn cache_root() -> PathBuf {
    let root = std::env::var_os("DOCKWRIGHT_TEST_VENVS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("dockwright-test-venvs"));
    std::fs::create_dir_all(&root).expect("create the venv cache");
    let in_checkout = Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(&root)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        !in_checkout,
        "{} is inside a git checkout; pip would print the editable project by its VCS remote. \
         Set DOCKWRIGHT_TEST_VENVS to a directory outside any checkout",
        root.display()
    );
    root
}

/// The `real` venv: PyPI installs, a wheel installed from a file (an archive direct URL), an
/// editable project, and hand-made distributions for the PEP 610 forms and name/version
/// spellings that both pip and uv read without error.
pub fn real() -> &'static Venv {
    static VENV: OnceLock<Venv> = OnceLock::new();
    VENV.get_or_init(|| {
        build("real", |venv, root| {
            pip(venv, &["install", "-q"], PACKAGES);
            let wheels = root.join("wheels");
            pip(venv, &["download", "-q", "--no-deps", "-d"], &[
                wheels.to_str().unwrap(),
                "idna==3.7",
            ]);
            let wheel = wheels.join("idna-3.7-py3-none-any.whl");
            pip(venv, &["install", "-q"], &[wheel.to_str().unwrap()]);
            let project = tiny_project(root, "real-project", "My_Proj");
            pip(venv, &["install", "-q", "-e"], &[project.to_str().unwrap()]);
            let sp = venv.site_packages();
            dist(&sp, "Foo.Bar-1.0.0b1.dist-info", "Foo.Bar", "1.0.0-beta1", None);
            dist(&sp, "zz_Under-1.0.dist-info", "zz_Under", "1.0.post0", None);
            dist(&sp, "vcspkg-1.0.dist-info", "VcsPkg", "1.0", Some(
                r#"{"url": "https://example.com/vcspkg.git", "vcs_info": {"vcs": "git", "commit_id": "0123456789abcdef0123456789abcdef01234567", "requested_revision": "main"}, "subdirectory": "pkg"}"#,
            ));
            dist(&sp, "onlyhashes-2.0.dist-info", "OnlyHashes", "2.0", Some(
                r#"{"url": "https://example.com/onlyhashes-2.0.tar.gz", "archive_info": {"hashes": {"md5": "aa", "sha512": "bb", "blake2b": "cc"}}}"#,
            ));
            dist(&sp, "archsub-1.0.dist-info", "ArchSub", "1.0", Some(
                r#"{"url": "https://example.com/a.zip", "archive_info": {"hash": "sha256=ff", "hashes": {"sha256": "ff"}}, "subdirectory": "sub/dir"}"#,
            ));
            dist(&sp, "localdir-1.0.dist-info", "localdir", "1.0", Some(
                r#"{"url": "file:///tmp/some%20dir", "dir_info": {}}"#,
            ));
            dist(&sp, "spaced-1.0.dist-info", "Spaced", "1.0", Some(
                r#"{"url": "file:///tmp/a%20b/../c", "dir_info": {"editable": true}, "subdirectory": "x"}"#,
            ));
            dist(&sp, "Dup-2.0.dist-info", "Dup", "2.0", None);
            dist(&sp, "dup-1.0.dist-info", "dup", "1.0", None);
            let legacy = sp.join("legacy_dir-1.5-py3.11.egg-info");
            std::fs::create_dir_all(&legacy).unwrap();
            std::fs::write(legacy.join("PKG-INFO"), "Metadata-Version: 1.0\nName: legacy-dir\nVersion: 1.5\n").unwrap();
            std::fs::write(
                sp.join("Legacy_File-0.9-py3.11.egg-info"),
                "Metadata-Version: 1.0\nName: Legacy_File\nVersion: 0.9\n",
            )
            .unwrap();
        })
    })
}

/// The `broken` venv: what pip tolerates and uv does not (an invalid `direct_url.json`, a
/// non-PEP 440 version, a dist without `Name`, a name failing PEP 508), next to real installs.
pub fn broken() -> &'static Venv {
    static VENV: OnceLock<Venv> = OnceLock::new();
    VENV.get_or_init(|| {
        build("broken", |venv, root| {
            pip(venv, &["install", "-q"], &["six", "wheel"]);
            let project = tiny_project(root, "broken-project", "edit-me");
            pip(venv, &["install", "-q", "-e"], &[project.to_str().unwrap()]);
            let sp = venv.site_packages();
            dist(
                &sp,
                "bad-1.0.dist-info",
                "bad",
                "1.0",
                Some(r#"{"url": "https://example.com/bad.tar.gz"}"#),
            );
            dist(
                &sp,
                "badhash-1.0.dist-info",
                "BadHash",
                "1.0",
                Some(r#"{"url": "https://example.com/x.tgz", "archive_info": {"hash": "nohash"}}"#),
            );
            dist(&sp, "badver-1.0.dist-info", "badver", "1.0-foo bar", None);
            dist(&sp, "~eird-1.0.dist-info", "~eird", "1.0", None);
            let noname = sp.join("noname-1.0.dist-info");
            std::fs::create_dir_all(&noname).unwrap();
            std::fs::write(
                noname.join("METADATA"),
                "Metadata-Version: 2.1\nVersion: 1.0\n",
            )
            .unwrap();
        })
    })
}

/// The `large-<n>` venv, for the benchmark only: a real venv (pip, setuptools) plus `n` fake
/// distributions written as an installer leaves them (a `METADATA` with headers and a
/// description, `INSTALLER`, `RECORD`, `WHEEL`; every tenth from a direct URL). Nothing is
/// importable; `pip freeze` reads them as installed all the same.
pub fn large(n: usize) -> Venv {
    build(&format!("large-{n}"), |venv, _| {
        let sp = venv.site_packages();
        for i in 0..n {
            fake_dist(&sp, i);
        }
    })
}

fn fake_dist(sp: &Path, i: usize) {
    let name = format!("fake_pkg{i:05}");
    let version = format!("1.{}.{}", i % 50, i % 7);
    let d = sp.join(format!("{name}-{version}.dist-info"));
    std::fs::create_dir_all(&d).unwrap();
    let requires: String = (1..4)
        .map(|k| {
            format!(
                "Requires-Dist: fake-pkg{:05}>=1.0\n",
                (i + k * 37) % 100_000
            )
        })
        .collect();
    let description = format!(
        "# {name}\n\n{}\n",
        "A package made for a benchmark. ".repeat(40)
    );
    std::fs::write(
        d.join("METADATA"),
        format!(
            "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: Fake package {i}\n\
             Home-page: https://example.com/{name}\nAuthor: Bench\nLicense: MIT\n\
             Classifier: Programming Language :: Python :: 3\n\
             Classifier: License :: OSI Approved :: MIT License\n\
             Requires-Python: >=3.8\n{requires}\
             Description-Content-Type: text/markdown\n\n{description}"
        ),
    )
    .unwrap();
    std::fs::write(d.join("INSTALLER"), "pip\n").unwrap();
    std::fs::write(
        d.join("WHEEL"),
        "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    )
    .unwrap();
    std::fs::write(
        d.join("RECORD"),
        format!("{name}/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n{name}-{version}.dist-info/METADATA,,\n"),
    )
    .unwrap();
    if i.is_multiple_of(10) {
        std::fs::write(
            d.join("direct_url.json"),
            format!(r#"{{"url": "https://example.com/{name}-{version}.tar.gz", "archive_info": {{"hashes": {{"sha256": "ff"}}}}}}"#),
        )
        .unwrap();
    }
}

/// The `uv` binary, installed with pip into a tool venv of its own.
pub fn uv() -> PathBuf {
    static UV: OnceLock<PathBuf> = OnceLock::new();
    UV.get_or_init(|| {
        let venv = build("uv-tool", |venv, _| pip(venv, &["install", "-q"], &["uv"]));
        venv.root.join("bin/uv")
    })
    .clone()
}

/// Makes (or reuses) the venv `name`, running `fill` once on a fresh one.
fn build(name: &str, fill: impl FnOnce(&Venv, &Path)) -> Venv {
    let root = cache_root();
    let venv = Venv {
        root: root.join(name),
    };
    let ready = venv.root.join(".ready");
    if ready.is_file() {
        return venv;
    }
    // Test processes run in parallel: one makes the venv, the others wait for it (an
    // unfinished venv of a process that died is made again).
    std::fs::create_dir_all(&root).unwrap();
    let lock = std::fs::File::create(root.join(format!("{name}.lock"))).unwrap();
    lock.lock().expect("lock the venv");
    if ready.is_file() {
        return venv;
    }
    if venv.root.exists() {
        std::fs::remove_dir_all(&venv.root).expect("remove an incomplete venv");
    }
    run(clean(Command::new("python3").args(["-m", "venv"])).arg(&venv.root));
    fill(&venv, &root);
    std::fs::write(ready, "").unwrap();
    venv
}

/// A minimal PEP 621 project (setuptools backend) for an editable install.
fn tiny_project(root: &Path, dir: &str, name: &str) -> PathBuf {
    let project = root.join(dir);
    let package = project.join("tiny_pkg");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(package.join("__init__.py"), "").unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"{name}\"\nversion = \"0.1\"\n\n[tool.setuptools]\npackages = [\"tiny_pkg\"]\n"
        ),
    )
    .unwrap();
    project
}

/// A hand-made installed distribution (what an installer leaves: METADATA, INSTALLER and,
/// for direct-URL installs, direct_url.json).
fn dist(sp: &Path, dir: &str, name: &str, version: &str, direct_url: Option<&str>) {
    let d = sp.join(dir);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"),
    )
    .unwrap();
    std::fs::write(d.join("INSTALLER"), "pip\n").unwrap();
    if let Some(json) = direct_url {
        std::fs::write(d.join("direct_url.json"), json).unwrap();
    }
}

fn pip(venv: &Venv, args: &[&str], more: &[&str]) {
    run(clean(&mut Command::new(venv.root.join("bin/pip")))
        .args(args)
        .args(more));
}

/// A command without the variables that would change which environment Python sees.
fn clean(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("VIRTUAL_ENV")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
}

/// Runs a command; a failure panics with its output.
fn run(cmd: &mut Command) -> Vec<u8> {
    let cmd = clean(cmd);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
