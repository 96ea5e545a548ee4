//! Rebuilds after adding a package to `requirements`, through the real binary against the
//! real Docker engine, two ways of not installing everything again:
//! - the installer's cache kept across builds (`python_package_installer_cache_mount`, built
//!   with BuildKit): the whole group is installed, but only the added package downloaded;
//! - the install history, on the default (classic) builder with no cache at all: the engine
//!   reuses the earlier build's install layer, and only the added package is installed on it.
//!
//! Either way the image holds exactly what a cold build of the same settings holds, and a
//! removed line is gone from it.
//!
//! Packages come from a wheelhouse made with `pip download` on the host and served on
//! loopback by `python3 -m http.server`, whose request log tells which wheels each build
//! downloaded. pip caches downloads only from https origins and trusted hosts (its plain
//! http adapter has no cache), hence `PIP_TRUSTED_HOST` for the loopback index. Every build here has its own cache id (`id=` in the mount), so no other test or
//! earlier run warms it. No assertion depends on timing.
//!
//! Needs: a running engine, and the packages of `scripts/ci-deps.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use dockwright_tests::{BASE_IMAGE, WheelServer, ensure_base_image, unique, wheelhouse};

fn wheels() -> PathBuf {
    wheelhouse(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("installer-cache-wheelhouse"),
        &["six==1.16.0", "idna==3.7", "tabulate==0.9.0", "uv"],
    )
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("docker")
}

/// Removes the images a test made, even when it fails.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for image in &self.0 {
            let _ = docker(&["image", "rm", image]);
        }
    }
}

/// One pipeline of the test, in a directory of its own, with its own Dockwright cache.
struct Pipeline {
    dir: tempfile::TempDir,
    name: String,
}

impl Pipeline {
    fn new(name: &str) -> Pipeline {
        ensure_base_image();
        Pipeline {
            dir: tempfile::tempdir().unwrap(),
            name: name.to_string(),
        }
    }

    /// Writes the settings: `installer` with the cache `cache_id` (none: no cache mount),
    /// installing `requirements` from `server`, tagged `tag`, with `run` in the environment
    /// (another value: another image from its first line on).
    fn settings(
        &self,
        (installer, cache_id): (&str, Option<&str>),
        requirements: &[&str],
        server: &WheelServer,
        (tag, run): (&str, &str),
    ) -> String {
        let url = server.url();
        let name = &self.name;
        let mount = cache_id.map_or(String::new(), |id| {
            format!("    python_package_installer_cache_mount: type=cache,id={id},target=/root/.cache/{installer}\n")
        });
        let yaml = format!(
            "name: {name}
settings:
  docker:
    parent_image: {BASE_IMAGE}
    target_repository: dockwright-test/{name}
    image_tag: {tag}
    python_package_installer: {installer}
{mount}    requirements: [{requirements}]
    environment:
      PIP_FIND_LINKS: {url}
      PIP_NO_INDEX: \"1\"
      PIP_TRUSTED_HOST: 127.0.0.1
      UV_FIND_LINKS: {url}
      TEST_RUN: {run}
    python_package_installer_args:
      no-index: true
    build_config:
      build_options:
        network_mode: host
steps:
  - name: check
    command: [python3, -c, \"print(1)\"]
",
            requirements = requirements.join(", ")
        );
        std::fs::write(self.dir.path().join("dockwright.yaml"), yaml).unwrap();
        format!("dockwright-test/{name}:{tag}")
    }

    /// `dockwright build`; panics with its output when it fails.
    fn build(&self) -> String {
        let output = self.try_build();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "dockwright build failed\nstdout:\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&output.stdout),
        );
        stderr
    }

    fn try_build(&self) -> Output {
        dockwright_tests::dockwright(&self.home())
            .args(["build", "-f"])
            .arg(self.dir.path().join("dockwright.yaml"))
            .stdin(Stdio::null())
            .output()
            .expect("run dockwright")
    }

    /// `dockwright plan --dockerfile` of the current settings.
    fn dockerfile(&self) -> String {
        self.plan(&["--dockerfile"])
    }

    /// What `dockwright plan` with `args` prints for the current settings.
    fn plan(&self, args: &[&str]) -> String {
        let output = dockwright_tests::dockwright(&self.home())
            .arg("plan")
            .args(args)
            .arg("-f")
            .arg(self.dir.path().join("dockwright.yaml"))
            .output()
            .expect("run dockwright");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Every file of the install history, with its content.
    fn install_history(&self) -> Vec<(PathBuf, String)> {
        let dir = self.home().join("cache/installs");
        let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .map(|p| (p.clone(), std::fs::read_to_string(p).unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }
}

/// `pip freeze` of everything the image's Python sees.
fn freeze(image: &str) -> String {
    let out = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "python3",
        image,
        "-m",
        "pip",
        "freeze",
        "--all",
    ]);
    assert!(
        out.status.success(),
        "pip freeze in {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The wheels of `downloads` whose file name starts with one of `packages`, each once (uv
/// fetches a wheel twice from a server without range requests: for its metadata, then to
/// install it).
fn wheels_of<'d>(downloads: &'d [String], packages: &[&str]) -> Vec<&'d str> {
    let wheels: std::collections::BTreeSet<&str> = downloads
        .iter()
        .map(String::as_str)
        .filter(|file| file.ends_with(".whl"))
        .filter(|file| packages.iter().any(|p| file.starts_with(&format!("{p}-"))))
        .collect();
    wheels.into_iter().collect()
}

fn adding_a_package_downloads_only_it_and_installs_what_a_cold_build_does(installer: &str) {
    let server = WheelServer::start_logged(&wheels());
    let pipeline = Pipeline::new(&unique(&format!("cache-{installer}")));
    let mut cleanup = Cleanup(Vec::new());
    let cache = unique("warm");
    let before = ["six==1.16.0", "idna==3.7"];
    let after = ["six==1.16.0", "idna==3.7", "tabulate==0.9.0"];

    let mounted = (installer, Some(cache.as_str()));
    let run = pipeline.name.clone();
    cleanup
        .0
        .push(pipeline.settings(mounted, &before, &server, ("first", &run)));
    pipeline.build();
    let first = server.downloads();
    assert_eq!(
        wheels_of(&first, &["six", "idna"]).len(),
        2,
        "the first build downloads both: {first:?}"
    );

    let rebuilt = pipeline.settings(mounted, &after, &server, ("rebuilt", &run));
    cleanup.0.push(rebuilt.clone());
    // Without the install history, the whole group is installed again: from the cache.
    std::fs::remove_dir_all(pipeline.home().join("cache/installs")).unwrap();
    let log = pipeline.build();
    let second = server.downloads();
    assert_eq!(
        wheels_of(&second, &["six", "idna"]),
        Vec::<&str>::new(),
        "the rebuild downloaded packages its cache holds: {second:?}\n{log}"
    );
    assert_eq!(
        wheels_of(&second, &["tabulate"]).len(),
        1,
        "the added package is downloaded: {second:?}"
    );

    // The same settings from cold: a cache of its own, nothing of the above in it.
    let cold_cache = unique("cold");
    let cold = pipeline.settings(
        (installer, Some(cold_cache.as_str())),
        &after,
        &server,
        ("cold", &run),
    );
    cleanup.0.push(cold.clone());
    pipeline.build();
    let third = server.downloads();
    assert_eq!(
        wheels_of(&third, &["six", "idna", "tabulate"]).len(),
        3,
        "a cold build downloads everything: {third:?}"
    );

    let (warm, cold) = (freeze(&rebuilt), freeze(&cold));
    assert!(warm.contains("tabulate==0.9.0\n"), "{warm}");
    assert!(
        warm.contains("six==1.16.0\n") && warm.contains("idna==3.7\n"),
        "{warm}"
    );
    assert_eq!(
        warm, cold,
        "the rebuild installs what a cold build installs"
    );
}

#[test]
fn uv_rebuild_after_adding_a_package_downloads_only_it_and_installs_what_a_cold_build_does() {
    adding_a_package_downloads_only_it_and_installs_what_a_cold_build_does("uv");
}

#[test]
fn pip_rebuild_after_adding_a_package_downloads_only_it_and_installs_what_a_cold_build_does() {
    adding_a_package_downloads_only_it_and_installs_what_a_cold_build_does("pip");
}

/// On the classic builder, no cache mount: the rebuild after adding a package reuses the
/// earlier install layer and installs the added package on it (downloading it alone), the
/// image is what a cold build makes; a removed line is installed from nothing again, and a
/// failed build leaves the history as it was.
fn adding_a_package_installs_it_on_the_earlier_layer(installer: &str) {
    let server = WheelServer::start_logged(&wheels());
    let pipeline = Pipeline::new(&unique(&format!("history-{installer}")));
    let mut cleanup = Cleanup(Vec::new());
    let classic = (installer, None);
    let run = pipeline.name.clone();
    let before = ["six==1.16.0", "idna==3.7"];
    let after = ["six==1.16.0", "tabulate==0.9.0", "idna==3.7"];

    cleanup
        .0
        .push(pipeline.settings(classic, &before, &server, ("first", &run)));
    pipeline.build();
    assert_eq!(wheels_of(&server.downloads(), &["six", "idna"]).len(), 2);

    let rebuilt = pipeline.settings(classic, &after, &server, ("rebuilt", &run));
    cleanup.0.push(rebuilt.clone());
    let added = ".dockwright/requirements/2-requirements.added.txt";
    let dockerfile = pipeline.dockerfile();
    assert!(
        dockerfile.contains(&format!(
            "-r .dockwright/requirements/2-requirements.txt -r {added}\n"
        )) && dockerfile.contains(
            "# .dockwright/requirements/2-requirements.txt: the 2 line(s) an earlier build installed"
        ),
        "the plan installs the added line on the earlier set, and says so:\n{dockerfile}"
    );
    let explained = pipeline.plan(&["--explain"]);
    assert!(
        explained.contains(".dockwright/requirements/2-requirements.txt: 1 added line(s) installed on an earlier build's install of the other 2"),
        "{explained}"
    );
    let log = pipeline.build();
    let second = server.downloads();
    assert_eq!(
        wheels_of(&second, &["six", "idna"]),
        Vec::<&str>::new(),
        "the earlier install layer is reused: {second:?}\n{log}"
    );
    assert_eq!(wheels_of(&second, &["tabulate"]).len(), 1, "{second:?}");

    // A failed build (a package the index lacks) remembers nothing.
    let remembered = pipeline.install_history();
    assert!(!remembered.is_empty());
    let missing = [&after[..], &["no-such-package-dockwright==1.0"]].concat();
    pipeline.settings(classic, &missing, &server, ("failed", &run));
    assert!(!pipeline.try_build().status.success());
    assert_eq!(pipeline.install_history(), remembered);

    // The same settings from cold: another first line, nothing of the above in the engine.
    let cold = pipeline.settings(classic, &after, &server, ("cold", &unique("cold")));
    cleanup.0.push(cold.clone());
    pipeline.build();
    assert_eq!(
        wheels_of(&server.downloads(), &["six", "idna", "tabulate"]).len(),
        3,
        "a cold build downloads everything"
    );
    let (rebuilt, cold) = (freeze(&rebuilt), freeze(&cold));
    assert!(rebuilt.contains("tabulate==0.9.0\n"), "{rebuilt}");
    assert_eq!(
        rebuilt, cold,
        "the rebuild installs what a cold build installs"
    );

    // A line of the earlier set removed: installed from nothing, so it is gone.
    let removed = pipeline.settings(
        classic,
        &["six==1.16.0", "tabulate==0.9.0"],
        &server,
        ("removed", &run),
    );
    cleanup.0.push(removed.clone());
    assert!(!pipeline.dockerfile().contains(added));
    pipeline.build();
    let removed = freeze(&removed);
    assert!(
        removed.contains("tabulate==0.9.0\n") && !removed.contains("idna==3.7"),
        "{removed}"
    );
}

#[test]
fn uv_rebuild_after_adding_a_package_installs_it_on_the_earlier_layer() {
    adding_a_package_installs_it_on_the_earlier_layer("uv");
}

#[test]
fn pip_rebuild_after_adding_a_package_installs_it_on_the_earlier_layer() {
    adding_a_package_installs_it_on_the_earlier_layer("pip");
}
