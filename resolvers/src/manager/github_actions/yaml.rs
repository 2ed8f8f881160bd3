//! Find the values of given mapping keys in a YAML document, with byte spans.
//!
//! The document is read with `saphyr-parser`'s event stream, so only real mapping keys count
//! (a `uses:` inside a `run: |` script is not one). Event positions are character-based; they
//! are converted to byte offsets, and the value's raw text is located so that the span covers
//! the scalar's content without its quotes. Used by the GitHub Actions manager (`uses:`) and the
//! Docker manager's compose files (`image:`).

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::manager::{Span, Warning};

/// One scalar value of a wanted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// Keys of the enclosing mappings, outermost first (sequence levels are left out).
    pub path: Vec<String>,
    pub key: String,
    /// The scalar's value as YAML reads it.
    pub value: String,
    /// Span of the value's text in the file, when the text is written verbatim there (plain or
    /// quoted on one line, without escapes).
    pub span: Option<Span>,
    /// 1-based line of the value.
    pub line: usize,
    /// A `# comment` after the value on the same line.
    pub comment: Option<String>,
}

enum Frame {
    Map {
        key: Option<String>,
        expecting_key: bool,
    },
    Seq,
}

/// Byte offset of a (1-based line, 0-based character column) position.
fn byte_offset(text: &str, line_starts: &[usize], line: usize, col: usize) -> Option<usize> {
    let start = *line_starts.get(line.checked_sub(1)?)?;
    let rest = text.get(start..)?;
    match rest.char_indices().nth(col) {
        Some((i, _)) => Some(start + i),
        None => Some(text.len()),
    }
}

/// Locate the raw text of a single-line scalar starting at byte `start`.
fn locate(text: &str, start: usize, style: ScalarStyle, value: &str) -> (Option<Span>, usize) {
    let quote = match style {
        ScalarStyle::SingleQuoted => Some('\''),
        ScalarStyle::DoubleQuoted => Some('"'),
        ScalarStyle::Plain => None,
        _ => return (None, start),
    };
    let content_start = start + usize::from(quote.is_some());
    let end = content_start + value.len();
    if text.get(content_start..end) != Some(value) {
        return (None, start);
    }
    if let Some(q) = quote
        && text.get(end..).is_none_or(|rest| !rest.starts_with(q))
    {
        return (None, start);
    }
    let after = end + usize::from(quote.is_some());
    (Some(Span::new(content_start, end)), after)
}

/// The comment after byte `after` on the same line, if any.
fn trailing_comment(text: &str, after: usize) -> Option<String> {
    let rest = text.get(after..)?;
    let line = rest.split('\n').next().unwrap_or_default();
    let hash = line.find('#')?;
    let before = &line[..hash];
    if !before.trim().is_empty() || (hash > 0 && !before.ends_with([' ', '\t'])) {
        return None;
    }
    Some(line[hash + 1..].trim().to_owned())
}

/// Is `value` a block scalar header (`|`, `>-`, `|+2 # comment`)?
fn is_block_header(value: &str) -> bool {
    let Some(rest) = value.strip_prefix(['|', '>']) else {
        return false;
    };
    let rest = rest.trim_start_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
    let rest = rest.trim_start();
    rest.is_empty() || rest.starts_with('#')
}

/// The line-oriented fallback for files the parser rejects: `key: value` pairs on one line
/// (also after `- `), skipping the contents of block scalars. Paths are not known here.
fn line_values(text: &str, keys: &[&str]) -> Vec<KeyValue> {
    let mut out = Vec::new();
    let mut block_parent: Option<usize> = None;
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = block_parent {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block_parent = None;
        }
        let mut rest = &line[indent..];
        while let Some(item) = rest.strip_prefix("- ") {
            rest = item.trim_start_matches(' ');
        }
        let rest_at = line_start + (line.len() - rest.len());
        let Some(colon) = rest
            .find(": ")
            .or_else(|| rest.ends_with(':').then(|| rest.len() - 1))
        else {
            continue;
        };
        let key = rest[..colon].trim().trim_matches(['"', '\'']);
        let after = &rest[colon + 1..];
        let value = after.trim();
        if is_block_header(value) {
            block_parent = Some(indent);
            continue;
        }
        if !keys.contains(&key)
            || value.is_empty()
            || value.starts_with(['[', '{', '&', '*', '!', '#'])
        {
            continue;
        }
        let value_at = rest_at + colon + 1 + (after.len() - after.trim_start().len());
        let (content, span_start, after_value) =
            if let Some(q) = value.chars().next().filter(|c| matches!(c, '"' | '\'')) {
                let Some(close) = value[1..].find(q) else {
                    continue;
                };
                (&value[1..=close], value_at + 1, value_at + close + 2)
            } else {
                let end = value.find(" #").unwrap_or(value.len());
                let plain = value[..end].trim_end();
                (plain, value_at, value_at + plain.len())
            };
        out.push(KeyValue {
            path: Vec::new(),
            key: key.to_owned(),
            value: content.to_owned(),
            span: Some(Span::new(span_start, span_start + content.len())),
            line: index + 1,
            comment: trailing_comment(text, after_value),
        });
    }
    out
}

/// All scalar values of the mapping keys in `keys`, in document order, and a warning when the
/// YAML is invalid (then the values are read line by line).
///
/// A flow collection whose closing bracket sits at its key's indentation (`python: [` … `]`,
/// as common CI files write it) is accepted by the YAML readers of the tools that run these
/// files but not by a strict parser; such a file is read again with each such bracket moved to
/// the end of the line before it (see [`move_closing_brackets`]), which keeps every value's
/// byte offset.
pub fn values_of(text: &str, keys: &[&str]) -> (Vec<KeyValue>, Option<Warning>) {
    match parse_values(text, keys) {
        Ok(values) => (values, None),
        Err(warning) => {
            if let Some(moved) = move_closing_brackets(text)
                && let Ok(values) = parse_values(&moved, keys)
            {
                return (values, None);
            }
            (line_values(text, keys), Some(warning))
        }
    }
}

/// `text` with every line that starts with a closing `]` or `}` (after its indentation) joined
/// to the previous content line: the bracket and what follows it on its line move to the end of
/// that line, and the bytes between shift by as many, so the text keeps its length, its line
/// count, and every byte outside the moved stretches. `None` when no line starts so, or when
/// the previous line has a `#` (the bracket would land in a comment).
fn move_closing_brackets(text: &str) -> Option<String> {
    let mut out = text.to_owned();
    let mut changed = false;
    let mut offset = 0;
    // Byte offset just after the content of the last non-blank line.
    let mut previous_end: Option<usize> = None;
    for raw in text.split_inclusive('\n') {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        if trimmed.starts_with([']', '}']) && lead > 0 {
            let end = previous_end?;
            if text[..end]
                .rsplit('\n')
                .next()
                .is_some_and(|l| l.contains('#'))
            {
                return None;
            }
            let content_start = line_start + lead;
            let moved = &text[content_start..content_start + trimmed.len()];
            let gap = &text[end..content_start];
            let replacement = format!("{moved}{gap}");
            out.replace_range(end..content_start + trimmed.len(), &replacement);
            changed = true;
            previous_end = Some(end + trimmed.len());
            continue;
        }
        previous_end = Some(line_start + line.trim_end().len());
    }
    changed.then_some(out)
}

fn parse_values(text: &str, keys: &[&str]) -> Result<Vec<KeyValue>, Warning> {
    let mut line_starts = vec![0];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let finish_value = |stack: &mut Vec<Frame>| {
        if let Some(Frame::Map { expecting_key, .. }) = stack.last_mut() {
            *expecting_key = true;
        }
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(ok) => ok,
            Err(e) => {
                // Many tools accept YAML that a strict 1.2 parser rejects; the caller reads such
                // files line by line instead.
                return Err(Warning::at_line(
                    e.marker().line(),
                    format!("invalid YAML: {}; read line by line instead", e.info()),
                ));
            }
        };
        match event {
            Event::MappingStart(..) => stack.push(Frame::Map {
                key: None,
                expecting_key: true,
            }),
            Event::SequenceStart(..) => stack.push(Frame::Seq),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                finish_value(&mut stack);
            }
            Event::Alias(_) => match stack.last_mut() {
                Some(Frame::Map { key, expecting_key }) if *expecting_key => {
                    *key = None;
                    *expecting_key = false;
                }
                _ => finish_value(&mut stack),
            },
            Event::Scalar(value, style, ..) => {
                let wanted = match stack.last_mut() {
                    Some(Frame::Map { key, expecting_key }) if *expecting_key => {
                        *key = Some(value.to_string());
                        *expecting_key = false;
                        continue;
                    }
                    Some(Frame::Map { key: Some(key), .. }) if keys.contains(&key.as_str()) => {
                        Some(key.clone())
                    }
                    _ => None,
                };
                if let Some(key) = wanted {
                    let line = span.start.line();
                    let start = byte_offset(text, &line_starts, line, span.start.col());
                    let (value_span, after) = match start {
                        Some(start) => locate(text, start, style, &value),
                        None => (None, 0),
                    };
                    let comment = value_span.and_then(|_| trailing_comment(text, after));
                    let path = stack
                        .iter()
                        .filter_map(|f| match f {
                            Frame::Map { key, .. } => key.clone(),
                            Frame::Seq => None,
                        })
                        .collect::<Vec<_>>();
                    let path = path[..path.len().saturating_sub(1)].to_vec();
                    out.push(KeyValue {
                        path,
                        key,
                        value: value.to_string(),
                        span: value_span,
                        line,
                        comment,
                    });
                }
                finish_value(&mut stack);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each value found: its text, the text its span covers, its line and its comment.
    fn rows<'a>(
        text: &'a str,
        values: &'a [KeyValue],
    ) -> Vec<(&'a str, Option<&'a str>, usize, Option<&'a str>)> {
        values
            .iter()
            .map(|v| {
                (
                    v.value.as_str(),
                    v.span.and_then(|s| text.get(s.start..s.end)),
                    v.line,
                    v.comment.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn finds_values_with_spans_and_comments() {
        let text = "jobs:\n  a:\n    steps:\n      - uses: actions/checkout@v4 # pinned\n      - name: x\n        run: |\n          uses: not/this@v1\n      - { uses: 'a/b@c' }\n      - uses: \"é/ü@v1\"   # v1.0.0\n";
        let (values, warning) = values_of(text, &["uses"]);
        assert!(warning.is_none());
        let got: Vec<_> = values
            .iter()
            .map(|v| {
                (
                    v.value.as_str(),
                    v.span.map(|s| &text[s.start..s.end]),
                    v.comment.as_deref(),
                    v.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "actions/checkout@v4",
                    Some("actions/checkout@v4"),
                    Some("pinned"),
                    4
                ),
                ("a/b@c", Some("a/b@c"), None, 8),
                ("é/ü@v1", Some("é/ü@v1"), Some("v1.0.0"), 9),
            ]
        );
        assert_eq!(values[0].path, vec!["jobs", "a", "steps"]);
    }

    #[test]
    fn escapes_and_blocks_have_no_span() {
        let text = "a:\n  uses: \"x\\u0041\"\nb:\n  uses: >\n    folded\n";
        let (values, _) = values_of(text, &["uses"]);
        assert_eq!(values.len(), 2);
        assert!(values.iter().all(|v| v.span.is_none()));
    }

    #[test]
    fn flow_collections_closed_at_the_key_indentation_are_valid() {
        // Shaped like pytest's CI matrix.
        let text = "jobs:\n  build:\n    strategy:\n      matrix:\n        name: [\n          \"windows-py38\",\n          \"ubuntu-py39\",\n        ]\n        include: [\n          { name: \"x\", os: \"y\" },\n\n        ]\n    steps:\n      - uses: actions/checkout@v4 # v4.1.1\n      - uses: 'actions/setup-python@v5'\n";
        let (values, warning) = values_of(text, &["uses"]);
        assert!(warning.is_none(), "{warning:?}");
        let got = rows(text, &values);
        assert_eq!(
            got,
            vec![
                (
                    "actions/checkout@v4",
                    Some("actions/checkout@v4"),
                    14,
                    Some("v4.1.1")
                ),
                (
                    "actions/setup-python@v5",
                    Some("actions/setup-python@v5"),
                    15,
                    None
                ),
            ]
        );
        assert_eq!(values[0].path, vec!["jobs", "build", "steps"]);
        let moved = move_closing_brackets(text).expect("moved");
        assert_eq!(moved.len(), text.len());
        assert_eq!(moved.lines().count(), text.lines().count());
        assert!(moved.contains("\"ubuntu-py39\",]\n"));
    }

    #[test]
    fn invalid_yaml_warns_and_falls_back_to_lines() {
        let text = "a:\n  image: one:1\n  cmd: [\n    \"x\" # c\n  ]\n  run: |\n    image: no\n  image: 'two' # c\n";
        let (values, warning) = values_of(text, &["image"]);
        let got = rows(text, &values);
        assert_eq!(
            got,
            vec![
                ("one:1", Some("one:1"), 2, None),
                ("two", Some("two"), 8, Some("c"))
            ]
        );
        assert!(warning.is_some_and(|w| w.line.is_some() && w.message.starts_with("invalid YAML")));
    }
}
