//! The response cache behind conditional requests: validated responses (those with an `ETag` or
//! `Last-Modified`) are kept in memory (bounded) and, when configured, on disk, so the next GET of
//! the same URL sends `If-None-Match` / `If-Modified-Since` and a `304` reuses the stored body.
//!
//! Disk format: one file per request key, named by the SHA-256 of the key; a JSON line of
//! metadata (which repeats the key, so a hash collision is detected) followed by the raw body.
//! Files are written to a temporary name and renamed, so a reader never sees half a file.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A stored response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CachedMeta {
    pub key: String,
    pub status: u16,
    /// Response headers worth replaying (content type, links, validators).
    pub headers: Vec<(String, String)>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct CachedResponse {
    pub meta: CachedMeta,
    pub body: Bytes,
}

#[derive(Default)]
struct MemoryCache {
    entries: HashMap<String, Arc<CachedResponse>>,
    /// Insertion order, oldest first, for eviction.
    order: VecDeque<String>,
    bytes: usize,
}

pub(crate) struct ResponseCache {
    dir: Option<PathBuf>,
    memory_limit: usize,
    memory: Mutex<MemoryCache>,
}

impl ResponseCache {
    pub(crate) fn new(dir: Option<PathBuf>, memory_limit: usize) -> Self {
        ResponseCache {
            dir,
            memory_limit,
            memory: Mutex::new(MemoryCache::default()),
        }
    }

    /// The stored response for `key`: from memory, else from disk.
    pub(crate) async fn load(&self, key: &str) -> Option<Arc<CachedResponse>> {
        if let Some(hit) = self
            .memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .get(key)
        {
            return Some(Arc::clone(hit));
        }
        let path = self.path_for(key)?;
        let raw = match tokio::fs::read(&path).await {
            Ok(raw) => raw,
            Err(error) => {
                if error.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), %error, "unreadable HTTP cache entry");
                }
                return None;
            }
        };
        let entry = decode(&raw, key);
        if entry.is_none() {
            tracing::warn!(path = %path.display(), "ignoring a corrupt HTTP cache entry");
        }
        let entry = Arc::new(entry?);
        self.remember(key, Arc::clone(&entry));
        Some(entry)
    }

    /// Stores a validated response in memory and on disk. A disk failure only costs the next
    /// run a full download, so it is logged, not returned.
    pub(crate) async fn store(&self, entry: CachedResponse) -> Arc<CachedResponse> {
        let key = entry.meta.key.clone();
        let entry = Arc::new(entry);
        self.remember(&key, Arc::clone(&entry));
        if let Some(path) = self.path_for(&key)
            && let Err(error) = write_atomically(&path, &entry).await
        {
            tracing::warn!(path = %path.display(), %error, "could not write HTTP cache entry");
        }
        entry
    }

    fn remember(&self, key: &str, entry: Arc<CachedResponse>) {
        let size = entry.body.len();
        let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = memory.entries.remove(key) {
            memory.bytes = memory.bytes.saturating_sub(old.body.len());
            memory.order.retain(|k| k != key);
        }
        if size > self.memory_limit {
            return;
        }
        memory.entries.insert(key.to_owned(), entry);
        memory.order.push_back(key.to_owned());
        memory.bytes += size;
        while memory.bytes > self.memory_limit {
            let Some(oldest) = memory.order.pop_front() else {
                break;
            };
            if let Some(old) = memory.entries.remove(&oldest) {
                memory.bytes = memory.bytes.saturating_sub(old.body.len());
            }
        }
    }

    fn path_for(&self, key: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let digest = Sha256::digest(key.as_bytes());
        let mut name = String::with_capacity(64);
        for byte in &digest {
            let _ = write!(name, "{byte:02x}");
        }
        Some(dir.join(name))
    }
}

fn decode(raw: &[u8], key: &str) -> Option<CachedResponse> {
    let newline = raw.iter().position(|b| *b == b'\n')?;
    let meta: CachedMeta = serde_json::from_slice(raw.get(..newline)?).ok()?;
    if meta.key != key {
        return None;
    }
    let body = Bytes::copy_from_slice(raw.get(newline + 1..)?);
    Some(CachedResponse { meta, body })
}

async fn write_atomically(path: &Path, entry: &CachedResponse) -> std::io::Result<()> {
    let mut data = serde_json::to_vec(&entry.meta)?;
    data.push(b'\n');
    data.extend_from_slice(&entry.body);
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let temporary =
        path.with_extension(format!("{}-{}.tmp", std::process::id(), fastrand::u64(..)));
    tokio::fs::write(&temporary, &data).await?;
    if let Err(error) = tokio::fs::rename(&temporary, path).await {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(error);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, body: &'static [u8]) -> CachedResponse {
        CachedResponse {
            meta: CachedMeta {
                key: key.to_owned(),
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                etag: Some("\"v1\"".into()),
                last_modified: None,
            },
            body: Bytes::from_static(body),
        }
    }

    #[tokio::test]
    async fn survives_a_restart_on_disk() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let first = ResponseCache::new(Some(dir.path().to_owned()), 1024);
        first.store(entry("GET a", b"{\"x\":1}")).await;
        let second = ResponseCache::new(Some(dir.path().to_owned()), 1024);
        let hit = second
            .load("GET a")
            .await
            .expect("entry read back from disk");
        assert_eq!(hit.body.as_ref(), b"{\"x\":1}");
        assert_eq!(hit.meta.etag.as_deref(), Some("\"v1\""));
        assert!(second.load("GET b").await.is_none());
    }

    #[tokio::test]
    async fn memory_is_bounded() {
        let cache = ResponseCache::new(None, 10);
        cache.store(entry("a", b"123456")).await;
        cache.store(entry("b", b"123456")).await;
        assert!(cache.load("a").await.is_none(), "oldest entry evicted");
        assert!(cache.load("b").await.is_some());
        cache
            .store(entry("c", b"this body is larger than the limit"))
            .await;
        assert!(cache.load("c").await.is_none());
    }

    #[test]
    fn corrupt_files_are_ignored() {
        assert!(decode(b"not json\nbody", "k").is_none());
        assert!(decode(b"no newline", "k").is_none());
    }
}
