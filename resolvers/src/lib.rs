//! `upkeep-resolvers`: all ecosystem knowledge of upkeep.
//!
//! Invariant: this crate knows nothing of the database or the web server. It reads manifest text,
//! talks to package registries over HTTP, and orders versions; the service crate stores and serves
//! what it returns.
//!
//! - [`manager`]: one module per manifest/lockfile format: `extract(path, text)` and in-place updates.
//! - [`versioning`]: one module per version scheme: parse, order, stability, range matching, bump.
//! - [`registry`]: one module per registry protocol: `releases(package)`.
//! - [`ecosystem`]: the exhaustive enum wiring managers, registries and version schemes together.
//! - [`http`]: the one shared HTTP client.
//! - [`lockfile_tools`]: bringing a lockfile in line by running the ecosystem's own tool.
//! - [`lookup`]: many packages at once, each unique one looked up once, bounded concurrency.
//! - [`recommend`]: current → latest → recommended for one dependency under a policy.
//! - [`scan`]: walk a directory tree, extract every manifest, pair manifests with lockfiles.
//! - [`update`]: the generic in-place requirement rewrite.

pub mod ecosystem;
pub mod http;
pub mod lockfile_tools;
pub mod lookup;
pub mod manager;
pub mod problem;
pub mod recommend;
pub mod registry;
pub mod runtime;
pub mod scan;
pub mod update;
pub mod versioning;

pub use ecosystem::Ecosystem;
pub use manager::{Dependency, DependencyKind, Extraction, Manager, SkipReason, Span, Warning};
