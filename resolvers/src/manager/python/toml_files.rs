//! `pyproject.toml` (PEP 621, PEP 735, PEP 518, Poetry, uv) and `Pipfile`.
//!
//! TOML is parsed with `toml_edit`'s span-keeping [`toml_edit::Document`], so every requirement
//! keeps the byte span of its text inside the quoted TOML string.

use toml_edit::{Document, Item, TableLike};

use super::pep508::{self, normalize_name};
use crate::Ecosystem;
use crate::manager::{Dependency, DependencyKind, Extraction, SkipReason, Span, Warning, line_of};

/// Parse `text` as TOML, or return the warning for the file.
pub fn parse(text: &str) -> Result<Document<&str>, Warning> {
    Document::parse(text).map_err(|e| {
        let message = format!("invalid TOML: {}", e.message().trim());
        match e.span() {
            Some(span) => Warning::at_line(line_of(text, span.start), message),
            None => Warning::new(message),
        }
    })
}

/// The string value of `item` and the span of its content (inside the quotes) when the content
/// appears verbatim in `text` (no escape sequences).
pub fn string_with_span<'a>(text: &str, item: &'a Item) -> Option<(&'a str, Option<Span>)> {
    let value = item.as_str()?;
    let span = item.span().and_then(|raw| {
        let raw_text = text.get(raw.clone())?;
        let quote = if raw_text.starts_with("\"\"\"") || raw_text.starts_with("'''") {
            3
        } else {
            1
        };
        let mut start = raw.start + quote;
        if quote == 3 {
            // A newline right after the opening delimiter is not part of the string.
            if text.get(start..start + 2) == Some("\r\n") {
                start += 2;
            } else if text.get(start..=start) == Some("\n") {
                start += 1;
            }
        }
        let end = raw.end.checked_sub(quote)?;
        (text.get(start..end) == Some(value)).then(|| Span::new(start, end))
    });
    Some((value, span))
}

fn get<'a>(table: &'a dyn TableLike, path: &[&str]) -> Option<&'a Item> {
    let (first, rest) = path.split_first()?;
    let item = table.get(first)?;
    if rest.is_empty() {
        Some(item)
    } else {
        get(item.as_table_like()?, rest)
    }
}

fn item_line(text: &str, item: &Item) -> Option<usize> {
    item.span().map(|s| line_of(text, s.start))
}

fn warn(out: &mut Extraction, text: &str, item: &Item, message: String) {
    out.warnings.push(Warning {
        line: item_line(text, item),
        message,
    });
}

/// One PEP 508 string (an array element in `dependencies`, `requires`, …).
fn pep508_item(text: &str, item: &Item, kind: DependencyKind, out: &mut Extraction) {
    let Some((value, span)) = string_with_span(text, item) else {
        if item.as_inline_table().is_none() {
            // Tables (e.g. PEP 735 `{include-group = "…"}`) name no package.
            warn(out, text, item, "expected a requirement string".to_owned());
        }
        return;
    };
    match pep508::parse(value) {
        Ok(req) => {
            let mut dep = match (req.specifier, span) {
                (Some(range), Some(span)) => Dependency::at(
                    req.name,
                    Ecosystem::Pypi,
                    text,
                    Span::new(span.start + range.start, span.start + range.end),
                ),
                (Some(range), None) => {
                    let mut dep = Dependency::unversioned(req.name, Ecosystem::Pypi);
                    dep.requirement = value.get(range).map(str::to_owned);
                    dep
                }
                // No version written: any version does; still a dependency to resolve.
                (None, _) => Dependency::unversioned(req.name, Ecosystem::Pypi),
            };
            if let Some(skip) = req.skip {
                dep.skip = Some(skip);
            }
            out.dependencies.push(dep.kind(kind));
        }
        Err(message) => warn(out, text, item, message),
    }
}

fn pep508_array(text: &str, item: Option<&Item>, kind: DependencyKind, out: &mut Extraction) {
    let Some(item) = item else { return };
    let Some(array) = item.as_array() else {
        warn(
            out,
            text,
            item,
            "expected an array of requirements".to_owned(),
        );
        return;
    };
    for value in array {
        pep508_item(text, &Item::Value(value.clone()), kind, out);
    }
}

/// A string holding a version/specifier (`requires-python`, Poetry `"^1.2"`).
fn version_dependency(
    text: &str,
    name: String,
    ecosystem: Ecosystem,
    item: &Item,
) -> Option<Dependency> {
    let (value, span) = string_with_span(text, item)?;
    let trimmed = value.trim();
    Some(match span {
        Some(span) if !trimmed.is_empty() => {
            let lead = value.len() - value.trim_start().len();
            let start = span.start + lead;
            Dependency::at(
                name,
                ecosystem,
                text,
                Span::new(start, start + trimmed.len()),
            )
        }
        _ if trimmed.is_empty() => {
            Dependency::unversioned(name, ecosystem).skip(SkipReason::NoVersion)
        }
        _ => {
            let mut dep = Dependency::unversioned(name, ecosystem);
            dep.requirement = Some(trimmed.to_owned());
            dep
        }
    })
}

fn python_toolchain(text: &str, item: Option<&Item>, out: &mut Extraction) {
    if let Some(item) = item
        && let Some(dep) = version_dependency(text, "python".to_owned(), Ecosystem::Toolchain, item)
    {
        out.dependencies.push(dep.kind(DependencyKind::Toolchain));
    }
}

/// A Poetry or Pipfile dependency table entry: a version string, a table with `version`, or a
/// table pointing at git/path/url; arrays of tables are several constraints for one package.
fn table_style_dependency(
    text: &str,
    name: &str,
    item: &Item,
    kind: DependencyKind,
    out: &mut Extraction,
) {
    let normalized = normalize_name(name);
    if item.is_str() {
        if let Some(dep) = version_dependency(text, normalized, Ecosystem::Pypi, item) {
            out.dependencies.push(dep.kind(kind));
        }
        return;
    }
    if let Some(array) = item.as_array() {
        for value in array {
            table_style_dependency(text, name, &Item::Value(value.clone()), kind, out);
        }
        return;
    }
    if let Some(array) = item.as_array_of_tables() {
        for table in array {
            table_style_dependency(text, name, &Item::Table(table.clone()), kind, out);
        }
        return;
    }
    let Some(table) = item.as_table_like() else {
        warn(
            out,
            text,
            item,
            format!("dependency `{name}` is neither a version string nor a table"),
        );
        return;
    };
    let kind = if table.get("optional").and_then(Item::as_bool) == Some(true)
        && kind == DependencyKind::Normal
    {
        DependencyKind::Optional
    } else {
        kind
    };
    let skip = if table.contains_key("git") {
        Some(SkipReason::Git)
    } else if table.contains_key("path") || table.contains_key("editable") {
        Some(SkipReason::Path)
    } else if table.contains_key("url") || table.contains_key("file") {
        Some(SkipReason::Url)
    } else {
        None
    };
    let mut dep = match table.get("version") {
        Some(version) => {
            let Some(dep) = version_dependency(text, normalized.clone(), Ecosystem::Pypi, version)
            else {
                warn(
                    out,
                    text,
                    version,
                    format!("`{name}`: version is not a string"),
                );
                return;
            };
            dep
        }
        None => Dependency::unversioned(normalized, Ecosystem::Pypi).skip(SkipReason::NoVersion),
    };
    if let Some(skip) = skip {
        dep.skip = Some(skip);
    }
    if let Some(index) = table
        .get("source")
        .or_else(|| table.get("index"))
        .and_then(Item::as_str)
    {
        dep.registry = Some(index.to_owned());
    }
    out.dependencies.push(dep.kind(kind));
}

fn poetry_table(text: &str, item: Option<&Item>, kind: DependencyKind, out: &mut Extraction) {
    let Some(item) = item else { return };
    let Some(table) = item.as_table_like() else {
        warn(out, text, item, "expected a dependency table".to_owned());
        return;
    };
    for (name, value) in table.iter() {
        if name == "python" {
            python_toolchain(text, Some(value), out);
        } else {
            table_style_dependency(text, name, value, kind, out);
        }
    }
}

pub fn extract_pyproject(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let doc = match parse(text) {
        Ok(doc) => doc,
        Err(warning) => {
            out.warnings.push(warning);
            return out;
        }
    };
    let root = doc.as_table();

    // PEP 518 build requirements.
    pep508_array(
        text,
        get(root, &["build-system", "requires"]),
        DependencyKind::Build,
        &mut out,
    );

    // PEP 621.
    python_toolchain(text, get(root, &["project", "requires-python"]), &mut out);
    pep508_array(
        text,
        get(root, &["project", "dependencies"]),
        DependencyKind::Normal,
        &mut out,
    );
    if let Some(extras) =
        get(root, &["project", "optional-dependencies"]).and_then(Item::as_table_like)
    {
        for (_, list) in extras.iter() {
            pep508_array(text, Some(list), DependencyKind::Optional, &mut out);
        }
    }

    // PEP 735 dependency groups.
    if let Some(groups) = root.get("dependency-groups").and_then(Item::as_table_like) {
        for (_, list) in groups.iter() {
            pep508_array(text, Some(list), DependencyKind::Dev, &mut out);
        }
    }

    // uv's legacy dev dependencies.
    pep508_array(
        text,
        get(root, &["tool", "uv", "dev-dependencies"]),
        DependencyKind::Dev,
        &mut out,
    );

    // Poetry.
    poetry_table(
        text,
        get(root, &["tool", "poetry", "dependencies"]),
        DependencyKind::Normal,
        &mut out,
    );
    poetry_table(
        text,
        get(root, &["tool", "poetry", "dev-dependencies"]),
        DependencyKind::Dev,
        &mut out,
    );
    if let Some(groups) = get(root, &["tool", "poetry", "group"]).and_then(Item::as_table_like) {
        for (group, table) in groups.iter() {
            let kind = if group == "main" {
                DependencyKind::Normal
            } else {
                DependencyKind::Dev
            };
            let deps = table.as_table_like().and_then(|t| t.get("dependencies"));
            poetry_table(text, deps, kind, &mut out);
        }
    }
    out
}

pub fn extract_pipfile(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let doc = match parse(text) {
        Ok(doc) => doc,
        Err(warning) => {
            out.warnings.push(warning);
            return out;
        }
    };
    let root = doc.as_table();
    for (section, kind) in [
        ("packages", DependencyKind::Normal),
        ("dev-packages", DependencyKind::Dev),
    ] {
        let Some(item) = root.get(section) else {
            continue;
        };
        let Some(table) = item.as_table_like() else {
            warn(
                &mut out,
                text,
                item,
                format!("`[{section}]` is not a table"),
            );
            continue;
        };
        for (name, value) in table.iter() {
            table_style_dependency(text, name, value, kind, &mut out);
        }
    }
    let requires = |key: &str| get(root, &["requires", key]);
    python_toolchain(
        text,
        requires("python_full_version").or_else(|| requires("python_version")),
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(ex: &Extraction) -> Vec<(String, Option<String>, DependencyKind, Option<SkipReason>)> {
        ex.dependencies
            .iter()
            .map(|d| (d.name.clone(), d.requirement.clone(), d.kind, d.skip))
            .collect()
    }

    #[test]
    fn pep621_and_groups() {
        let text = r#"
[build-system]
requires = ["hatchling>=1.20", 'setuptools']
[project]
requires-python = ">=3.10"
dependencies = ["Requests[socks] >=2.31 ; python_version>'3'", "pkg @ git+https://example.invalid/p.git"]
[project.optional-dependencies]
fast = ["orjson~=3.9"]
[dependency-groups]
test = ["pytest>=8", {include-group = "fast"}]
"#;
        let ex = extract_pyproject(text);
        assert!(ex.warnings.is_empty(), "{:?}", ex.warnings);
        assert_eq!(
            reqs(&ex),
            vec![
                (
                    "hatchling".into(),
                    Some(">=1.20".into()),
                    DependencyKind::Build,
                    None
                ),
                ("setuptools".into(), None, DependencyKind::Build, None),
                (
                    "python".into(),
                    Some(">=3.10".into()),
                    DependencyKind::Toolchain,
                    None
                ),
                (
                    "requests".into(),
                    Some(">=2.31".into()),
                    DependencyKind::Normal,
                    None
                ),
                (
                    "pkg".into(),
                    None,
                    DependencyKind::Normal,
                    Some(SkipReason::Git)
                ),
                (
                    "orjson".into(),
                    Some("~=3.9".into()),
                    DependencyKind::Optional,
                    None
                ),
                (
                    "pytest".into(),
                    Some(">=8".into()),
                    DependencyKind::Dev,
                    None
                ),
            ]
        );
        for dep in &ex.dependencies {
            if let Some(span) = dep.span {
                assert_eq!(span.slice(text), dep.requirement.as_deref());
            }
        }
        assert_eq!(ex.dependencies[2].ecosystem, Ecosystem::Toolchain);
    }

    #[test]
    fn poetry_forms() {
        let text = r#"
[tool.poetry.dependencies]
python = "^3.9"
Django = "^4.2"
ipywidgets = { version = ">=7.5.1,<9", optional = true }
mylib = { git = "https://example.invalid/mylib.git", tag = "v1" }
local = { path = "../local", develop = true }
multi = [
  { version = "<1.5", python = "<3.10" },
  { version = "^1.5", python = ">=3.10" },
]
[tool.poetry.group.test.dependencies]
pytest = "*"
[tool.poetry.dev-dependencies]
black = { version = "^24.1" }
"#;
        let ex = extract_pyproject(text);
        assert!(ex.warnings.is_empty(), "{:?}", ex.warnings);
        assert_eq!(
            reqs(&ex),
            vec![
                (
                    "python".into(),
                    Some("^3.9".into()),
                    DependencyKind::Toolchain,
                    None
                ),
                (
                    "django".into(),
                    Some("^4.2".into()),
                    DependencyKind::Normal,
                    None
                ),
                (
                    "ipywidgets".into(),
                    Some(">=7.5.1,<9".into()),
                    DependencyKind::Optional,
                    None
                ),
                (
                    "mylib".into(),
                    None,
                    DependencyKind::Normal,
                    Some(SkipReason::Git)
                ),
                (
                    "local".into(),
                    None,
                    DependencyKind::Normal,
                    Some(SkipReason::Path)
                ),
                (
                    "multi".into(),
                    Some("<1.5".into()),
                    DependencyKind::Normal,
                    None
                ),
                (
                    "multi".into(),
                    Some("^1.5".into()),
                    DependencyKind::Normal,
                    None
                ),
                (
                    "black".into(),
                    Some("^24.1".into()),
                    DependencyKind::Dev,
                    None
                ),
                ("pytest".into(), Some("*".into()), DependencyKind::Dev, None),
            ]
        );
    }

    #[test]
    fn escaped_strings_have_no_span() {
        let text = "[project]\ndependencies = [\"a\\u003e=1\"]\n";
        let ex = extract_pyproject(text);
        assert_eq!(ex.dependencies[0].requirement.as_deref(), Some(">=1"));
        assert_eq!(ex.dependencies[0].span, None);
    }

    #[test]
    fn invalid_toml_warns_with_line() {
        let ex = extract_pyproject("[project]\ndependencies = [\n\"a\"\nname = 1\n");
        assert!(ex.dependencies.is_empty());
        assert_eq!(ex.warnings.len(), 1);
        assert!(ex.warnings[0].line.is_some());
        assert!(ex.warnings[0].message.starts_with("invalid TOML"));
    }

    #[test]
    fn wrong_shapes_warn() {
        let ex = extract_pyproject(
            "[project]\ndependencies = \"flask\"\n[tool.poetry]\ndependencies = 3\n",
        );
        assert_eq!(ex.warnings.len(), 2);
    }
}
