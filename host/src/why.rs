//! `dockwright why <package>`: which source brought a package into which image — the file and
//! line, integration, stack component or command, and the plugin and version that answered —
//! from the same origins `dockwright requirements` shows.

use serde::Serialize;

use crate::commands::Planned;
use crate::requirements::{normalize_package_name, package_name};

/// One requirement line that asks for the package, in one image.
#[derive(Debug, Serialize)]
pub struct Reason {
    /// The image the line is installed into.
    pub image: String,
    /// The steps that run in that image.
    pub steps: Vec<String>,
    /// The requirement group (`local`, `requirements`, `integrations`).
    pub group: String,
    /// The requirements file inside the image's build.
    pub file: String,
    /// The line as written.
    pub line: String,
    /// Where it came from (`requirements.txt:2`, `integration sklearn`, ...).
    pub origin: String,
    /// The plugin that contributed it, with its version.
    pub plugin: String,
}

/// Every line of every planned image that asks for `package` (compared by normalized name),
/// and the images that install it as an apt package.
pub fn why(planned: &Planned, package: &str) -> (Vec<Reason>, Vec<String>) {
    let wanted = normalize_package_name(package);
    let mut reasons = Vec::new();
    for image in &planned.plan.images {
        for file in &image.requirements {
            for (line, origin) in file.lines.iter().zip(&file.origins) {
                if wanted.is_none() || package_name(line) != wanted {
                    continue;
                }
                let (origin, plugin) = source_of(planned, line, origin);
                reasons.push(Reason {
                    image: image.name.clone(),
                    steps: image.steps.clone(),
                    group: file.group.name().to_owned(),
                    file: file.file.clone(),
                    line: line.clone(),
                    origin,
                    plugin,
                });
            }
        }
    }
    let apt = planned
        .plan
        .images
        .iter()
        .filter(|image| image.apt_packages.iter().any(|p| p == package))
        .map(|image| image.name.clone())
        .collect();
    (reasons, apt)
}

/// The origin and the plugin of `line`, as `requirements` shows them: the plan's origins carry
/// the plugin already (`requirements.txt:2 (requirements 1.0.0)`), the gathered lines apart.
fn source_of(planned: &Planned, line: &str, planned_origin: &str) -> (String, String) {
    planned
        .gathered
        .groups
        .iter()
        .flat_map(|g| &g.requirements.groups)
        .flat_map(|g| &g.lines)
        .find(|l| {
            l.text == line
                && (l.origin == planned_origin
                    || planned_origin == format!("{} ({})", l.origin, l.plugin))
        })
        .map(|l| (l.origin.clone(), l.plugin.clone()))
        .unwrap_or_else(|| (planned_origin.to_owned(), String::new()))
}
