//! A YAML document as a tree of nodes that remember where they came from.
//!
//! serde-saphyr parses; this module keeps every node's line, column and source text so the
//! typed layer can report errors that point into the file, read plain scalars such as
//! `1.0` back as the text the user wrote, and merge step settings over pipeline settings
//! before anything is typed (so a merged value still points at the line that set it).

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node starts: 1-based line and column (plus its byte range when known, which
/// does not take part in comparisons).
#[derive(Clone, Copy, Debug, Default)]
pub struct Position {
    pub line: u64,
    pub column: u64,
    bytes: Option<(usize, usize)>,
}

impl Position {
    pub fn new(line: u64, column: u64) -> Self {
        Position {
            line,
            column,
            bytes: None,
        }
    }

    fn from_location(location: &serde_saphyr::Location) -> Self {
        let span = location.span();
        let bytes = match (span.byte_offset(), span.byte_len()) {
            (Some(start), Some(len)) => Some((start as usize, (start + len) as usize)),
            _ => None,
        };
        Position {
            line: location.line(),
            column: location.column(),
            bytes,
        }
    }
}

impl PartialEq for Position {
    fn eq(&self, other: &Self) -> bool {
        (self.line, self.column) == (other.line, other.column)
    }
}

impl Eq for Position {}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One YAML node.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub value: Value,
    pub at: Position,
}

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn new(value: Value, at: Position) -> Self {
        Node { value, at }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The text of a scalar as the user wrote it: a string as parsed (quotes and escapes
    /// resolved), any other scalar as its source text, so `tag: 1.10` reads as `1.10` and
    /// not as the float `1.1`. `None` for null, sequences and mappings.
    pub(crate) fn scalar_text(&self, source: &str) -> Option<String> {
        let raw = || {
            self.at
                .bytes
                .and_then(|(start, end)| source.get(start..end))
                .map(|text| without_anchor(text.trim()).to_owned())
                .filter(|text| !text.is_empty())
        };
        match &self.value {
            Value::Str(text) => Some(text.clone()),
            Value::Bool(b) => Some(raw().unwrap_or_else(|| b.to_string())),
            Value::Int(i) => Some(raw().unwrap_or_else(|| i.to_string())),
            Value::Float(x) => Some(raw().unwrap_or_else(|| x.to_string())),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// What kind of node this is, for messages ("expected a list, found a string").
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A scalar's text without the anchor (`&v 1.10` → `1.10`), should its span include it.
fn without_anchor(text: &str) -> &str {
    match text.strip_prefix('&') {
        Some(rest) => rest
            .split_once(char::is_whitespace)
            .map_or("", |(_, value)| value.trim_start()),
        None => text,
    }
}

/// Merges `over` onto `base` the way ZenML merges step settings over pipeline settings:
/// mappings key by key (recursively), everything else replaced, and null values in
/// `over` ignored.
pub fn merge(base: &Node, over: &Node) -> Node {
    match (&base.value, &over.value) {
        (_, Value::Null) => base.clone(),
        (Value::Map(base_entries), Value::Map(over_entries)) => {
            let mut merged = base_entries.clone();
            for (key, value) in over_entries {
                let existing = merged
                    .iter_mut()
                    .find(|(k, _)| same_key(k, key))
                    .map(|(_, v)| v);
                match existing {
                    Some(slot) => *slot = merge(slot, value),
                    None if !value.is_null() => merged.push((key.clone(), value.clone())),
                    None => {}
                }
            }
            Node::new(Value::Map(merged), base.at)
        }
        _ => over.clone(),
    }
}

fn same_key(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Str(x), Value::Str(y)) => x == y,
        _ => false,
    }
}

/// Parses a whole document. An empty document is an empty mapping.
pub fn parse(source: &str) -> Result<Node, serde_saphyr::Error> {
    if source.trim().is_empty() {
        return Ok(Node::new(Value::Map(Vec::new()), Position::new(1, 1)));
    }
    let spanned: Spanned<Value> = serde_saphyr::from_str(source)?;
    let mut root = to_node(spanned);
    keys_as_written(&mut root, source);
    Ok(root)
}

/// Mapping keys are names, so a key reads as its text: the YAML 1.1 booleans serde-saphyr
/// resolves (`Y`, `n`, `on`) and numbers (`1`) would otherwise not match any name.
fn keys_as_written(node: &mut Node, source: &str) {
    match &mut node.value {
        Value::Seq(items) => items
            .iter_mut()
            .for_each(|item| keys_as_written(item, source)),
        Value::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                if !matches!(key.value, Value::Str(_))
                    && let Some(text) = key.scalar_text(source)
                {
                    key.value = Value::Str(text);
                }
                keys_as_written(value, source);
            }
        }
        _ => {}
    }
}

/// A node is placed where it is used (`referenced`: for an alias `*v` or a merged entry,
/// the alias or the merge key), so that errors point at the line that used it; its text
/// as written is read where it is defined (the anchored value), not as `*v`.
fn to_node(spanned: Spanned<Value>) -> Node {
    let mut at = Position::from_location(&spanned.referenced);
    at.bytes = Position::from_location(&spanned.defined).bytes;
    Node::new(spanned.value, at)
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Value, E> {
        String::from_utf8(v.to_vec())
            .map(Value::Str)
            .map_err(|_| E::custom("binary values are not supported"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = access.next_element::<Spanned<Value>>()? {
            items.push(to_node(item));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = access.next_key::<Spanned<Value>>()? {
            let value = access.next_value::<Spanned<Value>>()?;
            entries.push((to_node(key), to_node(value)));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(node: &'a Node, key: &str) -> &'a Node {
        match &node.value {
            Value::Map(entries) => {
                &entries
                    .iter()
                    .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
                    .unwrap()
                    .1
            }
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn nodes_know_their_line_and_column() {
        let doc = parse("a: 1\nb:\n  c: [x, y]\n").unwrap();
        let c = entry(entry(&doc, "b"), "c");
        assert_eq!((c.at.line, c.at.column), (3, 6));
        let Value::Seq(items) = &c.value else {
            panic!("expected a list")
        };
        assert_eq!((items[1].at.line, items[1].at.column), (3, 10));
    }

    #[test]
    fn plain_scalars_read_back_as_written() {
        let src = "tag: 1.10\nflag: yes\nn: 007\nq: \"1.10\"\nY: 1\n";
        let doc = parse(src).unwrap();
        assert_eq!(entry(&doc, "tag").scalar_text(src).unwrap(), "1.10");
        assert_eq!(entry(&doc, "flag").scalar_text(src).unwrap(), "yes");
        assert_eq!(entry(&doc, "n").scalar_text(src).unwrap(), "007");
        assert_eq!(entry(&doc, "q").scalar_text(src).unwrap(), "1.10");
        assert_eq!(
            entry(&doc, "Y").scalar_text(src).unwrap(),
            "1",
            "keys read as written"
        );
    }

    #[test]
    fn merge_is_recursive_for_mappings_and_replaces_the_rest() {
        let base = parse("env: {A: '1', B: '2'}\nlist: [a, b]\nkeep: x\n").unwrap();
        let over = parse("env: {B: '3', C: '4'}\nlist: [c]\nkeep: null\n").unwrap();
        let merged = merge(&base, &over);
        let src = "";
        let env = entry(&merged, "env");
        assert_eq!(entry(env, "A").scalar_text(src).unwrap(), "1");
        assert_eq!(entry(env, "B").scalar_text(src).unwrap(), "3");
        assert_eq!(entry(env, "C").scalar_text(src).unwrap(), "4");
        let Value::Seq(list) = &entry(&merged, "list").value else {
            panic!("expected a list")
        };
        assert_eq!(list.len(), 1);
        assert_eq!(entry(&merged, "keep").scalar_text(src).unwrap(), "x");
    }

    #[test]
    fn anchors_aliases_and_merge_keys_resolve_to_their_values() {
        let src = "a: &v 1.10\nb: *v\ns: &s text\nt: *s\nl: &l [x, y]\nm: *l\nbase: &base {k: '1', j: 2}\nover:\n  <<: *base\n  j: 3\nf: &f yes\ng: *f\n";
        let doc = parse(src).unwrap();
        assert_eq!(entry(&doc, "a").scalar_text(src).unwrap(), "1.10");
        assert_eq!(entry(&doc, "b").scalar_text(src).unwrap(), "1.10");
        assert_eq!(entry(&doc, "t").scalar_text(src).unwrap(), "text");
        assert_eq!(entry(&doc, "g").scalar_text(src).unwrap(), "yes");
        let Value::Seq(items) = &entry(&doc, "m").value else {
            panic!("expected a list")
        };
        assert_eq!(items[1].scalar_text(src).unwrap(), "y");
        let over = entry(&doc, "over");
        assert_eq!(entry(over, "k").scalar_text(src).unwrap(), "1");
        assert_eq!(entry(over, "j").scalar_text(src).unwrap(), "3");
        let b = entry(&doc, "b");
        assert_eq!((b.at.line, b.at.column), (2, 4), "placed where it is used");
    }

    #[test]
    fn syntax_errors_carry_a_location() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        let location = err.location().expect("a location");
        assert_eq!(location.line(), 2);
    }

    #[test]
    fn empty_document_is_an_empty_mapping() {
        assert!(matches!(parse("  \n").unwrap().value, Value::Map(ref m) if m.is_empty()));
    }
}
