//! Runs a plan's Jobs on a cluster: creates them in dependency order (independent ones at
//! once, up to a limit), follows their pods' logs, waits for each to succeed or fail, fails
//! fast on pods that cannot start, and deletes the run's Jobs when cancelled.
//!
//! One task drives everything from two watches, on the run's Jobs and on its pods (both
//! selected by the run's labels), so that a run costs two watch connections however many
//! steps it has. Logs are followed by one task per pod and come back through a channel, so
//! that `on_line` is only ever called from the caller's task.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::io::AsyncBufReadExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::manifest::{
    CONTAINER_NAME, JobPlan, LABEL_MANAGED_BY, LABEL_PIPELINE, LABEL_RUN, MANAGED_BY,
};
use crate::settings::KubernetesSettings;

/// Container waiting reasons that mean the step will not start by itself: the run fails at
/// once instead of waiting for the deadline (ZenML's `fail_on_container_waiting_reasons`).
pub const FATAL_WAITING_REASONS: [&str; 4] = [
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
];

/// The label the Job controller puts on a Job's pods (and its older spelling).
const JOB_NAME_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];

/// Watch errors in a row (without an event in between) after which the run gives up.
const MAX_WATCH_ERRORS: u32 = 5;

/// How the runner behaves (not what the Jobs are: that is in the plan).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// How many steps' Jobs may exist unfinished at once (at least 1).
    pub max_parallel: usize,
    /// How long a pod may stay unschedulable before its step fails.
    pub unschedulable_timeout: Duration,
    /// After a Job finishes, how long to wait for the rest of its pod's logs before moving
    /// on (the log stream normally ends with the container).
    pub log_drain_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            max_parallel: 4,
            unschedulable_timeout: Duration::from_secs(
                crate::settings::DEFAULT_UNSCHEDULABLE_TIMEOUT_SECONDS,
            ),
            log_drain_timeout: Duration::from_secs(30),
        }
    }
}

impl RunOptions {
    /// The defaults, with the settings' unschedulable timeout.
    pub fn from_settings(settings: &KubernetesSettings) -> Self {
        Self {
            unschedulable_timeout: Duration::from_secs(settings.unschedulable_timeout_seconds),
            ..Self::default()
        }
    }
}

/// One line of a step's output (stdout and stderr together, as Kubernetes keeps them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub step: String,
    /// The line, without its line ending (invalid UTF-8 replaced).
    pub text: String,
}

impl std::fmt::Display for LogLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.step, self.text)
    }
}

/// A run in which every step succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSummary {
    /// The steps, in the order they finished.
    pub steps: Vec<StepOutcome>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepOutcome {
    pub step: String,
    pub job: String,
    /// The pods whose logs were followed.
    pub pods: Vec<String>,
    /// Why (some of) the step's logs could not be read, if they could not.
    pub log_error: Option<String>,
}

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepFailure {
    #[error("its container exited with status {code}{}", suffix(reason))]
    ExitCode {
        code: i32,
        /// The container's termination reason (`Error`, `OOMKilled`…).
        reason: Option<String>,
        pod: String,
    },
    #[error("its container cannot start: {reason}{}", suffix(message))]
    ContainerWaiting {
        /// One of [`FATAL_WAITING_REASONS`].
        reason: String,
        message: Option<String>,
        pod: String,
    },
    #[error("its pod stayed unschedulable for {} s: {message}", timeout.as_secs())]
    Unschedulable {
        /// The scheduler's explanation.
        message: String,
        timeout: Duration,
        pod: String,
    },
    #[error("it ran past its deadline (activeDeadlineSeconds){}", suffix(message))]
    DeadlineExceeded { message: Option<String> },
    #[error("its Job failed: {reason}{}", suffix(message))]
    JobFailed {
        reason: String,
        message: Option<String>,
    },
    #[error("its Job was deleted while it ran")]
    JobDeleted,
}

fn suffix(detail: &Option<String>) -> String {
    match detail {
        Some(text) if !text.is_empty() => format!(" ({text})"),
        _ => String::new(),
    }
}

/// Why a run did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum KubeRunError {
    #[error("step `{step}` (Job {job}) failed: {failure}{}", if *job_deleted { "; its Job was deleted" } else { "" })]
    StepFailed {
        step: String,
        job: String,
        failure: StepFailure,
        /// The runner deleted the Job (it would otherwise have waited forever).
        job_deleted: bool,
    },
    #[error("step `{step}`: creating Job {job}: {source}")]
    Create {
        step: String,
        job: String,
        source: kube::Error,
    },
    #[error(
        "watching the run's {what} failed: {source}; Jobs still running: {}",
        list(running)
    )]
    Watch {
        what: &'static str,
        source: watcher::Error,
        running: Vec<String>,
    },
    #[error(
        "cancelled; deleted Jobs: {}{}",
        list(deleted),
        not_deleted_suffix(not_deleted)
    )]
    Cancelled {
        /// The run's Jobs that were deleted (with foreground propagation: their pods go
        /// first), in the order they were created. Jobs already gone are not listed.
        deleted: Vec<String>,
        /// Jobs whose deletion failed, with why.
        not_deleted: Vec<(String, String)>,
    },
    #[error("the plan cannot run: {0}")]
    Plan(String),
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn not_deleted_suffix(failed: &[(String, String)]) -> String {
    failed
        .iter()
        .map(|(job, why)| format!("; could not delete {job}: {why}"))
        .collect()
}

impl KubeRunError {
    /// The failed step's container exit status, when it ran and exited.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            KubeRunError::StepFailed {
                failure: StepFailure::ExitCode { code, .. },
                ..
            } => Some(*code),
            _ => None,
        }
    }

    /// The step at fault, if one is.
    pub fn step(&self) -> Option<&str> {
        match self {
            KubeRunError::StepFailed { step, .. } | KubeRunError::Create { step, .. } => Some(step),
            _ => None,
        }
    }
}

#[derive(Debug, PartialEq)]
enum Phase {
    Pending,
    /// The Job exists and has not finished.
    Created,
    /// The Job finished; waiting for the rest of its logs.
    Draining {
        result: Result<(), StepFailure>,
        until: Instant,
    },
    Done,
    Failed,
}

struct StepState {
    plan: JobPlan,
    phase: Phase,
    /// Pods whose logs are followed (or were).
    logged_pods: BTreeSet<String>,
    /// This run created the Job (or asked to, when cancelled during the request): only
    /// such Jobs are deleted on cancel, never one that was there before (a name conflict).
    ours: bool,
    live_log_tasks: usize,
    log_error: Option<String>,
    /// Since when (the deadline, the scheduler's message, the pod) the pod is unschedulable.
    unschedulable: Option<(Instant, String, String)>,
}

impl StepState {
    fn unfinished(&self) -> bool {
        matches!(self.phase, Phase::Created | Phase::Draining { .. })
    }
}

enum LogMessage {
    Line(LogLine),
    Ended { step: usize, error: Option<String> },
}

/// Runs the plan's Jobs in `namespace` (each Job's own namespace is replaced by it).
///
/// Steps start when every step they run `after` has succeeded, at most
/// `options.max_parallel` at a time. Each step's pod logs go to `on_line` as they come.
/// The first failed step stops the run: no more Jobs are created, the running ones are
/// waited for, and its failure is returned. When `cancel` completes, every Job the run
/// created is deleted with foreground propagation and [`KubeRunError::Cancelled`] says
/// which.
pub async fn run_jobs(
    client: kube::Client,
    namespace: &str,
    jobs: Vec<JobPlan>,
    options: &RunOptions,
    on_line: impl Fn(LogLine),
    cancel: impl Future<Output = ()>,
) -> Result<RunSummary, KubeRunError> {
    let selector = check_plan(&jobs)?;
    let jobs_api: Api<Job> = Api::namespaced(client.clone(), namespace);
    let pods_api: Api<Pod> = Api::namespaced(client, namespace);
    let (log_tx, mut log_rx) = mpsc::unbounded_channel();
    let mut run = Run {
        steps: jobs
            .into_iter()
            .map(|mut plan| {
                plan.job.metadata.namespace = Some(namespace.to_string());
                StepState {
                    plan,
                    phase: Phase::Pending,
                    logged_pods: BTreeSet::new(),
                    ours: false,
                    live_log_tasks: 0,
                    log_error: None,
                    unschedulable: None,
                }
            })
            .collect(),
        jobs_api,
        pods_api,
        options: options.clone(),
        failure: None,
        finished: Vec::new(),
        log_tasks: JoinSet::new(),
        log_tx,
    };
    let by_job: BTreeMap<String, usize> = run
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.plan.job_name().to_string(), i))
        .collect();

    let config = watcher::Config::default().labels(&selector);
    let mut job_events =
        pin!(watcher::watcher(run.jobs_api.clone(), config.clone()).default_backoff());
    let mut pod_events = pin!(watcher::watcher(run.pods_api.clone(), config).default_backoff());
    let mut job_errors = 0;
    let mut pod_errors = 0;
    let mut cancel = pin!(cancel);

    let outcome = loop {
        if run.failure.is_none()
            && let Err(()) = run.launch_ready(cancel.as_mut()).await
        {
            break Err(run.cancel().await);
        }
        if !run.steps.iter().any(StepState::unfinished) {
            break match run.failure.take() {
                Some(error) => Err(error),
                None => Ok(()),
            };
        }
        let wake = run.next_deadline();
        tokio::select! {
            biased;
            () = cancel.as_mut() => break Err(run.cancel().await),
            Some(message) = log_rx.recv() => match message {
                LogMessage::Line(line) => on_line(line),
                LogMessage::Ended { step, error } => run.log_ended(step, error),
            },
            Some(event) = job_events.next() => match event {
                Ok(event) => {
                    job_errors = 0;
                    run.job_event(event, &by_job).await;
                }
                Err(error) => {
                    job_errors += 1;
                    if fatal_watch_error(&error, job_errors) {
                        break Err(run.watch_failed("Jobs", error));
                    }
                }
            },
            Some(event) = pod_events.next() => match event {
                Ok(event) => {
                    pod_errors = 0;
                    run.pod_event(event, &by_job).await;
                }
                Err(error) => {
                    pod_errors += 1;
                    if fatal_watch_error(&error, pod_errors) {
                        break Err(run.watch_failed("pods", error));
                    }
                }
            },
            () = tokio::time::sleep_until(wake.unwrap_or_else(far_future)), if wake.is_some() => {
                run.deadlines_passed().await;
            }
        }
    };
    // Lines already received still go out; the log tasks of steps that failed fast stop.
    run.log_tasks.abort_all();
    while let Ok(message) = log_rx.try_recv() {
        if let LogMessage::Line(line) = message {
            on_line(line);
        }
    }
    outcome.map(|()| RunSummary {
        steps: run.finished,
    })
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Authentication and authorisation refusals do not get better by retrying; anything else
/// gets a few tries (the watcher backs off between them).
fn fatal_watch_error(error: &watcher::Error, in_a_row: u32) -> bool {
    let refused = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => {
            status.code == 401 || status.code == 403
        }
        watcher::Error::WatchError(status) => status.code == 401 || status.code == 403,
        _ => false,
    };
    refused || in_a_row >= MAX_WATCH_ERRORS
}

/// Every `after` names an earlier Job of the plan, and all Jobs carry the same run labels;
/// returns the label selector of the run.
fn check_plan(jobs: &[JobPlan]) -> Result<String, KubeRunError> {
    let mut seen = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut selector: Option<String> = None;
    for plan in jobs {
        for after in &plan.after {
            if !seen.contains(after.as_str()) {
                return Err(KubeRunError::Plan(format!(
                    "step `{}` runs after `{after}`, which does not come before it",
                    plan.step
                )));
            }
        }
        if plan.job_name().is_empty() || !names.insert(plan.job_name()) {
            return Err(KubeRunError::Plan(format!(
                "step `{}` has no Job name, or one another step has",
                plan.step
            )));
        }
        let labels = plan.job.metadata.labels.clone().unwrap_or_default();
        let value = |key: &str| labels.get(key).cloned();
        let (Some(managed), Some(pipeline), Some(run)) = (
            value(LABEL_MANAGED_BY),
            value(LABEL_PIPELINE),
            value(LABEL_RUN),
        ) else {
            return Err(KubeRunError::Plan(format!(
                "the Job of step `{}` lacks Dockwright's run labels",
                plan.step
            )));
        };
        if managed != MANAGED_BY {
            return Err(KubeRunError::Plan(format!(
                "the Job of step `{}` is not managed by {MANAGED_BY}",
                plan.step
            )));
        }
        let this =
            format!("{LABEL_MANAGED_BY}={managed},{LABEL_PIPELINE}={pipeline},{LABEL_RUN}={run}");
        match &selector {
            Some(first) if *first != this => {
                return Err(KubeRunError::Plan(format!(
                    "the Job of step `{}` belongs to another run ({this}, not {first})",
                    plan.step
                )));
            }
            _ => selector = Some(this),
        }
        seen.insert(plan.step.as_str());
    }
    Ok(selector.unwrap_or_default())
}

struct Run {
    steps: Vec<StepState>,
    jobs_api: Api<Job>,
    pods_api: Api<Pod>,
    options: RunOptions,
    failure: Option<KubeRunError>,
    finished: Vec<StepOutcome>,
    log_tasks: JoinSet<()>,
    log_tx: mpsc::UnboundedSender<LogMessage>,
}

impl Run {
    /// Creates the Jobs of the steps whose dependencies all succeeded, in plan order, while
    /// there is room. `Err` when cancelled meanwhile.
    async fn launch_ready(
        &mut self,
        mut cancel: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), ()> {
        for index in 0..self.steps.len() {
            let in_flight = self.steps.iter().filter(|s| s.unfinished()).count();
            if in_flight >= self.options.max_parallel.max(1) {
                break;
            }
            let step = &self.steps[index];
            let ready = step.phase == Phase::Pending
                && step.plan.after.iter().all(|after| {
                    self.steps
                        .iter()
                        .any(|s| s.plan.step == *after && s.phase == Phase::Done)
                });
            if !ready {
                continue;
            }
            let job = step.plan.job.clone();
            // Marked created before the request: if cancelled meanwhile, its deletion is
            // attempted too (a Job that was never made is then simply not found).
            self.steps[index].phase = Phase::Created;
            self.steps[index].ours = true;
            let params = PostParams::default();
            let created = tokio::select! {
                biased;
                () = cancel.as_mut() => return Err(()),
                created = self.jobs_api.create(&params, &job) => created,
            };
            if let Err(source) = created {
                let step = &mut self.steps[index];
                step.phase = Phase::Failed;
                step.ours = false;
                self.failure.get_or_insert(KubeRunError::Create {
                    step: step.plan.step.clone(),
                    job: step.plan.job_name().to_string(),
                    source,
                });
                return Ok(());
            }
        }
        Ok(())
    }

    async fn job_event(&mut self, event: Event<Job>, by_job: &BTreeMap<String, usize>) {
        let (job, deleted) = match event {
            Event::Apply(job) | Event::InitApply(job) => (job, false),
            Event::Delete(job) => (job, true),
            Event::Init | Event::InitDone => return,
        };
        let Some(&index) = job.metadata.name.as_ref().and_then(|n| by_job.get(n)) else {
            return;
        };
        if self.steps[index].phase != Phase::Created {
            return;
        }
        if deleted {
            self.step_failed(index, StepFailure::JobDeleted, false);
            return;
        }
        let conditions = job
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let condition = |kind: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == kind && c.status == "True")
        };
        if condition("Complete").is_some() {
            let pods = self.job_pods(index).await;
            self.follow_started(index, &pods);
            let step = &mut self.steps[index];
            if step.logged_pods.is_empty() {
                step.log_error
                    .get_or_insert_with(|| "its pod was gone before its logs were read".into());
            }
            self.job_finished(index, Ok(()));
        } else if let Some(failed) = condition("Failed") {
            let reason = failed.reason.clone().unwrap_or_default();
            let message = failed.message.clone();
            let pods = self.job_pods(index).await;
            self.follow_started(index, &pods);
            let failure = if reason == "DeadlineExceeded" {
                StepFailure::DeadlineExceeded { message }
            } else {
                pods.iter()
                    .find_map(|pod| {
                        terminated(pod).map(|(code, why)| StepFailure::ExitCode {
                            code,
                            reason: why,
                            pod: pod.metadata.name.clone().unwrap_or_default(),
                        })
                    })
                    .unwrap_or(StepFailure::JobFailed { reason, message })
            };
            self.job_finished(index, Err(failure));
        }
    }

    async fn pod_event(&mut self, event: Event<Pod>, by_job: &BTreeMap<String, usize>) {
        let pod = match event {
            Event::Apply(pod) | Event::InitApply(pod) => pod,
            Event::Delete(_) | Event::Init | Event::InitDone => return,
        };
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let Some(&index) = JOB_NAME_LABELS
            .iter()
            .find_map(|key| labels.get(*key))
            .and_then(|job| by_job.get(job))
        else {
            return;
        };
        if !self.steps[index].unfinished() {
            return;
        }
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        self.follow_started(index, std::slice::from_ref(&pod));
        if self.steps[index].phase != Phase::Created {
            return;
        }
        if let Some(waiting) = container_status(&pod)
            .and_then(|c| c.state.as_ref())
            .and_then(|s| s.waiting.as_ref())
            && let Some(reason) = waiting.reason.as_deref()
            && FATAL_WAITING_REASONS.contains(&reason)
        {
            let failure = StepFailure::ContainerWaiting {
                reason: reason.to_string(),
                message: waiting.message.clone(),
                pod: pod_name,
            };
            self.fail_and_delete(index, failure).await;
            return;
        }
        let scheduled = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let step = &mut self.steps[index];
        match scheduled {
            Some(c) if c.status == "False" && c.reason.as_deref() == Some("Unschedulable") => {
                let message = c.message.clone().unwrap_or_default();
                let deadline = match &step.unschedulable {
                    Some((deadline, _, _)) => *deadline,
                    None => Instant::now() + self.options.unschedulable_timeout,
                };
                step.unschedulable = Some((deadline, message, pod_name));
            }
            _ => step.unschedulable = None,
        }
    }

    /// The earliest moment something must happen without an event: an unschedulable pod's
    /// timeout, or the end of a finished Job's log drain.
    fn next_deadline(&self) -> Option<Instant> {
        self.steps
            .iter()
            .filter_map(|s| match &s.phase {
                Phase::Created => s.unschedulable.as_ref().map(|u| u.0),
                Phase::Draining { until, .. } => Some(*until),
                _ => None,
            })
            .min()
    }

    async fn deadlines_passed(&mut self) {
        let now = Instant::now();
        for index in 0..self.steps.len() {
            let step = &self.steps[index];
            let unschedulable = match (&step.phase, &step.unschedulable) {
                (Phase::Created, Some((deadline, message, pod))) if *deadline <= now => {
                    Some((message.clone(), pod.clone()))
                }
                _ => None,
            };
            let drained = matches!(&step.phase, Phase::Draining { until, .. } if *until <= now);
            if let Some((message, pod)) = unschedulable {
                let failure = StepFailure::Unschedulable {
                    message,
                    timeout: self.options.unschedulable_timeout,
                    pod,
                };
                self.fail_and_delete(index, failure).await;
            } else if drained {
                let seconds = self.options.log_drain_timeout.as_secs();
                self.steps[index].log_error.get_or_insert_with(|| {
                    format!("the logs had not ended {seconds} s after the Job finished")
                });
                self.finish(index);
            }
        }
    }

    fn log_ended(&mut self, index: usize, error: Option<String>) {
        let step = &mut self.steps[index];
        step.live_log_tasks = step.live_log_tasks.saturating_sub(1);
        if let Some(error) = error {
            step.log_error.get_or_insert(error);
        }
        if step.live_log_tasks == 0 && matches!(step.phase, Phase::Draining { .. }) {
            self.finish(index);
        }
    }

    /// The Job finished: once its logs are in, the step is done (or failed).
    fn job_finished(&mut self, index: usize, result: Result<(), StepFailure>) {
        let step = &mut self.steps[index];
        step.unschedulable = None;
        step.phase = Phase::Draining {
            result,
            until: Instant::now() + self.options.log_drain_timeout,
        };
        if step.live_log_tasks == 0 {
            self.finish(index);
        }
    }

    fn finish(&mut self, index: usize) {
        let step = &mut self.steps[index];
        let Phase::Draining { result, .. } = std::mem::replace(&mut step.phase, Phase::Done) else {
            return;
        };
        match result {
            Ok(()) => self.finished.push(StepOutcome {
                step: step.plan.step.clone(),
                job: step.plan.job_name().to_string(),
                pods: step.logged_pods.iter().cloned().collect(),
                log_error: step.log_error.clone(),
            }),
            Err(failure) => self.step_failed(index, failure, false),
        }
    }

    fn step_failed(&mut self, index: usize, failure: StepFailure, job_deleted: bool) {
        let step = &mut self.steps[index];
        step.phase = Phase::Failed;
        step.unschedulable = None;
        self.failure.get_or_insert(KubeRunError::StepFailed {
            step: step.plan.step.clone(),
            job: step.plan.job_name().to_string(),
            failure,
            job_deleted,
        });
    }

    /// A step that will not get anywhere by itself: its Job is deleted (it would otherwise
    /// stay active until its deadline, if it has one) and the step fails.
    async fn fail_and_delete(&mut self, index: usize, failure: StepFailure) {
        let job = self.steps[index].plan.job_name().to_string();
        let deleted = self
            .jobs_api
            .delete(&job, &DeleteParams::foreground())
            .await
            .is_ok();
        self.step_failed(index, failure, deleted);
    }

    /// The pods of a step's Job, listed afresh (the pod watch may lag behind the Job's).
    async fn job_pods(&mut self, index: usize) -> Vec<Pod> {
        let job = self.steps[index].plan.job_name().to_string();
        let params = ListParams::default().labels(&format!("{}={job}", JOB_NAME_LABELS[0]));
        match self.pods_api.list(&params).await {
            Ok(list) => list.items,
            Err(error) => {
                self.steps[index]
                    .log_error
                    .get_or_insert(format!("listing the pods of Job {job}: {error}"));
                Vec::new()
            }
        }
    }

    /// Starts following the logs of those pods whose step container has started.
    fn follow_started(&mut self, index: usize, pods: &[Pod]) {
        for pod in pods {
            let started = container_status(pod)
                .and_then(|c| c.state.as_ref())
                .is_some_and(|s| s.running.is_some() || s.terminated.is_some());
            let Some(name) = pod.metadata.name.clone() else {
                continue;
            };
            let step = &mut self.steps[index];
            if !started || !step.logged_pods.insert(name.clone()) {
                continue;
            }
            step.live_log_tasks += 1;
            let api = self.pods_api.clone();
            let tx = self.log_tx.clone();
            let step_name = step.plan.step.clone();
            self.log_tasks.spawn(async move {
                let error = follow_logs(&api, &name, &step_name, &tx)
                    .await
                    .err()
                    .map(|e| format!("reading the logs of pod {name}: {e}"));
                let _ = tx.send(LogMessage::Ended { step: index, error });
            });
        }
    }

    /// Deletes every Job the run created, with foreground propagation.
    async fn cancel(&mut self) -> KubeRunError {
        let mut deleted = Vec::new();
        let mut not_deleted = Vec::new();
        for step in self.steps.iter().filter(|s| s.ours) {
            let job = step.plan.job_name().to_string();
            match self
                .jobs_api
                .delete(&job, &DeleteParams::foreground())
                .await
            {
                Ok(_) => deleted.push(job),
                Err(kube::Error::Api(status)) if status.is_not_found() => {}
                Err(error) => not_deleted.push((job, error.to_string())),
            }
        }
        KubeRunError::Cancelled {
            deleted,
            not_deleted,
        }
    }

    fn watch_failed(&self, what: &'static str, source: watcher::Error) -> KubeRunError {
        KubeRunError::Watch {
            what,
            source,
            running: self
                .steps
                .iter()
                .filter(|s| s.phase == Phase::Created)
                .map(|s| s.plan.job_name().to_string())
                .collect(),
        }
    }
}

fn container_status(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == CONTAINER_NAME)
}

/// The step container's exit status and reason, when it terminated.
fn terminated(pod: &Pod) -> Option<(i32, Option<String>)> {
    let status = container_status(pod)?;
    let terminated = status
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| status.last_state.as_ref()?.terminated.as_ref())?;
    Some((terminated.exit_code, terminated.reason.clone()))
}

/// Follows a pod's logs to their end (the container's), line by line.
async fn follow_logs(
    api: &Api<Pod>,
    pod: &str,
    step: &str,
    tx: &mpsc::UnboundedSender<LogMessage>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let params = LogParams {
        container: Some(CONTAINER_NAME.to_string()),
        follow: true,
        ..LogParams::default()
    };
    let reader = api.log_stream(pod, &params).await?;
    let mut reader = pin!(reader);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer).await? == 0 {
            return Ok(());
        }
        let line = buffer.strip_suffix(b"\n").unwrap_or(&buffer);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = LogLine {
            step: step.to_string(),
            text: String::from_utf8_lossy(line).into_owned(),
        };
        if tx.send(LogMessage::Line(line)).is_err() {
            return Ok(());
        }
    }
}
