//! Reading one site-packages directory the way `importlib.metadata` (and so pip) finds
//! installed distributions: `*.dist-info` and `*.egg-info` entries grouped by the name in
//! their file name, in directory order; then `.egg` eggs; then `.egg-link` files.
//! Nothing is executed and nothing outside the directory is read, except an `.egg-link`
//! target when it happens to be readable.
//!
//! In the sandbox the directory and the metadata of all its entries come from one host call
//! (`host.read-metadata`, API 1.2) rather than a WASI call per file, which the host hands to
//! another thread each; natively (the unit tests) the same [`Listing`] is read with `std::fs`.

use std::collections::HashMap;
use std::io;
use std::path::Path;

/// A directory's entry names, in directory order, with the metadata of its `*.dist-info` and
/// `*.egg-info` entries: what `host.read-metadata` returns.
#[derive(Debug, Default)]
pub struct Listing {
    pub names: Vec<String>,
    pub entries: Vec<Entry>,
}

/// One metadata entry of a [`Listing`].
#[derive(Debug, Default)]
pub struct Entry {
    pub file_name: String,
    /// The first non-empty header block of `METADATA`, `PKG-INFO` or the entry itself.
    pub headers: Option<String>,
    /// The text of `direct_url.json`, when present and not empty.
    pub direct_url: Option<String>,
}

/// What one site-packages directory holds.
#[derive(Debug, Default)]
pub struct Site {
    /// The directory, as given.
    pub dir: String,
    /// `*.dist-info` / `*.egg-info` entries, in importlib's order.
    pub infos: Vec<Info>,
    /// `*.egg` entries (legacy eggs; not reproduced, reported in a note).
    pub eggs: Vec<String>,
    /// `*.egg-link` files (legacy `setup.py develop` editables).
    pub egg_links: Vec<EggLink>,
}

/// One metadata directory (or legacy `*.egg-info` file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// Its file name, e.g. `six-1.16.0.dist-info`.
    pub file_name: String,
    /// Its full path.
    pub path: String,
    /// The `Name:` header (first occurrence), if any.
    pub name: Option<String>,
    /// The `Version:` header (first occurrence), if any.
    pub version: Option<String>,
    /// The text of `direct_url.json` (PEP 610), if present.
    pub direct_url: Option<String>,
}

impl Info {
    pub fn is_dist_info(&self) -> bool {
        self.file_name.to_ascii_lowercase().ends_with(".dist-info")
    }
}

/// A legacy editable: `<name>.egg-link` naming the project directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EggLink {
    pub file_name: String,
    /// The project directory (first non-empty line, resolved against site-packages).
    pub target: String,
    /// The project's `*.egg-info`, when the target directory is readable.
    pub info: Option<Info>,
}

/// Reads `dir`. A missing or unreadable directory is an error; a broken entry is not (it is
/// read as having no metadata, as importlib does).
pub fn scan(dir: &str) -> io::Result<Site> {
    Ok(scan_listing(dir, read_listing(dir)?))
}

/// The site a listing of `dir` describes.
pub fn scan_listing(dir: &str, listing: Listing) -> Site {
    let mut site = Site {
        dir: dir.to_string(),
        ..Site::default()
    };
    // importlib's `Lookup` keys metadata entries by the normalised name in their file name
    // and yields the groups in first-seen order: replicate it so "first wins" matches pip.
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for file_name in listing.names {
        let low = file_name.to_lowercase();
        if low.ends_with(".dist-info") || low.ends_with(".egg-info") {
            let next = groups.len();
            let group = *group_of.entry(lookup_key(&low)).or_insert(next);
            if group == next {
                groups.push(Vec::new());
            }
            groups[group].push(file_name);
        } else if low.ends_with(".egg") {
            site.eggs.push(file_name);
        } else if file_name.ends_with(".egg-link")
            && let Some(link) = read_egg_link(dir, &file_name)
        {
            site.egg_links.push(link);
        }
    }
    let mut entries: HashMap<String, Entry> = listing
        .entries
        .into_iter()
        .map(|e| (e.file_name.clone(), e))
        .collect();
    for name in groups.into_iter().flatten() {
        let entry = entries.remove(&name).unwrap_or_default();
        site.infos.push(info(join(dir, &name), name, entry));
    }
    site
}

/// The directory through the host, in one call.
#[cfg(target_arch = "wasm32")]
pub fn read_listing(dir: &str) -> io::Result<Listing> {
    let listing = dockwright_plugin_sdk::host::read_metadata(dir).map_err(io::Error::other)?;
    Ok(Listing {
        names: listing.names,
        entries: listing
            .entries
            .into_iter()
            .map(|e| Entry {
                file_name: e.file_name,
                headers: e.headers,
                direct_url: e.direct_url,
            })
            .collect(),
    })
}

/// The directory read with `std::fs`, as the host reads it.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_listing(dir: &str) -> io::Result<Listing> {
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(dir)? {
        let file_name = entry?.file_name().to_string_lossy().into_owned();
        let low = file_name.to_lowercase();
        if low.ends_with(".dist-info") || low.ends_with(".egg-info") {
            listing
                .entries
                .push(read_entry(&join(dir, &file_name), file_name.clone()));
        }
        listing.names.push(file_name);
    }
    Ok(listing)
}

/// importlib's `Prepared.normalize` of the name part of a metadata file name.
fn lookup_key(low_file_name: &str) -> String {
    let stem = low_file_name
        .rsplit_once('.')
        .map_or(low_file_name, |(s, _)| s);
    let name = stem.split('-').next().unwrap_or(stem);
    crate::names::canonicalize(name).replace('-', "_")
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Reads a metadata entry: `METADATA`, else `PKG-INFO`, else the entry itself when it is a
/// file (a distutils `*.egg-info` file); the first non-empty one counts, as in importlib.
pub fn read_entry(path: &str, file_name: String) -> Entry {
    let headers = ["METADATA", "PKG-INFO"]
        .iter()
        .find_map(|f| read_header_block(&join(path, f)))
        .or_else(|| read_header_block(path));
    Entry {
        file_name,
        headers,
        direct_url: read_text(&join(path, "direct_url.json")),
    }
}

/// An [`Info`] from a metadata entry at `path`.
fn info(path: String, file_name: String, entry: Entry) -> Info {
    let (name, version) = entry.headers.as_deref().map(headers).unwrap_or_default();
    Info {
        direct_url: entry.direct_url,
        file_name,
        path,
        name,
        version,
    }
}

/// The file's text (invalid UTF-8 replaced), or `None` when it is missing, not a file or empty.
fn read_text(path: &str) -> Option<String> {
    let bytes = std::fs::read(Path::new(path)).ok()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (!text.is_empty()).then_some(text)
}

/// The start of a metadata file up to its first blank line (the headers), or `None` when it
/// is missing, not a file or empty. The description after the headers can be large, and
/// only the headers are needed.
fn read_header_block(path: &str) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(Path::new(path)).ok()?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = file.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        let searched_from = bytes.len().saturating_sub(3);
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(end) = header_end(&bytes[searched_from..]) {
            bytes.truncate(searched_from + end);
            break;
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (!text.is_empty()).then_some(text)
}

/// Where the header block ends: just after the first `\n\n` or `\n\r\n`.
fn header_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).enumerate().find_map(|(i, w)| match w {
        [b'\n', b'\n'] => Some(i + 2),
        [b'\n', b'\r'] if bytes.get(i + 2) == Some(&b'\n') => Some(i + 3),
        _ => None,
    })
}

/// The first `Name:` and `Version:` headers of core metadata (RFC 822 style: headers end at
/// the first blank line; names are case-insensitive; the value keeps trailing spaces, as
/// Python's `email` parser does, but loses its line ending).
pub fn headers(text: &str) -> (Option<String>, Option<String>) {
    let mut name = None;
    let mut version = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim_start_matches([' ', '\t']);
        if key.eq_ignore_ascii_case("name") && name.is_none() {
            name = Some(value.to_string());
        } else if key.eq_ignore_ascii_case("version") && version.is_none() {
            version = Some(value.to_string());
        }
    }
    (name, version)
}

/// Reads an `.egg-link`: its first non-empty line is the project directory.
fn read_egg_link(dir: &str, file_name: &str) -> Option<EggLink> {
    let text = read_text(&join(dir, file_name))?;
    let target_rel = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let target = if target_rel.starts_with('/') {
        target_rel.to_string()
    } else {
        join(dir, target_rel)
    };
    let info = std::fs::read_dir(&target).ok().and_then(|entries| {
        entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.to_lowercase().ends_with(".egg-info"))
            .map(|n| {
                let path = join(&target, &n);
                info(path.clone(), n.clone(), read_entry(&path, n))
            })
    });
    Some(EggLink {
        file_name: file_name.to_string(),
        target,
        info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_take_the_first_occurrence_and_stop_at_the_body() {
        let text =
            "Metadata-Version: 2.1\r\nname:  Foo.Bar \r\nVersion: 1.0\nName: Other\n\nVersion: 9\n";
        assert_eq!(headers(text), (Some("Foo.Bar ".into()), Some("1.0".into())));
        assert_eq!(headers("\nName: x"), (None, None));
    }

    #[test]
    fn only_the_header_block_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("METADATA");
        let body = "x".repeat(100_000);
        std::fs::write(
            &path,
            format!("Name: a\r\nVersion: 1\r\n\r\n{body}\nName: b\n"),
        )
        .unwrap();
        let block = read_header_block(path.to_str().unwrap()).unwrap();
        assert_eq!(block, "Name: a\r\nVersion: 1\r\n\r\n");
        // A header block longer than one read is still found whole.
        let long = format!(
            "Name: c\nSummary: {}\nVersion: 2\n\nbody",
            "y".repeat(20_000)
        );
        std::fs::write(&path, &long).unwrap();
        let block = read_header_block(path.to_str().unwrap()).unwrap();
        assert_eq!(headers(&block), (Some("c".into()), Some("2".into())));
        assert!(!block.ends_with("body"));
        assert_eq!(
            read_header_block(dir.path().join("none").to_str().unwrap()),
            None
        );
    }

    #[test]
    fn scan_groups_by_file_name_and_reads_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let dist = dir.path().join("a_b-1.0.dist-info");
        std::fs::create_dir(&dist).unwrap();
        std::fs::write(dist.join("METADATA"), "Name: A.B\nVersion: 1.0\n").unwrap();
        std::fs::write(dist.join("direct_url.json"), "{}").unwrap();
        std::fs::write(
            dir.path().join("old-2.0-py3.11.egg-info"),
            "Metadata-Version: 1.0\nName: old\nVersion: 2.0\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("proj.egg-link"), "\n/nonexistent/proj\n.\n").unwrap();
        std::fs::create_dir(dir.path().join("thing.egg")).unwrap();
        let site = scan(root).unwrap();
        let mut found: Vec<_> = site
            .infos
            .iter()
            .map(|i| (i.name.clone().unwrap(), i.direct_url.is_some()))
            .collect();
        found.sort();
        assert_eq!(found, [("A.B".into(), true), ("old".into(), false)]);
        assert_eq!(site.eggs, ["thing.egg"]);
        assert_eq!(site.egg_links[0].target, "/nonexistent/proj");
        assert_eq!(site.egg_links[0].info, None);
        assert!(scan(&format!("{root}/missing")).is_err());
    }
}
