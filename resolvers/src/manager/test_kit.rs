//! The manager test kit: the checks every manager runs on its own fixtures, in one shape.
//!
//! Each manager keeps real-world files under `src/manager/<module>/fixtures/`, each at the path it
//! has in its project (`litho/build.gradle`, `cats/project/plugins.sbt`), so the manager sees the
//! file names it reads. [`kit_tests!`] adds the same tests to every manager's test module:
//!
//! - a snapshot per fixture (one YAML format for every manager, in `<module>/snapshots/`), after
//!   checking that the manager claims the fixture's path and that every span slices exactly the
//!   requirement text it belongs to;
//! - round trips: replacing one requirement's span through [`crate::update`] changes exactly that
//!   requirement (with digits changed, with the manager's own kind of new requirement, and with
//!   the same text, which must give back the same file and the same extraction);
//! - arbitrary input: random strings, bytes, manifest-like text and mutated fixtures under every
//!   file name any manager reads never make the manager panic, and its spans stay consistent.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::manager::{Dependency, DependencyKind, Extraction, Manager, Property, Span, Warning};
use crate::update::replace_requirement;

/// File names that some manager reads, so every manager sees arbitrary input routed by name.
pub(crate) const FILE_NAMES: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "rust-toolchain",
    "rust-toolchain.toml",
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    ".nvmrc",
    ".node-version",
    ".tool-versions",
    ".sdkmanrc",
    "requirements.txt",
    "requirements-dev.txt",
    "pyproject.toml",
    "poetry.lock",
    "uv.lock",
    "Pipfile",
    "Pipfile.lock",
    "setup.cfg",
    "setup.py",
    ".python-version",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "gradle/libs.versions.toml",
    "gradle/wrapper/gradle-wrapper.properties",
    "gradle.properties",
    "build.sbt",
    "project/plugins.sbt",
    "project/build.properties",
    "go.mod",
    "Dockerfile",
    "docker-compose.yml",
    "compose.yaml",
    ".github/workflows/ci.yml",
    "action.yml",
];

/// One fixture file: its path relative to `fixtures/` (the path the manager is given), its
/// location on disk and its text.
pub(crate) struct Fixture {
    pub path: String,
    pub file: PathBuf,
    pub text: String,
}

/// The folder of `manager`'s module (`src/manager/<module>`).
fn module_dir(manager: Manager) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/manager")
        .join(manager.as_str().replace('-', "_"))
}

/// Every fixture of `manager`, sorted by path; the README listing the sources is not a fixture.
pub(crate) fn fixtures(manager: Manager) -> Vec<Fixture> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<Fixture>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for file in entries {
            if file.is_dir() {
                walk(root, &file, out);
            } else if file.file_name().is_some_and(|n| n != "README.md") {
                let path = file
                    .strip_prefix(root)
                    .expect("under the fixtures folder")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let text = std::fs::read_to_string(&file)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                out.push(Fixture { path, file, text });
            }
        }
    }
    let root = module_dir(manager).join("fixtures");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    assert!(!out.is_empty(), "no fixtures for {manager}");
    out
}

/// Every span must slice exactly the requirement text of its dependency.
pub(crate) fn assert_spans(path: &str, text: &str, extraction: &Extraction) {
    for dep in &extraction.dependencies {
        if let Some(span) = dep.span {
            assert_eq!(
                span.slice(text),
                dep.requirement.as_deref(),
                "{path}: the span of {} does not hold its requirement",
                dep.name
            );
        }
    }
    for property in &extraction.properties {
        assert_eq!(
            property.span.slice(text),
            Some(property.value.as_str()),
            "{path}: the span of property {} does not hold its value",
            property.name
        );
    }
}

/// What a snapshot records: the whole extraction, with one line per locked package
/// (`ecosystem name version`, then `direct` when the lockfile says so) so that long lockfiles
/// stay reviewable.
#[derive(Serialize)]
struct Snapshot<'a> {
    dependencies: &'a [Dependency],
    warnings: &'a [Warning],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    properties: &'a [Property],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locks: Vec<String>,
}

impl<'a> Snapshot<'a> {
    fn of(extraction: &'a Extraction) -> Self {
        Snapshot {
            dependencies: &extraction.dependencies,
            warnings: &extraction.warnings,
            properties: &extraction.properties,
            locks: extraction
                .locks
                .iter()
                .map(|l| {
                    let direct = if l.direct { " direct" } else { "" };
                    format!("{} {} {}{direct}", l.ecosystem, l.name, l.version)
                })
                .collect(),
        }
    }
}

/// Snapshot the extraction of every fixture of `manager` (which must claim each fixture's path,
/// with consistent spans); returns how many fixtures were checked.
pub(crate) fn snapshot_fixtures(manager: Manager) -> usize {
    let all = fixtures(manager);
    for fixture in &all {
        assert!(
            manager.matches(&fixture.path),
            "{manager} does not read its fixture {}",
            fixture.path
        );
        let extraction = manager.extract(&fixture.path, &fixture.text);
        assert_spans(&fixture.path, &fixture.text, &extraction);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(module_dir(manager).join("snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_input_file(&fixture.file);
        let name = fixture.path.replace('/', "__");
        let snapshot = Snapshot::of(&extraction);
        settings.bind(|| insta::assert_yaml_snapshot!(name, snapshot));
    }
    all.len()
}

/// A new requirement of the same shape: every digit replaced (so it differs from the old one
/// whenever it has a digit), or `9.8.7` when there is none.
pub(crate) fn new_digits(old: &str, seed: u64) -> String {
    if !old.chars().any(|c| c.is_ascii_digit()) {
        return "9.8.7".to_owned();
    }
    let mut state = seed;
    old.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let step = u32::try_from(state >> 60).unwrap_or(0) % 9 + 1;
                char::from_digit((d + step) % 10, 10).unwrap_or(c)
            }
            None => c,
        })
        .collect()
}

fn shifted(span: Span, after: usize, delta: isize) -> Span {
    let move_by = |x: usize| x.checked_add_signed(delta).expect("span stays in range");
    if span.start >= after {
        Span::new(move_by(span.start), move_by(span.end))
    } else {
        span
    }
}

/// For every dependency with a span in every fixture of `manager`: replace its requirement with
/// `new_requirement(dependency, index)` and extract again. Only the span's bytes change; the
/// updated dependency (and any sharing its span, such as one property used by several Maven
/// dependencies) takes the new requirement; every other dependency stays as it was, its span
/// shifted; locks and warnings stay. Returns how many requirements were updated.
pub(crate) fn round_trips(
    manager: Manager,
    new_requirement: &dyn Fn(&Dependency, usize) -> String,
) -> usize {
    let mut checked = 0;
    for fixture in fixtures(manager) {
        let (path, text) = (fixture.path.as_str(), fixture.text.as_str());
        let before = manager.extract(path, text);
        for (index, dep) in before.dependencies.iter().enumerate() {
            let Some(span) = dep.span else { continue };
            let old = dep.requirement.clone().unwrap_or_default();
            let new = new_requirement(dep, index);
            let updated = replace_requirement(text, dep, &new)
                .unwrap_or_else(|e| panic!("{path}: {} cannot be updated: {e}", dep.name));
            assert_eq!(updated.get(..span.start), text.get(..span.start), "{path}");
            let tail = updated.len() - (text.len() - span.end);
            assert_eq!(updated.get(tail..), text.get(span.end..), "{path}");
            let after = manager.extract(path, &updated);
            assert_spans(path, &updated, &after);
            assert_eq!(
                after.dependencies.len(),
                before.dependencies.len(),
                "{path}: updating {} changed the dependency count",
                dep.name
            );
            let delta = new.len().cast_signed() - old.len().cast_signed();
            for (other, (was, now)) in before
                .dependencies
                .iter()
                .zip(&after.dependencies)
                .enumerate()
            {
                if other == index || was.span == Some(span) {
                    assert_eq!(now.requirement.as_deref(), Some(new.as_str()), "{path}");
                    assert_eq!(now.name, was.name, "{path}");
                    assert_eq!(
                        now.span,
                        Some(Span::new(span.start, span.start + new.len()))
                    );
                } else if dep.kind == DependencyKind::Toolchain && dep.name == "scala" {
                    // sbt: the Scala version decides the `_2.13`/`_3` suffix of `%%` names.
                    assert_eq!(
                        (&now.requirement, now.ecosystem, now.kind),
                        (&was.requirement, was.ecosystem, was.kind),
                        "{path}"
                    );
                } else if was.span.is_none() && now.span.is_none() {
                    // A value derived from the updated text without a span of its own (a
                    // Dockerfile tag built from an ARG and a suffix) follows the update; only its
                    // identity must stay.
                    assert_eq!(
                        (&now.name, now.ecosystem, now.kind),
                        (&was.name, was.ecosystem, was.kind),
                        "{path}"
                    );
                } else {
                    let mut expected = was.clone();
                    expected.span = was.span.map(|s| shifted(s, span.end, delta));
                    assert_eq!(
                        &expected, now,
                        "{path}: updating {} changed {}",
                        dep.name, was.name
                    );
                }
            }
            assert_eq!(after.locks, before.locks, "{path}");
            checked += 1;
        }
    }
    checked
}

/// Replacing every span with the text it already holds gives back the same file and the same
/// extraction.
pub(crate) fn same_text_round_trips(manager: Manager) -> usize {
    let mut checked = 0;
    for fixture in fixtures(manager) {
        let (path, text) = (fixture.path.as_str(), fixture.text.as_str());
        let before = manager.extract(path, text);
        for dep in &before.dependencies {
            let (Some(_), Some(requirement)) = (dep.span, dep.requirement.as_deref()) else {
                continue;
            };
            let updated = replace_requirement(text, dep, requirement)
                .unwrap_or_else(|e| panic!("{path}: {} cannot be updated: {e}", dep.name));
            assert_eq!(updated, text, "{path}: {}", dep.name);
            assert_eq!(manager.extract(path, &updated), before, "{path}");
            checked += 1;
        }
    }
    checked
}

/// Extract `text` under every file name any manager reads: no panic, consistent spans.
pub(crate) fn extract_everywhere(manager: Manager, text: &str) {
    for name in FILE_NAMES {
        let extraction = manager.extract(name, text);
        assert_spans(name, text, &extraction);
    }
}

/// Fixtures of at most 16 KiB, as seeds for mutation.
pub(crate) fn small_fixtures(manager: Manager) -> Vec<(String, String)> {
    fixtures(manager)
        .into_iter()
        .filter(|f| f.text.len() <= 16 * 1024)
        .map(|f| (f.path, f.text))
        .collect()
}

/// `text` with `cut` bytes from `at` replaced by `insert`, on character boundaries.
pub(crate) fn mutate(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let mut start = at.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + cut).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}{insert}{}",
        text.get(..start).unwrap_or_default(),
        text.get(end..).unwrap_or_default()
    )
}

/// The kit's tests for one manager: `kit_tests!(Manager::Go)`, or with the manager's own kind of
/// new requirement for the round trip: `kit_tests!(Manager::Go, |dep| ...)`.
macro_rules! kit_tests {
    ($manager:expr) => {
        $crate::manager::test_kit::kit_tests!($manager, |dep| {
            $crate::manager::test_kit::new_digits(dep.requirement.as_deref().unwrap_or(""), 0x0bad)
        });
    };
    ($manager:expr, $new_requirement:expr) => {
        /// The manager's own kind of new requirement for the kit's round trip.
        fn kit_new_requirement(dep: &$crate::manager::Dependency) -> String {
            fn typed<F: Fn(&$crate::manager::Dependency) -> String>(f: F) -> F {
                f
            }
            typed($new_requirement)(dep)
        }

        mod kit {
            use proptest::prelude::*;

            use $crate::manager::test_kit;
            use $crate::manager::{Dependency, Manager};

            const MANAGER: Manager = $manager;

            #[test]
            fn fixture_snapshots() {
                assert!(test_kit::snapshot_fixtures(MANAGER) > 0);
            }

            #[test]
            fn round_trips_with_new_digits() {
                let checked = test_kit::round_trips(MANAGER, &|dep: &Dependency, index| {
                    test_kit::new_digits(
                        dep.requirement.as_deref().unwrap_or(""),
                        0x5eed ^ index as u64,
                    )
                });
                assert!(checked > 0, "no requirement of {MANAGER} was updated");
            }

            #[test]
            fn round_trips_with_own_requirements() {
                let checked =
                    test_kit::round_trips(MANAGER, &|dep: &Dependency, _| super::kit_new_requirement(dep));
                assert!(checked > 0, "no requirement of {MANAGER} was updated");
            }

            #[test]
            fn same_text_round_trips() {
                assert!(test_kit::same_text_round_trips(MANAGER) > 0);
            }

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(256))]

                #[test]
                fn arbitrary_strings_never_panic(text in any::<String>()) {
                    test_kit::extract_everywhere(MANAGER, &text);
                }

                #[test]
                fn arbitrary_bytes_never_panic(
                    bytes in proptest::collection::vec(any::<u8>(), 0..512)
                ) {
                    test_kit::extract_everywhere(MANAGER, &String::from_utf8_lossy(&bytes));
                }

                #[test]
                fn manifest_like_text_never_panics(
                    text in r#"[\[\]{}()"':=,.@^~/<>|*#$\n\t a-z0-9_-]{0,400}"#
                ) {
                    test_kit::extract_everywhere(MANAGER, &text);
                }

                #[test]
                fn mutated_fixtures_never_panic(
                    pick in any::<prop::sample::Index>(),
                    at in any::<prop::sample::Index>(),
                    cut in 0usize..64,
                    insert in r#"[\[\]{}"':=,\n a-z0-9.$]{0,16}"#,
                ) {
                    let seeds = test_kit::small_fixtures(MANAGER);
                    prop_assume!(!seeds.is_empty());
                    let (path, text) = seeds.get(pick.index(seeds.len())).cloned().unwrap_or_default();
                    let mutated = test_kit::mutate(&text, at.index(text.len() + 1), cut, &insert);
                    let extraction = MANAGER.extract(&path, &mutated);
                    test_kit::assert_spans(&path, &mutated, &extraction);
                }
            }

            proptest! {
                // Each case re-extracts every fixture once per requirement, so few cases suffice.
                #![proptest_config(ProptestConfig::with_cases(8))]

                #[test]
                fn round_trips_with_random_digits(seed in any::<u64>()) {
                    let checked = test_kit::round_trips(MANAGER, &|dep: &Dependency, index| {
                        test_kit::new_digits(dep.requirement.as_deref().unwrap_or(""), seed ^ index as u64)
                    });
                    prop_assert!(checked > 0);
                }
            }
        }
    };
}

pub(crate) use kit_tests;
