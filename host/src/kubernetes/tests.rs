//! The settings' layers and their errors, read from real files.

use std::path::PathBuf;

use super::*;

/// A pipeline in a temp dir with the stack file `k8s.yaml`.
fn load(stack: &str, pipeline: &str) -> (tempfile::TempDir, Result<Pipeline, SettingsError>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k8s.yaml"), stack).unwrap();
    let file = dir.path().join("dockwright.yaml");
    std::fs::write(&file, pipeline).unwrap();
    let loaded = crate::settings::load(&file);
    (dir, loaded)
}

const STACK: &str = "\
orchestrator:
  flavor: kubernetes
  config:
    kubernetes_context: prod
    kubernetes_namespace: ml
    service_account_name: runner
    image_pull_secrets: [regcred]
    artifacts_pvc: artifacts
    pod_settings:
      node_selectors: {pool: cpu}
      resources:
        requests: {memory: 1Gi}
container_registry: {flavor: default, uri: 127.0.0.1:5000/team}
";

const PIPELINE: &str = "\
name: mnist
stack: k8s.yaml
settings:
  docker:
    install_stack_requirements: false
  orchestrator:
    active_deadline_seconds: 600
    ttl_seconds_after_finished: null
steps:
  - name: train
    command: [python, train.py]
    settings:
      orchestrator:
        pod_settings:
          resources:
            limits: {nvidia.com/gpu: 1}
  - name: evaluate
    command: [python, evaluate.py]
    after: [train]
";

fn settings_of(stack: &str, pipeline: &str) -> Result<Kubernetes, SettingsError> {
    let (_dir, loaded) = load(stack, pipeline);
    settings(&loaded.unwrap())
}

fn error_of(stack: &str, pipeline: &str) -> (PathBuf, u64, u64, String, String) {
    let (dir, loaded) = load(stack, pipeline);
    let error = match loaded {
        Ok(p) => settings(&p).expect_err("the settings should be refused"),
        Err(e) => e,
    };
    let d = error.diagnostic().expect("a diagnostic").clone();
    let file = d
        .file
        .strip_prefix(dir.path())
        .unwrap_or(&d.file)
        .to_path_buf();
    (file, d.line, d.column, d.field, d.message)
}

#[test]
fn the_stack_config_then_the_pipeline_then_each_steps_pod_settings() {
    let k = settings_of(STACK, PIPELINE).unwrap();
    let s = &k.settings;
    assert_eq!(s.context.as_deref(), Some("prod"));
    assert_eq!(s.namespace, "ml");
    assert!(k.namespace_given);
    assert_eq!(s.service_account_name.as_deref(), Some("runner"));
    assert_eq!(s.image_pull_secrets, ["regcred"]);
    assert_eq!(s.artifacts_pvc.as_deref(), Some("artifacts"));
    assert_eq!(s.active_deadline_seconds, Some(600));
    assert_eq!(
        s.ttl_seconds_after_finished, None,
        "null keeps finished Jobs"
    );
    assert_eq!(s.pod_settings.node_selectors["pool"], "cpu");
    assert_eq!(s.pod_settings.resources.requests["memory"].0, "1Gi");
    assert_eq!(
        k.step_pods["train"].resources.limits["nvidia.com/gpu"].0,
        "1"
    );
    assert!(!k.step_pods.contains_key("evaluate"));
}

#[test]
fn without_settings_the_defaults_and_the_contexts_namespace() {
    let k = settings_of(
        "orchestrator: kubernetes\n",
        "name: p\nstack: k8s.yaml\nsteps:\n  - name: a\n    command: [\"true\"]\n",
    )
    .unwrap();
    assert_eq!(k.settings, KubernetesSettings::default());
    assert!(!k.namespace_given);
}

#[test]
fn an_unknown_key_in_the_stack_file_points_at_it() {
    let stack = STACK.replace(
        "    kubernetes_namespace: ml",
        "    kubernetes_namspace: ml",
    );
    let (file, line, column, field, message) = error_of(&stack, PIPELINE);
    assert_eq!(file, PathBuf::from("k8s.yaml"));
    assert_eq!((line, column), (5, 5), "{message}");
    assert_eq!(field, "orchestrator.config.kubernetes_namspace");
    assert!(
        message.contains("unknown field `kubernetes_namspace`"),
        "{message}"
    );
}

#[test]
fn a_wrong_type_deep_in_pod_settings_points_at_its_key() {
    let stack = STACK.replace("node_selectors: {pool: cpu}", "node_selectors: [cpu]");
    let (file, line, column, field, message) = error_of(&stack, PIPELINE);
    assert_eq!(file, PathBuf::from("k8s.yaml"));
    assert_eq!((line, column), (10, 7), "{message}");
    assert_eq!(field, "orchestrator.config.pod_settings.node_selectors");
}

#[test]
fn a_quantity_kubernetes_would_refuse_is_reported_at_its_key_before_any_build() {
    let stack = STACK.replace("{memory: 1Gi}", "{memory: lots}");
    let (file, line, column, field, message) = error_of(&stack, PIPELINE);
    assert_eq!(file, PathBuf::from("k8s.yaml"));
    assert_eq!((line, column), (12, 20), "{message}");
    assert_eq!(
        field,
        "orchestrator.config.pod_settings.resources.requests.memory"
    );
    assert!(message.contains("`lots`"), "{message}");

    let pipeline = PIPELINE.replace("{nvidia.com/gpu: 1}", "{nvidia.com/gpu: one}");
    let (file, line, _, field, _) = error_of(STACK, &pipeline);
    assert_eq!(file, PathBuf::from("dockwright.yaml"));
    assert_eq!(line, 16);
    assert_eq!(
        field,
        "steps[0].settings.orchestrator.pod_settings.resources.limits.nvidia.com/gpu"
    );
}

#[test]
fn a_namespace_kubernetes_would_refuse_points_at_the_layer_that_set_it() {
    let pipeline = PIPELINE.replace(
        "    active_deadline_seconds: 600",
        "    active_deadline_seconds: 600\n    kubernetes_namespace: Not A Name",
    );
    let (file, line, column, field, _) = error_of(STACK, &pipeline);
    assert_eq!(file, PathBuf::from("dockwright.yaml"));
    assert_eq!((line, column), (8, 5));
    assert_eq!(field, "settings.orchestrator.kubernetes_namespace");
}

#[test]
fn a_step_sets_only_pod_settings() {
    let pipeline = PIPELINE.replace(
        "        pod_settings:\n          resources:",
        "        kubernetes_namespace: other\n        pod_settings:\n          resources:",
    );
    let (file, line, column, field, message) = error_of(STACK, &pipeline);
    assert_eq!(file, PathBuf::from("dockwright.yaml"));
    assert_eq!((line, column), (14, 9));
    assert_eq!(field, "steps[0].settings.orchestrator.kubernetes_namespace");
    assert!(
        message.contains("a step sets only `pod_settings`"),
        "{message}"
    );
}

#[test]
fn the_flavor_decides_the_default_orchestrator() {
    let (_d, p) = load(STACK, PIPELINE);
    assert!(is_default(&p.unwrap()));
    let (_d, p) = load(
        "orchestrator: local\n",
        "name: p\nstack: k8s.yaml\nsteps:\n  - name: a\n    command: [\"true\"]\n",
    );
    assert!(!is_default(&p.unwrap()));
}

#[test]
fn run_ids_differ_and_are_dns_safe() {
    let a = new_run_id();
    let b = new_run_id();
    assert_ne!(a, b);
    assert!(
        a.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{a}"
    );
}
