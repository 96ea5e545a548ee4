//! From a plan to images on the engine: each planned image, in build order, is used as is (a
//! parent, found or pulled), reused (an image with its build key exists) or built, then
//! recorded, and the final images pushed when asked. Reuse itself is the engine's
//! ([`Engine::reuse_or_build`]); nothing here talks to bollard.
//!
//! Before that, [`look_in_registry`] asks the stack's registry for the final images: one
//! found at its planned reference with the same build key label was built elsewhere and is
//! reused as it is there, without building it or its parents (pulled only when the steps
//! run on this engine).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use dockwright_registry::RemoteImage;

use crate::base_image;
use crate::dockerfile::{PARENT_USER_ARG, is_root_user};
use crate::engine::{
    BuildJob, BuildProgress, Builder, Engine, EngineError, Interrupt, RegistryAuth,
};
use crate::install_history::InstallHistory;
use crate::plan::{BUILD_KEY_LABEL, BuildLabel, ImageKind, ImagePlan, Plan};
use crate::records::{Record, Records};

#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    // The cause is part of the message and deliberately not a `source`: printed as a
    // chain (`{:#}`), it would appear twice.
    #[error("image {image}: {error}")]
    Engine { image: String, error: EngineError },
    #[error("the parent image {image} is not on this engine and could not be pulled: {message}")]
    MissingParent { image: String, message: String },
    #[error("recording the build of {image} in {}: {error}", .dir.display())]
    Record {
        image: String,
        dir: PathBuf,
        error: std::io::Error,
    },
    #[error("{}", interrupted(.image, *.pushing))]
    Interrupted { image: String, pushing: bool },
}

fn interrupted(image: &str, pushing: bool) -> String {
    if pushing {
        format!(
            "interrupted while pushing {image}: it is built and recorded, but not recorded as pushed"
        )
    } else {
        format!("interrupted while building {image}: it was neither tagged nor recorded")
    }
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
    /// Found in the stack's registry with the same build key: the digest there. Nothing
    /// was built (nor its parents), and nothing pushed.
    pub registry_digest: Option<String>,
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
    /// What earlier builds installed: remembered after each build.
    pub installs: InstallHistory,
    /// What the registry has of the final images (see [`look_in_registry`]).
    pub registry: RegistryLookup,
    /// Images found in the registry are pulled (the steps run on this engine).
    pub pull_found: bool,
    /// Ctrl-C: the build or push under way is abandoned (the engine stops it when its
    /// request goes), and nothing more is built.
    pub interrupt: Interrupt,
}

/// The final images the stack's registry has with the planned build key, by name.
#[derive(Clone, Debug, Default)]
pub struct RegistryLookup {
    pub found: BTreeMap<String, RemoteImage>,
    /// Images the registry has with the planned build key but built on a parent that the
    /// registry now holds as another image: by name, the parent that changed. Built here.
    pub stale: BTreeMap<String, String>,
    /// Why the registry could not be asked (once), when it could not: the images are then
    /// built here.
    pub warning: Option<String>,
}

/// Asks the registry `registry` (the stack's) for each final image of the plan that is
/// named into it, at its planned reference; an image there whose config carries the same
/// build key is found. The first failure (registry down, credentials refused) ends the
/// lookup with one warning: nothing is found, everything is built here.
pub async fn look_in_registry(plan: &Plan, registry: &str, auth: &RegistryAuth) -> RegistryLookup {
    let mut lookup = RegistryLookup::default();
    let mut remote = RemoteImages::new(auth);
    let finals = final_images(plan);
    let prefix = format!("{}/", registry.trim_end_matches('/'));
    for image in &plan.images {
        let reusable = image.build.as_ref().is_some_and(|spec| spec.reuse);
        if !reusable || !finals.contains(&image.name) || !image.name.starts_with(&prefix) {
            continue;
        }
        let outcome = match remote.find(&image.name).await {
            Ok(Some(found))
                if remote_label(&found).is_some_and(|l| l.content_key == image.build_key) =>
            {
                changed_parent(&found, &prefix, &mut remote)
                    .await
                    .map(|changed| Some((found, changed)))
            }
            Ok(_) => Ok(None),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(Some((found, None))) => {
                lookup.found.insert(image.name.clone(), found);
            }
            Ok(Some((_, Some(parent)))) => {
                lookup.stale.insert(image.name.clone(), parent);
            }
            Ok(None) => {}
            Err(error) => {
                lookup.warning = Some(format!(
                    "warning: images built elsewhere cannot be reused: {error}; building here"
                ));
                lookup.found.clear();
                break;
            }
        }
    }
    lookup
}

/// The registry's answers, asked once per reference: final images often share parents.
struct RemoteImages<'a> {
    auth: &'a RegistryAuth,
    asked: BTreeMap<String, Option<RemoteImage>>,
}

impl<'a> RemoteImages<'a> {
    fn new(auth: &'a RegistryAuth) -> Self {
        RemoteImages {
            auth,
            asked: BTreeMap::new(),
        }
    }

    async fn find(
        &mut self,
        reference: &str,
    ) -> Result<Option<RemoteImage>, dockwright_registry::RegistryError> {
        if let Some(answer) = self.asked.get(reference) {
            return Ok(answer.clone());
        }
        let answer = dockwright_registry::find_image(reference, self.auth).await?;
        self.asked.insert(reference.to_string(), answer.clone());
        Ok(answer)
    }
}

/// The first image `remote` was built from (its parents label) that the stack's registry
/// (`prefix`) now holds as another image: a parent re-pushed since that build, so the image
/// there is stale. A parent the registry does not hold (a local base image, an intermediate
/// image) cannot be checked from here and is taken as it was.
async fn changed_parent(
    remote: &RemoteImage,
    prefix: &str,
    registry: &mut RemoteImages<'_>,
) -> Result<Option<String>, dockwright_registry::RegistryError> {
    for (name, id) in remote_parents(remote) {
        if !name.starts_with(prefix) {
            continue;
        }
        if let Some(now) = registry.find(&name).await?
            && now.config_digest != id
        {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

impl RegistryLookup {
    /// Whether the registry has every image the plan needs (nothing to build).
    pub fn has_all(&self, plan: &Plan) -> bool {
        let skipped = self.skipped(plan);
        !plan.images.is_empty() && plan.images.iter().all(|i| skipped.contains(&i.name))
    }

    /// The images found, and every planned image they are built on (not needed here).
    fn skipped(&self, plan: &Plan) -> BTreeSet<String> {
        let mut skipped = BTreeSet::new();
        for name in self.found.keys() {
            let mut next = Some(name.as_str());
            while let Some(name) = next {
                let Some(image) = plan.images.iter().find(|i| i.name == name) else {
                    break;
                };
                skipped.insert(image.name.clone());
                next = image.parent.as_deref();
            }
        }
        skipped
    }
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
    let skipped = options.registry.skipped(plan);
    for image in &plan.images {
        if let Some(remote) = options.registry.found.get(&image.name) {
            let result = use_found(Some(engine), image, remote, options.pull_found).await?;
            write_record(options, image, &result)?;
            results.push(result);
            continue;
        }
        if skipped.contains(&image.name) {
            continue;
        }
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
                let building = build_image(engine, image, &parents, options, progress(image));
                until_interrupted(options, image, false, building).await?
            }
        };
        if result.existing {
            results.push(result);
            continue;
        }
        // Recorded before the push, so a refused push leaves the build on record but
        // nothing recorded as pushed that was not.
        if let Err(error) = write_record(options, image, &result) {
            // A build that cannot be recorded is not left tagged as if it were done.
            if !result.reused {
                let _ = engine.untag(&image.name).await;
            }
            return Err(error);
        }
        remember_installs(options, image);
        if options.push && finals.contains(&image.name) {
            let pushing = async {
                engine
                    .push(&image.name, &options.auth)
                    .await
                    .map_err(|error| engine_error(image, error))
            };
            let pushed = until_interrupted(options, image, true, pushing).await?;
            result.pushed_digest = Some(pushed.digest);
            write_record(options, image, &result)?;
        }
        results.push(result);
    }
    Ok(results)
}

/// Runs `work` on `image` unless the user interrupts first: then `work` is dropped (its
/// request to the engine with it, which stops the build or push) and the interruption is
/// the error.
async fn until_interrupted<T>(
    options: &ImagesOptions,
    image: &ImagePlan,
    pushing: bool,
    work: impl std::future::Future<Output = Result<T, ImagesError>>,
) -> Result<T, ImagesError> {
    let mut interrupt = options.interrupt.clone();
    let stopped = || ImagesError::Interrupted {
        image: image.name.clone(),
        pushing,
    };
    if interrupt.is_set() {
        return Err(stopped());
    }
    tokio::select! {
        done = work => done,
        () = interrupt.wait() => Err(stopped()),
    }
}

/// When the registry has every image and nothing is pulled: no engine is needed. Records
/// what was found.
pub fn record_found(plan: &Plan, options: &ImagesOptions) -> Result<Vec<ImageResult>, ImagesError> {
    let mut results = Vec::new();
    for image in &plan.images {
        if let Some(remote) = options.registry.found.get(&image.name) {
            let result = found(image, remote, remote.config_digest.clone());
            write_record(options, image, &result)?;
            results.push(result);
        }
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
        registry_digest: result.registry_digest.clone(),
        parents: result.parents.clone(),
    };
    options
        .records
        .write(&record)
        .map_err(|error| ImagesError::Record {
            image: image.name.clone(),
            dir: options.records.dir().to_path_buf(),
            error,
        })
}

/// Remembers what the image's requirement groups installed first, now that the engine has
/// those layers (see [`InstallHistory`]). Only a cache: failing to write it costs speed at the
/// next rebuild, not correctness.
fn remember_installs(options: &ImagesOptions, image: &ImagePlan) {
    if let Some(spec) = &image.build {
        let _ = options.installs.remember(&spec.installs);
    }
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
        registry_digest: None,
        parents: BTreeMap::new(),
    })
}

/// An image found in the registry: pulled when the steps run here, else left there. Its id
/// is its config's digest (what the engine calls the image id), from the pull when pulled.
async fn use_found(
    engine: Option<&Engine>,
    image: &ImagePlan,
    remote: &RemoteImage,
    pull: bool,
) -> Result<ImageResult, ImagesError> {
    let image_id = match engine.filter(|_| pull) {
        Some(engine) => engine
            .pull(&image.name)
            .await
            .map_err(|error| engine_error(image, error))?,
        None => remote.config_digest.clone(),
    };
    Ok(found(image, remote, image_id))
}

/// What a registry image was built from, as its label records it.
fn remote_label(remote: &RemoteImage) -> Option<BuildLabel> {
    remote
        .labels
        .get(BUILD_KEY_LABEL)
        .and_then(|value| BuildLabel::parse(value))
}

/// The identities of the images a registry image was built from, as its label records them.
fn remote_parents(remote: &RemoteImage) -> BTreeMap<String, String> {
    remote_label(remote).map(|l| l.parents).unwrap_or_default()
}

fn found(image: &ImagePlan, remote: &RemoteImage, image_id: String) -> ImageResult {
    ImageResult {
        name: image.name.clone(),
        build_key: image.build_key.clone(),
        image_id,
        existing: false,
        reused: true,
        pushed_digest: None,
        registry_digest: Some(remote.digest.clone()),
        parents: remote_parents(remote),
    }
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

/// The user the generated image's parent runs as (`0` when it sets none): the generated
/// Dockerfile builds as root and gives the image back to that user, or, for root, is sent
/// without that handover (see [`crate::dockerfile`]). Read at build time, from the parent as
/// it is now; its identity is part of the reuse key, so the user it implies is too.
async fn parent_user(
    engine: &Engine,
    image: &ImagePlan,
    parents: &BTreeMap<String, String>,
) -> Result<String, ImagesError> {
    let Some(parent) = image.parent.as_deref() else {
        return Ok("0".to_string());
    };
    let id = parents.get(parent).map_or(parent, String::as_str);
    let user = engine
        .image_user(id)
        .await
        .map_err(|error| engine_error(image, error))?;
    Ok(user.unwrap_or_else(|| "0".to_string()))
}

async fn build_image(
    engine: &Engine,
    image: &ImagePlan,
    parents: &BTreeMap<String, String>,
    options: &ImagesOptions,
    mut progress: Box<dyn BuildProgress>,
) -> Result<ImageResult, ImagesError> {
    let spec = image.build.clone().expect("a built image has a build spec");
    let mut build_options = spec.options.clone();
    if image.kind == ImageKind::Generated {
        let user = parent_user(engine, image, parents).await?;
        match &spec.dockerfile_for_root_parent {
            Some(variant) if is_root_user(&user) => build_options.dockerfile = variant.clone(),
            _ => {
                build_options
                    .build_args
                    .insert(PARENT_USER_ARG.to_string(), user);
            }
        }
    }
    let job = BuildJob {
        build_key: BuildLabel::new(&image.build_key, parents).value(),
        tags: vec![image.name.clone()],
        options: build_options,
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
        registry_digest: None,
        parents: parents.clone(),
    })
}
