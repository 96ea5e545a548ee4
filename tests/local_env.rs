//! The built-in `local-env` plugin, run for real through the host runtime against real
//! virtual environments: its output must equal, byte for byte, what the real `pip freeze`
//! (and `uv pip freeze`) print for the same environment. Errors must name the plugin and
//! the input at fault.

#[path = "local_env/venvs.rs"]
mod venvs;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dockwright::plugins::sources::local_env;
use dockwright::plugins::{
    Contribution, ErrorKind, Grants, GuestError, Limits, Origin, Platform, Plugin, PluginError,
    Request, Runtime, builtin,
};
use serde_json::{Value, json};

/// One runtime and the loaded built-in for all tests of this binary.
fn plugin() -> &'static (Runtime, Plugin) {
    static LOADED: OnceLock<(Runtime, Plugin)> = OnceLock::new();
    LOADED.get_or_init(|| {
        // Compiled components are written atomically, so runs may share one cache (warm after
        // the first run, as a user's is).
        let cache = std::env::temp_dir().join("dockwright-local-env-test-components");
        let runtime = Runtime::new(cache, Limits::default()).expect("runtime");
        let wasm = builtin::PLUGINS
            .iter()
            .find(|(name, _)| *name == "local-env")
            .expect("local-env is a built-in plugin")
            .1;
        let plugin = runtime
            .load(wasm, Origin::Builtin, "local-env")
            .expect("load local-env");
        (runtime, plugin)
    })
}

fn contribute(request: &Request) -> Result<Contribution, PluginError> {
    let (runtime, plugin) = plugin();
    runtime.contribute(plugin, request).map(|o| o.value)
}

/// The request the host makes for `setting`, locating the environment through the venv's
/// own interpreter.
fn host_request(setting: Value, venv: &venvs::Venv) -> Request {
    local_env::request(
        &setting,
        Path::new("/"),
        Platform::default(),
        Some(&venv.python()),
    )
    .expect("locate the venv")
}

/// The lines as a requirements file: each followed by a newline, as pip prints them.
fn as_file(c: &Contribution) -> String {
    c.requirements
        .iter()
        .map(|r| format!("{}\n", r.line))
        .collect()
}

#[test]
fn the_host_locates_the_venv_by_interpreter_and_by_virtual_env() {
    let venv = venvs::real();
    let by_interpreter = local_env::locate(Some(&venv.python())).unwrap();
    let by_virtual_env = local_env::locate_with(None, Some(&venv.root)).unwrap();
    let expected = vec![venv.site_packages().canonicalize().unwrap()];
    assert_eq!(by_interpreter, expected);
    assert_eq!(
        by_virtual_env
            .iter()
            .map(|p| p.canonicalize().unwrap())
            .collect::<Vec<_>>(),
        expected
    );
    let request = host_request(json!("pip_freeze"), venv);
    assert_eq!(request.grants.read, expected);
    assert!(request.grants.exec.is_empty());
    assert_eq!(request.settings["site_packages"], json!(expected));
}

#[test]
fn pip_freeze_matches_pip_byte_for_byte() {
    let venv = venvs::real();
    let expected = venv.pip_freeze();
    for setting in [json!("pip_freeze"), json!(true)] {
        let c = contribute(&host_request(setting.clone(), venv)).expect("local-env");
        assert_eq!(as_file(&c), expected, "setting {setting}");
        let sp = venv.site_packages().canonicalize().unwrap();
        let origin = format!("local environment ({})", sp.display());
        assert!(
            c.requirements.iter().all(|r| r.origin == origin),
            "{:?}",
            c.requirements
        );
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("My_Proj is an editable install")),
            "{:?}",
            c.notes
        );
    }
    // The cases this venv exists for, so that a vacuous match cannot pass unnoticed.
    for line in [
        "six==",
        "Foo.Bar==1.0.0b1",
        "zz_Under==1.0.post0",
        "idna @ file://",
        "VcsPkg @ git+https://example.com/vcspkg.git@0123456789abcdef0123456789abcdef01234567#subdirectory=pkg",
        "ArchSub @ https://example.com/a.zip#sha256=ff&subdirectory=sub/dir",
        "OnlyHashes @ https://example.com/onlyhashes-2.0.tar.gz\n",
        "# Editable install with no version control (My_Proj==0.1)\n-e ",
        "-e /tmp/c\n",
        "legacy-dir==1.5",
        "Legacy_File==0.9",
    ] {
        assert!(
            expected.contains(line),
            "pip freeze lacks {line:?}:\n{expected}"
        );
    }
    assert!(expected.lines().count() > 40, "{expected}");
    assert!(
        !expected.contains("wheel=="),
        "pip hides wheel before Python 3.12"
    );
}

#[test]
fn pip_freeze_matches_pip_where_pip_tolerates_broken_metadata() {
    let venv = venvs::broken();
    let expected = venv.pip_freeze();
    let c = contribute(&host_request(json!("pip_freeze"), venv)).expect("local-env");
    assert_eq!(as_file(&c), expected);
    for line in [
        "bad==1.0\n",
        "BadHash==1.0\n",
        "badver===1.0-foo bar\n",
        "six==",
    ] {
        assert!(
            expected.contains(line),
            "pip freeze lacks {line:?}:\n{expected}"
        );
    }
    assert!(!expected.contains("eird") && !expected.contains("noname"));
    let notes = c.notes.join("\n");
    assert!(
        notes.contains("bad-1.0.dist-info/direct_url.json is invalid"),
        "{notes}"
    );
    assert!(notes.contains("noname-1.0.dist-info: no `Name`"), "{notes}");
}

#[test]
fn uv_freeze_matches_uv_byte_for_byte() {
    let venv = venvs::real();
    let expected = venv.uv_freeze().expect("uv pip freeze");
    let c = contribute(&host_request(json!("uv_freeze"), venv)).expect("local-env");
    assert_eq!(as_file(&c), expected);
    for line in [
        "foo-bar==1.0.0b1\n",
        "zz-under==1.0\n",
        "dup==1.0\ndup==2.0\n",
        "pip==",
        "onlyhashes @ https://example.com/onlyhashes-2.0.tar.gz#sha512=bb\n",
        "-e file:///tmp/c#subdirectory=x\n",
    ] {
        assert!(
            expected.contains(line),
            "uv pip freeze lacks {line:?}:\n{expected}"
        );
    }
    assert_ne!(
        expected,
        venv.pip_freeze(),
        "the two formats differ on this venv"
    );
}

#[test]
fn uv_freeze_fails_where_uv_fails() {
    let venv = venvs::broken();
    let uv_error = venv
        .uv_freeze()
        .expect_err("uv refuses an invalid direct_url.json");
    assert!(uv_error.contains("bad-1.0.dist-info"), "{uv_error}");
    let err = contribute(&host_request(json!("uv_freeze"), venv)).unwrap_err();
    assert_eq!(err.plugin, "local-env 1.0.0");
    assert!(
        matches!(&err.kind, ErrorKind::Guest(GuestError::InvalidInput(m)) if m.contains("direct_url.json")),
        "{err}"
    );
}

fn request(settings: Value, grants: Grants) -> Request {
    Request {
        platform: Platform::default(),
        settings,
        base_dir: PathBuf::from("/"),
        grants,
    }
}

#[test]
fn a_missing_environment_directory_is_an_error_naming_plugin_and_directory() {
    let missing = "/nonexistent/venv/lib/python3.11/site-packages";
    // Granted: the host cannot open what does not exist.
    let granted = request(
        json!({"replicate_local_python_environment": "pip_freeze", "site_packages": [missing]}),
        Grants {
            read: vec![PathBuf::from(missing)],
            exec: vec![],
            pip_options: Vec::new(),
            env: Vec::new(),
        },
    );
    let err = contribute(&granted).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("local-env 1.0.0") && text.contains(missing),
        "{text}"
    );
    // Not granted: the plugin cannot see it and says which setting needed it.
    let ungranted = request(
        json!({"replicate_local_python_environment": "pip_freeze", "site_packages": [missing]}),
        Grants::default(),
    );
    let err = contribute(&ungranted).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err.kind, ErrorKind::Guest(GuestError::Unavailable(_))),
        "{text}"
    );
    assert!(
        text.contains("local-env 1.0.0")
            && text.contains("replicate_local_python_environment")
            && text.contains(missing),
        "{text}"
    );
    // And the host's locator names a virtual environment that has none.
    let empty = tempfile::tempdir().unwrap();
    let err = local_env::locate_with(None, Some(empty.path())).unwrap_err();
    assert!(
        err.to_string()
            .contains(&empty.path().display().to_string())
    );
}

#[test]
fn an_export_command_without_its_exec_grant_is_refused_with_the_input_named() {
    let err = contribute(&request(
        json!({"replicate_local_python_environment": "poetry_export"}),
        Grants::default(),
    ))
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err.kind, ErrorKind::Guest(GuestError::Unavailable(_))),
        "{text}"
    );
    for part in [
        "local-env 1.0.0",
        "replicate_local_python_environment",
        "poetry export --format=requirements.txt",
        "refused",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    // The host grants exactly the program the setting names.
    let venv = venvs::real();
    assert_eq!(
        host_request(json!("poetry_export"), venv).grants.exec,
        ["poetry"]
    );
}

#[test]
fn a_granted_command_runs_on_the_host_and_its_failure_carries_stderr() {
    let ok = json!([
        "python3",
        "-c",
        "print('six==1.16.0'); print(); print('attrs==23.1.0 \\\\'); print('  --hash=sha256:ab')"
    ]);
    let request_ok = local_env::request(&ok, Path::new("/"), Platform::default(), None).unwrap();
    assert_eq!(request_ok.grants.exec, ["python3"]);
    let c = contribute(&request_ok).expect("command output");
    let lines: Vec<&str> = c.requirements.iter().map(|r| r.line.as_str()).collect();
    assert_eq!(lines, ["six==1.16.0", "attrs==23.1.0 --hash=sha256:ab"]);
    assert!(
        c.requirements[1].origin.contains("line 3"),
        "{:?}",
        c.requirements[1]
    );

    let failing = json!([
        "python3",
        "-c",
        "import sys; sys.exit('poetry.lock is out of date')"
    ]);
    let request_fail =
        local_env::request(&failing, Path::new("/"), Platform::default(), None).unwrap();
    let err = contribute(&request_fail).unwrap_err().to_string();
    assert!(
        err.contains("local-env 1.0.0") && err.contains("poetry.lock is out of date"),
        "{err}"
    );

    let other = local_env::request(
        &json!(["bash", "-c", "echo x"]),
        Path::new("/"),
        Platform::default(),
        None,
    )
    .unwrap();
    let err = contribute(&other).unwrap_err().to_string();
    assert!(
        err.contains("`bash -c echo x`") && err.contains("exec:bash"),
        "{err}"
    );
}
