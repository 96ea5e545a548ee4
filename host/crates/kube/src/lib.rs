//! Dockwright's Kubernetes orchestrator: each pipeline step becomes a `batch/v1` Job.
//!
//! Plain data in, plain data out; nothing here knows Dockwright's settings files:
//!
//! - [`plan_jobs`] / [`job_manifests`] turn [`StepJob`]s, a [`RunIdentity`] and
//!   [`KubernetesSettings`] into Jobs in run order: image by digest, `restartPolicy: Never`,
//!   `backoffLimit: 0`, deadline and TTL, resources, node selector, tolerations, the
//!   artifacts PersistentVolumeClaim at `/artifacts`, DNS-safe names and run labels.
//! - [`manifests_yaml`] writes them as YAML (one document per Job) for `--dry-run`.
//! - [`run_jobs`] creates them on a cluster in dependency order, follows the pods' logs,
//!   waits for success *or* failure (kube-runtime's `is_job_completed` never fires for a
//!   failed Job, so the runner reads the `Complete`/`Failed` conditions itself), fails fast
//!   on pods that cannot start, and deletes the run's Jobs when cancelled.
//! - [`client`] connects as `kubectl` would.
//!
//! Kubernetes API version: the Jobs are built with k8s-openapi's `v1_37` types (the newest
//! that k8s-openapi 0.29, which kube 5 uses, supports) and the golden manifests are
//! validated against the Kubernetes 1.37 schemas. Nothing in them is newer than
//! `batch/v1` Job fields that have been stable since 1.23 (`ttlSecondsAfterFinished`), so
//! older clusters accept them too.

mod client;
mod manifest;
mod names;
mod runner;
mod settings;

pub use client::{ClientError, client, client_from_kubeconfig};
pub use k8s_openapi::api::batch::v1::Job;
pub use manifest::{
    ANNOTATION_PIPELINE, ANNOTATION_RUN, ANNOTATION_STEP, ARTIFACTS_PATH, ARTIFACTS_VOLUME,
    CONTAINER_NAME, JobPlan, LABEL_MANAGED_BY, LABEL_PIPELINE, LABEL_RUN, LABEL_STEP, MANAGED_BY,
    ManifestError, job_manifests, manifests_yaml, plan_jobs, run_selector,
};
pub use names::{is_dns_label, is_label_value, job_name, label_value};
pub use runner::{
    FATAL_WAITING_REASONS, KubeRunError, LogLine, RunOptions, RunSummary, StepFailure, StepOutcome,
    run_jobs,
};
pub use settings::{
    DEFAULT_NAMESPACE, DEFAULT_TTL_SECONDS_AFTER_FINISHED, DEFAULT_UNSCHEDULABLE_TIMEOUT_SECONDS,
    EnvVar, KubernetesSettings, PodSettings, Quantity, Resources, RunIdentity, StepJob,
    TaintEffect, Toleration, TolerationOperator,
};
