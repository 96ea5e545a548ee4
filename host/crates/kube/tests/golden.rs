//! The dry-run manifests of a representative pipeline, compared with the files in
//! `tests/golden/`. `UPDATE_GOLDEN=1 cargo test -p dockwright-kube --test golden` rewrites
//! them; `validate-manifests.sh` checks them against the Kubernetes schemas.

use std::path::PathBuf;

use dockwright_kube::{
    EnvVar, KubernetesSettings, PodSettings, Resources, RunIdentity, StepJob, TaintEffect,
    Toleration, TolerationOperator, job_manifests, manifests_yaml,
};

const DIGEST: &str = "sha256:3f1c9a0e5b7d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6";

fn image(name: &str) -> String {
    format!("registry.example.com/ml/{name}@{DIGEST}")
}

/// A pipeline with what a real one uses: a GPU step with its own resources, node selector
/// and tolerations over the pipeline's, a step with a name that is no DNS label, parallel
/// steps, an artifacts claim, a pull secret, environment values YAML could misread.
fn pipeline() -> (RunIdentity, Vec<StepJob>, KubernetesSettings) {
    let identity = RunIdentity {
        pipeline: "mnist_training".into(),
        run_id: "20261101-103000-7f3a".into(),
    };
    let settings = KubernetesSettings {
        context: Some("gke-prod".into()),
        namespace: "ml-pipelines".into(),
        service_account_name: Some("pipeline-runner".into()),
        image_pull_secrets: vec!["regcred".into()],
        artifacts_pvc: Some("mnist-artifacts".into()),
        active_deadline_seconds: Some(7200),
        pod_settings: PodSettings {
            node_selectors: [("pool".into(), "batch".into())].into(),
            resources: Resources {
                requests: [
                    ("cpu".into(), "500m".into()),
                    ("memory".into(), "1Gi".into()),
                ]
                .into(),
                limits: [("memory".into(), "2Gi".into())].into(),
            },
            labels: [("team".into(), "vision".into())].into(),
            annotations: [("example.com/cost-centre".into(), "ml-research".into())].into(),
            env: Some(vec![EnvVar {
                name: "HF_HOME".into(),
                value: "/artifacts/hf-cache".into(),
            }]),
            ..PodSettings::default()
        },
        ..KubernetesSettings::default()
    };
    let steps = vec![
        StepJob {
            step: "load_data".into(),
            image: image("mnist-base"),
            command: vec!["python".into(), "-m".into(), "pipeline.load".into()],
            environment: vec![
                ("DATASET".into(), "mnist".into()),
                ("SHUFFLE".into(), "yes".into()),
                ("SEED".into(), "0042".into()),
                ("SPLIT".into(), "1:20".into()),
            ],
            after: vec![],
            pod_settings: None,
        },
        StepJob {
            step: "Train Model (GPU)".into(),
            image: image("mnist-gpu"),
            command: vec![
                "python".into(),
                "-m".into(),
                "pipeline.train".into(),
                "--epochs".into(),
                "10".into(),
            ],
            environment: vec![
                ("EPOCHS".into(), "10".into()),
                ("MIXED_PRECISION".into(), "on".into()),
                ("NOTE".into(), "lr: 0.001 # tuned".into()),
            ],
            after: vec!["load_data".into()],
            pod_settings: Some(PodSettings {
                node_selectors: [(
                    "cloud.google.com/gke-accelerator".into(),
                    "nvidia-l4".into(),
                )]
                .into(),
                tolerations: Some(vec![
                    Toleration {
                        key: Some("nvidia.com/gpu".into()),
                        operator: Some(TolerationOperator::Exists),
                        effect: Some(TaintEffect::NoSchedule),
                        ..Toleration::default()
                    },
                    Toleration {
                        key: Some("cloud.google.com/gke-spot".into()),
                        operator: Some(TolerationOperator::Equal),
                        value: Some("true".into()),
                        effect: Some(TaintEffect::NoExecute),
                        toleration_seconds: Some(300),
                    },
                ]),
                resources: Resources {
                    requests: [("cpu".into(), "4".into()), ("memory".into(), "16Gi".into())].into(),
                    limits: [
                        ("memory".into(), "24Gi".into()),
                        ("nvidia.com/gpu".into(), "1".into()),
                    ]
                    .into(),
                },
                ..PodSettings::default()
            }),
        },
        StepJob {
            step: "evaluate".into(),
            image: image("mnist-base"),
            command: vec!["python".into(), "-m".into(), "pipeline.evaluate".into()],
            environment: vec![],
            after: vec!["Train Model (GPU)".into()],
            pod_settings: None,
        },
        StepJob {
            step: "profile_data".into(),
            image: image("mnist-base"),
            command: vec![],
            environment: vec![("REPORT".into(), "null".into())],
            after: vec!["load_data".into()],
            pod_settings: None,
        },
    ];
    (identity, steps, settings)
}

#[test]
fn dry_run_manifests_match_the_golden_file() {
    let (identity, steps, settings) = pipeline();
    let yaml = manifests_yaml(&job_manifests(&identity, &steps, &settings).unwrap());
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/mnist-training.yaml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &yaml).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(
        golden == yaml,
        "the manifests differ from {} (UPDATE_GOLDEN=1 rewrites it):\n{yaml}",
        path.display()
    );
}
