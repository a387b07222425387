//! Identifiers: what a tenant, product, device, asset or property id may look like.
//!
//! An id is 1 to 64 characters of ASCII letters, digits, `_`, `-` and `.`, not starting with
//! `.` or `-`. This keeps ids safe inside MQTT topics (no `/`, `+`, `#`), URLs and file names.

use crate::error::ValidationErrors;

/// Longest id accepted.
pub const MAX_ID_LEN: usize = 64;

/// Why `id` is not a valid identifier, or `None` when it is.
pub fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        return Some("must not be empty");
    }
    if id.len() > MAX_ID_LEN {
        return Some("must be at most 64 characters");
    }
    if id.starts_with(['.', '-']) {
        return Some("must not start with '.' or '-'");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Some("may contain only ASCII letters, digits, '_', '-' and '.'");
    }
    None
}

/// Records an error at `path` in `errors` when `id` is not a valid identifier.
pub fn check_id(errors: &mut ValidationErrors, path: &str, id: &str) {
    if let Some(problem) = id_problem(id) {
        errors.push(path, format!("invalid id {id:?}: {problem}"));
    }
}

/// Checks one id, returning the error at `path`.
pub fn validate_id(path: &str, id: &str) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    check_id(&mut errors, path, id);
    errors.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_topic_safe_ids() {
        for ok in ["st-1", "a", "pm2.5", "A_b-c.d", &"x".repeat(64)] {
            assert_eq!(id_problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn rejects_unsafe_ids() {
        for bad in [
            "",
            "a/b",
            "a+b",
            "#",
            "-x",
            ".x",
            "é",
            "a b",
            &"x".repeat(65),
        ] {
            assert!(id_problem(bad).is_some(), "{bad:?}");
        }
    }
}
