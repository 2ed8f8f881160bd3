//! Teams and their API tokens. Tokens are random, shown once, and stored only as SHA-256 hashes.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Result, Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Team {
    pub id: i64,
    pub name: String,
}

/// A freshly created token: the plain text exists only here.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub id: i64,
    pub team: Team,
    pub token: crate::config::Secret,
}

/// SHA-256 of a token, hex encoded.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Why a text is not a team name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTeamName(pub String);

/// A team name: 1–64 characters of letters, digits, `-`, `_`, `.`.
pub fn validate_team_name(name: &str) -> Result<(), InvalidTeamName> {
    if name.is_empty() || name.len() > 64 {
        return Err(InvalidTeamName(
            "team name must be 1 to 64 characters".into(),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(InvalidTeamName(
            "team name may contain only letters, digits, `-`, `_` and `.`".into(),
        ));
    }
    Ok(())
}

impl Store {
    pub async fn create_team(&self, name: &str) -> Result<Team> {
        validate_team_name(name).map_err(|e| StoreError::Invalid(e.0))?;
        let row = sqlx::query("INSERT INTO teams (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(now_ms())
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::from)
            .map_err(|e| {
                if e.is_unique_violation() {
                    StoreError::Conflict(format!("team `{name}`"))
                } else {
                    e
                }
            })?;
        Ok(Team {
            id: row.try_get("id")?,
            name: name.to_owned(),
        })
    }

    pub async fn team_by_name(&self, name: &str) -> Result<Option<Team>> {
        let row = sqlx::query("SELECT id, name FROM teams WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(Team {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
            })
        })
        .transpose()
    }

    pub async fn teams(&self) -> Result<Vec<Team>> {
        let rows = sqlx::query("SELECT id, name FROM teams ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Team {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    /// Create a token for `team`; the returned plain text is never stored.
    pub async fn create_token(&self, team: &Team) -> Result<CreatedToken> {
        let bytes: [u8; 24] = rand::random();
        let token = format!("upk_{}", hex::encode(bytes));
        let row = sqlx::query(
            "INSERT INTO api_tokens (team_id, token_hash, prefix, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(team.id)
        .bind(hash_token(&token))
        .bind(&token[..12])
        .bind(now_ms())
        .fetch_one(self.pool())
        .await?;
        Ok(CreatedToken {
            id: row.try_get("id")?,
            team: team.clone(),
            token: crate::config::Secret::new(token),
        })
    }

    /// The team a token belongs to, if the token is valid.
    pub async fn team_for_token(&self, token: &str) -> Result<Option<Team>> {
        let row = sqlx::query(
            "SELECT t.id, t.name FROM api_tokens k JOIN teams t ON t.id = k.team_id WHERE k.token_hash = $1",
        )
        .bind(hash_token(token))
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Team {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
            })
        })
        .transpose()
    }

    /// Teams that have registered at least one GitHub repository of account `login`.
    pub async fn teams_with_github_account(&self, login: &str) -> Result<Vec<i64>> {
        let pattern = format!("{}/%", like_escape(&login.to_ascii_lowercase()));
        let rows = sqlx::query(
            "SELECT DISTINCT team_id FROM repositories \
             WHERE provider = 'github' AND full_name LIKE $1 ESCAPE '\\' ORDER BY team_id",
        )
        .bind(pattern)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| row.try_get("team_id"))
            .collect::<std::result::Result<_, _>>()?)
    }
}

/// `s` with the `LIKE` wildcards and the escape character escaped (escape character `\`).
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_like_wildcards() {
        assert_eq!(super::like_escape("a_b%c\\"), "a\\_b\\%c\\\\");
    }
}
