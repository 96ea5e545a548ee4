//! `required_integrations` → requirement lines and apt packages, in the order named.

use catalogue_data::Additions;

#[derive(serde::Deserialize, Default)]
pub struct Settings {
    #[serde(default)]
    pub required_integrations: Option<Vec<String>>,
}

/// A name the catalogue does not hold, with the closest names it does.
#[derive(Debug, PartialEq)]
pub struct Unknown {
    pub name: String,
    pub suggestions: Vec<String>,
}

/// What the named integrations add to an image for `os`/`arch`. Names match exactly, as in
/// ZenML (`Sklearn` and `great-expectations` are unknown there too); the suggestions catch
/// case and separator slips.
pub fn select(settings: &Settings, os: &str, arch: &str) -> Result<Additions, Unknown> {
    let mut out = Additions::default();
    for name in settings.required_integrations.iter().flatten() {
        let Some(integration) = catalogue_data::integration(name) else {
            return Err(Unknown {
                name: name.clone(),
                suggestions: dockwright_plugin_sdk::closest_names(
                    name,
                    catalogue_data::integration_names(),
                ),
            });
        };
        out.add(integration, os, arch, &format!("integration {name}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Settings {
        serde_json::from_str(json).unwrap()
    }

    fn lines(out: &Additions) -> Vec<&str> {
        out.requirements.iter().map(|(l, _)| l.as_str()).collect()
    }

    #[test]
    fn names_become_lines_in_order_with_origins() {
        let s = settings(r#"{"required_integrations": ["sklearn", "lightgbm"]}"#);
        let out = select(&s, "linux", "amd64").unwrap();
        assert_eq!(lines(&out), ["scikit-learn", "lightgbm>=1.0.0"]);
        assert_eq!(out.requirements[1].1, "integration lightgbm");
        assert_eq!(out.apt_packages, ["libgomp1"]);
    }

    #[test]
    fn nothing_asked_nothing_added() {
        for json in [
            "{}",
            r#"{"required_integrations": null}"#,
            r#"{"other": 1}"#,
        ] {
            assert_eq!(
                select(&settings(json), "linux", "amd64"),
                Ok(Additions::default())
            );
        }
    }

    #[test]
    fn the_platform_picks_the_variant() {
        let s = settings(r#"{"required_integrations": ["tensorflow"]}"#);
        let mac = select(&s, "darwin", "arm64").unwrap();
        assert_eq!(lines(&mac), ["tensorflow-macos>=2.12,<2.15"]);
        let linux = select(&s, "linux", "arm64").unwrap();
        assert_eq!(
            lines(&linux),
            ["tensorflow>=2.12,<2.15", "tensorflow_io>=0.24.0"]
        );
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let typo = settings(r#"{"required_integrations": ["sklearn", "pytorhc"]}"#);
        let err = select(&typo, "linux", "amd64").unwrap_err();
        assert_eq!(err.name, "pytorhc");
        assert_eq!(err.suggestions.first().map(String::as_str), Some("pytorch"));

        let dash = settings(r#"{"required_integrations": ["great-expectations"]}"#);
        let err = select(&dash, "linux", "amd64").unwrap_err();
        assert_eq!(err.suggestions[0], "great_expectations");

        let case = settings(r#"{"required_integrations": ["SKLearn"]}"#);
        assert_eq!(
            select(&case, "linux", "amd64").unwrap_err().suggestions[0],
            "sklearn"
        );
    }
}
