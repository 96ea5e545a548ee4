//! The command line: a thin layer that parses arguments, calls the library and prints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::Dirs;
use crate::commands::{
    self, Gathered, Host, KubernetesRun, Offered, Orchestrator, PipelineArgs, Planned, RunArgs,
};
use crate::engine::{Interrupt, LogLine};
use crate::images::{ImageResult, ImagesError};
use crate::plan::Plan;
use crate::plugins::distribution::lock::LockOutcome;
use crate::plugins::{self, Limits, Origin, Plugin};
use crate::run::RunError;

mod display;
mod plugin_commands;
mod signals;
mod tools;

use display::{ColorChoice, Display, Output};

#[derive(Parser)]
#[command(
    name = "dockwright",
    version,
    about = "Builds the Docker images ML pipelines run in, and runs their steps."
)]
struct Cli {
    #[command(flatten)]
    sandbox: SandboxArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(subcommand)]
    command: Command,
}

/// How much is printed, and in colour or not.
#[derive(Args)]
struct OutputArgs {
    /// Print every line of every build step as it comes (the full output is always kept in a
    /// log file under the data directory).
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
    /// Colour the output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    color: ColorChoice,
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
        /// Print the plan as JSON (images, requirement files, build options, Dockerfiles).
        #[arg(long)]
        json: bool,
        /// Say per image why it is built or reused.
        #[arg(long)]
        explain: bool,
        /// Print the Dockerfile of each image that is built (generated or the user's).
        #[arg(long)]
        dockerfile: bool,
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
        #[command(flatten)]
        reuse: ReuseArg,
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
        /// Push each final image to its registry before running (always, when the stack
        /// has a `container_registry`).
        #[arg(long)]
        push: bool,
        /// Treat a requirements conflict as an error.
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        lock: LockArg,
        #[command(flatten)]
        reuse: ReuseArg,
        /// Where the steps run (default: the stack's orchestrator flavor, else local).
        #[arg(long, value_enum)]
        orchestrator: Option<OrchestratorArg>,
        /// With the kubernetes orchestrator: write the Jobs as YAML (one document per Job,
        /// in run order) instead of creating them. The images are built (or found in the
        /// registry) and pushed first: the Jobs name them by digest.
        #[arg(long)]
        dry_run: bool,
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
        /// Print the groups as JSON, each settings group with the image it is installed in.
        #[arg(long)]
        json: bool,
    },
    /// The integrations every installed provider offers.
    #[command(subcommand)]
    Integrations(IntegrationsCommand),
    /// Manage requirement-source plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    #[command(flatten)]
    Tools(tools::Tools),
}

#[derive(Args)]
struct FileArg {
    /// The pipeline file.
    #[arg(
        short = 'f',
        long = "file",
        default_value = crate::settings::DEFAULT_FILE,
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

/// Images another machine built and pushed are reused from the stack's registry.
#[derive(Args)]
struct ReuseArg {
    /// Do not look in the stack's registry for the images before building them.
    #[arg(long)]
    no_registry_reuse: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum OrchestratorArg {
    /// The steps run as containers on the Docker engine.
    Local,
    /// Each step runs as a Kubernetes Job on the cluster of the kubeconfig.
    Kubernetes,
}

#[derive(Subcommand)]
enum IntegrationsCommand {
    /// List the integrations of every integration provider, with their requirements and
    /// apt packages.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// List the built-in and installed plugins.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a plugin's manifest, capabilities, imports and exports.
    Inspect {
        /// A plugin name, or the path of a `.wasm` file.
        plugin: String,
        /// Print the details as JSON.
        #[arg(long)]
        json: bool,
    },
    #[command(flatten)]
    Manage(plugin_commands::Manage),
}

pub fn main() -> ExitCode {
    fixed_mmap_threshold();
    signals::install();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let choice = ColorChoice::from_args(&args);
    let matches = Cli::command()
        .color(choice.for_clap())
        .get_matches_from(&args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let output = Output::new(cli.output.color, cli.output.verbose);
    match run(cli, output) {
        Ok(code) => code,
        Err(e) => {
            let prefix = output.paint(console::Style::new().red().bold(), "error:");
            eprintln!("{prefix} {}", message(&e));
            exit_code_for(&e)
        }
    }
}

/// glibc raises its mmap threshold each time a large block is freed, and later large vectors
/// then come from the heap and stay there: a 100,000-file `plan` peaked 10 MB higher. A fixed
/// threshold (glibc's initial one) keeps large blocks mapped, and given back when freed.
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing, before any other thread exists; mallopt only sets a value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// The error and its causes, each said once: a cause whose text the message already holds
/// (an I/O error an error message quotes, a transparent wrapper) is not repeated.
fn message(error: &anyhow::Error) -> String {
    let mut out = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !out.contains(&cause) {
            out.push_str(": ");
            out.push_str(&cause);
        }
    }
    out
}

/// A failed step's own exit status becomes Dockwright's (as with `docker run`), so a script
/// can tell a step's failure from Dockwright's own; every other error is 1.
fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    let status = |code: i64| {
        u8::try_from(code)
            .ok()
            .filter(|code| *code != 0)
            .map_or(ExitCode::FAILURE, ExitCode::from)
    };
    match error.downcast_ref::<commands::Error>() {
        Some(commands::Error::Run(RunError::StepFailed { code, .. })) => status(*code),
        // Interrupted, as a shell reports Ctrl-C (128 + SIGINT).
        Some(
            commands::Error::Run(RunError::Interrupted { .. })
            | commands::Error::Images(ImagesError::Interrupted { .. }),
        ) => ExitCode::from(130),
        Some(commands::Error::Kubernetes(error)) => match error.as_ref() {
            // Interrupted, as a shell reports Ctrl-C (128 + SIGINT).
            dockwright_kube::KubeRunError::Cancelled { .. } => ExitCode::from(130),
            error => error
                .exit_code()
                .map_or(ExitCode::FAILURE, |c| status(c.into())),
        },
        _ => ExitCode::FAILURE,
    }
}

fn run(cli: Cli, output: Output) -> anyhow::Result<ExitCode> {
    let host = Host {
        dirs: Dirs::from_env(),
        limits: cli.sandbox.limits(),
    };
    match cli.command {
        Command::Plan {
            file,
            json,
            explain,
            dockerfile,
            strict,
            lock,
        } => {
            let planned = plan(&host, file, strict, lock)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&planned.plan)?);
            } else if dockerfile {
                print_dockerfiles(&planned.plan);
            } else {
                let why = explain
                    .then(|| {
                        let registry = look_in_registry(&planned, false, true)?;
                        block_on(async {
                            Ok(commands::explain(&host, &planned.plan, &registry).await)
                        })
                    })
                    .transpose()?;
                print_plan(&planned.plan, why.as_deref());
            }
            print_warnings(&planned);
        }
        Command::Build {
            file,
            push,
            strict,
            json,
            lock,
            reuse,
        } => {
            let planned = plan(&host, file, strict, lock)?;
            print_warnings(&planned);
            let registry = look_in_registry(&planned, push, !reuse.no_registry_reuse)?;
            let display = Display::new(output, &host.dirs.logs, &planned.plan.pipeline, json);
            let mut progress = display.progress_for();
            let (host, planned_ref, progress) = (&host, &planned, &mut progress);
            let results = block_on_interruptible(move |interrupt| {
                commands::build(host, planned_ref, push, registry, progress, interrupt)
            })
            .map_err(|e| display.with_log_path(e))?;
            print_results(&results);
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
            reuse,
            orchestrator,
            dry_run,
        } => {
            let planned = plan(&host, file, strict, lock)?;
            print_warnings(&planned);
            let asked = orchestrator.map(|o| match o {
                OrchestratorArg::Local => Orchestrator::Local,
                OrchestratorArg::Kubernetes => Orchestrator::Kubernetes,
            });
            if commands::orchestrator(&planned, asked) == Orchestrator::Kubernetes {
                let reuse = !reuse.no_registry_reuse;
                return run_on_kubernetes(&host, &planned, reuse, dry_run, jobs, output);
            }
            if dry_run {
                anyhow::bail!(
                    "--dry-run writes Kubernetes Jobs: it needs --orchestrator kubernetes (or a stack whose orchestrator is kubernetes)"
                );
            }
            let registry = look_in_registry(&planned, push, !reuse.no_registry_reuse)?;
            let display = Display::new(output, &host.dirs.logs, &planned.plan.pipeline, false);
            let mut progress = display.progress_for();
            let print = |line: &LogLine| println!("{line}");
            let (host, planned_ref, progress) = (&host, &planned, &mut progress);
            let results = block_on_interruptible(move |interrupt| {
                let args = RunArgs {
                    jobs,
                    keep,
                    push,
                    registry,
                    interrupt,
                };
                async move { commands::run(host, planned_ref, &args, progress, print).await }
            })
            .map_err(|e| display.with_log_path(e))?;
            print_results(&results);
            let pipeline = &planned.gathered.pipeline;
            eprintln!(
                "all {} step(s) of {} succeeded",
                pipeline.steps.len(),
                pipeline.name
            );
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
            let gathered = commands::requirements(&host, &file.path)?;
            print_requirements(&gathered, json)?;
        }
        Command::Integrations(IntegrationsCommand::List { json }) => {
            print_integrations(&commands::integrations(&host)?, json)?;
        }
        Command::Tools(command) => tools::run(command, &host)?,
        Command::Plugin(PluginCommand::Manage(command)) => {
            plugin_commands::run(command, &host.dirs, host.limits)?;
        }
        Command::Plugin(PluginCommand::List { json }) => {
            print_list(&host.registry()?.plugins, json);
        }
        Command::Plugin(PluginCommand::Inspect { plugin, json }) => {
            let registry = host.registry()?;
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

/// Asks the stack's registry for the planned images, saying on stderr when it could not.
fn look_in_registry(
    planned: &Planned,
    push: bool,
    reuse: bool,
) -> anyhow::Result<commands::RegistryLookup> {
    let lookup = block_on(async { Ok(commands::look_in_registry(planned, push, reuse).await) })?;
    if let Some(warning) = &lookup.warning {
        eprintln!("{warning}");
    }
    Ok(lookup)
}

/// `run` on Kubernetes: the settings are checked before anything is built; Ctrl-C deletes
/// the run's Jobs. A dry run shows the builds as plain lines (its stdout is YAML).
fn run_on_kubernetes(
    host: &Host,
    planned: &Planned,
    reuse: bool,
    dry_run: bool,
    jobs: usize,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let kubernetes = commands::kubernetes_settings(planned)?;
    let registry = look_in_registry(planned, true, reuse)?;
    let display = Display::new(output, &host.dirs.logs, &planned.plan.pipeline, dry_run);
    let mut progress = display.progress_for();
    let print = |line: dockwright_kube::LogLine| println!("[{}] {}", line.step, line.text);
    let cancel = async {
        let interrupted = match signals::ctrl_c() {
            Ok(mut ctrl_c) => ctrl_c.recv().await.is_some(),
            Err(_) => false,
        };
        if interrupted {
            eprintln!("interrupted: deleting this run's Jobs");
        } else {
            // No signal handler: never cancel.
            std::future::pending::<()>().await;
        }
    };
    let ran = block_on(commands::run_kubernetes(
        host,
        planned,
        &kubernetes,
        registry,
        dry_run,
        jobs,
        &mut progress,
        print,
        cancel,
    ))
    .map_err(|e| display.with_log_path(e))?;
    match ran {
        KubernetesRun::Manifests { images, yaml } => {
            print_results(&images);
            print!("{yaml}");
        }
        KubernetesRun::Ran { images, summary } => {
            print_results(&images);
            eprintln!(
                "all {} step(s) of {} succeeded on Kubernetes",
                summary.steps.len(),
                planned.gathered.pipeline.name
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Plans the pipeline, saying on stderr what changed in `dockwright.lock`.
fn plan(host: &Host, file: FileArg, strict: bool, lock: LockArg) -> anyhow::Result<Planned> {
    let args = PipelineArgs {
        file: file.path,
        strict,
        update_lock: lock.update_lock,
    };
    let planned = commands::plan(host, &args)?;
    if let LockOutcome::Written { path, changes } = &planned.lock {
        eprintln!("wrote {}", path.display());
        for change in changes {
            eprintln!("{change}");
        }
    }
    Ok(planned)
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

fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, commands::Error>>,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(future);
    // A blocking task still waiting (a build lock after Ctrl-C) must not hold up the exit.
    runtime.shutdown_background();
    Ok(result?)
}

/// [`block_on`] with Ctrl-C handled: the first one sets the [`Interrupt`] the command
/// stops on (it then cleans up and fails with the interruption), a second one exits at once.
fn block_on_interruptible<T, F>(command: impl FnOnce(Interrupt) -> F) -> anyhow::Result<T>
where
    F: std::future::Future<Output = Result<T, commands::Error>>,
{
    let (interrupter, interrupt) = Interrupt::channel();
    block_on(async move {
        tokio::spawn(async move {
            let Ok(mut ctrl_c) = signals::ctrl_c() else {
                return; // no handler: Ctrl-C keeps its default
            };
            if ctrl_c.recv().await.is_none() {
                return;
            }
            eprintln!("interrupted: stopping (Ctrl-C again to quit at once)");
            interrupter.interrupt();
            if ctrl_c.recv().await.is_some() {
                std::process::exit(130);
            }
        });
        command(interrupt).await
    })
}

fn print_warnings(planned: &Planned) {
    for warning in planned.warnings() {
        eprintln!("{warning}");
    }
}

fn print_results(results: &[ImageResult]) {
    for r in results {
        let found;
        let what = if r.existing {
            "used as is"
        } else if let Some(digest) = &r.registry_digest {
            found = format!("found in registry ({digest}), not built");
            &found
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
}

fn print_plan(plan: &Plan, why: Option<&[Vec<String>]>) {
    println!("pipeline {}", plan.pipeline);
    for (index, image) in plan.images.iter().enumerate() {
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
                format!("{}:", r.group.name()),
                r.lines.len(),
                r.file
            );
        }
        if !image.apt_packages.is_empty() {
            println!("  apt:          {}", image.apt_packages.join(" "));
        }
        for (i, reason) in image.why_built.iter().enumerate() {
            println!("  {:<13} {reason}", if i == 0 { "because:" } else { "" });
        }
        for note in &image.notes {
            println!("  note:         {note}");
        }
        if image.build.as_ref().is_some_and(|build| build.buildkit) {
            println!("  builder:      BuildKit");
        }
        println!("  build key:    {}", image.build_key);
        for (i, line) in why
            .map(|why| why[index].as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            println!("  {:<13} {line}", if i == 0 { "why:" } else { "" });
        }
    }
}

/// Said above a generated Dockerfile: `build` sends its variant when the parent runs as root.
const ROOT_PARENT_NOTE: &str = "a parent that runs as root gets it without `USER root`, the `DOCKWRIGHT_PARENT_USER` lines and `--chown`";

/// `plan --dockerfile`: each built image's Dockerfile, under a comment naming the image.
fn print_dockerfiles(plan: &Plan) {
    let mut first = true;
    for image in &plan.images {
        let Some(text) = &image.dockerfile else {
            continue;
        };
        if !first {
            println!();
        }
        first = false;
        let kind = serde_json::to_value(image.kind).expect("json");
        println!("# {} ({})", image.name, kind.as_str().unwrap_or_default());
        if image
            .build
            .as_ref()
            .is_some_and(|b| b.dockerfile_for_root_parent.is_some())
        {
            println!("# {ROOT_PARENT_NOTE}");
        }
        for (file, added, earlier) in image.installs_on_earlier_sets() {
            println!(
                "# {file}: the {earlier} line(s) an earlier build installed (the engine reuses that install); the {added} added since are in the file beside it"
            );
        }
        print!("{text}");
        if !text.ends_with('\n') {
            println!();
        }
    }
}

/// One line per requirement (thousands with `local-env`): written through one buffer, not a
/// `write` per line.
fn print_requirements(gathered: &Gathered, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    for log in &gathered.logs {
        eprintln!("{log}");
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        let groups: Vec<_> = gathered
            .groups
            .iter()
            .map(|g| json!({"image": g.image, "steps": g.steps, "requirements": g.requirements}))
            .collect();
        serde_json::to_writer_pretty(&mut out, &groups)?;
        writeln!(out)?;
        out.flush()?;
        return Ok(());
    }
    for (i, g) in gathered.groups.iter().enumerate() {
        if gathered.groups.len() > 1 {
            writeln!(
                out,
                "# settings {} (image {}, steps: {})",
                i + 1,
                g.image,
                g.steps.join(", ")
            )?;
        }
        for group in &g.requirements.groups {
            writeln!(out, "[{}] {}", group.group.name(), group.file)?;
            let width = group.lines.iter().map(|l| l.text.len()).max().unwrap_or(0);
            for line in &group.lines {
                writeln!(
                    out,
                    "  {:<width$}  # {} ({})",
                    line.text, line.origin, line.plugin
                )?;
            }
        }
        if !g.requirements.apt_packages.is_empty() {
            writeln!(out, "[apt] {}", g.requirements.apt_packages.join(" "))?;
        }
        for note in &g.requirements.notes {
            writeln!(out, "[note] {note}")?;
        }
        // Warnings go to stderr after what came before them on stdout.
        out.flush()?;
        for conflict in &g.requirements.conflicts {
            eprintln!("warning: requirements conflict: {conflict}");
        }
    }
    out.flush()?;
    Ok(())
}

fn print_integrations(offered: &[Offered], json: bool) -> anyhow::Result<()> {
    if json {
        let list: Vec<_> = offered
            .iter()
            .map(|o| {
                let i = &o.integration;
                json!({"name": i.name, "provider": o.provider, "requirements": i.requirements, "apt_packages": i.apt_packages, "description": i.description})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<28} {:<24} REQUIREMENTS",
        "INTEGRATION", "PROVIDER", "APT PACKAGES"
    );
    for o in offered {
        let apt = &o.integration.apt_packages;
        println!(
            "{:<24} {:<28} {:<24} {}",
            o.integration.name,
            o.provider,
            if apt.is_empty() {
                "-".to_string()
            } else {
                apt.join(", ")
            },
            o.integration.requirements.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option, argument and subcommand a user can type, with its path.
    fn undocumented(command: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() {
                out.push(format!("{path} --{}", arg.get_id()));
            }
        }
        for sub in command.get_subcommands() {
            let path = format!("{path} {}", sub.get_name());
            if sub.get_name() != "help" && sub.get_about().is_none() {
                out.push(path.clone());
            }
            undocumented(sub, &path, out);
        }
    }

    #[test]
    fn every_option_and_command_has_help_text() {
        let mut missing = Vec::new();
        undocumented(&Cli::command(), "dockwright", &mut missing);
        assert!(missing.is_empty(), "no --help text: {missing:#?}");
    }
}
