//! Records of finished builds: per image name, the build key and the hashed inputs behind it,
//! and the digest a push stored. `plan --explain` compares a new plan against them to say
//! which input changed. A record is written only after its image was built (or reused) and
//! tagged, so a failed build never leaves one behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::ImagePlan;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub build_key: String,
    pub key_inputs: BTreeMap<String, String>,
    pub image_id: String,
    /// `sha256:…` of the manifest a push stored, when the image was pushed.
    pub pushed_digest: Option<String>,
    /// `sha256:…` of the manifest found in the stack's registry with the same build key,
    /// when the image was reused from there instead of built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_digest: Option<String>,
    /// The image ID each image it was built from had at build time, by name.
    #[serde(default)]
    pub parents: BTreeMap<String, String>,
}

/// The records in one directory, one JSON file per image name.
pub struct Records {
    dir: PathBuf,
}

impl Records {
    pub fn new(dir: impl Into<PathBuf>) -> Records {
        Records { dir: dir.into() }
    }

    /// Where the records are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.json"))
    }

    /// The last record for `name`, if any (an unreadable record counts as none).
    pub fn last(&self, name: &str) -> Option<Record> {
        let bytes = std::fs::read(self.file(name)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes `record` atomically.
    pub fn write(&self, record: &Record) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        serde_json::to_writer_pretty(&mut tmp, record)?;
        tmp.persist(self.file(&record.name)).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Why an image will be built or reused, against its last record and what the images it is
/// built from are now (`now`: name → image ID on the engine; names it lacks are not
/// compared, e.g. with no engine to ask).
pub fn explain(
    image: &ImagePlan,
    last: Option<&Record>,
    now: &BTreeMap<String, String>,
) -> Vec<String> {
    let Some(last) = last else {
        let mut out = vec!["no recorded build of this image: it will be built".to_string()];
        out.extend(installs_on_earlier_sets(image));
        return out;
    };
    let parents = changed_parents(last, now);
    if last.build_key == image.build_key && parents.is_empty() {
        return vec![format!(
            "unchanged since the last build (image {}): it will be reused",
            short(&last.image_id)
        )];
    }
    let mut out = vec!["changed since the last build: it will be built".to_string()];
    out.extend(parents);
    out.extend(installs_on_earlier_sets(image));
    for (input, digest) in &image.key_inputs {
        match last.key_inputs.get(input) {
            None => out.push(format!("new input: {input}")),
            Some(old) if old != digest => out.push(format!("changed: {input}")),
            Some(_) => {}
        }
    }
    for input in last
        .key_inputs
        .keys()
        .filter(|k| !image.key_inputs.contains_key(*k))
    {
        out.push(format!("removed input: {input}"));
    }
    out
}

/// For each requirements group that only gained lines since an earlier build: how many are
/// installed on that build's install layer.
fn installs_on_earlier_sets(image: &ImagePlan) -> impl Iterator<Item = String> + '_ {
    image
        .installs_on_earlier_sets()
        .into_iter()
        .map(|(file, added, earlier)| {
            format!(
                "{file}: {added} added line(s) installed on an earlier build's install of the other {earlier}"
            )
        })
}

/// "parent changed" for each image the record was built from that is another image now.
fn changed_parents(last: &Record, now: &BTreeMap<String, String>) -> Vec<String> {
    last.parents
        .iter()
        .filter_map(|(name, then)| {
            let current = now.get(name)?;
            (current != then).then(|| {
                format!(
                    "parent changed: {name} is image {} now, was {}",
                    short(current),
                    short(then)
                )
            })
        })
        .collect()
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// The directory of records for builds against the engine at `host`.
pub fn dir_for(builds: &Path) -> PathBuf {
    builds.join("records")
}
