//! Plugin failures as data. Every failure names the plugin (and its version, once known);
//! a crash carries what the guest wrote to stderr (a Rust guest's panic message).

use std::time::Duration;

use super::types::GuestError;

/// A failure of one plugin, with who it was.
#[derive(Debug, thiserror::Error)]
#[error(
    "plugin {plugin}: {kind}{}{}",
    hint_suffix(hint),
    stderr_suffix(stderr)
)]
pub struct PluginError {
    /// `name version`, or the file it came from before its manifest was read.
    pub plugin: String,
    pub kind: ErrorKind,
    /// What the guest wrote to stderr (bounded), shown when it failed.
    pub stderr: String,
    /// What the user may do about it, e.g. grant a capability the plugin asked for.
    pub hint: Option<Box<str>>,
}

impl PluginError {
    pub fn new(plugin: impl Into<String>, kind: ErrorKind) -> Self {
        PluginError {
            plugin: plugin.into(),
            kind,
            stderr: String::new(),
            hint: None,
        }
    }
}

fn hint_suffix(hint: &Option<Box<str>>) -> String {
    hint.as_ref()
        .map(|h| format!("\n  note: {h}"))
        .unwrap_or_default()
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("\n  plugin stderr:\n    {}", stderr.replace('\n', "\n    "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read the plugin file: {0}")]
    Unreadable(String),
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("bad manifest: {0}")]
    Manifest(String),
    #[error("needs plugin API {needs}; this host supports {supported}")]
    IncompatibleApi { needs: String, supported: String },
    #[error("does not export `{0}`")]
    MissingExport(String),
    #[error("cannot be linked with this host: {0}")]
    Link(String),
    #[error("failed to compile: {0}")]
    Compile(String),
    #[error("timed out after {0:?} (the per-call deadline)")]
    Timeout(Duration),
    #[error("timed out after {deadline:?} (the per-call deadline) while {doing}")]
    TimeoutWhile { deadline: Duration, doing: String },
    #[error("exceeded its memory limit of {} MiB", .0 >> 20)]
    MemoryLimit(usize),
    #[error("crashed: {0}")]
    Crashed(String),
    #[error("returned {size} bytes, more than the limit of {limit}")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("returned {count} {what}, more than the limit of {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    #[error("returned malformed output: {0}")]
    MalformedOutput(String),
    #[error("capability refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Guest(GuestError),
}
