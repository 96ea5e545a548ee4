//! Reading the files a user names (the pipeline and stack files, a `dockerfile`, a
//! dockerignore file), bounded: only a regular file is read (a FIFO would block, a device
//! like `/dev/zero` never ends), and only up to [`MAX_TEXT`] bytes (a 5 GiB file fails
//! at once instead of filling memory). Each check happens before a byte is read.

use std::io::{self, Read};
use std::path::Path;

/// The largest text file Dockwright reads: far above any real pipeline file or Dockerfile.
pub const MAX_TEXT: u64 = 16 << 20;

/// The file's bytes, if it is a regular file of at most [`MAX_TEXT`] bytes.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(invalid(
            "not a regular file (a FIFO, a device or a folder cannot be read here)".into(),
        ));
    }
    if meta.len() > MAX_TEXT {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::new();
    // The size may change between the check and the read: never read past the bound.
    std::fs::File::open(path)?
        .take(MAX_TEXT + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_TEXT {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The file's text: [`read`], and UTF-8.
pub fn read_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read(path)?).map_err(|e| {
        invalid(format!(
            "not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn too_big(size: u64) -> io::Error {
    invalid(format!(
        "{size} bytes, more than the {} MiB Dockwright reads from one file",
        MAX_TEXT >> 20
    ))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_huge_files_are_refused_before_reading() {
        let err = read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(err.starts_with("not a regular file"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge");
        // Sparse: 5 GiB of size, no disk used.
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(5 << 30)
            .unwrap();
        let err = read(&huge).unwrap_err().to_string();
        assert!(
            err.starts_with("5368709120 bytes, more than the 16 MiB"),
            "{err}"
        );
        let small = dir.path().join("small");
        std::fs::write(&small, "FROM x\n").unwrap();
        assert_eq!(read_text(&small).unwrap(), "FROM x\n");
    }
}
