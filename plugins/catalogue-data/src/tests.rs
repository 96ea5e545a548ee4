//! Checks of the catalogue data: it is well-formed, consistent, and agrees with the facts
//! observed by running ZenML 0.98.0 (reference/zenml-behaviour.md §14).

use std::collections::HashSet;
use std::str::FromStr;

use super::*;

type Pep508 = pep508_rs::Requirement<pep508_rs::VerbatimUrl>;

/// Every requirement list of an integration: the default and each variant's.
fn all_lists(i: &Integration) -> impl Iterator<Item = &'static [&'static str]> + '_ {
    std::iter::once(i.requirements).chain(i.variants.iter().map(|v| v.requirements))
}

#[test]
fn every_requirement_line_is_pep508() {
    let mut checked = 0;
    for i in INTEGRATIONS {
        for line in all_lists(i).flatten() {
            if let Err(e) = Pep508::from_str(line) {
                panic!("integration {}: `{line}` is not PEP 508: {e}", i.name);
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} lines checked");
}

#[test]
fn apt_packages_are_debian_package_names() {
    // Debian policy §5.6.1: lower case letters, digits, `+ - .`; at least two characters,
    // starting with an alphanumeric.
    for i in INTEGRATIONS {
        for p in i.apt_packages {
            let ok = p.len() >= 2
                && p.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
            assert!(ok, "integration {}: apt package `{p}`", i.name);
        }
    }
}

#[test]
fn all_66_integrations_of_zenml_0_98_with_unique_sorted_names() {
    assert_eq!(ZENML_VERSION, "0.98.0");
    let names: Vec<&str> = integration_names().collect();
    assert_eq!(names.len(), 66);
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "names must be unique and in order");
}

/// reference/zenml-behaviour.md §14: `select_integration_requirements(name, "Linux")` and
/// `APT_PACKAGES` as observed in ZenML 0.98.0.
#[test]
fn linux_facts_match_the_reference() {
    let facts: &[(&str, &[&str], &[&str])] = &[
        ("sklearn", &["scikit-learn"], &[]),
        ("pytorch", &["torch"], &[]),
        (
            "tensorflow",
            &["tensorflow>=2.12,<2.15", "tensorflow_io>=0.24.0"],
            &[],
        ),
        (
            "mlflow",
            &[
                "mlflow>=2.1.1,<4",
                "python-rapidjson<1.15",
                "numpy<3.0",
                "pandas>=2.0.0",
            ],
            &[],
        ),
        (
            "s3",
            &["s3fs>2022.3.0,!=2025.3.1", "boto3", "aws-profile-manager"],
            &[],
        ),
        (
            "aws",
            &[
                "sagemaker>=2.237.3,<3.0.0",
                "kubernetes",
                "aws-profile-manager",
                "pytz>=2021.1",
            ],
            &[],
        ),
        ("kubernetes", &["kubernetes>=21.7,<26", "Jinja2"], &[]),
        ("slack", &["slack-sdk==3.30.0"], &[]),
        ("pandas", &["pandas>=2.0.0"], &[]),
        ("numpy", &["numpy<3.0"], &[]),
        (
            "huggingface",
            &[
                "datasets>=2.16.0,<4.0.0",
                "huggingface_hub>0.19.0",
                "accelerate",
                "bitsandbytes>=0.41.3",
                "peft",
                "transformers[torch]>=4.40,<6.0.0",
                "pandas>=2.0.0",
            ],
            &[],
        ),
        ("lightgbm", &["lightgbm>=1.0.0"], &["libgomp1"]),
        (
            "deepchecks",
            &[
                "deepchecks[vision]~=0.18.0",
                "torchvision>=0.14.0",
                "opencv-python==4.5.5.64",
                "opencv-python-headless==4.5.5.64",
                "tenacity!=8.4.0",
                "pandas<2.2.0",
                "ipython<9.0.0",
                "pandas>=2.0.0",
            ],
            &["ffmpeg", "libsm6", "libxext6"],
        ),
        ("kaniko", &[], &[]),
        ("airflow", &[], &[]),
    ];
    for (name, requirements, apt) in facts {
        let i = integration(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(
            i.requirements_for("linux", "amd64"),
            *requirements,
            "{name}"
        );
        assert_eq!(i.apt_packages, *apt, "{name}");
    }
    let gcp = integration("gcp")
        .unwrap()
        .requirements_for("linux", "amd64");
    assert_eq!(gcp.len(), 14);
    assert_eq!(gcp[0], "kfp>=2.6.0");
    assert!(gcp.contains(&"gcsfs!=2025.5.0,!=2025.5.0.post1,<=2024.12.0"));
    assert_eq!(gcp[13], "kubernetes");
    for cloud in ["aws", "gcp", "azure", "kubernetes"] {
        let name = format!("skypilot_{cloud}");
        let i = integration(&name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(
            i.requirements,
            &[format!("skypilot[{cloud}]>=0.11.0,<0.12.0")]
        );
        assert_eq!(i.apt_packages, &["openssh-client", "rsync"]);
    }
}

#[test]
fn os_conditional_requirements_follow_the_platform() {
    let tf = integration("tensorflow").unwrap();
    assert_eq!(
        tf.requirements_for("darwin", "arm64"),
        &["tensorflow-macos>=2.12,<2.15"]
    );
    // The kernel's spelling of the architecture works too.
    assert_eq!(
        tf.requirements_for("Darwin", "aarch64"),
        &["tensorflow-macos>=2.12,<2.15"]
    );
    assert_eq!(tf.requirements_for("darwin", "amd64"), tf.requirements);
    assert_eq!(tf.requirements_for("linux", "arm64"), tf.requirements);

    let mlx = integration("mlx").unwrap();
    assert_eq!(mlx.requirements_for("linux", "amd64"), &["mlx[cpu]"]);
    assert_eq!(mlx.requirements_for("linux", "arm64"), &["mlx[cpu]"]);
    assert_eq!(mlx.requirements_for("darwin", "arm64"), &["mlx"]);
    assert!(mlx.requirements_for("darwin", "x86_64").is_empty());
    assert!(mlx.requirements_for("windows", "amd64").is_empty());
}

#[test]
fn lookups_are_exact_like_zenml() {
    assert!(integration("sklearn").is_some());
    assert!(integration("Sklearn").is_none());
    assert!(integration("great-expectations").is_none());
    assert!(integration("great_expectations").is_some());
    assert!(flavor("artifact_store", "S3").is_none());
}

#[test]
fn every_flavor_is_unique_typed_and_owned_by_a_known_integration() {
    let mut seen = HashSet::new();
    for f in FLAVORS {
        assert!(
            seen.insert((f.component, f.name)),
            "duplicate flavor {} {}",
            f.component,
            f.name
        );
        assert!(is_component_type(f.component), "{}: unknown type", f.name);
        if let Some(owner) = f.integration {
            assert!(
                integration(owner).is_some(),
                "{} {}: {owner}",
                f.component,
                f.name
            );
        }
    }
}

#[test]
fn flavors_map_to_the_integrations_zenml_installs() {
    let owner = |component, name| flavor(component, name).map(|f| f.integration);
    assert_eq!(owner("artifact_store", "s3"), Some(Some("s3")));
    assert_eq!(owner("artifact_store", "gcp"), Some(Some("gcp")));
    assert_eq!(owner("artifact_store", "azure"), Some(Some("azure")));
    assert_eq!(
        owner("orchestrator", "kubernetes"),
        Some(Some("kubernetes"))
    );
    assert_eq!(owner("orchestrator", "sagemaker"), Some(Some("aws")));
    assert_eq!(owner("orchestrator", "vertex"), Some(Some("gcp")));
    assert_eq!(owner("step_operator", "sagemaker"), Some(Some("aws")));
    assert_eq!(owner("experiment_tracker", "mlflow"), Some(Some("mlflow")));
    // Built into ZenML: nothing to install.
    assert_eq!(owner("artifact_store", "local"), Some(None));
    assert_eq!(owner("orchestrator", "local"), Some(None));
    assert_eq!(owner("container_registry", "default"), Some(None));
    assert_eq!(owner("container_registry", "gcp"), Some(None));
    assert_eq!(owner("artifact_store", "s4"), None);
    let artifact_stores: Vec<&str> = flavor_names("artifact_store").collect();
    assert!(artifact_stores.contains(&"s3") && artifact_stores.contains(&"local"));
}

#[test]
fn additions_keep_order_and_origins_and_note_empty_integrations() {
    let mut out = Additions::default();
    out.add(
        integration("lightgbm").unwrap(),
        "linux",
        "amd64",
        "integration lightgbm",
    );
    out.add(
        integration("kaniko").unwrap(),
        "linux",
        "amd64",
        "integration kaniko",
    );
    out.add(
        integration("pandas").unwrap(),
        "linux",
        "amd64",
        "x → integration pandas",
    );
    assert_eq!(
        out.requirements,
        vec![
            (
                "lightgbm>=1.0.0".to_string(),
                "integration lightgbm".to_string()
            ),
            (
                "pandas>=2.0.0".to_string(),
                "x → integration pandas".to_string()
            ),
        ]
    );
    assert_eq!(out.apt_packages, vec!["libgomp1".to_string()]);
    assert_eq!(out.notes.len(), 1);
    assert!(out.notes[0].contains("`kaniko`"), "{:?}", out.notes);
}
