//! The Debian-based Python parent image Dockwright can make itself, for machines that cannot
//! pull from a registry: `dockwright-base/python:<suite>`, bootstrapped from the machine's
//! own Debian packages with mmdebstrap and `docker import` (scripts/base-image.sh, embedded).
//! A pipeline that names it as its parent gets it made on first use.

use std::io::Write;
use std::process::{Command, Stdio};

/// Images under this repository are made by [`ensure`] rather than pulled.
pub const REPOSITORY: &str = "dockwright-base/python";

const SCRIPT: &str = include_str!("../../scripts/base-image.sh");

/// Whether `image` is one Dockwright can bootstrap.
pub fn is_bootstrappable(image: &str) -> bool {
    image
        .strip_prefix(REPOSITORY)
        .is_some_and(|rest| rest.starts_with(':'))
}

/// Makes `image` (`dockwright-base/python:<suite>`) unless the engine already has it.
/// Needs `docker`, and root (or mmdebstrap installed) on a Debian-based machine.
pub fn ensure(image: &str) -> Result<(), String> {
    let suite = image.rsplit(':').next().unwrap_or_default();
    let mut child = Command::new("bash")
        .args(["-s", image])
        .env("DOCKWRIGHT_BASE_SUITE", suite)
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("running bash to bootstrap {image}: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(SCRIPT.as_bytes())
        .map_err(|e| format!("bootstrapping {image}: {e}"))?;
    let status = child
        .wait()
        .map_err(|e| format!("bootstrapping {image}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "bootstrapping the base image {image} failed ({status}); see the output above"
        ))
    }
}
