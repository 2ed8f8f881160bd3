//! `setup.cfg` (setuptools declarative configuration): `[options] install_requires`,
//! `setup_requires`, `tests_require` and `python_requires`, and every extra of
//! `[options.extras_require]`.
//!
//! The file is INI as Python's `configparser` reads it: `key = value` or `key: value`, a value
//! continuing on the following lines indented (tabs or spaces), full-line comments starting with
//! `#` or `;`. Setuptools splits a multi-line value into one requirement per line and a one-line
//! value at commas; a requirement may end with a ` # comment`. Every requirement keeps the byte
//! span of its specifier in the file.

use super::pep508;
use super::requirement_dependency;
use crate::Ecosystem;
use crate::manager::{Dependency, DependencyKind, Extraction, Span, Warning, line_of};

/// One `key = value` entry: its section, key (lowercased, as configparser does), the line it
/// starts on, and the value's pieces: `(offset in the file, text)` per physical line.
struct Entry<'a> {
    section: String,
    key: String,
    line: usize,
    pieces: Vec<(usize, &'a str)>,
}

/// Is this line (after its indentation) a configparser comment?
fn is_comment(trimmed: &str) -> bool {
    trimmed.starts_with('#') || trimmed.starts_with(';')
}

/// Read the INI structure: every entry with the pieces of its value.
fn entries(text: &str) -> Vec<Entry<'_>> {
    let mut out: Vec<Entry<'_>> = Vec::new();
    let mut section = String::new();
    // Whether the last entry may still take continuation lines.
    let mut open = false;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim();
        let indented = line.starts_with([' ', '\t']);
        if trimmed.is_empty() {
            continue;
        }
        if is_comment(trimmed) {
            continue;
        }
        if indented && open {
            if let Some(entry) = out.last_mut() {
                let lead = line.len() - line.trim_start().len();
                entry.pieces.push((line_start + lead, trimmed));
            }
            continue;
        }
        if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            name.trim().clone_into(&mut section);
            open = false;
            continue;
        }
        let Some(sep) = line.find(['=', ':']) else {
            open = false;
            continue;
        };
        let key = line[..sep].trim().to_ascii_lowercase();
        let value = &line[sep + 1..];
        let lead = value.len() - value.trim_start().len();
        let value_start = line_start + sep + 1 + lead;
        let value = value.trim();
        let mut pieces = Vec::new();
        if !value.is_empty() {
            pieces.push((value_start, value));
        }
        out.push(Entry {
            section: section.clone(),
            key,
            line: line_of(text, line_start),
            pieces,
        });
        open = true;
    }
    out
}

/// Split one piece of a list value into requirements: the part before a ` #` comment, then (on
/// a one-line value) at commas. Yields `(offset in the file, text)`, trimmed.
fn items(pieces: &[(usize, &str)]) -> Vec<(usize, String)> {
    let multi_line = pieces.len() > 1;
    let mut out = Vec::new();
    for &(start, piece) in pieces {
        let content = piece
            .match_indices('#')
            .find(|(i, _)| *i == 0 || piece[..*i].ends_with([' ', '\t']))
            .map_or(piece, |(i, _)| &piece[..i]);
        let parts: Vec<(usize, &str)> = if multi_line {
            vec![(0, content)]
        } else {
            let mut parts = Vec::new();
            let mut from = 0;
            for (i, _) in content.match_indices(',') {
                parts.push((from, &content[from..i]));
                from = i + 1;
            }
            parts.push((from, &content[from..]));
            parts
        };
        for (at, part) in parts {
            let lead = part.len() - part.trim_start().len();
            let item = part.trim();
            if !item.is_empty() {
                out.push((start + at + lead, item.to_owned()));
            }
        }
    }
    out
}

pub fn extract(text: &str) -> Extraction {
    let mut out = Extraction::default();
    for entry in entries(text) {
        let kind = match (entry.section.as_str(), entry.key.as_str()) {
            ("options", "install_requires") => DependencyKind::Normal,
            ("options", "setup_requires") => DependencyKind::Build,
            ("options", "tests_require") => DependencyKind::Dev,
            ("options.extras_require", _) => DependencyKind::Optional,
            ("options", "python_requires") => {
                python_requires(text, &entry, &mut out);
                continue;
            }
            _ => continue,
        };
        if let [(_, first), ..] = entry.pieces.as_slice()
            && let Some(file) = first.strip_prefix("file:")
        {
            out.warnings.push(Warning::at_line(
                entry.line,
                format!(
                    "`{}` reads its requirements from `{}`, which is not read from here",
                    entry.key,
                    file.trim()
                ),
            ));
            continue;
        }
        for (start, item) in items(&entry.pieces) {
            match pep508::parse(&item) {
                Ok(req) => out
                    .dependencies
                    .push(requirement_dependency(text, start, &item, req).kind(kind)),
                Err(message) => out
                    .warnings
                    .push(Warning::at_line(line_of(text, start), message)),
            }
        }
    }
    out
}

/// `python_requires = >=3.8`: the Python toolchain the package supports.
fn python_requires(text: &str, entry: &Entry<'_>, out: &mut Extraction) {
    if let [(start, value)] = entry.pieces.as_slice() {
        out.dependencies.push(
            Dependency::at(
                "python",
                Ecosystem::Toolchain,
                text,
                Span::new(*start, *start + value.len()),
            )
            .kind(DependencyKind::Toolchain),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manager::SkipReason;

    type Row = (String, Option<String>, DependencyKind, Option<SkipReason>);

    fn rows(ex: &Extraction) -> Vec<Row> {
        ex.dependencies
            .iter()
            .map(|d| (d.name.clone(), d.requirement.clone(), d.kind, d.skip))
            .collect()
    }

    fn row(name: &str, req: Option<&str>, kind: DependencyKind) -> Row {
        (name.to_owned(), req.map(str::to_owned), kind, None)
    }

    /// A requirement without a version.
    fn unversioned(name: &str, kind: DependencyKind) -> Row {
        (name.to_owned(), None, kind, None)
    }

    #[test]
    fn options_and_extras_with_their_spans() {
        use DependencyKind::{Build, Dev, Normal, Optional, Toolchain};
        let text = "[metadata]\nname = demo\ninstall_requires = not-this\n\n[options]\npython_requires = >=3.8\ninstall_requires =\n\tattrs>=19.2.0\n\t# a comment\n\timportlib-metadata>=0.12;python_version<\"3.8\"\n    pluggy >= 1.0, < 2  # why\n\n    Py_Yaml\nsetup_requires = setuptools_scm[toml] >= 6.2, wheel\ntests_require: pytest\n\n; a comment\n[options.extras_require]\ntesting =\n    hypothesis>=3.56\n    nose\nDocs = sphinx~=7.0\n";
        let ex = extract(text);
        assert!(ex.warnings.is_empty(), "{:?}", ex.warnings);
        assert_eq!(
            rows(&ex),
            vec![
                row("python", Some(">=3.8"), Toolchain),
                row("attrs", Some(">=19.2.0"), Normal),
                row("importlib-metadata", Some(">=0.12"), Normal),
                row("pluggy", Some(">= 1.0, < 2"), Normal),
                unversioned("py-yaml", Normal),
                row("setuptools-scm", Some(">= 6.2"), Build),
                unversioned("wheel", Build),
                unversioned("pytest", Dev),
                row("hypothesis", Some(">=3.56"), Optional),
                unversioned("nose", Optional),
                row("sphinx", Some("~=7.0"), Optional),
            ]
        );
        crate::manager::test_kit::assert_spans("setup.cfg", text, &ex);
        assert!(
            ex.dependencies
                .iter()
                .all(|d| d.requirement.is_none() || d.span.is_some())
        );
    }

    #[test]
    fn file_directives_and_bad_requirements_warn() {
        let text = "[options]\ninstall_requires = file: requirements.txt\ntests_require =\n    pytest\n    -bad\n";
        let ex = extract(text);
        let warnings: Vec<(Option<usize>, bool)> = ex
            .warnings
            .iter()
            .map(|w| (w.line, w.message.contains("requirements.txt")))
            .collect();
        assert_eq!(warnings, vec![(Some(2), true), (Some(5), false)]);
        assert_eq!(rows(&ex), vec![unversioned("pytest", DependencyKind::Dev)]);
    }
}
