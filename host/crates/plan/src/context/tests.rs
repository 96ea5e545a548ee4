//! Tests of scanning, the tar and the digest against real directory trees.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use super::*;

/// A time safely outside the hash cache's "racy" window.
fn an_hour_ago() -> SystemTime {
    SystemTime::now() - Duration::from_secs(3600)
}

fn write(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, contents).unwrap();
    set_mtime(&path, an_hour_ago());
}

fn set_mtime(path: &Path, when: SystemTime) {
    File::open(path).unwrap().set_modified(when).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn paths(context: &Context) -> Vec<String> {
    context
        .members()
        .iter()
        .map(|member| member.path().to_string())
        .collect()
}

fn tar_bytes(context: &Context) -> Vec<u8> {
    let mut bytes = Vec::new();
    context.write_tar(&mut bytes).unwrap();
    bytes
}

/// (path as stored, type, mode, uid, gid, mtime, user, group, link target, contents)
type TarRow = (
    String,
    char,
    u32,
    u64,
    u64,
    u64,
    String,
    String,
    Option<String>,
    Vec<u8>,
);

fn read_tar(bytes: &[u8]) -> Vec<TarRow> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let kind = match header.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Regular => 'f',
                tar::EntryType::Symlink => 'l',
                other => panic!("unexpected entry type {other:?}"),
            };
            let path = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
            let link = entry
                .link_name()
                .unwrap()
                .map(|target| target.to_string_lossy().into_owned());
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents).unwrap();
            (
                path,
                kind,
                header.mode().unwrap(),
                header.uid().unwrap(),
                header.gid().unwrap(),
                header.mtime().unwrap(),
                header.username().unwrap().unwrap_or_default().to_string(),
                header.groupname().unwrap().unwrap_or_default().to_string(),
                link,
                contents,
            )
        })
        .collect()
}

#[test]
fn scan_lists_included_paths_in_byte_order_with_parents_first() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a/b", "1");
    write(root, "a.txt", "2");
    write(root, "B", "3");
    write(root, "a-z", "4");
    write(root, "pipeline.py", "5");
    fs::create_dir(root.join("empty")).unwrap();
    let context = Context::scan(root, None).unwrap();
    // Byte order: '-' < '.' < '/', and upper case before lower case.
    assert_eq!(
        paths(&context),
        ["B", "a", "a-z", "a.txt", "a/b", "empty", "pipeline.py"]
    );
    assert_eq!(
        context.files().collect::<Vec<_>>(),
        ["B", "a-z", "a.txt", "a/b", "pipeline.py"]
    );
    assert_eq!(context.ignore_file(), None);
}

#[test]
fn dockerignore_rules_apply_and_the_root_dockerignore_is_not_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        ".dockerignore",
        "# comment\n*/temp*\n*.md\n!README*.md\nREADME-secret.md\n/data\n**/__pycache__\n",
    );
    for rel in [
        "README.md",
        "README-secret.md",
        "CHANGES.md",
        "src/temporary.txt",
        "src/main.py",
        "src/__pycache__/main.pyc",
        "src/deep/temp.txt",
        "data/big.bin",
        "sub/data/kept.bin",
    ] {
        write(root, rel, rel);
    }
    let context = Context::scan(root, None).unwrap();
    assert_eq!(
        context.files().collect::<Vec<_>>(),
        [
            "README.md",
            "src/deep/temp.txt",
            "src/main.py",
            "sub/data/kept.bin"
        ]
    );
    assert_eq!(
        context.ignore_file(),
        Some(root.join(".dockerignore").as_path())
    );
    assert!(!paths(&context).contains(&".dockerignore".to_string()));
}

#[test]
fn explicit_ignore_file_is_used_relative_to_the_root_and_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".dockerignore", "*\n");
    write(root, "build/custom.ignore", "*.log\n");
    write(root, "app.py", "x");
    write(root, "debug.log", "x");
    let context = Context::scan(root, Some(Path::new("build/custom.ignore"))).unwrap();
    // The root .dockerignore is not in force (so `app.py` stays) but is still not shipped.
    assert_eq!(
        context.files().collect::<Vec<_>>(),
        ["app.py", "build/custom.ignore"]
    );
    let missing = Context::scan(root, Some(Path::new("nope.ignore"))).unwrap_err();
    assert!(
        matches!(&missing, ContextError::IgnoreFileMissing { path } if path == &root.join("nope.ignore")),
        "{missing}"
    );
    assert!(missing.to_string().contains("nope.ignore"));
}

#[test]
fn bad_pattern_error_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".dockerignore", "ok\nbroken[\n");
    let error = Context::scan(dir.path(), None).unwrap_err();
    let text = error.to_string();
    assert!(text.contains(".dockerignore:2:"), "{text}");
    assert!(text.contains("broken["), "{text}");
}

#[test]
fn root_must_be_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "file", "x");
    let error = Context::scan(&dir.path().join("file"), None).unwrap_err();
    assert!(
        matches!(error, ContextError::RootNotDirectory { .. }),
        "{error}"
    );
    let error = Context::scan(&dir.path().join("absent"), None).unwrap_err();
    assert!(error.to_string().contains("absent"), "{error}");
}

/// An ignored tree is never listed: neither its thousands of files nor the FIFO in it
/// (which would block anyone who opened it) are touched.
#[test]
fn excluded_directories_are_not_walked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".dockerignore", ".venv\ndata/\n");
    write(root, "app.py", "print()");
    for index in 0..2000 {
        let path = root.join(format!(".venv/lib/file{index}.py"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        File::create(path).unwrap();
    }
    fs::create_dir(root.join("data")).unwrap();
    mkfifo(&root.join("data/pipe"));
    let big = File::create(root.join("data/huge.bin")).unwrap();
    big.set_len(1 << 30).unwrap(); // 1 GiB, sparse
    let context = Context::scan(root, None).unwrap();
    assert_eq!(context.files().collect::<Vec<_>>(), ["app.py"]);
    // Only the root was listed; its four entries were seen; only app.py was stat-ed.
    assert_eq!(
        context.walk_stats(),
        WalkStats {
            dirs_listed: 1,
            entries_seen: 4,
            entries_stated: 1
        }
    );
    let digest = context.digest(&mut HashCache::in_memory()).unwrap();
    assert_eq!(digest.bytes_hashed, "print()".len() as u64);
    let summary = context.write_tar(io::sink()).unwrap();
    assert_eq!(summary.content_bytes, "print()".len() as u64);
}

/// moby keeps walking an excluded directory only when an exception pattern starts with
/// its path; the re-included file gets its parent directory entries in the tar.
#[test]
fn an_exception_reaches_inside_an_excluded_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        ".dockerignore",
        "node_modules\n!node_modules/keep/me.txt\nother\n",
    );
    write(root, "node_modules/keep/me.txt", "kept");
    write(root, "node_modules/keep/not-me.txt", "gone");
    write(root, "node_modules/drop/x.txt", "gone");
    write(root, "other/keep/me.txt", "gone");
    let context = Context::scan(root, None).unwrap();
    assert_eq!(
        context.files().collect::<Vec<_>>(),
        ["node_modules/keep/me.txt"]
    );
    // root, node_modules, node_modules/keep; not node_modules/drop, not other.
    assert_eq!(context.walk_stats().dirs_listed, 3);
    let rows = read_tar(&tar_bytes(&context));
    let listed: Vec<(&str, char)> = rows.iter().map(|row| (row.0.as_str(), row.1)).collect();
    assert_eq!(
        listed,
        [
            ("node_modules/", 'd'),
            ("node_modules/keep/", 'd'),
            ("node_modules/keep/me.txt", 'f')
        ]
    );
}

#[test]
fn symlinks_are_stored_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(outside.path(), "secret/key", "do not ship");
    write(root, "real.txt", "real");
    symlink(outside.path().join("secret"), root.join("linked-dir")).unwrap();
    symlink("real.txt", root.join("alias.txt")).unwrap();
    symlink("missing", root.join("dangling")).unwrap();
    let context = Context::scan(root, None).unwrap();
    assert_eq!(
        paths(&context),
        ["alias.txt", "dangling", "linked-dir", "real.txt"]
    );
    let rows = read_tar(&tar_bytes(&context));
    let links: Vec<(&str, char, u32, Option<&str>)> = rows
        .iter()
        .map(|row| (row.0.as_str(), row.1, row.2, row.8.as_deref()))
        .collect();
    let secret = outside.path().join("secret");
    assert_eq!(
        links,
        [
            ("alias.txt", 'l', 0o777, Some("real.txt")),
            ("dangling", 'l', 0o777, Some("missing")),
            ("linked-dir", 'l', 0o777, Some(secret.to_str().unwrap())),
            ("real.txt", 'f', 0o644, None),
        ]
    );
}

#[test]
fn special_files_are_left_out_without_being_opened() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app.py", "x");
    mkfifo(&root.join("pipe"));
    let context = Context::scan(root, None).unwrap();
    assert_eq!(context.skipped_special(), ["pipe"]);
    assert_eq!(paths(&context), ["app.py"]);
    // Neither hashing nor archiving opens the FIFO (either would block forever).
    context.digest(&mut HashCache::in_memory()).unwrap();
    assert_eq!(read_tar(&tar_bytes(&context)).len(), 1);
}

#[test]
fn tar_headers_are_normalised() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "run.sh", "#!/bin/sh\n");
    write(root, "private.txt", "p");
    write(root, "src/lib.py", "lib");
    chmod(&root.join("run.sh"), 0o700);
    chmod(&root.join("private.txt"), 0o600);
    chmod(&root.join("src"), 0o700);
    std::os::unix::fs::chown(root.join("src/lib.py"), Some(1234), Some(4321)).unwrap();
    let long = format!("{}/{}.py", "d".repeat(80), "f".repeat(60));
    write(root, &long, "long");
    let context = Context::scan(root, None).unwrap();
    let rows = read_tar(&tar_bytes(&context));
    let summary: Vec<(&str, char, u32)> = rows
        .iter()
        .map(|row| (row.0.as_str(), row.1, row.2))
        .collect();
    let long_dir = format!("{}/", "d".repeat(80));
    assert_eq!(
        summary,
        [
            (long_dir.as_str(), 'd', 0o755),
            (long.as_str(), 'f', 0o644),
            ("private.txt", 'f', 0o644),
            ("run.sh", 'f', 0o755),
            ("src/", 'd', 0o755),
            ("src/lib.py", 'f', 0o644),
        ]
    );
    for row in &rows {
        assert_eq!((row.3, row.4, row.5), (0, 0, 0), "{}", row.0);
        assert_eq!((row.6.as_str(), row.7.as_str()), ("", ""), "{}", row.0);
    }
    let lib = rows.iter().find(|row| row.0 == "src/lib.py").unwrap();
    assert_eq!(lib.9, b"lib");
}

/// The system's tar reads the archive as we mean it (GNU long names included).
#[test]
fn gnu_tar_extracts_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let long = format!("{}/{}.py", "d".repeat(90), "f".repeat(90));
    write(root, &long, "long");
    write(root, "bin/tool", "#!/bin/sh\n");
    chmod(&root.join("bin/tool"), 0o750);
    symlink("bin/tool", root.join("tool")).unwrap();
    let context = Context::scan(root, None)
        .unwrap()
        .with_extra("Dockerfile", "FROM scratch\n")
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let archive = scratch.path().join("context.tar");
    let out = tempfile::tempdir().unwrap();
    context.write_tar(File::create(&archive).unwrap()).unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(fs::read_to_string(out.path().join(&long)).unwrap(), "long");
    assert_eq!(
        fs::read_to_string(out.path().join("Dockerfile")).unwrap(),
        "FROM scratch\n"
    );
    let mode = fs::metadata(out.path().join("bin/tool"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        fs::read_link(out.path().join("tool")).unwrap(),
        Path::new("bin/tool")
    );
}

/// Builds the same tree in a given creation order, with given mtimes and owners.
fn build_tree(root: &Path, reverse: bool, mtime: SystemTime, owner: u32) {
    let mut files = vec![
        ("src/app/main.py", "print('hi')\n"),
        ("src/app/__init__.py", ""),
        ("requirements.txt", "numpy==2.1.0\n"),
        ("scripts/run.sh", "#!/bin/sh\nexec python -m app\n"),
        ("README.md", "# app\n"),
    ];
    if reverse {
        files.reverse();
    }
    for (rel, contents) in files {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        std::os::unix::fs::chown(&path, Some(owner), Some(owner)).unwrap();
        set_mtime(&path, mtime);
    }
    chmod(
        &root.join("scripts/run.sh"),
        if reverse { 0o755 } else { 0o700 },
    );
    fs::create_dir_all(root.join("empty/dir")).unwrap();
    symlink("src/app/main.py", root.join("main.py")).unwrap();
}

fn with_generated_files(context: Context, reverse: bool) -> Context {
    let mut extras = vec![
        ("Dockerfile", "FROM python:3.12-slim\nCOPY . .\n"),
        (".dockwright/requirements/10-user.txt", "numpy==2.1.0\n"),
        (".dockwright/requirements/00-local.txt", "pandas==2.2.3\n"),
    ];
    if reverse {
        extras.reverse();
    }
    let mut context = context;
    for (path, contents) in extras {
        context.add_extra(path, contents).unwrap();
    }
    context
}

#[test]
fn identical_inputs_give_identical_bytes_and_digest() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    build_tree(first.path(), false, an_hour_ago(), 0);
    build_tree(
        second.path(),
        true,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000),
        4242,
    );
    let a = with_generated_files(Context::scan(first.path(), None).unwrap(), false);
    let b = with_generated_files(Context::scan(second.path(), None).unwrap(), true);
    let reference = tar_bytes(&a);
    for _ in 0..100 {
        assert_eq!(tar_bytes(&a), reference);
    }
    assert_eq!(tar_bytes(&b), reference);
    let digest_a = a.digest(&mut HashCache::in_memory()).unwrap();
    let digest_b = b.digest(&mut HashCache::in_memory()).unwrap();
    assert_eq!(digest_a.digest, digest_b.digest);
    assert!(digest_a.digest.starts_with("sha256:") && digest_a.digest.len() == 71);
    // The digest covers exactly the archive's members, in the archive's order.
    let tar_paths: Vec<String> = read_tar(&reference)
        .into_iter()
        .map(|row| row.0.trim_end_matches('/').to_string())
        .collect();
    let digest_paths: Vec<&str> = a.members().iter().map(|m| m.path()).collect();
    assert_eq!(tar_paths, digest_paths);
    assert_eq!(digest_a.members, digest_paths.len());
}

#[test]
fn digest_changes_with_every_meaningful_change() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    build_tree(root, false, an_hour_ago(), 0);
    let digest_now = || {
        let context = with_generated_files(Context::scan(root, None).unwrap(), false);
        context.digest(&mut HashCache::in_memory()).unwrap().digest
    };
    let mut seen = vec![digest_now()];
    let mut expect_new = |what: &str| {
        let digest = digest_now();
        assert!(!seen.contains(&digest), "{what} did not change the digest");
        seen.push(digest);
    };
    write(root, "README.md", "# app!\n");
    expect_new("content");
    chmod(&root.join("README.md"), 0o755);
    expect_new("execute bit");
    fs::remove_file(root.join("main.py")).unwrap();
    symlink("src/app/__init__.py", root.join("main.py")).unwrap();
    expect_new("symlink target");
    fs::create_dir(root.join("another-empty")).unwrap();
    expect_new("new empty directory");
    fs::rename(root.join("README.md"), root.join("README.txt")).unwrap();
    expect_new("rename");
    write(root, ".dockerignore", "README.txt\n");
    expect_new("ignoring a file");
    // Changes the archive does not carry leave the digest alone.
    let before = digest_now();
    set_mtime(&root.join("src/app/main.py"), SystemTime::now());
    std::os::unix::fs::chown(root.join("requirements.txt"), Some(7), Some(7)).unwrap();
    chmod(&root.join("requirements.txt"), 0o600);
    assert_eq!(digest_now(), before);
}

#[test]
fn extra_files_override_disk_files_and_create_parents() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "Dockerfile", "FROM user-image\n");
    write(root, "app.py", "x");
    let context = Context::scan(root, None)
        .unwrap()
        .with_extra("Dockerfile", "FROM generated\n")
        .unwrap()
        .with_extra(".dockwright/requirements/00-local.txt", "numpy\n")
        .unwrap();
    let rows = read_tar(&tar_bytes(&context));
    let listed: Vec<(&str, char, u32, &[u8])> = rows
        .iter()
        .map(|row| (row.0.as_str(), row.1, row.2, row.9.as_slice()))
        .collect();
    assert_eq!(
        listed,
        [
            (".dockwright/", 'd', 0o755, &b""[..]),
            (".dockwright/requirements/", 'd', 0o755, b""),
            (
                ".dockwright/requirements/00-local.txt",
                'f',
                0o644,
                b"numpy\n"
            ),
            ("Dockerfile", 'f', 0o644, b"FROM generated\n"),
            ("app.py", 'f', 0o644, b"x"),
        ]
    );
    assert_eq!(context.content_size(), 15 + 6 + 1);
    // Adding the same path again replaces the earlier extra file.
    let mut context = context;
    context
        .add_extra_file(ExtraFile {
            path: "Dockerfile".into(),
            contents: b"FROM again\n".to_vec(),
            executable: true,
        })
        .unwrap();
    assert_eq!(context.extras().len(), 2);
    let dockerfile = read_tar(&tar_bytes(&context))
        .into_iter()
        .find(|row| row.0 == "Dockerfile")
        .unwrap();
    assert_eq!(
        (dockerfile.2, dockerfile.9),
        (0o755, b"FROM again\n".to_vec())
    );
}

#[test]
fn extra_file_paths_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "src/app.py", "x");
    write(root, "notes", "x");
    let mut context = Context::scan(root, None).unwrap();
    for (path, reason) in [
        ("", "empty"),
        ("/etc/passwd", "relative"),
        ("a/../b", "normalised"),
        ("a//b", "normalised"),
        ("dir/", "normalised"),
        ("src", "a directory"),
        ("notes/inner.txt", "`notes` is a file"),
    ] {
        let error = context.add_extra(path, "x").unwrap_err();
        let text = error.to_string();
        assert!(text.contains(reason), "{path:?}: {text}");
        assert!(text.contains(&format!("`{path}`")), "{path:?}: {text}");
    }
    context.add_extra("gen/file.txt", "x").unwrap();
    assert!(context.add_extra("gen", "x").is_err());
    assert!(context.add_extra("gen/file.txt/deeper", "x").is_err());
}

/// A writer that records how large its biggest single write was.
struct CountingWriter {
    total: u64,
    largest_write: usize,
}

impl Write for CountingWriter {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.total += buffer.len() as u64;
        self.largest_write = self.largest_write.max(buffer.len());
        Ok(buffer.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A 256 MiB file goes through the writer in small pieces: the archive is never
/// assembled in memory.
#[test]
fn tar_streams_through_any_writer() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let size: u64 = 256 << 20;
    File::create(root.join("weights.bin"))
        .unwrap()
        .set_len(size)
        .unwrap();
    let context = Context::scan(root, None).unwrap();
    let mut writer = CountingWriter {
        total: 0,
        largest_write: 0,
    };
    let summary = context.write_tar(&mut writer).unwrap();
    assert_eq!(summary.content_bytes, size);
    // header + content (a multiple of 512) + the two-block trailer, rounded up by tar's
    // record padding.
    assert!(writer.total >= 512 + size + 1024, "{}", writer.total);
    assert!(
        writer.largest_write <= 64 * 1024,
        "{}",
        writer.largest_write
    );
}

#[test]
fn hash_cache_skips_unchanged_files_and_rereads_changed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache_file = cache_dir.path().join("nested/hashes");
    let root = dir.path();
    let big = root.join("model.bin");
    let size = 8 << 20;
    fs::write(&big, vec![b'a'; size]).unwrap();
    let old = an_hour_ago();
    set_mtime(&big, old);
    write(root, "app.py", "print()");

    let mut cache = HashCache::open(&cache_file);
    let context = Context::scan(root, None).unwrap();
    let cold = context.digest(&mut cache).unwrap();
    assert_eq!((cold.files_hashed, cold.cache_hits), (2, 0));
    assert_eq!(cold.bytes_hashed, size as u64 + 7);
    assert_eq!(cache.save().unwrap(), 1);

    // A new process: the cache is read back from disk and nothing is read again.
    let mut cache = HashCache::open(&cache_file);
    let warm = Context::scan(root, None)
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    assert_eq!(cache.len(), 2);
    assert_eq!(
        (warm.files_hashed, warm.bytes_hashed, warm.cache_hits),
        (0, 0, 2)
    );
    assert_eq!(warm.digest, cold.digest);

    // Rewrite the content in place, same size, same inode, mtime put back: the cache
    // cannot tell, so the cached hash is used (proof the file was not read).
    let mut file = fs::OpenOptions::new().write(true).open(&big).unwrap();
    file.write_all(&vec![b'b'; size]).unwrap();
    drop(file);
    set_mtime(&big, old);
    let stale = Context::scan(root, None)
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    assert_eq!(stale.digest, cold.digest);
    assert_eq!(stale.bytes_hashed, 0);

    // Touching the mtime makes it read the file again, and the digest follows content.
    set_mtime(&big, old + Duration::from_secs(1));
    let fresh = Context::scan(root, None)
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    assert_eq!((fresh.files_hashed, fresh.bytes_hashed), (1, size as u64));
    assert_ne!(fresh.digest, cold.digest);
    let uncached = Context::scan(root, None)
        .unwrap()
        .digest(&mut HashCache::in_memory())
        .unwrap();
    assert_eq!(fresh.digest, uncached.digest);
}

#[test]
fn recently_modified_files_are_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("hot.py"), "x = 1").unwrap();
    let mut cache = HashCache::in_memory();
    let context = Context::scan(dir.path(), None).unwrap();
    context.digest(&mut cache).unwrap();
    assert!(cache.is_empty());
    let again = context.digest(&mut cache).unwrap();
    assert_eq!((again.files_hashed, again.cache_hits), (1, 0));
}

#[test]
fn saving_drops_entries_of_deleted_files_and_tolerates_a_corrupt_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let root = dir.path().join("ctx");
    write(&root, "a.py", "a");
    write(&root, "b.py", "b");
    let digest = |cache: &mut HashCache| Context::scan(&root, None).unwrap().digest(cache).unwrap();
    let mut cache = HashCache::open(&cache_dir);
    digest(&mut cache);
    cache.save().unwrap();
    fs::remove_file(root.join("b.py")).unwrap();
    let mut cache = HashCache::open(&cache_dir);
    assert_eq!(digest(&mut cache).cache_hits, 1);
    assert_eq!(cache.save().unwrap(), 1, "the entry of b.py was dropped");
    let mut cache = HashCache::open(&cache_dir);
    digest(&mut cache);
    assert_eq!(cache.len(), 1);

    let [file] = cache_files(&cache_dir).try_into().unwrap();
    fs::write(&file, "{ not postcard").unwrap();
    let mut cache = HashCache::open(&cache_dir);
    let cold = digest(&mut cache);
    assert_eq!((cold.files_hashed, cold.cache_hits), (1, 0));
    assert_eq!(cache.save().unwrap(), 1);
}

fn cache_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn an_unchanged_context_leaves_the_cache_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let root = dir.path().join("ctx");
    for i in 0..50 {
        write(&root, &format!("pkg/m{i}.py"), &format!("x = {i}"));
    }
    let mut cache = HashCache::open(&cache_dir);
    Context::scan(&root, None)
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    assert_eq!(cache.save().unwrap(), 1);
    let [file] = cache_files(&cache_dir).try_into().unwrap();
    let written = fs::metadata(&file).unwrap();

    let mut cache = HashCache::open(&cache_dir);
    let warm = Context::scan(&root, None)
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    assert_eq!((warm.files_hashed, warm.cache_hits), (0, 50));
    assert_eq!(cache.save().unwrap(), 0);
    let after = fs::metadata(&file).unwrap();
    assert_eq!(
        (after.ino(), after.mtime(), after.mtime_nsec()),
        (written.ino(), written.mtime(), written.mtime_nsec()),
        "an unchanged cache is not rewritten"
    );

    // One new file: the root's file is rewritten (renamed over: a new inode), with 51 hashes.
    write(&root, "pkg/new.py", "new");
    let mut cache = HashCache::open(&cache_dir);
    let one_more = Context::scan(&root, None)
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    assert_eq!((one_more.files_hashed, one_more.cache_hits), (1, 50));
    assert_eq!(cache.save().unwrap(), 1);
    assert_ne!(fs::metadata(&file).unwrap().ino(), written.ino());
    let mut cache = HashCache::open(&cache_dir);
    Context::scan(&root, None)
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    assert_eq!(cache.len(), 51);
}

#[test]
fn each_context_root_has_its_own_cache_file_and_a_plan_reads_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let big = dir.path().join("big");
    let small = dir.path().join("small");
    for i in 0..200 {
        write(&big, &format!("m{i}.py"), "x");
    }
    write(&small, "app.py", "print()");
    let mut cache = HashCache::open(&cache_dir);
    Context::scan(&big, None)
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    cache.save().unwrap();

    let mut cache = HashCache::open(&cache_dir);
    let digest = Context::scan(&small, None)
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    assert_eq!(digest.files_hashed, 1);
    assert_eq!(cache.len(), 1, "the big project's hashes were not loaded");
    assert_eq!(cache.save().unwrap(), 1);
    assert_eq!(cache_files(&cache_dir).len(), 2);

    // A context of generated files only has no root and touches no cache file.
    let mut cache = HashCache::open(&cache_dir);
    Context::empty()
        .with_extra("Dockerfile", "FROM scratch")
        .unwrap()
        .digest(&mut cache)
        .unwrap();
    assert_eq!(cache.save().unwrap(), 0);
}

#[test]
fn a_file_changed_after_the_scan_is_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app.py", "one");
    let context = Context::scan(root, None).unwrap();
    fs::write(root.join("app.py"), "three").unwrap();
    let error = context.digest(&mut HashCache::in_memory()).unwrap_err();
    assert!(
        matches!(&error, ContextError::ChangedDuringRead { path } if path.ends_with("app.py")),
        "{error}"
    );
    let error = context.write_tar(io::sink()).unwrap_err();
    assert!(error.to_string().contains("app.py"), "{error}");
}

#[test]
fn a_failing_writer_is_reported_as_a_write_error() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "engine went away",
            ))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.py", "x");
    let error = Context::scan(dir.path(), None)
        .unwrap()
        .write_tar(Broken)
        .unwrap_err();
    assert!(matches!(error, ContextError::Write { .. }), "{error}");
    assert!(error.to_string().contains("engine went away"));
}

#[test]
fn an_empty_context_holds_only_extra_files() {
    let context = Context::empty()
        .with_extra("Dockerfile", "FROM x\n")
        .unwrap();
    let rows = read_tar(&tar_bytes(&context));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "Dockerfile");
    let digest = context.digest(&mut HashCache::in_memory()).unwrap();
    assert_eq!(digest.members, 1);
}

/// Cache keys are absolute paths even when the root is given relative (tests run in the
/// package directory).
#[test]
fn a_relative_root_is_made_absolute() {
    let context = Context::scan(Path::new("src/context"), None).unwrap();
    assert!(context.root().is_absolute());
    assert!(context.files().any(|path| path == "mod.rs"));
    for entry in context.entries() {
        if let EntryKind::File(file) = &entry.kind {
            let source = context.root().join(&entry.path);
            assert_eq!(fs::metadata(&source).unwrap().len(), file.identity.size);
        }
    }
}

/// Only the named paths (and what lies below them) are scanned, after the same rules as a
/// full scan, without listing the rest of the root.
#[test]
fn scan_only_lists_the_named_paths_after_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "libs/mylib/pyproject.toml", "[project]\n");
    write(root, "libs/mylib/src/mylib/__init__.py", "");
    write(root, "libs/mylib/build/junk.txt", "");
    write(root, "libs/other/setup.py", "");
    write(root, "dist/pkg-1.0.whl", "wheel");
    write(root, "big/a.txt", "");
    write(root, "big/b.txt", "");
    write(
        root,
        ".dockerignore",
        "**/build\nhidden\n!hidden/kept.txt\n",
    );
    write(root, "hidden/kept.txt", "");
    write(root, "hidden/gone.txt", "");
    let targets = |list: &[&str]| list.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    let context =
        Context::scan_only(root, None, &targets(&["libs/mylib", "dist/pkg-1.0.whl"])).unwrap();
    assert_eq!(
        paths(&context),
        [
            "dist",
            "dist/pkg-1.0.whl",
            "libs",
            "libs/mylib",
            "libs/mylib/pyproject.toml",
            "libs/mylib/src",
            "libs/mylib/src/mylib",
            "libs/mylib/src/mylib/__init__.py",
        ]
    );
    assert!(context.contains("libs/mylib") && context.contains("dist/pkg-1.0.whl"));
    assert!(!context.contains("libs/other") && !context.contains("big"));
    // Nothing else was looked at: only the three files sent were stat-ed.
    assert_eq!(
        context.walk_stats().entries_stated,
        3,
        "{:?}",
        context.walk_stats()
    );

    // An excluded folder re-entered through an exception; an excluded target; nesting.
    let context = Context::scan_only(
        root,
        None,
        &targets(&["hidden", "libs/mylib/build", "libs", "libs/mylib"]),
    )
    .unwrap();
    let files: Vec<&str> = context.files().collect();
    assert_eq!(
        files,
        [
            "hidden/kept.txt",
            "libs/mylib/pyproject.toml",
            "libs/mylib/src/mylib/__init__.py",
            "libs/other/setup.py",
        ]
    );
    assert!(!context.contains("libs/mylib/build"));
    // `.` is the whole root, as a full scan.
    let all = Context::scan_only(root, None, &targets(&["."])).unwrap();
    assert_eq!(paths(&all), paths(&Context::scan(root, None).unwrap()));
}

/// The walk shares subdirectories between threads; what it finds must not depend on that:
/// a wide tree and a deep chain give the entries a walk in order gives.
#[test]
fn a_wide_and_deep_tree_is_walked_completely() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut expected = Vec::new();
    for d in 0..30 {
        for f in 0..10 {
            let rel = format!("wide/d{d:02}/sub{}/f{f}.py", f % 3);
            write(root, &rel, "x");
            expected.push(rel);
        }
    }
    // Deeper than the parallel part of the walk, and deep enough to need a real stack.
    let chain: String = (0..300).map(|i| format!("c{i}/")).collect();
    write(root, &format!("{chain}leaf.txt"), "x");
    expected.push(format!("{chain}leaf.txt"));
    write(root, ".dockerignore", "wide/d0*/sub1\n");
    expected.retain(|p| !p.starts_with("wide/d0") || !p.contains("/sub1/"));
    expected.sort();

    let context = Context::scan(root, None).unwrap();
    let files: Vec<&str> = context.files().collect();
    assert_eq!(files, expected);
    assert_eq!(context.walk_stats().entries_stated, expected.len());
    // Every directory listed once: 1 root + wide + 30 + 3 per d (but d0x's sub1 skipped) + chain.
    assert_eq!(
        context.walk_stats().dirs_listed,
        1 + 1 + 30 + 30 * 3 - 10 + 300
    );
}

/// Two bad names in different subtrees: the one a walk in order meets first is reported,
/// every time, whichever thread reaches its own first.
#[test]
fn the_first_bad_name_in_walk_order_is_the_one_reported() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for d in 0..20 {
        for f in 0..20 {
            write(root, &format!("d{d:02}/f{f}"), "x");
        }
    }
    for d in ["d03", "d17"] {
        fs::write(root.join(d).join(OsStr::from_bytes(b"bad-\xff")), "x").unwrap();
    }
    for _ in 0..20 {
        let error = Context::scan(root, None).unwrap_err();
        assert!(
            matches!(&error, ContextError::NonUtf8Name { path } if path.parent() == Some(&root.join("d03"))),
            "{error}"
        );
    }
}
