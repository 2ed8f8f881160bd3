//! Go modules: `go.mod`.
//!
//! - `require` lines (single and block) are dependencies named by module path as written; a
//!   `// indirect` comment makes them [`DependencyKind::Indirect`].
//! - `replace` directives are honoured. A replacement by a local directory (`=> ../api`) marks
//!   the required module `skip: path`. A replacement by another module version (`=> example.com/fork
//!   v1.2.3`) is what the build really uses, so the dependency takes the replacement's module path,
//!   and its requirement and span are the replacement version inside the `replace` line (that is
//!   the text an update must change). A versioned replacement of a module that no `require` names
//!   still pins the build graph and is reported with [`DependencyKind::Override`].
//! - `exclude` and `retract` are ignored; `go 1.22` and `toolchain go1.22.1` become toolchain `go`
//!   dependencies (for `toolchain`, the span covers the version after the `go` prefix).

use super::{Dependency, DependencyKind, Extraction, SkipReason, Span, Warning, file_name};
use crate::Ecosystem;

/// The lockfiles this manager reads: none (its files declare versions themselves).
pub const LOCKFILE_NAMES: &[&str] = &[];

pub fn matches(path: &str) -> bool {
    file_name(path) == "go.mod"
}

/// One token of a `go.mod` line: its text (unquoted) and its span in the file.
#[derive(Debug, Clone)]
struct Token<'a> {
    text: &'a str,
    span: Span,
}

/// Split a line (comment already removed) into tokens; `"…"` and `` `…` `` strings are one token.
fn tokenize(line: &str, offset: usize) -> Result<Vec<Token<'_>>, String> {
    let mut tokens = Vec::new();
    let mut rest = line;
    let mut pos = offset;
    loop {
        let trimmed = rest.trim_start();
        pos += rest.len() - trimmed.len();
        rest = trimmed;
        if rest.is_empty() {
            return Ok(tokens);
        }
        let len = if let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '`') {
            let close = rest[1..]
                .find(quote)
                .ok_or_else(|| format!("unterminated string in `{}`", line.trim()))?;
            tokens.push(Token {
                text: &rest[1..=close],
                span: Span::new(pos + 1, pos + 1 + close),
            });
            close + 2
        } else {
            // `(` and `)` are tokens of their own, as in Go's own lexer.
            let len = if rest.starts_with(['(', ')']) {
                1
            } else {
                rest.find(|c: char| c.is_whitespace() || c == '(' || c == ')')
                    .unwrap_or(rest.len())
            };
            tokens.push(Token {
                text: &rest[..len],
                span: Span::new(pos, pos + len),
            });
            len
        };
        rest = &rest[len..];
        pos += len;
    }
}

struct Require<'a> {
    path: Token<'a>,
    version: Token<'a>,
    indirect: bool,
}

struct Replace<'a> {
    old: &'a str,
    old_version: Option<&'a str>,
    new: Token<'a>,
    new_version: Option<Token<'a>>,
}

#[derive(Default)]
struct Parsed<'a> {
    requires: Vec<Require<'a>>,
    replaces: Vec<Replace<'a>>,
    toolchains: Vec<Dependency>,
    warnings: Vec<Warning>,
}

const KNOWN_VERBS: &[&str] = &[
    "module",
    "go",
    "toolchain",
    "require",
    "replace",
    "exclude",
    "retract",
    "godebug",
    "tool",
    "ignore",
];

impl<'a> Parsed<'a> {
    fn directive(
        &mut self,
        text: &'a str,
        line_no: usize,
        verb: &str,
        args: &[Token<'a>],
        comment: &str,
    ) {
        let warn = |message: String| Warning::at_line(line_no, message);
        match verb {
            "require" => match args {
                [path, version] => self.requires.push(Require {
                    path: path.clone(),
                    version: version.clone(),
                    indirect: comment.trim_start().starts_with("indirect"),
                }),
                _ => self.warnings.push(warn(
                    "`require` needs a module path and a version".to_owned(),
                )),
            },
            "replace" => {
                let arrow = args.iter().position(|t| t.text == "=>");
                let parsed = arrow.and_then(|i| {
                    let (lhs, rhs) = (&args[..i], &args[i + 1..]);
                    let (old, old_version) = match lhs {
                        [old] => (old.text, None),
                        [old, version] => (old.text, Some(version.text)),
                        _ => return None,
                    };
                    let (new, new_version) = match rhs {
                        [new] => (new.clone(), None),
                        [new, version] => (new.clone(), Some(version.clone())),
                        _ => return None,
                    };
                    Some(Replace {
                        old,
                        old_version,
                        new,
                        new_version,
                    })
                });
                match parsed {
                    Some(replace) => self.replaces.push(replace),
                    None => self.warnings.push(warn(
                        "`replace` must look like `old [version] => new [version]`".to_owned(),
                    )),
                }
            }
            "go" => match args {
                [version] => self.toolchains.push(
                    Dependency::at("go", Ecosystem::Toolchain, text, version.span)
                        .kind(DependencyKind::Toolchain),
                ),
                _ => self
                    .warnings
                    .push(warn("`go` needs one version".to_owned())),
            },
            "toolchain" => match args {
                [name] if name.text == "default" => {}
                [name] => match name.text.strip_prefix("go") {
                    Some(version) if !version.is_empty() => {
                        let start = name.span.start + 2;
                        self.toolchains.push(
                            Dependency::at(
                                "go",
                                Ecosystem::Toolchain,
                                text,
                                Span::new(start, start + version.len()),
                            )
                            .kind(DependencyKind::Toolchain),
                        );
                    }
                    _ => self
                        .warnings
                        .push(warn(format!("unknown toolchain name `{}`", name.text))),
                },
                _ => self
                    .warnings
                    .push(warn("`toolchain` needs one name".to_owned())),
            },
            v if KNOWN_VERBS.contains(&v) => {}
            v => self
                .warnings
                .push(warn(format!("unknown go.mod directive `{v}`"))),
        }
    }
}

/// Is a replacement target a local directory (as opposed to a module path)?
fn is_local_path(target: &str) -> bool {
    target.starts_with("./")
        || target.starts_with("../")
        || target.starts_with('/')
        || target == "."
        || target == ".."
        || target.get(1..3) == Some(":\\")
}

pub fn extract(_path: &str, text: &str) -> Extraction {
    let mut parsed = Parsed::default();
    let mut block: Option<(&str, usize)> = None;
    let mut offset = 0;
    for (index, raw_line) in text.split_inclusive('\n').enumerate() {
        let line_no = index + 1;
        let line_offset = offset;
        offset += raw_line.len();
        let (code, comment) = match raw_line.find("//") {
            Some(i) => (&raw_line[..i], &raw_line[i + 2..]),
            None => (raw_line, ""),
        };
        let tokens = match tokenize(code, line_offset) {
            Ok(tokens) => tokens,
            Err(message) => {
                parsed.warnings.push(Warning::at_line(line_no, message));
                continue;
            }
        };
        if let Some((verb, _)) = block {
            match tokens.as_slice() {
                [] => {}
                [close] if close.text == ")" => block = None,
                args => parsed.directive(text, line_no, verb, args, comment),
            }
            continue;
        }
        match tokens.as_slice() {
            [] => {}
            [verb, open] if open.text == "(" => block = Some((verb.text, line_no)),
            [_, open, close] if open.text == "(" && close.text == ")" => {}
            [verb, args @ ..] => parsed.directive(text, line_no, verb.text, args, comment),
        }
    }
    if let Some((verb, line)) = block {
        parsed.warnings.push(Warning::at_line(
            line,
            format!("`{verb} (` block is never closed"),
        ));
    }
    resolve(text, parsed)
}

fn resolve(text: &str, parsed: Parsed<'_>) -> Extraction {
    let Parsed {
        requires,
        replaces,
        toolchains,
        warnings,
    } = parsed;
    let find_replace = |path: &str, version: &str| {
        replaces
            .iter()
            .rev()
            .find(|r| r.old == path && r.old_version == Some(version))
            .or_else(|| {
                replaces
                    .iter()
                    .rev()
                    .find(|r| r.old == path && r.old_version.is_none())
            })
    };
    let mut dependencies = toolchains;
    let mut used = vec![false; replaces.len()];
    for req in &requires {
        let kind = if req.indirect {
            DependencyKind::Indirect
        } else {
            DependencyKind::Normal
        };
        let dep = match find_replace(req.path.text, req.version.text) {
            Some(replace) => {
                if let Some(i) = replaces.iter().position(|r| std::ptr::eq(r, replace)) {
                    used[i] = true;
                }
                replaced(text, req, replace)
            }
            None => Dependency::at(req.path.text, Ecosystem::Go, text, req.version.span),
        };
        dependencies.push(dep.kind(kind));
    }
    for (replace, used) in replaces.iter().zip(used) {
        if let (false, Some(version)) = (used, &replace.new_version) {
            dependencies.push(
                Dependency::at(replace.new.text, Ecosystem::Go, text, version.span)
                    .kind(DependencyKind::Override),
            );
        }
    }
    Extraction {
        dependencies,
        warnings,
        ..Extraction::default()
    }
}

fn replaced(text: &str, req: &Require<'_>, replace: &Replace<'_>) -> Dependency {
    match &replace.new_version {
        Some(version) if !is_local_path(replace.new.text) => {
            Dependency::at(replace.new.text, Ecosystem::Go, text, version.span)
        }
        _ => Dependency::at(req.path.text, Ecosystem::Go, text, req.version.span)
            .skip(SkipReason::Path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(
        ex: &Extraction,
    ) -> Vec<(String, Option<String>, DependencyKind, Option<SkipReason>)> {
        ex.dependencies
            .iter()
            .map(|d| (d.name.clone(), d.requirement.clone(), d.kind, d.skip))
            .collect()
    }

    #[test]
    fn requires_replaces_and_toolchains() {
        let text = "module example.com/app\n\ngo 1.22\n\ntoolchain go1.22.1\n\n\
            require example.com/single v1.0.0\n\
            require (\n\texample.com/a v1.2.3\n\t\"example.com/quoted\" v0.1.0 // indirect\n\
            \texample.com/local v0.0.0-00010101000000-000000000000\n\texample.com/forked v1.0.0\n)\n\
            replace example.com/local => ../local\n\
            replace (\n\texample.com/forked v1.0.0 => example.com/fork v1.0.1-fix\n\
            \texample.com/transitive => example.com/transitive v2.0.0\n)\n\
            exclude example.com/a v1.2.2\n";
        let ex = extract("go.mod", text);
        assert!(ex.warnings.is_empty(), "{:?}", ex.warnings);
        let t = |n: &str, r: &str, k, s| (n.to_owned(), Some(r.to_owned()), k, s);
        assert_eq!(
            summary(&ex),
            vec![
                t("go", "1.22", DependencyKind::Toolchain, None),
                t("go", "1.22.1", DependencyKind::Toolchain, None),
                t("example.com/single", "v1.0.0", DependencyKind::Normal, None),
                t("example.com/a", "v1.2.3", DependencyKind::Normal, None),
                t(
                    "example.com/quoted",
                    "v0.1.0",
                    DependencyKind::Indirect,
                    None
                ),
                t(
                    "example.com/local",
                    "v0.0.0-00010101000000-000000000000",
                    DependencyKind::Normal,
                    Some(SkipReason::Path)
                ),
                t(
                    "example.com/fork",
                    "v1.0.1-fix",
                    DependencyKind::Normal,
                    None
                ),
                t(
                    "example.com/transitive",
                    "v2.0.0",
                    DependencyKind::Override,
                    None
                ),
            ]
        );
        assert_eq!(ex.dependencies[1].ecosystem, Ecosystem::Toolchain);
    }

    #[test]
    fn version_specific_replace_only_matches_that_version() {
        let text = "module m\nrequire x.com/a v1.1.0\nreplace x.com/a v1.0.0 => ./a\n";
        let ex = extract("go.mod", text);
        assert_eq!(ex.dependencies[0].skip, None);
    }

    #[test]
    fn malformed_lines_warn() {
        let text = "module m\nrequire x.com/a\nrequire (\n x.com/b v1 extra\n \"unterminated v1\n)\nreplace a b\nfrobnicate x\nrequire (\n x.com/c v1.0.0\n";
        let ex = extract("go.mod", text);
        let lines: Vec<_> = ex.warnings.iter().map(|w| w.line).collect();
        assert_eq!(
            lines,
            vec![Some(2), Some(4), Some(5), Some(7), Some(8), Some(9)],
            "{:?}",
            ex.warnings
        );
    }

    crate::manager::test_kit::kit_tests!(Manager::Go, |dep| {
        if dep.ecosystem == Ecosystem::Toolchain {
            "9.9.9"
        } else {
            "v99.0.0"
        }
        .to_owned()
    });
}
