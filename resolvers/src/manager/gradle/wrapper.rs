//! `gradle/wrapper/gradle-wrapper.properties`: the Gradle version in `distributionUrl`
//! (`…/gradle-8.5-bin.zip`) becomes the toolchain `gradle`, with the span of `8.5` in the URL.
//! (An update leaves `distributionSha256Sum`, when present, to whoever rewrites the file.)

use crate::Ecosystem;
use crate::manager::{Dependency, DependencyKind, Extraction, Span, Warning};

pub(super) fn extract(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let Some(sep) = trimmed.find(['=', ':']) else {
            continue;
        };
        if trimmed.get(..sep).map(str::trim) != Some("distributionUrl") {
            continue;
        }
        let value_start = line_start + (line.len() - trimmed.len()) + sep + 1;
        let value = text
            .get(value_start..line_start + line.len())
            .unwrap_or("")
            .trim_end();
        match version_in_url(value) {
            Some((start, end)) => {
                let span = Span::new(value_start + start, value_start + end);
                out.dependencies.push(
                    Dependency::at("gradle", Ecosystem::Toolchain, text, span)
                        .kind(DependencyKind::Toolchain),
                );
            }
            None => out.warnings.push(Warning::at_line(
                index + 1,
                "distributionUrl does not name a `gradle-<version>-bin.zip` or `-all.zip` file",
            )),
        }
    }
    out
}

/// Byte range of the version in a distribution URL such as
/// `https\://services.gradle.org/distributions/gradle-8.5-bin.zip`.
fn version_in_url(url: &str) -> Option<(usize, usize)> {
    let file_start = url.rfind('/').map_or(0, |i| i + 1);
    let file = url.get(file_start..)?;
    let rest = file.strip_prefix("gradle-")?;
    let version_len = ["-bin.zip", "-all.zip", ".zip"]
        .iter()
        .find_map(|suffix| rest.strip_suffix(suffix))?
        .len();
    if version_len == 0 {
        return None;
    }
    let start = file_start + "gradle-".len();
    Some((start, start + version_len))
}
