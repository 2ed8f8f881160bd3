//! Toolchain version files shared by several languages: asdf/mise `.tool-versions`, SDKMAN!
//! `.sdkmanrc`, and tfenv's `.terraform-version`. (Language-specific ones live with their manager: `rust-toolchain` in cargo,
//! `.nvmrc` in npm.)

use super::{Dependency, DependencyKind, Extraction, SkipReason, Span, Warning, file_name};
use crate::Ecosystem;

/// The lockfiles this manager reads: none (its files declare versions themselves).
pub const LOCKFILE_NAMES: &[&str] = &[];

pub fn matches(path: &str) -> bool {
    matches!(
        file_name(path),
        ".tool-versions" | ".sdkmanrc" | ".terraform-version"
    )
}

pub fn extract(path: &str, text: &str) -> Extraction {
    match file_name(path) {
        ".sdkmanrc" => sdkmanrc(text),
        ".terraform-version" => terraform_version(text),
        _ => tool_versions(text),
    }
}

/// Our toolchain name for an asdf plugin name (`nodejs` → `node`, `golang` → `go`).
pub fn asdf_toolchain_name(plugin: &str) -> String {
    let lower = plugin.to_ascii_lowercase();
    match lower.as_str() {
        "nodejs" | "node" => "node".to_owned(),
        "golang" | "go" => "go".to_owned(),
        "python" | "python3" => "python".to_owned(),
        "rust" | "rustc" => "rust".to_owned(),
        "java" | "jdk" => "java".to_owned(),
        "gradle" => "gradle".to_owned(),
        "maven" | "mvn" => "maven".to_owned(),
        "terraform" | "tf" => "terraform".to_owned(),
        _ => lower,
    }
}

/// Skip reasons for toolchain versions that name no registry release.
fn version_skip(version: &str) -> Option<SkipReason> {
    let lower = version.to_ascii_lowercase();
    if lower.starts_with("ref:") {
        Some(SkipReason::Git)
    } else if lower.starts_with("path:") {
        Some(SkipReason::Path)
    } else if lower == "system" || lower.starts_with("latest") || lower.starts_with("lts") {
        Some(SkipReason::NoVersion)
    } else {
        None
    }
}

/// Iterate lines with their byte offset, without the trailing newline or comment.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n')
        .enumerate()
        .map(move |(index, line)| {
            let start = offset;
            offset += line.len();
            let content = line.split('#').next().unwrap_or_default();
            let content = content.trim_end_matches(['\n', '\r']);
            (index + 1, start, content)
        })
}

/// `.tool-versions`: `nodejs 20.11.0 18.19.0` — the first version is the one in use.
fn tool_versions(text: &str) -> Extraction {
    let mut out = Extraction::default();
    for (line_no, start, content) in content_lines(text) {
        let mut words = words_with_offsets(content).into_iter();
        let Some((plugin, _)) = words.next() else {
            continue;
        };
        let name = asdf_toolchain_name(plugin);
        let Some((version, at)) = words.next() else {
            out.warnings.push(Warning::at_line(
                line_no,
                format!("`{plugin}` has no version"),
            ));
            continue;
        };
        let span = Span::new(start + at, start + at + version.len());
        let mut dep =
            Dependency::at(name, Ecosystem::Toolchain, text, span).kind(DependencyKind::Toolchain);
        dep.skip = version_skip(version);
        out.dependencies.push(dep);
    }
    out
}

/// tfenv's `.terraform-version`: one version on the first non-blank line; `latest`,
/// `latest:<regex>` and `min-required` name no version.
fn terraform_version(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let Some((line_no, start, content)) =
        content_lines(text).find(|(_, _, content)| !content.trim().is_empty())
    else {
        out.warnings
            .push(Warning::new("the file names no Terraform version"));
        return out;
    };
    let version = content.trim();
    let at = content.len() - content.trim_start().len();
    let span = Span::new(start + at, start + at + version.len());
    let mut dep = Dependency::at("terraform", Ecosystem::Toolchain, text, span)
        .kind(DependencyKind::Toolchain);
    dep.skip = version_skip(version).or_else(|| {
        version
            .eq_ignore_ascii_case("min-required")
            .then_some(SkipReason::NoVersion)
    });
    if version.contains(char::is_whitespace) {
        out.warnings.push(Warning::at_line(
            line_no,
            format!("`{version}` is not one version"),
        ));
        return out;
    }
    out.dependencies.push(dep);
    out
}

/// Whitespace-separated words and their byte offsets in `s`.
fn words_with_offsets(s: &str) -> Vec<(&str, usize)> {
    let mut words = Vec::new();
    let mut begin = None;
    for (i, c) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
        match (c.is_whitespace(), begin) {
            (true, Some(b)) => {
                words.extend(s.get(b..i).map(|w| (w, b)));
                begin = None;
            }
            (false, None) => begin = Some(i),
            _ => {}
        }
    }
    words
}

/// `.sdkmanrc`: `java=17.0.2-tem` lines.
fn sdkmanrc(text: &str) -> Extraction {
    let mut out = Extraction::default();
    for (line_no, start, content) in content_lines(text) {
        if content.trim().is_empty() {
            continue;
        }
        let Some((candidate, value)) = content.split_once('=') else {
            out.warnings
                .push(Warning::at_line(line_no, "expected `candidate=version`"));
            continue;
        };
        let name = candidate.trim().to_ascii_lowercase();
        let version = value.trim();
        if name.is_empty() {
            out.warnings
                .push(Warning::at_line(line_no, "missing candidate name"));
            continue;
        }
        if version.is_empty() {
            out.dependencies.push(
                Dependency::unversioned(name, Ecosystem::Toolchain)
                    .kind(DependencyKind::Toolchain)
                    .skip(SkipReason::NoVersion),
            );
            continue;
        }
        let at = candidate.len() + 1 + (value.len() - value.trim_start().len());
        let span = Span::new(start + at, start + at + version.len());
        let mut dep =
            Dependency::at(name, Ecosystem::Toolchain, text, span).kind(DependencyKind::Toolchain);
        dep.skip = version_skip(version);
        out.dependencies.push(dep);
    }
    out
}

#[cfg(test)]
mod tests;
