//! Build progress: turns the engine's output stream into steps (`Step 3/7 : RUN ...`) and
//! whole output lines, and hands them to a [`BuildProgress`] the CLI chooses (a progress bar,
//! plain lines, a log file, or nothing), together with the bytes of build context sent and how
//! the build ended. Also keeps the tail of the current step's output so that a failed build can
//! show what the failing instruction printed.

use std::collections::VecDeque;
use std::fmt;
use std::io::Write;

/// One instruction of the Dockerfile as the builder announces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildStep {
    /// 1-based position of the instruction.
    pub index: u32,
    /// Number of instructions in the build (including the label step the engine adds).
    pub total: u32,
    /// The instruction text, e.g. `RUN pip install -r requirements.txt`.
    pub instruction: String,
}

impl fmt::Display for BuildStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} `{}`", self.index, self.total, self.instruction)
    }
}

/// Receives a build's progress as it happens.
pub trait BuildProgress: Send {
    /// A new instruction starts.
    fn step(&mut self, step: &BuildStep);
    /// One line of output (the instruction's own output, or the builder's remarks such as
    /// `---> Using cache`), without its line ending.
    fn output(&mut self, line: &str);
    /// Bytes of build context sent to the engine so far (reported while it is sent, and once
    /// more when it is all sent).
    fn context_sent(&mut self, _bytes: u64) {}
    /// The build ended: the image was built (`true`) or the build failed (`false`).
    fn finished(&mut self, _succeeded: bool) {}
}

/// Shows nothing.
pub struct NoProgress;

impl BuildProgress for NoProgress {
    fn step(&mut self, _: &BuildStep) {}
    fn output(&mut self, _: &str) {}
}

/// Writes steps and output as plain lines (for logs, CI, and terminals without a bar).
pub struct PlainProgress<W: Write + Send>(pub W);

impl<W: Write + Send> BuildProgress for PlainProgress<W> {
    fn step(&mut self, step: &BuildStep) {
        // Progress output is best effort: a closed terminal must not fail the build.
        let _ = writeln!(
            self.0,
            "step {}/{}: {}",
            step.index, step.total, step.instruction
        );
    }
    fn output(&mut self, line: &str) {
        let _ = writeln!(self.0, "  {line}");
    }
}

/// Parses the classic builder's step header `Step 3/7 : RUN ...`.
pub(crate) fn parse_step_line(line: &str) -> Option<BuildStep> {
    let rest = line.strip_prefix("Step ")?;
    let (position, instruction) = rest.split_once(" : ")?;
    let (index, total) = position.split_once('/')?;
    Some(BuildStep {
        index: index.trim().parse().ok()?,
        total: total.trim().parse().ok()?,
        instruction: instruction.trim_end().to_string(),
    })
}

/// Joins the engine's output chunks (which need not end at line ends) into lines. A carriage
/// return rewrites the line in place (pip's progress bars), so only its last state is kept.
#[derive(Default)]
pub(crate) struct LineAssembler {
    partial: String,
}

impl LineAssembler {
    /// Adds a chunk and returns the lines it completed.
    pub(crate) fn push(&mut self, chunk: &str) -> Vec<String> {
        self.partial.push_str(chunk);
        let mut lines = Vec::new();
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            lines.push(strip_ansi(last_carriage_segment(&line[..line.len() - 1])));
        }
        lines
    }

    /// The unterminated rest, if any, once the stream has ended.
    pub(crate) fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.partial);
        let rest = strip_ansi(last_carriage_segment(&rest));
        (!rest.is_empty()).then_some(rest)
    }
}

/// Removes terminal colour codes (`ESC [ ... m`): the classic builder paints a step's
/// stderr red, which is noise in logs and error messages.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, up to the final byte in '@'..='~'.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn last_carriage_segment(line: &str) -> &str {
    let line = line.strip_suffix('\r').unwrap_or(line);
    line.rsplit('\r').next().unwrap_or(line)
}

/// Follows a build's output: forwards steps and lines to the user's [`BuildProgress`] and
/// remembers the current step and its last lines for the error report.
pub(crate) struct BuildTracker<'p> {
    progress: &'p mut dyn BuildProgress,
    lines: LineAssembler,
    pub(crate) current: Option<BuildStep>,
    pub(crate) tail: VecDeque<String>,
    context_reported: u64,
}

/// How many lines of the failing step's output an error carries.
pub(crate) const TAIL_LINES: usize = 25;

impl<'p> BuildTracker<'p> {
    pub(crate) fn new(progress: &'p mut dyn BuildProgress) -> Self {
        BuildTracker {
            progress,
            lines: LineAssembler::default(),
            current: None,
            tail: VecDeque::new(),
            context_reported: 0,
        }
    }

    /// Passes on the bytes of context sent, when they changed since the last report.
    pub(crate) fn context_sent(&mut self, bytes: u64) {
        if bytes != self.context_reported {
            self.context_reported = bytes;
            self.progress.context_sent(bytes);
        }
    }

    /// Feeds one `stream` chunk of the build output.
    pub(crate) fn chunk(&mut self, chunk: &str) {
        for line in self.lines.push(chunk) {
            self.line(line);
        }
    }

    /// Flushes an unterminated last line.
    pub(crate) fn finish(&mut self) {
        if let Some(line) = self.lines.finish() {
            self.line(line);
        }
    }

    fn line(&mut self, line: String) {
        if let Some(step) = parse_step_line(&line) {
            self.progress.step(&step);
            self.current = Some(step);
            self.tail.clear();
            return;
        }
        self.progress.output(&line);
        if is_builder_remark(&line) {
            return;
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    /// The remembered tail, without trailing blank lines.
    pub(crate) fn take_tail(&mut self) -> Vec<String> {
        let mut tail: Vec<String> = self.tail.drain(..).collect();
        while tail.last().is_some_and(|line| line.trim().is_empty()) {
            tail.pop();
        }
        tail
    }
}

/// The classic builder's own bookkeeping lines, which say nothing about why a step failed.
fn is_builder_remark(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("---> ") || line.starts_with("Removing intermediate container")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_classic_step_header() {
        let step = parse_step_line("Step 3/12 : RUN pip install -r a.txt : b").unwrap();
        assert_eq!(step.index, 3);
        assert_eq!(step.total, 12);
        assert_eq!(step.instruction, "RUN pip install -r a.txt : b");
        assert_eq!(parse_step_line("Stepping 3/12 : RUN x"), None);
        assert_eq!(parse_step_line("Step x/12 : RUN x"), None);
    }

    #[test]
    fn assembles_lines_across_chunks_and_keeps_the_last_carriage_return_state() {
        let mut lines = LineAssembler::default();
        assert!(lines.push("Collecting fo").is_empty());
        assert_eq!(
            lines.push("o\n  10%\r  55%\r 100%\nDone"),
            vec!["Collecting foo", " 100%"]
        );
        assert_eq!(lines.finish().as_deref(), Some("Done"));
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn strips_the_builders_colour_codes() {
        let mut lines = LineAssembler::default();
        let got =
            lines.push("\u{1b}[91mERROR: no match\n\u{1b}[0mRemoving intermediate container 1\n");
        assert_eq!(
            got,
            vec!["ERROR: no match", "Removing intermediate container 1"]
        );
    }

    struct Recorder(Vec<String>);
    impl BuildProgress for Recorder {
        fn step(&mut self, step: &BuildStep) {
            self.0.push(format!("step {step}"));
        }
        fn output(&mut self, line: &str) {
            self.0.push(line.to_string());
        }
    }

    #[test]
    fn tracker_reports_steps_and_keeps_only_the_current_steps_output() {
        let mut recorder = Recorder(Vec::new());
        let mut tracker = BuildTracker::new(&mut recorder);
        tracker.chunk("Step 1/2 : FROM base\n ---> abc\nStep 2/2 : RUN false\n");
        tracker.chunk(" ---> Running in 123\nERROR: no such package\n\n");
        tracker.finish();
        assert_eq!(tracker.current.as_ref().map(|s| s.index), Some(2));
        assert_eq!(tracker.take_tail(), vec!["ERROR: no such package"]);
        assert_eq!(recorder.0[0], "step 1/2 `FROM base`");
        assert!(recorder.0.contains(&"ERROR: no such package".to_string()));
    }
}
