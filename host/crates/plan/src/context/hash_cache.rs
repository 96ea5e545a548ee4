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
//! The cache maps a file's absolute path to `(size, mtime_ns, inode, sha256)`; a file
//! whose identity still matches is not read. A file modified within the last two seconds
//! is hashed but not cached: another write in the same timestamp tick would otherwise go
//! unnoticed (git's "racy clean" problem).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ContextError, DiskFile, FileIdentity, Member};

const CANONICAL_HEADER: &[u8] = b"dockwright-context/v1\0";
const CACHE_FORMAT: u32 = 1;
const RACY_WINDOW_NS: i64 = 2_000_000_000;
const READ_BUFFER: usize = 256 * 1024;

/// The digest of a context, with what computing it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextDigest {
    /// `sha256:<hex>` of the canonical form.
    pub digest: String,
    /// Each member's contribution, in archive order (for explaining a changed key).
    pub members: Vec<DigestedMember>,
    /// Disk files read and hashed (cache misses).
    pub files_hashed: usize,
    /// Bytes read from disk files to hash them.
    pub bytes_hashed: u64,
    /// Disk files whose hash came from the cache.
    pub cache_hits: usize,
}

/// One line of the canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestedMember {
    /// `d`, `f` or `l`.
    pub kind: char,
    pub path: String,
    pub mode: u32,
    /// Content SHA-256 (hex) for a file, target for a symlink, empty for a directory.
    pub payload: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedHash {
    #[serde(flatten)]
    identity: FileIdentity,
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    entries: HashMap<String, CachedHash>,
}

/// Per-file content hashes keyed by `(path, size, mtime_ns, inode)`, kept on disk.
#[derive(Debug, Default)]
pub struct HashCache {
    file: Option<PathBuf>,
    entries: HashMap<String, CachedHash>,
    used: HashSet<String>,
}

impl HashCache {
    /// A cache that lives only as long as this value.
    pub fn in_memory() -> HashCache {
        HashCache::default()
    }

    /// Loads the cache kept in `file`. A missing file gives an empty cache; so does an
    /// unreadable format (it is only a cache: it will be rewritten by [`Self::save`]).
    pub fn load(file: &Path) -> Result<HashCache, ContextError> {
        let entries = match fs::read(file) {
            Ok(bytes) => serde_json::from_slice::<CacheFile>(&bytes)
                .ok()
                .filter(|cache| cache.format == CACHE_FORMAT)
                .map(|cache| cache.entries)
                .unwrap_or_default(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => HashMap::new(),
            Err(source) => {
                return Err(ContextError::Io {
                    path: file.to_path_buf(),
                    source,
                });
            }
        };
        Ok(HashCache {
            file: Some(file.to_path_buf()),
            entries,
            used: HashSet::new(),
        })
    }

    /// Number of cached hashes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the cache back to the file it was loaded from (atomically: a temporary file
    /// renamed over it). Entries not used since loading are kept only while their file
    /// still has the cached identity, so the cache does not grow with deleted files.
    /// An in-memory cache has nothing to write.
    pub fn save(&mut self) -> Result<(), ContextError> {
        let Some(file) = self.file.clone() else {
            return Ok(());
        };
        let used = &self.used;
        self.entries.retain(|path, cached| {
            used.contains(path)
                || fs::symlink_metadata(path)
                    .is_ok_and(|metadata| FileIdentity::of(&metadata) == cached.identity)
        });
        let body = CacheFile {
            format: CACHE_FORMAT,
            entries: std::mem::take(&mut self.entries),
        };
        let written = write_atomically(&file, &body);
        self.entries = body.entries;
        written.map_err(|source| ContextError::CacheWrite { path: file, source })
    }

    fn lookup(&mut self, key: &str, identity: FileIdentity) -> Option<String> {
        let cached = self.entries.get(key)?;
        if cached.identity != identity {
            return None;
        }
        self.used.insert(key.to_string());
        Some(cached.sha256.clone())
    }

    fn store(&mut self, key: String, identity: FileIdentity, sha256: String, now_ns: i64) {
        if now_ns - identity.mtime_ns < RACY_WINDOW_NS {
            return;
        }
        self.used.insert(key.clone());
        self.entries.insert(key, CachedHash { identity, sha256 });
    }
}

fn write_atomically(file: &Path, body: &CacheFile) -> io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(&mut temporary, body)?;
    temporary.persist(file).map_err(|error| error.error)?;
    Ok(())
}

/// A disk file whose hash the cache did not have.
struct Miss<'a> {
    index: usize,
    key: Option<String>,
    file: &'a DiskFile,
}

pub(super) fn digest(
    members: &[Member<'_>],
    cache: &mut HashCache,
) -> Result<ContextDigest, ContextError> {
    let mut file_hashes: Vec<Option<String>> = vec![None; members.len()];
    let mut misses = Vec::new();
    let mut cache_hits = 0;
    for (index, member) in members.iter().enumerate() {
        if let Member::File { file, .. } = member {
            let key = file.source.to_str().map(str::to_string);
            match key
                .as_deref()
                .and_then(|key| cache.lookup(key, file.identity))
            {
                Some(hash) => {
                    file_hashes[index] = Some(hash);
                    cache_hits += 1;
                }
                None => misses.push(Miss { index, key, file }),
            }
        }
    }
    let hashed = hash_in_parallel(&misses)?;
    let now_ns = now_ns();
    let files_hashed = misses.len();
    let mut bytes_hashed = 0;
    for (miss, (hash, bytes)) in misses.into_iter().zip(hashed) {
        bytes_hashed += bytes;
        if let Some(key) = miss.key {
            cache.store(key, miss.file.identity, hash.clone(), now_ns);
        }
        file_hashes[miss.index] = Some(hash);
    }
    let canonical: Vec<DigestedMember> = members
        .iter()
        .zip(file_hashes)
        .map(|(member, file_hash)| canonical_member(member, file_hash))
        .collect();
    Ok(ContextDigest {
        digest: format!("sha256:{}", hex::encode(canonical_sha256(&canonical))),
        members: canonical,
        files_hashed,
        bytes_hashed,
        cache_hits,
    })
}

fn canonical_member(member: &Member<'_>, file_hash: Option<String>) -> DigestedMember {
    let (kind, payload) = match member {
        Member::Directory(_) => ('d', String::new()),
        Member::File { .. } => ('f', file_hash.unwrap_or_default()),
        Member::Extra(extra) => ('f', hex::encode(Sha256::digest(&extra.contents))),
        Member::Symlink { target, .. } => ('l', target.to_string()),
    };
    DigestedMember {
        kind,
        path: member.path().to_string(),
        mode: member.mode(),
        payload,
    }
}

fn canonical_sha256(members: &[DigestedMember]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(CANONICAL_HEADER);
    for member in members {
        let mut kind = [0u8; 4];
        hasher.update(member.kind.encode_utf8(&mut kind).as_bytes());
        hasher.update(b"\0");
        hasher.update(member.path.as_bytes());
        hasher.update(b"\0");
        hasher.update(format!("{:o}", member.mode).as_bytes());
        hasher.update(b"\0");
        hasher.update(member.payload.as_bytes());
        hasher.update(b"\0");
    }
    hasher.finalize().into()
}

/// Hashes the misses on up to four threads (the machine's cores, at most); results come
/// back in the order of `misses`.
fn hash_in_parallel(misses: &[Miss<'_>]) -> Result<Vec<(String, u64)>, ContextError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |count| count.get())
        .clamp(1, 4);
    if threads == 1 || misses.len() < 2 {
        return misses.iter().map(|miss| hash_file(miss.file)).collect();
    }
    let chunk = misses.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = misses
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|miss| hash_file(miss.file))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut results = Vec::with_capacity(misses.len());
        for worker in workers {
            results.extend(worker.join().expect("hashing thread panicked")?);
        }
        Ok(results)
    })
}

/// Reads a file and returns its SHA-256 (hex) and the bytes read, checking that it is
/// still the file that was scanned.
pub(super) fn hash_file(file: &DiskFile) -> Result<(String, u64), ContextError> {
    let io_error = |source| ContextError::Io {
        path: file.source.clone(),
        source,
    };
    let mut opened = File::open(&file.source).map_err(io_error)?;
    check_unchanged(&opened, file)?;
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
            path: file.source.clone(),
        });
    }
    check_unchanged(&opened, file)?;
    Ok((hex::encode(hasher.finalize()), total))
}

/// Whether the open file still has the identity it had when the context was scanned.
pub(super) fn check_unchanged(opened: &File, file: &DiskFile) -> Result<(), ContextError> {
    let metadata = opened.metadata().map_err(|source| ContextError::Io {
        path: file.source.clone(),
        source,
    })?;
    if FileIdentity::of(&metadata) != file.identity {
        return Err(ContextError::ChangedDuringRead {
            path: file.source.clone(),
        });
    }
    Ok(())
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as i64)
}
