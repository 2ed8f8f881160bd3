//! Extraction throughput (not a timed test): a generated package-lock.json of at least 5 MB,
//! and a generated tree of 1,000 manifests scanned end to end.
//!
//! Run with `cargo bench -p upkeep-resolvers --bench extract`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use upkeep_resolvers::manager::Manager;
use upkeep_resolvers::scan::{ScanOptions, scan};

/// A lockfile-v3 `package-lock.json` with `packages` entries until it is at least `min_bytes`.
fn package_lock(min_bytes: usize) -> String {
    let mut text = String::from(
        "{\n  \"name\": \"bench\",\n  \"version\": \"1.0.0\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n    \"\": {\n      \"name\": \"bench\",\n      \"version\": \"1.0.0\"\n    }",
    );
    let mut i = 0u32;
    while text.len() < min_bytes {
        let nested = if i.is_multiple_of(7) {
            "node_modules/parent-pkg/"
        } else {
            ""
        };
        let _ = write!(
            text,
            ",\n    \"node_modules/{nested}pkg-{i}\": {{\n      \"version\": \"{}.{}.{}\",\n      \"resolved\": \"https://registry.example.invalid/pkg-{i}/-/pkg-{i}-1.0.0.tgz\",\n      \"integrity\": \"sha512-{:064x}\",\n      \"dev\": {},\n      \"dependencies\": {{\n        \"pkg-{}\": \"^{}.0.0\"\n      }}\n    }}",
            i % 13,
            i % 29,
            i % 7,
            u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            i.is_multiple_of(2),
            i + 1,
            i % 5
        );
        i += 1;
    }
    text.push_str("\n  }\n}\n");
    text
}

/// Write `count` manifests (package.json, Cargo.toml, .tool-versions in turn) and the root
/// lockfiles into `root`.
fn manifest_tree(root: &Path, count: usize) -> std::io::Result<()> {
    let mut lock = String::from("{\"lockfileVersion\": 3, \"packages\": {\"\": {}");
    for i in 0..50 {
        let _ = write!(
            lock,
            ", \"node_modules/dep-{i}\": {{\"version\": \"1.{i}.0\"}}"
        );
    }
    lock.push_str("}}");
    std::fs::write(root.join("package-lock.json"), lock)?;
    for i in 0..count {
        let dir = root.join(format!("group-{}/member-{i}", i % 20));
        std::fs::create_dir_all(&dir)?;
        match i % 3 {
            0 => {
                let mut deps = String::new();
                for d in 0..20 {
                    if d > 0 {
                        deps.push_str(",\n    ");
                    }
                    let _ = write!(deps, "\"dep-{}\": \"^1.{}.0\"", (i + d) % 50, d);
                }
                std::fs::write(
                    dir.join("package.json"),
                    format!(
                        "{{\n  \"name\": \"member-{i}\",\n  \"dependencies\": {{\n    {deps}\n  }},\n  \"devDependencies\": {{ \"typescript\": \"~5.4.0\" }}\n}}\n"
                    ),
                )?;
            }
            1 => {
                let mut deps = String::new();
                for d in 0..15 {
                    let _ = writeln!(
                        deps,
                        "crate-{d} = {{ version = \"0.{d}\", features = [\"std\"] }}"
                    );
                }
                std::fs::write(
                    dir.join("Cargo.toml"),
                    format!(
                        "[package]\nname = \"member-{i}\"\nversion = \"0.1.0\"\n\n[dependencies]\n{deps}\n[dev-dependencies]\nproptest = \"1\"\n"
                    ),
                )?;
            }
            _ => std::fs::write(
                dir.join(".tool-versions"),
                "nodejs 20.11.0\ngolang 1.22.3\npython 3.12.2\n",
            )?,
        }
    }
    Ok(())
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f();
        best = best.min(start.elapsed());
        last = Some(value);
    }
    (best, last.expect("at least one run"))
}

/// Sizes here are far below 2^52, so the conversion is exact.
fn as_f64(n: usize) -> f64 {
    u32::try_from(n).map_or(f64::MAX, f64::from)
}

fn main() -> std::io::Result<()> {
    // cargo passes `--bench`; nothing to configure.
    let lock = package_lock(5 * 1024 * 1024);
    let megabytes = as_f64(lock.len()) / (1024.0 * 1024.0);
    let (elapsed, extraction) = best_of(5, || Manager::Npm.extract("package-lock.json", &lock));
    println!(
        "package-lock.json: {megabytes:.1} MB, {} locked packages, best of 5: {:.1} ms, {:.1} MB/s",
        extraction.locks.len(),
        elapsed.as_secs_f64() * 1000.0,
        megabytes / elapsed.as_secs_f64()
    );

    let dir = tempfile::tempdir()?;
    manifest_tree(dir.path(), 1000)?;
    let options = ScanOptions::default();
    let (elapsed, report) = best_of(5, || scan(dir.path(), &options));
    let report = report?;
    let manifests: std::collections::BTreeSet<&str> = report
        .dependencies
        .iter()
        .map(|d| d.manifest.as_str())
        .collect();
    println!(
        "scan: {} manifests, {} dependencies, best of 5: {:.1} ms, {:.0} manifests/s",
        manifests.len(),
        report.dependencies.len(),
        elapsed.as_secs_f64() * 1000.0,
        as_f64(manifests.len()) / elapsed.as_secs_f64()
    );
    Ok(())
}
