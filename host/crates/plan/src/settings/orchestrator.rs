//! Orchestrator settings kept as written: the stack's `orchestrator` component `config`, and
//! `settings.orchestrator` of the pipeline and of each step.
//!
//! Their fields depend on the orchestrator the run uses (Kubernetes has its own), which the
//! planner does not know, so they are kept raw here, as JSON, with where every key is: the
//! host types them for the orchestrator it runs with and reports a wrong field at its key's
//! line and column ([`RawSettings::error`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{Diagnostic, SettingsError};
use super::reader::{Ctx, Result, index, join};
use super::yaml::{Node, Position, Value};

/// A mapping of settings as written, with the file it is in and where each key is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSettings {
    /// The mapping, as JSON.
    pub value: serde_json::Value,
    /// The file the mapping is in (the stack file for a stack component's `config`).
    pub file: PathBuf,
    /// The mapping's own field path in that file (`orchestrator.config`,
    /// `settings.orchestrator`, `steps[1].settings.orchestrator`).
    pub field: String,
    /// Where the mapping's key is.
    at: Position,
    /// Field path inside the mapping (`pod_settings.tolerations[0].key`, as
    /// serde_path_to_error writes paths) → where its key (or list item) is.
    positions: BTreeMap<String, Position>,
    source: String,
}

impl RawSettings {
    /// Reads the mapping `node`, whose key is at `at` and whose field path is `path`.
    pub(crate) fn read(ctx: &Ctx, node: &Node, at: Position, path: &str) -> Result<RawSettings> {
        if !matches!(node.value, Value::Map(_) | Value::Null) {
            return Err(ctx.error(
                node.at,
                path,
                format!("expected a mapping of settings, found {}", node.kind()),
            ));
        }
        let value = match ctx.json(node, path)? {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            value => value,
        };
        let mut positions = BTreeMap::new();
        key_positions(node, "", &mut positions);
        Ok(RawSettings {
            value,
            file: ctx.file.to_owned(),
            field: path.to_owned(),
            at,
            positions,
            source: ctx.source.to_owned(),
        })
    }

    /// Whether the mapping has no keys.
    pub fn is_empty(&self) -> bool {
        self.value.as_object().is_none_or(|o| o.is_empty())
    }

    /// Where the field `path` (relative to the mapping; empty for the mapping itself) is:
    /// its key's position, or that of the nearest enclosing field the file has.
    pub fn position(&self, path: &str) -> Position {
        let mut path = path;
        loop {
            if let Some(at) = self.positions.get(path) {
                return *at;
            }
            match path.rfind(['.', '[']) {
                Some(end) => path = &path[..end],
                None => return self.at,
            }
        }
    }

    /// Whether the mapping sets the field `path` (relative to it) itself.
    pub fn sets(&self, path: &str) -> bool {
        self.positions.contains_key(path)
    }

    /// An error about the field `path` (relative to the mapping), pointing at its key.
    pub fn error(&self, path: &str, message: impl Into<String>) -> SettingsError {
        let field = match path {
            "" | "." => self.field.clone(),
            _ => join(&self.field, path),
        };
        Diagnostic::new(
            &self.file,
            &self.source,
            self.position(path),
            field,
            message,
        )
        .into_error()
    }

    /// The file the settings are in.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

/// Records where each key (and list item) under `node` is, by its path.
fn key_positions(node: &Node, path: &str, out: &mut BTreeMap<String, Position>) {
    match &node.value {
        Value::Map(entries) => {
            for (key, value) in entries {
                if let Value::Str(key_text) = &key.value {
                    let child = join(path, key_text);
                    out.insert(child.clone(), key.at);
                    key_positions(value, &child, out);
                }
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let child = index(path, i);
                out.insert(child.clone(), item.at);
                key_positions(item, &child, out);
            }
        }
        _ => {}
    }
}
