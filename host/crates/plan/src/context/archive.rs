//! The deterministic, streamed tar of a context's members.
//!
//! Every header is built from the member alone: GNU format, mtime 0, uid/gid 0, empty
//! user and group names, the normalised mode; paths longer than the header holds use
//! GNU long-name records (deterministic too). Directory names end in `/`. File contents
//! are copied from disk through a fixed buffer, so memory stays flat whatever the size;
//! a file that no longer has its scanned identity fails the write rather than producing
//! an archive that disagrees with the digest.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use tar::{Builder, EntryType, Header};

use super::hash_cache::check_unchanged;
use super::{ContextError, DiskFile, Entry, ExtraFile, Member, members};

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarSummary {
    /// Archive members written (directories, files, symlinks).
    pub members: usize,
    /// Bytes of file content written (headers and padding excluded).
    pub content_bytes: u64,
}

/// Writes the tar of the merged `entries` and `extra_files` (see [`super::members`]) to
/// `writer`, ending with the tar trailer. Identical inputs give identical bytes, whatever
/// their order, the files' mtimes or their owners on disk.
pub fn write_tar<W: Write>(
    root: &Path,
    entries: &[Entry],
    extra_files: &[ExtraFile],
    writer: W,
) -> Result<TarSummary, ContextError> {
    let write_error = |source| ContextError::Write { source };
    let mut builder = Builder::new(writer);
    let mut summary = TarSummary {
        members: 0,
        content_bytes: 0,
    };
    for member in members(entries, extra_files) {
        summary.content_bytes += append_member(&mut builder, root, &member)?;
        summary.members += 1;
    }
    builder.into_inner().map_err(write_error)?;
    Ok(summary)
}

fn header(entry_type: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    // Fresh GNU headers already have empty names; setting them keeps that explicit.
    header
        .set_username("")
        .and_then(|()| header.set_groupname(""))
        .expect("empty names always fit");
    header
}

/// Appends one member; returns the content bytes written.
fn append_member<W: Write>(
    builder: &mut Builder<W>,
    root: &Path,
    member: &Member<'_>,
) -> Result<u64, ContextError> {
    let write_error = |source| ContextError::Write { source };
    match member {
        Member::Directory(path) => {
            let mut header = header(EntryType::Directory, member.mode(), 0);
            builder
                .append_data(&mut header, format!("{path}/"), io::empty())
                .map_err(write_error)?;
            Ok(0)
        }
        Member::Symlink { path, target } => {
            let mut header = header(EntryType::Symlink, member.mode(), 0);
            builder
                .append_link(&mut header, path, target)
                .map_err(write_error)?;
            Ok(0)
        }
        Member::Extra(extra) => {
            let size = extra.contents.len() as u64;
            let mut header = header(EntryType::Regular, member.mode(), size);
            builder
                .append_data(&mut header, &extra.path, extra.contents.as_slice())
                .map_err(write_error)?;
            Ok(size)
        }
        Member::File { path, file } => {
            append_disk_file(builder, &root.join(path), path, file, member.mode())
        }
    }
}

fn append_disk_file<W: Write>(
    builder: &mut Builder<W>,
    source: &Path,
    path: &str,
    file: &DiskFile,
    mode: u32,
) -> Result<u64, ContextError> {
    let opened = File::open(source).map_err(|error| ContextError::Io {
        path: source.to_path_buf(),
        source: error,
    })?;
    check_unchanged(&opened, source, file)?;
    let size = file.identity.size;
    let mut header = header(EntryType::Regular, mode, size);
    let mut reader = ExactReader {
        file: (&opened).take(size),
        remaining: size,
        failure: None,
    };
    let appended = builder.append_data(&mut header, path, &mut reader);
    // A read failure surfaces through the builder as an I/O error; tell it apart from a
    // failing writer so the message names the file.
    if let Some(failure) = reader.failure {
        return Err(match failure {
            ReadFailure::Io(error) => ContextError::Io {
                path: source.to_path_buf(),
                source: error,
            },
            ReadFailure::Shrunk => ContextError::ChangedDuringRead {
                path: source.to_path_buf(),
            },
        });
    }
    appended.map_err(|source| ContextError::Write { source })?;
    check_unchanged(&opened, source, file)?;
    Ok(size)
}

enum ReadFailure {
    Io(io::Error),
    Shrunk,
}

/// Reads exactly `size` bytes of a file (the size written in its header), recording why
/// it could not.
struct ExactReader<'a> {
    file: io::Take<&'a File>,
    remaining: u64,
    failure: Option<ReadFailure>,
}

impl Read for ExactReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        match self.file.read(buffer) {
            Ok(0) => {
                self.failure = Some(ReadFailure::Shrunk);
                Err(io::Error::other("file shrank while being archived"))
            }
            Ok(read) => {
                self.remaining -= read as u64;
                Ok(read)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Err(error),
            Err(error) => {
                let reported = io::Error::new(error.kind(), error.to_string());
                self.failure = Some(ReadFailure::Io(error));
                Err(reported)
            }
        }
    }
}
