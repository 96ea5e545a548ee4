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

/// A plain key (`sha256:…`) names its lock file as it is; any other label value (JSON with
/// the parents) by its digest, which is safe and short.
fn file_name_for(build_key: &str) -> String {
    let plain = build_key.len() <= 100
        && build_key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ':');
    if plain {
        build_key.replace(':', "_")
    } else {
        use sha2::{Digest, Sha256};
        format!(
            "sha256_{}",
            hex::encode(Sha256::digest(build_key.as_bytes()))
        )
    }
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
        assert_eq!(file_name_for("sha256:abc"), "sha256_abc");
        for odd in [
            "sha256:ab/../c",
            r#"{"key":"sha256:a","parents":{"x/y":"z"}}"#,
        ] {
            let name = file_name_for(odd);
            assert_eq!(name.len(), "sha256_".len() + 64, "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }
        assert_ne!(file_name_for("{\"a\":1}"), file_name_for("{\"a\":2}"));
    }
}
