//! The installer's cache kept across builds (`python_package_installer_cache_mount`, built
//! with BuildKit), through the real binary against the real Docker engine: after a first
//! build, adding one package to `requirements` downloads that package only, and the image
//! holds exactly what a cold build of the same settings holds.
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

    /// Writes the settings: `installer` with the cache `cache_id`, installing `requirements`
    /// from `server`, tagged `tag`.
    fn settings(
        &self,
        installer: &str,
        cache_id: &str,
        requirements: &[&str],
        server: &WheelServer,
        tag: &str,
    ) -> String {
        let url = server.url();
        let name = &self.name;
        let yaml = format!(
            "name: {name}
settings:
  docker:
    parent_image: {BASE_IMAGE}
    target_repository: dockwright-test/{name}
    image_tag: {tag}
    python_package_installer: {installer}
    python_package_installer_cache_mount: type=cache,id={cache_id},target=/root/.cache/{installer}
    requirements: [{requirements}]
    environment:
      PIP_FIND_LINKS: {url}
      PIP_NO_INDEX: \"1\"
      PIP_TRUSTED_HOST: 127.0.0.1
      UV_FIND_LINKS: {url}
      TEST_RUN: {name}
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
        let home = self.dir.path().join("home");
        let output = dockwright_tests::dockwright(&home)
            .args(["build", "-f"])
            .arg(self.dir.path().join("dockwright.yaml"))
            .stdin(Stdio::null())
            .output()
            .expect("run dockwright");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "dockwright build failed\nstdout:\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&output.stdout),
        );
        stderr
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

    cleanup
        .0
        .push(pipeline.settings(installer, &cache, &before, &server, "first"));
    pipeline.build();
    let first = server.downloads();
    assert_eq!(
        wheels_of(&first, &["six", "idna"]).len(),
        2,
        "the first build downloads both: {first:?}"
    );

    let rebuilt = pipeline.settings(installer, &cache, &after, &server, "rebuilt");
    cleanup.0.push(rebuilt.clone());
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
    let cold = pipeline.settings(installer, &unique("cold"), &after, &server, "cold");
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
