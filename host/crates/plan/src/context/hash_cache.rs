//! The context's content digest, and the per-file hash cache that lets an unchanged
//! context be digested without reading its files again.
//!
//! The digest is a SHA-256 over a canonical form of every archive member, in archive
//! order: `dockwright-context/v1\0`, then per member `kind\0path\0mode\0payload\0`, where
//! kind is `d`, `f` or `l`, mode is octal, and the payload is the content's SHA-256 (hex)
//! for a file and the target for a symlink (empty for a directory). No field can hold a
//! NUL, so the form is unambiguous; mtimes and owners are not in it, as they are not in
//! the archive.
//!
//! The cache is kept per context root, so that a plan reads and writes only the entries of
//! its own contexts: one file per root in the cache directory, named by a digest of the
//! root's absolute path, holding the root and, sorted by the path inside the root,
//! `(path, size, mtime_ns, inode, sha256)` in postcard (a compact binary form that loads in
//! milliseconds where JSON took a second at 100,000 files). A file whose identity still
//! matches is not read. A root's file is loaded the first time one of its contexts is
//! digested, and written back only when an entry was added or dropped: buffered, to a
//! temporary file renamed over it. A file modified within the last two seconds is hashed
//! but not cached: another write in the same timestamp tick would otherwise go unnoticed
//! (git's "racy clean" problem).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ContextError, DiskFile, FileIdentity, Member};

const CANONICAL_HEADER: &[u8] = b"dockwright-context/v1\0";
/// Bumped whenever the cache file's layout changes; a file of another format is ignored.
const CACHE_FORMAT: u32 = 3;
const RACY_WINDOW_NS: i64 = 2_000_000_000;
const READ_BUFFER: usize = 256 * 1024;

/// The digest of a context, with what computing it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextDigest {
    /// `sha256:<hex>` of the canonical form.
    pub digest: String,
    /// Archive members covered (each fed to the hash as it is formed, never held: a
    /// 100,000-file context would otherwise keep 15 MB of lines).
    pub members: usize,
    /// Disk files read and hashed (cache misses).
    pub files_hashed: usize,
    /// Bytes read from disk files to hash them.
    pub bytes_hashed: u64,
    /// Disk files whose hash came from the cache.
    pub cache_hits: usize,
}

/// One cached file hash: its path inside the root, the identity it was hashed at, the hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedHash {
    path: String,
    identity: FileIdentity,
    #[serde(with = "hash_bytes")]
    sha256: [u8; 32],
    /// Looked up or stored by this process (not kept on disk).
    #[serde(skip)]
    used: bool,
}

/// A hash as one byte string (a length and 32 bytes, copied at once) rather than serde's
/// tuple of 32 elements, each visited on its own: at 100,000 files, 5 % less CPU for a warm
/// plan (55 against 58 ms user time), its wall time unchanged (the walk dominates).
mod hash_bytes {
    use serde::de::{Deserializer, Error, Visitor};
    use serde::ser::Serializer;

    pub fn serialize<S: Serializer>(hash: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(hash)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        struct Hash;
        impl Visitor<'_> for Hash {
            type Value = [u8; 32];
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("32 bytes")
            }
            fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<[u8; 32], E> {
                bytes
                    .try_into()
                    .map_err(|_| E::invalid_length(bytes.len(), &self))
            }
        }
        deserializer.deserialize_bytes(Hash)
    }
}

/// The on-disk form of one root's cache.
#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    root: String,
    /// Sorted by `path`.
    entries: Vec<CachedHash>,
}

/// The hashes of one context root, sorted by path.
#[derive(Debug, Default)]
struct RootCache {
    entries: Vec<CachedHash>,
    /// Where the last lookup found its path: files are asked for in walk order, which is
    /// mostly the entries' order, so the next one is usually the next entry.
    next: usize,
    /// Hashes computed by this process, merged into `entries` when saving.
    fresh: Vec<CachedHash>,
    /// Whether the file on disk no longer matches `entries` + `fresh`.
    changed: bool,
}

impl RootCache {
    fn position(&self, path: &str) -> Result<usize, usize> {
        if self.entries.get(self.next).is_some_and(|e| e.path == path) {
            return Ok(self.next);
        }
        self.entries
            .binary_search_by(|entry| entry.path.as_str().cmp(path))
    }
}

/// Per-file content hashes keyed by `(root, path, size, mtime_ns, inode)`, one file per
/// context root on disk (see the module doc).
#[derive(Debug, Default)]
pub struct HashCache {
    /// Where the roots' files are kept; `None` keeps everything in memory.
    dir: Option<PathBuf>,
    roots: HashMap<PathBuf, RootCache>,
}

impl HashCache {
    /// A cache that lives only as long as this value.
    pub fn in_memory() -> HashCache {
        HashCache::default()
    }

    /// The cache kept in the directory `dir`. Nothing is read until a context is digested,
    /// and then only its root's file. A missing or unreadable file gives an empty cache for
    /// that root (it is only a cache: it will be rewritten by [`Self::save`]).
    pub fn open(dir: &Path) -> HashCache {
        HashCache {
            dir: Some(dir.to_path_buf()),
            roots: HashMap::new(),
        }
    }

    /// Number of hashes held in memory (of the roots digested so far).
    pub fn len(&self) -> usize {
        self.roots
            .values()
            .map(|root| root.entries.len() + root.fresh.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes back the file of every root whose entries changed, and returns how many files
    /// were written. Entries not used since loading are kept only while their file still has
    /// the cached identity, so the cache does not grow with deleted files. An in-memory
    /// cache has nothing to write.
    pub fn save(&mut self) -> Result<usize, ContextError> {
        let Some(dir) = self.dir.clone() else {
            return Ok(0);
        };
        let mut written = 0;
        for (root, cache) in &mut self.roots {
            prune(root, cache);
            if !cache.changed {
                continue;
            }
            merge_fresh(cache);
            let file = cache_file(&dir, root);
            let body = CacheFile {
                format: CACHE_FORMAT,
                root: root.to_string_lossy().into_owned(),
                entries: std::mem::take(&mut cache.entries),
            };
            let outcome = write_atomically(&file, &body);
            cache.entries = body.entries;
            outcome.map_err(|source| ContextError::CacheWrite { path: file, source })?;
            cache.changed = false;
            written += 1;
        }
        Ok(written)
    }

    /// The cache of `root`, loaded from its file on first use.
    fn root(&mut self, root: &Path) -> &mut RootCache {
        let dir = self.dir.as_deref();
        self.roots
            .entry(root.to_path_buf())
            .or_insert_with(|| dir.map(|dir| load_root(dir, root)).unwrap_or_default())
    }
}

impl RootCache {
    fn lookup(&mut self, path: &str, identity: FileIdentity) -> Option<[u8; 32]> {
        let index = self.position(path).ok()?;
        self.next = index + 1;
        let cached = &mut self.entries[index];
        if cached.identity != identity {
            return None;
        }
        cached.used = true;
        Some(cached.sha256)
    }

    fn store(&mut self, path: &str, identity: FileIdentity, sha256: [u8; 32], now_ns: i64) {
        if now_ns - identity.mtime_ns < RACY_WINDOW_NS {
            return;
        }
        self.changed = true;
        self.fresh.push(CachedHash {
            path: path.to_string(),
            identity,
            sha256,
            used: true,
        });
    }
}

/// Drops the entries this process did not use whose file is gone or changed (one `lstat`
/// each; none at all when every entry was used).
fn prune(root: &Path, cache: &mut RootCache) {
    let before = cache.entries.len();
    cache.entries.retain(|cached| {
        cached.used
            || fs::symlink_metadata(root.join(&cached.path))
                .is_ok_and(|metadata| FileIdentity::of(&metadata) == cached.identity)
    });
    cache.changed |= cache.entries.len() != before;
}

/// Puts the fresh hashes into the sorted entries, a fresh one replacing a stale one.
fn merge_fresh(cache: &mut RootCache) {
    if cache.fresh.is_empty() {
        return;
    }
    let mut fresh = std::mem::take(&mut cache.fresh);
    fresh.sort_by(|a, b| a.path.cmp(&b.path));
    fresh.dedup_by(|later, earlier| later.path == earlier.path);
    let old = std::mem::take(&mut cache.entries);
    let mut merged = Vec::with_capacity(old.len() + fresh.len());
    let mut old = old.into_iter().peekable();
    for entry in fresh {
        while let Some(kept) = old.next_if(|kept| kept.path < entry.path) {
            merged.push(kept);
        }
        old.next_if(|kept| kept.path == entry.path);
        merged.push(entry);
    }
    merged.extend(old);
    cache.entries = merged;
}

/// `<dir>/<first 32 hex digits of sha256(root)>.bin`; the root itself is stored inside and
/// checked on load.
fn cache_file(dir: &Path, root: &Path) -> PathBuf {
    let digest = Sha256::digest(root.as_os_str().as_encoded_bytes());
    dir.join(format!("{}.bin", &hex::encode(digest)[..32]))
}

fn load_root(dir: &Path, root: &Path) -> RootCache {
    let entries = fs::read(cache_file(dir, root))
        .ok()
        .and_then(|bytes| postcard::from_bytes::<CacheFile>(&bytes).ok())
        .filter(|file| file.format == CACHE_FORMAT && Path::new(&file.root) == root)
        .map(|file| file.entries)
        .filter(|entries| entries.is_sorted_by(|a, b| a.path < b.path))
        .unwrap_or_default();
    RootCache {
        entries,
        ..RootCache::default()
    }
}

fn write_atomically(file: &Path, body: &CacheFile) -> io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let temporary = tempfile::NamedTempFile::new_in(dir)?;
    let mut writer = BufWriter::with_capacity(256 * 1024, temporary);
    postcard::to_io(body, &mut writer).map_err(io::Error::other)?;
    writer.flush()?;
    let temporary = writer.into_inner().map_err(|error| error.into_error())?;
    temporary.persist(file).map_err(|error| error.error)?;
    Ok(())
}

/// A disk file whose hash the cache did not have.
struct Miss<'a> {
    index: usize,
    path: &'a str,
    file: &'a DiskFile,
}

/// The digest of `members`, the disk files among them lying under `root`.
pub(super) fn digest(
    root: &Path,
    members: &[Member<'_>],
    cache: &mut HashCache,
) -> Result<ContextDigest, ContextError> {
    let mut file_hashes: Vec<Option<[u8; 32]>> = vec![None; members.len()];
    let mut misses = Vec::new();
    let has_files = members.iter().any(|m| matches!(m, Member::File { .. }));
    // A context of generated files only has no root cache to load.
    let mut root_cache = has_files.then(|| cache.root(root));
    for (index, member) in members.iter().enumerate() {
        if let (Member::File { path, file }, Some(root_cache)) = (member, root_cache.as_mut()) {
            match root_cache.lookup(path, file.identity) {
                Some(hash) => file_hashes[index] = Some(hash),
                None => misses.push(Miss { index, path, file }),
            }
        }
    }
    let cache_hits = file_hashes.iter().flatten().count();
    let hashed = hash_in_parallel(root, &misses)?;
    let now_ns = now_ns();
    let files_hashed = misses.len();
    let mut bytes_hashed = 0;
    for (miss, (hash, bytes)) in misses.into_iter().zip(hashed) {
        bytes_hashed += bytes;
        if let Some(root_cache) = root_cache.as_mut() {
            root_cache.store(miss.path, miss.file.identity, hash, now_ns);
        }
        file_hashes[miss.index] = Some(hash);
    }
    let mut hasher = Sha256::new();
    hasher.update(CANONICAL_HEADER);
    for (member, file_hash) in members.iter().zip(file_hashes) {
        feed_member(&mut hasher, member, file_hash);
    }
    Ok(ContextDigest {
        digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        members: members.len(),
        files_hashed,
        bytes_hashed,
        cache_hits,
    })
}

/// Feeds one member's line of the canonical form (see the module doc) to `hasher`.
/// Once per file of the context: no allocation (the hex and octal are written on the stack).
fn feed_member(hasher: &mut Sha256, member: &Member<'_>, file_hash: Option<[u8; 32]>) {
    let mut hex = [0u8; 64];
    let (kind, payload): (&[u8], &[u8]) = match member {
        Member::Directory(_) => (b"d", b""),
        Member::File { .. } => match file_hash {
            Some(digest) => (b"f", hex_into(digest, &mut hex)),
            None => (b"f", b""),
        },
        Member::Extra(extra) => (
            b"f",
            hex_into(Sha256::digest(&extra.contents).into(), &mut hex),
        ),
        Member::Symlink { target, .. } => (b"l", target.as_bytes()),
    };
    hasher.update(kind);
    hasher.update(b"\0");
    hasher.update(member.path().as_bytes());
    hasher.update(b"\0");
    hasher.update(octal(member.mode(), &mut [0u8; 11]));
    hasher.update(b"\0");
    hasher.update(payload);
    hasher.update(b"\0");
}

fn hex_into(digest: [u8; 32], buf: &mut [u8; 64]) -> &[u8] {
    hex::encode_to_slice(digest, buf).expect("64 bytes hold 32 in hex");
    buf
}

/// `mode` in octal, as `format!("{:o}")` writes it, in `buf`.
fn octal(mut mode: u32, buf: &mut [u8; 11]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (mode & 7) as u8;
        mode >>= 3;
        if mode == 0 {
            return &buf[start..];
        }
    }
}

/// Hashes the misses on up to four threads (the machine's cores, at most); results come
/// back in the order of `misses`.
fn hash_in_parallel(
    root: &Path,
    misses: &[Miss<'_>],
) -> Result<Vec<([u8; 32], u64)>, ContextError> {
    let hash = |miss: &Miss<'_>| hash_file(&root.join(miss.path), miss.file);
    // The cores are counted only when there is work to share: the answer costs a dozen
    // system calls (the process's cgroup and its CPU quota), on every plan otherwise.
    let threads = match misses.len() {
        0 | 1 => 1,
        _ => std::thread::available_parallelism().map_or(1, |count| count.get().clamp(1, 4)),
    };
    if threads == 1 {
        return misses.iter().map(hash).collect();
    }
    let chunk = misses.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = misses
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(hash).collect::<Result<Vec<_>, _>>()))
            .collect();
        let mut results = Vec::with_capacity(misses.len());
        for worker in workers {
            results.extend(worker.join().expect("hashing thread panicked")?);
        }
        Ok(results)
    })
}

/// Reads a file and returns its SHA-256 and the bytes read, checking that it is still the
/// file that was scanned.
pub(super) fn hash_file(source: &Path, file: &DiskFile) -> Result<([u8; 32], u64), ContextError> {
    let io_error = |error| ContextError::Io {
        path: source.to_path_buf(),
        source: error,
    };
    let mut opened = File::open(source).map_err(io_error)?;
    check_unchanged(&opened, source, file)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; READ_BUFFER.min(file.identity.size as usize + 1)];
    let mut total = 0u64;
    loop {
        let read = match opened.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(io_error(error)),
        };
        hasher.update(&buffer[..read]);
        total += read as u64;
    }
    if total != file.identity.size {
        return Err(ContextError::ChangedDuringRead {
            path: source.to_path_buf(),
        });
    }
    check_unchanged(&opened, source, file)?;
    Ok((hasher.finalize().into(), total))
}

/// Whether the open file still has the identity it had when the context was scanned.
pub(super) fn check_unchanged(
    opened: &File,
    source: &Path,
    file: &DiskFile,
) -> Result<(), ContextError> {
    let metadata = opened.metadata().map_err(|error| ContextError::Io {
        path: source.to_path_buf(),
        source: error,
    })?;
    if FileIdentity::of(&metadata) != file.identity {
        return Err(ContextError::ChangedDuringRead {
            path: source.to_path_buf(),
        });
    }
    Ok(())
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn octal_is_what_format_writes() {
        for mode in [0, 1, 7, 8, 0o644, 0o755, 0o777, 0o100644, u32::MAX] {
            assert_eq!(
                super::octal(mode, &mut [0u8; 11]),
                format!("{mode:o}").as_bytes(),
                "{mode}"
            );
        }
    }
}
