//! Reading a plugin before compiling it: the manifest custom section the SDK writes, and the
//! component's top-level imports and exports. Garbage, a core module, a missing or invalid
//! manifest and an unsupported API line are all refused here, before any code is compiled.

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use wasmparser::{Chunk, Encoding, Parser, Payload};

use super::error::ErrorKind;

/// The custom section the SDK writes.
pub const SECTION: &str = "dockwright-manifest";

/// The API versions this host implements, newest first: one per supported line. Within a
/// line the host serves every older minor too (1.2.0 serves plugins built for `^1.0`):
/// releases only add host functions, which older plugins never import.
pub(crate) const HOST_API: &[Version] = &[Version::new(1, 2, 0)];

pub use dockwright_plan::contribution::Group;

/// A capability a plugin may ask for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum Capability {
    /// Read-only access to directories the configuration names.
    Read,
    /// Running this program on the host.
    Exec(String),
}

impl From<Capability> for String {
    fn from(c: Capability) -> String {
        c.to_string()
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Capability::Read => f.write_str("read"),
            Capability::Exec(p) => write!(f, "exec:{p}"),
        }
    }
}

impl std::str::FromStr for Capability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "read" => Ok(Capability::Read),
            Some(("exec", program)) if !program.is_empty() && !program.contains('/') => {
                Ok(Capability::Exec(program.to_string()))
            }
            _ => Err(format!(
                "unknown capability `{s}` (known: `read`, `exec:<program>`)"
            )),
        }
    }
}

/// What a plugin says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub name: String,
    pub version: Version,
    /// The API versions it works with.
    pub api: VersionReq,
    pub group: Group,
    pub capabilities: Vec<Capability>,
    pub description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    api: String,
    group: Group,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    description: String,
}

/// A component's manifest and its top-level interface.
#[derive(Clone, Debug)]
pub struct Header {
    pub manifest: Manifest,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl Header {
    /// Parses `wasm` without compiling it.
    pub fn read(wasm: &[u8]) -> Result<Header, ErrorKind> {
        let mut manifest = None;
        let mut imports = Vec::new();
        let mut exports = Vec::new();
        // The parsers of the enclosing components while a nested module or component is read.
        let mut outer: Vec<Parser> = Vec::new();
        let mut parser = Parser::new(0);
        let mut offset = 0;
        loop {
            let depth = outer.len();
            let (payload, consumed) = match parser.parse(&wasm[offset..], true) {
                Ok(Chunk::Parsed { payload, consumed }) => (payload, consumed),
                // Not with `eof`: the input is all there is.
                Ok(Chunk::NeedMoreData(_)) => {
                    return Err(ErrorKind::NotAComponent(
                        "unexpected end of the file".into(),
                    ));
                }
                Err(e) => return Err(ErrorKind::NotAComponent(e.to_string())),
            };
            offset += consumed;
            match payload {
                // Function bodies say nothing about the plugin: skipped whole, not one by
                // one (most of a component's bytes, read at every start for the built-ins).
                Payload::CodeSectionStart { size, .. } => {
                    parser.skip_section();
                    offset += size as usize;
                }
                Payload::Version {
                    encoding: Encoding::Module,
                    ..
                } if depth == 0 => {
                    return Err(ErrorKind::NotAComponent(
                        "this is a core wasm module; plugins are components (build for wasm32-wasip2)".into(),
                    ));
                }
                Payload::ModuleSection { parser: inner, .. }
                | Payload::ComponentSection { parser: inner, .. } => {
                    outer.push(std::mem::replace(&mut parser, inner));
                }
                Payload::End(_) => match outer.pop() {
                    Some(enclosing) => parser = enclosing,
                    None => break,
                },
                Payload::ComponentImportSection(reader) if depth == 0 => {
                    for import in reader {
                        let import = import.map_err(|e| ErrorKind::NotAComponent(e.to_string()))?;
                        imports.push(import.name.name.to_string());
                    }
                }
                Payload::ComponentExportSection(reader) if depth == 0 => {
                    for export in reader {
                        let export = export.map_err(|e| ErrorKind::NotAComponent(e.to_string()))?;
                        exports.push(export.name.name.to_string());
                    }
                }
                Payload::CustomSection(section) if section.name() == SECTION => {
                    if manifest.is_some() {
                        return Err(ErrorKind::Manifest("more than one manifest section".into()));
                    }
                    manifest = Some(parse(section.data())?);
                }
                _ => {}
            }
        }
        let manifest = manifest.ok_or_else(|| {
            ErrorKind::Manifest(format!(
                "no `{SECTION}` section: build the plugin with dockwright-plugin-sdk's `manifest!`"
            ))
        })?;
        Ok(Header {
            manifest,
            imports,
            exports,
        })
    }

    /// The line-1 API version of an exported interface (`dockwright:plugin/source@1.0.0`).
    pub(crate) fn export_version(&self, interface: &str) -> Option<Version> {
        self.exports.iter().find_map(|e| {
            let (name, version) = e.split_once('@')?;
            (name == interface)
                .then(|| Version::parse(version).ok())
                .flatten()
        })
    }
}

fn parse(data: &[u8]) -> Result<Manifest, ErrorKind> {
    let bad = |m: String| ErrorKind::Manifest(m);
    let raw: RawManifest = serde_json::from_slice(data).map_err(|e| bad(e.to_string()))?;
    if raw.name.is_empty()
        || !raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad(format!(
            "name `{}`: use letters, digits, `-` and `_`",
            raw.name
        )));
    }
    let version =
        Version::parse(&raw.version).map_err(|e| bad(format!("version `{}`: {e}", raw.version)))?;
    let api = VersionReq::parse(&raw.api).map_err(|e| bad(format!("api `{}`: {e}", raw.api)))?;
    let capabilities = raw
        .capabilities
        .iter()
        .map(|c| c.parse::<Capability>().map_err(bad))
        .collect::<Result<_, _>>()?;
    Ok(Manifest {
        name: raw.name,
        version,
        api,
        group: raw.group,
        capabilities,
        description: raw.description,
    })
}

/// The host API version a manifest's range is served by, or an error naming both sides.
pub(crate) fn check_api(manifest: &Manifest) -> Result<Version, ErrorKind> {
    HOST_API
        .iter()
        .find(|v| manifest.api.matches(v))
        .cloned()
        .ok_or_else(|| ErrorKind::IncompatibleApi {
            needs: manifest.api.to_string(),
            supported: supported_api(),
        })
}

/// "1.0.0" or "1.0.0, 2.1.0": what this host implements.
pub(crate) fn supported_api() -> String {
    HOST_API
        .iter()
        .map(Version::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
