//! Stack components → the integrations their flavors need → requirement lines and apt
//! packages. Components are visited in the order of their type names (the settings arrive as
//! a JSON object), so the contribution is the same for the same stack.

use catalogue_data::Additions;
use serde_json::{Map, Value};

#[derive(serde::Deserialize)]
pub struct Settings {
    /// Component type → `{"flavor": "<flavor>", ...}` or just `"<flavor>"`.
    #[serde(default)]
    pub stack: Option<Map<String, Value>>,
    #[serde(default = "install_by_default")]
    pub install_stack_requirements: bool,
}

/// ZenML's default for `install_stack_requirements`.
fn install_by_default() -> bool {
    true
}

#[derive(Debug, PartialEq)]
pub enum Error {
    /// The stack is malformed: the text says which component and why.
    Invalid(String),
    /// A flavor the component type does not have, with the closest ones it does.
    UnknownFlavor {
        name: String,
        suggestions: Vec<String>,
    },
}

/// What the stack's components need in an image for `os`/`arch`.
pub fn select(settings: &Settings, os: &str, arch: &str) -> Result<Additions, Error> {
    let mut out = Additions::default();
    let Some(stack) = settings
        .stack
        .as_ref()
        .filter(|_| settings.install_stack_requirements)
    else {
        return Ok(out);
    };
    for (component, spec) in stack {
        check_component_type(component)?;
        let flavor_name = flavor_of(component, spec)?;
        let flavor =
            catalogue_data::flavor(component, flavor_name).ok_or_else(|| Error::UnknownFlavor {
                name: flavor_name.to_string(),
                suggestions: flavor_suggestions(component, flavor_name),
            })?;
        // Flavors built into ZenML (`local`, `default`, ...) need nothing installed.
        let Some(owner) = flavor.integration else {
            continue;
        };
        let integration = catalogue_data::integration(owner).ok_or_else(|| {
            Error::Invalid(format!(
                "stack.{component}: flavor `{flavor_name}` names integration `{owner}`, \
                 which the catalogue does not hold"
            ))
        })?;
        let origin = format!("stack {component} {flavor_name} → integration {owner}");
        out.add(integration, os, arch, &origin);
    }
    Ok(out)
}

fn check_component_type(component: &str) -> Result<(), Error> {
    if catalogue_data::is_component_type(component) {
        return Ok(());
    }
    let suggestions = dockwright_plugin_sdk::closest_names(
        component,
        catalogue_data::COMPONENT_TYPES.iter().copied(),
    );
    let hint = match suggestions.first() {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("known: {}", catalogue_data::COMPONENT_TYPES.join(", ")),
    };
    Err(Error::Invalid(format!(
        "stack: unknown stack component type `{component}`; {hint}"
    )))
}

/// The flavors of `component` closest to `name`; when none is close (flavor names are short:
/// `s4` is as far from `s3` as from `gcp`), every flavor of that type, so the user still sees
/// what exists.
fn flavor_suggestions(component: &str, name: &str) -> Vec<String> {
    let close = dockwright_plugin_sdk::closest_names(name, catalogue_data::flavor_names(component));
    if !close.is_empty() {
        return close;
    }
    catalogue_data::flavor_names(component)
        .map(str::to_string)
        .collect()
}

/// The flavor of one component: `"s3"` or `{"flavor": "s3", ...}` (other keys are the
/// component's configuration, which the requirements do not depend on).
fn flavor_of<'a>(component: &str, spec: &'a Value) -> Result<&'a str, Error> {
    let flavor = match spec {
        Value::String(flavor) => Some(flavor),
        Value::Object(fields) => match fields.get("flavor") {
            Some(Value::String(flavor)) => Some(flavor),
            _ => None,
        },
        _ => None,
    };
    flavor.map(String::as_str).ok_or_else(|| {
        Error::Invalid(format!(
            "stack.{component}: expected a flavor name or a mapping with a `flavor` string, \
             got `{spec}`"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select_json(json: &str) -> Result<Additions, Error> {
        let settings: Settings = serde_json::from_str(json).unwrap();
        select(&settings, "linux", "amd64")
    }

    fn sorted_lines(out: &Additions) -> Vec<&str> {
        let mut lines: Vec<&str> = out.requirements.iter().map(|(l, _)| l.as_str()).collect();
        lines.sort_unstable();
        lines.dedup();
        lines
    }

    #[test]
    fn s3_and_kubernetes_give_the_conformance_lines() {
        let out = select_json(
            r#"{"stack": {"artifact_store": {"flavor": "s3"}, "orchestrator": "kubernetes"}}"#,
        )
        .unwrap();
        assert_eq!(
            sorted_lines(&out),
            [
                "Jinja2",
                "aws-profile-manager",
                "boto3",
                "kubernetes>=21.7,<26",
                "s3fs>2022.3.0,!=2025.3.1"
            ]
        );
        let origin = |line: &str| &out.requirements.iter().find(|(l, _)| l == line).unwrap().1;
        assert_eq!(origin("boto3"), "stack artifact_store s3 → integration s3");
        assert_eq!(
            origin("Jinja2"),
            "stack orchestrator kubernetes → integration kubernetes"
        );
    }

    #[test]
    fn built_in_flavors_and_switched_off_stacks_add_nothing() {
        let local = r#"{"stack": {"artifact_store": "local", "orchestrator": {"flavor": "local"},
                                  "container_registry": {"flavor": "default", "uri": "x"}}}"#;
        assert_eq!(select_json(local), Ok(Additions::default()));
        let off = r#"{"stack": {"artifact_store": "s3"}, "install_stack_requirements": false}"#;
        assert_eq!(select_json(off), Ok(Additions::default()));
        assert_eq!(select_json("{}"), Ok(Additions::default()));
    }

    #[test]
    fn flavors_of_one_integration_bring_its_apt_packages() {
        let out = select_json(r#"{"stack": {"orchestrator": "vm_aws"}}"#).unwrap();
        assert_eq!(out.apt_packages, ["openssh-client", "rsync"]);
        assert_eq!(sorted_lines(&out), ["skypilot[aws]>=0.11.0,<0.12.0"]);
    }

    #[test]
    fn unknown_flavor_suggests_the_component_types_flavors() {
        let err = select_json(r#"{"stack": {"artifact_store": {"flavor": "s4"}}}"#).unwrap_err();
        let Error::UnknownFlavor { name, suggestions } = err else {
            panic!("{err:?}")
        };
        assert_eq!(name, "s4");
        assert!(suggestions.iter().any(|s| s == "s3"), "{suggestions:?}");
        assert!(
            !suggestions.iter().any(|s| s == "kubernetes"),
            "{suggestions:?}"
        );
        let err = select_json(r#"{"stack": {"orchestrator": "kubernetis"}}"#).unwrap_err();
        let Error::UnknownFlavor { suggestions, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(suggestions[0], "kubernetes");
        // `sagemaker` is an orchestrator flavor, not an artifact store one.
        let err = select_json(r#"{"stack": {"artifact_store": "sagemaker"}}"#).unwrap_err();
        assert!(matches!(err, Error::UnknownFlavor { .. }), "{err:?}");
    }

    #[test]
    fn malformed_components_are_invalid_input_naming_the_component() {
        let Err(Error::Invalid(m)) = select_json(r#"{"stack": {"orchestrater": "local"}}"#) else {
            panic!("expected invalid input")
        };
        assert!(
            m.contains("`orchestrater`") && m.contains("`orchestrator`"),
            "{m}"
        );
        let Err(Error::Invalid(m)) = select_json(r#"{"stack": {"orchestrator": {"name": "k"}}}"#)
        else {
            panic!("expected invalid input")
        };
        assert!(m.contains("stack.orchestrator"), "{m}");
    }
}
