//! JSON Schemas that every client accepts.
//!
//! Generated with schemars (JSON Schema 2020-12), then made conservative: subschemas inlined
//! (recursive types keep a local `$defs`), non-standard `format`s removed, `null` dropped from
//! properties that are optional anyway, and `additionalProperties: false` on the root.

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

/// The formats JSON Schema 2020-12 defines; any other (`int64`, `uint8`, `double`, …) is dropped,
/// since several clients reject what they do not know.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// A schema generator with this crate's settings.
pub fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator()
}

/// The conservative schema of one type, as it appears inside another schema.
pub fn subschema<T: JsonSchema + ?Sized>(generator: &mut SchemaGenerator) -> Value {
    let mut v = generator.subschema_for::<T>().to_value();
    simplify(&mut v);
    v
}

/// Builds the input schema of a tool (or the argument list of a prompt) one argument at a time.
#[derive(Debug)]
pub struct ObjectSchema {
    generator: SchemaGenerator,
    properties: Map<String, Value>,
    required: Vec<String>,
    /// Whether arguments it does not name are accepted (an `Args<T>` whose `T` allows them).
    open: bool,
}

impl Default for ObjectSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl ObjectSchema {
    /// An empty object schema.
    pub fn new() -> Self {
        Self {
            generator: generator(),
            properties: Map::new(),
            required: Vec::new(),
            open: false,
        }
    }

    /// Adds a property of type `T`.
    pub fn property<T: JsonSchema + ?Sized>(&mut self, name: &str, description: Option<&str>, required: bool) {
        let mut schema = subschema::<T>(&mut self.generator);
        if !required {
            strip_null(&mut schema);
        }
        if let (Some(d), Value::Object(o)) = (description, &mut schema) {
            o.insert("description".into(), Value::String(d.to_owned()));
        }
        self.properties.insert(name.to_owned(), schema);
        if required {
            self.required.push(name.to_owned());
        }
    }

    /// Adds every property of `T`, whose schema must be an object: the schema of an
    /// `Args<T>`. Arguments it does not name are accepted unless `T`'s schema refuses them
    /// (`#[serde(deny_unknown_fields)]`).
    pub fn whole<T: JsonSchema + ?Sized>(&mut self) -> Result<(), String> {
        let schema = subschema::<T>(&mut self.generator);
        let type_name = std::any::type_name::<T>();
        let Value::Object(mut o) = schema else {
            return Err(format!("`Args<{type_name}>` needs a type whose schema is an object"));
        };
        if o.get("type").and_then(Value::as_str) != Some("object") {
            return Err(format!(
                "`Args<{type_name}>` needs a type whose schema is an object with properties (a struct with named fields), not {}",
                Value::Object(o)
            ));
        }
        if let Some(Value::Object(props)) = o.remove("properties") {
            for (name, p) in props {
                self.properties.insert(name, p);
            }
        }
        if let Some(Value::Array(required)) = o.remove("required") {
            self.required
                .extend(required.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        self.open = o.get("additionalProperties") != Some(&Value::Bool(false));
        Ok(())
    }

    /// Shows `value` as the property's `default`, and no longer requires it.
    pub fn set_default(&mut self, name: &str, value: Value) {
        if let Some(Value::Object(p)) = self.properties.get_mut(name) {
            p.insert("default".into(), value);
        }
        self.required.retain(|r| r != name);
    }

    /// Whether a property of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.properties.contains_key(name)
    }

    /// The finished schema: `{"type":"object", properties, required, additionalProperties: false}`.
    pub fn finish(mut self) -> Value {
        let mut root = Map::new();
        root.insert("type".into(), json!("object"));
        if !self.properties.is_empty() {
            root.insert("properties".into(), Value::Object(self.properties));
        }
        if !self.required.is_empty() {
            root.insert("required".into(), json!(self.required));
        }
        if !self.open {
            root.insert("additionalProperties".into(), Value::Bool(false));
        }
        let defs = self.generator.take_definitions(true);
        if !defs.is_empty() {
            let mut defs = Value::Object(defs);
            simplify(&mut defs);
            root.insert("$defs".into(), defs);
        }
        Value::Object(root)
    }
}

/// The root schema of `T` as a tool's output schema, with its `$defs`.
pub fn root_schema<T: JsonSchema + ?Sized>() -> Value {
    let mut generator = generator();
    let mut v = generator.subschema_for::<T>().to_value();
    let defs = generator.take_definitions(true);
    if !defs.is_empty() {
        if let Value::Object(o) = &mut v {
            o.insert("$defs".into(), Value::Object(defs));
        } else {
            v = json!({ "allOf": [v], "$defs": defs });
        }
    }
    simplify(&mut v);
    v
}

/// Whether a schema describes only JSON objects (so it can be a legacy `outputSchema` as is).
pub fn is_object_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
}

/// Applies the conservative rewrites to a schema and everything inside it.
pub fn simplify(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(f)) = o.get("format")
                && !STANDARD_FORMATS.contains(&f.as_str())
            {
                o.remove("format");
            }
            if let (Some(Value::Object(props)), required) = (o.get("properties"), o.get("required")) {
                let required: Vec<String> = required
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default();
                let optional: Vec<String> = props.keys().filter(|k| !required.contains(k)).cloned().collect();
                if let Some(Value::Object(props)) = o.get_mut("properties") {
                    for k in optional {
                        if let Some(p) = props.get_mut(&k) {
                            strip_null(p);
                        }
                    }
                }
            }
            for (_, child) in o.iter_mut() {
                simplify(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(simplify),
        _ => {}
    }
}

/// Drops `null` from a schema whose property may be left out anyway:
/// `{"type":["integer","null"]}` becomes `{"type":"integer"}`, and
/// `{"anyOf":[X,{"type":"null"}]}` becomes `X`.
fn strip_null(schema: &mut Value) {
    let Value::Object(o) = schema else { return };
    if let Some(Value::Array(types)) = o.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let t = types.remove(0);
            o.insert("type".into(), t);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alts)) = o.get_mut(key) {
            alts.retain(|a| {
                a.get("type").and_then(Value::as_str) != Some("null") || a.as_object().is_some_and(|m| m.len() > 1)
            });
            if alts.len() == 1 {
                let only = alts.remove(0);
                o.remove(key);
                if let Value::Object(inner) = only {
                    for (k, v) in inner {
                        o.entry(k).or_insert(v);
                    }
                }
            }
        }
    }
    if let Some(Value::Array(e)) = o.get_mut("enum") {
        e.retain(|x| !x.is_null());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_lose_null_and_formats_are_standard() {
        let mut s = ObjectSchema::new();
        s.property::<u64>("n", Some("a count"), true);
        s.property::<Option<i32>>("o", None, false);
        let v = s.finish();
        assert_eq!(
            v,
            json!({
                "type": "object",
                "properties": {
                    "n": {"type": "integer", "minimum": 0, "description": "a count"},
                    "o": {"type": "integer"}
                },
                "required": ["n"],
                "additionalProperties": false
            })
        );
    }
}
