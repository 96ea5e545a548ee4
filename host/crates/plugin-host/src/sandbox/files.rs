//! What a plugin may open inside a read grant, and what it looked at there. Only regular
//! files and directories may be opened: opening a FIFO blocks until someone writes to it, and a
//! device or socket is not a file the user granted to be read, so `open-at` is wrapped to look
//! at the target first and stop the call with a refusal naming the path. Every WASI call that
//! looks a path up (`get-directories`, `open-at`, `stat-at`, `readlink-at`,
//! `metadata-hash-at`) is wrapped to record the host path it reached, so that a call can be
//! remembered and checked again later (`memo`).

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::FsError;
use wasmtime_wasi::p2::bindings::filesystem::preopens::Host as Preopens;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, Host, HostDescriptor,
    MetadataHashValue, OpenFlags, PathFlags,
};

use super::error::ErrorKind;
use super::runtime::{HostState, Stop};

/// The interface versions the WASI linker serves; older 0.2.x imports resolve to them.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";
const FILESYSTEM_PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";

type OpenArgs = (
    Resource<Descriptor>,
    PathFlags,
    String,
    OpenFlags,
    DescriptorFlags,
);
type AtArgs = (Resource<Descriptor>, PathFlags, String);

/// Replaces WASI's path lookups with ones that record what they reach, and `open-at` with one
/// that also refuses anything but a regular file or a directory. Must run after the WASI
/// functions are added.
pub(crate) fn guard_open(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(FILESYSTEM_PREOPENS)?.func_wrap(
        "get-directories",
        |mut store: StoreContextMut<'_, HostState>, (): ()| {
            let dirs = Preopens::get_directories(&mut store.data_mut().filesystem())?;
            for (fd, path) in &dirs {
                store.data_mut().reads.preopened(fd.rep(), path);
            }
            Ok((dirs,))
        },
    )?;
    let mut types = linker.instance(FILESYSTEM_TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, HostState>,
         (fd, path_flags, path, oflags, flags): OpenArgs| {
            Box::new(async move {
                let target = record(&mut store, &fd, &path, follows(path_flags));
                let mut fs = store.data_mut().filesystem();
                let dir = || Resource::<Descriptor>::new_borrow(fd.rep());
                match HostDescriptor::stat_at(&mut fs, dir(), path_flags, path.clone()).await {
                    Ok(stat) if openable(stat.type_) => {}
                    Ok(_) => return Err(refusal(&path)),
                    // Not there yet (a file being created) or not visible: open decides.
                    Err(_) => {}
                }
                let opened =
                    HostDescriptor::open_at(&mut fs, dir(), path_flags, path, oflags, flags).await;
                if let (Ok(fd), Some(target)) = (&opened, target) {
                    store.data_mut().reads.opened(fd.rep(), target);
                }
                Ok((answer::<Resource<Descriptor>>(&mut store, opened)?,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.stat-at",
        |mut store: StoreContextMut<'_, HostState>, (fd, path_flags, path): AtArgs| {
            Box::new(async move {
                record(&mut store, &fd, &path, follows(path_flags));
                let mut fs = store.data_mut().filesystem();
                let stat = HostDescriptor::stat_at(&mut fs, fd, path_flags, path).await;
                Ok((answer::<DescriptorStat>(&mut store, stat)?,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.metadata-hash-at",
        |mut store: StoreContextMut<'_, HostState>, (fd, path_flags, path): AtArgs| {
            Box::new(async move {
                record(&mut store, &fd, &path, follows(path_flags));
                let mut fs = store.data_mut().filesystem();
                let hash = HostDescriptor::metadata_hash_at(&mut fs, fd, path_flags, path).await;
                Ok((answer::<MetadataHashValue>(&mut store, hash)?,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.readlink-at",
        |mut store: StoreContextMut<'_, HostState>, (fd, path): (Resource<Descriptor>, String)| {
            Box::new(async move {
                record(&mut store, &fd, &path, false);
                let mut fs = store.data_mut().filesystem();
                let target = HostDescriptor::readlink_at(&mut fs, fd, path).await;
                Ok((answer::<String>(&mut store, target)?,))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Records the host path a lookup of `path` relative to `fd` reaches (see `memo::Reads::at`).
fn record(
    store: &mut StoreContextMut<'_, HostState>,
    fd: &Resource<Descriptor>,
    path: &str,
    follow: bool,
) -> Option<std::path::PathBuf> {
    store.data_mut().reads.at(fd.rep(), path, follow)
}

/// A WASI result as the guest gets it: its error code, or the trap it carries.
fn answer<T>(
    store: &mut StoreContextMut<'_, HostState>,
    result: Result<T, FsError>,
) -> wasmtime::Result<Result<T, ErrorCode>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e) => Ok(Err(Host::convert_error_code(
            &mut store.data_mut().filesystem(),
            e,
        )?)),
    }
}

fn follows(flags: PathFlags) -> bool {
    flags.contains(PathFlags::SYMLINK_FOLLOW)
}

fn openable(t: DescriptorType) -> bool {
    matches!(t, DescriptorType::RegularFile | DescriptorType::Directory)
}

fn refusal(path: &str) -> wasmtime::Error {
    wasmtime::Error::new(Stop(ErrorKind::Refused(format!(
        "opening `{path}` in a read grant: it is not a regular file or a directory (a FIFO, \
         socket or device), and only those may be read"
    ))))
}
