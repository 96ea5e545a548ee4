//! Conflict detection benchmark: one plugin returning N lines of one package, every line
//! pinning another version under its own origin (N² conflicting pairs), plus N lines of
//! distinct packages, through `requirements::merge` and `plan`'s warnings.
//!
//! A plain harness like `context`: `cargo bench -p dockwright-plan --bench conflicts`;
//! `CONFLICTS_BENCH_LINES` (default 10,000) and `CONFLICTS_BENCH_RUNS` (default 11) change the
//! size and the run count. The goal is a median under 100 ms at N = 10,000.
//!
//! Each run is timed twice: wall-clock, and the CPU time of this thread (Linux's
//! `/proc/thread-self/schedstat`), which a machine shared with other builds inflates far less.

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
        let (wall, cpu) = medians(runs, || {
            let set = merge(&sources, &platform).expect("valid lines");
            shown = set.conflicts.len() + set.conflicts_omitted;
            black_box(set);
        });
        let cpu = cpu.map_or("n/a".into(), |cpu| {
            format!("{:.1} ms", cpu.as_secs_f64() * 1e3)
        });
        println!(
            "merge, {lines} lines, {name}: median {:.1} ms wall, {cpu} CPU over {runs} runs \
             ({shown} conflicts found)",
            wall.as_secs_f64() * 1e3
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

/// The medians of the wall-clock and (where the platform tells) CPU time of `f`.
fn medians(runs: usize, mut f: impl FnMut()) -> (Duration, Option<Duration>) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..runs.max(1) {
        let cpu_before = thread_cpu_time();
        let started = Instant::now();
        f();
        wall.push(started.elapsed());
        if let (Some(before), Some(after)) = (cpu_before, thread_cpu_time()) {
            cpu.push(after - before);
        }
    }
    let median = |mut times: Vec<Duration>| {
        times.sort();
        times.get(times.len() / 2).copied()
    };
    (median(wall).expect("at least one run"), median(cpu))
}

/// The CPU time this thread has used, from the first field (nanoseconds) of Linux's
/// `/proc/thread-self/schedstat`; `None` elsewhere.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
