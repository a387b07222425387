//! Errors in rule and scene definitions, each naming the field (and, for CEL, the position).

use serde::Serialize;
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
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        DefinitionErrors::single(path, e.into_inner().to_string())
    })
}
