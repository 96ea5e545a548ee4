//! Running one step as a container: create, start, stream its logs line by line to a
//! callback, wait for the exit code (a non-zero exit is a value, not an error), and remove the
//! container unless asked to keep it.

use std::collections::BTreeMap;
use std::fmt;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::error::{EngineError, engine_message};
use super::interrupt::Interrupt;
use super::progress::LineAssembler;

/// A named volume mounted into the container (the pipeline's shared artifact volume).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeMount {
    /// Volume name; the engine creates it on first use.
    pub volume: String,
    /// Where it appears inside the container.
    pub target: String,
}

/// What to run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The step's name: prefixes its log lines and labels the container.
    pub step: String,
    pub image: String,
    /// Replaces the image's `CMD` when not empty.
    pub command: Vec<String>,
    /// Environment variables; values are passed as they are (quotes, `$`, newlines included).
    pub env: BTreeMap<String, String>,
    pub volume: Option<VolumeMount>,
    pub working_dir: Option<String>,
    /// Container name; the engine picks one when `None`.
    pub name: Option<String>,
    /// Network to attach (`bridge` by default, `none`, `host`, ...).
    pub network_mode: Option<String>,
    /// Leave the container behind after it exits (for debugging).
    pub keep: bool,
    /// Labels besides `dockwright.step` (e.g. the pipeline and run, to find a run's
    /// containers).
    pub labels: BTreeMap<String, String>,
}

/// Which output stream a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line a step printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub step: String,
    pub stream: LogStream,
    /// The line, without its line ending.
    pub text: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.step, self.text)
    }
}

/// How a container ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerExit {
    /// The container's id (still there when `keep` was set).
    pub container_id: String,
    /// The process's exit code.
    pub code: i64,
}

impl ContainerExit {
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

/// Runs `spec` to completion on `docker` (a client with a long timeout), or until
/// `interrupt`: then the container is removed, kept or not.
pub(crate) async fn run_container(
    docker: &Docker,
    spec: &ContainerSpec,
    on_line: &mut (dyn FnMut(&LogLine) + Send),
    mut interrupt: Interrupt,
) -> Result<ContainerExit, EngineError> {
    if interrupt.is_set() {
        return Err(EngineError::Interrupted);
    }
    // Created whole even when interrupted meanwhile: a container the engine makes after
    // its request was dropped would be left behind.
    let id = create(docker, spec).await?;
    let outcome = tokio::select! {
        outcome = start_and_wait(docker, &id, spec, on_line) => outcome,
        () = interrupt.wait() => Err(EngineError::Interrupted),
    };
    let interrupted = matches!(outcome, Err(EngineError::Interrupted));
    if !spec.keep || interrupted {
        let removed = remove(docker, &id).await;
        // The step's own outcome matters more than a failed clean-up.
        if outcome.is_ok() {
            removed?;
        }
    }
    outcome.map(|code| ContainerExit {
        container_id: id,
        code,
    })
}

async fn create(docker: &Docker, spec: &ContainerSpec) -> Result<String, EngineError> {
    let mut options = CreateContainerOptionsBuilder::default();
    if let Some(name) = &spec.name {
        options = options.name(name);
    }
    let mounts = spec.volume.as_ref().map(|volume| {
        vec![Mount {
            typ: Some(MountType::VOLUME),
            source: Some(volume.volume.clone()),
            target: Some(volume.target.clone()),
            ..Default::default()
        }]
    });
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
        env: Some(
            spec.env
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect(),
        ),
        working_dir: spec.working_dir.clone(),
        labels: Some(
            spec.labels
                .clone()
                .into_iter()
                .chain([("dockwright.step".to_string(), spec.step.clone())])
                .collect(),
        ),
        host_config: Some(HostConfig {
            mounts,
            network_mode: spec.network_mode.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(Some(options.build()), body)
        .await
        .map(|created| created.id)
        .map_err(|error| EngineError::Request {
            action: format!("creating the container for step {}", spec.step),
            message: engine_message(&error),
        })
}

async fn start_and_wait(
    docker: &Docker,
    id: &str,
    spec: &ContainerSpec,
    on_line: &mut (dyn FnMut(&LogLine) + Send),
) -> Result<i64, EngineError> {
    let action = |what: &str| format!("{what} the container of step {}", spec.step);
    docker
        .start_container(id, None)
        .await
        .map_err(|error| EngineError::Request {
            action: action("starting"),
            message: engine_message(&error),
        })?;
    let read_logs = |error: bollard::errors::Error| EngineError::Request {
        action: action("reading the logs of"),
        message: engine_message(&error),
    };
    let streamed = stream_logs(docker, id, &spec.step, true, [0, 0], on_line)
        .await
        .map_err(read_logs)?;
    let code = wait(docker, id)
        .await
        .map_err(|error| EngineError::Request {
            action: action("waiting for"),
            message: engine_message(&error),
        })?;
    // A container that exits at once can end the followed stream before the engine has
    // written all of its output (seen with json-file logs under load): read the finished
    // logs once more and pass on whatever the stream missed.
    stream_logs(docker, id, &spec.step, false, streamed, on_line)
        .await
        .map_err(read_logs)?;
    Ok(code)
}

/// Reads the logs (following them until the container's output ends when `follow`), skipping
/// the first `skip` bytes of stdout and stderr already passed on; returns the bytes seen.
async fn stream_logs(
    docker: &Docker,
    id: &str,
    step: &str,
    follow: bool,
    skip: [usize; 2],
    on_line: &mut (dyn FnMut(&LogLine) + Send),
) -> Result<[usize; 2], bollard::errors::Error> {
    let mut seen = [0usize; 2];
    let options = LogsOptionsBuilder::default()
        .follow(follow)
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = docker.logs(id, Some(options));
    let mut stdout = LineAssembler::default();
    let mut stderr = LineAssembler::default();
    let mut emit = |stream: LogStream, text: String| {
        on_line(&LogLine {
            step: step.to_string(),
            stream,
            text,
        })
    };
    while let Some(chunk) = logs.next().await {
        let (stream, assembler, message, index) = match chunk? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                (LogStream::Stdout, &mut stdout, message, 0)
            }
            LogOutput::StdErr { message } => (LogStream::Stderr, &mut stderr, message, 1),
            LogOutput::StdIn { .. } => continue,
        };
        let start = seen[index];
        seen[index] += message.len();
        let fresh = skip[index].saturating_sub(start).min(message.len());
        let message = &message[fresh..];
        if message.is_empty() {
            continue;
        }
        for line in assembler.push(&String::from_utf8_lossy(message)) {
            emit(stream, line);
        }
    }
    for (stream, assembler) in [
        (LogStream::Stdout, &mut stdout),
        (LogStream::Stderr, &mut stderr),
    ] {
        if let Some(rest) = assembler.finish() {
            emit(stream, rest);
        }
    }
    Ok([seen[0].max(skip[0]), seen[1].max(skip[1])])
}

/// The exit code; bollard reports a non-zero one as an error, which is turned back into a value.
async fn wait(docker: &Docker, id: &str) -> Result<i64, bollard::errors::Error> {
    let options = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let mut waiting = docker.wait_container(id, Some(options));
    match waiting.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(error)) => Err(error),
        None => Err(bollard::errors::Error::DockerStreamError {
            error: "the engine ended the wait without an exit code".to_string(),
        }),
    }
}

async fn remove(docker: &Docker, id: &str) -> Result<(), EngineError> {
    // `force` also removes a container whose start failed; anonymous volumes go with it
    // (`v`), named volumes such as the artifact volume stay.
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    docker
        .remove_container(id, Some(options))
        .await
        .map_err(|error| EngineError::Request {
            action: format!("removing container {id}"),
            message: engine_message(&error),
        })
}
