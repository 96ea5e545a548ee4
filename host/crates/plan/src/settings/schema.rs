//! The JSON Schema (draft 2020-12) of `dockwright.yaml`, generated from the same declarative
//! description of the keys the reader checks against ([`super::spec`]), for editors
//! (`# yaml-language-server: $schema=…`) and `dockwright schema`.
//!
//! What a schema cannot tell (a requirements file that does not exist, an unknown
//! integration, a dependency cycle between steps) is left to `dockwright plan`.

use serde_json::{Map, Value, json};

use super::spec::{Field, Shape, TOP};

/// The schema of a pipeline file.
pub fn json_schema() -> Value {
    let mut schema = object(&TOP, false);
    let extra = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dockwright.yaml",
        "description": "A Dockwright pipeline: the Docker settings (ZenML's DockerSettings field names) of the images its steps run in, and the steps.",
    });
    if let (Value::Object(schema), Value::Object(extra)) = (&mut schema, extra) {
        for (key, value) in extra {
            schema.insert(key, value);
        }
    }
    schema
}

fn object(fields: &[Field], open: bool) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|f| (f.name.to_owned(), property(f)))
        .collect();
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    if !open {
        schema["additionalProperties"] = json!(false);
    }
    schema
}

/// A key's schema: its shape, documented; an optional key may also be null, which the
/// reader takes as "not given".
fn property(field: &Field) -> Value {
    let mut schema = shape(&field.shape);
    if !field.required {
        schema = nullable(schema);
    }
    schema["description"] = json!(field.doc);
    if let Some(default) = field.default {
        schema["default"] = serde_json::from_str(default).expect("defaults are JSON");
    }
    if field.deprecated {
        schema["deprecated"] = json!(true);
    }
    schema
}

fn shape(shape: &Shape) -> Value {
    match shape {
        Shape::Str => json!({"type": "string"}),
        Shape::Pattern(pattern) => json!({"type": "string", "pattern": pattern}),
        Shape::Scalar => json!({"type": ["string", "number", "boolean"]}),
        Shape::Bool => json!({"type": "boolean"}),
        Shape::UInt => json!({"type": "integer", "minimum": 0}),
        Shape::Strings => json!({"type": "array", "items": {"type": "string"}}),
        Shape::Word(words) => json!({"type": "string", "enum": words}),
        Shape::AnyOf(shapes) => {
            json!({"anyOf": shapes.iter().map(self::shape).collect::<Vec<_>>()})
        }
        Shape::Object(fields) => object(fields, false),
        Shape::OpenObject(fields) => object(fields, true),
        Shape::MapOf(value) => {
            json!({"type": "object", "additionalProperties": self::shape(value)})
        }
        Shape::KeysOf(keys, value) => {
            let value = self::shape(value);
            let properties: Map<String, Value> = keys
                .iter()
                .map(|k| ((*k).to_owned(), value.clone()))
                .collect();
            json!({"type": "object", "properties": properties, "additionalProperties": false})
        }
        Shape::ListOf(item) => json!({"type": "array", "items": self::shape(item)}),
        Shape::Any => json!({}),
    }
}

fn nullable(mut schema: Value) -> Value {
    if schema.as_object().is_some_and(Map::is_empty) {
        return schema;
    }
    match schema.get_mut("type") {
        Some(Value::String(kind)) => {
            let kind = std::mem::take(kind);
            schema["type"] = json!([kind, "null"]);
            if let Some(Value::Array(words)) = schema.get_mut("enum") {
                words.push(Value::Null);
            }
            schema
        }
        Some(Value::Array(kinds)) => {
            kinds.push(json!("null"));
            schema
        }
        _ => json!({"anyOf": [schema, {"type": "null"}]}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_docker_field_the_reader_knows_is_documented() {
        let schema = json_schema();
        let docker = &schema["properties"]["settings"]["properties"]["docker"]["properties"];
        for name in super::super::docker::FIELDS {
            let description = docker[name]["description"].as_str();
            assert!(
                description.is_some_and(|d| !d.is_empty()),
                "{name} has no description"
            );
        }
        assert_eq!(docker["python_package_installer"]["default"], "uv");
        assert_eq!(docker["install_stack_requirements"]["default"], true);
        assert_eq!(docker["dockerignore"]["deprecated"], true);
    }

    #[test]
    fn optional_keys_accept_null_and_keep_their_enum() {
        let schema = json_schema();
        let installer = &schema["properties"]["settings"]["properties"]["docker"]["properties"]["python_package_installer"];
        assert_eq!(installer["type"], json!(["string", "null"]));
        assert_eq!(installer["enum"], json!(["pip", "uv", null]));
        assert_eq!(schema["required"], json!(["name"]));
        assert_eq!(schema["properties"]["name"]["type"], "string");
    }
}
