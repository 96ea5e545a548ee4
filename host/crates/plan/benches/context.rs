//! Build-context benchmark: scanning + hashing a context of a few thousand files with a
//! cold and a warm hash cache, and tar streaming throughput.
//!
//! A plain harness (no benchmarking framework, so it builds quickly): each case runs a
//! few times and the median is printed. `cargo bench -p dockwright --bench context`;
//! `CONTEXT_BENCH_FILES` and `CONTEXT_BENCH_RUNS` change the size and the run count.
//! "Cold" means a cold hash cache; the files themselves are in the page cache.

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use dockwright_plan::context::{Context, HashCache};

fn main() {
    let files: usize = env_or("CONTEXT_BENCH_FILES", 3000);
    let runs: usize = env_or("CONTEXT_BENCH_RUNS", 11);
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path().join("project");
    let bytes = make_project(&root, files);
    println!(
        "context: {files} files, {:.1} MiB included; 5000 more files in an ignored .venv; {runs} runs, medians",
        mib(bytes)
    );

    let scan = median(runs, || {
        black_box(Context::scan(&root, None).unwrap());
    });
    report("scan only", scan, None);

    let cold = median(runs, || {
        let context = Context::scan(&root, None).unwrap();
        black_box(context.digest(&mut HashCache::in_memory()).unwrap());
    });
    report("scan + digest, cold cache", cold, Some(bytes));

    let cache_file = dir.path().join("hashes");
    let mut cache = HashCache::open(&cache_file);
    Context::scan(&root, None)
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    cache.save().unwrap();
    let warm = median(runs, || {
        let mut cache = HashCache::open(&cache_file);
        let context = Context::scan(&root, None).unwrap();
        let digest = context.digest(&mut cache).unwrap();
        assert_eq!(digest.bytes_hashed, 0);
        black_box(digest);
    });
    report("load cache + scan + digest, warm cache", warm, None);

    let context = Context::scan(&root, None).unwrap();
    let tar = median(runs, || {
        black_box(context.write_tar(io::sink()).unwrap());
    });
    report("tar of the project to a sink", tar, Some(bytes));

    let big_root = dir.path().join("big");
    fs::create_dir(&big_root).unwrap();
    let big = 512u64 << 20;
    write_random_file(&big_root.join("weights.bin"), big);
    let big_context = Context::scan(&big_root, None).unwrap();
    let big_tar = median(runs.min(5), || {
        black_box(big_context.write_tar(io::sink()).unwrap());
    });
    report("tar of one 512 MiB file to a sink", big_tar, Some(big));
    let big_hash = median(runs.min(5), || {
        black_box(big_context.digest(&mut HashCache::in_memory()).unwrap());
    });
    report(
        "digest of one 512 MiB file, cold cache",
        big_hash,
        Some(big),
    );
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A Python project: `files` source files of 1–16 KiB in nested packages, a few larger
/// data files, and an ignored virtualenv. Returns the bytes of included files.
fn make_project(root: &Path, files: usize) -> u64 {
    let old = SystemTime::now() - Duration::from_secs(3600);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut total = 0;
    for index in 0..files {
        let size = 1024 + (next(&mut seed) % (15 * 1024)) as usize;
        let rel = format!(
            "src/pkg{}/mod{}/file{index}.py",
            index % 20,
            (index / 20) % 10
        );
        total += write_file(root, &rel, &pseudo_random(&mut seed, size), old);
    }
    for index in 0..5 {
        total += write_file(
            root,
            &format!("assets/blob{index}.bin"),
            &pseudo_random(&mut seed, 2 << 20),
            old,
        );
    }
    for index in 0..5000 {
        write_file(
            root,
            &format!(".venv/lib/site-packages/p{}/f{index}.py", index % 50),
            b"x",
            old,
        );
    }
    write_file(root, ".dockerignore", b".venv\n**/__pycache__\n", old);
    total
}

fn write_file(root: &Path, rel: &str, contents: &[u8], mtime: SystemTime) -> u64 {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = File::create(&path).unwrap();
    (&file).write_all(contents).unwrap();
    file.set_modified(mtime).unwrap();
    contents.len() as u64
}

fn write_random_file(path: &Path, size: u64) {
    let mut seed = 42;
    let mut file = io::BufWriter::new(File::create(path).unwrap());
    let chunk = pseudo_random(&mut seed, 1 << 20);
    for _ in 0..size >> 20 {
        file.write_all(&chunk).unwrap();
    }
    file.into_inner()
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

fn next(seed: &mut u64) -> u64 {
    // xorshift64: deterministic filler, not cryptography.
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn pseudo_random(seed: &mut u64, size: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size + 8);
    while bytes.len() < size {
        bytes.extend_from_slice(&next(seed).to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

fn median(runs: usize, mut case: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            case();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn report(what: &str, time: Duration, bytes: Option<u64>) {
    let millis = time.as_secs_f64() * 1000.0;
    match bytes {
        Some(bytes) => println!(
            "{what:<42} {millis:>9.2} ms  {:>8.1} MiB/s",
            mib(bytes) / time.as_secs_f64()
        ),
        None => println!("{what:<42} {millis:>9.2} ms"),
    }
}
