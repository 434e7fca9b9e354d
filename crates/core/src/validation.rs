//! Field-level validation errors, collected so a client learns every bad field at once.

use std::fmt;

/// One rejected field: a JSON path such as `items[0].quantity` and a message safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Most field errors one [`ValidationErrors`] lists. Beyond it they are only counted: a body
/// can break more rules than a client will read, and the error must stay small whatever the
/// body.
pub const MAX_FIELD_ERRORS: usize = 50;

/// A non-empty list of field errors: the first [`MAX_FIELD_ERRORS`], and how many more there were.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors {
    fields: Vec<FieldError>,
    omitted: usize,
}

impl ValidationErrors {
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            fields: vec![FieldError::new(field, message)],
            omitted: 0,
        }
    }

    /// The errors listed, in the order they were found.
    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }

    /// How many errors were found beyond those listed.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// Every error found, listed or not.
    pub fn total(&self) -> usize {
        self.fields.len() + self.omitted
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.message)?;
        }
        if self.omitted > 0 {
            write!(f, "; and {} more", self.omitted)?;
        }
        Ok(())
    }
}

/// Accumulates field errors while a request is parsed into domain types, keeping the first
/// [`MAX_FIELD_ERRORS`] and counting the rest.
#[derive(Debug, Default)]
pub struct Collector {
    fields: Vec<FieldError>,
    omitted: usize,
}

impl Collector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value of `result`, or records its error under `field`.
    pub fn take<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.record(|| FieldError::new(field, e.to_string()));
                None
            }
        }
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.record(|| FieldError::new(field, message));
    }

    /// Builds the error only while there is room to list it.
    fn record(&mut self, error: impl FnOnce() -> FieldError) {
        if self.fields.len() < MAX_FIELD_ERRORS {
            self.fields.push(error());
        } else {
            self.omitted += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// `Ok(())` when nothing was recorded.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.fields.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors {
                fields: self.fields,
                omitted: self.omitted,
            })
        }
    }
}

/// Free text bounded in length, with no control characters, trimmed.
pub fn bounded_text(value: &str, max_chars: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_beyond_the_cap_are_counted_not_listed() {
        let mut c = Collector::new();
        for i in 0..40_000 {
            c.push(format!("items[{i}].sku"), "is not a SKU");
        }
        let e = c.finish().unwrap_err();
        assert_eq!(e.fields().len(), MAX_FIELD_ERRORS);
        assert_eq!(e.fields()[0].field, "items[0].sku");
        assert_eq!(e.omitted(), 40_000 - MAX_FIELD_ERRORS);
        assert_eq!(e.total(), 40_000);
        assert!(e.to_string().ends_with("; and 39950 more"), "{e}");
        assert!(e.to_string().len() < 4_000);
    }

    #[test]
    fn up_to_the_cap_every_field_error_is_listed() {
        let mut c = Collector::new();
        for i in 0..MAX_FIELD_ERRORS {
            c.take::<(), _>(&format!("f{i}"), Err("is wrong"));
        }
        let e = c.finish().unwrap_err();
        assert_eq!(e.fields().len(), MAX_FIELD_ERRORS);
        assert_eq!(e.omitted(), 0);
        assert!(!e.to_string().contains("more"));
    }
}
