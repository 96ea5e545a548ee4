//! `dockwright clean [--dry-run] [-f FILE]`: removes what Dockwright made — the images
//! carrying its build-key label, the records of finished builds, the build logs, the context
//! hash cache, the build locks, the compiled plugin components and the remembered plugin calls
//! — and says how much that freed.
//!
//! With a pipeline file, only that pipeline's images, their records and its build logs go (the
//! caches are shared by every pipeline, so they stay). Installed plugins are the user's, never removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::commands::{Host, Planned};
use crate::engine::bollard::query_parameters::ListImagesOptionsBuilder;
use crate::engine::{BUILD_KEY_LABEL, Engine};
use crate::records::{self, Record};

/// One thing removed (or, on a dry run, that would be).
#[derive(Debug, Serialize)]
pub struct Removed {
    /// `image`, `record`, `build logs`, `context cache`, `build locks`,
    /// `compiled components` or `remembered plugin calls`.
    pub kind: &'static str,
    /// The image's id, or the path.
    pub what: String,
    /// The image's tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Its size: for an image as the engine reports it (layers shared with other images
    /// count in each), for files what they take on disk.
    pub bytes: u64,
}

/// What `clean` did.
#[derive(Debug, Serialize)]
pub struct Cleaned {
    pub dry_run: bool,
    pub removed: Vec<Removed>,
    /// The sum of the sizes.
    pub freed: u64,
}

/// Removes (or, with `dry_run`, lists) what Dockwright made; with `pipeline`, only its images
/// and records.
pub async fn clean(
    host: &Host,
    pipeline: Option<&Planned>,
    dry_run: bool,
) -> anyhow::Result<Cleaned> {
    let engine = Engine::connect().await?;
    let mut removed = labelled_images(&engine, pipeline).await?;
    removed.extend(record_files(host, pipeline));
    let dirs = &host.dirs;
    let logs = match pipeline {
        Some(planned) => crate::build_log::pipeline_dir(&dirs.logs, &planned.plan.pipeline),
        None => dirs.logs.clone(),
    };
    if logs.exists() {
        removed.push(Removed {
            kind: "build logs",
            what: logs.display().to_string(),
            tags: Vec::new(),
            bytes: disk_size(&logs),
        });
    }
    if pipeline.is_none() {
        for (kind, path) in [
            ("context cache", dirs.context_hashes.clone()),
            ("build locks", dirs.builds.join("locks")),
            ("install history", dirs.installs.clone()),
            ("compiled components", dirs.cache.clone()),
            ("remembered plugin calls", dirs.calls.clone()),
        ] {
            if path.exists() {
                let bytes = disk_size(&path);
                removed.push(Removed {
                    kind,
                    what: path.display().to_string(),
                    tags: Vec::new(),
                    bytes,
                });
            }
        }
    }
    if !dry_run {
        remove(&engine, &removed).await?;
    }
    let freed = removed.iter().map(|r| r.bytes).sum();
    Ok(Cleaned {
        dry_run,
        removed,
        freed,
    })
}

/// The images with Dockwright's build-key label; with a pipeline, those its plan names.
async fn labelled_images(
    engine: &Engine,
    pipeline: Option<&Planned>,
) -> anyhow::Result<Vec<Removed>> {
    let filters = HashMap::from([("label", vec![BUILD_KEY_LABEL.to_string()])]);
    let options = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let images = engine
        .docker()
        .list_images(Some(options))
        .await
        .map_err(|error| anyhow::anyhow!("listing Dockwright's images: {error}"))?;
    let mut wanted: Option<Vec<String>> = None;
    if let Some(planned) = pipeline {
        let mut ids = Vec::new();
        for image in &planned.plan.images {
            if let Some(id) = engine.image_id(&image.name).await? {
                ids.push(id);
            }
        }
        wanted = Some(ids);
    }
    // Newest first: an image built on another (a user Dockerfile's) goes before its parent,
    // which the engine refuses to remove while it has children.
    let mut images = images;
    images.sort_by_key(|image| std::cmp::Reverse(image.created));
    Ok(images
        .into_iter()
        .filter(|image| wanted.as_ref().is_none_or(|ids| ids.contains(&image.id)))
        .map(|image| Removed {
            kind: "image",
            what: image.id,
            tags: image.repo_tags,
            bytes: u64::try_from(image.size).unwrap_or(0),
        })
        .collect())
}

/// The records of finished builds; with a pipeline, those of its images.
fn record_files(host: &Host, pipeline: Option<&Planned>) -> Vec<Removed> {
    let dir = records::dir_for(&host.dirs.builds);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let names: Option<Vec<&str>> =
        pipeline.map(|p| p.plan.images.iter().map(|i| i.name.as_str()).collect());
    let mut out: Vec<Removed> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .filter(|path| match &names {
            None => true,
            Some(names) => std::fs::read(path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok())
                .is_some_and(|record| names.contains(&record.name.as_str())),
        })
        .map(|path| Removed {
            kind: "record",
            tags: Vec::new(),
            bytes: disk_size(&path),
            what: path.display().to_string(),
        })
        .collect();
    out.sort_by(|a, b| a.what.cmp(&b.what));
    out
}

async fn remove(engine: &Engine, removed: &[Removed]) -> anyhow::Result<()> {
    for item in removed {
        match item.kind {
            "image" => engine.remove_image(&item.what).await?,
            _ => remove_path(Path::new(&item.what))
                .map_err(|error| anyhow::anyhow!("removing {}: {error}", item.what))?,
        }
    }
    Ok(())
}

fn remove_path(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Bytes of a file, or of every file under a directory (symbolic links not followed).
fn disk_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    let mut total = 0;
    let mut pending: Vec<PathBuf> = vec![path.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// `1.5 MiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_said_in_binary_units() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }

    #[test]
    fn directory_sizes_add_up_their_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/one"), [0u8; 100]).unwrap();
        std::fs::write(dir.path().join("a/b/two"), [0u8; 23]).unwrap();
        assert_eq!(disk_size(dir.path()), 123);
        remove_path(&dir.path().join("a")).unwrap();
        assert_eq!(disk_size(dir.path()), 0);
    }
}
