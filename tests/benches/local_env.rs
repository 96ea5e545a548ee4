//! Benchmark: the `local-env` scan through the plugin runtime against the real `pip freeze`
//! (and `uv pip freeze`) of the same venv (the tests' `real` venv, ~50 distributions).
//! Prints the median and minimum of each, side by side, from one run. The goal (DESIGN.md
//! §10, issue 3) is a scan at least 20× faster than `pip freeze`.

#[path = "../local_env/venvs.rs"]
mod venvs;

use std::process::Command;
use std::time::{Duration, Instant};

use dockwright::plugins::sources::local_env;
use dockwright::plugins::{Grants, Limits, Origin, Platform, Request, Runtime, builtin};
use serde_json::json;

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let venv = venvs::real();
    let wasm = builtin::PLUGINS
        .iter()
        .find(|(name, _)| *name == "local-env")
        .expect("local-env is built in")
        .1;
    let cache = tempfile::tempdir().unwrap();
    let components = cache.path().join("components");
    let runtime = Runtime::new(components.clone(), Limits::default()).unwrap();
    let plugin = runtime.load(wasm, Origin::Builtin, "local-env").unwrap();
    let site_packages = local_env::locate_with(None, Some(&venv.root)).unwrap();
    let request = Request {
        platform: Platform::default(),
        settings: json!({"replicate_local_python_environment": "pip_freeze", "site_packages": site_packages}),
        base_dir: venv.root.clone(),
        grants: Grants {
            read: site_packages.clone(),
            exec: vec![],
            pip_options: Vec::new(),
            env: Vec::new(),
        },
    };
    let lines = runtime
        .contribute(&plugin, &request)
        .unwrap()
        .value
        .requirements
        .len();
    println!(
        "venv {} ({} requirement lines), {runs} runs each\n",
        venv.root.display(),
        lines
    );

    let call = measure(runs, || {
        runtime.contribute(&plugin, &request).unwrap();
    });
    let process_like = measure(runs, || {
        // What a fresh `dockwright plan` pays: locate (VIRTUAL_ENV, no Python), a new runtime,
        // the component from the warm on-disk cache, one call.
        let dirs = local_env::locate_with(None, Some(&venv.root)).unwrap();
        let rt = Runtime::new(components.clone(), Limits::default()).unwrap();
        let p = rt.load(wasm, Origin::Builtin, "local-env").unwrap();
        let req = Request {
            grants: Grants {
                read: dirs,
                exec: vec![],
                pip_options: Vec::new(),
                env: Vec::new(),
            },
            ..request.clone()
        };
        rt.contribute(&p, &req).unwrap();
    });
    let pip = measure(runs, || {
        let out = Command::new(venv.root.join("bin/pip"))
            .arg("freeze")
            .output()
            .unwrap();
        assert!(out.status.success());
    });
    let uv = measure(runs, || {
        venv.uv_freeze().unwrap();
    });

    println!(
        "{:<58} {:>10} {:>10} {:>12}",
        "", "median", "min", "pip/median"
    );
    let pip_median = pip.0;
    for (label, (median, min)) in [
        ("local-env call (plugin loaded, warm compiled cache)", call),
        (
            "local-env: locate + new runtime + load cached + call",
            process_like,
        ),
        ("pip freeze (subprocess)", pip),
        ("uv pip freeze (subprocess)", uv),
    ] {
        println!(
            "{label:<58} {:>8.2}ms {:>8.2}ms {:>11.1}x",
            ms(median),
            ms(min),
            pip_median.as_secs_f64() / median.as_secs_f64()
        );
    }
}

/// (median, minimum) of `runs` timings, after one warm-up run.
fn measure(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[0])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
