//! The one shared HTTP client every registry adapter uses.

use bytes::Bytes;
use reqwest::header::HeaderMap;

/// A transport-level failure (after retries).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request to {url} failed: {message}")]
    Transport { url: String, message: String },
    #[error("response from {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
}

/// A complete response. Any HTTP status is a response, not an error.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// True when the body came from the cache after a `304 Not Modified`.
    pub revalidated: bool,
}

pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    pub fn new() -> Result<Self, HttpError> {
        let inner = reqwest::Client::builder()
            .build()
            .map_err(|e| HttpError::Transport {
                url: String::new(),
                message: e.to_string(),
            })?;
        Ok(HttpClient { inner })
    }

    /// GET `url` with extra request `headers`.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, HttpError> {
        let mut request = self.inner.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let transport = |e: reqwest::Error| HttpError::Transport {
            url: url.to_owned(),
            message: e.to_string(),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        Ok(HttpResponse {
            status,
            headers,
            body,
            revalidated: false,
        })
    }
}
