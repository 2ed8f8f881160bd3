//! Resolution throughput (not a timed test): 2,000 unique npm packages (one in ten scoped)
//! resolved through [`lookup_all`] against a local fake npm registry on 127.0.0.1 that answers
//! every request after 20 ms and supports `ETag` / `If-None-Match` → `304`.
//!
//! Two passes, each with a fresh HTTP client on the same on-disk cache directory, like two
//! `upkeep scan` runs in a row: cold (expect one request and one body per package) and warm
//! (expect only conditional requests, every one a `304`, no bodies). Prints wall time, the
//! client's counters ([`HttpClient::stats`]), what the fake served, and peak memory (`VmHWM`).
//! The whole run is bounded by a time limit and stops by itself.
//!
//! Run with `cargo bench -p upkeep-resolvers --bench resolve`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::http::{HttpClient, HttpConfig, HttpStats};
use upkeep_resolvers::lookup::{DEFAULT_CONCURRENCY, lookup_all};
use upkeep_resolvers::registry::{Registries, RegistryConfig};

const PACKAGES: usize = 2_000;
const LATENCY: Duration = Duration::from_millis(20);
const TIME_LIMIT: Duration = Duration::from_mins(5);

/// What the fake registry served.
#[derive(Default)]
struct Served {
    requests: AtomicU64,
    bodies: AtomicU64,
    body_bytes: AtomicU64,
    not_modified: AtomicU64,
}

impl Served {
    fn take(&self) -> [u64; 4] {
        [
            self.requests.swap(0, Ordering::Relaxed),
            self.bodies.swap(0, Ordering::Relaxed),
            self.body_bytes.swap(0, Ordering::Relaxed),
            self.not_modified.swap(0, Ordering::Relaxed),
        ]
    }
}

/// Package `i`'s name: `bench-pkg-i`, every tenth one scoped.
fn package_name(i: usize) -> String {
    if i.is_multiple_of(10) {
        format!("@bench/pkg-{i}")
    } else {
        format!("bench-pkg-{i}")
    }
}

/// A full npm packument for `name` with 30 versions (three majors, two prereleases, one
/// deprecated), publish times, `dist-tags`, repository and homepage.
fn packument(name: &str) -> String {
    let mut versions = String::new();
    let mut times = String::from("\"created\": \"2020-01-01T00:00:00.000Z\"");
    let mut n = 0u32;
    for major in 1..=3u32 {
        for minor in 0..5u32 {
            for patch in 0..2u32 {
                let version = if major == 3 && minor == 4 {
                    format!("{major}.{minor}.0-rc.{patch}")
                } else {
                    format!("{major}.{minor}.{patch}")
                };
                let deprecated = if major == 1 && minor == 0 && patch == 0 {
                    ", \"deprecated\": \"please upgrade\""
                } else {
                    ""
                };
                if !versions.is_empty() {
                    versions.push(',');
                }
                let _ = write!(
                    versions,
                    "\"{version}\": {{\"name\": \"{name}\", \"version\": \"{version}\", \"license\": \"MIT\", \"dependencies\": {{\"left-pad\": \"^1.3.0\"}}, \"dist\": {{\"shasum\": \"{:040x}\", \"tarball\": \"https://registry.example.invalid/{name}/-/{version}.tgz\"}}{deprecated}}}",
                    u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                );
                let _ = write!(
                    times,
                    ", \"{version}\": \"2021-{:02}-{:02}T12:00:00.000Z\"",
                    1 + n % 12,
                    1 + n % 28
                );
                n += 1;
            }
        }
    }
    format!(
        "{{\"_id\": \"{name}\", \"name\": \"{name}\", \"dist-tags\": {{\"latest\": \"3.3.1\", \"next\": \"3.4.0-rc.1\"}}, \"versions\": {{{versions}}}, \"time\": {{{times}, \"modified\": \"2024-01-01T00:00:00.000Z\"}}, \"repository\": {{\"type\": \"git\", \"url\": \"git+https://example.invalid/{name}.git\"}}, \"homepage\": \"https://example.invalid/{name}\", \"license\": \"MIT\"}}"
    )
}

/// `GET /{name}`: the packument after the injected latency; `304` when `If-None-Match` matches.
async fn serve_packument(
    State(served): State<Arc<Served>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    tokio::time::sleep(LATENCY).await;
    served.requests.fetch_add(1, Ordering::Relaxed);
    let etag = format!("\"{}-v1\"", name.replace('/', "~"));
    let Ok(etag_value) = HeaderValue::from_str(&etag) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        served.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response();
    }
    let body = packument(&name);
    served.bodies.fetch_add(1, Ordering::Relaxed);
    served
        .body_bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    (
        [
            (header::ETAG, etag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Peak resident set size of this process (`VmHWM`), as printed by the kernel.
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown (no /proc/self/status)".to_owned())
}

struct Pass {
    wall: Duration,
    ok: usize,
    failed: Vec<String>,
    stats: HttpStats,
    served: [u64; 4],
}

async fn pass(base: &str, cache_dir: &std::path::Path, served: &Served) -> Result<Pass, String> {
    let http = HttpClient::new(HttpConfig {
        cache_dir: Some(cache_dir.to_path_buf()),
        ..HttpConfig::default()
    })
    .map_err(|e| e.to_string())?;
    let registries = Registries::new(
        http.clone(),
        RegistryConfig {
            base_urls: [("npm".to_owned(), base.to_owned())].into(),
            ..RegistryConfig::default()
        },
    );
    let packages = (0..PACKAGES).map(|i| (Ecosystem::Npm, package_name(i)));
    let started = Instant::now();
    let results = lookup_all(&registries, packages, DEFAULT_CONCURRENCY, |_| {}).await;
    let wall = started.elapsed();
    let mut failed: Vec<String> = results
        .iter()
        .filter_map(|((_, name), r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    failed.sort();
    let ok = results
        .values()
        .filter(|r| r.as_ref().is_ok_and(|set| set.releases.len() == 30))
        .count();
    Ok(Pass {
        wall,
        ok,
        failed,
        stats: http.stats(),
        served: served.take(),
    })
}

fn report(label: &str, pass: &Pass) {
    let s = pass.stats;
    let [requests, bodies, body_bytes, not_modified] = pass.served;
    println!(
        "{label}: {:.2} s wall for {PACKAGES} packages ({} resolved with 30 releases, {} failed)",
        pass.wall.as_secs_f64(),
        pass.ok,
        pass.failed.len()
    );
    println!(
        "  client: {} requests sent, {} bodies downloaded ({} bytes), {} not modified (304), {} retries, {} coalesced",
        s.requests_sent,
        s.bodies_downloaded,
        s.bytes_downloaded,
        s.not_modified,
        s.retries,
        s.coalesced
    );
    println!(
        "  fake registry: {requests} requests, {bodies} bodies ({body_bytes} bytes), {not_modified} answered 304"
    );
    for failure in pass.failed.iter().take(5) {
        println!("  failed: {failure}");
    }
    println!("  peak memory so far (VmHWM): {}", peak_memory());
}

async fn bench() -> Result<(), String> {
    let served = Arc::new(Served::default());
    let app = Router::new()
        .route("/{name}", get(serve_packument))
        .with_state(Arc::clone(&served));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind 127.0.0.1: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let fake_task = tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{address}/");
    let cache = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cache_dir = cache.path().join("http");

    println!(
        "resolve: {PACKAGES} unique npm packages, {} ms injected latency, lookup concurrency {DEFAULT_CONCURRENCY}, per-host limit {} (HttpConfig default), disk cache in a temp dir",
        LATENCY.as_millis(),
        HttpConfig::default().per_host_concurrency
    );
    let cold = pass(&base, &cache_dir, &served).await?;
    report("cold cache", &cold);
    let warm = pass(&base, &cache_dir, &served).await?;
    report("warm cache (new client, same cache dir)", &warm);
    fake_task.abort();

    let mut problems = Vec::new();
    if cold.ok != PACKAGES || warm.ok != PACKAGES {
        problems.push("not every package resolved".to_owned());
    }
    if cold.stats.requests_sent != PACKAGES as u64 {
        problems.push(format!(
            "cold: {} requests, expected one per package",
            cold.stats.requests_sent
        ));
    }
    if warm.stats.bodies_downloaded != 0 || warm.stats.not_modified != PACKAGES as u64 {
        problems.push(format!(
            "warm: {} bodies and {} 304s, expected none and {PACKAGES}",
            warm.stats.bodies_downloaded, warm.stats.not_modified
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let outcome = runtime.block_on(async {
        tokio::time::timeout(TIME_LIMIT, bench())
            .await
            .unwrap_or_else(|_| Err(format!("stopped after the {TIME_LIMIT:?} time limit")))
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => println!("peak memory (VmHWM): {}", peak_memory()),
        Err(problem) => {
            eprintln!("resolve bench: {problem}");
            std::process::exit(1);
        }
    }
}
