//! Looking up many packages at once: each unique `(ecosystem, name)` is resolved exactly once,
//! with a bounded number of lookups in flight, through one [`Registries`] (so every lookup shares
//! the HTTP client's cache, per-host limits and request coalescing).

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt as _;

use crate::Ecosystem;
use crate::registry::{Registries, RegistryError, ReleaseSet};

/// Lookups in flight at once when the caller has no opinion. Per-host limits of the HTTP client
/// still apply below this.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// One unique package: its ecosystem and its (normalised) name.
pub type PackageKey = (Ecosystem, String);

/// What [`lookup_all`] reports after each finished lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupProgress<'a> {
    /// Lookups finished so far, this one included.
    pub done: usize,
    /// Unique packages to look up in all.
    pub total: usize,
    /// The package whose lookup just finished.
    pub ecosystem: Ecosystem,
    pub name: &'a str,
    /// Whether that lookup produced a release set.
    pub ok: bool,
}

/// The unique packages of `packages`, in first-seen order.
pub fn unique_packages(packages: impl IntoIterator<Item = PackageKey>) -> Vec<PackageKey> {
    let mut seen = HashSet::new();
    packages
        .into_iter()
        .filter(|key| seen.insert(key.clone()))
        .collect()
}

/// Every release of every package in `packages`: duplicates are looked up once, at most
/// `concurrency` lookups (at least one) run at a time, and `progress` is called after each one
/// finishes. A failed lookup is an `Err` in the map; it never stops the others.
pub async fn lookup_all(
    registries: &Registries,
    packages: impl IntoIterator<Item = PackageKey>,
    concurrency: usize,
    mut progress: impl FnMut(LookupProgress<'_>),
) -> HashMap<PackageKey, Result<ReleaseSet, RegistryError>> {
    let unique = unique_packages(packages);
    let total = unique.len();
    let mut results = HashMap::with_capacity(total);
    let mut lookups = futures_util::stream::iter(unique)
        .map(|(ecosystem, name)| async move {
            let result = registries.releases(ecosystem, &name).await;
            ((ecosystem, name), result)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(((ecosystem, name), result)) = lookups.next().await {
        progress(LookupProgress {
            done: results.len() + 1,
            total,
            ecosystem,
            name: &name,
            ok: result.is_ok(),
        });
        results.insert((ecosystem, name), result);
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_keeps_first_seen_order() {
        let keys = unique_packages([
            (Ecosystem::Npm, "a".to_owned()),
            (Ecosystem::Cargo, "a".to_owned()),
            (Ecosystem::Npm, "a".to_owned()),
            (Ecosystem::Npm, "b".to_owned()),
        ]);
        assert_eq!(
            keys,
            [
                (Ecosystem::Npm, "a".to_owned()),
                (Ecosystem::Cargo, "a".to_owned()),
                (Ecosystem::Npm, "b".to_owned()),
            ]
        );
    }

    #[tokio::test]
    async fn skipped_lookups_need_no_network_and_are_reported_once_each() {
        let http = crate::http::HttpClient::with_defaults().expect("client");
        let registries = Registries::new(http.clone(), crate::registry::RegistryConfig::default());
        let mut seen = Vec::new();
        // Names no adapter accepts fail before any request is sent.
        let results = lookup_all(
            &registries,
            [
                (Ecosystem::Cargo, "../etc".to_owned()),
                (Ecosystem::Npm, " ".to_owned()),
                (Ecosystem::Cargo, "../etc".to_owned()),
            ],
            0,
            |p| seen.push((p.done, p.total, p.name.to_owned(), p.ok)),
        )
        .await;
        assert_eq!(results.len(), 2);
        assert!(results.values().all(Result::is_err));
        assert_eq!(seen.len(), 2);
        assert_eq!(seen.last().map(|s| (s.0, s.1)), Some((2, 2)));
        assert_eq!(http.stats().requests_sent, 0);
    }
}
