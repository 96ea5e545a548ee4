//! Entry points for the fuzz targets in `fuzz/` (and their seed-corpus smoke tests in
//! `tests/fuzz_seeds.rs`): plugin manifests, what a plugin returns through the host's checks,
//! and plugin artifacts' OCI manifests and configs. Each panics only when a parser does or an
//! invariant the rest of the host relies on breaks. Not part of the API.

use std::path::Path;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use dockwright_plan::context::HashCache;
use dockwright_plan::contribution::{Contribution, Group, Requirement, Sourced};
use dockwright_plan::install_history::InstallHistory;
use dockwright_plan::plan::{ImageInputs, plan};
use dockwright_plan::requirements::{self, merge};
use dockwright_plan::settings::Pipeline;
use oci_client::manifest::OciManifest;

use crate::distribution::oci::{PluginReference, check_artifact};
use crate::sandbox::manifest::{Header, SECTION};
use crate::sandbox::{Limits, Manifest};
use crate::sandbox::{check_contribution, check_pip_options};

/// A plugin file. An input starting with an even byte is the JSON of a manifest, wrapped
/// here into an otherwise empty component (so the fuzzer works on the JSON, not on finding
/// a custom section); an odd one is read as the file's bytes after that first byte.
pub fn manifest(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let wasm = if mode % 2 == 0 {
        component_with_section(SECTION, rest)
    } else {
        rest.to_vec()
    };
    match Header::read(&wasm) {
        Ok(header) => manifest_holds(&header.manifest),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// What the host relies on once a manifest is read: a name that is an identifier (it names
/// folders, grants and constraint namespaces) and values that print back as they parse.
fn manifest_holds(m: &Manifest) {
    assert!(!m.name.is_empty());
    assert!(
        m.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    assert_eq!(
        m.version.to_string().parse::<semver::Version>().ok(),
        Some(m.version.clone())
    );
    let _ = crate::sandbox::manifest::check_api(m);
}

/// `\0asm`, component-model version 13 (layer 1), and one custom section.
fn component_with_section(name: &str, data: &[u8]) -> Vec<u8> {
    let mut body = leb128(name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    let mut wasm = b"\0asm\x0d\x00\x01\x00".to_vec();
    wasm.push(0);
    wasm.extend(leb128(body.len()));
    wasm.extend(body);
    wasm
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A plugin's answer as the fuzzer makes it.
#[derive(Arbitrary, Debug)]
struct Answer {
    builtin: bool,
    group: u8,
    /// The pip options the pipeline grants a third-party plugin.
    granted: Vec<String>,
    requirements: Vec<(String, String)>,
    apt_packages: Vec<String>,
    notes: Vec<String>,
}

/// The plugin boundary: an arbitrary contribution goes through the host's checks, as one
/// returned by a built-in or a third-party plugin; what they let through is merged and
/// planned, and every requirements file written must read back, to pip, as the lines
/// Dockwright shows.
pub fn boundary(data: &[u8]) {
    let Ok(answer) = Answer::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let contribution = Contribution {
        requirements: (answer.requirements.into_iter())
            .map(|(line, origin)| Requirement { line, origin })
            .collect(),
        apt_packages: answer.apt_packages,
        notes: answer.notes,
    };
    let limits = Limits {
        output: 16 << 10,
        notes: 8,
        lines: 64,
        ..Limits::default()
    };
    if let Err(e) = check_contribution(&contribution, &limits) {
        return assert!(!e.to_string().is_empty());
    }
    let name = if answer.builtin {
        "requirements"
    } else {
        let granted = &answer.granted;
        if let Err(e) = check_pip_options(&contribution, granted, "fuzzer") {
            return assert!(!e.to_string().is_empty());
        }
        "fuzzer"
    };
    let group = [Group::Local, Group::Requirements, Group::Integrations][answer.group as usize % 3];
    let sources = [Sourced {
        plugin: format!("{name} 1.0.0"),
        digest: "sha256:00".into(),
        group,
        contribution,
    }];
    let platform = dockwright_plan::plan::platform_for(&pipeline().docker);
    let set = match merge(&sources, &platform) {
        Ok(set) => set,
        Err(e) => return assert!(!e.to_string().is_empty()),
    };
    let inputs = [ImageInputs {
        docker: &pipeline().docker,
        requirements: &set,
        plugin_digests: vec!["sha256:00".into()],
        steps: vec!["step".into()],
    }];
    match plan(
        pipeline(),
        &inputs,
        &mut HashCache::in_memory(),
        &InstallHistory::none(),
    ) {
        Ok(planned) => files_read_back(&planned),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// The pipeline the boundary target plans for: a parent image and one step.
fn pipeline() -> &'static Pipeline {
    static PIPELINE: OnceLock<Pipeline> = OnceLock::new();
    PIPELINE.get_or_init(|| {
        let text = "name: fuzz\nsettings:\n  docker:\n    parent_image: python:3.12-slim\n\
                    steps:\n  - name: step\n    command: [python3, step.py]\n";
        dockwright_plan::settings::parse(text, Path::new("/nonexistent-fuzz/dockwright.yaml"))
            .expect("the boundary target's pipeline")
    })
}

/// Every requirements (and constraints) file in the build context is read by pip as exactly
/// the lines the plan shows: Python's `splitlines` breaks nowhere else, and no line ends in
/// a `\` that would join the next one to it.
fn files_read_back(planned: &dockwright_plan::plan::Plan) {
    for image in &planned.images {
        let Some(build) = &image.build else { continue };
        for file in &image.requirements {
            let text = &build.extra_files[&file.file];
            assert_eq!(
                python_lines(text),
                file.lines,
                "{} reads differently to pip",
                file.file
            );
        }
        for (path, text) in &build.extra_files {
            if path.ends_with(".txt") {
                for line in python_lines(text) {
                    assert!(
                        !line.trim_end().ends_with('\\'),
                        "{path}: `{line}` continues"
                    );
                    assert_eq!(requirements::check_line_text(&line), Ok(()));
                }
            }
        }
    }
}

/// Python's `str.splitlines()`.
fn python_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let breaks = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !breaks {
            current.push(c);
            continue;
        }
        if c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
        }
        lines.push(std::mem::take(&mut current));
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// A plugin artifact: the manifest's JSON up to the first 0xFF byte, then its config up to
/// the next, then an `oci://` reference. The manifest is parsed as the registry client
/// parses it, then checked as `plugin install oci://…` checks it before downloading.
pub fn oci(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0xff);
    let manifest = parts.next().unwrap_or_default();
    let config = parts.next().unwrap_or_default();
    let reference = parts.next().unwrap_or_default();
    if let Ok(text) = std::str::from_utf8(reference) {
        reference_round_trips(text);
    }
    let Ok(OciManifest::Image(manifest)) = serde_json::from_slice::<OciManifest>(manifest) else {
        return;
    };
    let Ok(config) = std::str::from_utf8(config) else {
        return;
    };
    match check_artifact(&manifest, config) {
        Ok(layer) => assert_eq!(layer.media_type, "application/wasm"),
        Err(message) => assert!(!message.is_empty()),
    }
}

/// A reference that parses prints back as itself.
fn reference_round_trips(text: &str) {
    if let Ok(reference) = PluginReference::parse(text) {
        let again = PluginReference::parse(&reference.to_string());
        assert_eq!(again.ok(), Some(reference));
    }
}
