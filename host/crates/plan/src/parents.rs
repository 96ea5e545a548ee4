//! The images a build starts from: every `FROM` of a user Dockerfile (with its `ARG`s and
//! the build args substituted, earlier stages and `scratch` left out), so that the engine
//! can resolve each to the image it is at build time. Planning stays pure: it only names
//! them; `build` asks the engine for their identities and makes them part of the reuse
//! decision (DESIGN.md §5).

use std::collections::BTreeMap;

/// The external images the `FROM` lines of `dockerfile` name, in order, without
/// duplicates. A reference that still holds an unknown variable after substitution is
/// left out: there is nothing to resolve it to.
pub fn from_images(dockerfile: &str, build_args: &BTreeMap<String, String>) -> Vec<String> {
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    let mut stages: Vec<String> = Vec::new();
    let mut images: Vec<String> = Vec::new();
    let mut seen_from = false;
    for line in instructions(dockerfile) {
        let mut words = line.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        let rest: Vec<&str> = words.collect();
        if keyword.eq_ignore_ascii_case("ARG") && !seen_from {
            for declaration in &rest {
                let (name, default) = match declaration.split_once('=') {
                    Some((name, value)) => (name, Some(unquote(value))),
                    None => (*declaration, None),
                };
                let value = build_args.get(name).cloned().or(default);
                if let Some(value) = value {
                    args.insert(name.to_owned(), value);
                }
            }
        } else if keyword.eq_ignore_ascii_case("FROM") {
            seen_from = true;
            let mut operands = rest.iter().filter(|w| !w.starts_with("--"));
            let reference = operands.next();
            let stage = match (operands.next(), operands.next()) {
                (Some(as_), Some(stage)) if as_.eq_ignore_ascii_case("AS") => {
                    Some(stage.to_ascii_lowercase())
                }
                _ => None,
            };
            if let Some(reference) = reference.and_then(|r| substitute(r, &args)) {
                let earlier_stage = stages.contains(&reference.to_ascii_lowercase());
                if reference != "scratch" && !earlier_stage && !images.contains(&reference) {
                    images.push(reference);
                }
            }
            stages.extend(stage);
        }
    }
    images
}

/// The Dockerfile's instructions, one per item: comments dropped, continued lines joined.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.starts_with('#') || trimmed.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'"' || bytes[0] == b'\'')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        value[1..value.len() - 1].to_owned()
    } else {
        value.to_owned()
    }
}

/// `$NAME`, `${NAME}` and `${NAME:-default}` replaced from `args`; `None` when one is
/// unknown (and has no default).
fn substitute(reference: &str, args: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = reference;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (expression, tail) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}')?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let (name, default) = match expression.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (expression, None),
        };
        let value = args
            .get(name)
            .filter(|v| !v.is_empty())
            .map(String::as_str)
            .or(default)?;
        out.push_str(value);
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn froms(text: &str, args: &[(&str, &str)]) -> Vec<String> {
        let args = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_images(text, &args)
    }

    #[test]
    fn every_external_from_with_args_substituted() {
        let text = "# syntax comment\nARG BASE=python:3.11\nARG TAG\nFROM --platform=linux/amd64 ${BASE}-slim AS build\nRUN make\nFROM build AS test\nFROM scratch\nFROM \\\n  example/runtime:$TAG\nCOPY --from=build /out /out\nFROM python:3.11-slim\n";
        assert_eq!(
            froms(text, &[("TAG", "1.0")]),
            ["python:3.11-slim", "example/runtime:1.0"]
        );
        assert_eq!(
            froms(text, &[("BASE", "python:3.12"), ("TAG", "2")]),
            ["python:3.12-slim", "example/runtime:2", "python:3.11-slim"]
        );
        assert_eq!(
            froms(text, &[]),
            ["python:3.11-slim"],
            "an unknown variable cannot be resolved"
        );
        assert_eq!(froms("FROM ${IMG:-base/img:1}\n", &[]), ["base/img:1"]);
    }
}
