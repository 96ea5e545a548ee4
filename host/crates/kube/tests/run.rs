//! `run_jobs` end to end with kube's own client against the fake API server
//! (`fake_apiserver/mod.rs`), one scripted behaviour per step: success, failure with an exit
//! status, a pod that cannot start, a deadline, an unschedulable pod, cancellation.
//!
//! No assertion depends on timing: orders are read from the server's timeline, and the
//! scripts wait for the client where a test needs them to. Each run is bounded by a
//! generous timeout only so that a bug fails the test instead of hanging it.

mod fake_apiserver;

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use dockwright_kube::{
    JobPlan, KubeRunError, KubernetesSettings, LogLine, RunIdentity, RunOptions, RunSummary,
    StepFailure, StepJob, client_from_kubeconfig, job_name, plan_jobs, run_jobs, run_selector,
};
use fake_apiserver::{FakeApiServer, Script};

const NAMESPACE: &str = "ml";
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn identity() -> RunIdentity {
    RunIdentity {
        pipeline: "mnist".into(),
        run_id: "r1".into(),
    }
}

fn job(step: &str) -> String {
    job_name("mnist", step, "r1")
}

/// The Jobs of steps given as (name, after).
fn plans(steps: &[(&str, &[&str])]) -> Vec<JobPlan> {
    let steps: Vec<StepJob> = steps
        .iter()
        .map(|(name, after)| StepJob {
            step: name.to_string(),
            image: format!("registry.test/mnist@{DIGEST}"),
            command: vec!["python".into(), "-m".into(), format!("pipeline.{name}")],
            environment: vec![],
            after: after.iter().map(|a| a.to_string()).collect(),
            pod_settings: None,
        })
        .collect();
    let settings = KubernetesSettings {
        namespace: NAMESPACE.into(),
        ..KubernetesSettings::default()
    };
    plan_jobs(&identity(), &steps, &settings).unwrap()
}

fn lines(step: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{step} line {i}")).collect()
}

struct Outcome {
    result: Result<RunSummary, KubeRunError>,
    lines: Vec<LogLine>,
}

async fn run_with(
    client: kube::Client,
    plans: Vec<JobPlan>,
    options: RunOptions,
    cancel: impl Future<Output = ()>,
    on_line: impl Fn(&LogLine),
) -> Outcome {
    let collected = Mutex::new(Vec::new());
    let run = run_jobs(
        client,
        NAMESPACE,
        plans,
        &options,
        |line| {
            on_line(&line);
            collected.lock().unwrap().push(line);
        },
        cancel,
    );
    let result = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the run did not end (a bug: nothing here waits on time)");
    Outcome {
        result,
        lines: collected.into_inner().unwrap(),
    }
}

async fn run(server: &FakeApiServer, plans: Vec<JobPlan>, options: RunOptions) -> Outcome {
    run_with(
        server.client(),
        plans,
        options,
        std::future::pending(),
        |_| {},
    )
    .await
}

fn texts<'a>(lines: &'a [LogLine], step: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|l| l.step == step)
        .map(|l| l.text.as_str())
        .collect()
}

fn position(timeline: &[String], entry: &str) -> usize {
    timeline
        .iter()
        .position(|e| e == entry)
        .unwrap_or_else(|| panic!("{entry:?} not in {timeline:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_runs_in_dependency_order_with_independent_steps_together() {
    let server = FakeApiServer::start([
        (
            "prepare",
            Script::Succeed {
                logs: lines("prepare", 3),
            },
        ),
        // `train` ends only once `evaluate` exists: they must run at the same time.
        (
            "train",
            Script::SucceedOnceCreated {
                logs: lines("train", 2),
                other: "evaluate".into(),
            },
        ),
        (
            "evaluate",
            Script::Succeed {
                logs: lines("evaluate", 2),
            },
        ),
        (
            "report",
            Script::Succeed {
                logs: lines("report", 1),
            },
        ),
    ])
    .await;
    let plans = plans(&[
        ("prepare", &[]),
        ("train", &["prepare"]),
        ("evaluate", &["prepare"]),
        ("report", &["train", "evaluate"]),
    ]);
    let outcome = run(&server, plans, RunOptions::default()).await;

    let summary = outcome.result.unwrap();
    let finished: Vec<&str> = summary.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(finished.len(), 4, "{finished:?}");
    assert_eq!((finished[0], finished[3]), ("prepare", "report"));
    for step in &summary.steps {
        assert_eq!(step.job, job(&step.step));
        assert_eq!(step.pods.len(), 1, "{step:?}");
        assert_eq!(step.log_error, None);
    }

    assert_eq!(
        server.created_jobs(),
        [job("prepare"), job("train"), job("evaluate"), job("report")]
    );
    let timeline = server.timeline();
    let at = |entry: String| position(&timeline, &entry);
    let complete = |step: &str| at(format!("Complete {}", job(step)));
    let created = |step: &str| at(format!("POST job {}", job(step)));
    assert!(created("train") > complete("prepare"));
    assert!(created("evaluate") > complete("prepare"));
    assert!(created("report") > complete("train"));
    assert!(created("report") > complete("evaluate"));
    assert!(server.deleted_jobs().is_empty());

    // Every line, prefixed by its step, in order; a step's lines all come before its
    // dependants start.
    for (step, n) in [("prepare", 3), ("train", 2), ("evaluate", 2), ("report", 1)] {
        assert_eq!(texts(&outcome.lines, step), lines(step, n));
    }
    let last_prepare = outcome
        .lines
        .iter()
        .rposition(|l| l.step == "prepare")
        .unwrap();
    let first_report = outcome
        .lines
        .iter()
        .position(|l| l.step == "report")
        .unwrap();
    assert_eq!(last_prepare, 2);
    assert_eq!(first_report, outcome.lines.len() - 1);
    assert_eq!(outcome.lines[0].to_string(), "[prepare] prepare line 1");

    // What kube-runtime's watcher sent, which the fake answers as a real server would.
    let requests = server.requests();
    let selector = run_selector(&identity());
    let job_lists: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/apis/batch/v1/namespaces/ml/jobs")
        .collect();
    let list = job_lists
        .iter()
        .find(|r| !r.query.contains_key("watch"))
        .expect("an initial list");
    assert_eq!(list.query.get("labelSelector"), Some(&selector));
    // A consistent read (no resourceVersion), paged, then a watch from its resourceVersion.
    assert_eq!(list.query.get("resourceVersion"), None);
    assert_eq!(list.query.get("limit").map(String::as_str), Some("500"));
    let watch = job_lists
        .iter()
        .find(|r| r.query.get("watch").map(String::as_str) == Some("true"))
        .expect("a watch");
    assert_eq!(watch.query.get("labelSelector"), Some(&selector));
    assert_eq!(
        watch.query.get("allowWatchBookmarks").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        watch.query.get("timeoutSeconds").map(String::as_str),
        Some("290")
    );
    assert!(watch.query.contains_key("resourceVersion"));
    let logs: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("/log"))
        .collect();
    assert_eq!(logs.len(), 4);
    for request in logs {
        assert_eq!(
            request.query.get("follow").map(String::as_str),
            Some("true")
        );
        assert_eq!(
            request.query.get("container").map(String::as_str),
            Some("step")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_parallel_one_runs_independent_steps_one_after_the_other() {
    let server = FakeApiServer::start([
        (
            "a",
            Script::Succeed {
                logs: lines("a", 1),
            },
        ),
        (
            "b",
            Script::Succeed {
                logs: lines("b", 1),
            },
        ),
        (
            "c",
            Script::Succeed {
                logs: lines("c", 1),
            },
        ),
    ])
    .await;
    let options = RunOptions {
        max_parallel: 1,
        ..RunOptions::default()
    };
    let outcome = run(
        &server,
        plans(&[("a", &[]), ("b", &[]), ("c", &[])]),
        options,
    )
    .await;
    outcome.result.unwrap();
    let timeline = server.timeline();
    let at = |entry: String| position(&timeline, &entry);
    assert!(at(format!("POST job {}", job("b"))) > at(format!("Complete {}", job("a"))));
    assert!(at(format!("POST job {}", job("c"))) > at(format!("Complete {}", job("b"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_stops_the_run_with_its_exit_status() {
    let server = FakeApiServer::start([
        (
            "prepare",
            Script::Succeed {
                logs: lines("prepare", 1),
            },
        ),
        (
            "train",
            Script::Fail {
                logs: vec![
                    "Traceback (most recent call last):".into(),
                    "ValueError: bad".into(),
                ],
                exit_code: 3,
            },
        ),
        ("evaluate", Script::Succeed { logs: vec![] }),
        ("report", Script::Succeed { logs: vec![] }),
    ])
    .await;
    let plans = plans(&[
        ("prepare", &[]),
        ("train", &["prepare"]),
        ("evaluate", &["train"]),
        ("report", &["evaluate"]),
    ]);
    let outcome = run(&server, plans, RunOptions::default()).await;

    let error = outcome.result.unwrap_err();
    assert_eq!(error.exit_code(), Some(3));
    assert_eq!(error.step(), Some("train"));
    match &error {
        KubeRunError::StepFailed {
            step,
            job: name,
            failure: StepFailure::ExitCode { code, reason, pod },
            job_deleted,
        } => {
            assert_eq!((step.as_str(), *code), ("train", 3));
            assert_eq!(name, &job("train"));
            assert_eq!(reason.as_deref(), Some("Error"));
            assert!(pod.starts_with(&job("train")), "{pod}");
            assert!(!job_deleted);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        error.to_string().contains("exited with status 3"),
        "{error}"
    );
    // Its dependants were never created.
    assert_eq!(server.created_jobs(), [job("prepare"), job("train")]);
    assert_eq!(
        texts(&outcome.lines, "train"),
        ["Traceback (most recent call last):", "ValueError: bad"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_be_pulled_fails_fast_and_its_job_is_deleted() {
    let message = format!("Back-off pulling image \"registry.test/mnist@{DIGEST}\"");
    let server = FakeApiServer::start([
        ("prepare", Script::Succeed { logs: vec![] }),
        (
            "train",
            Script::Waiting {
                reason: "ImagePullBackOff".into(),
                message: message.clone(),
            },
        ),
        ("evaluate", Script::Succeed { logs: vec![] }),
    ])
    .await;
    let plans = plans(&[
        ("prepare", &[]),
        ("train", &["prepare"]),
        ("evaluate", &["train"]),
    ]);
    let outcome = run(&server, plans, RunOptions::default()).await;

    match outcome.result.unwrap_err() {
        KubeRunError::StepFailed {
            step,
            failure:
                StepFailure::ContainerWaiting {
                    reason, message: m, ..
                },
            job_deleted,
            ..
        } => {
            assert_eq!(step, "train");
            assert_eq!(reason, "ImagePullBackOff");
            assert_eq!(m.as_deref(), Some(message.as_str()));
            assert!(job_deleted);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server.deleted_jobs(),
        [(job("train"), Some("Foreground".to_string()))]
    );
    assert_eq!(server.created_jobs(), [job("prepare"), job("train")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fatal_waiting_reason_fails_fast() {
    for reason in [
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
    ] {
        let server = FakeApiServer::start([(
            "train",
            Script::Waiting {
                reason: reason.into(),
                message: "secret \"hf-token\" not found".into(),
            },
        )])
        .await;
        let outcome = run(&server, plans(&[("train", &[])]), RunOptions::default()).await;
        match outcome.result.unwrap_err() {
            KubeRunError::StepFailed {
                failure: StepFailure::ContainerWaiting { reason: got, .. },
                ..
            } => assert_eq!(got, reason),
            other => panic!("{reason}: {other:?}"),
        }
        assert_eq!(server.deleted_jobs().len(), 1, "{reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_exceeded_fails_the_step_after_its_logs() {
    let server = FakeApiServer::start([
        (
            "train",
            Script::DeadlineExceeded {
                logs: vec!["epoch 1/10".into(), "epoch 2/10".into()],
            },
        ),
        ("evaluate", Script::Succeed { logs: vec![] }),
    ])
    .await;
    let outcome = run(
        &server,
        plans(&[("train", &[]), ("evaluate", &["train"])]),
        RunOptions::default(),
    )
    .await;
    let error = outcome.result.unwrap_err();
    match &error {
        KubeRunError::StepFailed {
            step,
            failure: StepFailure::DeadlineExceeded { message },
            job_deleted,
            ..
        } => {
            assert_eq!(step, "train");
            assert_eq!(
                message.as_deref(),
                Some("Job was active longer than specified deadline")
            );
            assert!(!job_deleted);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(error.exit_code(), None);
    assert_eq!(texts(&outcome.lines, "train"), ["epoch 1/10", "epoch 2/10"]);
    assert_eq!(server.created_jobs(), [job("train")]);
    assert!(server.deleted_jobs().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_unschedulable_beyond_the_timeout_fails_with_the_schedulers_reason() {
    let server = FakeApiServer::start([
        ("train", Script::Unschedulable),
        ("evaluate", Script::Succeed { logs: vec![] }),
    ])
    .await;
    let options = RunOptions {
        unschedulable_timeout: Duration::ZERO,
        ..RunOptions::default()
    };
    let outcome = run(
        &server,
        plans(&[("train", &[]), ("evaluate", &["train"])]),
        options,
    )
    .await;
    match outcome.result.unwrap_err() {
        KubeRunError::StepFailed {
            step,
            failure: StepFailure::Unschedulable {
                message, timeout, ..
            },
            job_deleted,
            ..
        } => {
            assert_eq!(step, "train");
            assert!(
                message.contains("3 Insufficient nvidia.com/gpu"),
                "{message}"
            );
            assert_eq!(timeout, Duration::ZERO);
            assert!(job_deleted);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server.deleted_jobs(),
        [(job("train"), Some("Foreground".to_string()))]
    );
    assert_eq!(server.created_jobs(), [job("train")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_scheduled_within_the_timeout_runs() {
    let server = FakeApiServer::start([(
        "train",
        Script::UnschedulableThenSucceed {
            logs: lines("train", 1),
        },
    )])
    .await;
    let outcome = run(&server, plans(&[("train", &[])]), RunOptions::default()).await;
    outcome.result.unwrap();
    assert_eq!(texts(&outcome.lines, "train"), lines("train", 1));
    assert!(server.deleted_jobs().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_deletes_the_runs_jobs_with_foreground_propagation() {
    let server = FakeApiServer::start([
        (
            "prepare",
            Script::Succeed {
                logs: lines("prepare", 1),
            },
        ),
        (
            "train",
            Script::RunUntilDeleted {
                logs: vec!["epoch 1/10".into()],
            },
        ),
        ("evaluate", Script::Succeed { logs: vec![] }),
    ])
    .await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = Mutex::new(Some(tx));
    // Ctrl-C once `train` is visibly running.
    let cancel = async {
        let _ = rx.await;
    };
    let outcome = run_with(
        server.client(),
        plans(&[
            ("prepare", &[]),
            ("train", &["prepare"]),
            ("evaluate", &["train"]),
        ]),
        RunOptions::default(),
        cancel,
        |line| {
            if line.text == "epoch 1/10"
                && let Some(tx) = tx.lock().unwrap().take()
            {
                let _ = tx.send(());
            }
        },
    )
    .await;
    match outcome.result.unwrap_err() {
        KubeRunError::Cancelled {
            deleted,
            not_deleted,
        } => {
            assert_eq!(deleted, [job("prepare"), job("train")]);
            assert!(not_deleted.is_empty(), "{not_deleted:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server.deleted_jobs(),
        [
            (job("prepare"), Some("Foreground".to_string())),
            (job("train"), Some("Foreground".to_string()))
        ]
    );
    assert_eq!(server.created_jobs(), [job("prepare"), job("train")]);
    assert_eq!(texts(&outcome.lines, "train"), ["epoch 1/10"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_before_anything_ran_deletes_nothing() {
    let server = FakeApiServer::start([("train", Script::Succeed { logs: vec![] })]).await;
    let outcome = run_with(
        server.client(),
        plans(&[("train", &[])]),
        RunOptions::default(),
        std::future::ready(()),
        |_| {},
    )
    .await;
    match outcome.result.unwrap_err() {
        KubeRunError::Cancelled { deleted, .. } => assert!(deleted.is_empty()),
        other => panic!("{other:?}"),
    }
    assert!(server.created_jobs().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_cannot_be_created_fails_the_run_naming_the_step() {
    let server = FakeApiServer::start([
        ("prepare", Script::Succeed { logs: vec![] }),
        ("train", Script::Succeed { logs: vec![] }),
        ("evaluate", Script::Succeed { logs: vec![] }),
    ])
    .await;
    server.insert_job(NAMESPACE, &job("train"));
    let plans = plans(&[
        ("prepare", &[]),
        ("train", &["prepare"]),
        ("evaluate", &["train"]),
    ]);
    let outcome = run(&server, plans, RunOptions::default()).await;
    match outcome.result.unwrap_err() {
        KubeRunError::Create {
            step,
            job: name,
            source: kube::Error::Api(status),
        } => {
            assert_eq!((step.as_str(), name), ("train", job("train")));
            assert_eq!(status.code, 409);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.created_jobs(), [job("prepare"), job("train")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_context_selects_the_cluster() {
    let server = FakeApiServer::start([(
        "train",
        Script::Succeed {
            logs: lines("train", 1),
        },
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path());
    for context in [None, Some("fake")] {
        let client = client_from_kubeconfig(&kubeconfig, context).await.unwrap();
        assert_eq!(client.default_namespace(), "ml");
    }
    let client = client_from_kubeconfig(&kubeconfig, Some("fake"))
        .await
        .unwrap();
    let outcome = run_with(
        client,
        plans(&[("train", &[])]),
        RunOptions::default(),
        std::future::pending(),
        |_| {},
    )
    .await;
    outcome.result.unwrap();
    assert_eq!(texts(&outcome.lines, "train"), lines("train", 1));
    assert_eq!(server.created_jobs(), [job("train")]);
    // The kubeconfig user's token went with the requests.
    let requests = server.requests();
    assert!(!requests.is_empty());
    for request in requests {
        assert_eq!(
            request.authorization.as_deref(),
            Some("Bearer not-a-secret")
        );
    }
    let Err(missing) = client_from_kubeconfig(&kubeconfig, Some("nope")).await else {
        panic!("a context that is not in the kubeconfig");
    };
    assert!(missing.to_string().contains("nope"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_that_cannot_run_are_refused_before_any_request() {
    let server = FakeApiServer::start([]).await;
    // A step listed before one it runs after.
    let mut backwards = plans(&[("prepare", &[]), ("train", &["prepare"])]);
    backwards.reverse();
    // Jobs of two runs.
    let mut mixed = plans(&[("prepare", &[])]);
    let other_run = RunIdentity {
        pipeline: "mnist".into(),
        run_id: "r2".into(),
    };
    let settings = KubernetesSettings::default();
    let other = plan_jobs(
        &other_run,
        &[StepJob {
            step: "train".into(),
            image: format!("registry.test/mnist@{DIGEST}"),
            command: vec![],
            environment: vec![],
            after: vec![],
            pod_settings: None,
        }],
        &settings,
    )
    .unwrap();
    mixed.extend(other);
    for plans in [backwards, mixed] {
        let outcome = run(&server, plans, RunOptions::default()).await;
        assert!(
            matches!(outcome.result, Err(KubeRunError::Plan(_))),
            "{:?}",
            outcome.result
        );
    }
    assert!(server.requests().is_empty());
}

/// Compiles only if a run can be spawned on a multi-threaded runtime (with a `Send` line
/// callback and cancel future).
#[allow(dead_code)]
fn the_run_future_is_send(client: kube::Client) {
    fn assert_send<T: Send>(_: T) {}
    assert_send(run_jobs(
        client,
        NAMESPACE,
        Vec::new(),
        &RunOptions::default(),
        |_line: LogLine| {},
        std::future::pending::<()>(),
    ));
}
