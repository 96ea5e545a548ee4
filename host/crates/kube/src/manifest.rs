//! From steps and settings to `batch/v1` Jobs, in run order, and their YAML.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::names::{
    is_dns_label, is_dns_subdomain, is_label_value, is_qualified_name, job_name, label_value,
};
use crate::settings::{KubernetesSettings, PodSettings, Quantity, RunIdentity, StepJob};

/// Where the artifacts volume is mounted in every step, as in a local run.
pub const ARTIFACTS_PATH: &str = "/artifacts";
/// The name of the step's container in its pod.
pub const CONTAINER_NAME: &str = "step";
/// The name of the artifacts volume in the pod spec.
pub const ARTIFACTS_VOLUME: &str = "artifacts";

/// `app.kubernetes.io/managed-by: dockwright` on every Job and pod.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "dockwright";
/// The pipeline's name, as a label value ([`crate::label_value`]).
pub const LABEL_PIPELINE: &str = "dockwright.io/pipeline";
/// The run id, as a label value.
pub const LABEL_RUN: &str = "dockwright.io/run";
/// The step's name, as a label value.
pub const LABEL_STEP: &str = "dockwright.io/step";
/// The exact names (label values may have been rewritten), as annotations on the Job.
pub const ANNOTATION_PIPELINE: &str = "dockwright.io/pipeline-name";
pub const ANNOTATION_RUN: &str = "dockwright.io/run-id";
pub const ANNOTATION_STEP: &str = "dockwright.io/step-name";

/// Why no manifests could be made. Each names the step or setting at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "step `{step}`: the image `{image}` is not a reference by digest (`name@sha256:<64 hex digits>`): {reason}"
    )]
    ImageNotByDigest {
        step: String,
        image: String,
        reason: String,
    },
    #[error("step `{step}` is given twice")]
    DuplicateStep { step: String },
    #[error("step `{step}` runs after `{after}`, which is not a step of the pipeline")]
    UnknownAfter { step: String, after: String },
    #[error("the steps depend on each other in a cycle: {}", cycle.join(" → "))]
    Cycle {
        /// The steps of one cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    #[error("steps `{first}` and `{second}` would both get the Job name `{name}`")]
    NameCollision {
        first: String,
        second: String,
        name: String,
    },
    #[error("{}`{setting}` = `{value}`: {reason}", step_prefix(step))]
    InvalidSetting {
        /// `None` for the pipeline's settings, else the step whose settings are at fault.
        step: Option<String>,
        setting: String,
        value: String,
        reason: String,
    },
}

fn step_prefix(step: &Option<String>) -> String {
    match step {
        Some(step) => format!("step `{step}`: "),
        None => String::new(),
    }
}

/// One step's Job, with what the runner needs to schedule it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPlan {
    /// The step's name in the pipeline.
    pub step: String,
    /// The steps that must succeed first.
    pub after: Vec<String>,
    pub job: Job,
}

impl JobPlan {
    /// The Job's name.
    pub fn job_name(&self) -> &str {
        self.job.metadata.name.as_deref().unwrap_or_default()
    }
}

/// The steps' Jobs in run order (see [`job_manifests`]), each with its dependencies.
pub fn plan_jobs(
    identity: &RunIdentity,
    steps: &[StepJob],
    settings: &KubernetesSettings,
) -> Result<Vec<JobPlan>, ManifestError> {
    check_settings(settings)?;
    let order = run_order(steps)?;
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    let mut plans = Vec::with_capacity(steps.len());
    for index in order {
        let step = &steps[index];
        let job = job_manifest(identity, step, settings)?;
        let name = job.metadata.name.clone().unwrap_or_default();
        if let Some(first) = names.insert(name.clone(), &step.step) {
            return Err(ManifestError::NameCollision {
                first: first.to_string(),
                second: step.step.clone(),
                name,
            });
        }
        plans.push(JobPlan {
            step: step.step.clone(),
            after: step.after.clone(),
            job,
        });
    }
    Ok(plans)
}

/// One `batch/v1` Job per step, in run order: a step comes after every step it runs
/// `after`; otherwise steps keep the order they were given in.
pub fn job_manifests(
    identity: &RunIdentity,
    steps: &[StepJob],
    settings: &KubernetesSettings,
) -> Result<Vec<Job>, ManifestError> {
    Ok(plan_jobs(identity, steps, settings)?
        .into_iter()
        .map(|p| p.job)
        .collect())
}

/// The Jobs as YAML, one document per Job, separated by `---`, in the order given.
pub fn manifests_yaml(jobs: &[Job]) -> String {
    let mut out = String::new();
    for job in jobs {
        // Plain or quoted scalars only (no `>-` folding of long image references), as
        // kubectl writes them; strings YAML 1.1 readers would take for booleans, numbers or
        // dates (`yes`, `on`, `0042`, `1:20`) are quoted.
        let mut options = serde_saphyr::SerializerOptions::default();
        options.prefer_block_scalars = false;
        out.push_str("---\n");
        // Jobs are plain data (strings, numbers, maps, lists): serializing them cannot fail.
        out.push_str(
            &serde_saphyr::to_string_with_options(job, options).expect("a Job serializes to YAML"),
        );
    }
    out
}

/// The label selector matching every Job and pod of a run.
pub fn run_selector(identity: &RunIdentity) -> String {
    format!(
        "{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_PIPELINE}={},{LABEL_RUN}={}",
        label_value(&identity.pipeline),
        label_value(&identity.run_id)
    )
}

/// Indexes into `steps` in run order: Kahn's algorithm, always taking the first given step
/// whose dependencies are all placed.
fn run_order(steps: &[StepJob]) -> Result<Vec<usize>, ManifestError> {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, step) in steps.iter().enumerate() {
        if index.insert(&step.step, i).is_some() {
            return Err(ManifestError::DuplicateStep {
                step: step.step.clone(),
            });
        }
    }
    for step in steps {
        for after in &step.after {
            if !index.contains_key(after.as_str()) {
                return Err(ManifestError::UnknownAfter {
                    step: step.step.clone(),
                    after: after.clone(),
                });
            }
        }
    }
    let mut placed = vec![false; steps.len()];
    let mut order = Vec::with_capacity(steps.len());
    while order.len() < steps.len() {
        let next = (0..steps.len())
            .find(|&i| !placed[i] && steps[i].after.iter().all(|a| placed[index[a.as_str()]]));
        match next {
            Some(i) => {
                placed[i] = true;
                order.push(i);
            }
            None => return Err(find_cycle(steps, &index, &placed)),
        }
    }
    Ok(order)
}

/// Among the steps not placed (each waits for another unplaced one), follow the first
/// unplaced dependency until a step repeats: that stretch is a cycle.
fn find_cycle(steps: &[StepJob], index: &BTreeMap<&str, usize>, placed: &[bool]) -> ManifestError {
    let mut path: Vec<usize> = Vec::new();
    let mut current = (0..steps.len())
        .find(|&i| !placed[i])
        .expect("some step is not placed");
    loop {
        if let Some(at) = path.iter().position(|&i| i == current) {
            let mut cycle: Vec<String> =
                path[at..].iter().map(|&i| steps[i].step.clone()).collect();
            cycle.push(steps[current].step.clone());
            return ManifestError::Cycle { cycle };
        }
        path.push(current);
        current = steps[current]
            .after
            .iter()
            .map(|a| index[a.as_str()])
            .find(|&i| !placed[i])
            .expect("an unplaced step waits for an unplaced step");
    }
}

fn invalid(step: Option<&str>, setting: &str, value: impl ToString, reason: &str) -> ManifestError {
    ManifestError::InvalidSetting {
        step: step.map(str::to_string),
        setting: setting.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn check_settings(settings: &KubernetesSettings) -> Result<(), ManifestError> {
    if !is_dns_label(&settings.namespace) {
        return Err(invalid(
            None,
            "namespace",
            &settings.namespace,
            "not a valid namespace name (lowercase letters, digits and `-`, at most 63)",
        ));
    }
    let subdomains = settings
        .service_account_name
        .iter()
        .map(|n| ("service_account_name", n))
        .chain(settings.artifacts_pvc.iter().map(|n| ("artifacts_pvc", n)))
        .chain(
            settings
                .image_pull_secrets
                .iter()
                .map(|n| ("image_pull_secrets", n)),
        );
    for (setting, name) in subdomains {
        if !is_dns_subdomain(name) {
            return Err(invalid(
                None,
                setting,
                name,
                "not a valid object name (lowercase letters, digits, `-` and `.`)",
            ));
        }
    }
    if let Some(deadline) = settings.active_deadline_seconds
        && deadline <= 0
    {
        return Err(invalid(
            None,
            "active_deadline_seconds",
            deadline,
            "must be positive",
        ));
    }
    if let Some(ttl) = settings.ttl_seconds_after_finished
        && ttl < 0
    {
        return Err(invalid(
            None,
            "ttl_seconds_after_finished",
            ttl,
            "must not be negative",
        ));
    }
    check_pod_settings(None, &settings.pod_settings)
}

fn check_pod_settings(step: Option<&str>, pod: &PodSettings) -> Result<(), ManifestError> {
    for (key, value) in &pod.node_selectors {
        if !is_qualified_name(key) {
            return Err(invalid(
                step,
                "node_selectors",
                key,
                "not a valid label key",
            ));
        }
        if !is_label_value(value) {
            return Err(invalid(
                step,
                &format!("node_selectors.{key}"),
                value,
                "not a valid label value",
            ));
        }
    }
    for (key, value) in &pod.labels {
        if !is_qualified_name(key) {
            return Err(invalid(step, "labels", key, "not a valid label key"));
        }
        if key == LABEL_MANAGED_BY || key.starts_with("dockwright.io/") {
            return Err(invalid(
                step,
                "labels",
                key,
                "this label is set by Dockwright",
            ));
        }
        if !is_label_value(value) {
            return Err(invalid(
                step,
                &format!("labels.{key}"),
                value,
                "not a valid label value (at most 63 letters, digits, `-`, `_`, `.`)",
            ));
        }
    }
    for key in pod.annotations.keys() {
        if !is_qualified_name(key) {
            return Err(invalid(
                step,
                "annotations",
                key,
                "not a valid annotation key",
            ));
        }
        if key.starts_with("dockwright.io/") {
            return Err(invalid(
                step,
                "annotations",
                key,
                "this annotation is set by Dockwright",
            ));
        }
    }
    for (kind, map) in [
        ("requests", &pod.resources.requests),
        ("limits", &pod.resources.limits),
    ] {
        for (resource, quantity) in map {
            if !is_qualified_name(resource) {
                return Err(invalid(
                    step,
                    &format!("resources.{kind}"),
                    resource,
                    "not a valid resource name",
                ));
            }
            if !is_quantity(&quantity.0) {
                return Err(invalid(
                    step,
                    &format!("resources.{kind}.{resource}"),
                    quantity,
                    "not a Kubernetes quantity (such as 2, 500m, 1.5Gi)",
                ));
            }
        }
    }
    for toleration in pod.tolerations.iter().flatten() {
        use crate::settings::{TaintEffect, TolerationOperator};
        let shown = format!("{toleration:?}");
        let exists = toleration.operator == Some(TolerationOperator::Exists);
        if let Some(key) = &toleration.key
            && !key.is_empty()
            && !is_qualified_name(key)
        {
            return Err(invalid(
                step,
                "tolerations.key",
                key,
                "not a valid taint key",
            ));
        }
        if toleration.key.as_deref().unwrap_or_default().is_empty() && !exists {
            return Err(invalid(
                step,
                "tolerations",
                &shown,
                "a toleration without a key must use `operator: Exists`",
            ));
        }
        if exists && !toleration.value.as_deref().unwrap_or_default().is_empty() {
            return Err(invalid(
                step,
                "tolerations",
                &shown,
                "`operator: Exists` takes no value",
            ));
        }
        if toleration.toleration_seconds.is_some()
            && toleration.effect != Some(TaintEffect::NoExecute)
        {
            return Err(invalid(
                step,
                "tolerations",
                &shown,
                "`tolerationSeconds` needs `effect: NoExecute`",
            ));
        }
    }
    for var in pod.env.iter().flatten() {
        check_env_name(step, "env", &var.name)?;
    }
    Ok(())
}

fn check_env_name(step: Option<&str>, setting: &str, name: &str) -> Result<(), ManifestError> {
    // Kubernetes accepts any printable ASCII but `=` (relaxed validation, GA in 1.34).
    if name.is_empty() || name.contains('=') || !name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(invalid(
            step,
            setting,
            name,
            "not a valid environment variable name (printable ASCII, no `=`)",
        ));
    }
    Ok(())
}

/// Kubernetes' quantity syntax: a signed decimal number and a suffix (`Ki`…`Ei`,
/// `n u m k M G T P E`, or an exponent `e3`/`E-2`).
fn is_quantity(q: &str) -> bool {
    let rest = q.strip_prefix(['+', '-']).unwrap_or(q);
    let digits_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(digits_end);
    let number_ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1;
    let suffix_ok = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|exp| {
            let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit())
        })
        .unwrap_or(false);
    number_ok && suffix_ok
}

/// `name@sha256:<64 lowercase hex>`, with a non-empty name.
fn check_digest(step: &StepJob) -> Result<(), ManifestError> {
    let fail = |reason: &str| ManifestError::ImageNotByDigest {
        step: step.step.clone(),
        image: step.image.clone(),
        reason: reason.to_string(),
    };
    let Some((name, digest)) = step.image.rsplit_once('@') else {
        return Err(fail("it has no `@sha256:` digest"));
    };
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '@') {
        return Err(fail("the image name before `@` is missing or malformed"));
    }
    let Some(hex) = digest.strip_prefix("sha256:") else {
        return Err(fail("the digest is not a sha256 digest"));
    };
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(fail("a sha256 digest is 64 lowercase hex digits"));
    }
    Ok(())
}

fn job_manifest(
    identity: &RunIdentity,
    step: &StepJob,
    settings: &KubernetesSettings,
) -> Result<Job, ManifestError> {
    check_digest(step)?;
    let pod = match &step.pod_settings {
        Some(own) => {
            check_pod_settings(Some(&step.step), own)?;
            own.merged_over(&settings.pod_settings)
        }
        None => settings.pod_settings.clone(),
    };
    for (name, _) in &step.environment {
        check_env_name(Some(&step.step), "environment", name)?;
    }

    let name = job_name(&identity.pipeline, &step.step, &identity.run_id);
    let mut labels = pod.labels.clone();
    labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY.into());
    labels.insert(LABEL_PIPELINE.into(), label_value(&identity.pipeline));
    labels.insert(LABEL_RUN.into(), label_value(&identity.run_id));
    labels.insert(LABEL_STEP.into(), label_value(&step.step));
    let mut job_annotations = pod.annotations.clone();
    job_annotations.insert(ANNOTATION_PIPELINE.into(), identity.pipeline.clone());
    job_annotations.insert(ANNOTATION_RUN.into(), identity.run_id.clone());
    job_annotations.insert(ANNOTATION_STEP.into(), step.step.clone());

    let env = container_env(step, &pod);
    let quantities = |map: &BTreeMap<String, Quantity>| {
        (!map.is_empty()).then(|| {
            map.iter()
                .map(|(k, v)| (k.clone(), K8sQuantity(v.0.clone())))
                .collect::<BTreeMap<_, _>>()
        })
    };
    let resources = (!pod.resources.is_empty()).then(|| core::ResourceRequirements {
        requests: quantities(&pod.resources.requests),
        limits: quantities(&pod.resources.limits),
        ..Default::default()
    });
    let tolerations = pod
        .tolerations
        .as_ref()
        .filter(|t| !t.is_empty())
        .map(|list| {
            list.iter()
                .map(|t| core::Toleration {
                    key: t.key.clone(),
                    operator: t.operator.map(|o| o.as_str().to_string()),
                    value: t.value.clone(),
                    effect: t.effect.map(|e| e.as_str().to_string()),
                    toleration_seconds: t.toleration_seconds,
                })
                .collect()
        });
    let (volumes, volume_mounts) = match &settings.artifacts_pvc {
        Some(claim) => (
            Some(vec![core::Volume {
                name: ARTIFACTS_VOLUME.into(),
                persistent_volume_claim: Some(core::PersistentVolumeClaimVolumeSource {
                    claim_name: claim.clone(),
                    read_only: None,
                }),
                ..Default::default()
            }]),
            Some(vec![core::VolumeMount {
                name: ARTIFACTS_VOLUME.into(),
                mount_path: ARTIFACTS_PATH.into(),
                ..Default::default()
            }]),
        ),
        None => (None, None),
    };
    let container = core::Container {
        name: CONTAINER_NAME.into(),
        image: Some(step.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: (!step.command.is_empty()).then(|| step.command.clone()),
        env: Some(env),
        resources,
        volume_mounts,
        ..Default::default()
    };
    let pod_spec = core::PodSpec {
        restart_policy: Some("Never".into()),
        containers: vec![container],
        node_selector: (!pod.node_selectors.is_empty()).then(|| pod.node_selectors.clone()),
        tolerations,
        service_account_name: settings.service_account_name.clone(),
        image_pull_secrets: (!settings.image_pull_secrets.is_empty()).then(|| {
            settings
                .image_pull_secrets
                .iter()
                .map(|name| core::LocalObjectReference { name: name.clone() })
                .collect()
        }),
        volumes,
        ..Default::default()
    };
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(job_annotations),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: settings.active_deadline_seconds,
            ttl_seconds_after_finished: settings.ttl_seconds_after_finished,
            template: core::PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: (!pod.annotations.is_empty()).then(|| pod.annotations.clone()),
                    ..Default::default()
                }),
                spec: Some(pod_spec),
            },
            ..Default::default()
        }),
        status: None,
    })
}

/// Pod settings' `env`, then the step's `environment` (a name given again keeps its first
/// place and takes the later value), then Dockwright's `DOCKWRIGHT_ARTIFACTS` and
/// `DOCKWRIGHT_STEP`, which no setting overrides.
fn container_env(step: &StepJob, pod: &PodSettings) -> Vec<core::EnvVar> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |name: &str, value: &str| match env.iter_mut().find(|(n, _)| n == name) {
        Some(existing) => existing.1 = value.to_string(),
        None => env.push((name.to_string(), value.to_string())),
    };
    for var in pod.env.iter().flatten() {
        set(&var.name, &var.value);
    }
    for (name, value) in &step.environment {
        set(name, value);
    }
    env.retain(|(name, _)| name != "DOCKWRIGHT_ARTIFACTS" && name != "DOCKWRIGHT_STEP");
    env.push(("DOCKWRIGHT_ARTIFACTS".into(), ARTIFACTS_PATH.into()));
    env.push(("DOCKWRIGHT_STEP".into(), step.step.clone()));
    env.into_iter()
        .map(|(name, value)| core::EnvVar {
            name,
            value: Some(value),
            value_from: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use crate::names::is_dns_label;
    use crate::settings::{EnvVar, Resources, TaintEffect, Toleration, TolerationOperator};

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn identity() -> RunIdentity {
        RunIdentity {
            pipeline: "mnist".into(),
            run_id: "r1".into(),
        }
    }

    fn step(name: &str, after: &[&str]) -> StepJob {
        StepJob {
            step: name.into(),
            image: format!("registry.test/mnist@{DIGEST}"),
            command: vec!["python".into(), "-m".into(), name.into()],
            environment: Vec::new(),
            after: after.iter().map(|a| a.to_string()).collect(),
            pod_settings: None,
        }
    }

    fn env_of(job: &Job) -> Vec<(String, String)> {
        container(job)
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect()
    }

    fn container(job: &Job) -> &core::Container {
        &pod_spec(job).containers[0]
    }

    fn pod_spec(job: &Job) -> &core::PodSpec {
        job.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
    }

    fn names(plans: &[JobPlan]) -> Vec<&str> {
        plans.iter().map(|p| p.step.as_str()).collect()
    }

    #[test]
    fn images_must_be_given_by_digest() {
        let settings = KubernetesSettings::default();
        let hex = &DIGEST["sha256:".len()..];
        let bad = [
            "python:3.12".to_string(),
            "registry.test/mnist:latest".to_string(),
            format!("registry.test/mnist@sha256:{}", &hex[..63]),
            format!("registry.test/mnist@sha256:{hex}0"),
            format!("registry.test/mnist@sha256:{}", hex.to_uppercase()),
            format!("registry.test/mnist@sha512:{hex}"),
            format!("@sha256:{hex}"),
            format!("registry.test/mnist@{hex}"),
            format!("registry.test/mnist @sha256:{hex}"),
        ];
        for image in bad {
            let mut s = step("train", &[]);
            s.image = image.clone();
            match job_manifests(&identity(), &[s], &settings) {
                Err(ManifestError::ImageNotByDigest { step, image: i, .. }) => {
                    assert_eq!((step.as_str(), i.as_str()), ("train", image.as_str()));
                }
                other => panic!("{image}: {other:?}"),
            }
        }
        for good in [
            format!("registry.test/mnist@sha256:{hex}"),
            format!("registry.test:5000/team/mnist:v1@sha256:{hex}"),
        ] {
            let mut s = step("train", &[]);
            s.image = good.clone();
            let jobs = job_manifests(&identity(), &[s], &settings).unwrap();
            assert_eq!(container(&jobs[0]).image.as_deref(), Some(good.as_str()));
        }
    }

    #[test]
    fn run_order_follows_after_then_the_given_order() {
        let steps = [
            step("report", &["train", "evaluate"]),
            step("prepare", &[]),
            step("evaluate", &["train"]),
            step("train", &["prepare"]),
            step("lint", &[]),
        ];
        let plans = plan_jobs(&identity(), &steps, &KubernetesSettings::default()).unwrap();
        assert_eq!(
            names(&plans),
            ["prepare", "train", "evaluate", "report", "lint"]
        );
        assert_eq!(plans[3].after, ["train", "evaluate"]);
        let independent = [step("c", &[]), step("a", &[]), step("b", &[])];
        let plans = plan_jobs(&identity(), &independent, &KubernetesSettings::default()).unwrap();
        assert_eq!(names(&plans), ["c", "a", "b"]);
    }

    #[test]
    fn unknown_steps_cycles_and_duplicates_are_errors_naming_the_steps() {
        let settings = KubernetesSettings::default();
        let err = job_manifests(&identity(), &[step("a", &["nope"])], &settings).unwrap_err();
        assert_eq!(
            err,
            ManifestError::UnknownAfter {
                step: "a".into(),
                after: "nope".into()
            }
        );
        let steps = [
            step("ok", &[]),
            step("a", &["c", "ok"]),
            step("b", &["a"]),
            step("c", &["b"]),
            step("d", &["a"]),
        ];
        let err = job_manifests(&identity(), &steps, &settings).unwrap_err();
        assert_eq!(
            err,
            ManifestError::Cycle {
                cycle: vec!["a".into(), "c".into(), "b".into(), "a".into()]
            }
        );
        assert_eq!(
            err.to_string(),
            "the steps depend on each other in a cycle: a → c → b → a"
        );
        let err = job_manifests(&identity(), &[step("a", &["a"])], &settings).unwrap_err();
        assert_eq!(
            err,
            ManifestError::Cycle {
                cycle: vec!["a".into(), "a".into()]
            }
        );
        let err =
            job_manifests(&identity(), &[step("a", &[]), step("a", &[])], &settings).unwrap_err();
        assert_eq!(err, ManifestError::DuplicateStep { step: "a".into() });
    }

    #[test]
    fn every_job_is_a_single_try_with_run_labels_and_valid_names() {
        let identity = RunIdentity {
            pipeline: "Ünïcode Pipeline/v2".into(),
            run_id: "2026-11-01T10:00:00Z".into(),
        };
        let long = "s".repeat(200);
        let steps = [
            step("train_model", &[]),
            step("Train-Model", &[]),
            step(&long, &[]),
        ];
        let settings = KubernetesSettings {
            active_deadline_seconds: Some(3600),
            ..KubernetesSettings::default()
        };
        let jobs = job_manifests(&identity, &steps, &settings).unwrap();
        let mut seen = BTreeSet::new();
        for (job, step) in jobs.iter().zip(&steps) {
            let name = job.metadata.name.clone().unwrap();
            assert!(is_dns_label(&name), "{name}");
            assert!(seen.insert(name.clone()), "{name} twice");
            assert_eq!(job.metadata.namespace.as_deref(), Some("default"));
            let spec = job.spec.as_ref().unwrap();
            assert_eq!(spec.backoff_limit, Some(0));
            assert_eq!(spec.active_deadline_seconds, Some(3600));
            assert_eq!(spec.ttl_seconds_after_finished, Some(86_400));
            assert_eq!(pod_spec(job).restart_policy.as_deref(), Some("Never"));
            assert_eq!(pod_spec(job).containers.len(), 1);
            assert_eq!(container(job).name, "step");
            assert_eq!(
                container(job).image_pull_policy.as_deref(),
                Some("IfNotPresent")
            );
            for labels in [
                job.metadata.labels.as_ref().unwrap(),
                spec.template
                    .metadata
                    .as_ref()
                    .unwrap()
                    .labels
                    .as_ref()
                    .unwrap(),
            ] {
                assert_eq!(labels[LABEL_MANAGED_BY], "dockwright");
                assert_eq!(labels[LABEL_PIPELINE], label_value(&identity.pipeline));
                assert_eq!(
                    labels[LABEL_RUN],
                    "2026-11-01T10-00-00Z".to_string() + &labels[LABEL_RUN][20..]
                );
                assert_eq!(labels[LABEL_STEP], label_value(&step.step));
                for value in labels.values() {
                    assert!(crate::names::is_label_value(value), "{value}");
                }
            }
            let annotations = job.metadata.annotations.as_ref().unwrap();
            assert_eq!(annotations[ANNOTATION_STEP], step.step);
            assert_eq!(annotations[ANNOTATION_PIPELINE], identity.pipeline);
            assert_eq!(annotations[ANNOTATION_RUN], identity.run_id);
        }
        assert_eq!(
            jobs[0].metadata.labels.as_ref().unwrap()[LABEL_STEP],
            "train_model"
        );
        assert_eq!(
            run_selector(&identity),
            format!(
                "app.kubernetes.io/managed-by=dockwright,dockwright.io/pipeline={},dockwright.io/run={}",
                label_value(&identity.pipeline),
                label_value(&identity.run_id)
            )
        );
    }

    #[test]
    fn environment_keeps_its_order_and_dockwright_variables_come_last() {
        let mut s = step("train", &[]);
        s.environment = vec![
            ("ZETA".into(), "1".into()),
            ("ALPHA".into(), "2".into()),
            ("DOCKWRIGHT_STEP".into(), "spoofed".into()),
            ("MID".into(), "3".into()),
            ("ZETA".into(), "4".into()),
        ];
        s.pod_settings = Some(PodSettings {
            env: Some(vec![
                EnvVar {
                    name: "ALPHA".into(),
                    value: "from pod settings".into(),
                },
                EnvVar {
                    name: "HF_HOME".into(),
                    value: "/cache".into(),
                },
            ]),
            ..PodSettings::default()
        });
        let jobs = job_manifests(&identity(), &[s], &KubernetesSettings::default()).unwrap();
        let env = env_of(&jobs[0]);
        let expected = [
            ("ALPHA", "2"),
            ("HF_HOME", "/cache"),
            ("ZETA", "4"),
            ("MID", "3"),
            ("DOCKWRIGHT_ARTIFACTS", "/artifacts"),
            ("DOCKWRIGHT_STEP", "train"),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(env, expected);
    }

    #[test]
    fn step_pod_settings_merge_maps_by_key_and_replace_lists() {
        let toleration = |key: &str| Toleration {
            key: Some(key.into()),
            operator: Some(TolerationOperator::Exists),
            effect: Some(TaintEffect::NoSchedule),
            ..Toleration::default()
        };
        let pipeline = PodSettings {
            node_selectors: [("pool".into(), "cpu".into()), ("zone".into(), "a".into())].into(),
            tolerations: Some(vec![toleration("spot")]),
            resources: Resources {
                requests: [("cpu".into(), "1".into()), ("memory".into(), "1Gi".into())].into(),
                limits: [("memory".into(), "2Gi".into())].into(),
            },
            labels: [("team".into(), "vision".into())].into(),
            annotations: [("example.com/owner".into(), "ana".into())].into(),
            env: Some(vec![EnvVar {
                name: "A".into(),
                value: "1".into(),
            }]),
        };
        let settings = KubernetesSettings {
            pod_settings: pipeline,
            ..KubernetesSettings::default()
        };
        let mut gpu = step("train", &[]);
        gpu.pod_settings = Some(PodSettings {
            node_selectors: [("pool".into(), "gpu".into())].into(),
            tolerations: Some(vec![toleration("nvidia.com/gpu")]),
            resources: Resources {
                requests: [("memory".into(), "16Gi".into())].into(),
                limits: [("nvidia.com/gpu".into(), "1".into())].into(),
            },
            labels: [("cost-centre".into(), "ml".into())].into(),
            ..PodSettings::default()
        });
        let mut no_tolerations = step("report", &[]);
        no_tolerations.pod_settings = Some(PodSettings {
            tolerations: Some(Vec::new()),
            env: Some(Vec::new()),
            ..PodSettings::default()
        });
        let plain = step("prepare", &[]);
        let jobs = job_manifests(&identity(), &[gpu, no_tolerations, plain], &settings).unwrap();

        let spec = pod_spec(&jobs[0]);
        let selectors = spec.node_selector.clone().unwrap();
        assert_eq!(
            selectors,
            [("pool".into(), "gpu".into()), ("zone".into(), "a".into())].into()
        );
        let keys: Vec<_> = spec
            .tolerations
            .iter()
            .flatten()
            .map(|t| t.key.clone().unwrap())
            .collect();
        assert_eq!(keys, ["nvidia.com/gpu"]);
        let resources = container(&jobs[0]).resources.clone().unwrap();
        let quantities = |m: Option<BTreeMap<String, K8sQuantity>>| {
            m.unwrap()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            quantities(resources.requests),
            [
                ("cpu".to_string(), "1".to_string()),
                ("memory".into(), "16Gi".into())
            ]
        );
        assert_eq!(
            quantities(resources.limits),
            [
                ("memory".to_string(), "2Gi".to_string()),
                ("nvidia.com/gpu".into(), "1".into())
            ]
        );
        let labels = jobs[0].metadata.labels.clone().unwrap();
        assert_eq!(
            (labels["team"].as_str(), labels["cost-centre"].as_str()),
            ("vision", "ml")
        );
        assert_eq!(env_of(&jobs[0])[0], ("A".to_string(), "1".to_string()));

        assert_eq!(pod_spec(&jobs[1]).tolerations, None);
        assert_eq!(env_of(&jobs[1]).len(), 2, "only Dockwright's variables");
        let keys: Vec<_> = pod_spec(&jobs[2])
            .tolerations
            .iter()
            .flatten()
            .map(|t| t.key.clone().unwrap())
            .collect();
        assert_eq!(keys, ["spot"]);
    }

    #[test]
    fn artifacts_claim_secrets_and_service_account_go_on_every_pod() {
        let settings = KubernetesSettings {
            namespace: "pipelines".into(),
            service_account_name: Some("runner".into()),
            image_pull_secrets: vec!["regcred".into(), "mirror".into()],
            artifacts_pvc: Some("mnist-artifacts".into()),
            ttl_seconds_after_finished: None,
            ..KubernetesSettings::default()
        };
        let jobs =
            job_manifests(&identity(), &[step("a", &[]), step("b", &["a"])], &settings).unwrap();
        for job in &jobs {
            assert_eq!(job.metadata.namespace.as_deref(), Some("pipelines"));
            assert_eq!(job.spec.as_ref().unwrap().ttl_seconds_after_finished, None);
            let spec = pod_spec(job);
            assert_eq!(spec.service_account_name.as_deref(), Some("runner"));
            let secrets: Vec<_> = spec
                .image_pull_secrets
                .iter()
                .flatten()
                .map(|s| s.name.as_str())
                .collect();
            assert_eq!(secrets, ["regcred", "mirror"]);
            let volume = &spec.volumes.as_ref().unwrap()[0];
            assert_eq!(
                volume.persistent_volume_claim.as_ref().unwrap().claim_name,
                "mnist-artifacts"
            );
            let mount = &container(job).volume_mounts.as_ref().unwrap()[0];
            assert_eq!(
                (mount.name.as_str(), mount.mount_path.as_str()),
                (volume.name.as_str(), "/artifacts")
            );
        }
        let without = job_manifests(
            &identity(),
            &[step("a", &[])],
            &KubernetesSettings::default(),
        )
        .unwrap();
        assert_eq!(pod_spec(&without[0]).volumes, None);
        assert_eq!(container(&without[0]).volume_mounts, None);
    }

    #[test]
    fn invalid_settings_are_refused_with_the_setting_named() {
        let cases: Vec<(KubernetesSettings, Option<PodSettings>, &str)> = vec![
            (
                KubernetesSettings {
                    namespace: "My NS".into(),
                    ..Default::default()
                },
                None,
                "namespace",
            ),
            (
                KubernetesSettings {
                    artifacts_pvc: Some("Artifacts!".into()),
                    ..Default::default()
                },
                None,
                "artifacts_pvc",
            ),
            (
                KubernetesSettings {
                    active_deadline_seconds: Some(0),
                    ..Default::default()
                },
                None,
                "active_deadline_seconds",
            ),
            (
                KubernetesSettings {
                    ttl_seconds_after_finished: Some(-1),
                    ..Default::default()
                },
                None,
                "ttl_seconds_after_finished",
            ),
            (
                KubernetesSettings::default(),
                Some(PodSettings {
                    resources: Resources {
                        limits: [("memory".into(), "lots".into())].into(),
                        ..Default::default()
                    },
                    ..Default::default()
                }),
                "resources.limits.memory",
            ),
            (
                KubernetesSettings::default(),
                Some(PodSettings {
                    labels: [("dockwright.io/step".into(), "x".into())].into(),
                    ..Default::default()
                }),
                "labels",
            ),
            (
                KubernetesSettings::default(),
                Some(PodSettings {
                    labels: [("team".into(), "a b".into())].into(),
                    ..Default::default()
                }),
                "labels.team",
            ),
            (
                KubernetesSettings::default(),
                Some(PodSettings {
                    tolerations: Some(vec![Toleration {
                        key: Some("gpu".into()),
                        operator: Some(TolerationOperator::Exists),
                        value: Some("yes".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                "tolerations",
            ),
            (
                KubernetesSettings::default(),
                Some(PodSettings {
                    tolerations: Some(vec![Toleration {
                        key: Some("gpu".into()),
                        toleration_seconds: Some(60),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                "tolerations",
            ),
            (
                KubernetesSettings::default(),
                Some(PodSettings {
                    env: Some(vec![EnvVar {
                        name: "A=B".into(),
                        value: String::new(),
                    }]),
                    ..Default::default()
                }),
                "env",
            ),
        ];
        for (settings, pod, setting) in cases {
            let mut s = step("train", &[]);
            let for_step = pod.is_some();
            s.pod_settings = pod;
            match job_manifests(&identity(), &[s], &settings) {
                Err(ManifestError::InvalidSetting {
                    step, setting: got, ..
                }) => {
                    assert_eq!(got, setting);
                    assert_eq!(step.is_some(), for_step, "{setting}");
                }
                other => panic!("{setting}: {other:?}"),
            }
        }
    }

    #[test]
    fn quantities() {
        for ok in [
            "1", "0.5", "500m", "1.5Gi", "2Ki", "1e3", "1E-2", "+1", "100M", ".5",
        ] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "lots", "1GB", "1.2.3", "Gi", "1e", "1 Gi", ".", "1gi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn yaml_is_one_document_per_job_and_quotes_yaml_1_1_lookalikes() {
        let mut s = step("train", &[]);
        let tricky = [
            "yes",
            "on",
            "y",
            "NO",
            "0755",
            "1:20",
            "null",
            "~",
            "2026-11-01",
            "1e3",
            "true",
            "- a",
            "#x",
            "a: b",
            "line\nbreak",
        ];
        s.environment = tricky
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("V{i}"), v.to_string()))
            .collect();
        let jobs = job_manifests(
            &identity(),
            &[s, step("eval", &["train"])],
            &KubernetesSettings::default(),
        )
        .unwrap();
        let yaml = manifests_yaml(&jobs);
        assert_eq!(yaml.matches("---\n").count(), 2);
        assert!(
            yaml.starts_with("---\napiVersion: batch/v1\nkind: Job\n"),
            "{yaml}"
        );
        for value in tricky.iter().filter(|v| !v.contains('\n')) {
            assert!(
                yaml.contains(&format!("value: \"{value}\""))
                    || yaml.contains(&format!("value: '{value}'")),
                "{value} is not quoted in\n{yaml}"
            );
        }
        let back: Vec<Job> = serde_saphyr::from_multiple(&yaml).unwrap();
        assert_eq!(back, jobs);
    }

    #[test]
    fn settings_read_zenml_spellings_and_refuse_unknown_fields() {
        let defaults: KubernetesSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(defaults, KubernetesSettings::default());
        let yaml = r#"
context: gke-prod
namespace: pipelines
service_account_name: runner
image_pull_secrets: [regcred]
artifacts_pvc: mnist-artifacts
active_deadline_seconds: 7200
ttl_seconds_after_finished: null
unschedulable_timeout_seconds: 60
pod_settings:
  node_selectors: {cloud.google.com/gke-accelerator: nvidia-l4}
  tolerations:
    - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
    - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, toleration_seconds: 30}
  resources:
    requests: {cpu: 4, memory: 16Gi}
    limits: {nvidia.com/gpu: 1, cpu: 0.5}
  labels: {team: vision}
  annotations: {example.com/owner: ana}
  env: [{name: HF_HOME, value: /cache}]
"#;
        let settings: KubernetesSettings = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(settings.context.as_deref(), Some("gke-prod"));
        assert_eq!(settings.ttl_seconds_after_finished, None);
        let pod = &settings.pod_settings;
        assert_eq!(pod.resources.requests["cpu"], Quantity("4".into()));
        assert_eq!(pod.resources.limits["nvidia.com/gpu"], Quantity("1".into()));
        assert_eq!(pod.resources.limits["cpu"], Quantity("0.5".into()));
        assert_eq!(
            pod.tolerations.as_ref().unwrap()[1].toleration_seconds,
            Some(30)
        );
        assert_eq!(pod.env.as_ref().unwrap()[0].value, "/cache");
        let with_unknown = "namespace: x\nnodeSelector: {a: b}\n";
        assert!(serde_saphyr::from_str::<KubernetesSettings>(with_unknown).is_err());
        let bad_operator = "pod_settings: {tolerations: [{key: a, operator: Sometimes}]}\n";
        assert!(serde_saphyr::from_str::<KubernetesSettings>(bad_operator).is_err());
        job_manifests(&identity(), &[step("a", &[])], &settings).unwrap();
    }
}
