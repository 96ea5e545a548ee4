//! How builds look on stderr. On a terminal: one indicatif line per image (the current
//! Dockerfile step, elapsed time, bytes of build context sent), all under one `MultiProgress`.
//! Otherwise (not a terminal, `--json`, `--verbose`, or colour off, since a bar redraws itself
//! with escape codes): plain lines, the build's output among them only with `--verbose`. Either
//! way every line of every build goes to its log file ([`crate::build_log`]), whose path is
//! given when the build fails. Also decides whether anything Dockwright prints is coloured
//! (`--color`, `NO_COLOR`).

use std::ffi::OsStr;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use console::Style;
use indicatif::{HumanBytes, HumanDuration, MultiProgress, ProgressBar, ProgressStyle};

use crate::build_log::BuildLog;
use crate::engine::{BuildProgress, BuildStep};
use crate::plan::ImagePlan;

/// `--color`: when Dockwright's output is coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set to a non-empty value.
    #[default]
    Auto,
    /// Always, even into a pipe or a file.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// The choice written on the command line, read before clap parses it, so that clap's own
    /// help and errors follow it too. The last one written wins, as clap would have it.
    pub fn from_args(args: &[std::ffi::OsString]) -> ColorChoice {
        let mut choice = ColorChoice::Auto;
        let mut next_is_value = false;
        for arg in args.iter().filter_map(|a| a.to_str()) {
            let value = if next_is_value {
                Some(arg)
            } else {
                arg.strip_prefix("--color=")
            };
            next_is_value = arg == "--color";
            if let Some(parsed) = value.and_then(|v| ColorChoice::from_str(v, true).ok()) {
                choice = parsed;
            }
        }
        choice
    }

    /// clap's spelling of the same choice.
    pub fn for_clap(self) -> clap::ColorChoice {
        match self {
            ColorChoice::Auto => clap::ColorChoice::Auto,
            ColorChoice::Always => clap::ColorChoice::Always,
            ColorChoice::Never => clap::ColorChoice::Never,
        }
    }
}

/// Whether stderr is coloured: `--color always|never` decide; with `auto`, only a terminal
/// is, and not when `NO_COLOR` holds anything (no-color.org: an empty value does not count).
pub fn colour_on(choice: ColorChoice, no_color: Option<&OsStr>, terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && no_color.is_none_or(OsStr::is_empty),
    }
}

/// How build progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One redrawn line per image.
    Bars,
    /// Plain lines; the build output among them when `verbose`.
    Plain { verbose: bool },
}

/// Bars only on a coloured terminal (they redraw with escape codes) and when neither JSON nor
/// every line was asked for.
pub fn mode(terminal: bool, colour: bool, json: bool, verbose: bool) -> Mode {
    if terminal && colour && !json && !verbose {
        Mode::Bars
    } else {
        Mode::Plain { verbose }
    }
}

/// What the global output options and stderr say, once per command.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub colour: bool,
    pub verbose: bool,
    pub terminal: bool,
}

impl Output {
    pub fn new(choice: ColorChoice, verbose: bool) -> Output {
        let terminal = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR");
        Output {
            colour: colour_on(choice, no_color.as_deref(), terminal),
            verbose,
            terminal,
        }
    }

    /// `text` in `style` when colour is on.
    pub fn paint(&self, style: Style, text: &str) -> String {
        style.force_styling(self.colour).apply_to(text).to_string()
    }
}

/// The progress of one command's builds: hands each image its display and remembers the log
/// of a build that failed.
pub struct Display {
    mode: Mode,
    output: Output,
    multi: MultiProgress,
    logs: PathBuf,
    pipeline: String,
    failed_log: Arc<Mutex<Option<PathBuf>>>,
}

impl Display {
    /// Logs go under `logs`, in `pipeline`'s folder; `json` asks for plain lines.
    pub fn new(output: Output, logs: &Path, pipeline: &str, json: bool) -> Display {
        Display {
            mode: mode(output.terminal, output.colour, json, output.verbose),
            output,
            multi: MultiProgress::new(),
            logs: logs.to_path_buf(),
            pipeline: pipeline.to_string(),
            failed_log: Arc::default(),
        }
    }

    /// A display for each image's build.
    pub fn progress_for(&self) -> impl FnMut(&ImagePlan) -> Box<dyn BuildProgress> + '_ {
        move |image: &ImagePlan| -> Box<dyn BuildProgress> {
            Box::new(ImageProgress {
                image: image.name.clone(),
                display: self.shared(),
                log: Log::NotStarted,
                bar: None,
                started: Instant::now(),
                step: None,
                context: 0,
                context_said: false,
            })
        }
    }

    fn shared(&self) -> Shared {
        Shared {
            mode: self.mode,
            output: self.output,
            multi: self.multi.clone(),
            logs: self.logs.clone(),
            pipeline: self.pipeline.clone(),
            failed_log: Arc::clone(&self.failed_log),
        }
    }

    /// `error`, followed by where the full log of the build that failed is, if one did.
    pub fn with_log_path(&self, error: anyhow::Error) -> anyhow::Error {
        let failed = self.failed_log.lock().expect("not poisoned").clone();
        match failed {
            Some(path) => anyhow::anyhow!(
                "{}\nthe full build log: {}",
                super::message(&error),
                path.display()
            ),
            None => error,
        }
    }
}

/// What every image's display shares.
struct Shared {
    mode: Mode,
    output: Output,
    multi: MultiProgress,
    logs: PathBuf,
    pipeline: String,
    failed_log: Arc<Mutex<Option<PathBuf>>>,
}

enum Log {
    /// Opened at the first line: a reused image writes none.
    NotStarted,
    Open(BuildLog),
    /// Could not be written (said once); the build goes on.
    Broken,
}

/// One image's build: its line (or plain lines) and its log.
struct ImageProgress {
    image: String,
    display: Shared,
    log: Log,
    bar: Option<ProgressBar>,
    started: Instant,
    step: Option<BuildStep>,
    context: u64,
    context_said: bool,
}

impl ImageProgress {
    fn log(&mut self, write: impl FnOnce(&mut BuildLog) -> std::io::Result<()>) {
        if matches!(self.log, Log::NotStarted) {
            let d = &self.display;
            self.log = match BuildLog::create(&d.logs, &d.pipeline, &self.image) {
                Ok(log) => Log::Open(log),
                Err(error) => self.log_failed(&error),
            };
        }
        if let Log::Open(log) = &mut self.log
            && let Err(error) = write(log)
        {
            self.log = self.log_failed(&error);
        }
    }

    fn log_failed(&self, error: &std::io::Error) -> Log {
        let d = &self.display;
        self.say(&format!(
            "warning: the build log of {} cannot be written under {}: {error}",
            self.image,
            d.logs.display()
        ));
        Log::Broken
    }

    /// A line above the bars, or on stderr.
    fn say(&self, line: &str) {
        match self.display.mode {
            Mode::Bars => {
                // Best effort: a closed terminal must not fail the build.
                let _ = self.display.multi.println(line);
            }
            Mode::Plain { .. } => eprintln!("{line}"),
        }
    }

    fn bar(&mut self) -> &ProgressBar {
        let multi = &self.display.multi;
        let image = &self.image;
        self.bar.get_or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            let style =
                ProgressStyle::with_template("{spinner:.green} {prefix:.bold} [{elapsed}] {msg}")
                    .expect("valid template");
            bar.set_style(style);
            bar.set_prefix(image.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        })
    }

    /// The bar's message: the step, then the context sent.
    fn bar_message(&self) -> String {
        let mut message = match &self.step {
            Some(step) => {
                let mut instruction = step.instruction.clone();
                instruction.truncate(instruction.floor_char_boundary(60));
                format!("{}/{} {instruction}", step.index, step.total)
            }
            None => "sending the build context".to_string(),
        };
        if self.context > 0 {
            message.push_str(&format!(" · {} context sent", HumanBytes(self.context)));
        }
        message
    }

    fn redraw(&mut self) {
        let message = self.bar_message();
        self.bar().set_message(message);
    }

    /// In plain lines, the context is said once, before the first step.
    fn say_context(&mut self) {
        if !self.context_said && self.context > 0 {
            self.context_said = true;
            self.say(&format!(
                "{}: {} of build context sent",
                self.image,
                HumanBytes(self.context)
            ));
        }
    }
}

impl BuildProgress for ImageProgress {
    fn step(&mut self, step: &BuildStep) {
        self.log(|log| log.step(step));
        self.step = Some(step.clone());
        match self.display.mode {
            Mode::Bars => self.redraw(),
            Mode::Plain { .. } => {
                self.say_context();
                let head = self.display.output.paint(
                    Style::new().bold(),
                    &format!("step {}/{}:", step.index, step.total),
                );
                self.say(&format!("{}: {head} {}", self.image, step.instruction));
            }
        }
    }

    fn output(&mut self, line: &str) {
        self.log(|log| log.line(line));
        if self.display.mode == (Mode::Plain { verbose: true }) {
            eprintln!("  {line}");
        }
    }

    fn context_sent(&mut self, bytes: u64) {
        self.context = bytes;
        if self.display.mode == Mode::Bars {
            self.redraw();
        }
    }

    fn finished(&mut self, succeeded: bool) {
        let took = HumanDuration(self.started.elapsed());
        let outcome = if succeeded { "built" } else { "failed" };
        self.log(|log| log.note(&format!("{outcome} after {took}")));
        if !succeeded && let Log::Open(log) = &self.log {
            let mut failed = self.display.failed_log.lock().expect("not poisoned");
            *failed = Some(log.path().to_path_buf());
        }
        let output = self.display.output;
        match self.display.mode {
            Mode::Bars => {
                let summary = match (&self.step, succeeded) {
                    (_, true) => output.paint(Style::new().green(), "built"),
                    (Some(step), false) => output.paint(
                        Style::new().red().bold(),
                        &format!("failed at step {}/{}", step.index, step.total),
                    ),
                    (None, false) => output.paint(Style::new().red().bold(), "failed"),
                };
                let context = HumanBytes(self.context);
                let bar = self.bar();
                bar.set_style(
                    ProgressStyle::with_template("  {prefix:.bold} [{elapsed}] {msg}")
                        .expect("valid template"),
                );
                bar.abandon_with_message(format!("{summary} · {context} context sent"));
            }
            Mode::Plain { .. } => {
                self.say_context();
                if succeeded {
                    let built = output.paint(Style::new().green(), "built");
                    self.say(&format!("{}: {built} in {took}", self.image));
                }
            }
        }
    }
}

impl Drop for ImageProgress {
    fn drop(&mut self) {
        // A bar the build never finished (an engine error before it ran) leaves no line.
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_with_any_value_turns_colour_off_unless_always_is_asked() {
        let set = Some(OsStr::new("1"));
        assert!(colour_on(ColorChoice::Auto, None, true));
        assert!(!colour_on(ColorChoice::Auto, set, true));
        assert!(!colour_on(
            ColorChoice::Auto,
            Some(OsStr::new("false")),
            true
        ));
        assert!(
            colour_on(ColorChoice::Auto, Some(OsStr::new("")), true),
            "an empty NO_COLOR does not count"
        );
        assert!(!colour_on(ColorChoice::Auto, None, false), "not a terminal");
        assert!(colour_on(ColorChoice::Always, set, false));
        assert!(!colour_on(ColorChoice::Never, None, true));
    }

    #[test]
    fn bars_only_on_a_coloured_terminal_without_json_or_verbose() {
        assert_eq!(mode(true, true, false, false), Mode::Bars);
        let plain = Mode::Plain { verbose: false };
        assert_eq!(mode(false, true, false, false), plain, "not a terminal");
        assert_eq!(mode(true, false, false, false), plain, "NO_COLOR");
        assert_eq!(mode(true, true, true, false), plain, "--json");
        assert_eq!(
            mode(true, true, false, true),
            Mode::Plain { verbose: true },
            "--verbose"
        );
    }

    #[test]
    fn paint_adds_escape_codes_only_when_colour_is_on() {
        let on = Output {
            colour: true,
            verbose: false,
            terminal: false,
        };
        let off = Output {
            colour: false,
            ..on
        };
        assert!(on.paint(Style::new().red(), "error:").contains('\u{1b}'));
        assert_eq!(off.paint(Style::new().red(), "error:"), "error:");
    }

    #[test]
    fn the_color_option_is_read_before_clap_in_both_spellings() {
        let args =
            |list: &[&str]| -> Vec<std::ffi::OsString> { list.iter().map(Into::into).collect() };
        assert_eq!(
            ColorChoice::from_args(&args(&["dockwright", "--color", "never", "build"])),
            ColorChoice::Never
        );
        assert_eq!(
            ColorChoice::from_args(&args(&["dockwright", "build", "--color=always"])),
            ColorChoice::Always
        );
        assert_eq!(
            ColorChoice::from_args(&args(&["dockwright", "build", "-f", "never"])),
            ColorChoice::Auto
        );
    }
}
