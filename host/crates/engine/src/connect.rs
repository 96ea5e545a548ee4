//! Finding the Docker engine the way the Docker CLI does: `DOCKER_HOST` (unix://, tcp://,
//! tcp:// with TLS when `DOCKER_TLS_VERIFY` is set, https://, ssh://) or the default socket,
//! with certificates from `DOCKER_CERT_PATH` (default: the Docker config directory).

use std::path::PathBuf;
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};

use super::error::{EngineError, engine_message, reach_message};

/// Where the engine is when `DOCKER_HOST` is not set.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Short requests (inspect, list, tag): an engine that is up answers these at once.
pub(crate) const SHORT_TIMEOUT: Duration = Duration::from_secs(120);

/// Builds, pushes and container waits: bollard's timeout covers the wait for response
/// headers, which a build only sends once the whole context has arrived, and a step may run
/// for hours. A day is "no timeout" in practice while still ending a dead connection.
pub(crate) const LONG_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// How long the first ping may take before the engine counts as unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(30);

/// The engine address from the environment, as the Docker CLI reads it.
pub fn docker_host_from_env() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string())
}

/// Opens a client for `host` (no request is made yet).
pub(crate) fn client_for(host: &str) -> Result<Docker, EngineError> {
    let timeout = SHORT_TIMEOUT.as_secs();
    let unreachable = |error: bollard::errors::Error| EngineError::Unreachable {
        host: host.to_string(),
        reason: reach_message(&error),
    };
    if host.starts_with("unix://") {
        return Docker::connect_with_unix(host, timeout, API_DEFAULT_VERSION).map_err(unreachable);
    }
    if host.starts_with("ssh://") {
        return Docker::connect_with_ssh(host, timeout, API_DEFAULT_VERSION, None)
            .map_err(unreachable);
    }
    let tls =
        host.starts_with("https://") || (host.starts_with("tcp://") && tls_verify_requested());
    if tls {
        let certs = cert_dir();
        return Docker::connect_with_ssl(
            host,
            &certs.join("key.pem"),
            &certs.join("cert.pem"),
            &certs.join("ca.pem"),
            timeout,
            API_DEFAULT_VERSION,
        )
        .map_err(|error| EngineError::Unreachable {
            host: host.to_string(),
            reason: format!(
                "TLS certificates in {}: {}",
                certs.display(),
                engine_message(&error)
            ),
        });
    }
    if host.starts_with("tcp://") || host.starts_with("http://") {
        return Docker::connect_with_http(host, timeout, API_DEFAULT_VERSION).map_err(unreachable);
    }
    Err(EngineError::UnsupportedHost {
        host: host.to_string(),
    })
}

/// Checks that the engine answers, turning any failure into one clear sentence.
pub(crate) async fn ping(docker: &Docker, host: &str) -> Result<(), EngineError> {
    let unreachable = |reason: String| EngineError::Unreachable {
        host: host.to_string(),
        reason,
    };
    match tokio::time::timeout(PING_TIMEOUT, docker.ping()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(unreachable(reach_message(&error))),
        Err(_) => Err(unreachable(format!(
            "no answer within {} s",
            PING_TIMEOUT.as_secs()
        ))),
    }
}

/// The Docker CLI turns TLS on for any non-empty `DOCKER_TLS_VERIFY`.
fn tls_verify_requested() -> bool {
    std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|value| !value.is_empty())
}

/// `DOCKER_CERT_PATH`, else the Docker config directory (`DOCKER_CONFIG` or `~/.docker`).
fn cert_dir() -> PathBuf {
    if let Some(path) = std::env::var_os("DOCKER_CERT_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    dockwright_registry_auth::docker_config_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_schemes_are_named_in_the_error() {
        let error = client_for("gopher://engine").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("DOCKER_HOST=gopher://engine is not supported"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_socket_is_one_clear_sentence() {
        let error = client_for("unix:///nonexistent/docker.sock").unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("cannot reach the Docker engine at unix:///nonexistent/docker.sock: no socket at /nonexistent/docker.sock; is it running?"), "{text}");
    }
}
