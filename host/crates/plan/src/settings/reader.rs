//! Typed reading of YAML nodes: every conversion knows the field path and the node's
//! position, so a wrong type or an unknown key becomes a [`Diagnostic`] that points at it.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::{Diagnostic, SettingsError, Warning};
use super::yaml::{Node, Position, Value};
use crate::suggest::suggestion;

pub type Result<T> = std::result::Result<T, SettingsError>;

/// The file being read, and the warnings gathered so far.
pub(crate) struct Ctx<'a> {
    pub file: &'a Path,
    pub source: &'a str,
    pub warnings: Vec<Warning>,
}

/// `a.b` / `a[3]` path helpers.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A mapping whose keys were checked against the known ones.
pub(crate) struct Fields<'n> {
    entries: Vec<(&'n str, &'n Node)>,
    pub path: String,
}

impl<'n> Fields<'n> {
    /// The value of `key`, treating an explicit null like an absent key.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entry(key).filter(|node| !node.is_null())
    }

    /// The value of `key` even if it is null.
    pub fn entry(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub fn entries(&self) -> &[(&'n str, &'n Node)] {
        &self.entries
    }
}

impl<'a> Ctx<'a> {
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        Ctx {
            file,
            source,
            warnings: Vec::new(),
        }
    }

    pub(crate) fn diagnostic(
        &self,
        at: Position,
        path: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::new(self.file, self.source, at, path, message)
    }

    pub fn error(&self, at: Position, path: &str, message: impl Into<String>) -> SettingsError {
        self.diagnostic(at, path, message).into_error()
    }

    pub(crate) fn error_with_help(
        &self,
        at: Position,
        path: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> SettingsError {
        self.diagnostic(at, path, message)
            .with_help(Some(help.into()))
            .into_error()
    }

    pub fn warn(&mut self, at: Position, path: &str, message: impl Into<String>) {
        self.warnings
            .push(Warning::new(self.file, at, path, message));
    }

    fn type_error(&self, node: &Node, path: &str, expected: &str) -> SettingsError {
        let found = match node.scalar_text(self.source) {
            Some(text) if matches!(node.value, Value::Str(_)) => format!("the string `{text}`"),
            _ => node.kind().to_owned(),
        };
        self.error(node.at, path, format!("expected {expected}, found {found}"))
    }

    /// A mapping with string keys, every key among `known` (else an error naming the key
    /// and suggesting the nearest known one). Null reads as an empty mapping.
    pub(crate) fn fields<'n>(
        &self,
        node: &'n Node,
        path: &str,
        known: &[&str],
    ) -> Result<Fields<'n>> {
        let entries = self.string_keyed(node, path)?;
        for (key, value) in &entries {
            if !known.contains(key) {
                let key_at = key_position(node, key).unwrap_or(value.at);
                return Err(self.error_with_help(
                    key_at,
                    &join(path, key),
                    format!("unknown key `{key}`"),
                    suggestion(key, known),
                ));
            }
        }
        Ok(Fields {
            entries,
            path: path.to_owned(),
        })
    }

    /// Any value as JSON (for settings kept as written, e.g. an orchestrator's).
    pub fn json(&self, node: &Node, path: &str) -> Result<serde_json::Value> {
        use serde_json::Value as J;
        Ok(match &node.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
                (Ok(n), _) => J::from(n),
                (_, Ok(n)) => J::from(n),
                _ => return Err(self.error(node.at, path, "integer out of range")),
            },
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map(J::Number)
                .ok_or_else(|| self.error(node.at, path, "not a finite number"))?,
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.json(item, &index(path, i)))
                    .collect::<Result<_>>()?,
            ),
            Value::Map(_) => {
                let mut object = serde_json::Map::new();
                for (key, value) in self.string_keyed(node, path)? {
                    object.insert(key.to_owned(), self.json(value, &join(path, key))?);
                }
                J::Object(object)
            }
        })
    }

    /// A mapping with any string keys, in document order.
    pub(crate) fn string_keyed<'n>(
        &self,
        node: &'n Node,
        path: &str,
    ) -> Result<Vec<(&'n str, &'n Node)>> {
        match &node.value {
            Value::Null => Ok(Vec::new()),
            Value::Map(entries) => entries
                .iter()
                .map(|(key, value)| match &key.value {
                    Value::Str(k) => Ok((k.as_str(), value)),
                    _ => Err(self.error(
                        key.at,
                        path,
                        format!("keys must be strings, found {}", key.kind()),
                    )),
                })
                .collect(),
            _ => Err(self.type_error(node, path, "a mapping")),
        }
    }

    /// A scalar as text (numbers and booleans as written).
    pub fn string(&self, node: &Node, path: &str) -> Result<String> {
        node.scalar_text(self.source)
            .ok_or_else(|| self.type_error(node, path, "a string"))
    }

    /// A scalar as non-empty text.
    pub(crate) fn non_empty_string(&self, node: &Node, path: &str) -> Result<String> {
        let text = self.string(node, path)?;
        if text.trim().is_empty() {
            return Err(self.error(node.at, path, "must not be empty"));
        }
        Ok(text)
    }

    pub(crate) fn opt_string(&self, fields: &Fields, key: &str) -> Result<Option<String>> {
        fields
            .get(key)
            .map(|node| self.non_empty_string(node, &fields.path(key)))
            .transpose()
    }

    pub fn bool(&self, node: &Node, path: &str) -> Result<bool> {
        match node.value {
            Value::Bool(b) => Ok(b),
            _ => Err(self.type_error(node, path, "true or false")),
        }
    }

    pub(crate) fn opt_bool(&self, fields: &Fields, key: &str) -> Result<Option<bool>> {
        fields
            .get(key)
            .map(|node| self.bool(node, &fields.path(key)))
            .transpose()
    }

    pub(crate) fn unsigned(&self, node: &Node, path: &str) -> Result<u64> {
        match node.value {
            Value::Int(i) if i >= 0 => {
                u64::try_from(i).map_err(|_| self.error(node.at, path, "number too large"))
            }
            _ => Err(self.type_error(node, path, "a non-negative integer")),
        }
    }

    /// A list of scalars as text. A lone scalar is an error with a hint, because
    /// `apt_packages: git` is a common slip for `apt_packages: [git]`.
    pub(crate) fn string_list(&self, node: &Node, path: &str) -> Result<Vec<String>> {
        match &node.value {
            Value::Null => Ok(Vec::new()),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.non_empty_string(item, &index(path, i)))
                .collect(),
            _ => {
                let err = self.type_error(node, path, "a list of strings");
                match (node.scalar_text(self.source), err) {
                    (Some(text), SettingsError::Invalid(d)) => Err(d
                        .with_help(Some(format!("write it as a list: [{text}]")))
                        .into_error()),
                    (_, err) => Err(err),
                }
            }
        }
    }

    /// A mapping of string keys to scalar values (as text), sorted by key.
    pub(crate) fn string_map(&self, node: &Node, path: &str) -> Result<BTreeMap<String, String>> {
        Ok(self.string_pairs(node, path)?.into_iter().collect())
    }

    /// A mapping of scalars, in the order written.
    pub(crate) fn string_pairs(&self, node: &Node, path: &str) -> Result<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        for (key, value) in self.string_keyed(node, path)? {
            let value_path = join(path, key);
            let text = value.scalar_text(self.source).ok_or_else(|| {
                self.type_error(value, &value_path, "a string, number or boolean")
            })?;
            pairs.push((key.to_owned(), text));
        }
        Ok(pairs)
    }
}

/// Where `key` is written in a mapping node.
pub(crate) fn key_position(map: &Node, key: &str) -> Option<Position> {
    match &map.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(k, _)| k.at),
        _ => None,
    }
}

/// Whether `key` is present in a mapping node (even with a null value).
pub(crate) fn has_key(map: &Node, key: &str) -> bool {
    key_position(map, key).is_some()
}
