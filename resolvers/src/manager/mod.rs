//! Managers: one module per manifest or lockfile format.
//!
//! Every manager answers two questions: does it read a file at this path ([`Manager::matches`]),
//! and what does the file declare ([`Manager::extract`]). Extraction never fails as a whole: a
//! malformed file yields what could be read plus [`Warning`]s. Updating a requirement is generic
//! (see [`crate::update`]): every dependency carries the byte [`Span`] of its requirement.

use serde::{Deserialize, Serialize};

use crate::Ecosystem;

pub mod cargo;
pub mod docker;
pub mod github_actions;
pub mod go;
pub mod gradle;
pub mod maven;
pub mod npm;
pub mod python;
pub mod sbt;
pub mod toolchains;

#[cfg(test)]
pub(crate) mod test_kit;

/// Files larger than this are skipped with a warning instead of being parsed.
pub const MAX_MANIFEST_BYTES: usize = 10 * 1024 * 1024;

/// A byte range `start..end` in a manifest's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The text this span covers, if it lies inside `text` on character boundaries.
    pub fn slice(self, text: &str) -> Option<&str> {
        text.get(self.start..self.end)
    }
}

/// How a dependency is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DependencyKind {
    /// A regular runtime dependency (also container images and actions).
    Normal,
    /// Development or test only.
    Dev,
    /// Needed to build (build-dependencies, `build-system.requires`, build plugins).
    Build,
    /// Optional (extras, optional-dependencies, feature-gated).
    Optional,
    /// Peer dependency (npm).
    Peer,
    /// Marked indirect by the manifest itself (Go `// indirect`).
    Indirect,
    /// Only in a lockfile: pulled in by another dependency.
    Transitive,
    /// A language toolchain or build tool version.
    Toolchain,
    /// A version override/resolution forced onto the dependency graph.
    Override,
    /// A build plugin (Maven, Gradle, sbt plugins).
    Plugin,
    /// A parent POM.
    Parent,
    /// A managed-version entry or an imported BOM (Maven dependencyManagement, version catalogs).
    Managed,
}

impl DependencyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyKind::Normal => "normal",
            DependencyKind::Dev => "dev",
            DependencyKind::Build => "build",
            DependencyKind::Optional => "optional",
            DependencyKind::Peer => "peer",
            DependencyKind::Indirect => "indirect",
            DependencyKind::Transitive => "transitive",
            DependencyKind::Toolchain => "toolchain",
            DependencyKind::Override => "override",
            DependencyKind::Plugin => "plugin",
            DependencyKind::Parent => "parent",
            DependencyKind::Managed => "managed",
        }
    }
}

/// Why a dependency cannot be updated from a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// A local path dependency.
    Path,
    /// A git repository dependency.
    Git,
    /// A direct URL or archive (`https://…/x.tar.gz`, `file:`).
    Url,
    /// npm/pnpm/yarn `workspace:` protocol or Cargo `workspace = true` without a workspace entry.
    Workspace,
    /// A local GitHub action (`./.github/actions/x`) or a Dockerfile stage alias.
    Local,
    /// The version is a variable that could not be resolved (`${revision}`, `$TAG`).
    UnresolvedVariable,
    /// No version is written (`FROM ubuntu`, a Maven dependency managed elsewhere).
    NoVersion,
    /// Pinned to an immutable digest or commit with no version to compare.
    Digest,
    /// The requirement cannot be parsed by the ecosystem's version scheme.
    InvalidRequirement,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Path => "path",
            SkipReason::Git => "git",
            SkipReason::Url => "url",
            SkipReason::Workspace => "workspace",
            SkipReason::Local => "local",
            SkipReason::UnresolvedVariable => "unresolved-variable",
            SkipReason::NoVersion => "no-version",
            SkipReason::Digest => "digest",
            SkipReason::InvalidRequirement => "invalid-requirement",
        }
    }
}

/// One requirement in one manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// Normalised package name (see the naming rules per ecosystem).
    pub name: String,
    pub ecosystem: Ecosystem,
    /// The requirement exactly as written (trimmed), `None` when the manifest states none.
    pub requirement: Option<String>,
    /// Byte span of `requirement` in the manifest text (`text[span] == requirement`).
    pub span: Option<Span>,
    /// The exact version a lockfile (or the manifest itself, e.g. a SHA comment) pins.
    pub locked: Option<String>,
    pub kind: DependencyKind,
    /// Set when the dependency cannot be updated from a registry.
    pub skip: Option<SkipReason>,
    /// A non-default registry/index the manifest names for this dependency (name or URL).
    pub registry: Option<String>,
}

impl Dependency {
    /// A dependency with a requirement at `span` in `text`; the requirement is `text[span]`.
    pub fn at(name: impl Into<String>, ecosystem: Ecosystem, text: &str, span: Span) -> Self {
        Dependency {
            name: name.into(),
            ecosystem,
            requirement: span.slice(text).map(str::to_owned),
            span: Some(span),
            locked: None,
            kind: DependencyKind::Normal,
            skip: None,
            registry: None,
        }
    }

    /// A dependency without a written requirement.
    pub fn unversioned(name: impl Into<String>, ecosystem: Ecosystem) -> Self {
        Dependency {
            name: name.into(),
            ecosystem,
            requirement: None,
            span: None,
            locked: None,
            kind: DependencyKind::Normal,
            skip: None,
            registry: None,
        }
    }

    #[must_use]
    pub fn kind(mut self, kind: DependencyKind) -> Self {
        self.kind = kind;
        self
    }

    #[must_use]
    pub fn skip(mut self, reason: SkipReason) -> Self {
        self.skip = Some(reason);
        self
    }

    #[must_use]
    pub fn locked(mut self, version: impl Into<String>) -> Self {
        self.locked = Some(version.into());
        self
    }
}

/// A package version pinned by a lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    pub name: String,
    pub ecosystem: Ecosystem,
    pub version: String,
    /// True when the lockfile records this entry as a direct dependency of a workspace member
    /// (or as the top-level copy when several versions are locked).
    pub direct: bool,
}

/// A problem found while reading a manifest; the rest of the file is still used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// 1-based line number when known.
    pub line: Option<usize>,
    pub message: String,
}

impl Warning {
    pub fn new(message: impl Into<String>) -> Self {
        Warning {
            line: None,
            message: message.into(),
        }
    }

    pub fn at_line(line: usize, message: impl Into<String>) -> Self {
        Warning {
            line: Some(line),
            message: message.into(),
        }
    }
}

/// What one file declares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extraction {
    pub dependencies: Vec<Dependency>,
    /// Versions pinned by a lockfile (empty for manifests).
    pub locks: Vec<LockedPackage>,
    pub warnings: Vec<Warning>,
    /// Values the file defines for other files of the project to use (Gradle's
    /// `gradle.properties`); the scan resolves references to them (see
    /// [`Manager::referenced_property`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// A `name = value` definition another file can refer to, with the span of the value, so an
/// update of a dependency whose version comes from it edits the value in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    pub name: String,
    pub value: String,
    pub span: Span,
}

/// A manifest or lockfile format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Manager {
    Cargo,
    Npm,
    Python,
    Maven,
    Gradle,
    Sbt,
    Go,
    Docker,
    GithubActions,
    Toolchains,
}

impl Manager {
    pub const ALL: [Manager; 10] = [
        Manager::Cargo,
        Manager::Npm,
        Manager::Python,
        Manager::Maven,
        Manager::Gradle,
        Manager::Sbt,
        Manager::Go,
        Manager::Docker,
        Manager::GithubActions,
        Manager::Toolchains,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Manager::Cargo => "cargo",
            Manager::Npm => "npm",
            Manager::Python => "python",
            Manager::Maven => "maven",
            Manager::Gradle => "gradle",
            Manager::Sbt => "sbt",
            Manager::Go => "go",
            Manager::Docker => "docker",
            Manager::GithubActions => "github-actions",
            Manager::Toolchains => "toolchains",
        }
    }

    /// Does this manager read the file at `path` (relative, `/`-separated)?
    pub fn matches(self, path: &str) -> bool {
        match self {
            Manager::Cargo => cargo::matches(path),
            Manager::Npm => npm::matches(path),
            Manager::Python => python::matches(path),
            Manager::Maven => maven::matches(path),
            Manager::Gradle => gradle::matches(path),
            Manager::Sbt => sbt::matches(path),
            Manager::Go => go::matches(path),
            Manager::Docker => docker::matches(path),
            Manager::GithubActions => github_actions::matches(path),
            Manager::Toolchains => toolchains::matches(path),
        }
    }

    /// The file names of the lockfiles this manager reads (each manager declares its own
    /// `LOCKFILE_NAMES`).
    pub fn lockfile_names(self) -> &'static [&'static str] {
        match self {
            Manager::Cargo => cargo::LOCKFILE_NAMES,
            Manager::Npm => npm::LOCKFILE_NAMES,
            Manager::Python => python::LOCKFILE_NAMES,
            Manager::Maven => maven::LOCKFILE_NAMES,
            Manager::Gradle => gradle::LOCKFILE_NAMES,
            Manager::Sbt => sbt::LOCKFILE_NAMES,
            Manager::Go => go::LOCKFILE_NAMES,
            Manager::Docker => docker::LOCKFILE_NAMES,
            Manager::GithubActions => github_actions::LOCKFILE_NAMES,
            Manager::Toolchains => toolchains::LOCKFILE_NAMES,
        }
    }

    /// Is the file at `path` a lockfile of this manager (it pins versions for manifests in its
    /// directory and below)?
    pub fn is_lockfile(self, path: &str) -> bool {
        self.lockfile_names().contains(&file_name(path))
    }

    /// Read `text` (the content of the file at `path`). Never panics on any input.
    pub fn extract(self, path: &str, text: &str) -> Extraction {
        if text.len() > MAX_MANIFEST_BYTES {
            return Extraction {
                warnings: vec![Warning::new(format!(
                    "file is {} bytes, over the {MAX_MANIFEST_BYTES}-byte limit; skipped",
                    text.len()
                ))],
                ..Extraction::default()
            };
        }
        let mut out = match self {
            Manager::Cargo => cargo::extract(path, text),
            Manager::Npm => npm::extract(path, text),
            Manager::Python => python::extract(path, text),
            Manager::Maven => maven::extract(path, text),
            Manager::Gradle => gradle::extract(path, text),
            Manager::Sbt => sbt::extract(path, text),
            Manager::Go => go::extract(path, text),
            Manager::Docker => docker::extract(path, text),
            Manager::GithubActions => github_actions::extract(path, text),
            Manager::Toolchains => toolchains::extract(path, text),
        };
        flag_rejected_ranges(&mut out, text);
        out
    }

    /// The name of a [`Property`] defined by another file of this manager (the nearest one up the
    /// directory tree, such as a `gradle.properties`) that the version of `dependency`, read from
    /// the file at `path`, refers to. The scan resolves it once the whole project is seen: the
    /// dependency moves to the file that defines the property, with the property's value and
    /// span. `None` for every manager whose files do not refer to one another.
    pub fn referenced_property<'a>(
        self,
        path: &str,
        dependency: &'a Dependency,
    ) -> Option<&'a str> {
        match self {
            Manager::Gradle => gradle::referenced_property(path, dependency),
            Manager::Cargo
            | Manager::Npm
            | Manager::Python
            | Manager::Maven
            | Manager::Sbt
            | Manager::Go
            | Manager::Docker
            | Manager::GithubActions
            | Manager::Toolchains => None,
        }
    }

    /// Every manager that reads the file at `path`.
    pub fn for_path(path: &str) -> impl Iterator<Item = Manager> + '_ {
        Manager::ALL.into_iter().filter(move |m| m.matches(path))
    }
}

impl std::fmt::Display for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file's bytes read as text: see [`decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// Set when some bytes were not valid UTF-8.
    pub warning: Option<Warning>,
}

/// Read `bytes` as UTF-8, lossily: each byte of an invalid sequence becomes one `?`, so the text
/// has exactly as many bytes as the file and every span found in it is a span of the file (a
/// `U+FFFD` replacement would take three bytes and shift every later offset). A file with invalid
/// bytes gets a warning naming how many and where the first one is; the rest is read as usual. A
/// byte-order mark is kept (managers that read JSON skip it).
pub fn decode(bytes: Vec<u8>) -> Decoded {
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => {
            return Decoded {
                text,
                warning: None,
            };
        }
        Err(err) => err.into_bytes(),
    };
    let mut text = String::with_capacity(bytes.len());
    let mut invalid = 0;
    let mut first: Option<usize> = None;
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                text.push_str(valid);
                break;
            }
            Err(err) => {
                let (valid, after) = rest.split_at(err.valid_up_to());
                // `valid_up_to` bytes are valid UTF-8 by the error's contract.
                text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let bad = err.error_len().unwrap_or(after.len());
                first.get_or_insert(text.len());
                invalid += bad;
                text.extend(std::iter::repeat_n('?', bad));
                rest = after.get(bad..).unwrap_or_default();
            }
        }
    }
    let at = first.unwrap_or_default();
    Decoded {
        warning: Some(Warning::at_line(
            line_of(&text, at),
            format!(
                "file is not valid UTF-8: {invalid} invalid byte(s), the first at offset {at}, \
                 read as `?`"
            ),
        )),
        text,
    }
}

/// The last `/`-separated component of `path`.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// 1-based line number of byte offset `offset` in `text`.
#[expect(
    clippy::naive_bytecount,
    reason = "manifests are small; not worth a bytecount dependency"
)]
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Maven version ranges that Maven itself rejects (`[1.1,1.0]`, `(1.0,1.0)`, overlapping or
/// out-of-order unions, a double comma) and release-train versions that cannot be ordered
/// (`Hoxton.BUILD-SNAPSHOT`), wherever a Maven-scheme requirement is written (POMs, Gradle,
/// sbt): a warning on the file that names the dependency and says why, and the dependency is
/// skipped as an invalid requirement rather than compared or bumped.
fn flag_rejected_ranges(out: &mut Extraction, text: &str) {
    for dependency in &mut out.dependencies {
        if dependency.ecosystem.versioning() != crate::versioning::Versioning::Maven
            || dependency.skip.is_some()
        {
            continue;
        }
        // Gradle also writes exclusive bounds with reversed brackets (`[1.0, 2.0[`, `]1.0,)`);
        // that notation is Gradle's own, not a range Maven rejects.
        let gradle_notation = |r: &&str| r.trim().starts_with(']') || r.trim().ends_with('[');
        let Some(requirement) = dependency.requirement.as_deref() else {
            continue;
        };
        let why = if gradle_notation(&requirement) {
            None
        } else if let Some(why) = crate::versioning::maven::range_error(requirement) {
            Some(format!("invalid version range {why}"))
        } else {
            crate::versioning::maven::train_error(requirement)
        };
        let Some(why) = why else {
            continue;
        };
        out.warnings.push(Warning {
            line: dependency.span.map(|span| line_of(text, span.start)),
            message: format!("`{}`: {why}", dependency.name),
        });
        dependency.skip = Some(SkipReason::InvalidRequirement);
    }
}

#[cfg(test)]
mod tests {
    use super::{Manager, SkipReason, Span, decode};

    /// A range Maven rejects is a warning naming the dependency and the reason, in every
    /// manager that writes Maven ranges; a valid range next to it is untouched.
    #[test]
    fn rejected_maven_ranges_are_warnings_on_their_dependency() {
        let files = [
            (
                Manager::Maven,
                "pom.xml",
                "<project>\n<dependencies>\n<dependency><groupId>g</groupId><artifactId>bad</artifactId><version>[1.1,1.0]</version></dependency>\n<dependency><groupId>g</groupId><artifactId>good</artifactId><version>[1.0,2.0)</version></dependency>\n</dependencies>\n</project>\n",
                "g:bad",
                "defies version ordering",
            ),
            (
                Manager::Maven,
                "pom.xml",
                "<project>\n<dependencyManagement><dependencies>\n<dependency><groupId>g</groupId><artifactId>good</artifactId><version>Hoxton.SR1</version></dependency>\n<dependency><groupId>g</groupId><artifactId>bad</artifactId><version>Hoxton.BUILD-SNAPSHOT</version></dependency>\n</dependencies></dependencyManagement>\n</project>\n",
                "g:bad",
                "cannot be ordered",
            ),
            (
                Manager::Gradle,
                "build.gradle",
                "dependencies {\n  implementation 'g:good:[1.0,2.0)'\n  implementation 'g:bad:(1.0,1.0)'\n}\n",
                "g:bad",
                "is empty",
            ),
            (
                Manager::Sbt,
                "build.sbt",
                "libraryDependencies += \"g\" % \"good\" % \"[1.0,2.0)\"\nlibraryDependencies += \"g\" % \"bad\" % \"[1.0,1.2),(1.1,1.3]\"\n",
                "g:bad",
                "overlap",
            ),
        ];
        for (manager, path, text, bad, why) in files {
            let out = manager.extract(path, text);
            let warning = out
                .warnings
                .iter()
                .find(|w| w.message.contains(bad))
                .unwrap_or_else(|| panic!("{path}: no warning for {bad}: {:?}", out.warnings));
            assert!(warning.message.contains(why), "{path}: {}", warning.message);
            assert!(warning.line.is_some(), "{path}: {warning:?}");
            assert_eq!(out.warnings.len(), 1, "{path}: {:?}", out.warnings);
            let skip = |name: &str| {
                out.dependencies
                    .iter()
                    .find(|d| d.name == name)
                    .map_or_else(
                        || panic!("{path}: no {name} in {:?}", out.dependencies),
                        |d| d.skip,
                    )
            };
            assert_eq!(skip(bad), Some(SkipReason::InvalidRequirement), "{path}");
            assert_eq!(skip("g:good"), None, "{path}");
        }
    }

    #[test]
    fn invalid_bytes_decode_to_one_placeholder_each_and_keep_offsets() {
        let mut bytes = b"[package]\nname = \"a\" # caf".to_vec();
        bytes.extend([0xe9, 0xff]);
        bytes.extend(b" \xc3\xa9t\xc3\xa9\n[dependencies]\nserde = \"1.0\"\n".to_vec());
        bytes.extend(b"# cut short ".to_vec());
        bytes.extend([0xe2, 0x82]);
        let decoded = decode(bytes.clone());
        assert_eq!(decoded.text.len(), bytes.len());
        assert!(decoded.text.contains("caf?? \u{e9}t\u{e9}\n"));
        assert!(decoded.text.ends_with("\"1.0\"\n# cut short ??"));
        let warning = decoded.warning.expect("a warning");
        assert_eq!(warning.line, Some(2));
        assert!(
            warning
                .message
                .contains("4 invalid byte(s), the first at offset 26")
        );
        // Spans found in the decoded text are spans of the original bytes.
        let ex = Manager::Cargo.extract("Cargo.toml", &decoded.text);
        let span = ex.dependencies.first().and_then(|d| d.span).expect("serde");
        assert_eq!(bytes.get(span.start..span.end), Some(&b"1.0"[..]));
        assert_eq!(span, Span::new(span.start, span.start + 3));
        assert!(ex.warnings.is_empty(), "{:?}", ex.warnings);
        let valid = decode("ok \u{e9}".as_bytes().to_vec());
        assert_eq!((valid.text.as_str(), valid.warning), ("ok \u{e9}", None));
    }

    #[test]
    fn each_manager_declares_its_lockfiles() {
        let lockfiles: Vec<(Manager, &str)> = Manager::ALL
            .into_iter()
            .flat_map(|m| m.lockfile_names().iter().map(move |name| (m, *name)))
            .collect();
        assert_eq!(
            lockfiles,
            vec![
                (Manager::Cargo, "Cargo.lock"),
                (Manager::Npm, "package-lock.json"),
                (Manager::Npm, "npm-shrinkwrap.json"),
                (Manager::Npm, "yarn.lock"),
                (Manager::Npm, "pnpm-lock.yaml"),
                (Manager::Python, "poetry.lock"),
                (Manager::Python, "uv.lock"),
                (Manager::Python, "Pipfile.lock"),
            ]
        );
        for (manager, name) in lockfiles {
            // Every lockfile a manager declares is a file it reads, in any directory.
            assert!(manager.matches(name), "{manager} {name}");
            assert!(
                manager.is_lockfile(&format!("a/b/{name}")),
                "{manager} {name}"
            );
            assert!(
                !manager.is_lockfile(&format!("{name}.bak")),
                "{manager} {name}"
            );
        }
        assert!(!Manager::Npm.is_lockfile("package.json"));
        assert!(!Manager::Cargo.is_lockfile("Cargo.toml"));
    }
}
