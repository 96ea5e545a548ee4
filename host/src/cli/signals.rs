//! What a signal does to a running `dockwright`: the programs plugins were granted die with
//! it (they sit in process groups of their own, out of reach of the terminal's Ctrl-C), and
//! Ctrl-C keeps its default, ending the process, until a command takes it over to clean up
//! ([`ctrl_c`]).

use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Set once a command handles Ctrl-C itself.
static CTRL_C_TAKEN: AtomicBool = AtomicBool::new(false);

/// Kills the granted programs on SIGINT, SIGTERM and SIGHUP, then does what the signal would
/// have done (unless a command took Ctrl-C over). Called once, first thing.
pub(super) fn install() {
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        // SAFETY: the action only loads atomics, sends signals and re-raises the signal with
        // its default action: all async-signal-safe.
        let registered = unsafe {
            signal_hook::low_level::register(sig, move || {
                dockwright_plugin_host::kill_granted_programs();
                if sig != SIGINT || !CTRL_C_TAKEN.load(Ordering::SeqCst) {
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                }
            })
        };
        // Without the handler the signal keeps its default action: Dockwright still ends.
        drop(registered);
    }
}

/// Ctrl-C for a command that cleans up on it: from now on it no longer ends the process; each
/// `recv` of the returned stream is one Ctrl-C. Must be called inside the async runtime.
pub(super) fn ctrl_c() -> std::io::Result<Signal> {
    // Listening before taking over: no Ctrl-C in between is lost.
    let ctrl_c = signal(SignalKind::interrupt())?;
    CTRL_C_TAKEN.store(true, Ordering::SeqCst);
    Ok(ctrl_c)
}
