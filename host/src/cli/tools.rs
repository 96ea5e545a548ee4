//! The commands around the core (issue 13): `schema`, `completions`, `man`, `init`,
//! `import-zenml`, `why` and `clean`. Each parses here, calls its module and prints.

use std::io::Write;
use std::path::PathBuf;

use clap::{CommandFactory, Subcommand};
use serde_json::json;

use super::{Cli, FileArg};
use crate::clean::{self, Cleaned};
use crate::commands::{self, Host, PipelineArgs};
use crate::import_zenml;
use crate::init;
use crate::settings;
use crate::why;

#[derive(Subcommand)]
pub enum Tools {
    /// Print the JSON Schema of dockwright.yaml (for editors: `init` points the file at it).
    Schema {
        /// Write it to this file instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print a shell completion script, e.g. `dockwright completions bash > /etc/bash_completion.d/dockwright`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `dockwright man | man -l -`.
    Man,
    /// Write a dockwright.yaml for an existing Python project, saying what was chosen and why.
    Init {
        /// The project's folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Overwrite an existing dockwright.yaml.
        #[arg(long)]
        force: bool,
        /// Print the file instead of writing it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Turn a ZenML run configuration (settings.docker, steps.<name>.settings.docker) into a
    /// dockwright.yaml, listing what has no counterpart.
    #[command(name = "import-zenml")]
    ImportZenml {
        /// The ZenML run configuration YAML.
        config: PathBuf,
        /// The pipeline file to write.
        #[arg(short, long, default_value = settings::DEFAULT_FILE, value_name = "FILE")]
        output: PathBuf,
        /// The pipeline's name (default: from the config file's name).
        #[arg(long)]
        name: Option<String>,
        /// Overwrite an existing output file.
        #[arg(long)]
        force: bool,
    },
    /// Say which source, file and line (or integration, stack component, plugin) brought a
    /// Python package into which image.
    Why {
        /// The package's name (any spelling: Scikit_Learn finds scikit-learn).
        package: String,
        #[command(flatten)]
        file: FileArg,
        /// Print the answer as JSON (image, source, file, line, integration, plugin).
        #[arg(long)]
        json: bool,
    },
    /// Remove the images, build records, context cache and compiled components Dockwright
    /// made, saying how much that freed.
    Clean {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Only this pipeline's images and their records.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print what was (or would be) removed and the bytes freed as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: Tools, host: &Host) -> anyhow::Result<()> {
    match command {
        Tools::Schema { output } => schema(output),
        Tools::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "dockwright", &mut script);
            print_bytes(&script)
        }
        Tools::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            print_bytes(&page)
        }
        Tools::Init {
            dir,
            force,
            dry_run,
        } => init_project(&dir, force, dry_run),
        Tools::ImportZenml {
            config,
            output,
            name,
            force,
        } => import(&config, &output, name.as_deref(), force),
        Tools::Why {
            package,
            file,
            json,
        } => explain_package(host, &package, file, json),
        Tools::Clean {
            dry_run,
            file,
            json,
        } => clean_up(host, dry_run, file, json),
    }
}

/// Writes to standard output; a reader that stops early (`| head`) is not an error.
fn print_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

fn schema(output: Option<PathBuf>) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(&settings::json_schema())? + "\n";
    match output {
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display())),
        None => print_bytes(text.as_bytes()),
    }
}

fn init_project(dir: &std::path::Path, force: bool, dry_run: bool) -> anyhow::Result<()> {
    let proposal = init::propose(dir)?;
    for reason in &proposal.reasons {
        eprintln!("{reason}");
    }
    if dry_run {
        print!("{}", proposal.text);
        return Ok(());
    }
    init::write(&proposal, force)?;
    eprintln!(
        "wrote {} (and {} for editors); next: dockwright plan -f {}",
        proposal.file.display(),
        init::SCHEMA_FILE,
        proposal.file.display()
    );
    Ok(())
}

fn import(
    config: &std::path::Path,
    output: &std::path::Path,
    name: Option<&str>,
    force: bool,
) -> anyhow::Result<()> {
    let imported = import_zenml::convert(config, output, name)?;
    import_zenml::write(&imported, force)?;
    eprintln!("wrote {}", imported.file.display());
    for line in &imported.not_converted {
        eprintln!("not converted: {line}");
    }
    for line in &imported.todo {
        eprintln!("to do: {line}");
    }
    Ok(())
}

fn explain_package(host: &Host, package: &str, file: FileArg, json: bool) -> anyhow::Result<()> {
    let args = PipelineArgs {
        file: file.path,
        strict: false,
        update_lock: false,
    };
    let planned = commands::plan(host, &args)?;
    let (reasons, apt) = why::why(&planned, package);
    if json {
        let value = json!({"package": package, "requirements": reasons, "apt_images": apt});
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for r in &reasons {
            println!(
                "{}: `{}` in {} [{}] from {} ({}); steps: {}",
                r.image,
                r.line,
                r.file,
                r.group,
                r.origin,
                r.plugin,
                r.steps.join(", ")
            );
        }
        for image in &apt {
            println!("{image}: apt package `{package}`");
        }
    }
    if reasons.is_empty() && apt.is_empty() {
        anyhow::bail!(
            "no image of pipeline {} installs `{package}` (see `dockwright requirements`)",
            planned.gathered.pipeline.name
        );
    }
    Ok(())
}

fn clean_up(host: &Host, dry_run: bool, file: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let planned = file
        .map(|file| {
            let args = PipelineArgs {
                file,
                strict: false,
                update_lock: false,
            };
            commands::plan(host, &args)
        })
        .transpose()?;
    let cleaned = block_on(clean::clean(host, planned.as_ref(), dry_run))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&cleaned)?);
    } else {
        print_cleaned(&cleaned);
    }
    Ok(())
}

fn block_on<T>(future: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

fn print_cleaned(cleaned: &Cleaned) {
    let verb = if cleaned.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for item in &cleaned.removed {
        let tags = if item.tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", item.tags.join(", "))
        };
        println!(
            "{verb} {} {}{tags}: {}",
            item.kind,
            item.what,
            clean::human(item.bytes)
        );
    }
    let total = clean::human(cleaned.freed);
    if cleaned.dry_run {
        println!("would free {total}");
    } else {
        println!("freed {total}");
    }
}
