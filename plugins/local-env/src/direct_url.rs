//! PEP 610 `direct_url.json`: reading it with pip's validation (an invalid file counts as
//! absent, as pip warns and ignores it) or uv's (an invalid file is an error, as `uv pip
//! freeze` fails on it), and the requirement forms each tool prints.

use serde_json::{Map, Value};

/// What a `direct_url.json` records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectUrl {
    pub url: String,
    pub subdirectory: Option<String>,
    pub info: Info,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Info {
    Vcs {
        vcs: String,
        commit_id: Option<String>,
        requested_revision: Option<String>,
    },
    Archive {
        /// The legacy `hash` field, `<alg>=<hex>`.
        hash: Option<String>,
        /// `hashes`: algorithm → hex digest.
        hashes: Vec<(String, String)>,
    },
    Dir {
        editable: bool,
    },
}

impl DirectUrl {
    pub fn is_editable(&self) -> bool {
        matches!(self.info, Info::Dir { editable: true })
    }
}

/// Parses with pip's rules (`pip._internal.models.direct_url`): `url` is a required string,
/// exactly one of `archive_info`, `dir_info`, `vcs_info` is an object, `vcs_info` needs
/// `vcs` and `commit_id`, a legacy `hash` must be `<alg>=<hex>`, and every field has the
/// type the spec gives it.
pub fn parse_pip(text: &str) -> Result<DirectUrl, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let top = value.as_object().ok_or("not a JSON object")?;
    let url = required_str(top, "url")?;
    let subdirectory = optional_str(top, "subdirectory")?;
    let mut infos = Vec::new();
    if let Some(a) = optional_object(top, "archive_info")? {
        let hash = optional_str(a, "hash")?;
        if hash.as_deref().is_some_and(|h| !h.contains('=')) {
            return Err(format!("invalid archive_info.hash format: {hash:?}"));
        }
        infos.push(Info::Archive {
            hash,
            hashes: hashes(a)?,
        });
    }
    if let Some(d) = optional_object(top, "dir_info")? {
        let editable = match d.get("editable") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("dir_info.editable is not a boolean".into()),
        };
        infos.push(Info::Dir { editable });
    }
    if let Some(v) = optional_object(top, "vcs_info")? {
        infos.push(Info::Vcs {
            vcs: required_str(v, "vcs")?,
            commit_id: Some(required_str(v, "commit_id")?),
            requested_revision: optional_str(v, "requested_revision")?,
        });
    }
    match infos.len() {
        1 => Ok(DirectUrl {
            url,
            subdirectory,
            info: infos.remove(0),
        }),
        0 => Err("missing one of archive_info, dir_info, vcs_info".into()),
        _ => Err("more than one of archive_info, dir_info, vcs_info".into()),
    }
}

/// Parses the way uv does: the first of `dir_info`, `archive_info`, `vcs_info` that is an
/// object decides the kind; `url` is required.
pub fn parse_uv(text: &str) -> Result<DirectUrl, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let top = value.as_object().ok_or("not a JSON object")?;
    let url = required_str(top, "url")?;
    let subdirectory = optional_str(top, "subdirectory")?;
    let info = if let Some(d) = optional_object(top, "dir_info")? {
        Info::Dir {
            editable: d.get("editable").and_then(Value::as_bool).unwrap_or(false),
        }
    } else if let Some(a) = optional_object(top, "archive_info")? {
        Info::Archive {
            hash: optional_str(a, "hash")?,
            hashes: hashes(a)?,
        }
    } else if let Some(v) = optional_object(top, "vcs_info")? {
        Info::Vcs {
            vcs: required_str(v, "vcs")?,
            commit_id: optional_str(v, "commit_id")?,
            requested_revision: optional_str(v, "requested_revision")?,
        }
    } else {
        return Err("missing one of archive_info, dir_info, vcs_info".into());
    };
    Ok(DirectUrl {
        url,
        subdirectory,
        info,
    })
}

fn required_str(map: &Map<String, Value>, key: &str) -> Result<String, String> {
    optional_str(map, key)?.ok_or_else(|| format!("`{key}` is missing"))
}

fn optional_str(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{key}` is not a string")),
    }
}

fn optional_object<'a>(
    map: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(format!("`{key}` is not an object")),
    }
}

fn hashes(archive: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    let Some(map) = optional_object(archive, "hashes")? else {
        return Ok(Vec::new());
    };
    Ok(map
        .iter()
        .filter_map(|(alg, hex)| Some((alg.clone(), hex.as_str()?.to_string())))
        .collect())
}

/// pip's `direct_url_as_pep440_direct_reference`: `<name> @ <vcs>+<url>@<commit>` for VCS,
/// `<name> @ <url>` plus the legacy `hash` as a fragment for archives, `<name> @ <url>` for
/// directories; `subdirectory=` is another `&`-joined fragment.
pub fn pip_reference(d: &DirectUrl, name: &str) -> String {
    let mut requirement = format!("{name} @ ");
    let mut fragments = Vec::new();
    match &d.info {
        Info::Vcs { vcs, commit_id, .. } => {
            let commit = commit_id.as_deref().unwrap_or_default();
            requirement.push_str(&format!("{vcs}+{}@{commit}", d.url));
        }
        Info::Archive { hash, .. } => {
            requirement.push_str(&d.url);
            fragments.extend(hash.clone());
        }
        Info::Dir { .. } => requirement.push_str(&d.url),
    }
    if let Some(sub) = &d.subdirectory {
        fragments.push(format!("subdirectory={sub}"));
    }
    if !fragments.is_empty() {
        requirement.push('#');
        requirement.push_str(&fragments.join("&"));
    }
    requirement
}

/// The hash uv shows for an archive: the strongest one in `hashes` (the legacy `hash` field
/// is not used; unknown algorithms such as sha1 are not shown).
const UV_HASH_PREFERENCE: &[&str] = &["sha512", "sha384", "sha256", "blake2b", "md5"];

/// The URL `uv pip freeze` prints: the WHATWG-normalised URL (`git+`-prefixed with `@<commit>`
/// for VCS), with `subdirectory=` and then the archive hash as fragments.
pub fn uv_url(d: &DirectUrl) -> Result<String, String> {
    let raw = match &d.info {
        Info::Vcs {
            vcs,
            commit_id,
            requested_revision,
        } => {
            let mut s = format!("{vcs}+{}", d.url);
            if let Some(rev) = commit_id.as_ref().or(requested_revision.as_ref()) {
                s.push('@');
                s.push_str(rev);
            }
            s
        }
        _ => d.url.clone(),
    };
    let mut url = url::Url::parse(&raw).map_err(|e| format!("url `{raw}`: {e}"))?;
    let mut fragments = Vec::new();
    if let Some(sub) = &d.subdirectory {
        fragments.push(format!("subdirectory={sub}"));
    }
    if let Info::Archive { hashes, .. } = &d.info {
        let strongest = UV_HASH_PREFERENCE
            .iter()
            .find_map(|alg| hashes.iter().find(|(a, _)| a == alg));
        if let Some((alg, hex)) = strongest {
            fragments.push(format!("{alg}={hex}"));
        }
    }
    if !fragments.is_empty() {
        url.set_fragment(Some(&fragments.join("&")));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_rejects_what_pip_rejects() {
        assert!(parse_pip(r#"{"url": "https://x/a.tgz"}"#).is_err());
        assert!(parse_pip(r#"{"url": "u", "archive_info": {}, "dir_info": {}}"#).is_err());
        assert!(parse_pip(r#"{"url": "u", "archive_info": {"hash": "nohash"}}"#).is_err());
        assert!(parse_pip(r#"{"url": "u", "vcs_info": {"vcs": "git"}}"#).is_err());
        assert!(parse_pip(r#"{"url": 3, "dir_info": {}}"#).is_err());
        assert!(parse_pip("[]").is_err());
        assert!(parse_pip("{").is_err());
    }

    #[test]
    fn pip_forms() {
        let vcs = parse_pip(
            r#"{"url": "https://e/v.git", "vcs_info": {"vcs": "git", "commit_id": "abc", "requested_revision": "main"}, "subdirectory": "pkg"}"#,
        )
        .unwrap();
        assert_eq!(
            pip_reference(&vcs, "V"),
            "V @ git+https://e/v.git@abc#subdirectory=pkg"
        );
        let archive = parse_pip(
            r#"{"url": "https://e/a.zip", "archive_info": {"hash": "sha256=ff", "hashes": {"sha256": "ff"}}, "subdirectory": "s"}"#,
        )
        .unwrap();
        assert_eq!(
            pip_reference(&archive, "A"),
            "A @ https://e/a.zip#sha256=ff&subdirectory=s"
        );
        let only_hashes =
            parse_pip(r#"{"url": "https://e/b.tgz", "archive_info": {"hashes": {"md5": "aa"}}}"#)
                .unwrap();
        assert_eq!(pip_reference(&only_hashes, "B"), "B @ https://e/b.tgz");
        let dir = parse_pip(r#"{"url": "file:///tmp/d", "dir_info": {"editable": true}}"#).unwrap();
        assert!(dir.is_editable());
    }

    #[test]
    fn uv_forms() {
        let archive = parse_uv(
            r#"{"url": "HTTPS://E.com/x/../a.tgz", "archive_info": {"hashes": {"md5": "aa", "blake2b": "bb", "sha1": "cc"}}, "subdirectory": "s"}"#,
        )
        .unwrap();
        assert_eq!(
            uv_url(&archive).unwrap(),
            "https://e.com/a.tgz#subdirectory=s&blake2b=bb"
        );
        let dir =
            parse_uv(r#"{"url": "file:///tmp/a b", "dir_info": {"editable": true}}"#).unwrap();
        assert_eq!(uv_url(&dir).unwrap(), "file:///tmp/a%20b");
        assert!(parse_uv(r#"{"url": "https://e/a.tgz"}"#).is_err());
    }
}
