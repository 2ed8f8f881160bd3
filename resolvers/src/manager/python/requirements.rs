//! pip requirements files (`requirements*.txt`, `requirements/*.txt`, pip-tools `*.in`).
//!
//! Lines are joined at `\` continuations and comments (`#` at the start or after whitespace) are
//! dropped, as pip does. Per-requirement options (`--hash=…`) are ignored; `-r`/`-c` includes are
//! returned by [`includes`] (the included files are manifests of their own and are scanned
//! separately); `-i/--index-url` becomes every dependency's `registry`.

use std::ops::Range;

use super::pep508::{self, normalize_name, reference_skip};
use crate::Ecosystem;
use crate::manager::{Dependency, Extraction, SkipReason, Span, Warning, line_of};

/// A file named by `-r`/`--requirement` or `-c`/`--constraint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub path: String,
    /// True for `-c` (constraints), false for `-r` (requirements).
    pub constraint: bool,
    /// 1-based line of the option.
    pub line: usize,
}

/// One logical line: the joined text and, per byte, its offset in the file.
struct LogicalLine {
    text: String,
    origin: Vec<usize>,
}

impl LogicalLine {
    /// The file span of `range` when it is contiguous in the file.
    fn span(&self, range: Range<usize>) -> Option<Span> {
        if range.is_empty() {
            return None;
        }
        let start = *self.origin.get(range.start)?;
        let last = *self.origin.get(range.end - 1)?;
        (last + 1 - start == range.len()).then(|| Span::new(start, last + 1))
    }

    fn first_offset(&self) -> usize {
        self.origin.first().copied().unwrap_or_default()
    }
}

/// Strip a comment: `#` at the start of the line or after whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut out = Vec::new();
    let mut current = LogicalLine {
        text: String::new(),
        origin: Vec::new(),
    };
    let mut offset = 0;
    for physical in text.split_inclusive('\n') {
        let body = physical.trim_end_matches(['\n', '\r']);
        let content = strip_comment(body);
        let trimmed = content.trim_end();
        let (piece, continued) = match trimmed.strip_suffix('\\') {
            Some(before) => (before, true),
            None => (content, false),
        };
        current.text.push_str(piece);
        current.origin.extend(offset..offset + piece.len());
        if !continued {
            out.push(std::mem::replace(
                &mut current,
                LogicalLine {
                    text: String::new(),
                    origin: Vec::new(),
                },
            ));
        }
        offset += physical.len();
    }
    if !current.text.is_empty() {
        out.push(current);
    }
    out
}

/// Split an option line into (option, value).
fn split_option(line: &str) -> (&str, &str) {
    let line = line.trim();
    if let Some(long) = line.strip_prefix("--") {
        let end = long
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(long.len());
        let value = long[end..].trim_start_matches(['=', ' ', '\t']).trim();
        (&line[..end + 2], value)
    } else {
        // Short options: `-r file`, `-rfile`.
        let opt_end = line.char_indices().nth(2).map_or(line.len(), |(i, _)| i);
        (&line[..opt_end], line[opt_end..].trim())
    }
}

/// The `-r` and `-c` includes of a requirements file.
pub fn includes(text: &str) -> Vec<Include> {
    logical_lines(text)
        .into_iter()
        .filter_map(|line| {
            let (opt, value) = split_option(&line.text);
            let constraint = match opt {
                "-r" | "--requirement" => false,
                "-c" | "--constraint" => true,
                _ => return None,
            };
            (!value.is_empty()).then(|| Include {
                path: value.to_owned(),
                constraint,
                line: line_of(text, line.first_offset()),
            })
        })
        .collect()
}

/// Options that pip accepts in requirements files and that carry nothing we extract.
const IGNORED_OPTIONS: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "--extra-index-url",
    "--no-index",
    "-f",
    "--find-links",
    "--pre",
    "--trusted-host",
    "--prefer-binary",
    "--require-hashes",
    "--only-binary",
    "--no-binary",
    "--use-feature",
    "--hash",
    "--config-settings",
    "--global-option",
];

/// A name for a URL or path requirement: `#egg=` fragment, else the archive's project name,
/// else the reference itself.
fn reference_name(reference: &str) -> String {
    if let Some((_, fragment)) = reference.split_once("#egg=") {
        let egg = fragment.split(['&', ' ']).next().unwrap_or_default();
        let egg = egg.split(['[', '=', '<', '>']).next().unwrap_or_default();
        if !egg.is_empty() {
            return normalize_name(egg);
        }
    }
    let file = reference
        .split(['#', '?'])
        .next()
        .unwrap_or(reference)
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(reference);
    let is_archive = [".whl", ".tar.gz", ".zip", ".tar.bz2"]
        .iter()
        .any(|ext| file.ends_with(ext));
    if is_archive && let Some((project, _)) = file.split_once('-') {
        return normalize_name(project);
    }
    reference.trim().to_owned()
}

fn looks_like_reference(s: &str) -> bool {
    let first = s.split_whitespace().next().unwrap_or_default();
    first.contains("://")
        || first.starts_with("git+")
        || first.starts_with('.')
        || first.starts_with('/')
        || first.starts_with('~')
        || first.starts_with("file:")
        || [".whl", ".tar.gz", ".zip"]
            .iter()
            .any(|ext| first.ends_with(ext))
}

fn reference_dependency(reference: &str) -> Dependency {
    let reference = reference.split_whitespace().next().unwrap_or(reference);
    let without_extras = reference.split('[').next().unwrap_or(reference);
    Dependency::unversioned(reference_name(without_extras), Ecosystem::Pypi)
        .skip(reference_skip(without_extras))
}

pub fn extract(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let mut index_url: Option<String> = None;
    for line in logical_lines(text) {
        let content = line.text.trim();
        if content.is_empty() {
            continue;
        }
        let line_no = line_of(text, line.first_offset());
        if content.starts_with('-') {
            let (opt, value) = split_option(content);
            match opt {
                "-e" | "--editable" => {
                    if value.is_empty() {
                        out.warnings
                            .push(Warning::at_line(line_no, "`-e` without a target"));
                    } else {
                        let mut dep = reference_dependency(value);
                        if dep.skip == Some(SkipReason::Url) && !value.contains("://") {
                            dep.skip = Some(SkipReason::Path);
                        }
                        out.dependencies.push(dep);
                    }
                }
                "-i" | "--index-url" => index_url = Some(value.to_owned()),
                o if IGNORED_OPTIONS.contains(&o) => {}
                o => out.warnings.push(Warning::at_line(
                    line_no,
                    format!("unknown requirements-file option `{o}`"),
                )),
            }
            continue;
        }
        if looks_like_reference(content) {
            out.dependencies.push(reference_dependency(content));
            continue;
        }
        // Per-requirement options (`--hash=…`) end the PEP 508 part.
        let full = line.text.as_str();
        let req_end = full
            .match_indices("--")
            .find(|(i, _)| *i > 0 && full[..*i].ends_with(char::is_whitespace))
            .map_or(full.len(), |(i, _)| i);
        match pep508::parse(&full[..req_end]) {
            Ok(req) => out.dependencies.push(to_dependency(text, &line, req)),
            Err(message) => out.warnings.push(Warning::at_line(line_no, message)),
        }
    }
    if let Some(url) = index_url {
        for dep in &mut out.dependencies {
            dep.registry = Some(url.clone());
        }
    }
    out
}

fn to_dependency(text: &str, line: &LogicalLine, req: pep508::Requirement) -> Dependency {
    let mut dep = Dependency::unversioned(req.name.clone(), Ecosystem::Pypi);
    if let Some(range) = req.specifier {
        if let Some(span) = line.span(range.clone()) {
            dep = Dependency::at(req.name, Ecosystem::Pypi, text, span);
        } else {
            dep.requirement = line.text.get(range).map(str::to_owned);
        }
    }
    if let Some(skip) = req.skip {
        dep.skip = Some(skip);
    }
    dep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_hashes_and_comments() {
        let text = "# top\nbabel==2.15.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\nclick>=8 # cli\n";
        let ex = extract(text);
        assert!(ex.warnings.is_empty(), "{:?}", ex.warnings);
        assert_eq!(ex.dependencies.len(), 2);
        assert_eq!(ex.dependencies[0].requirement.as_deref(), Some("==2.15.0"));
        assert_eq!(ex.dependencies[1].name, "click");
        assert_eq!(ex.dependencies[1].requirement.as_deref(), Some(">=8"));
    }

    #[test]
    fn includes_are_recorded() {
        let text = "-r base.txt\n--constraint=constraints.txt\n-rdev.txt\nflask\n";
        let inc = includes(text);
        assert_eq!(inc.len(), 3);
        assert_eq!(inc[0].path, "base.txt");
        assert!(!inc[0].constraint);
        assert_eq!(inc[1].path, "constraints.txt");
        assert!(inc[1].constraint);
        assert_eq!(inc[2].path, "dev.txt");
        assert_eq!(inc[2].line, 3);
        // Includes are not dependencies.
        assert_eq!(extract(text).dependencies.len(), 1);
    }

    #[test]
    fn references_and_editables() {
        let text = "-e .\n-e git+https://example.invalid/x.git#egg=My_Pkg\n\
                    https://example.invalid/pkgs/Foo_Bar-1.0-py3-none-any.whl\n\
                    ./local/dir\nname @ https://example.invalid/a.tar.gz\n";
        let ex = extract(text);
        let got: Vec<_> = ex
            .dependencies
            .iter()
            .map(|d| (d.name.as_str(), d.skip))
            .collect();
        assert_eq!(
            got,
            vec![
                (".", Some(SkipReason::Path)),
                ("my-pkg", Some(SkipReason::Git)),
                ("foo-bar", Some(SkipReason::Url)),
                ("./local/dir", Some(SkipReason::Path)),
                ("name", Some(SkipReason::Url)),
            ]
        );
    }

    #[test]
    fn index_url_and_unknown_options() {
        let ex = extract("--index-url https://pkgs.example.invalid/simple\n--bogus\nx==1\n");
        assert_eq!(
            ex.dependencies[0].registry.as_deref(),
            Some("https://pkgs.example.invalid/simple")
        );
        assert_eq!(ex.warnings.len(), 1);
        assert_eq!(ex.warnings[0].line, Some(2));
    }

    #[test]
    fn bad_lines_warn_and_continue() {
        let ex = extract("good==1\nthis is not a requirement\n[broken\nalso-good>=2\n");
        assert_eq!(ex.dependencies.len(), 2);
        assert_eq!(ex.warnings.len(), 2);
        assert_eq!(ex.warnings[0].line, Some(2));
    }
}
