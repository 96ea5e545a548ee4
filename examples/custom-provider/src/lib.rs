//! Acme's in-house integrations as a Dockwright plugin: an integration provider. Pipelines
//! ask for `acme_feature_store` or `acme_model_registry` in `required_integrations`, and get
//! their requirement lines and apt packages. It also offers `feast`, Acme's pinned build of
//! it, which ZenML's catalogue (the built-in `integrations` plugin) offers too: a pipeline
//! that wants Acme's says so with `integration_providers: {feast: acme-integrations}`.
//!
//! The catalogue is plain data (`CATALOGUE`), testable with a native `cargo test`; only the
//! `plugin` module, compiled for wasm32-wasip2, talks to the host through the SDK.

/// name, requirement lines, apt packages, description.
pub const CATALOGUE: &[(&str, &[&str], &[&str], &str)] = &[
    (
        "acme_feature_store",
        &["feast>=0.40,<1", "redis>=5"],
        &["libpq5"],
        "Acme's feature store: Feast with the Redis online store and the Postgres registry.",
    ),
    (
        "acme_model_registry",
        &["mlflow-skinny>=2.10,<3"],
        &[],
        "Acme's model registry client.",
    ),
    (
        "feast",
        &["feast[redis,postgres]==0.40.1"],
        &["libpq5"],
        "Feast as Acme runs it: one pinned version with the Redis and Postgres extras.",
    ),
];

#[cfg(target_arch = "wasm32")]
mod plugin {
    use dockwright_plugin_sdk::*;

    manifest! {
        group: "integrations",
        description: "Acme's in-house integrations (feature store, model registry), written in Rust.",
    }

    struct Acme;

    impl RequirementSource for Acme {
        fn contribute(request: Request) -> Result<Contribution, PluginError> {
            catalogue_contribution::<Acme>(&request)
        }

        fn integrations(_platform: Platform) -> Vec<Integration> {
            super::CATALOGUE
                .iter()
                .map(|(name, lines, apt, about)| integration(name, lines, apt, about))
                .collect()
        }
    }

    export_plugin!(Acme);
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_integration_has_requirements_and_a_unique_name() {
        let mut names: Vec<&str> = super::CATALOGUE.iter().map(|i| i.0).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), super::CATALOGUE.len());
        assert!(super::CATALOGUE.iter().all(|i| !i.1.is_empty()));
    }
}
