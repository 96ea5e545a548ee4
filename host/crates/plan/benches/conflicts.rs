//! Conflict detection benchmark: one plugin returning N lines of one package, every line
//! pinning another version under its own origin (N² conflicting pairs), plus N lines of
//! distinct packages, through `requirements::merge` and `plan`'s warnings.
//!
//! A plain harness like `context`: `cargo bench -p dockwright-plan --bench conflicts`;
//! `CONFLICTS_BENCH_LINES` (default 10,000) and `CONFLICTS_BENCH_RUNS` (default 11) change the
//! size and the run count. The goal is a median under 100 ms at N = 10,000.

use std::hint::black_box;
use std::time::{Duration, Instant};

use dockwright_plan::contribution::{Contribution, Group, Platform, Requirement, Sourced};
use dockwright_plan::requirements::merge;

fn main() {
    let lines: usize = env_or("CONFLICTS_BENCH_LINES", 10_000);
    let runs: usize = env_or("CONFLICTS_BENCH_RUNS", 11);
    let platform = Platform {
        os: "linux".into(),
        arch: "amd64".into(),
        python_version: "3.11".into(),
    };
    for (name, sources) in [
        ("one package, every line a conflict", one_package(lines)),
        ("distinct packages, no conflict", distinct_packages(lines)),
    ] {
        let mut shown = 0;
        let median = median(runs, || {
            let set = merge(&sources, &platform).expect("valid lines");
            shown = set.conflicts.len() + set.conflicts_omitted;
            black_box(set);
        });
        println!(
            "merge, {lines} lines, {name}: median {:.1} ms over {runs} runs ({shown} conflicts found)",
            median.as_secs_f64() * 1e3
        );
    }
}

fn contribution(requirements: Vec<Requirement>) -> Vec<Sourced> {
    vec![Sourced {
        plugin: "acme 1.0.0".into(),
        digest: "sha256:0".into(),
        group: Group::Integrations,
        contribution: Contribution {
            requirements,
            ..Contribution::default()
        },
    }]
}

fn one_package(n: usize) -> Vec<Sourced> {
    contribution(
        (0..n)
            .map(|i| Requirement {
                line: format!("numpy==1.{}.{}", i / 100, i % 100),
                origin: format!("origin-{i}"),
            })
            .collect(),
    )
}

fn distinct_packages(n: usize) -> Vec<Sourced> {
    contribution(
        (0..n)
            .map(|i| Requirement {
                line: format!("package-{i}>=1.0"),
                origin: format!("origin-{i}"),
            })
            .collect(),
    )
}

fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
