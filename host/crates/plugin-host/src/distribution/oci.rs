//! Plugins as OCI artifacts, in the CNCF wasm layout (wasm-pkg-tools / `wkg oci`): an image
//! manifest whose config is `application/vnd.wasm.config.v0+json` (it names the component's
//! imports and exports, so a puller can refuse a plugin from that small blob alone) and whose
//! one layer is the component, `application/wasm`. Tags are semver versions: the plugin's own.
//!
//! References are written `oci://registry/repository[:tag]`. The client is the one
//! `dockwright-registry-auth` sets up for every registry (plain HTTP on loopback only, the
//! user's Docker credentials, as for image pushes).

use std::collections::BTreeMap;

use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth as OciAuth;
use oci_client::{Client, Reference};
use semver::Version;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sandbox::{Header, SOURCE_EXPORT};
use dockwright_registry_auth::{RegistryAuth, oci};

pub const SCHEME: &str = "oci://";
pub(crate) const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub(crate) const LAYER_MEDIA_TYPE: &str = "application/wasm";

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("`{0}` is not a plugin reference: write oci://<registry>/<repository>[:<version>]")]
    BadReference(String),
    #[error("{reference}: the tag `{tag}` is not a semver version (plugin tags are versions)")]
    TagNotSemver { reference: String, tag: String },
    #[error(
        "{reference}: the tag {tag} differs from the plugin's version {version}; \
         tag it with its version (or leave the tag out)"
    )]
    TagMismatch {
        reference: String,
        tag: String,
        version: Version,
    },
    #[error("{reference}: {message}")]
    Registry { reference: String, message: String },
    #[error("{reference} is not a Dockwright plugin: {message}")]
    NotAPlugin { reference: String, message: String },
    #[error(
        "{reference}: the downloaded component has digest {actual}, the manifest says {expected}"
    )]
    DigestMismatch {
        reference: String,
        expected: String,
        actual: String,
    },
    #[error(transparent)]
    Credentials(#[from] dockwright_registry_auth::CredentialError),
}

/// A parsed `oci://` reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginReference {
    /// `registry/repository`, without scheme and tag.
    pub repository: String,
    pub registry: String,
    /// The tag, when one was written.
    pub tag: Option<String>,
}

impl PluginReference {
    /// Parses `oci://registry/repository[:tag]`; the registry part is required (there is no
    /// default registry for plugins).
    pub fn parse(text: &str) -> Result<PluginReference, OciError> {
        let bad = || OciError::BadReference(text.to_string());
        let rest = text.strip_prefix(SCHEME).ok_or_else(bad)?;
        let (registry, path) = rest.split_once('/').ok_or_else(bad)?;
        if registry.is_empty() || path.is_empty() || rest.contains('@') {
            return Err(bad());
        }
        let (path, tag) = match path.rsplit_once(':') {
            Some((path, tag)) => (path, Some(tag.to_string())),
            None => (path, None),
        };
        let valid_path = path.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        });
        if !valid_path || tag.as_deref() == Some("") {
            return Err(bad());
        }
        Ok(PluginReference {
            repository: format!("{registry}/{path}"),
            registry: registry.to_string(),
            tag,
        })
    }

    /// Whether the registry is this machine (plain HTTP is used for it).
    #[cfg(test)]
    fn is_loopback(&self) -> bool {
        oci::is_loopback(&self.registry)
    }

    fn with_tag(&self, tag: &str) -> String {
        format!("{}:{tag}", self.repository)
    }
}

impl std::fmt::Display for PluginReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{SCHEME}{}:{tag}", self.repository),
            None => write!(f, "{SCHEME}{}", self.repository),
        }
    }
}

/// The config blob of the wasm OCI layout (`WasmConfig` of the oci-wasm crate).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WasmConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(default)]
    pub layer_digests: Vec<String>,
    #[serde(default)]
    pub component: Option<ComponentConfig>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ComponentConfig {
    #[serde(default)]
    pub exports: Vec<String>,
    #[serde(default)]
    pub imports: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// What a push stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// `oci://registry/repository:version`.
    pub reference: String,
    /// The manifest digest the registry reports, `sha256:…`.
    pub manifest_digest: String,
    /// The component's digest (the layer), `sha256:…`.
    pub layer_digest: String,
}

/// A downloaded plugin, its bytes checked against the manifest's digest.
#[derive(Clone, Debug)]
pub struct Pulled {
    pub reference: String,
    pub manifest_digest: String,
    pub wasm: Vec<u8>,
}

/// Publishes `wasm` (already checked: `header` is its manifest) at `reference`. Without a
/// tag the plugin's version is the tag; with one, it must be that version.
pub async fn push(
    wasm: &[u8],
    header: &Header,
    reference: &PluginReference,
    auth: &RegistryAuth,
) -> Result<Pushed, OciError> {
    let version = &header.manifest.version;
    let tag = match &reference.tag {
        None => version.to_string(),
        Some(tag) => {
            let parsed = Version::parse(tag).map_err(|_| OciError::TagNotSemver {
                reference: reference.to_string(),
                tag: tag.clone(),
            })?;
            if &parsed != version {
                return Err(OciError::TagMismatch {
                    reference: reference.to_string(),
                    tag: tag.clone(),
                    version: version.clone(),
                });
            }
            tag.clone()
        }
    };
    let shown = format!("{SCHEME}{}", reference.with_tag(&tag));
    let failed = |e: oci_client::errors::OciDistributionError| OciError::Registry {
        reference: shown.clone(),
        message: explain(&e, &reference.registry),
    };
    let target = oci_reference(reference, &tag)?;
    let layer_digest = sha256(wasm);
    let config = WasmConfig {
        created: None,
        author: None,
        architecture: "wasm".into(),
        os: "wasip2".into(),
        layer_digests: vec![layer_digest.clone()],
        component: Some(ComponentConfig {
            exports: header.exports.clone(),
            imports: header.imports.clone(),
            target: None,
        }),
    };
    let config = Config::new(
        serde_json::to_vec(&config).expect("plain data"),
        CONFIG_MEDIA_TYPE.to_string(),
        None,
    );
    let layers = [ImageLayer::new(
        wasm.to_vec(),
        LAYER_MEDIA_TYPE.to_string(),
        None,
    )];
    let manifest = OciImageManifest::build(&layers, &config, Some(annotations(header)));
    let client = oci::client(&reference.registry);
    let auth = oci::credentials(auth, &reference.registry)?;
    client
        .push(&target, &layers, config, &auth, Some(manifest))
        .await
        .map_err(failed)?;
    let manifest_digest = client
        .fetch_manifest_digest(&target, &auth)
        .await
        .map_err(failed)?;
    Ok(Pushed {
        reference: shown,
        manifest_digest,
        layer_digest,
    })
}

/// Downloads the plugin at `reference` (a tag, or the newest semver tag when none is
/// written). The config is read first: an artifact that is not a line-1 plugin component is
/// refused before its layer is downloaded. The layer's bytes must hash to the manifest's digest.
pub async fn pull(reference: &PluginReference, auth: &RegistryAuth) -> Result<Pulled, OciError> {
    let client = oci::client(&reference.registry);
    let auth = oci::credentials(auth, &reference.registry)?;
    let failed = |shown: &str, e: oci_client::errors::OciDistributionError| OciError::Registry {
        reference: shown.to_string(),
        message: explain(&e, &reference.registry),
    };
    let tag = match &reference.tag {
        Some(tag) => tag.clone(),
        None => newest_tag(&client, reference, &auth).await?,
    };
    let shown = format!("{SCHEME}{}", reference.with_tag(&tag));
    let target = oci_reference(reference, &tag)?;
    let (manifest, manifest_digest, config) = client
        .pull_manifest_and_config(&target, &auth)
        .await
        .map_err(|e| failed(&shown, e))?;
    let layer = check_artifact(&manifest, &config)
        .map_err(|message| OciError::NotAPlugin {
            reference: shown.clone(),
            message,
        })?
        .clone();
    let mut wasm = Vec::new();
    client
        .pull_blob(&target, &layer, &mut wasm)
        .await
        .map_err(|e| failed(&shown, e))?;
    // oci-client checks this too; checked here again so the guarantee does not rest on it.
    let actual = sha256(&wasm);
    if actual != layer.digest {
        return Err(OciError::DigestMismatch {
            reference: shown,
            expected: layer.digest.clone(),
            actual,
        });
    }
    Ok(Pulled {
        reference: shown,
        manifest_digest,
        wasm,
    })
}

/// What makes a downloaded manifest and config a line-1 plugin artifact (the wasm layout, a
/// component exporting the source interface, exactly one `application/wasm` layer), checked
/// before the layer is downloaded. Returns that layer, or why the artifact is not a plugin.
pub(crate) fn check_artifact<'m>(
    manifest: &'m OciImageManifest,
    config: &str,
) -> Result<&'m OciDescriptor, String> {
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(format!(
            "its config is `{}`, not `{CONFIG_MEDIA_TYPE}`",
            manifest.config.media_type
        ));
    }
    let config: WasmConfig =
        serde_json::from_str(config).map_err(|e| format!("its config cannot be read: {e}"))?;
    let exports = config.component.map(|c| c.exports).unwrap_or_default();
    let source = format!("{}@", SOURCE_EXPORT);
    if !exports.iter().any(|e| e.starts_with(&source)) {
        return Err(format!(
            "the component does not export {}@1.x (it exports: {})",
            SOURCE_EXPORT,
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            }
        ));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(format!(
            "it has {} layers; a plugin has exactly one",
            manifest.layers.len()
        ));
    };
    if layer.media_type != LAYER_MEDIA_TYPE {
        return Err(format!(
            "its layer is `{}`, not `{LAYER_MEDIA_TYPE}`",
            layer.media_type
        ));
    }
    Ok(layer)
}

/// The highest semver tag of the repository (tags that are not versions are ignored, as
/// wasm-pkg-tools does).
async fn newest_tag(
    client: &Client,
    reference: &PluginReference,
    auth: &OciAuth,
) -> Result<String, OciError> {
    let any = oci_reference(reference, "latest")?;
    let response = client
        .list_tags(&any, auth, None, None)
        .await
        .map_err(|e| OciError::Registry {
            reference: reference.to_string(),
            message: explain(&e, &reference.registry),
        })?;
    response
        .tags
        .iter()
        .filter_map(|t| Version::parse(t).ok().map(|v| (v, t)))
        .filter(|(v, _)| v.pre.is_empty())
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, t)| t.clone())
        .ok_or_else(|| OciError::Registry {
            reference: reference.to_string(),
            message: "no version tags in this repository".into(),
        })
}

/// OCI annotations mirroring the plugin's manifest.
fn annotations(header: &Header) -> BTreeMap<String, String> {
    let m = &header.manifest;
    let mut out = BTreeMap::from([
        ("org.opencontainers.image.title".into(), m.name.clone()),
        (
            "org.opencontainers.image.version".into(),
            m.version.to_string(),
        ),
        ("dev.dockwright.plugin.api".into(), m.api.to_string()),
        (
            "dev.dockwright.plugin.capabilities".into(),
            m.capabilities
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
    ]);
    if !m.description.is_empty() {
        out.insert(
            "org.opencontainers.image.description".into(),
            m.description.clone(),
        );
    }
    out
}

fn oci_reference(reference: &PluginReference, tag: &str) -> Result<Reference, OciError> {
    reference
        .with_tag(tag)
        .parse::<Reference>()
        .map_err(|_| OciError::BadReference(reference.to_string()))
}

/// The registry's refusal, with what the user can do about the common ones.
fn explain(e: &oci_client::errors::OciDistributionError, registry: &str) -> String {
    use oci_client::errors::OciDistributionError as E;
    let message = e.to_string();
    let refused = match e {
        E::AuthenticationFailure(_) | E::UnauthorizedError { .. } => true,
        E::ServerError { code, .. } => matches!(code, 401 | 403),
        _ => {
            let lower = message.to_lowercase();
            lower.contains("unauthorized") || lower.contains("denied")
        }
    };
    if refused {
        format!(
            "{message} (the registry {registry} refused the credentials, or got none; log in \
             with `docker login {registry}`)"
        )
    } else if message.contains("error sending request") || message.contains("connect") {
        format!("{message} (the registry {registry} cannot be reached)")
    } else {
        message
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_and_without_tags() {
        let r = PluginReference::parse("oci://127.0.0.1:5000/acme/features:1.2.0").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "127.0.0.1:5000/acme/features");
        assert_eq!(r.tag.as_deref(), Some("1.2.0"));
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/acme/features:1.2.0");

        let r = PluginReference::parse("oci://ghcr.io/acme/features").unwrap();
        assert_eq!(r.tag, None);
        assert!(!r.is_loopback());
        assert!(
            PluginReference::parse("oci://localhost:5000/a")
                .unwrap()
                .is_loopback()
        );
        assert!(
            PluginReference::parse("oci://127.9.9.9/a")
                .unwrap()
                .is_loopback()
        );
        assert!(
            PluginReference::parse("oci://[::1]:5000/a")
                .unwrap()
                .is_loopback()
        );
    }

    #[test]
    fn bad_references_say_how_to_write_one() {
        for bad in [
            "ghcr.io/acme/x:1.0.0",
            "oci://ghcr.io",
            "oci://ghcr.io/",
            "oci://ghcr.io/Acme/x",
            "oci://ghcr.io/acme/x:",
            "oci://ghcr.io/acme/x@sha256:00",
        ] {
            let err = PluginReference::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("oci://<registry>/<repository>"),
                "{bad}: {err}"
            );
        }
    }
}
