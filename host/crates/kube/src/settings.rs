//! The plain data this crate takes in: the stack's Kubernetes settings, the steps to run
//! and the run's identity. Field names follow ZenML's `KubernetesOrchestratorSettings` and
//! `KubernetesPodSettings` where those exist, so a ZenML user's settings read the same.
//!
//! Everything here is checked by [`crate::plan_jobs`], not while deserializing: the types can
//! be built in code as well as read from a file.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The namespace used when the settings name none.
pub const DEFAULT_NAMESPACE: &str = "default";
/// How long a finished Job (and its pods, and their logs) stays before Kubernetes deletes
/// it, unless the settings say otherwise: one day.
pub const DEFAULT_TTL_SECONDS_AFTER_FINISHED: i32 = 86_400;
/// How long a step's pod may stay unschedulable before the run gives up on it.
pub const DEFAULT_UNSCHEDULABLE_TIMEOUT_SECONDS: u64 = 300;

/// How a pipeline's steps run on Kubernetes (the stack's orchestrator settings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSettings {
    /// The kubeconfig context to use; `None` uses the current context (as `kubectl` does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The namespace the Jobs are created in.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The service account every step's pod runs as; `None` leaves the namespace's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secrets (of type `kubernetes.io/dockerconfigjson`, in the namespace) the kubelet uses
    /// to pull the steps' images; put on every pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<String>,
    /// A PersistentVolumeClaim, in the namespace, mounted at `/artifacts` in every step (the
    /// path `$DOCKWRIGHT_ARTIFACTS` names, as in a local run). Steps on different nodes share
    /// it only if its access mode allows (`ReadWriteMany`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts_pvc: Option<String>,
    /// A hard limit on each step's run time, in seconds; the Job then fails with
    /// `DeadlineExceeded`. `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    /// Seconds after a Job finishes before Kubernetes deletes it and its pods. Defaults to
    /// one day; `null` keeps finished Jobs until someone deletes them.
    #[serde(default = "default_ttl")]
    pub ttl_seconds_after_finished: Option<i32>,
    /// How long a step's pod may stay unschedulable (no node with the resources, selectors
    /// or tolerations it asks for) before the run fails, in seconds.
    #[serde(default = "default_unschedulable_timeout")]
    pub unschedulable_timeout_seconds: u64,
    /// Pod settings for every step; a step's own [`StepJob::pod_settings`] are merged over
    /// these.
    #[serde(default)]
    pub pod_settings: PodSettings,
}

fn default_namespace() -> String {
    DEFAULT_NAMESPACE.to_string()
}

fn default_ttl() -> Option<i32> {
    Some(DEFAULT_TTL_SECONDS_AFTER_FINISHED)
}

fn default_unschedulable_timeout() -> u64 {
    DEFAULT_UNSCHEDULABLE_TIMEOUT_SECONDS
}

impl Default for KubernetesSettings {
    fn default() -> Self {
        Self {
            context: None,
            namespace: default_namespace(),
            service_account_name: None,
            image_pull_secrets: Vec::new(),
            artifacts_pvc: None,
            active_deadline_seconds: None,
            ttl_seconds_after_finished: default_ttl(),
            unschedulable_timeout_seconds: default_unschedulable_timeout(),
            pod_settings: PodSettings::default(),
        }
    }
}

/// Where and with what a step's pod runs (ZenML's `KubernetesPodSettings` spellings).
///
/// A step's settings are merged over the pipeline's by [`PodSettings::merged_over`]: maps key
/// by key (the step's value wins), lists replace the pipeline's list when the step gives one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodSettings {
    /// Node labels the pod's node must carry (`nodeSelector`), e.g.
    /// `cloud.google.com/gke-accelerator: nvidia-l4`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selectors: BTreeMap<String, String>,
    /// Taints the pod tolerates. `None`: not given (a step then keeps the pipeline's list);
    /// an empty list removes the pipeline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Resource requests and limits of the step's container.
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    /// Extra labels on the Job and its pod. Keys under `dockwright.io/` and
    /// `app.kubernetes.io/managed-by` are Dockwright's own and refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on the Job and its pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Extra environment variables, set before the step's own `environment` (which wins on
    /// a clash). `None`: not given; an empty list removes the pipeline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
}

impl PodSettings {
    /// These settings (a step's) merged over `base` (the pipeline's): maps key by key with
    /// this side winning, lists replaced when this side gives one.
    pub fn merged_over(&self, base: &PodSettings) -> PodSettings {
        fn merge(
            base: &BTreeMap<String, String>,
            over: &BTreeMap<String, String>,
        ) -> BTreeMap<String, String> {
            let mut merged = base.clone();
            merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
            merged
        }
        let mut requests = base.resources.requests.clone();
        requests.extend(self.resources.requests.clone());
        let mut limits = base.resources.limits.clone();
        limits.extend(self.resources.limits.clone());
        PodSettings {
            node_selectors: merge(&base.node_selectors, &self.node_selectors),
            tolerations: self
                .tolerations
                .clone()
                .or_else(|| base.tolerations.clone()),
            resources: Resources { requests, limits },
            labels: merge(&base.labels, &self.labels),
            annotations: merge(&base.annotations, &self.annotations),
            env: self.env.clone().or_else(|| base.env.clone()),
        }
    }
}

/// A toleration, as in a pod spec (`tolerationSeconds` may also be spelled
/// `toleration_seconds`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toleration {
    /// The taint key; empty or absent with `operator: Exists` tolerates every taint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Equal` (the default) or `Exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<TolerationOperator>,
    /// The taint value to match with `Equal`; must be empty with `Exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The taint effect to match; absent matches every effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
    /// With `effect: NoExecute` only: how long the pod stays bound after the taint appears.
    #[serde(
        default,
        rename = "tolerationSeconds",
        alias = "toleration_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub toleration_seconds: Option<i64>,
}

/// How a toleration's key and value match a taint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TolerationOperator {
    Equal,
    Exists,
}

/// What a taint does to pods that do not tolerate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TolerationOperator {
    pub fn as_str(self) -> &'static str {
        match self {
            TolerationOperator::Equal => "Equal",
            TolerationOperator::Exists => "Exists",
        }
    }
}

impl TaintEffect {
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// Resource requests and limits, by resource name: `cpu`, `memory`, `ephemeral-storage`,
/// extended resources such as `nvidia.com/gpu`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, Quantity>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Quantity>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.limits.is_empty()
    }
}

/// A Kubernetes quantity (`500m`, `2`, `1.5Gi`, `1e3`). Read from a string or a number;
/// its syntax is checked when manifests are made.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Quantity(pub String);

impl From<&str> for Quantity {
    fn from(value: &str) -> Self {
        Quantity(value.to_string())
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity such as 2, 500m or 4Gi")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// An environment variable given in pod settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// One pipeline step to run as a Job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepJob {
    /// The step's name in the pipeline (any string; Kubernetes names are derived from it).
    pub step: String,
    /// The image, by digest (`registry/repo@sha256:<64 hex>`, a tag before the `@` is
    /// allowed): what was pushed, so that every pod runs the same bits.
    pub image: String,
    /// The container's command (its entrypoint); empty keeps the image's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// The step's environment, in order. A name given twice keeps its first place and its
    /// last value. `DOCKWRIGHT_ARTIFACTS` and `DOCKWRIGHT_STEP` are set by Dockwright.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<(String, String)>,
    /// The steps that must succeed before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Pod settings for this step, merged over the pipeline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_settings: Option<PodSettings>,
}

/// Which run of which pipeline the Jobs belong to: both go into every Job's name and labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunIdentity {
    pub pipeline: String,
    /// Unique per run: Jobs are immutable, so a re-run needs new Job names.
    pub run_id: String,
}
