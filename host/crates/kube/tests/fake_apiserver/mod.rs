//! A fake Kubernetes API server on 127.0.0.1 that speaks the real HTTP API for the calls
//! `dockwright-kube` makes, so that its tests use kube's own `Client` end to end:
//!
//! - `POST   /apis/batch/v1/namespaces/{ns}/jobs` creates a Job (409 if it exists, 422 if
//!   its name or restartPolicy would be refused), then a "controller" plays the step's
//!   [`Script`]: it creates the Job's pod and moves it and the Job through their states as
//!   the Job controller and kubelet would (pod `Pending` → `Running` → terminated, Job
//!   conditions `SuccessCriteriaMet`/`Complete` or `FailureTarget`/`Failed`).
//! - `GET    .../jobs` and `GET /api/v1/namespaces/{ns}/pods`: lists (`labelSelector` and
//!   `fieldSelector` with `=`, `==`, `!=`, existence) carrying the current
//!   `metadata.resourceVersion`; with `watch=true`, a watch stream: newline-separated JSON
//!   events `ADDED`/`MODIFIED`/`DELETED` after the given `resourceVersion` (for `0` or none:
//!   the current objects as `ADDED` first), one `BOOKMARK` after catching up when
//!   `allowWatchBookmarks=true`, ended after `timeoutSeconds` like a real server. This is
//!   what kube-runtime 5's `watcher` with its default config needs: a list with
//!   `limit=500` and no `resourceVersion` (`ListSemantic::MostRecent`, a consistent read),
//!   then a watch from the list's `metadata.resourceVersion` with
//!   `allowWatchBookmarks=true&timeoutSeconds=290`, resumed from the last event's or
//!   bookmark's resourceVersion when the server ends it. (`continue` paging is not
//!   implemented: a test never has 500 objects.)
//! - `GET    .../jobs/{name}`, `DELETE .../jobs/{name}` (the `DeleteOptions` body's
//!   `propagationPolicy` is recorded; the Job comes back with a deletion timestamp and the
//!   `foregroundDeletion` finalizer, then its pods and itself are deleted, with events).
//! - `GET    /api/v1/namespaces/{ns}/pods/{name}/log?container=step&follow=true`: 400
//!   while the container is waiting (as the kubelet answers), else the lines so far and,
//!   when following, the rest until the container ends.
//!
//! Every request is recorded ([`FakeApiServer::requests`]), and so is a timeline of
//! requests and controller transitions ([`FakeApiServer::timeline`]) for assertions on
//! order. Nothing waits on a clock: each scripted transition follows the previous one at
//! once, except where a script waits for the client (its logs read, its Job deleted).

#![allow(dead_code)] // each test file uses a part

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

type Body = UnsyncBoxBody<Bytes, Infallible>;

const TIME: &str = "2026-11-01T10:00:00Z";

/// What a step's pod does once its Job is created. Scripts are keyed by the pod template's
/// `dockwright.io/step` label.
#[derive(Clone, Debug)]
pub enum Script {
    /// Runs, prints `logs`, exits 0.
    Succeed { logs: Vec<String> },
    /// Runs, prints `logs`, exits with `exit_code`.
    Fail { logs: Vec<String>, exit_code: i32 },
    /// The container never starts: it waits with `reason` (`ImagePullBackOff`…).
    Waiting { reason: String, message: String },
    /// Runs, prints `logs`; once the client has read them, the Job's deadline passes: the
    /// pod is killed and deleted, the Job fails with `DeadlineExceeded`.
    DeadlineExceeded { logs: Vec<String> },
    /// The pod is never scheduled (`PodScheduled=False`, reason `Unschedulable`).
    Unschedulable,
    /// Unschedulable first, then scheduled, then as `Succeed`.
    UnschedulableThenSucceed { logs: Vec<String> },
    /// Runs, prints `logs`, and keeps running until its Job is deleted.
    RunUntilDeleted { logs: Vec<String> },
    /// Runs, prints `logs`, and exits 0 only once the Job of step `other` has been created:
    /// a run that does not start independent steps together never ends.
    SucceedOnceCreated { logs: Vec<String>, other: String },
}

/// One HTTP request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub authorization: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Job,
    Pod,
}

#[derive(Clone)]
struct StoredEvent {
    rv: u64,
    kind: Kind,
    namespace: String,
    kind_of_change: &'static str,
    object: Value,
}

#[derive(Default)]
struct PodLog {
    lines: Vec<String>,
    /// The container ended: followers get the rest and the stream closes.
    ended: bool,
    /// The most lines any request has been sent.
    delivered: usize,
}

#[derive(Default)]
struct State {
    rv: u64,
    uid: u64,
    jobs: BTreeMap<(String, String), Value>,
    pods: BTreeMap<(String, String), Value>,
    logs: BTreeMap<(String, String), PodLog>,
    events: Vec<StoredEvent>,
    requests: Vec<Recorded>,
    timeline: Vec<String>,
    scripts: BTreeMap<String, Script>,
    /// The step labels of the Jobs created so far.
    created_steps: Vec<String>,
}

struct Shared {
    state: Mutex<State>,
    /// Bumped on every change, for watches, log followers and scripts waiting on the
    /// client.
    changed: watch::Sender<u64>,
}

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let result = f(&mut self.state.lock().unwrap());
        self.changed.send_modify(|n| *n += 1);
        result
    }

    /// Waits until `ready` holds.
    async fn until(&self, mut ready: impl FnMut(&State) -> bool) {
        let mut rx = self.changed.subscribe();
        loop {
            if ready(&self.state.lock().unwrap()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

impl State {
    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn next_uid(&mut self) -> String {
        self.uid += 1;
        format!("00000000-0000-4000-8000-{:012}", self.uid)
    }

    fn store(&mut self, kind: Kind, mut object: Value, change: &'static str) {
        let rv = self.next_rv();
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap()
            .to_string();
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let map = match kind {
            Kind::Job => &mut self.jobs,
            Kind::Pod => &mut self.pods,
        };
        if change == "DELETED" {
            map.remove(&(namespace.clone(), name));
        } else {
            map.insert((namespace.clone(), name), object.clone());
        }
        self.events.push(StoredEvent {
            rv,
            kind,
            namespace,
            kind_of_change: change,
            object,
        });
    }
}

/// The running fake server; stops when dropped.
pub struct FakeApiServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FakeApiServer {
    /// Starts a server whose Jobs behave as `scripts` says, by step label value.
    pub async fn start(scripts: impl IntoIterator<Item = (&'static str, Script)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                scripts: scripts
                    .into_iter()
                    .map(|(step, script)| (step.to_string(), script))
                    .collect(),
                ..State::default()
            }),
            changed: watch::channel(0).0,
        });
        let for_accept = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = for_accept.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeApiServer {
            addr,
            shared,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this server, with `namespace` as its default.
    pub fn client(&self) -> kube::Client {
        let mut config = kube::Config::new(self.url().parse().unwrap());
        config.default_namespace = "default".into();
        kube::Client::try_from(config).unwrap()
    }

    /// A kubeconfig file with two contexts: `fake` (this server, namespace `ml`, the
    /// current one) and `elsewhere` (a closed port).
    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters:\n\
             - name: fake\n  cluster:\n    server: {}\n\
             - name: elsewhere\n  cluster:\n    server: http://127.0.0.1:9\n\
             contexts:\n\
             - name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: ml\n\
             - name: elsewhere\n  context:\n    cluster: elsewhere\n    user: tester\n\
             users:\n- name: tester\n  user:\n    token: not-a-secret\n",
            self.url()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    /// Requests and controller transitions in the order they happened, e.g.
    /// `POST job mnist-train-r1`, `Complete mnist-train-r1`, `DELETE job mnist-train-r1`.
    pub fn timeline(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().timeline.clone()
    }

    /// The names of the Jobs created, in order.
    pub fn created_jobs(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/jobs"))
            .filter_map(|r| Some(r.body.as_ref()?["metadata"]["name"].as_str()?.to_string()))
            .collect()
    }

    /// The DELETE requests for Jobs: (name, propagationPolicy).
    pub fn deleted_jobs(&self) -> Vec<(String, Option<String>)> {
        self.requests()
            .iter()
            .filter(|r| r.method == "DELETE")
            .map(|r| {
                let name = r.path.rsplit('/').next().unwrap().to_string();
                let policy = r
                    .body
                    .as_ref()
                    .and_then(|b| b["propagationPolicy"].as_str().map(str::to_string))
                    .or_else(|| r.query.get("propagationPolicy").cloned());
                (name, policy)
            })
            .collect()
    }

    /// Whether a Job exists now.
    pub fn job_exists(&self, namespace: &str, name: &str) -> bool {
        self.shared
            .state
            .lock()
            .unwrap()
            .jobs
            .contains_key(&(namespace.to_string(), name.to_string()))
    }

    /// Puts a Job there as if someone else had created it.
    pub fn insert_job(&self, namespace: &str, name: &str) {
        self.shared.with(|state| {
            let uid = state.next_uid();
            let job = json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": name, "namespace": namespace, "uid": uid, "creationTimestamp": TIME},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "x", "image": "x"}]}}}
            });
            state.store(Kind::Job, job, "ADDED");
        });
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    json_response(
        code,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason, "code": code.as_u16()
        }),
    )
}

fn json_response(code: StatusCode, value: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())).boxed_unsync())
        .unwrap()
}

/// A streamed response fed by the returned sender; the stream ends when it is dropped, and
/// sends fail once the client has gone.
fn streamed(content_type: &str) -> (Response<Body>, mpsc::Sender<Bytes>) {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), rx))
    });
    let response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .body(BodyExt::boxed_unsync(StreamBody::new(stream)))
        .unwrap();
    (response, tx)
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query: BTreeMap<String, String> = request
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = request.into_body().collect().await.unwrap().to_bytes();
    let body: Option<Value> = if bytes.is_empty() {
        None
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(value) => Some(value),
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
        }
    };
    shared.with(|state| {
        let name = body
            .as_ref()
            .and_then(|b| b["metadata"]["name"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| path.rsplit('/').next().unwrap_or_default().to_string());
        let what = match (&method, path.contains("/jobs")) {
            (&Method::POST, true) => format!("POST job {name}"),
            (&Method::DELETE, true) => format!("DELETE job {name}"),
            _ => format!("{method} {path}"),
        };
        state.timeline.push(what);
        state.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
            authorization,
        });
    });

    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (&Method::POST, ["apis", "batch", "v1", "namespaces", ns, "jobs"]) => {
            create_job(&shared, ns, body)
        }
        (&Method::GET, ["apis", "batch", "v1", "namespaces", ns, "jobs"]) => {
            collection(&shared, Kind::Job, ns, &query)
        }
        (&Method::GET, ["apis", "batch", "v1", "namespaces", ns, "jobs", name]) => {
            let state = shared.state.lock().unwrap();
            match state.jobs.get(&(ns.to_string(), name.to_string())) {
                Some(job) => json_response(StatusCode::OK, job),
                None => not_found("jobs.batch", name),
            }
        }
        (&Method::DELETE, ["apis", "batch", "v1", "namespaces", ns, "jobs", name]) => {
            delete_job(&shared, ns, name)
        }
        (&Method::GET, ["api", "v1", "namespaces", ns, "pods"]) => {
            collection(&shared, Kind::Pod, ns, &query)
        }
        (&Method::GET, ["api", "v1", "namespaces", ns, "pods", name, "log"]) => {
            pod_log(&shared, ns, name, &query)
        }
        _ => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("the fake API server does not serve {method} {path}"),
        ),
    }
}

fn not_found(resource: &str, name: &str) -> Response<Body> {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{resource} \"{name}\" not found"),
    )
}

fn create_job(shared: &Arc<Shared>, ns: &str, body: Option<Value>) -> Response<Body> {
    let Some(mut job) = body else {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "no body");
    };
    if job["apiVersion"] != "batch/v1" || job["kind"] != "Job" {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "not a batch/v1 Job");
    }
    let name = job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body_ns = job["metadata"]["namespace"].as_str().unwrap_or(ns);
    if body_ns != ns {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        );
    }
    // What the API server checks that matters here: the name becomes a pod label value.
    let valid_name = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    let restart = job["spec"]["template"]["spec"]["restartPolicy"].as_str();
    if !valid_name || !matches!(restart, Some("Never" | "OnFailure")) {
        return status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            &format!("Job.batch \"{name}\" is invalid"),
        );
    }
    let step = job["spec"]["template"]["metadata"]["labels"]["dockwright.io/step"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let created = shared.with(|state| {
        if state.jobs.contains_key(&(ns.to_string(), name.clone())) {
            return None;
        }
        let uid = state.next_uid();
        let meta = &mut job["metadata"];
        meta["namespace"] = json!(ns);
        meta["uid"] = json!(uid);
        meta["creationTimestamp"] = json!(TIME);
        meta["generation"] = json!(1);
        let spec = &mut job["spec"];
        spec["completions"] = json!(1);
        spec["parallelism"] = json!(1);
        spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
        let labels = &mut spec["template"]["metadata"]["labels"];
        labels["batch.kubernetes.io/controller-uid"] = json!(uid);
        labels["batch.kubernetes.io/job-name"] = json!(name);
        labels["controller-uid"] = json!(uid);
        labels["job-name"] = json!(name);
        job["status"] = json!({});
        state.store(Kind::Job, job.clone(), "ADDED");
        state.created_steps.push(step.clone());
        Some((job, state.scripts.get(&step).cloned()))
    });
    match created {
        None => status(
            StatusCode::CONFLICT,
            "AlreadyExists",
            &format!("jobs.batch \"{name}\" already exists"),
        ),
        Some((job, script)) => {
            let script = script.unwrap_or_else(|| panic!("no script for step label {step:?}"));
            let controller = Controller {
                shared: shared.clone(),
                ns: ns.to_string(),
                job: name,
                pod: String::new(),
            };
            tokio::spawn(controller.play(job.clone(), script));
            json_response(StatusCode::CREATED, &job)
        }
    }
}

fn delete_job(shared: &Arc<Shared>, ns: &str, name: &str) -> Response<Body> {
    let key = (ns.to_string(), name.to_string());
    let deleting = shared.with(|state| {
        let mut job = state.jobs.get(&key)?.clone();
        job["metadata"]["deletionTimestamp"] = json!(TIME);
        job["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
        state.store(Kind::Job, job.clone(), "MODIFIED");
        Some(job)
    });
    let Some(job) = deleting else {
        return not_found("jobs.batch", name);
    };
    // The garbage collector: the pods go first (foreground), then the Job.
    let shared = shared.clone();
    let (ns, name) = (ns.to_string(), name.to_string());
    tokio::spawn(async move {
        shared.with(|state| {
            let pods: Vec<Value> = state
                .pods
                .values()
                .filter(|p| p["metadata"]["labels"]["job-name"] == name.as_str())
                .cloned()
                .collect();
            for pod in pods {
                let pod_name = pod["metadata"]["name"].as_str().unwrap().to_string();
                if let Some(log) = state.logs.get_mut(&(ns.clone(), pod_name)) {
                    log.ended = true;
                }
                state.store(Kind::Pod, pod, "DELETED");
            }
            if let Some(job) = state.jobs.get(&(ns.clone(), name.clone())).cloned() {
                state.store(Kind::Job, job, "DELETED");
            }
            state.timeline.push(format!("Deleted {name}"));
        });
    });
    json_response(StatusCode::OK, &job)
}

/// A label or field selector: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated.
fn matches(selector: Option<&String>, lookup: impl Fn(&str) -> Option<String>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            lookup(k).as_deref() != Some(v)
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            lookup(k).as_deref() == Some(v)
        } else if let Some(k) = term.strip_prefix('!') {
            lookup(k).is_none()
        } else {
            lookup(term).is_some()
        }
    })
}

fn selected(object: &Value, query: &BTreeMap<String, String>) -> bool {
    let labels = &object["metadata"]["labels"];
    matches(query.get("labelSelector"), |k| {
        labels[k].as_str().map(str::to_string)
    }) && matches(query.get("fieldSelector"), |k| match k {
        "metadata.name" => object["metadata"]["name"].as_str().map(str::to_string),
        "metadata.namespace" => object["metadata"]["namespace"].as_str().map(str::to_string),
        _ => None,
    })
}

fn api_version(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Job => ("batch/v1", "Job"),
        Kind::Pod => ("v1", "Pod"),
    }
}

fn collection(
    shared: &Arc<Shared>,
    kind: Kind,
    ns: &str,
    query: &BTreeMap<String, String>,
) -> Response<Body> {
    let (version, kind_name) = api_version(kind);
    if query.get("watch").map(String::as_str) == Some("true") {
        return watch(shared, kind, ns, query);
    }
    let state = shared.state.lock().unwrap();
    let map = match kind {
        Kind::Job => &state.jobs,
        Kind::Pod => &state.pods,
    };
    let items: Vec<Value> = map
        .iter()
        .filter(|((n, _), o)| n == ns && selected(o, query))
        .map(|(_, o)| {
            // List items come without apiVersion and kind, as from a real server.
            let mut o = o.clone();
            o.as_object_mut().unwrap().remove("apiVersion");
            o.as_object_mut().unwrap().remove("kind");
            o
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "apiVersion": version, "kind": format!("{kind_name}List"),
            "metadata": {"resourceVersion": state.rv.to_string()},
            "items": items
        }),
    )
}

fn watch(
    shared: &Arc<Shared>,
    kind: Kind,
    ns: &str,
    query: &BTreeMap<String, String>,
) -> Response<Body> {
    let (version, kind_name) = api_version(kind);
    let (response, tx) = streamed("application/json");
    let shared = shared.clone();
    let ns = ns.to_string();
    let query = query.clone();
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .unwrap_or(1800);
    let bookmarks = query.get("allowWatchBookmarks").map(String::as_str) == Some("true");
    tokio::spawn(async move {
        let send_events = async {
            let mut changes = shared.changed.subscribe();
            let from = query
                .get("resourceVersion")
                .map(String::as_str)
                .unwrap_or("");
            let mut cursor: u64;
            let mut lines = Vec::new();
            {
                let state = shared.state.lock().unwrap();
                if from.is_empty() || from == "0" {
                    let map = match kind {
                        Kind::Job => &state.jobs,
                        Kind::Pod => &state.pods,
                    };
                    for ((n, _), o) in map {
                        if *n == ns && selected(o, &query) {
                            lines.push(json!({"type": "ADDED", "object": o}));
                        }
                    }
                    cursor = state.rv;
                } else {
                    cursor = from.parse().unwrap_or(0);
                }
            }
            let mut bookmarked = !bookmarks;
            loop {
                {
                    let state = shared.state.lock().unwrap();
                    for event in state.events.iter().filter(|e| e.rv > cursor) {
                        if event.kind == kind
                            && event.namespace == ns
                            && selected(&event.object, &query)
                        {
                            lines.push(
                                json!({"type": event.kind_of_change, "object": event.object}),
                            );
                        }
                    }
                    cursor = cursor.max(state.rv);
                    if !bookmarked {
                        bookmarked = true;
                        lines.push(json!({"type": "BOOKMARK", "object": {
                            "apiVersion": version, "kind": kind_name,
                            "metadata": {"resourceVersion": cursor.to_string()}
                        }}));
                    }
                }
                for line in lines.drain(..) {
                    if tx.send(Bytes::from(format!("{line}\n"))).await.is_err() {
                        return;
                    }
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        // A real server ends a watch after timeoutSeconds; the client then resumes.
        let _ = tokio::time::timeout(Duration::from_secs(timeout), send_events).await;
    });
    response
}

fn pod_log(
    shared: &Arc<Shared>,
    ns: &str,
    name: &str,
    query: &BTreeMap<String, String>,
) -> Response<Body> {
    let key = (ns.to_string(), name.to_string());
    {
        let state = shared.state.lock().unwrap();
        let Some(pod) = state.pods.get(&key) else {
            return not_found("pods", name);
        };
        let container = query.get("container").map(String::as_str).unwrap_or("step");
        if container != "step" {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("container {container} is not valid for pod {name}"),
            );
        }
        let container_state = &pod["status"]["containerStatuses"][0]["state"];
        if let Some(reason) = container_state["waiting"]["reason"].as_str() {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("container \"step\" in pod \"{name}\" is waiting to start: {reason}"),
            );
        }
        if container_state.is_null() {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("container \"step\" in pod \"{name}\" is not available"),
            );
        }
    }
    let follow = query.get("follow").map(String::as_str) == Some("true");
    let (response, tx) = streamed("text/plain");
    let shared = shared.clone();
    tokio::spawn(async move {
        let mut sent = 0;
        let mut changes = shared.changed.subscribe();
        loop {
            let (lines, ended) = {
                let state = shared.state.lock().unwrap();
                let Some(log) = state.logs.get(&key) else {
                    return;
                };
                (log.lines[sent..].to_vec(), log.ended)
            };
            for line in &lines {
                if tx.send(Bytes::from(format!("{line}\n"))).await.is_err() {
                    return;
                }
            }
            sent += lines.len();
            shared.with(|state| {
                if let Some(log) = state.logs.get_mut(&key) {
                    log.delivered = log.delivered.max(sent);
                }
            });
            if !follow || ended {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    });
    response
}

/// Plays one Job's script, as the Job controller, scheduler and kubelet would.
struct Controller {
    shared: Arc<Shared>,
    ns: String,
    job: String,
    pod: String,
}

impl Controller {
    fn job_exists(&self) -> bool {
        self.shared
            .state
            .lock()
            .unwrap()
            .jobs
            .contains_key(&(self.ns.clone(), self.job.clone()))
    }

    /// Changes the Job (if it still exists and is not being deleted).
    fn update_job(&self, note: &str, f: impl FnOnce(&mut Value)) {
        self.shared.with(|state| {
            let key = (self.ns.clone(), self.job.clone());
            let Some(mut job) = state.jobs.get(&key).cloned() else {
                return;
            };
            if !job["metadata"]["deletionTimestamp"].is_null() {
                return;
            }
            f(&mut job);
            state.store(Kind::Job, job, "MODIFIED");
            state.timeline.push(format!("{note} {}", self.job));
        });
    }

    /// Changes the pod (if it still exists).
    fn update_pod(&self, f: impl FnOnce(&mut Value)) {
        self.shared.with(|state| {
            let key = (self.ns.clone(), self.pod.clone());
            let Some(mut pod) = state.pods.get(&key).cloned() else {
                return;
            };
            f(&mut pod);
            state.store(Kind::Pod, pod, "MODIFIED");
        });
    }

    fn create_pod(&mut self, job: &Value) {
        let template = &job["spec"]["template"];
        let uid = job["metadata"]["uid"].clone();
        let prefix: String = self.job.chars().take(57).collect();
        self.pod = format!("{prefix}-x7k2p");
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": self.pod, "namespace": self.ns, "creationTimestamp": TIME,
                "labels": template["metadata"]["labels"],
                "annotations": template["metadata"]["annotations"],
                "ownerReferences": [{
                    "apiVersion": "batch/v1", "kind": "Job", "name": self.job, "uid": uid,
                    "controller": true, "blockOwnerDeletion": true
                }]
            },
            "spec": template["spec"],
            "status": {"phase": "Pending", "qosClass": "Burstable"}
        });
        self.shared.with(|state| {
            let uid = state.next_uid();
            let mut pod = pod;
            pod["metadata"]["uid"] = json!(uid);
            state.store(Kind::Pod, pod, "ADDED");
            state
                .logs
                .insert((self.ns.clone(), self.pod.clone()), PodLog::default());
        });
        self.update_job("Active", |job| {
            job["status"] =
                json!({"active": 1, "ready": 0, "startTime": TIME, "uncountedTerminatedPods": {}});
        });
    }

    fn set_container(&self, phase: &str, scheduled: Value, state: Value, ready: bool) {
        self.update_pod(|pod| {
            let image = pod["spec"]["containers"][0]["image"].clone();
            pod["status"] = json!({
                "phase": phase,
                "qosClass": "Burstable",
                "conditions": [scheduled],
                "containerStatuses": [{
                    "name": "step", "image": image, "imageID": "", "ready": ready,
                    "restartCount": 0, "started": ready, "state": state
                }]
            });
        });
    }

    fn unschedulable(&self) {
        self.update_pod(|pod| {
            pod["status"] = json!({
                "phase": "Pending",
                "qosClass": "Burstable",
                "conditions": [{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "lastTransitionTime": TIME,
                    "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
                }]
            });
        });
    }

    fn scheduled() -> Value {
        json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": TIME})
    }

    fn waiting(&self, reason: &str, message: Option<&str>) {
        let mut waiting = json!({"reason": reason});
        if let Some(message) = message {
            waiting["message"] = json!(message);
        }
        self.set_container(
            "Pending",
            Self::scheduled(),
            json!({"waiting": waiting}),
            false,
        );
    }

    fn run(&self, logs: &[String]) {
        self.set_container(
            "Running",
            Self::scheduled(),
            json!({"running": {"startedAt": TIME}}),
            true,
        );
        self.shared.with(|state| {
            if let Some(log) = state.logs.get_mut(&(self.ns.clone(), self.pod.clone())) {
                log.lines.extend(logs.iter().cloned());
            }
        });
    }

    fn terminate(&self, exit_code: i32) {
        self.shared.with(|state| {
            if let Some(log) = state.logs.get_mut(&(self.ns.clone(), self.pod.clone())) {
                log.ended = true;
            }
        });
        let (phase, reason) = if exit_code == 0 {
            ("Succeeded", "Completed")
        } else {
            ("Failed", "Error")
        };
        self.set_container(
            phase,
            Self::scheduled(),
            json!({"terminated": {
                "exitCode": exit_code, "reason": reason, "startedAt": TIME, "finishedAt": TIME,
                "containerID": "containerd://0123"
            }}),
            false,
        );
    }

    fn complete(&self) {
        self.update_job("Complete", |job| {
            job["status"] = json!({
                "succeeded": 1, "ready": 0, "startTime": TIME, "completionTime": TIME,
                "uncountedTerminatedPods": {},
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                     "message": "Reached expected number of succeeded pods", "lastTransitionTime": TIME, "lastProbeTime": TIME},
                    {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                     "message": "Reached expected number of succeeded pods", "lastTransitionTime": TIME, "lastProbeTime": TIME}
                ]
            });
        });
    }

    fn fail(&self, reason: &str, message: &str) {
        self.update_job("Failed", |job| {
            job["status"] = json!({
                "failed": 1, "ready": 0, "startTime": TIME, "uncountedTerminatedPods": {},
                "conditions": [
                    {"type": "FailureTarget", "status": "True", "reason": reason,
                     "message": message, "lastTransitionTime": TIME, "lastProbeTime": TIME},
                    {"type": "Failed", "status": "True", "reason": reason,
                     "message": message, "lastTransitionTime": TIME, "lastProbeTime": TIME}
                ]
            });
        });
    }

    /// Until a log request has been sent every line so far (or the pod is gone).
    async fn logs_read(&self) {
        let key = (self.ns.clone(), self.pod.clone());
        self.shared
            .until(|state| {
                state
                    .logs
                    .get(&key)
                    .is_none_or(|l| l.delivered >= l.lines.len())
            })
            .await;
    }

    async fn until_job_deleted(&self) {
        let key = (self.ns.clone(), self.job.clone());
        self.shared
            .until(|state| !state.jobs.contains_key(&key))
            .await;
    }

    async fn play(mut self, job: Value, script: Script) {
        tokio::task::yield_now().await;
        self.create_pod(&job);
        tokio::task::yield_now().await;
        match script {
            Script::Unschedulable => {
                self.unschedulable();
                return;
            }
            Script::UnschedulableThenSucceed { .. } => {
                self.unschedulable();
                tokio::task::yield_now().await;
            }
            _ => {}
        }
        self.waiting("ContainerCreating", None);
        tokio::task::yield_now().await;
        match script {
            Script::Succeed { logs } | Script::UnschedulableThenSucceed { logs } => {
                self.run(&logs);
                tokio::task::yield_now().await;
                self.terminate(0);
                self.complete();
            }
            Script::Fail { logs, exit_code } => {
                self.run(&logs);
                tokio::task::yield_now().await;
                self.terminate(exit_code);
                self.fail(
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                );
            }
            Script::Waiting { reason, message } => {
                self.waiting(&reason, Some(&message));
            }
            Script::DeadlineExceeded { logs } => {
                self.run(&logs);
                // The deadline passes while the step still runs, once the client has its
                // lines (a real cluster has no such courtesy; the test needs it to know
                // which lines must have arrived).
                self.logs_read().await;
                if !self.job_exists() {
                    return;
                }
                self.terminate(137);
                self.shared.with(|state| {
                    if let Some(pod) = state
                        .pods
                        .get(&(self.ns.clone(), self.pod.clone()))
                        .cloned()
                    {
                        state.store(Kind::Pod, pod, "DELETED");
                    }
                });
                self.fail(
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                );
            }
            Script::RunUntilDeleted { logs } => {
                self.run(&logs);
                self.until_job_deleted().await;
            }
            Script::SucceedOnceCreated { logs, other } => {
                self.run(&logs);
                self.shared
                    .until(|state| state.created_steps.contains(&other))
                    .await;
                self.terminate(0);
                self.complete();
            }
            Script::Unschedulable => unreachable!(),
        }
    }
}
