//! Running a program a plugin was granted (`host.exec`): a clean environment, output read
//! with a cap, and the whole process group killed when the call ends for any reason (the
//! deadline drops this future), so nothing a plugin starts outlives its call, nor Dockwright
//! when a signal ends it ([`kill_running`]).

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicI32, Ordering};

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::error::ErrorKind;

/// The host variables every child sees: enough to find programs and pick a locale, never
/// the host's credentials (`AWS_*`, `DOCKER_AUTH`, tokens). A grant may add names
/// (`grants: {acme: {exec: [poetry], env: [POETRY_HOME]}}`); nothing else is passed.
const PASSED_ENV: &[&str] = &["PATH", "HOME", "LANG"];

/// What a granted program printed and how it ended.
pub(crate) struct Ran {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program` in `dir` with `args` and the host's values of [`PASSED_ENV`] and `env`;
/// each of stdout and stderr may hold at most `cap` bytes. `Err` is a host-side limit: it
/// stops the call.
pub(crate) async fn run(
    program: &str,
    args: &[String],
    dir: &Path,
    env: &[String],
    cap: usize,
) -> Result<Result<Ran, String>, ErrorKind> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .envs(
            PASSED_ENV
                .iter()
                .copied()
                .chain(env.iter().map(String::as_str))
                .filter_map(|k| Some((k, std::env::var_os(k)?))),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Ok(Err(format!("running `{program}`: {e}"))),
    };
    let _group = child.id().and_then(GroupGuard::new);
    let (stdout, stderr) = tokio::join!(
        read_capped(child.stdout.take(), cap),
        read_capped(child.stderr.take(), cap)
    );
    let too_large = |stream| {
        ErrorKind::Refused(format!(
            "`{program}` it ran wrote more than {cap} bytes to {stream}"
        ))
    };
    let stdout = stdout.ok_or_else(|| too_large("stdout"))?;
    let stderr = stderr.ok_or_else(|| too_large("stderr"))?;
    let status = match child.wait().await {
        Ok(status) => status.code().unwrap_or(-1),
        Err(e) => return Ok(Err(format!("waiting for `{program}`: {e}"))),
    };
    Ok(Ok(Ran {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }))
}

/// Reads a stream to its end, or `None` as soon as it holds more than `cap` bytes (the
/// buffer never grows past `cap + 1`).
async fn read_capped(stream: Option<impl AsyncRead + Unpin>, cap: usize) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(stream) = stream {
        // A read error ends the output; what was read is still reported.
        let _ = stream.take(cap as u64 + 1).read_to_end(&mut buf).await;
    }
    (buf.len() <= cap).then_some(buf)
}

/// The process groups of granted programs still running, in slots a signal handler can read
/// without locking or allocating (0 is a free slot). A program started while every slot is
/// taken is still killed when its call ends, only not by [`kill_running`].
static RUNNING: [AtomicI32; 64] = [const { AtomicI32::new(0) }; 64];

/// Kills every granted program still running, with its process group. The programs sit in
/// process groups of their own (so a deadline can kill what they start), out of reach of the
/// terminal's Ctrl-C: without this they would outlive a Dockwright that a signal ends.
/// Async-signal-safe (atomic loads and `kill`), for a signal handler.
pub fn kill_running() {
    for slot in &RUNNING {
        if let Some(pid) = Pid::from_raw(slot.load(Ordering::SeqCst)) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }
}

/// Kills the child's process group when dropped: on success (stray background children),
/// on a limit, and when the deadline drops the call. Registered in [`RUNNING`] meanwhile.
struct GroupGuard {
    pid: Pid,
    slot: Option<&'static AtomicI32>,
}

impl GroupGuard {
    fn new(pid: u32) -> Option<Self> {
        let pid = Pid::from_raw(i32::try_from(pid).ok()?)?;
        let slot = RUNNING.iter().find(|slot| {
            slot.compare_exchange(
                0,
                pid.as_raw_nonzero().get(),
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
        });
        Some(Self { pid, slot })
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        // The group may already be gone; nothing else to do then.
        let _ = kill_process_group(self.pid, Signal::KILL);
        if let Some(slot) = self.slot {
            slot.store(0, Ordering::SeqCst);
        }
    }
}
