//! The errors of the `engine` module: each says what failed in words a user can act on,
//! instead of bollard's chain of transport errors.

use super::progress::BuildStep;

/// Something the Docker engine (or the way to it) refused or could not do.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No engine answered at the address `DOCKER_HOST` (or the default socket) names.
    #[error(
        "cannot reach the Docker engine at {host}: {reason}; is it running? \
         set DOCKER_HOST to the engine's address (unix:///path/to/docker.sock, tcp://host:2376, ssh://user@host)"
    )]
    Unreachable { host: String, reason: String },

    /// `DOCKER_HOST` names a scheme this build cannot speak.
    #[error(
        "DOCKER_HOST={host} is not supported: use unix://, tcp:// (TLS with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), https:// or ssh://"
    )]
    UnsupportedHost { host: String },

    /// A build that ran and failed: the failing instruction and the tail of its output.
    #[error("{}", describe_build_failure(.step, .message, .output_tail))]
    BuildFailed {
        /// The instruction that failed, when the engine said which one.
        step: Option<BuildStep>,
        /// The engine's own error message (e.g. "The command ... returned a non-zero code: 1").
        message: String,
        /// The last lines the failing instruction printed (pip's own error, say).
        output_tail: Vec<String>,
    },

    /// The build context could not be written (the caller's tar writer failed).
    #[error("writing the build context failed: {0}")]
    Context(#[source] std::io::Error),

    /// An image could not be pulled.
    #[error("pulling {image} failed: {message}")]
    PullFailed { image: String, message: String },

    /// A registry refused the push or could not be reached.
    #[error("pushing {image} failed: {message}")]
    PushFailed { image: String, message: String },

    /// The user's Docker credentials could not be read.
    #[error(transparent)]
    Credentials(#[from] dockwright_registry_auth::CredentialError),

    /// An image reference that cannot be tagged or pushed as given.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },

    /// The build lock file could not be created or locked.
    #[error("locking {path} failed: {source}")]
    Lock {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The user interrupted (Ctrl-C) before the engine finished.
    #[error("interrupted")]
    Interrupted,

    /// Any other request the engine answered with an error.
    #[error("{action} failed: {message}")]
    Request { action: String, message: String },
}

impl EngineError {
    /// Wraps a bollard error from `action` (e.g. "inspecting image x") without its type names.
    pub(crate) fn request(action: impl Into<String>, error: bollard::errors::Error) -> EngineError {
        EngineError::Request {
            action: action.into(),
            message: engine_message(&error),
        }
    }
}

/// The part of a bollard error a user needs: the daemon's own message where there is one,
/// otherwise the innermost cause (e.g. "Connection refused (os error 111)").
pub(crate) fn engine_message(error: &bollard::errors::Error) -> String {
    use bollard::errors::Error as B;
    match error {
        B::DockerResponseServerError { message, .. } => message.trim().to_string(),
        B::DockerStreamError { error } => error.trim().to_string(),
        B::DockerContainerWaitError { error, .. } => error.trim().to_string(),
        B::SocketNotFoundError(path) => format!("no socket at {path}"),
        B::RequestTimeoutError => "no answer before the request timed out".to_string(),
        // The transport under a request: the engine went away (or its socket did).
        B::HyperResponseError { .. } | B::HyperLegacyError { .. } | B::IOError { .. } => format!(
            "the connection to the Docker engine broke ({})",
            innermost_cause(error)
        ),
        other => innermost_cause(other),
    }
}

/// [`engine_message`] for an engine being reached: a transport error is why it cannot be
/// reached, not a connection that broke.
pub(crate) fn reach_message(error: &bollard::errors::Error) -> String {
    use bollard::errors::Error as B;
    match error {
        B::HyperResponseError { .. } | B::HyperLegacyError { .. } | B::IOError { .. } => {
            innermost_cause(error)
        }
        other => engine_message(other),
    }
}

/// The message of the deepest `source()` in an error chain: the one that says what happened.
pub(crate) fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn describe_build_failure(step: &Option<BuildStep>, message: &str, tail: &[String]) -> String {
    let mut text = match step {
        Some(step) => format!("build failed at step {}: {message}", step),
        None => format!("build failed: {message}"),
    };
    if !tail.is_empty() {
        text.push_str("\nlast output of the failing step:");
        for line in tail {
            text.push_str("\n  ");
            text.push_str(line);
        }
    }
    text
}
