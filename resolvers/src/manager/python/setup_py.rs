//! `setup.py`, read statically (never executed): the literal values of the keyword arguments
//! `install_requires`, `setup_requires`, `tests_require`, `extras_require` and
//! `python_requires` (also as string keys of a dict literal, for `setup(**kwargs)`).
//!
//! A value is read when it is a list or tuple of plain string literals (or, for
//! `extras_require`, a dict literal of such lists). Anything computed (a variable, a call, a
//! concatenation, an f-string, an escape in a string) is a warning on the file naming what could
//! not be read; the literal requirements around it are still kept.

use super::pep508;
use super::requirement_dependency;
use crate::Ecosystem;
use crate::manager::{Dependency, DependencyKind, Extraction, Span, Warning, line_of};

/// One token of Python source, with its byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Ident,
    /// A string literal: `plain` when its content is exactly its value (no `f` or `b` prefix,
    /// no backslash); `content` is the range between the quotes.
    Str {
        content: (usize, usize),
        plain: bool,
    },
    /// One punctuation character (`=` of `==` is `Other`).
    Punct(char),
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

/// Split `text` into tokens, skipping whitespace, comments and line continuations.
fn tokens(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let start = i;
        if b.is_ascii_whitespace() || b == b'\\' {
            i += 1;
            continue;
        }
        if b == b'#' {
            i = text[i..].find('\n').map_or(text.len(), |n| i + n);
            continue;
        }
        // A string literal, with an optional prefix of up to two letters.
        let prefix_len = text[i..]
            .bytes()
            .take(3)
            .take_while(u8::is_ascii_alphabetic)
            .count();
        let quote_at = i + prefix_len;
        let prefix = &text[i..quote_at];
        if prefix.len() <= 2
            && prefix.chars().all(|c| "rRbBuUfF".contains(c))
            && let Some(&q) = bytes.get(quote_at).filter(|q| matches!(q, b'"' | b'\''))
        {
            let triple = bytes.get(quote_at..quote_at + 3) == Some(&[q, q, q][..]);
            let open = if triple { 3 } else { 1 };
            let content_start = quote_at + open;
            let mut j = content_start;
            let mut escaped = false;
            let content_end = loop {
                let Some(&c) = bytes.get(j) else {
                    break text.len();
                };
                if c == b'\\' {
                    escaped = true;
                    j += 2;
                    continue;
                }
                if c == b'\n' && !triple {
                    break j;
                }
                if c == q && (!triple || bytes.get(j..j + 3) == Some(&[q, q, q][..])) {
                    break j;
                }
                j += 1;
            };
            let content_end = content_end.min(text.len());
            i = (content_end + open).min(text.len());
            out.push(Token {
                tok: Tok::Str {
                    content: (content_start, content_end),
                    plain: !escaped && !prefix.contains(['f', 'F', 'b', 'B']),
                },
                start,
                end: i,
            });
            continue;
        }
        if b.is_ascii_alphabetic() || b == b'_' || !b.is_ascii() {
            while bytes
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || !c.is_ascii())
            {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident,
                start,
                end: i,
            });
            continue;
        }
        if b == b'=' && bytes.get(i + 1) == Some(&b'=') {
            i += 2;
            out.push(Token {
                tok: Tok::Other,
                start,
                end: i,
            });
            continue;
        }
        i += 1;
        let tok = if matches!(
            b,
            b'[' | b']' | b'(' | b')' | b'{' | b'}' | b',' | b':' | b'='
        ) {
            Tok::Punct(char::from(b))
        } else {
            Tok::Other
        };
        out.push(Token { tok, start, end: i });
    }
    out
}

/// The dependency kind of a `setup()` keyword, `None` for keywords not read.
fn kind_of(keyword: &str) -> Option<DependencyKind> {
    match keyword {
        "install_requires" => Some(DependencyKind::Normal),
        "setup_requires" => Some(DependencyKind::Build),
        "tests_require" => Some(DependencyKind::Dev),
        "extras_require" => Some(DependencyKind::Optional),
        _ => None,
    }
}

struct Reader<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    out: Extraction,
}

impl Reader<'_> {
    fn token_text(&self, token: &Token) -> &str {
        let raw = &self.text[token.start..token.end];
        // Name a long construct by its start.
        match raw.char_indices().nth(40) {
            Some((cut, _)) => &raw[..cut],
            None => raw,
        }
    }

    fn not_literal(&mut self, keyword: &str, at: usize) {
        let Some(token) = self.tokens.get(at).copied() else {
            return;
        };
        let what = self.token_text(&token).to_owned();
        self.out.warnings.push(Warning::at_line(
            line_of(self.text, token.start),
            format!("`{keyword}` is computed (`{what}`), not a literal; it is not read"),
        ));
    }

    fn punct(&self, at: usize) -> Option<char> {
        match self.tokens.get(at)?.tok {
            Tok::Punct(c) => Some(c),
            _ => None,
        }
    }

    /// One string literal at token `at` as a requirement; `false` when it is not a plain one.
    fn requirement(&mut self, at: usize, kind: DependencyKind) -> bool {
        let Some(Token {
            tok:
                Tok::Str {
                    content: (start, end),
                    plain: true,
                },
            ..
        }) = self.tokens.get(at).copied()
        else {
            return false;
        };
        // Two literals side by side are concatenated by Python: not one requirement as written.
        if matches!(
            self.tokens.get(at + 1).map(|t| t.tok),
            Some(Tok::Str { .. })
        ) {
            return false;
        }
        let value = &self.text[start..end];
        let lead = value.len() - value.trim_start().len();
        let item = value.trim();
        if item.is_empty() {
            return true;
        }
        match pep508::parse(item) {
            Ok(req) => {
                let dep = requirement_dependency(self.text, start + lead, item, req).kind(kind);
                self.out.dependencies.push(dep);
            }
            Err(message) => self
                .out
                .warnings
                .push(Warning::at_line(line_of(self.text, start), message)),
        }
        true
    }

    /// A list or tuple of string literals starting at token `at` (the opening bracket); returns
    /// the index after it. A non-literal element is a warning; reading goes on after it.
    fn list(&mut self, keyword: &str, at: usize, kind: DependencyKind) -> usize {
        let close = match self.punct(at) {
            Some('[') => ']',
            Some('(') => ')',
            _ => {
                self.not_literal(keyword, at);
                return self.skip_value(at);
            }
        };
        let mut i = at + 1;
        loop {
            match self.punct(i) {
                Some(c) if c == close => return i + 1,
                Some(',') => i += 1,
                _ if i >= self.tokens.len() => return i,
                _ => {
                    if self.requirement(i, kind) {
                        i += 1;
                    } else {
                        self.not_literal(keyword, i);
                        i = self.skip_value(i).max(i + 1);
                    }
                }
            }
        }
    }

    /// Skip one (non-literal) value: up to the next `,` or closing bracket at its depth.
    fn skip_value(&self, at: usize) -> usize {
        let mut depth = 0usize;
        let mut i = at;
        while i < self.tokens.len() {
            match self.punct(i) {
                Some('[' | '(' | '{') => depth += 1,
                Some(']' | ')' | '}') => {
                    if depth == 0 {
                        return i;
                    }
                    depth -= 1;
                }
                Some(',') if depth == 0 => return i,
                _ => {}
            }
            i += 1;
        }
        i
    }

    /// The value of `keyword` at token `at`; returns the index after it.
    fn value(&mut self, keyword: &str, at: usize) -> usize {
        if keyword == "python_requires" {
            if let Some(Token {
                tok:
                    Tok::Str {
                        content: (start, end),
                        plain: true,
                    },
                ..
            }) = self.tokens.get(at).copied()
            {
                let value = &self.text[start..end];
                let lead = value.len() - value.trim_start().len();
                let trimmed = value.trim();
                if !trimmed.is_empty() {
                    self.out.dependencies.push(
                        Dependency::at(
                            "python",
                            Ecosystem::Toolchain,
                            self.text,
                            Span::new(start + lead, start + lead + trimmed.len()),
                        )
                        .kind(DependencyKind::Toolchain),
                    );
                }
                return at + 1;
            }
            self.not_literal(keyword, at);
            return self.skip_value(at);
        }
        let Some(kind) = kind_of(keyword) else {
            return at;
        };
        let end = if kind == DependencyKind::Optional {
            self.extras(keyword, at)
        } else if matches!(self.tokens.get(at).map(|t| t.tok), Some(Tok::Str { .. })) {
            // One string of requirements, one per line.
            self.requirement_lines(keyword, at, kind)
        } else {
            self.list(keyword, at, kind)
        };
        // Whatever follows a literal other than `,` or a closing bracket computes on it.
        if end < self.tokens.len() && !matches!(self.punct(end), Some(',' | ')' | '}' | ']')) {
            self.not_literal(keyword, end);
            return self.skip_value(end);
        }
        end
    }

    /// A string holding requirements one per line (setuptools accepts it).
    fn requirement_lines(&mut self, keyword: &str, at: usize, kind: DependencyKind) -> usize {
        let Some(Token {
            tok:
                Tok::Str {
                    content: (start, end),
                    plain: true,
                },
            ..
        }) = self.tokens.get(at).copied()
        else {
            self.not_literal(keyword, at);
            return self.skip_value(at);
        };
        let mut offset = start;
        for line in self.text[start..end].split_inclusive('\n') {
            let content = line.split(" #").next().unwrap_or_default();
            let item = content.trim();
            if !item.is_empty() && !item.starts_with('#') {
                let lead = content.len() - content.trim_start().len();
                match pep508::parse(item) {
                    Ok(req) => {
                        let dep =
                            requirement_dependency(self.text, offset + lead, item, req).kind(kind);
                        self.out.dependencies.push(dep);
                    }
                    Err(message) => self
                        .out
                        .warnings
                        .push(Warning::at_line(line_of(self.text, offset), message)),
                }
            }
            offset += line.len();
        }
        at + 1
    }

    /// `extras_require={"name": [...], ...}` (or `dict(name=[...])` is computed).
    fn extras(&mut self, keyword: &str, at: usize) -> usize {
        if self.punct(at) != Some('{') {
            self.not_literal(keyword, at);
            return self.skip_value(at);
        }
        let mut i = at + 1;
        loop {
            match self.punct(i) {
                Some('}') => return i + 1,
                Some(',') => i += 1,
                _ if i >= self.tokens.len() => return i,
                _ => {
                    let is_key = matches!(self.tokens.get(i).map(|t| t.tok), Some(Tok::Str { .. }))
                        && self.punct(i + 1) == Some(':');
                    if !is_key {
                        self.not_literal(keyword, i);
                        i = self.skip_value(i).max(i + 1);
                        continue;
                    }
                    let value_at = i + 2;
                    i = if matches!(
                        self.tokens.get(value_at).map(|t| t.tok),
                        Some(Tok::Str { .. })
                    ) {
                        self.requirement_lines(keyword, value_at, DependencyKind::Optional)
                    } else {
                        self.list(keyword, value_at, DependencyKind::Optional)
                    };
                    if i < self.tokens.len() && !matches!(self.punct(i), Some(',' | '}')) {
                        self.not_literal(keyword, i);
                        i = self.skip_value(i).max(i + 1);
                    }
                }
            }
        }
    }
}

pub fn extract(text: &str) -> Extraction {
    let mut reader = Reader {
        text,
        tokens: tokens(text),
        out: Extraction::default(),
    };
    let mut i = 0;
    while i < reader.tokens.len() {
        let token = reader.tokens[i];
        let keyword = match token.tok {
            // `keyword=` as an argument (after `(` or `,`).
            Tok::Ident
                if reader.punct(i + 1) == Some('=')
                    && i > 0
                    && matches!(reader.punct(i - 1), Some('(' | ',')) =>
            {
                Some(&text[token.start..token.end])
            }
            // `"keyword": ` as a key of a dict literal.
            Tok::Str {
                content: (start, end),
                ..
            } if reader.punct(i + 1) == Some(':') => Some(&text[start..end]),
            _ => None,
        };
        match keyword {
            Some(keyword) if keyword == "python_requires" || kind_of(keyword).is_some() => {
                i = reader.value(keyword, i + 2).max(i + 1);
            }
            _ => i += 1,
        }
    }
    reader.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(ex: &Extraction) -> Vec<(String, Option<String>, DependencyKind)> {
        ex.dependencies
            .iter()
            .map(|d| (d.name.clone(), d.requirement.clone(), d.kind))
            .collect()
    }

    fn row(
        name: &str,
        req: Option<&str>,
        kind: DependencyKind,
    ) -> (String, Option<String>, DependencyKind) {
        (name.to_owned(), req.map(str::to_owned), kind)
    }

    #[test]
    fn literal_lists_with_spans() {
        use DependencyKind::{Build, Dev, Normal, Optional, Toolchain};
        let text = "from setuptools import setup\n# install_requires=['no']\nsetup(\n    name='x',\n    python_requires=\">=3.8\",\n    install_requires=[\n        \"requests>=2.0,<3\",  # why\n        'six',\n        r'attrs ~= 21.0; python_version < \"3.10\"',\n    ],\n    setup_requires=('setuptools_scm>=6',),\n    tests_require=\"\"\"\n        pytest>=7\n        mock\n    \"\"\",\n    extras_require={\n        'socks': ['PySocks>=1.5.6, !=1.5.7'],\n        \"dev\": [],\n    },\n    description='install_requires=[\"nope\"]',\n)\n";
        let ex = extract(text);
        assert!(ex.warnings.is_empty(), "{:?}", ex.warnings);
        assert_eq!(
            rows(&ex),
            vec![
                row("python", Some(">=3.8"), Toolchain),
                row("requests", Some(">=2.0,<3"), Normal),
                row("six", None, Normal),
                row("attrs", Some("~= 21.0"), Normal),
                row("setuptools-scm", Some(">=6"), Build),
                row("pytest", Some(">=7"), Dev),
                row("mock", None, Dev),
                row("pysocks", Some(">=1.5.6, !=1.5.7"), Optional),
            ]
        );
        crate::manager::test_kit::assert_spans("setup.py", text, &ex);
        assert!(
            ex.dependencies
                .iter()
                .all(|d| d.requirement.is_none() || d.span.is_some())
        );
        assert_eq!(ex.dependencies.get(2).and_then(|d| d.skip), None);
    }

    #[test]
    fn computed_values_are_warnings_naming_what_was_not_read() {
        use DependencyKind::{Build, Dev, Optional};
        let text = "import os\nrequires = ['a']\nsetup(\n    install_requires=requires,\n    setup_requires=['b'] + extra,\n    tests_require=['c', get_test_deps(), f'd>={V}', 'e' 'f'],\n    extras_require=dict(x=['y']),\n)\nkwargs = {'extras_require': {'s': ['t>=1'], 'u': EXTRA}}\n";
        let ex = extract(text);
        let warnings: Vec<(Option<usize>, String)> = ex
            .warnings
            .iter()
            .map(|w| (w.line, w.message.clone()))
            .collect();
        let computed = |line: usize, key: &str, what: &str| {
            (
                Some(line),
                format!("`{key}` is computed (`{what}`), not a literal; it is not read"),
            )
        };
        assert_eq!(
            warnings,
            vec![
                computed(4, "install_requires", "requires"),
                computed(5, "setup_requires", "+"),
                computed(6, "tests_require", "get_test_deps"),
                computed(6, "tests_require", "f'd>={V}'"),
                computed(6, "tests_require", "'e'"),
                computed(7, "extras_require", "dict"),
                computed(9, "extras_require", "EXTRA"),
            ]
        );
        assert_eq!(
            rows(&ex),
            vec![
                row("b", None, Build),
                row("c", None, Dev),
                row("t", Some(">=1"), Optional),
            ]
        );
    }

    #[test]
    fn odd_sources_do_not_panic() {
        for text in [
            "setup(install_requires=[",
            "setup(install_requires=['a",
            "setup(install_requires=\"\"\"a\n",
            "setup(extras_require={'x':",
            "setup(extras_require={'x': ['é' 'ü'",
            "x = '\\",
            "setup(install_requires=",
        ] {
            let ex = extract(text);
            crate::manager::test_kit::assert_spans("setup.py", text, &ex);
        }
    }
}
