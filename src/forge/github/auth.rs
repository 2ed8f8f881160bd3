//! Who a request acts as: anonymous, a personal access token, or a GitHub App.
//!
//! A GitHub App signs an app JWT (octocrab's `jsonwebtoken` re-export, RS256, `iss` = app id),
//! finds the installation of the repository's owner (`GET /repos/{o}/{r}/installation` or
//! `GET /orgs/{org}/installation`, cached per account), mints an installation token
//! (`POST /app/installations/{id}/access_tokens`), caches it per installation and mints a new one
//! when it is within [`super::GithubTuning::token_refresh_margin`] of `expires_at` (or GitHub
//! answers 401, see [`super::transport`]).

use std::collections::HashMap;
use std::sync::PoisonError;

use chrono::{DateTime, Utc};
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use sha2::Digest;
use tokio::sync::Mutex as AsyncMutex;

use super::{Endpoint, GithubAuth, GithubClient, GithubError};
use crate::config::Secret;

struct CachedToken {
    token: Secret,
    expires_at: DateTime<Utc>,
}

pub(super) struct AppState {
    app_id: u64,
    key: octocrab::EncodingKey,
    /// Account login (lower case) → installation id.
    installations: std::sync::Mutex<HashMap<String, u64>>,
    /// Installation id → token.
    tokens: AsyncMutex<HashMap<u64, CachedToken>>,
}

/// Who a request acts for, which decides its credential.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scope<'a> {
    /// A repository's owner (installation of that account, for a GitHub App).
    Repo { owner: &'a str, repo: &'a str },
    /// An organisation (installation of that organisation, for a GitHub App).
    Org(&'a str),
    /// The app itself (app JWT).
    App,
}

impl Scope<'_> {
    pub(super) fn account(&self) -> Option<String> {
        match self {
            Scope::Repo { owner, .. } => Some(owner.to_ascii_lowercase()),
            Scope::Org(org) => Some(org.to_ascii_lowercase()),
            Scope::App => None,
        }
    }
}

#[derive(Deserialize)]
struct InstallationResponse {
    id: u64,
}

#[derive(Deserialize)]
struct AccessTokenResponse {
    token: String,
    expires_at: DateTime<Utc>,
}

/// The identity a client's rate-limit budget is shared under (never the credential itself), and
/// the GitHub App state when the client authenticates as an app.
pub(super) fn identity(auth: &GithubAuth) -> Result<(String, Option<AppState>), GithubError> {
    Ok(match auth {
        GithubAuth::Anonymous => ("anonymous".to_owned(), None),
        GithubAuth::Token(token) => {
            let digest = sha2::Sha256::digest(token.expose().as_bytes());
            (format!("token:{}", &hex::encode(digest)[..16]), None)
        }
        GithubAuth::App {
            app_id,
            private_key,
        } => {
            let key = load_app_key(private_key)?;
            (
                format!("app:{app_id}"),
                Some(AppState {
                    app_id: *app_id,
                    key,
                    installations: std::sync::Mutex::new(HashMap::new()),
                    tokens: AsyncMutex::new(HashMap::new()),
                }),
            )
        }
    })
}

impl GithubClient {
    /// The bearer credential for `scope`.
    pub(super) async fn credential(&self, scope: Scope<'_>) -> Result<Option<Secret>, GithubError> {
        match &self.inner.config.auth {
            GithubAuth::Anonymous => Ok(None),
            GithubAuth::Token(token) => Ok(Some(token.clone())),
            GithubAuth::App { .. } => {
                let app = self.app()?;
                match scope {
                    Scope::App => {
                        let jwt = octocrab::auth::create_jwt(
                            octocrab::models::AppId(app.app_id),
                            &app.key,
                        )
                        .map_err(|e| GithubError::Api(format!("cannot sign the app JWT: {e}")))?;
                        Ok(Some(Secret::new(jwt)))
                    }
                    Scope::Repo { .. } | Scope::Org(_) => {
                        Box::pin(self.installation_token(scope)).await.map(Some)
                    }
                }
            }
        }
    }

    fn app(&self) -> Result<&AppState, GithubError> {
        self.inner
            .app
            .as_ref()
            .ok_or_else(|| GithubError::Api("GitHub App credentials are missing".into()))
    }

    /// The installation serving `scope`'s account (cached per account).
    async fn installation_id(&self, scope: Scope<'_>) -> Result<u64, GithubError> {
        let app = self.app()?;
        let account = scope.account().unwrap_or_default();
        if let Some(id) = app
            .installations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&account)
        {
            return Ok(*id);
        }
        let target = match scope {
            Scope::Repo { owner, repo } => format!("/repos/{owner}/{repo}/installation"),
            Scope::Org(org) => format!("/orgs/{org}/installation"),
            Scope::App => return Err(GithubError::Api("no installation for the app".into())),
        };
        let reply = self
            .call(
                Endpoint::Installation,
                Method::GET,
                &target,
                Scope::App,
                HeaderMap::new(),
                None,
            )
            .await?;
        let what = format!("GitHub App installation for {account}");
        if reply.status != StatusCode::OK {
            return Err(reply.error(&what));
        }
        let installation: InstallationResponse = reply.json(&what)?;
        app.installations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account, installation.id);
        Ok(installation.id)
    }

    /// A valid installation token for `scope`'s account, minted when none is cached or the cached
    /// one is about to expire.
    async fn installation_token(&self, scope: Scope<'_>) -> Result<Secret, GithubError> {
        let id = self.installation_id(scope).await?;
        let app = self.app()?;
        let margin =
            chrono::Duration::from_std(self.inner.tuning.token_refresh_margin).unwrap_or_default();
        let mut tokens = app.tokens.lock().await;
        if let Some(cached) = tokens.get(&id)
            && cached.expires_at - Utc::now() > margin
        {
            return Ok(cached.token.clone());
        }
        let reply = self
            .call(
                Endpoint::AccessToken,
                Method::POST,
                &format!("/app/installations/{id}/access_tokens"),
                Scope::App,
                HeaderMap::new(),
                Some(serde_json::json!({})),
            )
            .await?;
        let what = format!("access token of installation {id}");
        if reply.status != StatusCode::CREATED && reply.status != StatusCode::OK {
            if reply.status == StatusCode::NOT_FOUND {
                // The installation went away: look it up again next time.
                if let Some(account) = scope.account() {
                    app.installations
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&account);
                }
            }
            return Err(reply.error(&what));
        }
        let minted: AccessTokenResponse = reply.json(&what)?;
        let token = Secret::new(minted.token);
        tokens.insert(
            id,
            CachedToken {
                token: token.clone(),
                expires_at: minted.expires_at,
            },
        );
        tracing::debug!(installation = id, expires_at = %minted.expires_at, "minted an installation token");
        Ok(token)
    }

    pub(super) async fn forget_token(&self, scope: Scope<'_>) {
        let Some(app) = self.inner.app.as_ref() else {
            return;
        };
        let Some(account) = scope.account() else {
            return;
        };
        let id = app
            .installations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&account)
            .copied();
        if let Some(id) = id {
            app.tokens.lock().await.remove(&id);
        }
    }
}

/// The app's private key: PEM text, or the path of a PEM file.
fn load_app_key(private_key: &Secret) -> Result<octocrab::EncodingKey, GithubError> {
    let text = private_key.expose().trim();
    let pem = if text.starts_with("-----BEGIN") {
        text.as_bytes().to_vec()
    } else {
        std::fs::read(text).map_err(|e| {
            GithubError::Api(format!(
                "cannot read the GitHub App private key file: {}",
                e.kind()
            ))
        })?
    };
    octocrab::EncodingKey::from_rsa_pem(&pem).map_err(|e| {
        GithubError::Api(format!(
            "the GitHub App private key is not an RSA PEM key: {e}"
        ))
    })
}
