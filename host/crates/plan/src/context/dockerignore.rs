//! Docker's `.dockerignore` rules, ported from moby's `patternmatcher` and its
//! `ignorefile.ReadAll` (not gitignore's rules).
//!
//! What this module owns:
//! - reading an ignore file the way `ReadAll` does: a UTF-8 BOM stripped, `#` comments
//!   (only at the very start of a line) and blank lines dropped, each line trimmed,
//!   `filepath.Clean`ed and anchored at the context root (a leading `/` dropped), `!`
//!   marking an exception;
//! - compiling patterns the way `patternmatcher.New` + `Pattern.compile` do: Go
//!   `filepath.Match` syntax is validated, then each pattern becomes an exact, prefix
//!   (`dir/**`), suffix (`**/name`) or regular-expression match, where `*` and `?` never
//!   cross `/` and `**` spans any number of directories;
//! - matching, where the last matching pattern wins and a pattern that matches a parent
//!   directory matches everything below it (`MatchesOrParentMatches`, and the incremental
//!   `MatchesUsingParentResults` the walker uses);
//! - the walker's pruning rule: an excluded directory is entered only when an exception
//!   pattern starts with that directory's path.
//!
//! One deliberate difference: moby compiles a pattern lazily and reports a bad regular
//! expression (e.g. `[Local-Only]`, an inverted range) at the first match, failing the
//! build there; we compile eagerly and report it with the file and line.

use std::path::{Path, PathBuf};

use regex::Regex;

/// A pattern that cannot be compiled, as `patternmatcher.New` would reject it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub(crate) struct PatternError {
    pub reason: String,
}

/// One line of an ignore file after `ReadAll`'s normalisation, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IgnoreLine {
    pub line: usize,
    pub pattern: String,
}

/// Reads ignore-file text into patterns exactly as moby's `ignorefile.ReadAll` does.
pub(crate) fn read_patterns(text: &str) -> Vec<IgnoreLine> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        // `ReadAll` checks for a comment before trimming: " # x" is a pattern.
        if raw.starts_with('#') {
            continue;
        }
        let mut pattern = raw.trim();
        if pattern.is_empty() {
            continue;
        }
        let exception = pattern.starts_with('!');
        if exception {
            pattern = pattern[1..].trim();
        }
        let mut normalised = String::new();
        if !pattern.is_empty() {
            normalised = go_clean(pattern);
            if normalised.len() > 1 && normalised.starts_with('/') {
                normalised.remove(0);
            }
        }
        if exception {
            normalised.insert(0, '!');
        }
        patterns.push(IgnoreLine {
            line: index + 1,
            pattern: normalised,
        });
    }
    patterns
}

/// Go's `filepath.Clean` for `/`-separated paths: repeated slashes, `.` elements and
/// `..` elements that can be resolved lexically are removed; the empty path becomes `.`.
pub(crate) fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Dir` for `/`-separated paths.
pub(crate) fn go_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(slash) => go_clean(&path[..=slash]),
        None => ".".to_string(),
    }
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact,
    /// `dir/**`: the cleaned pattern without its trailing `**`.
    Prefix(String),
    /// `**/name`: the cleaned pattern without its leading `**`.
    Suffix(String),
    Regex(Regex),
}

/// One compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    cleaned: String,
    exception: bool,
    matcher: Matcher,
}

impl Pattern {
    /// The kind of match chosen and, for a regular expression, its source (moby's
    /// `TestCompile` checks both).
    #[cfg(test)]
    fn describe(&self) -> (&'static str, Option<String>) {
        match &self.matcher {
            Matcher::Exact => ("exact", None),
            Matcher::Prefix(_) => ("prefix", None),
            Matcher::Suffix(_) => ("suffix", None),
            Matcher::Regex(regex) => ("regexp", Some(regex.as_str().to_string())),
        }
    }

    fn compile(raw: &str) -> Result<Pattern, PatternError> {
        let mut cleaned = go_clean(raw.trim());
        let exception = cleaned.starts_with('!');
        if exception {
            if cleaned.len() == 1 {
                return Err(PatternError {
                    reason: "illegal exclusion pattern: \"!\"".to_string(),
                });
            }
            cleaned.remove(0);
        }
        validate_go_match_syntax(&cleaned)?;
        let matcher = build_matcher(&cleaned)?;
        Ok(Pattern {
            cleaned,
            exception,
            matcher,
        })
    }

    fn matches(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact => path == self.cleaned,
            Matcher::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Matcher::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    // `**/foo` also matches `foo` itself.
                    || suffix.strip_prefix('/').is_some_and(|bare| path == bare)
            }
            Matcher::Regex(regex) => regex.is_match(path),
        }
    }
}

/// Per-pattern results for a directory, handed to its children so that a pattern that
/// matched a parent matches them too (moby's `MatchInfo`). The default is "no parent
/// information", used for entries at the context root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ParentMatches(Vec<bool>);

/// A compiled `.dockerignore`: an ordered list of patterns where the last match wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct IgnoreRules {
    patterns: Vec<Pattern>,
    has_exceptions: bool,
}

impl IgnoreRules {
    /// Compiles patterns as `patternmatcher.New` does (blank ones are skipped). On error,
    /// returns the index of the offending pattern with the reason.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<IgnoreRules, (usize, PatternError)> {
        let mut rules = IgnoreRules::default();
        for (index, raw) in patterns.iter().enumerate() {
            if raw.as_ref().trim().is_empty() {
                continue;
            }
            let pattern = Pattern::compile(raw.as_ref()).map_err(|error| (index, error))?;
            rules.has_exceptions |= pattern.exception;
            rules.patterns.push(pattern);
        }
        Ok(rules)
    }

    /// Reads and compiles an ignore file's text; errors name `source` and the line.
    pub fn parse(text: &str, source: &Path) -> Result<IgnoreRules, IgnoreFileError> {
        let lines = read_patterns(text);
        let texts: Vec<&str> = lines.iter().map(|line| line.pattern.as_str()).collect();
        IgnoreRules::new(&texts).map_err(|(index, error)| IgnoreFileError {
            file: source.to_path_buf(),
            line: lines[index].line,
            pattern: lines[index].pattern.clone(),
            reason: error.reason,
        })
    }

    /// The compiled patterns, in file order.
    #[cfg(test)]
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any pattern is an exception (`!`).
    #[cfg(test)]
    pub fn has_exceptions(&self) -> bool {
        self.has_exceptions
    }

    /// `MatchesExact`: the path itself against every pattern, no parent matching.
    #[cfg(test)]
    pub fn matches_exact(&self, path: &str) -> bool {
        let mut matched = false;
        for pattern in &self.patterns {
            // Only a pattern that could flip the current answer needs evaluating.
            if pattern.exception != matched {
                continue;
            }
            if pattern.matches(path) {
                matched = !pattern.exception;
            }
        }
        matched
    }

    /// `MatchesOrParentMatches`: whether `path` (slash-separated, relative to the
    /// context root) is excluded, a pattern also matching when it matches any parent.
    pub fn matches_or_parent_matches(&self, path: &str) -> bool {
        let parent = go_dir(path);
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exception != matched {
                continue;
            }
            let mut hit = pattern.matches(path);
            if !hit && parent != "." {
                hit = (1..=parent_dirs.len())
                    .any(|depth| pattern.matches(&parent_dirs[..depth].join("/")));
            }
            if hit {
                matched = !pattern.exception;
            }
        }
        matched
    }

    /// `MatchesUsingParentResults`: like [`Self::matches_or_parent_matches`], but reuses the
    /// parent directory's per-pattern results so a walk matches each path once. Returns
    /// whether `path` is excluded and the results to hand to its children.
    pub(crate) fn matches_using_parent_results(
        &self,
        path: &str,
        parent: &ParentMatches,
    ) -> (bool, ParentMatches) {
        let parent_known = !parent.0.is_empty();
        debug_assert!(!parent_known || parent.0.len() == self.patterns.len());
        let mut matched = false;
        let mut results = vec![false; self.patterns.len()];
        for (index, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent_known && parent.0[index];
            if !hit {
                if pattern.exception != matched {
                    continue;
                }
                hit = pattern.matches(path);
                if !hit && !parent_known {
                    let parent_path = go_dir(path);
                    if parent_path != "." {
                        let dirs: Vec<&str> = parent_path.split('/').collect();
                        hit =
                            (1..=dirs.len()).any(|depth| pattern.matches(&dirs[..depth].join("/")));
                    }
                }
            }
            results[index] = hit;
            if hit {
                matched = !pattern.exception;
            }
        }
        (matched, ParentMatches(results))
    }

    /// moby's pruning rule for an excluded directory: it must still be walked when some
    /// exception pattern starts with `dir/` (the pattern may re-include something inside).
    pub(crate) fn exception_may_reach_inside(&self, dir: &str) -> bool {
        if !self.has_exceptions {
            return false;
        }
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .filter(|pattern| pattern.exception)
            .any(|pattern| format!("{}/", pattern.cleaned).starts_with(&dir_slash))
    }
}

/// A bad pattern in an ignore file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: invalid .dockerignore pattern `{pattern}`: {reason}", file.display())]
pub struct IgnoreFileError {
    pub file: PathBuf,
    pub line: usize,
    pub pattern: String,
    pub reason: String,
}

fn bad_pattern() -> PatternError {
    PatternError {
        reason: "syntax error in pattern".to_string(),
    }
}

/// Checks the whole pattern against Go's `filepath.Match` grammar (Go ≥ 1.16 reports a
/// syntax error anywhere in the pattern): a trailing `\`, an unclosed `[`, a class whose
/// first item is `-` or `]`, or a range with a missing end are errors.
fn validate_go_match_syntax(pattern: &str) -> Result<(), PatternError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut at = 0;
    while at < chars.len() {
        match chars[at] {
            '\\' => {
                if at + 1 >= chars.len() {
                    return Err(bad_pattern());
                }
                at += 2;
            }
            '[' => at = validate_class(&chars, at + 1)?,
            _ => at += 1,
        }
    }
    Ok(())
}

/// Validates a character class starting just after `[`; returns the index after `]`.
fn validate_class(chars: &[char], mut at: usize) -> Result<usize, PatternError> {
    if chars.get(at) == Some(&'^') {
        at += 1;
    }
    let mut ranges = 0;
    loop {
        match chars.get(at) {
            None => return Err(bad_pattern()),
            Some(']') if ranges > 0 => return Ok(at + 1),
            _ => {}
        }
        at = class_char_end(chars, at)?;
        if chars.get(at) == Some(&'-') {
            at = class_char_end(chars, at + 1)?;
        }
        ranges += 1;
    }
}

/// Go's `getEsc`: one (possibly escaped) class character; `-` and `]` are not allowed here.
fn class_char_end(chars: &[char], at: usize) -> Result<usize, PatternError> {
    match chars.get(at) {
        None | Some('-') | Some(']') => Err(bad_pattern()),
        Some('\\') if at + 1 >= chars.len() => Err(bad_pattern()),
        Some('\\') => Ok(at + 2),
        Some(_) => Ok(at + 1),
    }
}

/// moby's `Pattern.compile`: decides the kind of match and, for the general case, builds
/// the anchored regular expression (`*` → `[^/]*`, `?` → `[^/]`, `**/` → `(.*/)?`).
fn build_matcher(cleaned: &str) -> Result<Matcher, PatternError> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = cleaned.chars().collect();
    let mut regex = String::from("^");
    let mut kind = Kind::Exact;
    let mut in_class = false;
    let mut at = 0;
    let mut first = true;
    while at < chars.len() {
        let ch = chars[at];
        at += 1;
        if in_class {
            at = push_class_char(&chars, at, ch, &mut regex, &mut in_class);
            first = false;
            continue;
        }
        match ch {
            '*' if chars.get(at) == Some(&'*') => {
                at += 1;
                // `**/` is treated as `**`.
                if chars.get(at) == Some(&'/') {
                    at += 1;
                }
                if at >= chars.len() {
                    // A trailing `**` accepts everything, as in .gitignore.
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        regex.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    regex.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                regex.push_str("[^/]*");
                kind = Kind::Regex;
            }
            '?' => {
                regex.push_str("[^/]");
                kind = Kind::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                regex.push('\\');
                regex.push(ch);
            }
            '\\' => match chars.get(at) {
                Some(&next) => {
                    at += 1;
                    push_escaped(&mut regex, next);
                    kind = Kind::Regex;
                }
                None => regex.push_str("\\\\"),
            },
            '[' => {
                regex.push('[');
                if chars.get(at) == Some(&'^') {
                    regex.push('^');
                    at += 1;
                }
                in_class = true;
                kind = Kind::Regex;
            }
            ']' => {
                regex.push_str("\\]");
                kind = Kind::Regex;
            }
            _ => regex.push(ch),
        }
        first = false;
    }
    Ok(match kind {
        Kind::Exact => Matcher::Exact,
        Kind::Prefix => Matcher::Prefix(cleaned[..cleaned.len() - 2].to_string()),
        Kind::Suffix => Matcher::Suffix(cleaned[2..].to_string()),
        Kind::Regex => {
            regex.push('$');
            Matcher::Regex(Regex::new(&regex).map_err(|_| bad_pattern())?)
        }
    })
}

/// Appends one character of a `[...]` class. Go's regexp treats `[`, `&` and `~` inside a
/// class literally, while Rust's has nested classes and set operators, so those are
/// escaped; everything else is copied as moby copies it.
fn push_class_char(
    chars: &[char],
    mut at: usize,
    ch: char,
    regex: &mut String,
    in_class: &mut bool,
) -> usize {
    match ch {
        ']' => {
            regex.push(']');
            *in_class = false;
        }
        '\\' => {
            if let Some(&next) = chars.get(at) {
                at += 1;
                push_escaped(regex, next);
            }
        }
        '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' | '[' | '&' | '~' => {
            regex.push('\\');
            regex.push(ch);
        }
        _ => regex.push(ch),
    }
    at
}

/// `\x` in a pattern: moby emits `\x` into the regex. Escaped punctuation is a literal
/// in Go's regexp; Rust gives some escaped punctuation a meaning (`\<` is a word
/// boundary), so punctuation is written as a plain literal instead. An escaped letter keeps
/// its regexp meaning (`\d`), as in moby.
fn push_escaped(regex: &mut String, ch: char) {
    if ch.is_ascii_alphanumeric() {
        regex.push('\\');
        regex.push(ch);
    } else {
        regex.push_str(&regex::escape(&ch.to_string()));
    }
}

#[cfg(test)]
mod tests;
