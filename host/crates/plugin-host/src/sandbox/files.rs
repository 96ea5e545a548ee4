//! What a plugin may open inside a read grant: regular files and directories only. Opening a
//! FIFO blocks until someone writes to it, and a device or socket is not a file the user
//! granted to be read, so `open-at` is wrapped to look at the target first and stop the call
//! with a refusal naming the path.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, Host, HostDescriptor, OpenFlags, PathFlags,
};

use super::error::ErrorKind;
use super::runtime::{HostState, Stop};

/// The interface version the WASI linker serves; older 0.2.x imports resolve to it.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";

type OpenArgs = (
    Resource<Descriptor>,
    PathFlags,
    String,
    OpenFlags,
    DescriptorFlags,
);

/// Replaces WASI's `descriptor.open-at` with one that refuses anything but a regular file or
/// a directory. Must run after the WASI functions are added.
pub(crate) fn guard_open(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(FILESYSTEM_TYPES)?.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, HostState>,
         (fd, path_flags, path, oflags, flags): OpenArgs| {
            Box::new(async move {
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
                let result = match opened {
                    Ok(fd) => Ok(fd),
                    Err(e) => Err(Host::convert_error_code(&mut fs, e)?),
                };
                Ok((result,))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
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
