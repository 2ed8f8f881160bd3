//! A small tokenizer for the JVM build DSLs (Groovy and Kotlin Gradle scripts, sbt's Scala).
//!
//! It knows just enough of the three languages to find dependency declarations reliably:
//! comments are dropped, string literals (single, double, triple-quoted) become one token whose
//! content span points into the source, identifiers (also `` `backticked` ``) and runs of
//! operator characters (`%%`, `:=`, `++=`, `->`) become one token each. Everything else is a
//! one-character punctuation token. Token boundaries always fall on ASCII bytes, so every span is
//! a valid `&str` slice of the source.

use crate::manager::{Span, Warning, line_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// An identifier or keyword (`implementation`, `val`, `` `java-library` `` without backticks).
    Ident,
    /// A string literal; the token's `span` covers the content between the quotes.
    Str,
    /// A numeric literal.
    Number,
    /// A run of operator characters.
    Op,
    /// One other character: `(` `)` `{` `}` `[` `]` `,` `.` `;`.
    Punct,
    /// A line break outside strings and comments (statements end here in all three DSLs).
    Newline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// The token text's span (for strings: the content between the quotes).
    pub span: Span,
}

impl Token {
    pub fn text(self, source: &str) -> &str {
        self.span.slice(source).unwrap_or("")
    }

    pub fn is_punct(self, source: &str, c: &str) -> bool {
        self.kind == TokenKind::Punct && self.text(source) == c
    }

    pub fn is_op(self, source: &str, op: &str) -> bool {
        self.kind == TokenKind::Op && self.text(source) == op
    }

    pub fn is_ident(self, source: &str, name: &str) -> bool {
        self.kind == TokenKind::Ident && self.text(source) == name
    }
}

const OP_CHARS: &[u8] = b"!#%&*+-/:<=>?@\\^|~";

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Tokenize `source`. Unterminated strings and comments end at the end of the input and are
/// reported as warnings.
pub(crate) fn tokenize(source: &str) -> (Vec<Token>, Vec<Warning>) {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut warnings = Vec::new();
    let mut i = 0;
    let len = bytes.len();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    while i < len {
        let b = at(i);
        match b {
            b'\n' => {
                tokens.push(Token {
                    kind: TokenKind::Newline,
                    span: Span::new(i, i + 1),
                });
                i += 1;
            }
            b' ' | b'\t' | b'\r' | 0x0c => i += 1,
            b'/' if at(i + 1) == b'/' => {
                while i < len && at(i) != b'\n' {
                    i += 1;
                }
            }
            b'/' if at(i + 1) == b'*' => {
                let (next, closed) = skip_block_comment(bytes, i);
                if !closed {
                    warnings.push(Warning::at_line(
                        line_of(source, i),
                        "unterminated block comment",
                    ));
                }
                i = next;
            }
            b'"' | b'\'' => {
                let (token, next, warning) = lex_string(source, i);
                if let Some(token) = token {
                    tokens.push(token);
                }
                if let Some(w) = warning {
                    warnings.push(w);
                }
                i = next;
            }
            b'`' => {
                let (token, next) = lex_backticks(bytes, i);
                tokens.push(token);
                i = next;
            }
            b'0'..=b'9' => {
                let start = i;
                while i < len && (at(i).is_ascii_alphanumeric() || at(i) == b'_' || at(i) == b'.') {
                    // `1.toString` style member access is not relevant here; keep digits/dots.
                    i += 1;
                }
                tokens.push(Token {
                    kind: TokenKind::Number,
                    span: Span::new(start, i),
                });
            }
            _ if is_ident_byte(b) => {
                let start = i;
                while i < len && is_ident_byte(at(i)) {
                    i += 1;
                }
                tokens.push(Token {
                    kind: TokenKind::Ident,
                    span: Span::new(start, i),
                });
            }
            _ if OP_CHARS.contains(&b) => {
                let start = i;
                while i < len && OP_CHARS.contains(&at(i)) {
                    if at(i) == b'/' && matches!(at(i + 1), b'/' | b'*') && i > start {
                        break;
                    }
                    i += 1;
                }
                tokens.push(Token {
                    kind: TokenKind::Op,
                    span: Span::new(start, i),
                });
            }
            _ => {
                tokens.push(Token {
                    kind: TokenKind::Punct,
                    span: Span::new(i, i + 1),
                });
                i += 1;
            }
        }
    }
    (tokens, warnings)
}

/// Skip the (nestable) block comment starting at `start`; returns the index after it and
/// whether it was closed.
fn skip_block_comment(bytes: &[u8], start: usize) -> (usize, bool) {
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut i = start + 2;
    let mut depth = 1usize;
    while i < bytes.len() && depth > 0 {
        if at(i) == b'*' && at(i + 1) == b'/' {
            depth -= 1;
            i += 2;
        } else if at(i) == b'/' && at(i + 1) == b'*' {
            depth += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    (i.min(bytes.len()), depth == 0)
}

/// `` `name` `` → an identifier token; a lone backtick → punctuation.
fn lex_backticks(bytes: &[u8], start: usize) -> (Token, usize) {
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut j = start + 1;
    while j < bytes.len() && at(j) != b'`' && at(j) != b'\n' {
        j += 1;
    }
    if at(j) == b'`' {
        let token = Token {
            kind: TokenKind::Ident,
            span: Span::new(start + 1, j),
        };
        (token, j + 1)
    } else {
        let token = Token {
            kind: TokenKind::Punct,
            span: Span::new(start, start + 1),
        };
        (token, start + 1)
    }
}

/// Lex the string literal starting at `start` (a quote). Returns the token (content span), the
/// index after the literal, and a warning when it is unterminated.
fn lex_string(source: &str, start: usize) -> (Option<Token>, usize, Option<Warning>) {
    let bytes = source.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let quote = at(start);
    let len = bytes.len();
    // Triple-quoted: no escapes, may span lines.
    if at(start + 1) == quote && at(start + 2) == quote {
        let content = start + 3;
        let mut j = content;
        while j < len {
            if at(j) == quote && at(j + 1) == quote && at(j + 2) == quote {
                // A closing run may be longer than three quotes (`""""`): the extra ones belong
                // to the content.
                let mut end = j;
                while at(end + 3) == quote {
                    end += 1;
                }
                let token = Token {
                    kind: TokenKind::Str,
                    span: Span::new(content, end),
                };
                return (Some(token), end + 3, None);
            }
            j += 1;
        }
        let token = Token {
            kind: TokenKind::Str,
            span: Span::new(content, len),
        };
        let warning = Warning::at_line(
            line_of(source, start),
            "unterminated triple-quoted string literal",
        );
        return (Some(token), len, Some(warning));
    }
    let content = start + 1;
    let mut j = content;
    let mut interpolation_depth = 0usize;
    while j < len {
        let b = at(j);
        if b == b'\\' {
            j += 2;
            continue;
        }
        if quote == b'"' && b == b'$' && at(j + 1) == b'{' {
            interpolation_depth += 1;
            j += 2;
            continue;
        }
        if interpolation_depth > 0 {
            // An interpolated expression may span lines (Scala, Kotlin).
            match b {
                b'{' => interpolation_depth += 1,
                b'}' => interpolation_depth -= 1,
                _ => {}
            }
            j += 1;
            continue;
        }
        if b == quote {
            let token = Token {
                kind: TokenKind::Str,
                span: Span::new(content, j),
            };
            return (Some(token), j + 1, None);
        }
        if b == b'\n' {
            break;
        }
        j += 1;
    }
    let j = j.min(len);
    if quote == b'\'' {
        // Scala symbol literals (`'foo`) and stray apostrophes: not a string.
        let token = Token {
            kind: TokenKind::Punct,
            span: Span::new(start, start + 1),
        };
        return (Some(token), start + 1, None);
    }
    // An unterminated literal's content is not trusted: it yields no token.
    let warning = Warning::at_line(line_of(source, start), "unterminated string literal");
    (None, j, Some(warning))
}

/// If the string literal content `content` is exactly one
/// interpolation (`$x`, `${x}`, `${ x }`), return the expression.
pub(crate) fn sole_interpolation(content: &str) -> Option<&str> {
    let rest = content.strip_prefix('$')?;
    if let Some(inner) = rest.strip_prefix('{') {
        let inner = inner.strip_suffix('}')?;
        let inner = inner.trim();
        if inner.is_empty() || inner.contains(['{', '}', '"', '\'', ' ']) {
            return None;
        }
        Some(inner)
    } else if !rest.is_empty() && rest.bytes().all(|b| is_ident_byte(b) && b != b'$') {
        Some(rest)
    } else {
        None
    }
}

/// Does `content` contain an interpolation at all?
pub(crate) fn has_interpolation(content: &str) -> bool {
    let bytes = content.as_bytes();
    bytes.windows(2).any(|w| {
        w.first() == Some(&b'$')
            && w.get(1)
                .is_some_and(|b| *b == b'{' || b.is_ascii_alphabetic() || *b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, String)> {
        tokenize(src)
            .0
            .into_iter()
            .map(|t| (t.kind, t.text(src).to_owned()))
            .collect()
    }

    #[test]
    fn strings_comments_and_operators() {
        let src = "implementation 'a:b:1' // c\n\"x\" %% \"y\" /* z */ :=";
        let toks = kinds(src);
        assert_eq!(
            toks,
            vec![
                (TokenKind::Ident, "implementation".into()),
                (TokenKind::Str, "a:b:1".into()),
                (TokenKind::Newline, "\n".into()),
                (TokenKind::Str, "x".into()),
                (TokenKind::Op, "%%".into()),
                (TokenKind::Str, "y".into()),
                (TokenKind::Op, ":=".into()),
            ]
        );
    }

    #[test]
    fn interpolation_with_nested_quotes_stays_one_string() {
        let src = r#"x("g:a:${v("k")}") y"#;
        let toks = kinds(src);
        assert_eq!(
            toks.get(2),
            Some(&(TokenKind::Str, r#"g:a:${v("k")}"#.into()))
        );
        assert_eq!(toks.get(4), Some(&(TokenKind::Ident, "y".into())));
    }

    #[test]
    fn triple_quotes_backticks_and_symbols() {
        let src = "\"\"\"a\nb\"\"\" `java-library` 'sym x";
        let toks = kinds(src);
        assert_eq!(toks.first(), Some(&(TokenKind::Str, "a\nb".into())));
        assert_eq!(
            toks.get(1),
            Some(&(TokenKind::Ident, "java-library".into()))
        );
        assert_eq!(toks.get(2), Some(&(TokenKind::Punct, "'".into())));
    }

    #[test]
    fn unterminated_literals_warn() {
        let (_, w) = tokenize("a = \"abc\nb = 1\n/* open");
        assert_eq!(w.len(), 2);
        assert_eq!(w.first().and_then(|w| w.line), Some(1));
        assert_eq!(w.get(1).and_then(|w| w.line), Some(3));
    }

    #[test]
    fn interpolation_helpers() {
        assert_eq!(sole_interpolation("$kotlinVersion"), Some("kotlinVersion"));
        assert_eq!(
            sole_interpolation("${versions.kotlin}"),
            Some("versions.kotlin")
        );
        assert_eq!(sole_interpolation("${ v }"), Some("v"));
        assert_eq!(sole_interpolation("1.$x"), None);
        assert!(has_interpolation("a-$x"));
        assert!(!has_interpolation("a$"));
    }

    #[test]
    fn non_ascii_is_safe() {
        let src = "é \"ü\" ∑ 'ß' `ö";
        for t in tokenize(src).0 {
            assert!(t.span.slice(src).is_some());
        }
    }
}
