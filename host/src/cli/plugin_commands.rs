//! `dockwright plugin install | remove | push | new`: managing the user's plugins. `list` and
//! `inspect` live with the other read-only commands in `cli.rs`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::Dirs;
use crate::engine::RegistryAuth;
use crate::plugins::distribution::oci::{self, PluginReference};
use crate::plugins::distribution::{scaffold, store};
use crate::plugins::{self, Limits, Runtime};

#[derive(Subcommand)]
pub enum Manage {
    /// Install a plugin from a `.wasm` file or an OCI registry (`oci://registry/repo[:version]`).
    /// It is checked and compiled before anything is written. An older installed version is
    /// replaced; replacing a newer one, or the same version with other bytes, needs --force.
    Install {
        /// A `.wasm` file, or `oci://registry/repository[:version]` (no version: the newest).
        source: String,
        /// Replace an installed plugin of the same name even when it is newer or differs.
        #[arg(long)]
        force: bool,
    },
    /// Remove an installed plugin.
    Remove {
        /// The plugin's name.
        name: String,
    },
    /// Publish a plugin as an OCI artifact (wasm layout: config
    /// `application/vnd.wasm.config.v0+json`, one `application/wasm` layer), tagged with its
    /// version. Credentials come from the Docker config (`docker login`).
    Push {
        /// The plugin's `.wasm` file.
        file: PathBuf,
        /// `oci://registry/repository[:version]`; the tag defaults to the plugin's version.
        reference: String,
    },
    /// Create a plugin crate (an integration provider) that builds as it is with
    /// `cargo build --release --target wasm32-wasip2`.
    New {
        /// The plugin (and crate) name, e.g. acme-integrations.
        name: String,
        /// Where to create it; default: ./<name>.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The plugin SDK (`plugins/sdk` of a Dockwright checkout); found automatically inside
        /// a checkout.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

pub fn run(command: Manage, dirs: &Dirs, limits: Limits) -> anyhow::Result<()> {
    match command {
        Manage::Install { source, force } => {
            let runtime = Runtime::new(dirs.cache.clone(), limits)?;
            let (wasm, label) = fetch(&source)?;
            let installed = store::install(&runtime, &dirs.plugins, &wasm, &label, force)?;
            let p = &installed.plugin;
            if installed.unchanged {
                eprintln!("{} is installed already ({})", p.label(), p.digest);
            } else {
                let replaced = installed
                    .replaced
                    .map(|v| format!(", replacing {v}"))
                    .unwrap_or_default();
                eprintln!(
                    "installed {} ({}) into {}{replaced}",
                    p.label(),
                    p.digest,
                    installed.path.display()
                );
            }
            let caps: Vec<String> = p
                .manifest
                .capabilities
                .iter()
                .map(|c| c.to_string())
                .collect();
            if !caps.is_empty() {
                eprintln!(
                    "it asks for: {}; pipelines grant these under `grants: {{{}: …}}`",
                    caps.join(", "),
                    p.manifest.name
                );
            }
        }
        Manage::Remove { name } => {
            let runtime = Runtime::new(dirs.cache.clone(), limits)?;
            let path = store::remove(&runtime, &dirs.plugins, &name)?;
            eprintln!("removed {name} ({})", path.display());
        }
        Manage::Push { file, reference } => {
            let runtime = Runtime::new(dirs.cache.clone(), limits)?;
            let reference = PluginReference::parse(&reference)?;
            let plugin = plugins::load_file(&runtime, &file)?;
            let wasm = std::fs::read(&file)?;
            let pushed = block_on(oci::push(
                &wasm,
                &plugin.header,
                &reference,
                &RegistryAuth::FromDockerConfig,
            ))?;
            println!("{}@{}", pushed.reference, pushed.manifest_digest);
            eprintln!(
                "pushed {} as {} (manifest {}, component {})",
                plugin.label(),
                pushed.reference,
                pushed.manifest_digest,
                pushed.layer_digest
            );
        }
        Manage::New { name, dir, sdk } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let files = scaffold::new_plugin(&dir, &name, sdk.as_deref())?;
            for f in &files {
                eprintln!("created {}", f.display());
            }
            eprintln!(
                "build it with: cd {} && cargo build --release --target wasm32-wasip2",
                dir.display()
            );
        }
    }
    Ok(())
}

/// The plugin's bytes and a label for messages, from a file or a registry.
fn fetch(source: &str) -> anyhow::Result<(Vec<u8>, String)> {
    if source.starts_with(oci::SCHEME) {
        let reference = PluginReference::parse(source)?;
        let pulled = block_on(oci::pull(&reference, &RegistryAuth::FromDockerConfig))?;
        eprintln!("pulled {} ({})", pulled.reference, pulled.manifest_digest);
        return Ok((pulled.wasm, pulled.reference));
    }
    let wasm = std::fs::read(source).map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
    Ok((wasm, source.to_string()))
}

fn block_on<T, E: Into<anyhow::Error>>(
    future: impl std::future::Future<Output = Result<T, E>>,
) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
        .map_err(Into::into)
}
