//! The full output of each build, kept in a file so that the terminal can stay calm:
//! `<data>/logs/<pipeline>/<image>-<UTC time>.log` holds every step header and every output
//! line, and how long each step took, from its header to the next step's or the end (`# step
//! 4 took 9.2 s`: on the classic builder even a metadata instruction is a commit that can take
//! seconds, and this is where that shows). The
//! newest [`KEEP`] logs of each image are kept; older ones go when a new one starts.

use std::fs::File;
use std::io::{self, LineWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::engine::BuildStep;

/// How many logs of one image are kept.
pub const KEEP: usize = 10;

/// The UTC start time in a log's name: sortable, and free of `:` for any file system.
const TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";

/// One build's log file, written line by line (so that it can be followed while it grows).
pub struct BuildLog {
    path: PathBuf,
    file: LineWriter<File>,
    /// The step under way and when its header came.
    current: Option<(u32, Instant)>,
}

impl BuildLog {
    /// Starts the log of a build of `image` in `pipeline`'s folder under `logs`, removing the
    /// image's oldest logs beyond [`KEEP`].
    pub fn create(logs: &Path, pipeline: &str, image: &str) -> io::Result<BuildLog> {
        let dir = pipeline_dir(logs, pipeline);
        std::fs::create_dir_all(&dir)?;
        let stem = file_name_part(image);
        let now = chrono::Utc::now();
        let path = dir.join(format!("{stem}-{}.log", now.format(TIME_FORMAT)));
        let mut file = LineWriter::new(File::create(&path)?);
        writeln!(
            file,
            "# dockwright build of {image} (pipeline {pipeline}), started {}",
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?;
        prune(&dir, &stem, KEEP)?;
        Ok(BuildLog {
            path,
            file,
            current: None,
        })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a step header as the classic builder prints it, after the time the previous
    /// step took.
    pub fn step(&mut self, step: &BuildStep) -> io::Result<()> {
        self.end_step()?;
        self.current = Some((step.index, Instant::now()));
        writeln!(
            self.file,
            "Step {}/{} : {}",
            step.index, step.total, step.instruction
        )
    }

    /// Writes how long the step under way took, if one is.
    fn end_step(&mut self) -> io::Result<()> {
        match self.current.take() {
            Some((index, started)) => writeln!(self.file, "{}", took(index, started.elapsed())),
            None => Ok(()),
        }
    }

    /// Writes one output line.
    pub fn line(&mut self, line: &str) -> io::Result<()> {
        writeln!(self.file, "{line}")
    }

    /// Writes a closing remark (how the build ended), after the time the last step took.
    pub fn note(&mut self, note: &str) -> io::Result<()> {
        self.end_step()?;
        writeln!(self.file, "# {note}")?;
        self.file.flush()
    }
}

/// The line saying how long step `index` took.
fn took(index: u32, elapsed: Duration) -> String {
    format!("# step {index} took {:.1} s", elapsed.as_secs_f64())
}

/// The folder of `pipeline`'s logs under `logs`.
pub fn pipeline_dir(logs: &Path, pipeline: &str) -> PathBuf {
    logs.join(file_name_part(pipeline))
}

/// `text` with every character a file name should not hold replaced by `_`.
fn file_name_part(text: &str) -> String {
    let part: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match part.trim_start_matches('.') {
        "" => "_".to_string(),
        trimmed => trimmed.to_string(),
    }
}

/// Removes the oldest logs of `stem` in `dir` so that at most `keep` remain. Only files named
/// exactly `<stem>-<time>.log` count: `a-b-<time>.log` belongs to image `a-b`, not `a`.
fn prune(dir: &Path, stem: &str, keep: usize) -> io::Result<()> {
    let mut logs: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let time = name
            .strip_prefix(stem)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.strip_suffix(".log"));
        if let Some(time) = time
            && chrono::NaiveDateTime::parse_from_str(time, TIME_FORMAT).is_ok()
        {
            logs.push((time.to_string(), entry.path()));
        }
    }
    logs.sort();
    let excess = logs.len().saturating_sub(keep);
    for (_, path) in logs.into_iter().take(excess) {
        match std::fs::remove_file(&path) {
            // Another build pruned it first.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step_of_3(index: u32, instruction: &str) -> BuildStep {
        BuildStep {
            index,
            total: 3,
            instruction: instruction.into(),
        }
    }

    #[test]
    fn a_log_holds_steps_and_lines_under_the_pipelines_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = BuildLog::create(dir.path(), "My Pipeline", "dockwright:p").unwrap();
        log.step(&step_of_3(2, "RUN echo hi")).unwrap();
        log.line("hi").unwrap();
        let path = log.path().to_path_buf();
        assert!(path.starts_with(dir.path().join("My_Pipeline")), "{path:?}");
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("dockwright_p-2") && name.ends_with("Z.log"),
            "{name}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("Step 2/3 : RUN echo hi\nhi\n"), "{text}");
        // Each step's time comes when the next step starts, and the last one's before the
        // closing remark.
        log.step(&step_of_3(3, "COPY . .")).unwrap();
        log.note("built after 1 seconds").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert_eq!(lines[..2], ["Step 2/3 : RUN echo hi", "hi"], "{text}");
        assert!(lines[2].starts_with("# step 2 took "), "{text}");
        assert_eq!(lines[3], "Step 3/3 : COPY . .", "{text}");
        assert!(lines[4].starts_with("# step 3 took "), "{text}");
        assert_eq!(lines[5], "# built after 1 seconds", "{text}");
    }

    #[test]
    fn a_steps_time_is_said_in_tenths_of_seconds() {
        assert_eq!(took(4, Duration::from_millis(9_249)), "# step 4 took 9.2 s");
        assert_eq!(took(1, Duration::ZERO), "# step 1 took 0.0 s");
    }

    #[test]
    fn only_the_newest_logs_of_an_image_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("p");
        std::fs::create_dir_all(&logs).unwrap();
        let old = |stem: &str, second: u32| {
            let path = logs.join(format!("{stem}-20250101T0000{second:02}.000Z.log"));
            std::fs::write(&path, "").unwrap();
            path
        };
        let oldest: Vec<PathBuf> = (0..KEEP as u32).map(|s| old("img", s)).collect();
        let other_image = old("img-b", 0);
        let not_a_log = logs.join("img-notes.log");
        std::fs::write(&not_a_log, "").unwrap();

        let newest = BuildLog::create(dir.path(), "p", "img").unwrap();
        assert!(!oldest[0].exists(), "the oldest of {} goes", KEEP + 1);
        assert!(oldest[1..].iter().all(|p| p.exists()));
        assert!(newest.path().exists());
        assert!(
            other_image.exists() && not_a_log.exists(),
            "other files stay"
        );
    }
}
