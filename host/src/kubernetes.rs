//! Steps as Kubernetes Jobs, from the product's side: the stack's `orchestrator` component
//! (flavor `kubernetes`, its `config`), the pipeline's and each step's
//! `settings.orchestrator`, typed into `dockwright-kube`'s settings; and each step as a
//! [`StepJob`] on its pushed image, by digest. Running and the manifests themselves are
//! `dockwright-kube`'s.
//!
//! Field names are ZenML's `KubernetesOrchestratorConfig`/`Settings` ones where those exist
//! (`kubernetes_context`, `kubernetes_namespace`, `service_account_name`, `pod_settings`,
//! `active_deadline_seconds`, `ttl_seconds_after_finished`). Every error names the file, the
//! line and column of the key at fault, and its field path.

use std::collections::BTreeMap;

use dockwright_kube::{KubernetesSettings, ManifestError, PodSettings, RunIdentity, StepJob};
use serde::Deserialize;

use crate::images::ImageResult;
use crate::plan::Plan;
use crate::settings::{Pipeline, RawSettings, SettingsError};

/// The orchestrator flavor that runs steps as Jobs.
pub const FLAVOR: &str = "kubernetes";

/// A stand-in digest: settings are checked by making the manifests before any image exists.
const PLACEHOLDER_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// One layer of settings (the stack's config, the pipeline's or a step's), as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    kubernetes_context: Option<String>,
    kubernetes_namespace: Option<String>,
    service_account_name: Option<String>,
    image_pull_secrets: Option<Vec<String>>,
    artifacts_pvc: Option<String>,
    active_deadline_seconds: Option<i64>,
    /// `null` keeps finished Jobs: absent and null differ.
    #[serde(default, deserialize_with = "present")]
    ttl_seconds_after_finished: Option<Option<i32>>,
    unschedulable_timeout_seconds: Option<u64>,
    pod_settings: Option<PodSettings>,
}

fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A pipeline's Kubernetes settings, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Kubernetes {
    pub settings: KubernetesSettings,
    /// Whether the settings name the namespace; else the kubeconfig context's is used.
    pub namespace_given: bool,
    /// Each step's own pod settings (merged over the pipeline's by `dockwright-kube`).
    pub step_pods: BTreeMap<String, PodSettings>,
}

/// Whether the pipeline's stack runs its steps on Kubernetes.
pub fn is_default(pipeline: &Pipeline) -> bool {
    pipeline
        .stack
        .as_ref()
        .and_then(|stack| stack.components.get("orchestrator"))
        .is_some_and(|component| component.flavor == FLAVOR)
}

/// The Kubernetes settings of `pipeline`: the stack's orchestrator config, then the
/// pipeline's `settings.orchestrator` over it, and each step's pod settings; checked as the
/// manifests will check them, before anything is built.
pub fn settings(pipeline: &Pipeline) -> Result<Kubernetes, SettingsError> {
    let layers = pipeline_layers(pipeline);
    let mut settings = KubernetesSettings::default();
    let mut namespace_given = false;
    for raw in &layers {
        let layer = read(raw)?;
        namespace_given |= layer.kubernetes_namespace.is_some();
        apply(&mut settings, layer);
    }
    let mut step_pods = BTreeMap::new();
    for step in &pipeline.steps {
        if let Some(raw) = &step.orchestrator {
            step_pods.insert(step.name.clone(), step_pod_settings(raw)?);
        }
    }
    let kubernetes = Kubernetes {
        settings,
        namespace_given,
        step_pods,
    };
    check(pipeline, &kubernetes, &layers)?;
    Ok(kubernetes)
}

/// The stack's orchestrator config and the pipeline's settings, in the order they apply.
fn pipeline_layers(pipeline: &Pipeline) -> Vec<&RawSettings> {
    let stack = pipeline
        .stack
        .as_ref()
        .and_then(|stack| stack.components.get("orchestrator"))
        .and_then(|component| component.config.as_ref());
    stack.into_iter().chain(&pipeline.orchestrator).collect()
}

fn read(raw: &RawSettings) -> Result<Layer, SettingsError> {
    // serde_path_to_error's path ends with an unknown key itself: the error points at it.
    serde_path_to_error::deserialize(&raw.value)
        .map_err(|error| raw.error(&error.path().to_string(), error.inner().to_string()))
}

fn apply(settings: &mut KubernetesSettings, layer: Layer) {
    if let Some(context) = layer.kubernetes_context {
        settings.context = Some(context);
    }
    if let Some(namespace) = layer.kubernetes_namespace {
        settings.namespace = namespace;
    }
    if let Some(account) = layer.service_account_name {
        settings.service_account_name = Some(account);
    }
    if let Some(secrets) = layer.image_pull_secrets {
        settings.image_pull_secrets = secrets;
    }
    if let Some(pvc) = layer.artifacts_pvc {
        settings.artifacts_pvc = Some(pvc);
    }
    if let Some(deadline) = layer.active_deadline_seconds {
        settings.active_deadline_seconds = Some(deadline);
    }
    if let Some(ttl) = layer.ttl_seconds_after_finished {
        settings.ttl_seconds_after_finished = ttl;
    }
    if let Some(timeout) = layer.unschedulable_timeout_seconds {
        settings.unschedulable_timeout_seconds = timeout;
    }
    if let Some(pod) = layer.pod_settings {
        settings.pod_settings = pod.merged_over(&settings.pod_settings);
    }
}

/// A step may set its own pod settings; the rest is the pipeline's.
fn step_pod_settings(raw: &RawSettings) -> Result<PodSettings, SettingsError> {
    let layer = read(raw)?;
    let pipeline_wide = [
        ("kubernetes_context", layer.kubernetes_context.is_some()),
        ("kubernetes_namespace", layer.kubernetes_namespace.is_some()),
        ("service_account_name", layer.service_account_name.is_some()),
        ("image_pull_secrets", layer.image_pull_secrets.is_some()),
        ("artifacts_pvc", layer.artifacts_pvc.is_some()),
        (
            "active_deadline_seconds",
            layer.active_deadline_seconds.is_some(),
        ),
        (
            "ttl_seconds_after_finished",
            layer.ttl_seconds_after_finished.is_some(),
        ),
        (
            "unschedulable_timeout_seconds",
            layer.unschedulable_timeout_seconds.is_some(),
        ),
    ];
    if let Some((key, _)) = pipeline_wide.iter().find(|(_, set)| *set) {
        return Err(raw.error(
            key,
            format!("`{key}` applies to the whole run: set it in the pipeline's settings or the stack; a step sets only `pod_settings`"),
        ));
    }
    Ok(layer.pod_settings.unwrap_or_default())
}

/// Makes the manifests with a stand-in digest, so that a setting Kubernetes would refuse
/// (a quantity, a label, a toleration) is reported now, at its key, and not after a build.
fn check(
    pipeline: &Pipeline,
    kubernetes: &Kubernetes,
    layers: &[&RawSettings],
) -> Result<(), SettingsError> {
    let images: BTreeMap<&str, String> = pipeline
        .steps
        .iter()
        .map(|s| (s.name.as_str(), format!("image@{PLACEHOLDER_DIGEST}")))
        .collect();
    let identity = RunIdentity {
        pipeline: pipeline.name.clone(),
        run_id: "check".into(),
    };
    let steps = step_jobs_with(pipeline, kubernetes, |step| images.get(step).cloned());
    match dockwright_kube::plan_jobs(&identity, &steps, &kubernetes.settings) {
        Ok(_) => Ok(()),
        Err(ManifestError::InvalidSetting {
            step,
            setting,
            value,
            reason,
        }) => {
            let message = format!("`{value}`: {reason}");
            let user_path = match setting.as_str() {
                "namespace" => "kubernetes_namespace".to_string(),
                "context" => "kubernetes_context".to_string(),
                top if TOP_LEVEL.contains(&top) => top.to_string(),
                pod => format!("pod_settings.{pod}"),
            };
            let raw = match &step {
                Some(step) => pipeline
                    .steps
                    .iter()
                    .find(|s| &s.name == step)
                    .and_then(|s| s.orchestrator.as_ref()),
                None => None,
            };
            let raw = raw.or_else(|| {
                // The last layer that sets the field is at fault.
                layers
                    .iter()
                    .rev()
                    .find(|l| l.sets(&user_path))
                    .or(layers.last())
                    .copied()
            });
            Err(match raw {
                Some(raw) => raw.error(&user_path, message),
                None => pipeline.error_at("settings", format!("`{user_path}` {message}"), None),
            })
        }
        // Names, cycles and the like are the pipeline file's own checks; nothing else here
        // depends on the settings.
        Err(_) => Ok(()),
    }
}

const TOP_LEVEL: [&str; 5] = [
    "service_account_name",
    "image_pull_secrets",
    "artifacts_pvc",
    "active_deadline_seconds",
    "ttl_seconds_after_finished",
];

/// Each step as a Job on its final image by digest (what was pushed or found in the
/// registry). A step whose image has no digest cannot run on a cluster: it is an error.
pub fn step_jobs(
    pipeline: &Pipeline,
    plan: &Plan,
    images: &[ImageResult],
    kubernetes: &Kubernetes,
) -> Result<Vec<StepJob>, String> {
    let mut missing = None;
    let jobs = step_jobs_with(pipeline, kubernetes, |step| {
        let image = plan
            .images
            .iter()
            .rev()
            .find(|i| i.steps.iter().any(|s| s == step))?;
        let digest = images.iter().find(|r| r.name == image.name).and_then(|r| {
            r.pushed_digest
                .clone()
                .or_else(|| r.registry_digest.clone())
        });
        match digest {
            Some(digest) => Some(format!("{}@{digest}", image.name)),
            None => {
                missing.get_or_insert_with(|| image.name.clone());
                None
            }
        }
    });
    match missing {
        Some(image) => Err(format!(
            "the image {image} is not in a registry: a cluster pulls the steps' images, so the \
             stack needs a `container_registry` the images are pushed to"
        )),
        None => Ok(jobs),
    }
}

fn step_jobs_with(
    pipeline: &Pipeline,
    kubernetes: &Kubernetes,
    mut image_of: impl FnMut(&str) -> Option<String>,
) -> Vec<StepJob> {
    pipeline
        .steps
        .iter()
        .map(|step| {
            let mut environment: Vec<(String, String)> = step
                .docker
                .runtime_environment
                .clone()
                .into_iter()
                .collect();
            environment.extend(step.environment.clone());
            StepJob {
                step: step.name.clone(),
                image: image_of(&step.name).unwrap_or_default(),
                command: step.command.clone(),
                environment,
                after: step.after.clone(),
                pod_settings: kubernetes.step_pods.get(&step.name).cloned(),
            }
        })
        .collect()
}

/// A run id no other run of the pipeline has: Jobs are immutable, so each run needs new
/// names. Seconds since the epoch and a random part, both in base 36.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let random = RandomState::new().hash_one(std::process::id()) % 36u64.pow(4);
    format!("{}{:0>4}", base36(seconds), base36(random))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

#[cfg(test)]
mod tests;
