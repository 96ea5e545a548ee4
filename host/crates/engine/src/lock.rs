//! One build per build key at a time, across processes: an exclusive `flock` on a file named
//! by the key. Whoever gets the lock second waits, then finds the first one's image by its key
//! instead of building it again.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::error::EngineError;

/// Held while a build of one key runs; dropping it releases the lock.
#[derive(Debug)]
pub struct BuildLock {
    // The lock lives as long as the open file.
    _file: File,
    path: PathBuf,
}

impl BuildLock {
    /// Waits (on a blocking thread) until this process holds the lock for `build_key`.
    pub(crate) async fn acquire(
        lock_dir: &Path,
        build_key: &str,
    ) -> Result<BuildLock, EngineError> {
        let path = lock_dir.join(format!("{}.lock", file_name_for(build_key)));
        let locking = path.clone();
        let dir = lock_dir.to_path_buf();
        let file = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
            std::fs::create_dir_all(&dir)?;
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&locking)?;
            file.lock()?;
            Ok(file)
        })
        .await
        .map_err(|error| EngineError::Lock {
            path: path.clone(),
            source: std::io::Error::other(error.to_string()),
        })?
        .map_err(|source| EngineError::Lock {
            path: path.clone(),
            source,
        })?;
        Ok(BuildLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Build keys are hex digests already; anything else is reduced to a safe file name.
fn file_name_for(build_key: &str) -> String {
    build_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = BuildLock::acquire(dir.path(), "abc").await.unwrap();
        let dir_path = dir.path().to_path_buf();
        let second = tokio::spawn(async move { BuildLock::acquire(&dir_path, "abc").await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !second.is_finished(),
            "the second lock was granted while the first was held"
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(second.path().ends_with("abc.lock"));
    }

    #[test]
    fn keys_become_safe_file_names() {
        assert_eq!(file_name_for("sha256:ab/../c"), "sha256_ab____c");
    }
}
