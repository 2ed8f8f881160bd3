//! The generic in-place update: replace one dependency's requirement span and nothing else.

use crate::manager::Dependency;

/// Why a requirement could not be replaced.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UpdateError {
    #[error("dependency `{0}` has no requirement span to update")]
    NoSpan(String),
    #[error(
        "the text at {start}..{end} is not the requirement `{expected}` (the file changed since extraction)"
    )]
    Mismatch {
        start: usize,
        end: usize,
        expected: String,
    },
}

/// Return `text` with `dependency`'s requirement replaced by `new_requirement`; every other byte
/// is preserved. Fails when the span no longer holds the extracted requirement.
pub fn replace_requirement(
    text: &str,
    dependency: &Dependency,
    new_requirement: &str,
) -> Result<String, UpdateError> {
    let span = dependency
        .span
        .ok_or_else(|| UpdateError::NoSpan(dependency.name.clone()))?;
    let current = span.slice(text);
    if current.is_none() || current != dependency.requirement.as_deref() {
        return Err(UpdateError::Mismatch {
            start: span.start,
            end: span.end,
            expected: dependency.requirement.clone().unwrap_or_default(),
        });
    }
    let mut out = String::with_capacity(text.len() + new_requirement.len());
    out.push_str(&text[..span.start]);
    out.push_str(new_requirement);
    out.push_str(&text[span.end..]);
    Ok(out)
}
