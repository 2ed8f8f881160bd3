//! Test helpers shared by the python, go, docker and github-actions managers: fixture snapshots,
//! the update round trip, and a mutation fuzzer.

use std::path::{Path, PathBuf};

use crate::manager::{Dependency, Extraction, Manager, Span};
use crate::update::replace_requirement;

fn fixtures_dir(module: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/manager")
        .join(module)
        .join("fixtures")
}

/// Every fixture file of `module` as (path relative to `fixtures/`, text), sorted; the README
/// listing the sources is not a fixture.
pub fn fixtures(module: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("fixtures dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.file_name().is_some_and(|n| n != "README.md") {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("fixture is UTF-8");
                out.push((rel, text));
            }
        }
    }
    let root = fixtures_dir(module);
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

/// Every span must cover exactly the requirement it belongs to.
pub fn assert_spans_consistent(path: &str, text: &str, ex: &Extraction) {
    for dep in &ex.dependencies {
        if let Some(span) = dep.span {
            assert_eq!(
                span.slice(text),
                dep.requirement.as_deref(),
                "{path}: span of {} does not hold its requirement",
                dep.name
            );
        }
    }
}

/// Snapshot the extraction of every fixture (the manager must claim each fixture's path).
pub fn fixture_snapshots(manager: Manager, module: &str) {
    let all = fixtures(module);
    assert!(!all.is_empty(), "no fixtures for {module}");
    for (path, text) in all {
        assert!(
            manager.matches(&path),
            "{manager} does not match fixture {path}"
        );
        let ex = manager.extract(&path, &text);
        assert_spans_consistent(&path, &text, &ex);
        let name = path.replace('/', "__");
        let snapshots = fixtures_dir(module).with_file_name("snapshots");
        insta::with_settings!({ snapshot_path => snapshots, prepend_module_to_snapshot => false }, {
            insta::assert_yaml_snapshot!(format!("{module}__{name}"), ex);
        });
    }
}

fn shifted(span: Span, at: usize, delta: isize) -> Span {
    let move_by = |x: usize| x.checked_add_signed(delta).expect("span stays in range");
    if span.start >= at {
        Span::new(move_by(span.start), move_by(span.end))
    } else {
        span
    }
}

/// For every dependency with a span in every fixture: replace its requirement with
/// `new_requirement(dep)`, re-extract, and check that exactly that dependency (and any that share
/// its span, such as two `FROM` lines using one `ARG`) changed.
pub fn assert_round_trips(
    manager: Manager,
    module: &str,
    new_requirement: impl Fn(&Dependency) -> String,
) {
    let mut checked = 0;
    for (path, text) in fixtures(module) {
        let before = manager.extract(&path, &text);
        for dep in before.dependencies.iter().filter(|d| d.span.is_some()) {
            let old = dep.span.expect("filtered");
            let new = new_requirement(dep);
            let updated = replace_requirement(&text, dep, &new)
                .unwrap_or_else(|e| panic!("{path}: {}: {e}", dep.name));
            let delta = new.len().cast_signed() - (old.end - old.start).cast_signed();
            let after = manager.extract(&path, &updated);
            let expected: Vec<Dependency> = before
                .dependencies
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    if d.span == Some(old) {
                        d.requirement = Some(new.clone());
                        d.span = Some(Span::new(old.start, old.start + new.len()));
                    } else if let Some(span) = d.span {
                        d.span = Some(shifted(span, old.end, delta));
                    }
                    d
                })
                .collect();
            // A dependency without a span may be derived from the updated text (a Dockerfile tag
            // assembled from an `ARG` and a suffix): its requirement may change, nothing else.
            let after_deps: Vec<Dependency> = after
                .dependencies
                .iter()
                .zip(&expected)
                .map(|(a, e)| {
                    let mut a = a.clone();
                    if a.span.is_none() && e.span.is_none() {
                        a.requirement.clone_from(&e.requirement);
                    }
                    a
                })
                .collect();
            assert_eq!(
                after.dependencies.len(),
                expected.len(),
                "{path}: updating {}",
                dep.name
            );
            assert_eq!(after_deps, expected, "{path}: updating {}", dep.name);
            assert_eq!(after.locks, before.locks, "{path}");
            assert_eq!(after.warnings, before.warnings, "{path}");
            checked += 1;
        }
    }
    assert!(checked > 0, "no updatable dependency in {module} fixtures");
}

/// A small deterministic generator (xorshift) so the fuzzer needs no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).expect("fits")
    }
}

/// Feed mutated fixtures and random bytes to `manager` under each of `paths`: it must not panic,
/// and every span it reports must hold its requirement.
pub fn fuzz_manager(manager: Manager, paths: &[&str], module: &str) {
    const ALPHABET: &[u8] = b" \t\n\\\"'#=:@[]{}()<>~^*$-_./,;|0123456789abcvAS\xc3\xa9";
    let seeds: Vec<Vec<u8>> = fixtures(module)
        .into_iter()
        .map(|(_, t)| t.into_bytes())
        .chain([Vec::new()])
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..400 {
        let mut bytes = seeds[round % seeds.len()].clone();
        if bytes.len() > 4000 {
            let start = rng.below(bytes.len() - 4000);
            bytes = bytes[start..start + 4000].to_vec();
        }
        for _ in 0..=rng.below(12) {
            let pos = rng.below(bytes.len() + 1);
            match rng.below(4) {
                0 if !bytes.is_empty() && pos < bytes.len() => {
                    bytes.remove(pos);
                }
                1 if pos < bytes.len() => bytes[pos] = ALPHABET[rng.below(ALPHABET.len())],
                2 => {
                    let len = rng.below(40);
                    let end = (pos + len).min(bytes.len());
                    let copy = bytes[pos.min(end)..end].to_vec();
                    let at = rng.below(bytes.len() + 1);
                    bytes.splice(at..at, copy);
                }
                _ => bytes.insert(pos, ALPHABET[rng.below(ALPHABET.len())]),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        for path in paths {
            let ex = manager.extract(path, &text);
            assert_spans_consistent(path, &text, &ex);
        }
    }
}
