//! DynamoDB's naming rule for tables and indexes — 3 to 255 characters of
//! `a-z A-Z 0-9 _ - .` — checked in one place, for specs (`create_table`) and for
//! every request that names a table or an index, before anything is looked up.

use super::error::DbError;

/// Shortest table or index name.
pub const MIN_NAME_LEN: usize = 3;
/// Longest table or index name.
pub const MAX_NAME_LEN: usize = 255;

/// What is wrong with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameProblem {
    TooShort,
    TooLong,
    /// The first character outside the allowed set.
    BadChar(char),
}

/// The first problem of `name`, if any.
pub(crate) fn name_problem(name: &str) -> Option<NameProblem> {
    // Every allowed character is one byte, so a name with a multi-byte character is
    // reported for that character even when its byte length is out of range.
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Some(NameProblem::BadChar(c));
    }
    if name.len() < MIN_NAME_LEN {
        return Some(NameProblem::TooShort);
    }
    if name.len() > MAX_NAME_LEN {
        return Some(NameProblem::TooLong);
    }
    None
}

/// The rule broken, in the words of a spec error (`what`: "table" or "index").
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), String> {
    match name_problem(name) {
        None => Ok(()),
        Some(NameProblem::BadChar(c)) => Err(format!(
            "{what} name {:?} has the character {c:?}; allowed are a-z, A-Z, 0-9, '_', '-', '.'",
            shown(name)
        )),
        Some(_) => Err(format!(
            "{what} name must be {MIN_NAME_LEN} to {MAX_NAME_LEN} characters, got {} ({:?})",
            name.len(),
            shown(name)
        )),
    }
}

/// Checks the name a request gives for a table (`field` is DynamoDB's parameter:
/// `tableName`) or an index (`indexName`): DynamoDB's `ValidationException`.
pub(crate) fn validate_name(field: &str, name: &str) -> Result<(), DbError> {
    let constraint = match name_problem(name) {
        None => return Ok(()),
        Some(NameProblem::TooShort) => {
            format!("Member must have length greater than or equal to {MIN_NAME_LEN}")
        }
        Some(NameProblem::TooLong) => {
            format!("Member must have length less than or equal to {MAX_NAME_LEN}")
        }
        Some(NameProblem::BadChar(_)) => {
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+".to_owned()
        }
    };
    Err(DbError::invalid(format!(
        "1 validation error detected: Value '{}' at '{field}' failed to satisfy constraint: {constraint}",
        shown(name)
    )))
}

/// Checks a table name given in a request.
pub(crate) fn validate_table_name(name: &str) -> Result<(), DbError> {
    validate_name("tableName", name)
}

/// Checks an index name given in a request.
pub(crate) fn validate_index_name(name: &str) -> Result<(), DbError> {
    validate_name("indexName", name)
}

/// A name as shown in a message: at most `MAX_NAME_LEN` characters.
pub(crate) fn shown(name: &str) -> String {
    let mut s: String = name.chars().take(MAX_NAME_LEN).collect();
    if s.len() < name.len() {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert_eq!(name_problem("abc"), None);
        assert_eq!(name_problem("a.b-c_D9"), None);
        assert_eq!(name_problem(&"x".repeat(255)), None);
        assert_eq!(name_problem(""), Some(NameProblem::TooShort));
        assert_eq!(name_problem("ab"), Some(NameProblem::TooShort));
        assert_eq!(name_problem(&"x".repeat(256)), Some(NameProblem::TooLong));
        assert_eq!(name_problem("a b"), Some(NameProblem::BadChar(' ')));
        assert_eq!(name_problem("a/b"), Some(NameProblem::BadChar('/')));
        assert_eq!(name_problem("é"), Some(NameProblem::BadChar('é')));
        assert_eq!(name_problem("ab\0"), Some(NameProblem::BadChar('\0')));
    }

    #[test]
    fn request_errors_are_validation_errors_with_dynamodb_wording() {
        let e = validate_table_name("").unwrap_err();
        assert!(e.is_validation());
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value '' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
        );
        let e = validate_index_name("a*b").unwrap_err();
        assert!(e.to_string().contains("at 'indexName'"));
        assert!(e.to_string().contains("regular expression pattern"));
        let long = "y".repeat(100_000);
        let e = validate_table_name(&long).unwrap_err();
        assert!(e.to_string().contains("less than or equal to 255"));
        assert!(
            e.to_string().len() < 600,
            "the message shows a bounded prefix"
        );
        assert!(validate_table_name("ok_name").is_ok());
    }

    #[test]
    fn spec_errors_name_the_rule() {
        assert!(check_name("table", "ab").unwrap_err().contains("3 to 255"));
        assert!(check_name("index", "a b").unwrap_err().contains("' '"));
        assert!(check_name("index", "abc").is_ok());
    }
}
