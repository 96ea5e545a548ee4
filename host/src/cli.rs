//! The command line: a thin layer that parses arguments, calls the library and prints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::context::HashCache;
use std::io::IsTerminal;

use crate::engine::{BuildProgress, BuildStep, Engine, LogLine, PlainProgress, RegistryAuth};
use crate::plan::{ImageKind, ImagePlan, Plan};
use crate::plugins::{self, Dirs, Group, Limits, Origin, Platform, Plugin, Registry};
use crate::records::Records;
use crate::run::{self, BuildOptions, ImageResult, RunOptions};
use crate::workflow::{self, Gathered};

mod plugin_commands;

#[derive(Parser)]
#[command(
    name = "dockwright",
    version,
    about = "Builds the Docker images ML pipelines run in, and runs their steps."
)]
struct Cli {
    #[command(flatten)]
    sandbox: SandboxArgs,
    #[command(subcommand)]
    command: Command,
}

/// Limits for every plugin call.
#[derive(Args)]
struct SandboxArgs {
    /// Wall-clock deadline of one plugin call, in seconds.
    #[arg(long, global = true, default_value_t = 5.0, value_name = "SECONDS")]
    plugin_timeout: f64,
    /// Memory a plugin may use, in MiB.
    #[arg(long, global = true, default_value_t = 128, value_name = "MIB")]
    plugin_memory: usize,
}

impl SandboxArgs {
    fn limits(&self) -> Limits {
        Limits {
            deadline: Duration::from_secs_f64(self.plugin_timeout.max(0.01)),
            memory: self.plugin_memory << 20,
            ..Limits::default()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Show which images the pipeline needs, without Docker.
    Plan {
        #[command(flatten)]
        file: FileArg,
        #[arg(long)]
        json: bool,
        /// Say per image why it is built or reused.
        #[arg(long)]
        explain: bool,
        /// Treat a requirements conflict as an error.
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Build (or reuse) the pipeline's images.
    Build {
        #[command(flatten)]
        file: FileArg,
        /// Push each final image to its registry (always, when the stack has a
        /// `container_registry`).
        #[arg(long)]
        push: bool,
        /// Treat a requirements conflict as an error.
        #[arg(long)]
        strict: bool,
        /// Print the results as JSON (progress as plain lines on stderr).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Build (or reuse) the images, then run the steps as containers.
    Run {
        #[command(flatten)]
        file: FileArg,
        /// Steps to run at the same time, at most.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Keep the steps' containers after they finish.
        #[arg(long)]
        keep: bool,
        #[arg(long)]
        push: bool,
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Make Dockwright's Debian-based Python parent image from this machine's Debian
    /// packages (for machines that cannot pull).
    BaseImage {
        /// The image to make.
        #[arg(default_value = "dockwright-base/python:bookworm")]
        tag: String,
    },
    /// Show the requirement groups in install order, each line with its origin.
    Requirements {
        #[command(flatten)]
        file: FileArg,
        #[arg(long)]
        json: bool,
    },
    /// The integrations every installed provider offers.
    #[command(subcommand)]
    Integrations(IntegrationsCommand),
    /// Manage requirement-source plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Args)]
struct FileArg {
    /// The pipeline file.
    #[arg(
        short = 'f',
        long = "file",
        default_value = "dockwright.yaml",
        value_name = "FILE"
    )]
    path: PathBuf,
}

/// `dockwright.lock`, beside the pipeline file, pins the plugins a plan used.
#[derive(Args)]
struct LockArg {
    /// Accept plugins whose version or digest differs from dockwright.lock, and record them.
    #[arg(long)]
    update_lock: bool,
}

#[derive(Subcommand)]
enum IntegrationsCommand {
    /// List the integrations of every integration provider.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// List the built-in and installed plugins.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a plugin's manifest, capabilities, imports and exports.
    Inspect {
        /// A plugin name, or the path of a `.wasm` file.
        plugin: String,
        #[arg(long)]
        json: bool,
    },
    #[command(flatten)]
    Manage(plugin_commands::Manage),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_code_for(&e)
        }
    }
}

/// A failed step's own exit status becomes Dockwright's (as with `docker run`), so a script
/// can tell a step's failure from Dockwright's own; every other error is 1.
fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    match error.downcast_ref::<run::RunError>() {
        Some(run::RunError::StepFailed { code, .. }) => u8::try_from(*code)
            .ok()
            .filter(|code| *code != 0)
            .map_or(ExitCode::FAILURE, ExitCode::from),
        _ => ExitCode::FAILURE,
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let dirs = Dirs::from_env();
    let limits = cli.sandbox.limits();
    match cli.command {
        Command::Plan {
            file,
            json,
            explain,
            strict,
            lock,
        } => {
            let registry = Registry::load(&dirs, limits)?;
            let gathered = workflow::gather(&file.path, &registry)?;
            check_lock(&gathered, &registry, &lock)?;
            let plan = plan_with_cache(&dirs, &gathered, strict)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                let records = explain.then(|| Records::new(crate::records::dir_for(&dirs.builds)));
                print_plan(&plan, records.as_ref());
            }
        }
        Command::Build {
            file,
            push,
            strict,
            json,
            lock,
        } => {
            let registry = Registry::load(&dirs, limits)?;
            let gathered = workflow::gather(&file.path, &registry)?;
            check_lock(&gathered, &registry, &lock)?;
            let plan = plan_with_cache(&dirs, &gathered, strict)?;
            print_warnings(&plan);
            let push = push || crate::plan::container_registry(&gathered.pipeline).is_some();
            let results = block_on(build(&dirs, &plan, push, json))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&results)?);
            }
        }
        Command::Run {
            file,
            jobs,
            keep,
            push,
            strict,
            lock,
        } => {
            let registry = Registry::load(&dirs, limits)?;
            let gathered = workflow::gather(&file.path, &registry)?;
            check_lock(&gathered, &registry, &lock)?;
            let plan = plan_with_cache(&dirs, &gathered, strict)?;
            print_warnings(&plan);
            let push = push || crate::plan::container_registry(&gathered.pipeline).is_some();
            block_on(async {
                build(&dirs, &plan, push, false).await?;
                run_steps(&gathered.pipeline, &plan, jobs, keep).await
            })?;
        }
        Command::BaseImage { tag } => {
            if !crate::base_image::is_bootstrappable(&tag) {
                anyhow::bail!(
                    "only images named {}:<debian suite> can be made",
                    crate::base_image::REPOSITORY
                );
            }
            crate::base_image::ensure(&tag).map_err(anyhow::Error::msg)?;
        }
        Command::Requirements { file, json } => {
            let registry = Registry::load(&dirs, limits)?;
            let gathered = workflow::gather(&file.path, &registry)?;
            print_requirements(&gathered, json)?;
        }
        Command::Integrations(IntegrationsCommand::List { json }) => {
            let registry = Registry::load(&dirs, limits)?;
            print_integrations(&registry, json)?;
        }
        Command::Plugin(PluginCommand::Manage(command)) => {
            plugin_commands::run(command, &dirs, limits)?;
        }
        Command::Plugin(PluginCommand::List { json }) => {
            let registry = Registry::load(&dirs, limits)?;
            print_list(&registry.plugins, json);
        }
        Command::Plugin(PluginCommand::Inspect { plugin, json }) => {
            let registry = Registry::load(&dirs, limits)?;
            let path = PathBuf::from(&plugin);
            let from_file;
            let found = if plugin.ends_with(".wasm") || path.is_file() {
                from_file = plugins::load_file(&registry.runtime, &path)?;
                &from_file
            } else {
                registry.get(&plugin).ok_or_else(|| {
                    let known: Vec<_> = registry
                        .plugins
                        .iter()
                        .map(|p| p.manifest.name.as_str())
                        .collect();
                    anyhow::anyhow!("no plugin named `{plugin}` (known: {})", known.join(", "))
                })?
            };
            print_inspect(found, json);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks (and writes) `dockwright.lock`, saying on stderr what changed in it.
fn check_lock(gathered: &Gathered, registry: &Registry, lock: &LockArg) -> anyhow::Result<()> {
    if let crate::plugins::lock::LockOutcome::Written { path, changes } =
        workflow::check_lock(gathered, registry, lock.update_lock)?
    {
        eprintln!("wrote {}", path.display());
        for change in changes {
            eprintln!("{change}");
        }
    }
    Ok(())
}

fn origin(p: &Plugin) -> String {
    match &p.origin {
        Origin::Builtin => "built-in".into(),
        Origin::Installed(path) => format!("installed ({})", path.display()),
    }
}

fn list_entry(p: &Plugin) -> serde_json::Value {
    json!({
        "name": p.manifest.name,
        "version": p.manifest.version.to_string(),
        "api": p.api.to_string(),
        "group": p.manifest.group,
        "digest": p.digest,
        "source": match p.origin { Origin::Builtin => "built-in", Origin::Installed(_) => "installed" },
    })
}

fn print_list(plugins: &[Plugin], json: bool) {
    if json {
        let list: Vec<_> = plugins.iter().map(list_entry).collect();
        println!("{}", serde_json::to_string_pretty(&list).expect("json"));
        return;
    }
    println!(
        "{:<16} {:<9} {:<5} {:<13} {:<20} SOURCE",
        "NAME", "VERSION", "API", "GROUP", "DIGEST"
    );
    for p in plugins {
        let group = serde_json::to_value(p.manifest.group).expect("json");
        println!(
            "{:<16} {:<9} {:<5} {:<13} {:<20} {}",
            p.manifest.name,
            p.manifest.version,
            p.api,
            group.as_str().unwrap_or_default(),
            &p.digest[..p.digest.len().min(19)],
            origin(p)
        );
    }
}

fn print_inspect(p: &Plugin, json: bool) {
    let m = &p.manifest;
    if json {
        let mut v = list_entry(p);
        v["api_range"] = json!(m.api.to_string());
        v["description"] = json!(m.description);
        v["capabilities"] = json!(m.capabilities);
        v["imports"] = json!(p.header.imports);
        v["exports"] = json!(p.header.exports);
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return;
    }
    let group = serde_json::to_value(m.group).expect("json");
    println!("name:         {}", m.name);
    println!("version:      {}", m.version);
    println!("description:  {}", m.description);
    println!("group:        {}", group.as_str().unwrap_or_default());
    println!("plugin API:   needs {}, served by {}", m.api, p.api);
    println!("digest:       {}", p.digest);
    println!("source:       {}", origin(p));
    let caps: Vec<String> = m.capabilities.iter().map(ToString::to_string).collect();
    println!(
        "capabilities: {}",
        if caps.is_empty() {
            "none".into()
        } else {
            caps.join(", ")
        }
    );
    println!("exports:");
    for e in &p.header.exports {
        println!("  {e}");
    }
    println!("imports:");
    for i in &p.header.imports {
        println!("  {i}");
    }
}

fn group_name(group: Group) -> String {
    serde_json::to_value(group)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Plans with the on-disk hash cache, so an unchanged context is not read again.
fn plan_with_cache(dirs: &Dirs, gathered: &Gathered, strict: bool) -> anyhow::Result<Plan> {
    let mut cache =
        HashCache::load(&dirs.context_hashes).unwrap_or_else(|_| HashCache::in_memory());
    let plan = workflow::plan(gathered, &mut cache, strict)?;
    // Only a cache: failing to save it costs speed next time, not correctness.
    let _ = cache.save();
    Ok(plan)
}

fn print_warnings(plan: &Plan) {
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
}

fn block_on<T>(future: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

async fn build(
    dirs: &Dirs,
    plan: &Plan,
    push: bool,
    json: bool,
) -> anyhow::Result<Vec<ImageResult>> {
    let engine = Engine::connect().await?;
    let options = BuildOptions {
        push,
        auth: RegistryAuth::FromDockerConfig,
        lock_dir: dirs.builds.join("locks"),
        records: Records::new(crate::records::dir_for(&dirs.builds)),
    };
    let fancy = !json && std::io::stderr().is_terminal();
    let mut progress = |image: &ImagePlan| -> Box<dyn BuildProgress> {
        if fancy {
            Box::new(BarProgress::new(&image.name))
        } else {
            Box::new(PlainProgress(std::io::stderr()))
        }
    };
    let results = run::build_images(&engine, plan, &options, &mut progress).await?;
    for r in &results {
        let what = if r.existing {
            "used as is"
        } else if r.reused {
            "reused (unchanged build key)"
        } else {
            "built"
        };
        let pushed = r
            .pushed_digest
            .as_deref()
            .map(|d| format!(", pushed {d}"))
            .unwrap_or_default();
        eprintln!("{}: {what}{pushed}", r.name);
    }
    Ok(results)
}

async fn run_steps(
    pipeline: &crate::settings::Pipeline,
    plan: &Plan,
    jobs: usize,
    keep: bool,
) -> anyhow::Result<()> {
    let engine = Engine::connect().await?;
    let volume = format!(
        "dockwright-{}-artifacts",
        crate::plan::sanitize_tag(&pipeline.name).unwrap_or_default()
    );
    let options = RunOptions { jobs, keep, volume };
    let print = |line: &LogLine| println!("{line}");
    run::run_steps(&engine, pipeline, plan, &options, print).await?;
    eprintln!(
        "all {} step(s) of {} succeeded",
        pipeline.steps.len(),
        pipeline.name
    );
    Ok(())
}

/// A progress bar per image: the current instruction and the elapsed time.
struct BarProgress {
    bar: indicatif::ProgressBar,
}

impl BarProgress {
    fn new(image: &str) -> BarProgress {
        let bar = indicatif::ProgressBar::new_spinner();
        let style = indicatif::ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {msg}")
            .expect("valid template");
        bar.set_style(style);
        bar.set_prefix(image.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        BarProgress { bar }
    }
}

impl BuildProgress for BarProgress {
    fn step(&mut self, step: &BuildStep) {
        let mut instruction = step.instruction.clone();
        instruction.truncate(instruction.floor_char_boundary(80));
        self.bar
            .set_message(format!("{}/{} {instruction}", step.index, step.total));
    }
    fn output(&mut self, _line: &str) {}
}

impl Drop for BarProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn print_plan(plan: &Plan, records: Option<&Records>) {
    println!("pipeline {}", plan.pipeline);
    for image in &plan.images {
        let kind = serde_json::to_value(image.kind).expect("json");
        println!("\n{} ({})", image.name, kind.as_str().unwrap_or_default());
        if let Some(parent) = &image.parent {
            println!("  from:         {parent}");
        }
        if !image.steps.is_empty() {
            println!("  steps:        {}", image.steps.join(", "));
        }
        for r in &image.requirements {
            println!(
                "  {:<13} {} line(s) -> {}",
                format!("{}:", group_name(r.group)),
                r.lines.len(),
                r.file
            );
        }
        if !image.apt_packages.is_empty() {
            println!("  apt:          {}", image.apt_packages.join(" "));
        }
        println!("  build key:    {}", image.build_key);
        if let Some(records) = records {
            if image.kind == ImageKind::Parent {
                println!("  why:          used as is: nothing to add to it");
                continue;
            }
            for (i, line) in crate::records::explain(image, records.last(&image.name).as_ref())
                .iter()
                .enumerate()
            {
                println!("  {:<13} {line}", if i == 0 { "why:" } else { "" });
            }
        }
    }
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
}

fn print_requirements(gathered: &Gathered, json: bool) -> anyhow::Result<()> {
    if json {
        let groups: Vec<_> = gathered
            .groups
            .iter()
            .map(|g| json!({"steps": g.steps, "requirements": g.requirements}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&groups)?);
        return Ok(());
    }
    for (i, g) in gathered.groups.iter().enumerate() {
        if gathered.groups.len() > 1 {
            println!("# settings {} (steps: {})", i + 1, g.steps.join(", "));
        }
        for group in &g.requirements.groups {
            println!("[{}] {}", group_name(group.group), group.file);
            let width = group.lines.iter().map(|l| l.text.len()).max().unwrap_or(0);
            for line in &group.lines {
                println!(
                    "  {:<width$}  # {} ({})",
                    line.text, line.origin, line.plugin
                );
            }
        }
        if !g.requirements.apt_packages.is_empty() {
            println!("[apt] {}", g.requirements.apt_packages.join(" "));
        }
        for conflict in &g.requirements.conflicts {
            eprintln!("warning: requirements conflict: {conflict}");
        }
    }
    Ok(())
}

fn print_integrations(registry: &Registry, json: bool) -> anyhow::Result<()> {
    let platform = Platform::default();
    let mut rows = Vec::new();
    for plugin in registry
        .plugins
        .iter()
        .filter(|p| p.manifest.group == Group::Integrations)
    {
        for integration in registry.runtime.catalogue(plugin, &platform)?.value {
            rows.push((plugin.label(), integration));
        }
    }
    if json {
        let list: Vec<_> = rows
            .iter()
            .map(|(provider, i)| json!({"name": i.name, "provider": provider, "requirements": i.requirements, "apt_packages": i.apt_packages, "description": i.description}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!("{:<24} {:<28} REQUIREMENTS", "INTEGRATION", "PROVIDER");
    for (provider, i) in &rows {
        println!(
            "{:<24} {:<28} {}",
            i.name,
            provider,
            i.requirements.join(", ")
        );
    }
    Ok(())
}
