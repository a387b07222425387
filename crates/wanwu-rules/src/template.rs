//! Templates in action fields: `${path}` takes a value from the firing's context.
//!
//! The syntax is one thing only: `${a.b.c}` is replaced by the value at that dotted path of the
//! context (see [`crate::context`] for what is in it: `device`, `tenant`, `rule`, `ts`, `kind`,
//! `values.<key>`, `prev.<key>`, `tags.<key>`, `attributes.<key>`, `derived.<key>`,
//! `alarm.<field>`, `event`). `$${` writes a literal `${`.
//!
//! - Inside a longer string the value is written as text: strings as they are, numbers and
//!   bools as JSON, objects and arrays as compact JSON; a path that is absent writes nothing.
//! - In a JSON template (payloads, parameters, details, bodies), a string that is exactly one
//!   `${path}` takes the value itself with its type (`"${values.pm25}"` becomes `87.5`, not
//!   `"87.5"`); an absent path becomes `null`. Keys of objects are not templated.

use serde_json::Value as Json;

/// One piece of a string template.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    /// Text written as it is.
    Text(String),
    /// A dotted path looked up in the context.
    Path(Vec<String>),
}

/// A compiled string template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Compiles `source`; fails on an unterminated `${` or an empty or malformed path.
    pub fn compile(source: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(at) = rest.find('$') {
            text.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("$${") {
                text.push_str("${");
                rest = after;
            } else if let Some(after) = rest.strip_prefix("${") {
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("unterminated \"${{\" in {source:?}"))?;
                let path = &after[..end];
                let segments: Vec<String> = path.split('.').map(|s| s.trim().to_owned()).collect();
                if segments.iter().any(String::is_empty) {
                    return Err(format!(
                        "\"${{{path}}}\" is not a dotted path such as ${{values.pm25}}"
                    ));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Path(segments));
                rest = &after[end + 1..];
            } else {
                text.push('$');
                rest = &rest[1..];
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template { pieces })
    }

    /// The text with every path replaced by its value in `context`.
    pub fn render(&self, context: &Json) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Path(path) => match lookup(context, path) {
                    Some(Json::String(s)) => out.push_str(s),
                    Some(Json::Null) | None => {}
                    Some(other) => out.push_str(&other.to_string()),
                },
            }
        }
        out
    }

    /// The value itself when the template is exactly one `${path}`.
    fn whole_value(&self, context: &Json) -> Option<Json> {
        match self.pieces.as_slice() {
            [Piece::Path(path)] => Some(lookup(context, path).cloned().unwrap_or(Json::Null)),
            _ => None,
        }
    }
}

fn lookup<'a>(context: &'a Json, path: &[String]) -> Option<&'a Json> {
    path.iter()
        .try_fold(context, |value, segment| value.get(segment.as_str()))
}

/// A JSON value whose strings are templates.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonTemplate {
    /// A string template.
    String(Template),
    /// An array of templates.
    Array(Vec<JsonTemplate>),
    /// An object whose values are templates.
    Object(Vec<(String, JsonTemplate)>),
    /// A number, bool or null, kept as it is.
    Literal(Json),
}

impl JsonTemplate {
    /// Compiles every string of `json`; the error names the path of the bad string.
    pub fn compile(json: &Json) -> Result<JsonTemplate, (String, String)> {
        Ok(match json {
            Json::String(s) => {
                JsonTemplate::String(Template::compile(s).map_err(|e| (String::new(), e))?)
            }
            Json::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        JsonTemplate::compile(item)
                            .map_err(|(path, e)| (prefix(&format!("[{i}]"), &path), e))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(key, value)| {
                        let compiled = JsonTemplate::compile(value)
                            .map_err(|(path, e)| (prefix(&format!(".{key}"), &path), e))?;
                        Ok::<_, (String, String)>((key.clone(), compiled))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => JsonTemplate::Literal(other.clone()),
        })
    }

    /// The JSON value with every template rendered against `context`.
    pub fn render(&self, context: &Json) -> Json {
        match self {
            JsonTemplate::String(template) => template
                .whole_value(context)
                .unwrap_or_else(|| Json::String(template.render(context))),
            JsonTemplate::Array(items) => {
                Json::Array(items.iter().map(|t| t.render(context)).collect())
            }
            JsonTemplate::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(key, t)| (key.clone(), t.render(context)))
                    .collect(),
            ),
            JsonTemplate::Literal(json) => json.clone(),
        }
    }
}

fn prefix(head: &str, tail: &str) -> String {
    format!("{head}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> Json {
        json!({"device": "st-1", "values": {"pm25": 87.5, "ok": true}, "tags": {"district": "xuhui"}})
    }

    #[test]
    fn strings_interpolate_and_whole_paths_keep_types() {
        let topic = Template::compile("alerts/${tags.district}/${device}").unwrap();
        assert_eq!(topic.render(&context()), "alerts/xuhui/st-1");
        let payload = JsonTemplate::compile(&json!({
            "pm25": "${values.pm25}", "text": "pm25=${values.pm25} ok=${values.ok}",
            "missing": "${values.nope}", "n": 3, "list": ["${device}"], "lit": "$${device}"
        }))
        .unwrap();
        assert_eq!(
            payload.render(&context()),
            json!({"pm25": 87.5, "text": "pm25=87.5 ok=true", "missing": null, "n": 3,
                   "list": ["st-1"], "lit": "${device}"})
        );
    }

    #[test]
    fn malformed_templates_name_their_path() {
        assert!(Template::compile("a ${device").is_err());
        assert!(Template::compile("${}").is_err());
        assert!(Template::compile("${a..b}").is_err());
        let err = JsonTemplate::compile(&json!({"a": [1, "${x"]})).unwrap_err();
        assert_eq!(err.0, ".a[1]");
    }
}
