//! Benchmark: the `local-env` scan through the plugin runtime against the real `pip freeze`
//! (and `uv pip freeze`) of the same venv, for two venvs: the tests' `real` venv (~50
//! distributions from PyPI and by hand) and `large-N` (a real venv plus N fake installed
//! distributions, default 2,000: `BENCH_PACKAGES`). Before timing, the plugin's lines are
//! checked to be byte for byte what `pip freeze` prints. Prints the median and minimum of each,
//! side by side, from one run, with runs interleaved. Goals: at least 20× faster than `pip
//! freeze` (issue 3); 2,000 packages in 40 ms or less (issue 14).

#[path = "../local_env/venvs.rs"]
mod venvs;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dockwright::plugins::sources::local_env;
use dockwright::plugins::{Limits, Origin, Platform, Request, Runtime, builtin};
use serde_json::json;

/// A named thing to time.
type Task<'a> = (&'static str, Box<dyn FnMut() + 'a>);

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let packages: usize = std::env::var("BENCH_PACKAGES")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2000);
    let real = venvs::real();
    let large = venvs::large(packages);
    for (what, venv) in [
        ("the tests' `real` venv".to_string(), real),
        (format!("{packages} fake distributions"), &large),
    ] {
        bench(&what, venv, runs);
    }
}

fn bench(what: &str, venv: &venvs::Venv, runs: usize) {
    let wasm = builtin::PLUGINS
        .iter()
        .find(|(name, _)| *name == "local-env")
        .expect("local-env is built in")
        .1;
    let cache = tempfile::tempdir().unwrap();
    let components = cache.path().join("components");
    let runtime = Runtime::new(components.clone(), Limits::default()).unwrap();
    let plugin = runtime.load(wasm, Origin::Builtin, "local-env").unwrap();
    let request = local_env::request(
        &json!("pip_freeze"),
        Path::new("/"),
        Platform::default(),
        Some(&venv.python()),
    )
    .expect("locate the venv");
    let contribution = runtime.contribute(&plugin, &request).unwrap().value;
    let ours: String = contribution
        .requirements
        .iter()
        .map(|r| format!("{}\n", r.line))
        .collect();
    assert_eq!(ours, venv.pip_freeze(), "local-env differs from pip freeze");
    println!(
        "\n{what}: {} ({} requirement lines, identical to pip freeze), {runs} runs each, interleaved\n",
        venv.root.display(),
        contribution.requirements.len()
    );

    let process_like = |request: &Request| {
        // What a fresh `dockwright plan` pays: a new runtime, the component from the warm
        // on-disk cache, one call (locating the venv is left out: it runs its interpreter).
        let rt = Runtime::new(components.clone(), Limits::default()).unwrap();
        let p = rt.load(wasm, Origin::Builtin, "local-env").unwrap();
        rt.contribute(&p, request).unwrap();
    };
    let pip = || {
        let out = Command::new(venv.root.join("bin/pip"))
            .arg("freeze")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    let uv = || {
        venv.uv_freeze().unwrap();
    };
    let mut tasks: Vec<Task<'_>> = vec![
        (
            "local-env call (plugin loaded, warm compiled cache)",
            Box::new(|| {
                runtime.contribute(&plugin, &request).unwrap();
            }),
        ),
        (
            "local-env: new runtime + load cached + call",
            Box::new(|| process_like(&request)),
        ),
        ("pip freeze (subprocess)", Box::new(pip)),
        ("uv pip freeze (subprocess)", Box::new(uv)),
    ];
    let times = measure_interleaved(runs, &mut tasks);
    println!(
        "{:<58} {:>10} {:>10} {:>12}",
        "", "median", "min", "pip/median"
    );
    let pip_median = times[2].0;
    for ((label, _), (median, min)) in tasks.iter().zip(&times) {
        println!(
            "{label:<58} {:>8.2}ms {:>8.2}ms {:>11.1}x",
            ms(*median),
            ms(*min),
            pip_median.as_secs_f64() / median.as_secs_f64()
        );
    }
}

/// (median, minimum) of each task over `runs` rounds, each round running every task once in
/// turn (after one warm-up round), so that a change in the machine's load hits all alike.
fn measure_interleaved(runs: usize, tasks: &mut [Task<'_>]) -> Vec<(Duration, Duration)> {
    for (_, f) in tasks.iter_mut() {
        f();
    }
    let mut times = vec![Vec::with_capacity(runs); tasks.len()];
    for _ in 0..runs {
        for (i, (_, f)) in tasks.iter_mut().enumerate() {
            let start = Instant::now();
            f();
            times[i].push(start.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            (t[t.len() / 2], t[0])
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
