//! A span-keeping reader for PEP 508 requirement strings (`name[extras] specifiers ; markers`).
//!
//! Only what an updater needs is recovered: the name, where the version specifier text sits, and
//! whether the requirement points at a URL, a git repository or a local file instead of an index.

use std::ops::Range;

use crate::manager::SkipReason;

/// One parsed requirement; ranges are byte offsets into the string given to [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    /// The specifier text (`>=2.0,<3`), trimmed; `None` when none is written.
    pub specifier: Option<Range<usize>>,
    /// Set for direct references (`name @ https://…`, `name @ git+…`, `name @ file:…`).
    pub skip: Option<SkipReason>,
}

/// PEP 503 normalisation: lowercase, every run of `-`, `_` and `.` becomes one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            in_separator = true;
        } else {
            if in_separator && !out.is_empty() {
                out.push('-');
            }
            in_separator = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The skip reason for a direct reference or a requirements-file URL.
pub fn reference_skip(reference: &str) -> SkipReason {
    let lower = reference.trim().to_ascii_lowercase();
    if lower.starts_with("git+") || lower.starts_with("git://") {
        SkipReason::Git
    } else if lower.starts_with("file:")
        || lower.starts_with('.')
        || lower.starts_with('/')
        || lower.starts_with('~')
        || !lower.contains("://")
    {
        SkipReason::Path
    } else {
        SkipReason::Url
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Parse one PEP 508 requirement. Errors carry a message for a warning.
pub fn parse(input: &str) -> Result<Requirement, String> {
    let start = input.len() - input.trim_start().len();
    let rest = &input[start..];
    let name_len = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
    let raw_name = &rest[..name_len];
    if raw_name.is_empty()
        || !raw_name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !raw_name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err(format!("`{}` is not a valid requirement", input.trim()));
    }
    let name = normalize_name(raw_name);
    let mut pos = start + name_len;
    pos = skip_ws(input, pos);
    if input[pos..].starts_with('[') {
        match input[pos..].find(']') {
            Some(close) => pos = skip_ws(input, pos + close + 1),
            None => return Err(format!("unclosed extras in `{}`", input.trim())),
        }
    }
    let rest = &input[pos..];
    if let Some(reference) = rest.strip_prefix('@') {
        let end = reference.find(';').unwrap_or(reference.len());
        return Ok(Requirement {
            name,
            specifier: None,
            skip: Some(reference_skip(&reference[..end])),
        });
    }
    let (spec_start, spec_end) = if rest.starts_with('(') {
        let Some(close) = rest.find(')') else {
            return Err(format!("unclosed `(` in `{}`", input.trim()));
        };
        (pos + 1, pos + close)
    } else {
        (pos, pos + rest.find(';').unwrap_or(rest.len()))
    };
    let spec = &input[spec_start..spec_end];
    let trimmed = spec.trim();
    if trimmed.is_empty() {
        return Ok(Requirement {
            name,
            specifier: None,
            skip: None,
        });
    }
    if !trimmed.starts_with(['<', '>', '=', '!', '~']) {
        return Err(format!(
            "`{trimmed}` after `{raw_name}` is not a version specifier"
        ));
    }
    let lead = spec.len() - spec.trim_start().len();
    let begin = spec_start + lead;
    Ok(Requirement {
        name,
        specifier: Some(begin..begin + trimmed.len()),
        skip: None,
    })
}

fn skip_ws(s: &str, pos: usize) -> usize {
    let rest = s.get(pos..).unwrap_or_default();
    pos + (rest.len() - rest.trim_start().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(input: &str) -> Option<&str> {
        parse(input).unwrap().specifier.map(|r| &input[r])
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalize_name("Zope.SQLAlchemy"), "zope-sqlalchemy");
        assert_eq!(normalize_name("a__b-.-c"), "a-b-c");
        assert_eq!(normalize_name("PyYAML"), "pyyaml");
    }

    #[test]
    fn specifiers_are_found_exactly() {
        assert_eq!(spec("requests>=2.0,<3"), Some(">=2.0,<3"));
        assert_eq!(spec("asgiref >= 3.7.0"), Some(">= 3.7.0"));
        assert_eq!(spec("coverage[toml]==7.10.6"), Some("==7.10.6"));
        assert_eq!(spec("a [x, y] ~=1.4 ; python_version<'3.8'"), Some("~=1.4"));
        assert_eq!(spec("old (>=1.0, <2)"), Some(">=1.0, <2"));
        assert_eq!(spec("geoip2; python_version < '3.13'"), None);
        assert_eq!(spec("x===1.0+local"), Some("===1.0+local"));
    }

    #[test]
    fn direct_references_are_skipped() {
        let r = parse("pkg @ git+https://example.invalid/x.git@v1").unwrap();
        assert_eq!(r.skip, Some(SkipReason::Git));
        let r = parse("pkg @ https://example.invalid/pkg-1.0.tar.gz ; os_name=='nt'").unwrap();
        assert_eq!(r.skip, Some(SkipReason::Url));
        let r = parse("pkg@file:///tmp/pkg").unwrap();
        assert_eq!(r.skip, Some(SkipReason::Path));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("").is_err());
        assert!(parse("-foo").is_err());
        assert!(parse("foo 1.0").is_err());
        assert!(parse("foo[bar").is_err());
        assert!(parse("foo (>=1").is_err());
    }
}
