//! Errors and warnings about a pipeline file, each naming the file, the line, the column
//! and the field, and showing the offending line.

use std::fmt;
use std::path::{Path, PathBuf};

use super::yaml::Position;

/// Why a pipeline file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
}

impl SettingsError {
    /// The diagnostic, for an error about the file's content.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            SettingsError::Invalid(diagnostic) => Some(diagnostic),
            SettingsError::Read { .. } => None,
        }
    }
}

/// One problem at one place in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    /// Dotted path of the field, e.g. `settings.docker.apt_packages` or `steps[1].after[0]`;
    /// empty for the document itself.
    pub field: String,
    pub message: String,
    /// A hint such as "did you mean `apt_packages`?".
    pub help: Option<String>,
    /// The source line the position is on (without its newline), for display.
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn new(
        file: &Path,
        source: &str,
        at: Position,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.to_owned(),
            line: at.line,
            column: at.column,
            field: field.into(),
            message: message.into(),
            help: None,
            source_line: line_of(source, at.line),
        }
    }

    pub(crate) fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub(crate) fn into_error(self) -> SettingsError {
        SettingsError::Invalid(Box::new(self))
    }
}

fn line_of(source: &str, line: u64) -> Option<String> {
    let index = usize::try_from(line.checked_sub(1)?).ok()?;
    source
        .lines()
        .nth(index)
        .map(|text| text.trim_end_matches('\r').to_owned())
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "`{}`: ", self.field)?;
        }
        write!(f, "{}", self.message)?;
        write_snippet(f, self.line, self.column, self.source_line.as_deref())?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Writes the source line with a caret under the column, rustc style.
fn write_snippet(
    f: &mut fmt::Formatter<'_>,
    line: u64,
    column: u64,
    text: Option<&str>,
) -> fmt::Result {
    let Some(text) = text else { return Ok(()) };
    let number = line.to_string();
    let gutter = " ".repeat(number.len());
    // Columns count characters; tabs are kept so the caret lines up under them.
    let lead: String = text
        .chars()
        .take(column.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    write!(f, "\n {gutter} |\n {number} | {text}\n {gutter} | {lead}^")
}

/// Something worth telling the user that does not stop the load (a deprecated field, a
/// setting that has no effect here). Collected as data; the CLI decides how to print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub field: String,
    pub message: String,
}

impl Warning {
    pub fn new(
        file: &Path,
        at: Position,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Warning {
            file: file.to_owned(),
            line: at.line,
            column: at.column,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: `{}`: {}",
            self.file.display(),
            self.line,
            self.column,
            self.field,
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_position_field_and_shows_the_line() {
        let source = "name: x\nsettings:\n  docker:\n    apt_packages: git\n";
        let d = Diagnostic::new(
            Path::new("p/dockwright.yaml"),
            source,
            Position::new(4, 19),
            "settings.docker.apt_packages",
            "expected a list of strings, found a string",
        )
        .with_help(Some("write it as a list: [git]".into()));
        let text = d.to_string();
        assert!(
            text.starts_with("p/dockwright.yaml:4:19: `settings.docker.apt_packages`: expected")
        );
        assert!(
            text.contains(" 4 |     apt_packages: git\n   |                   ^"),
            "{text}"
        );
        assert!(text.ends_with("help: write it as a list: [git]"));
    }
}
