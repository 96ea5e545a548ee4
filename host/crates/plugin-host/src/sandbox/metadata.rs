//! `host.read-metadata` (API 1.2): a site-packages directory and the metadata `pip freeze`
//! needs of every distribution in it, read by the host in one call. Through WASI each file
//! operation is a call handed to a blocking thread (about 0.16 ms per installed package);
//! here the whole directory is read on the calling thread, so the plugin makes one call.
//!
//! The same rules as WASI's preopen apply: only inside a read grant, resolved with cap-std so
//! that no path or symlink leads outside it, read-only, and only regular files are opened (a
//! FIFO would block). What is read is bounded so that a hostile directory cannot exhaust the
//! host's memory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

use super::error::ErrorKind;
use super::wit::host_api::{MetadataEntry, MetadataListing};

/// What one read may return in all (names, header blocks, `direct_url.json` texts).
pub(crate) const MAX_BYTES: usize = 64 << 20;

/// When the call must end, and its deadline as the user set it (for the message).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub at: Instant,
    pub limit: Duration,
}

/// Reads `dir` if it lies inside one of `grants`. `Ok(Err(_))` is the plugin's answer (refused,
/// missing); `Err(_)` ends the call (a limit).
pub(crate) fn read(
    grants: &[PathBuf],
    dir: &str,
    deadline: Deadline,
) -> Result<Result<MetadataListing, String>, ErrorKind> {
    let Some(opened) = open_in_grant(grants, Path::new(dir)) else {
        return Ok(Err(format!(
            "reading `{dir}` was refused: it is not an absolute path inside a read grant"
        )));
    };
    let dir_handle = match opened {
        Ok(d) => d,
        Err(e) => return Ok(Err(format!("{dir}: {e}"))),
    };
    let mut reader = Reader {
        budget: MAX_BYTES,
        deadline,
    };
    match reader.listing(&dir_handle) {
        Ok(listing) => Ok(Ok(listing)),
        Err(Failure::Io(e)) => Ok(Err(format!("{dir}: {e}"))),
        Err(Failure::Limit(kind)) => Err(kind),
    }
}

/// The directory opened beneath the grant that contains it, or `None` when none does.
fn open_in_grant(grants: &[PathBuf], dir: &Path) -> Option<std::io::Result<Dir>> {
    if !dir.is_absolute() {
        return None;
    }
    let grant = grants.iter().find(|g| dir.starts_with(g))?;
    let inside = dir.strip_prefix(grant).ok()?;
    let root = match Dir::open_ambient_dir(grant, ambient_authority()) {
        Ok(root) => root,
        Err(e) => return Some(Err(e)),
    };
    if inside.as_os_str().is_empty() {
        return Some(Ok(root));
    }
    Some(root.open_dir(inside))
}

enum Failure {
    Io(std::io::Error),
    Limit(ErrorKind),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

struct Reader {
    /// Bytes still allowed.
    budget: usize,
    deadline: Deadline,
}

impl Reader {
    fn listing(&mut self, dir: &Dir) -> Result<MetadataListing, Failure> {
        let mut names = Vec::new();
        let mut entries = Vec::new();
        for entry in dir.entries()? {
            self.check_deadline()?;
            let name = entry?.file_name().to_string_lossy().into_owned();
            self.spend(name.len())?;
            let low = name.to_lowercase();
            if low.ends_with(".dist-info") || low.ends_with(".egg-info") {
                entries.push(self.entry(dir, &name)?);
            }
            names.push(name);
        }
        Ok(MetadataListing { names, entries })
    }

    /// `METADATA`, else `PKG-INFO`, else the entry itself when it is a file: the first
    /// non-empty header block counts, as in importlib.
    fn entry(&mut self, dir: &Dir, name: &str) -> Result<MetadataEntry, Failure> {
        let inner = |f: &str| format!("{name}/{f}");
        let mut headers = None;
        for path in [inner("METADATA"), inner("PKG-INFO"), name.to_string()] {
            headers = self.read_file(dir, &path, true)?;
            if headers.is_some() {
                break;
            }
        }
        let direct_url = self.read_file(dir, &inner("direct_url.json"), false)?;
        Ok(MetadataEntry {
            file_name: name.to_string(),
            headers,
            direct_url,
        })
    }

    /// The text of a regular file (only its header block when `headers_only`), or `None`
    /// when it is missing, not a regular file, unreadable or empty.
    fn read_file(
        &mut self,
        dir: &Dir,
        path: &str,
        headers_only: bool,
    ) -> Result<Option<String>, Failure> {
        // Non-blocking, so that opening a FIFO returns at once; then only a regular file is
        // read. One open and one fstat, where a stat first would walk the path twice.
        let mut options = OpenOptions::new();
        options
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
        let Ok(file) = dir.open_with(path, &options) else {
            return Ok(None);
        };
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 8192];
        let mut file = file.into_std();
        loop {
            let n = match file.read(&mut chunk) {
                Ok(n) => n,
                Err(_) => return Ok(None),
            };
            if n == 0 {
                break;
            }
            self.spend(n)?;
            let searched_from = bytes.len().saturating_sub(2);
            bytes.extend_from_slice(&chunk[..n]);
            if headers_only && let Some(end) = header_end(&bytes[searched_from..]) {
                bytes.truncate(searched_from + end);
                break;
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok((!text.is_empty()).then_some(text))
    }

    fn spend(&mut self, bytes: usize) -> Result<(), Failure> {
        self.budget = self.budget.checked_sub(bytes).ok_or_else(|| {
            Failure::Limit(ErrorKind::Refused(format!(
                "host.read-metadata: the directory's metadata is larger than {} MiB",
                MAX_BYTES >> 20
            )))
        })?;
        Ok(())
    }

    /// The read runs on the call's thread, where the epoch cannot stop it: it looks at the
    /// clock itself.
    fn check_deadline(&self) -> Result<(), Failure> {
        if Instant::now() > self.deadline.at {
            return Err(Failure::Limit(ErrorKind::TimeoutWhile {
                deadline: self.deadline.limit,
                doing: "reading a directory's metadata (host.read-metadata)".into(),
            }));
        }
        Ok(())
    }
}

/// Where the header block ends: just after the first `\n\n` or `\n\r\n`.
fn header_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).enumerate().find_map(|(i, w)| match w {
        [b'\n', b'\n'] => Some(i + 2),
        [b'\n', b'\r'] if bytes.get(i + 2) == Some(&b'\n') => Some(i + 3),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later() -> Deadline {
        Deadline {
            at: Instant::now() + Duration::from_secs(60),
            limit: Duration::from_secs(60),
        }
    }

    #[test]
    fn reads_header_blocks_and_direct_urls_of_metadata_entries_only() {
        let root = tempfile::tempdir().unwrap();
        let sp = root.path().join("site-packages");
        let dist = sp.join("a_b-1.0.dist-info");
        std::fs::create_dir_all(&dist).unwrap();
        let body = "x".repeat(20_000);
        std::fs::write(
            dist.join("METADATA"),
            format!("Name: A.B\r\nVersion: 1.0\r\n\r\n{body}"),
        )
        .unwrap();
        std::fs::write(dist.join("direct_url.json"), "{}").unwrap();
        std::fs::write(sp.join("old-2.0.egg-info"), "Name: old\nVersion: 2.0\n").unwrap();
        std::fs::create_dir(sp.join("empty-1.dist-info")).unwrap();
        std::fs::write(sp.join("six.py"), "").unwrap();
        let grants = [root.path().to_path_buf()];
        let listing = read(&grants, sp.to_str().unwrap(), later())
            .unwrap()
            .unwrap();
        let mut names = listing.names.clone();
        names.sort();
        assert_eq!(
            names,
            [
                "a_b-1.0.dist-info",
                "empty-1.dist-info",
                "old-2.0.egg-info",
                "six.py"
            ]
        );
        let mut entries: Vec<_> = listing
            .entries
            .iter()
            .map(|e| {
                (
                    e.file_name.as_str(),
                    e.headers.clone(),
                    e.direct_url.clone(),
                )
            })
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            [
                (
                    "a_b-1.0.dist-info",
                    Some("Name: A.B\r\nVersion: 1.0\r\n\r\n".to_string()),
                    Some("{}".to_string())
                ),
                ("empty-1.dist-info", None, None),
                (
                    "old-2.0.egg-info",
                    Some("Name: old\nVersion: 2.0\n".to_string()),
                    None
                ),
            ]
        );
    }

    #[test]
    fn nothing_outside_a_grant_is_read_not_even_through_a_symlink() {
        let root = tempfile::tempdir().unwrap();
        let granted = root.path().join("granted");
        let secret = root.path().join("secret");
        std::fs::create_dir_all(granted.join("x-1.dist-info")).unwrap();
        std::fs::create_dir_all(&secret).unwrap();
        std::fs::write(secret.join("METADATA"), "Name: secret\n").unwrap();
        std::os::unix::fs::symlink(&secret, granted.join("y-1.dist-info")).unwrap();
        std::os::unix::fs::symlink(&secret, granted.join("escape")).unwrap();
        let grants = [granted.clone()];
        let refused = read(&grants, secret.to_str().unwrap(), later()).unwrap();
        assert!(refused.unwrap_err().contains("refused"));
        let through_link = format!("{}/escape", granted.display());
        assert!(read(&grants, &through_link, later()).unwrap().is_err());
        let dotdot = format!("{}/../secret", granted.display());
        assert!(read(&grants, &dotdot, later()).unwrap().is_err());
        let listing = read(&grants, granted.to_str().unwrap(), later())
            .unwrap()
            .unwrap();
        let linked = listing
            .entries
            .iter()
            .find(|e| e.file_name == "y-1.dist-info")
            .unwrap();
        assert_eq!(
            linked.headers, None,
            "a symlink out of the grant is not followed"
        );
        assert!(read(&grants, "relative/path", later()).unwrap().is_err());
    }

    #[test]
    fn a_fifo_is_not_opened_and_the_deadline_is_kept() {
        let root = tempfile::tempdir().unwrap();
        let dist = root.path().join("f-1.dist-info");
        std::fs::create_dir(&dist).unwrap();
        let fifo = dist.join("METADATA");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let grants = [root.path().to_path_buf()];
        let dir = root.path().to_str().unwrap();
        let listing = read(&grants, dir, later()).unwrap().unwrap();
        assert_eq!(listing.entries[0].headers, None);
        let past = Deadline {
            at: Instant::now() - Duration::from_millis(1),
            limit: Duration::from_secs(5),
        };
        assert!(matches!(
            read(&grants, dir, past),
            Err(ErrorKind::TimeoutWhile { .. })
        ));
    }
}
