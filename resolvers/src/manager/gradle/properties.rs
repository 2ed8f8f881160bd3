//! `gradle.properties`: the project properties build scripts read as `$name`, `${name}`,
//! `project.name` or a Kotlin `val name: String by project`.
//!
//! The file itself declares no dependency; its extraction carries [`Property`] values with their
//! spans. [`referenced_property`] names the property an unresolved script version refers to; the
//! scan's step that resolves references between files (`scan::resolve_references`, over a whole
//! project) then moves such a dependency onto the `gradle.properties` that defines it: the
//! dependency is reported in that file, with the property value as its requirement and span, so an
//! update edits `kotlin_version=1.9.0` where it is written. As in Gradle, a project's own
//! `gradle.properties` wins over its parents' (the nearest file up the directory tree that
//! defines the name).
//!
//! The format is Java's `.properties`: `key=value`, `key: value` or `key value`, `#`/`!`
//! comments. A value continued with a trailing `\` or written with escapes has no single span and
//! is left out.

use super::lexer::sole_interpolation;
use crate::manager::{Dependency, Extraction, Property, SkipReason, Span, file_name};

/// Does `path` name a Gradle properties file of the project (not the wrapper's)?
pub(super) fn is_properties_file(path: &str) -> bool {
    file_name(path) == "gradle.properties"
}

/// Read the property definitions of a `gradle.properties` text.
pub(super) fn extract(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let mut offset = 0;
    let mut continued = false;
    for line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let was_continued = continued;
        continued = ends_with_continuation(body);
        if was_continued {
            continue;
        }
        let trimmed = body.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let indent = body.len() - trimmed.len();
        let key_end = trimmed
            .find(|c: char| c == '=' || c == ':' || c.is_whitespace())
            .unwrap_or(trimmed.len());
        let Some(key) = trimmed.get(..key_end) else {
            continue;
        };
        if key.is_empty() || key.contains('\\') || continued {
            continue;
        }
        let rest = trimmed.get(key_end..).unwrap_or_default();
        let after_space = rest.trim_start_matches([' ', '\t', '\u{c}']);
        let after_separator = after_space
            .strip_prefix(['=', ':'])
            .unwrap_or(after_space)
            .trim_start_matches([' ', '\t', '\u{c}']);
        let value = after_separator.trim_end();
        if value.is_empty() || value.contains('\\') {
            continue;
        }
        let start = line_start + indent + key_end + (rest.len() - after_separator.len());
        out.properties.push(Property {
            name: key.to_owned(),
            value: value.to_owned(),
            span: Span::new(start, start + value.len()),
        });
    }
    out
}

/// Does a properties line end in an odd number of backslashes (the value goes on)?
fn ends_with_continuation(line: &str) -> bool {
    line.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

/// The property name a dependency's unresolved version refers to: `$name`, `${name}`, `name`,
/// optionally behind `project.`, `rootProject.` or `ext.`.
fn referenced_name(requirement: &str) -> Option<&str> {
    let requirement = requirement.trim();
    let expression = sole_interpolation(requirement).unwrap_or(requirement);
    let mut name = expression;
    for prefix in ["rootProject.", "project.", "ext."] {
        name = name.strip_prefix(prefix).unwrap_or(name);
    }
    let identifier = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    identifier.then_some(name)
}

/// The name of the `gradle.properties` value the version of `dependency`, read from the Gradle
/// file at `path`, refers to: a script dependency left unresolved whose version is a reference
/// such as `"$kotlin_version"`. Properties files themselves refer to nothing.
pub(super) fn referenced_property<'a>(path: &str, dependency: &'a Dependency) -> Option<&'a str> {
    if is_properties_file(path) || dependency.skip != Some(SkipReason::UnresolvedVariable) {
        return None;
    }
    dependency.requirement.as_deref().and_then(referenced_name)
}
