//! Plugin runtime benchmark: cold compile of a built-in plugin, load from the compiled cache
//! (what a warm process does), and a fresh-store instantiate + call.
//!
//! A plain harness (no framework, so it builds quickly): each case runs several times and the
//! median is printed. `cargo bench -p dockwright --bench plugins`; `PLUGIN_BENCH_RUNS` sets the
//! run count.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dockwright_plugin_host::{Grants, Limits, Origin, Platform, Request, Runtime, builtin};

fn main() {
    let runs: usize = std::env::var("PLUGIN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21);
    let (name, wasm) = builtin::PLUGINS
        .iter()
        .find(|(n, _)| *n == "requirements")
        .expect("built-in");
    println!(
        "plugin `{name}`: {} KiB of wasm; {runs} runs, medians",
        wasm.len() / 1024
    );

    let cold = median(runs.min(7), || {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::new(dir.path().to_path_buf(), Limits::default()).unwrap();
        let started = Instant::now();
        runtime.load(wasm, Origin::Builtin, name).unwrap();
        assert_eq!(runtime.compiles(), 1);
        started.elapsed()
    });
    report("cold compile (load, cache empty)", cold);

    let cache = tempfile::tempdir().unwrap();
    Runtime::new(cache.path().to_path_buf(), Limits::default())
        .unwrap()
        .load(wasm, Origin::Builtin, name)
        .unwrap();
    let warm = median(runs, || {
        let started = Instant::now();
        let runtime = Runtime::new(cache.path().to_path_buf(), Limits::default()).unwrap();
        runtime.load(wasm, Origin::Builtin, name).unwrap();
        let elapsed = started.elapsed();
        assert_eq!(runtime.compiles(), 0, "a warm load compiled");
        elapsed
    });
    report("new runtime + load from the compiled cache", warm);

    let runtime = Runtime::new(cache.path().to_path_buf(), Limits::default()).unwrap();
    let plugin = runtime.load(wasm, Origin::Builtin, name).unwrap();
    let request = Request {
        platform: Platform::default(),
        settings: serde_json::json!({"requirements": ["numpy==2.1.0", "pandas>=2.0", "scikit-learn"]}),
        base_dir: PathBuf::from("/"),
        grants: Grants::default(),
    };
    let call = median(runs * 10, || {
        let started = Instant::now();
        let outcome = runtime.contribute(&plugin, &request).unwrap();
        let elapsed = started.elapsed();
        assert_eq!(outcome.value.requirements.len(), 3);
        elapsed
    });
    report("fresh store + instantiate + contribute", call);
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs.max(1)).map(|_| f()).collect();
    times.sort();
    times[times.len() / 2]
}

fn report(what: &str, d: Duration) {
    println!("{what:<45} {:>10.3} ms", d.as_secs_f64() * 1e3);
}
