//! `pip freeze` and `uv pip freeze`, reproduced from the scanned site-packages directories.
//!
//! pip (`operations/freeze.py`, 23.2 and later; checked against pip 23.2.1): the first distribution seen for a canonical name wins
//! (directories in `sys.path` order); names failing PEP 508 are skipped; `pip` is left out,
//! and so are `setuptools`, `distribute` and `wheel` when the interpreter is older than 3.12;
//! each line uses the raw `Name:` header; editables print pip's no-VCS form (a comment, then
//! `-e <project dir>`); output is sorted by the lower-cased name.
//!
//! uv (`uv pip freeze`, observed with uv 0.13): name and version come from the metadata
//! directory's file name; names are normalised; nothing is left out or de-duplicated;
//! editables print `-e <file URL>`; URLs are WHATWG-normalised and archives show their
//! strongest `hashes` entry; output is sorted by name, then version.

use std::collections::HashSet;
use std::str::FromStr;

use pep440_rs::Version;

use crate::direct_url::{self, DirectUrl};
use crate::names;
use crate::scan::{Info, Site};
use crate::{Error, Output};

/// The origin every line of a directory carries.
fn origin(site: &Site) -> String {
    format!("local environment ({})", site.dir)
}

/// One installed distribution as pip sees it.
struct PipDist<'a> {
    raw_name: String,
    version: Option<String>,
    direct_url: Option<DirectUrl>,
    /// Project directory of a legacy `.egg-link` editable.
    egg_link_target: Option<String>,
    site: &'a Site,
}

/// What `pip freeze` prints for these directories (given in `sys.path` order), for an
/// interpreter of version `python` (`None`: unknown, treated as 3.12 or newer).
pub fn pip_freeze(sites: &[Site], python: Option<(u32, u32)>) -> Output {
    let mut out = Output::default();
    let mut seen = HashSet::new();
    let mut dists = Vec::new();
    for site in sites {
        for info in &site.infos {
            if let Some(dist) = pip_dist(info, None, site, &mut seen, &mut out) {
                dists.push(dist);
            }
        }
        for egg in &site.eggs {
            out.notes.push(format!(
                "{}/{egg}: a legacy egg; pip prints it, but eggs are not reproduced (reinstall it with pip)",
                site.dir
            ));
        }
        for link in &site.egg_links {
            match &link.info {
                Some(info) => {
                    let target = Some(link.target.clone());
                    dists.extend(pip_dist(info, target, site, &mut seen, &mut out));
                }
                None => out.notes.push(format!(
                    "{}/{}: a legacy editable of {} whose metadata is not readable; it is left out",
                    site.dir, link.file_name, link.target
                )),
            }
        }
    }
    let skip = pip_skip_set(python, pip_version(&dists));
    dists.retain(|d| !skip.contains(&names::canonicalize(&d.raw_name).as_str()));
    dists.sort_by_cached_key(|d| d.raw_name.to_lowercase());
    for dist in &dists {
        let origin = origin(dist.site);
        for line in pip_lines(dist, &mut out.notes) {
            out.lines.push((line, origin.clone()));
        }
    }
    out
}

/// pip's view of one metadata entry, or `None` when pip would not list it.
fn pip_dist<'a>(
    info: &Info,
    egg_link_target: Option<String>,
    site: &'a Site,
    seen: &mut HashSet<String>,
    out: &mut Output,
) -> Option<PipDist<'a>> {
    let Some(raw_name) = info.name.clone() else {
        out.notes.push(format!(
            "{}: no `Name` in its metadata; skipped, as pip does",
            info.path
        ));
        return None;
    };
    let canonical = names::canonicalize(&raw_name);
    if !seen.insert(canonical.clone()) || !names::is_valid(&canonical) {
        return None;
    }
    let direct_url = info
        .direct_url
        .as_deref()
        .and_then(|text| match direct_url::parse_pip(text) {
            Ok(d) => Some(d),
            Err(e) => {
                out.notes.push(format!(
                    "{}/direct_url.json is invalid ({e}); listed as `{raw_name}==<version>`, as pip does",
                    info.path
                ));
                None
            }
        });
    Some(PipDist {
        raw_name,
        version: info.version.clone(),
        direct_url,
        egg_link_target,
        site,
    })
}

/// The version of the environment's own pip, which decides its skip set.
fn pip_version(dists: &[PipDist]) -> Option<Version> {
    let pip = dists
        .iter()
        .find(|d| names::canonicalize(&d.raw_name) == "pip")?;
    Version::from_str(pip.version.as_deref()?.trim()).ok()
}

/// `{python, wsgiref, argparse, pip}`, plus the build backends (`setuptools`, `distribute`,
/// `wheel`) before Python 3.12 — or always with a pip older than 23.2, which hid them
/// regardless of the interpreter.
fn pip_skip_set(python: Option<(u32, u32)>, pip: Option<Version>) -> Vec<&'static str> {
    let mut skip = vec!["python", "wsgiref", "argparse", "pip"];
    let old_pip = pip.is_some_and(|v| v < Version::new([23, 2]));
    if old_pip || python.is_some_and(|v| v < (3, 12)) {
        skip.extend(["setuptools", "distribute", "wheel"]);
    }
    skip
}

fn pip_lines(dist: &PipDist, notes: &mut Vec<String>) -> Vec<String> {
    let editable_location = match (&dist.direct_url, &dist.egg_link_target) {
        (Some(d), _) if d.is_editable() => Some(file_url_to_path(&d.url)),
        (None, Some(target)) => Some(normpath(target)),
        _ => None,
    };
    if let Some(location) = editable_location {
        let display = name_version(dist);
        notes.push(format!(
            "{} is an editable install of {location}: the `-e {location}` line needs that \
             directory inside the image (pip's VCS form `-e git+…` is not reproduced)",
            dist.raw_name
        ));
        return vec![
            format!("# Editable install with no version control ({display})"),
            format!("-e {location}"),
        ];
    }
    match &dist.direct_url {
        Some(d) => vec![direct_url::pip_reference(d, &dist.raw_name)],
        None => vec![name_version(dist)],
    }
}

/// `Name==<normalised version>`, or `Name===<raw version>` when it is not PEP 440.
fn name_version(dist: &PipDist) -> String {
    let raw = dist.version.as_deref().unwrap_or_default();
    match Version::from_str(raw.trim()) {
        Ok(v) => format!("{}=={v}", dist.raw_name),
        Err(_) => format!("{}==={raw}", dist.raw_name),
    }
}

/// pip's `url_to_path` then `abspath`: the path of a `file:` URL, percent-decoded and
/// normalised (`.`/`..` resolved, duplicate slashes removed).
pub fn file_url_to_path(url: &str) -> String {
    let rest = url.strip_prefix("file:").unwrap_or(url);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let path = match rest.strip_prefix("//") {
        // `//netloc/path`: only an empty or `localhost` netloc is local.
        Some(after) => after.find('/').map_or("", |i| &after[i..]),
        None => rest,
    };
    normpath(&percent_decode(path))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Python's `posixpath.normpath` for an absolute path (relative ones are made absolute from
/// `/`, since the plugin has no working directory).
pub fn normpath(path: &str) -> String {
    let leading = if path.starts_with("//") && !path.starts_with("///") {
        "//"
    } else {
        "/"
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("{leading}{}", parts.join("/"))
}

/// One installed distribution as uv sees it.
struct UvDist {
    name: String,
    version: Version,
    line: String,
    origin: String,
}

/// What `uv pip freeze` prints for these directories. An entry uv cannot read (a file name
/// without a version, an invalid `direct_url.json`) is an error, as it is for uv.
pub fn uv_freeze(sites: &[Site]) -> Result<Output, Error> {
    let mut out = Output::default();
    let mut dists = Vec::new();
    for site in sites {
        for info in &site.infos {
            dists.push(uv_dist(info, site, &mut out.notes)?);
        }
        for link in &site.egg_links {
            let Some(info) = &link.info else {
                out.notes.push(format!(
                    "{}/{}: a legacy editable of {} whose metadata is not readable; it is left out",
                    site.dir, link.file_name, link.target
                ));
                continue;
            };
            let (name, version) = uv_name_version(info)?;
            dists.push(UvDist {
                name,
                version,
                line: format!("-e {}", link.target),
                origin: origin(site),
            });
        }
        for egg in &site.eggs {
            out.notes.push(format!(
                "{}/{egg}: a legacy egg; not reproduced (reinstall it with uv or pip)",
                site.dir
            ));
        }
    }
    dists.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    out.lines = dists.into_iter().map(|d| (d.line, d.origin)).collect();
    Ok(out)
}

fn uv_dist(info: &Info, site: &Site, notes: &mut Vec<String>) -> Result<UvDist, Error> {
    let (name, version) = uv_name_version(info)?;
    let line = match info.direct_url.as_deref().filter(|_| info.is_dist_info()) {
        None => format!("{name}=={version}"),
        Some(text) => {
            let invalid = |e: String| {
                Error::Invalid(format!(
                    "{}/direct_url.json: {e} (`uv pip freeze` fails on it too)",
                    info.path
                ))
            };
            let d = direct_url::parse_uv(text).map_err(invalid)?;
            let url = direct_url::uv_url(&d).map_err(invalid)?;
            if d.is_editable() {
                notes.push(format!(
                    "{name} is an editable install of {url}: the `-e` line needs that \
                     directory inside the image"
                ));
                format!("-e {url}")
            } else {
                format!("{name} @ {url}")
            }
        }
    };
    Ok(UvDist {
        name,
        version,
        line,
        origin: origin(site),
    })
}

/// uv reads name and version from `<name>-<version>.dist-info`; for `*.egg-info` the
/// version may be missing from the file name and is then read from the metadata.
fn uv_name_version(info: &Info) -> Result<(String, Version), Error> {
    let stem = info
        .file_name
        .rsplit_once('.')
        .map_or(info.file_name.as_str(), |(s, _)| s);
    let (name, from_file_name) = match stem.split_once('-') {
        Some((name, rest)) => (name, Some(rest.split('-').next().unwrap_or(rest))),
        None => (stem, None),
    };
    let raw_version = match from_file_name {
        Some(v) => v.to_string(),
        None if !info.is_dist_info() => info.version.clone().unwrap_or_default(),
        None => {
            return Err(Error::Invalid(format!(
                "{}: the directory name has no version (`uv pip freeze` fails on it too)",
                info.path
            )));
        }
    };
    let version = Version::from_str(raw_version.trim()).map_err(|e| {
        Error::Invalid(format!(
            "{}: version `{raw_version}`: {e} (`uv pip freeze` fails on it too)",
            info.path
        ))
    })?;
    Ok((names::canonicalize(name), version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_become_paths_like_pip() {
        assert_eq!(file_url_to_path("file:///tmp/a%20b"), "/tmp/a b");
        assert_eq!(file_url_to_path("file://localhost/tmp/x/../y/"), "/tmp/y");
        assert_eq!(file_url_to_path("file:/tmp//z/./w#frag"), "/tmp/z/w");
        assert_eq!(normpath("//net/x"), "//net/x");
        assert_eq!(normpath("///x/.."), "/");
    }

    #[test]
    fn skip_set_depends_on_the_interpreter() {
        let pip = |v: &str| Some(Version::from_str(v).unwrap());
        assert!(pip_skip_set(Some((3, 11)), pip("24.0")).contains(&"setuptools"));
        assert!(!pip_skip_set(Some((3, 12)), pip("23.2")).contains(&"wheel"));
        assert!(pip_skip_set(Some((3, 12)), pip("23.1.2")).contains(&"wheel"));
        assert!(pip_skip_set(None, None).contains(&"pip"));
        assert!(!pip_skip_set(None, None).contains(&"setuptools"));
    }

    fn info(file_name: &str, name: &str, version: &str, direct_url: Option<&str>) -> Info {
        Info {
            file_name: file_name.into(),
            path: format!("/sp/{file_name}"),
            name: Some(name.into()),
            version: Some(version.into()),
            direct_url: direct_url.map(str::to_string),
        }
    }

    #[test]
    fn pip_lines_order_and_forms() {
        let site = Site {
            dir: "/sp".into(),
            infos: vec![
                info("zz_Under-1.0.dist-info", "zz_Under", "1.0.post0", None),
                info("Foo.Bar-1.0.0b1.dist-info", "Foo.Bar", "1.0.0-beta1", None),
                info("foo_bar-2.dist-info", "foo-bar", "2", None),
                info("badver-1.dist-info", "badver", "1.0-foo bar", None),
                info("setuptools-65.dist-info", "setuptools", "65.5.0", None),
                info(
                    "p-1.dist-info",
                    "My_Proj",
                    "0.1",
                    Some(r#"{"url": "file:///tmp/proj", "dir_info": {"editable": true}}"#),
                ),
            ],
            ..Site::default()
        };
        let out = pip_freeze(std::slice::from_ref(&site), Some((3, 11)));
        let lines: Vec<&str> = out.lines.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            lines,
            [
                "badver===1.0-foo bar",
                "Foo.Bar==1.0.0b1",
                "# Editable install with no version control (My_Proj==0.1)",
                "-e /tmp/proj",
                "zz_Under==1.0.post0",
            ]
        );
        assert_eq!(out.lines[0].1, "local environment (/sp)");
        assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
    }

    #[test]
    fn uv_lines_use_the_directory_name() {
        let site = Site {
            dir: "/sp".into(),
            infos: vec![
                info("zz_Under-1.0.dist-info", "zz_Under", "1.0.post0", None),
                info("Dup-2.0.dist-info", "Dup", "2.0", None),
                info("dup-1.0.dist-info", "dup", "1.0", None),
                info("pip-23.2.1.dist-info", "pip", "23.2.1", None),
            ],
            ..Site::default()
        };
        let out = uv_freeze(&[site]).unwrap();
        let lines: Vec<&str> = out.lines.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            lines,
            ["dup==1.0", "dup==2.0", "pip==23.2.1", "zz-under==1.0"]
        );
        let broken = Site {
            dir: "/sp".into(),
            infos: vec![info("x.dist-info", "x", "1", None)],
            ..Site::default()
        };
        assert!(
            matches!(uv_freeze(&[broken]), Err(Error::Invalid(m)) if m.contains("x.dist-info"))
        );
    }
}
