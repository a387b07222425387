//! Errors in rule and scene definitions, each naming the field (and, for CEL, the position).

use serde::{Deserialize, Serialize};
use std::fmt;

/// One problem in a definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DefinitionError {
    /// Path of the field, e.g. `condition` or `actions[1].timeout`.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
    /// For an expression: line of the error inside it, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// For an expression: column of the error inside its line, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(
                    f,
                    "{} (line {line}, column {column}): {}",
                    self.path, self.message
                )
            }
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Every problem found in one definition; never empty when returned as an error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct DefinitionErrors(pub Vec<DefinitionError>);

impl DefinitionErrors {
    /// Records a problem at `path`.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(DefinitionError {
            path: path.into(),
            message: message.into(),
            line: None,
            column: None,
        });
    }

    /// One problem at `path`.
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.push(path, message);
        errors
    }

    /// `Ok(())` when nothing was recorded.
    pub fn into_result(self) -> Result<(), DefinitionErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for DefinitionErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Parses JSON into `T`, naming the path of the field that does not fit.
pub fn from_json<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, DefinitionErrors> {
    let deserializer = &mut serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let outer = e.path().to_string();
        let message = e.into_inner().to_string();
        // An error inside a tagged object carries its inner path (see `variant`).
        let (path, message) = match message
            .strip_prefix(INNER_PATH)
            .and_then(|m| m.split_once(INNER_PATH))
        {
            Some((inner, rest)) => (join_paths(&outer, inner), rest.to_owned()),
            None => (join_paths(&outer, "."), message),
        };
        DefinitionErrors::single(path, message)
    })
}

/// Marks the inner path at the start of an error message from inside a tagged object.
const INNER_PATH: char = '\u{1}';

fn join_paths(outer: &str, inner: &str) -> String {
    match (outer, inner) {
        (".", ".") => String::new(),
        (".", inner) => inner.to_owned(),
        (outer, ".") => outer.to_owned(),
        (outer, inner) if inner.starts_with('[') => format!("{outer}{inner}"),
        (outer, inner) => format!("{outer}.{inner}"),
    }
}

/// Reads an object tagged by its `type` (one of `types`): the tag and the other fields.
///
/// serde's own internally tagged enums buffer their content and lose the path of an error
/// inside it; reading the variant with [`variant`] keeps it.
pub(crate) fn tagged<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    types: &'static [&'static str],
) -> Result<(String, serde_json::Value), D::Error> {
    use serde::de::Error;
    let mut fields = serde_json::Map::deserialize(deserializer)?;
    let tag = match fields.remove("type") {
        Some(serde_json::Value::String(tag)) => tag,
        Some(_) => return Err(D::Error::custom(inner_error("type", "must be a string"))),
        None => return Err(D::Error::missing_field("type")),
    };
    if !types.contains(&tag.as_str()) {
        return Err(D::Error::custom(inner_error(
            "type",
            &format!("unknown type `{tag}`, expected one of {types:?}"),
        )));
    }
    Ok((tag, serde_json::Value::Object(fields)))
}

/// Reads the fields of one variant of a tagged object, keeping the path of an error.
pub(crate) fn variant<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    fields: serde_json::Value,
) -> Result<T, E> {
    serde_path_to_error::deserialize(fields).map_err(|e| {
        E::custom(inner_error(
            &e.path().to_string(),
            &e.into_inner().to_string(),
        ))
    })
}

fn inner_error(path: &str, message: &str) -> String {
    format!("{INNER_PATH}{path}{INNER_PATH}{message}")
}
