//! From a plan to images on the engine: each planned image, in build order, is used as is (a
//! parent, found or pulled), reused (an image with its build key exists) or built, then
//! recorded, and the final images pushed when asked. Reuse itself is the engine's
//! ([`Engine::reuse_or_build`]); nothing here talks to bollard.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::base_image;
use crate::engine::{BuildJob, BuildProgress, Builder, Engine, EngineError, RegistryAuth};
use crate::plan::{ImageKind, ImagePlan, Plan, reuse_key};
use crate::records::{Record, Records};

#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    // The cause is part of the message and deliberately not a `source`: printed as a
    // chain (`{:#}`), it would appear twice.
    #[error("image {image}: {error}")]
    Engine { image: String, error: EngineError },
    #[error("the parent image {image} is not on this engine and could not be pulled: {message}")]
    MissingParent { image: String, message: String },
    #[error("recording the build of {image}: {error}")]
    Record {
        image: String,
        error: std::io::Error,
    },
}

/// What happened to one planned image.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImageResult {
    pub name: String,
    pub build_key: String,
    pub image_id: String,
    /// Used as is (a parent image).
    pub existing: bool,
    /// An image with the build key existed: nothing was built, no context sent.
    pub reused: bool,
    pub pushed_digest: Option<String>,
    /// The image ID each image it was built from had at build time (a reused image was
    /// built from these same ones).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub parents: BTreeMap<String, String>,
}

/// How to build a plan's images.
pub struct ImagesOptions {
    pub push: bool,
    pub auth: RegistryAuth,
    pub lock_dir: PathBuf,
    pub records: Records,
}

/// Builds or reuses every image of the plan, in order. Stops at the first failure; nothing
/// is recorded for an image that was not built.
pub async fn build_images(
    engine: &Engine,
    plan: &Plan,
    options: &ImagesOptions,
    progress: &mut dyn FnMut(&ImagePlan) -> Box<dyn BuildProgress>,
) -> Result<Vec<ImageResult>, ImagesError> {
    let mut results: Vec<ImageResult> = Vec::new();
    let finals = final_images(plan);
    let planned: BTreeSet<&str> = plan.images.iter().map(|i| i.name.as_str()).collect();
    for image in &plan.images {
        let external: Vec<&str> = match image.kind {
            ImageKind::Parent => vec![image.name.as_str()],
            _ => image
                .from
                .iter()
                .map(String::as_str)
                .filter(|p| !planned.contains(p))
                .collect(),
        };
        for from in external
            .into_iter()
            .filter(|f| base_image::is_bootstrappable(f))
        {
            ensure_base_image(engine, from).await?;
        }
        let mut result = match image.kind {
            ImageKind::Parent => use_parent(engine, image).await?,
            _ => {
                let parents = parent_identities(engine, image, &results).await?;
                build_image(engine, image, &parents, options, progress(image)).await?
            }
        };
        if result.existing {
            results.push(result);
            continue;
        }
        // Recorded before the push, so a refused push leaves the build on record but
        // nothing recorded as pushed that was not.
        write_record(options, image, &result)?;
        if options.push && finals.contains(&image.name) {
            let pushed = engine
                .push(&image.name, &options.auth)
                .await
                .map_err(|error| engine_error(image, error))?;
            result.pushed_digest = Some(pushed.digest);
            write_record(options, image, &result)?;
        }
        results.push(result);
    }
    Ok(results)
}

fn engine_error(image: &ImagePlan, error: EngineError) -> ImagesError {
    ImagesError::Engine {
        image: image.name.clone(),
        error,
    }
}

fn write_record(
    options: &ImagesOptions,
    image: &ImagePlan,
    result: &ImageResult,
) -> Result<(), ImagesError> {
    let record = Record {
        name: image.name.clone(),
        build_key: image.build_key.clone(),
        key_inputs: image.key_inputs.clone(),
        image_id: result.image_id.clone(),
        pushed_digest: result.pushed_digest.clone(),
        parents: result.parents.clone(),
    };
    options
        .records
        .write(&record)
        .map_err(|error| ImagesError::Record {
            image: image.name.clone(),
            error,
        })
}

/// Makes Dockwright's own base image when the engine lacks it (it cannot be pulled).
async fn ensure_base_image(engine: &Engine, image: &str) -> Result<(), ImagesError> {
    let present = engine
        .image_id(image)
        .await
        .map_err(|error| ImagesError::Engine {
            image: image.into(),
            error,
        })?;
    if present.is_none() {
        let image = image.to_string();
        tokio::task::spawn_blocking(move || base_image::ensure(&image))
            .await
            .expect("the bootstrap task panicked")
            .map_err(|message| ImagesError::MissingParent {
                image: "dockwright-base".into(),
                message,
            })?;
    }
    Ok(())
}

/// Images no other image is built on: the ones steps run in, and the ones pushed.
fn final_images(plan: &Plan) -> BTreeSet<String> {
    let parents: BTreeSet<&str> = plan
        .images
        .iter()
        .filter_map(|i| i.parent.as_deref())
        .collect();
    plan.images
        .iter()
        .filter(|i| !parents.contains(i.name.as_str()))
        .map(|i| i.name.clone())
        .collect()
}

async fn use_parent(engine: &Engine, image: &ImagePlan) -> Result<ImageResult, ImagesError> {
    let id = present_or_pulled(engine, &image.name).await?;
    Ok(ImageResult {
        name: image.name.clone(),
        build_key: image.build_key.clone(),
        image_id: id,
        existing: true,
        reused: false,
        pushed_digest: None,
        parents: BTreeMap::new(),
    })
}

/// The ID of the image `name` on the engine, pulled first when the engine lacks it (as the
/// build would pull it).
async fn present_or_pulled(engine: &Engine, name: &str) -> Result<String, ImagesError> {
    let present = engine
        .image_id(name)
        .await
        .map_err(|error| ImagesError::Engine {
            image: name.to_string(),
            error,
        })?;
    match present {
        Some(id) => Ok(id),
        None => engine
            .pull(name)
            .await
            .map_err(|error| ImagesError::MissingParent {
                image: name.to_string(),
                message: match error {
                    EngineError::PullFailed { message, .. } => message,
                    other => other.to_string(),
                },
            }),
    }
}

/// What each image `image` is built from is now: the ID of a planned image as built (or
/// reused) just before, else the ID the engine has under the name. Resolved at build time,
/// so that a parent re-tagged since the last build means a rebuild, never a stale image.
async fn parent_identities(
    engine: &Engine,
    image: &ImagePlan,
    built: &[ImageResult],
) -> Result<BTreeMap<String, String>, ImagesError> {
    let mut parents = BTreeMap::new();
    for name in &image.from {
        let id = match built.iter().rev().find(|r| &r.name == name) {
            Some(result) => result.image_id.clone(),
            None => present_or_pulled(engine, name).await?,
        };
        parents.insert(name.clone(), id);
    }
    Ok(parents)
}

async fn build_image(
    engine: &Engine,
    image: &ImagePlan,
    parents: &BTreeMap<String, String>,
    options: &ImagesOptions,
    mut progress: Box<dyn BuildProgress>,
) -> Result<ImageResult, ImagesError> {
    let spec = image.build.clone().expect("a built image has a build spec");
    let job = BuildJob {
        build_key: reuse_key(&image.build_key, parents),
        tags: vec![image.name.clone()],
        options: spec.options.clone(),
        builder: if spec.buildkit {
            Builder::BuildKit
        } else {
            Builder::Classic
        },
        // Scanned only when the image is built: a reuse never reads the context.
        context: Box::new(move |w| {
            let context = spec.context().map_err(|e| {
                std::io::Error::other(format!("the build context could not be prepared: {e}"))
            })?;
            context
                .write_tar(w)
                .map(drop)
                .map_err(std::io::Error::other)
        }),
    };
    let reuse = image.build.as_ref().is_some_and(|spec| spec.reuse);
    let (built, reused) = if reuse {
        let outcome = engine
            .reuse_or_build(job, progress.as_mut(), &options.lock_dir)
            .await
            .map_err(|error| engine_error(image, error))?;
        (outcome.image, outcome.reused)
    } else {
        let built = engine
            .build(job, progress.as_mut())
            .await
            .map_err(|error| engine_error(image, error))?;
        (built, false)
    };
    Ok(ImageResult {
        name: image.name.clone(),
        build_key: image.build_key.clone(),
        image_id: built.id,
        existing: false,
        reused,
        pushed_digest: None,
        parents: parents.clone(),
    })
}
