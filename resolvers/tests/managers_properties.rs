//! Property tests for every manager: arbitrary input never panics, and updating any
//! requirement of any fixture changes exactly that requirement.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use upkeep_resolvers::manager::{Dependency, DependencyKind, Manager, Span};
use upkeep_resolvers::update::replace_requirement;

/// File names that some manager reads, so every manager sees input routed by name.
const FILE_NAMES: &[&str] = &[
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
    ".python-version",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "gradle/libs.versions.toml",
    "gradle/wrapper/gradle-wrapper.properties",
    "build.sbt",
    "project/plugins.sbt",
    "project/build.properties",
    "go.mod",
    "Dockerfile",
    "docker-compose.yml",
    "compose.yaml",
    ".github/workflows/ci.yml",
];

fn extract_everywhere(text: &str) {
    for manager in Manager::ALL {
        for name in FILE_NAMES {
            let _ = manager.extract(name, text);
        }
    }
}

/// Every fixture file under `src/manager/**/fixtures`, with its path relative to the
/// `fixtures` folder (so managers can match on it).
fn fixtures() -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut all = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/manager"),
        &mut all,
    );
    all.into_iter()
        .filter_map(|path| {
            let components: Vec<String> = path
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let at = components.iter().rposition(|c| c == "fixtures")?;
            let rel = components.get(at + 1..)?.join("/");
            Some((rel, path))
        })
        .collect()
}

/// Small fixtures, used as seeds for mutation.
fn small_fixture_texts() -> Vec<(String, String)> {
    fixtures()
        .into_iter()
        .filter_map(|(rel, path)| {
            let text = std::fs::read_to_string(&path).ok()?;
            (text.len() <= 16 * 1024 && Manager::for_path(&rel).next().is_some())
                .then_some((rel, text))
        })
        .collect()
}

/// A new requirement of the same shape: every digit replaced (so it differs from the old
/// one whenever it has a digit), or `9.8.7` when there is none.
fn new_requirement(old: &str, seed: u64) -> String {
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

fn shifted(dep: &Dependency, after: usize, delta: isize) -> Dependency {
    let mut dep = dep.clone();
    if let Some(span) = dep.span
        && span.start >= after
    {
        dep.span = Some(Span::new(
            span.start.saturating_add_signed(delta),
            span.end.saturating_add_signed(delta),
        ));
    }
    dep
}

/// A fixture with at least one updatable requirement, and its extraction.
struct Spanned {
    rel: String,
    manager: Manager,
    text: String,
    before: upkeep_resolvers::manager::Extraction,
}

/// Fixtures with spans, extracted once for all test cases.
fn spanned_fixtures() -> &'static [Spanned] {
    static CACHE: std::sync::OnceLock<Vec<Spanned>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| {
        let mut out = Vec::new();
        for (rel, path) in fixtures() {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for manager in Manager::for_path(&rel) {
                let before = manager.extract(&rel, &text);
                if before.dependencies.iter().any(|d| d.span.is_some()) {
                    out.push(Spanned {
                        rel: rel.clone(),
                        manager,
                        text: text.clone(),
                        before,
                    });
                }
            }
        }
        out
    })
}

/// Update every spanned dependency of every fixture and check the round trip.
fn round_trip_all(seed: u64) -> usize {
    let mut checked = 0;
    for fixture in spanned_fixtures() {
        let (rel, manager, text, before) = (
            &fixture.rel,
            fixture.manager,
            &fixture.text,
            &fixture.before,
        );
        {
            for (index, dep) in before.dependencies.iter().enumerate() {
                let Some(span) = dep.span else { continue };
                let old = dep.requirement.clone().unwrap_or_default();
                let new = new_requirement(&old, seed ^ index as u64);
                let updated = replace_requirement(text, dep, &new)
                    .unwrap_or_else(|e| panic!("{rel}: {} cannot be updated: {e}", dep.name));
                // Only the span's bytes changed.
                assert_eq!(updated.get(..span.start), text.get(..span.start), "{rel}");
                let tail = updated.len() - (text.len() - span.end);
                assert_eq!(updated.get(tail..), text.get(span.end..), "{rel}");
                let after = manager.extract(rel, &updated);
                assert_eq!(
                    after.dependencies.len(),
                    before.dependencies.len(),
                    "{rel}: updating {} changed the dependency count",
                    dep.name
                );
                let delta = isize::try_from(new.len()).unwrap_or(0)
                    - isize::try_from(old.len()).unwrap_or(0);
                for (other_index, (was, now)) in before
                    .dependencies
                    .iter()
                    .zip(&after.dependencies)
                    .enumerate()
                {
                    if other_index == index || was.span == Some(span) {
                        // The updated requirement (and any dependency sharing its span, such
                        // as one property used by several Maven dependencies).
                        assert_eq!(now.requirement.as_deref(), Some(new.as_str()), "{rel}");
                        assert_eq!(now.name, was.name, "{rel}");
                    } else if was.span.is_none() && now.span.is_none() {
                        // A value derived from the updated text without a span of its own
                        // (a Dockerfile tag built from an ARG and a suffix) follows the update;
                        // only its identity must stay.
                        assert_eq!(
                            (&now.ecosystem, now.kind),
                            (&was.ecosystem, was.kind),
                            "{rel}"
                        );
                    } else if dep.kind == DependencyKind::Toolchain && dep.name == "scala" {
                        // sbt: the Scala version decides the `_2.13`/`_3` suffix of `%%` names.
                        assert_eq!(now.requirement, was.requirement, "{rel}");
                    } else {
                        assert_eq!(
                            &shifted(was, span.end, delta),
                            now,
                            "{rel}: updating {} changed {}",
                            dep.name,
                            was.name
                        );
                    }
                }
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn every_fixture_round_trips() {
    let checked = round_trip_all(0x5eed);
    assert!(checked > 100, "only {checked} requirements were updated");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        extract_everywhere(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        extract_everywhere(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn manifest_like_text_never_panics(
        text in r#"[\[\]{}()"':=,.@^~/<>|*#\n\t a-z0-9_-]{0,400}"#
    ) {
        extract_everywhere(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        cut in 0usize..64,
        insert in r#"[\[\]{}"':=,\n a-z0-9.]{0,16}"#,
    ) {
        let seeds = small_fixture_texts();
        prop_assume!(!seeds.is_empty());
        let (rel, text) = seeds.get(pick.index(seeds.len())).cloned().unwrap_or_default();
        let mut start = at.index(text.len() + 1);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + cut).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mutated = format!(
            "{}{}{}",
            text.get(..start).unwrap_or_default(),
            insert,
            text.get(end..).unwrap_or_default()
        );
        for manager in Manager::ALL {
            let _ = manager.extract(&rel, &mutated);
        }
    }
}

proptest! {
    // Each case re-extracts every fixture once per requirement, so few cases suffice.
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn round_trip_with_random_digits(seed in any::<u64>()) {
        prop_assert!(round_trip_all(seed) > 0);
    }
}
